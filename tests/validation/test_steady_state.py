"""The 1-D diffusion-decay steady state of the py-pde comparison (benchmarks/steady_state.py):
the analytic and discrete solutions checked against the ODE, a direct solve and the
leading-order floors, and tissue's field checked against both.

The exact solutions live in ``benchmarks.steady_state`` because the benchmark records each
code's discretisation floor from them; these tests are their independent checks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.steady_state import (
    BOUNDARY_VALUE,
    DECAY_PER_MIN,
    DIFFUSION_LENGTH_UM,
    DIFFUSION_UM2_PER_MIN,
    DISCRETE_STEADY,
    FIELD,
    ORGAN,
    SPACING_UM,
    analytic_steady,
    boundary_positions_um,
    discrete_steady_tissue,
    discretisation_floor,
    field_errors,
    profile_errors,
    solved_voxels,
    tissue_scenario,
    voxel_centres_um,
)
from tissue.backend import Backend, to_numpy
from tissue.config import scenario_from_dict
from tissue.simulation import Simulation

H = SPACING_UM
ELL = DIFFUSION_LENGTH_UM
C0 = BOUNDARY_VALUE


def direct_steady(code: str, n: int) -> np.ndarray:
    """(n,) float64 steady state of ``code``'s scheme by a direct solve of its equations
    (an independent check of the closed forms)."""
    a = DIFFUSION_UM2_PER_MIN / H**2
    matrix = np.zeros((n, n))
    rhs = np.zeros(n)
    for i in range(n):
        matrix[i, i] = 2 * a + DECAY_PER_MIN
        for j in (i - 1, i + 1):
            if 0 <= j < n:
                matrix[i, j] = -a
            else:  # py-pde's ghost cell 2 c0 - c_i
                matrix[i, i] += a
                rhs[i] += 2 * a * C0
    if code == "tissue":
        for i in (0, n - 1):
            matrix[i] = 0.0
            matrix[i, i] = 1.0
            rhs[i] = C0
    return np.linalg.solve(matrix, rhs)


def floor_estimate(code: str, n: int) -> float:
    """Leading-order max |c_discrete - c_analytic| / c0 of each code's scheme.

    Both schemes' interior solutions are cosh(kappa (x - L/2)) with
    kappa = (1 - eps) / ell, eps = (h/ell)^2 / 24. tissue (boundary at x = h/2, half-width
    w = (L - h)/2): the error peaks mid-domain at eps (w/ell) sinh(w/ell) / cosh(w/ell)^2.
    py-pde (ghost cell, face value c0): the amplitude carries 1 / cosh(kappa h/2), an error of
    (h/ell)^2 / 8 next to the faces, where c is about c0.
    """
    if code == "tissue":
        eps = (H / ELL) ** 2 / 24
        w = (n - 1) * H / 2 / ELL
        return eps * w * math.sinh(w) / math.cosh(w) ** 2
    return (H / ELL) ** 2 / 8


@pytest.mark.parametrize("code", ["tissue", "py-pde"])
def test_analytic_steady_state_solves_the_ode_and_holds_c0_at_the_boundary(code: str) -> None:
    n = 64
    low, high = boundary_positions_um(code, n)
    x = np.linspace(low, high, 41)[1:-1]
    step = 1.0  # um: truncation D step^2 c''''/12 ~ 3e-7 per min, rounding ~1e-9
    c = analytic_steady(x, low, high)
    second = (
        analytic_steady(x + step, low, high) - 2 * c + analytic_steady(x - step, low, high)
    ) / step**2
    residual = DIFFUSION_UM2_PER_MIN * second - DECAY_PER_MIN * c
    assert np.abs(residual).max() < 1e-6 * DECAY_PER_MIN * c.min()
    ends = analytic_steady(np.array([low, high]), low, high)
    np.testing.assert_allclose(ends, C0, rtol=1e-13)
    middle = analytic_steady(np.array([(low + high) / 2]), low, high)[0]
    assert middle == pytest.approx(C0 / math.cosh((high - low) / 2 / ELL), rel=1e-13)


def test_boundary_positions_are_where_each_code_holds_c0() -> None:
    assert boundary_positions_um("tissue", 64) == (10.0, 1270.0)  # outer voxel centres
    assert boundary_positions_um("py-pde", 64) == (0.0, 1280.0)  # domain faces
    assert solved_voxels("tissue", 64) == slice(1, 63)
    assert solved_voxels("py-pde", 64) == slice(0, 64)


@pytest.mark.parametrize("code", ["tissue", "py-pde"])
@pytest.mark.parametrize("n", [8, 16, 64, 128])
def test_discrete_steady_states_match_a_direct_solve_and_the_floor_estimate(
    code: str, n: int
) -> None:
    np.testing.assert_allclose(DISCRETE_STEADY[code](n), direct_steady(code, n), rtol=1e-11)
    floor = discretisation_floor(n)[code]["max_rel_error"]
    assert floor == pytest.approx(floor_estimate(code, n), rel=0.05)


def test_field_errors_of_a_field_uniform_across_x_are_its_profile_errors() -> None:
    """The 3-D error measure normalises per x layer: a profile copied over every (y, z) has
    the profile's max and L2 errors."""
    n = 16
    exact = analytic_steady(voxel_centres_um(n), *boundary_positions_um("tissue", n))
    profile = discrete_steady_tissue(n) * (1 + 1e-3 * np.sin(np.arange(n)))
    field = np.broadcast_to(profile[:, None, None], (n, 3, 5))
    solved = solved_voxels("tissue", n)
    errors = profile_errors(profile, exact, solved)
    max_rel, l2_rel = field_errors(np, field, exact, solved)
    assert max_rel == pytest.approx(errors["max_rel_error"], rel=1e-12)
    assert l2_rel == pytest.approx(errors["l2_rel_error"], rel=1e-12)
    assert max_rel > 1e-4  # the perturbation, not the floor


@pytest.mark.parametrize(("dt_min", "settle_min"), [(0.1, 20.0), (1.0, 60.0)])
def test_tissue_reaches_its_discrete_steady_state(
    backend: Backend, dt_min: float, settle_min: float
) -> None:
    """tissue's default solver from c = 0 on a 32^3 box (L = 640 um, mid-domain c = 0.95 c0),
    stepped ``settle_min`` simulated minutes, against the closed forms.

    The solver's fixed point is the discrete steady state at any dt; what remains is float32
    rounding and the solver's stopping tolerance.
    Measured on the CPU: max |c - c_discrete| = 2.1e-7 c0 (dt 0.1) and 6.4e-7 c0 (dt 1), over
    every voxel (so the field is also uniform across y and z); tolerance 2e-6 c0. Against
    the analytic steady state the max error is tissue's discretisation floor, 1.48e-6:
    measured 1.48e-6 and 1.77e-6, tolerance floor +- 2e-6. A 1% error in D moves the field
    by about 4e-4 c0; holding c0 on the domain faces instead of the outer voxel centres, by
    3e-3 c0; both fail.
    """
    n = 32
    scenario = scenario_from_dict(tissue_scenario(n, dt_min), "test_steady_state")
    sim = Simulation(scenario, backend=backend, seed=0)
    fields = sim.organs[ORGAN].fields
    for _ in range(round(settle_min / dt_min)):
        fields.step(dt_min)
    c = to_numpy(fields.values[FIELD]).transpose(2, 1, 0).astype(np.float64)  # x first
    assert (c[[0, -1]] == C0).all()  # the outer x layers hold c0
    discrete = discrete_steady_tissue(n)
    assert np.abs(c - discrete[:, None, None]).max() <= 2e-6 * C0
    exact = analytic_steady(voxel_centres_um(n), *boundary_positions_um("tissue", n))
    max_rel, l2_rel = field_errors(np, c, exact, solved_voxels("tissue", n))
    floor = discretisation_floor(n)["tissue"]
    assert max_rel == pytest.approx(floor["max_rel_error"], abs=2e-6)
    assert l2_rel == pytest.approx(floor["l2_rel_error"], abs=2e-6)
