"""The 1-D diffusion-decay problem of the py-pde comparison, its exact steady states and the
error measures against them. ``bench_pypde`` measures and records against them, and
``tests/validation/test_steady_state.py`` checks them and tissue's field; they live here
because the benchmarks must not import the test tree.

Problem: dc/dt = D lap(c) - lambda c on a box of N^3 voxels of spacing h = 20 um,
D = 1e5 um^2/min, lambda = 0.1 /min (oxygen-like; diffusion length
ell = sqrt(D / lambda) = 1000 um), c = c0 = 38 (Dirichlet) on the two x faces, no flux on
the four others, c = 0 at t = 0. The solution depends on x only; its steady state is

    c(x) = c0 cosh((x - m) / ell) / cosh(w / ell),

m the midpoint and w the half-width between the two places the code puts the boundary value:

- tissue holds c0 in the outer voxel layer, so the boundary lies at the centres of the outer
  voxels (x = h/2 and L - h/2, w = (L - h)/2); its error is measured over the other voxels;
- py-pde imposes c0 on the cell face at the domain edge (x = 0 and L, w = L/2, through a
  ghost cell 2 c0 - c_0); its error is measured over all voxels.

Both are compared at their own voxel centres (x_i = (i + 1/2) h). Each code's fully discrete
steady state has a closed form (:func:`discrete_steady_tissue`, :func:`discrete_steady_pypde`),
whose distance from the analytic one is the discretisation floor of that code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

FIELD = "oxygen"
ORGAN = "box"
SPACING_UM = 20.0
DIFFUSION_UM2_PER_MIN = 1.0e5
DECAY_PER_MIN = 0.1
BOUNDARY_VALUE = 38.0
DIFFUSION_LENGTH_UM = math.sqrt(DIFFUSION_UM2_PER_MIN / DECAY_PER_MIN)


def tissue_scenario(n: int, dt_min: float, tolerance: float | None = None) -> dict[str, Any]:
    """Scenario dict: an n^3 box of 20 um voxels, one field (D, decay, c = 0 at start,
    Dirichlet c0 on the x faces, no flux elsewhere); ``tolerance`` None: the schema's
    default solver tolerance."""
    field: dict[str, Any] = {
        "units": "mmHg",
        "diffusion_um2_per_min": DIFFUSION_UM2_PER_MIN,
        "decay_per_min": DECAY_PER_MIN,
        "initial": 0.0,
        "boundary": "dirichlet",
        "boundary_value": BOUNDARY_VALUE,
        "boundary_faces": ["x-", "x+"],
    }
    if tolerance is not None:
        field["solver_tolerance"] = tolerance
    return {
        "name": f"diffusion-decay-{n}",
        "time_steps": {"diffusion_min": dt_min, "mechanics_min": 0.1, "phenotype_min": 6.0},
        "organs": {
            ORGAN: {
                "shape": [n, n, n],
                "spacing_um": SPACING_UM,
                "geometry": {"kind": "box", "label": "tissue"},
            }
        },
        "fields": {FIELD: field},
    }


def voxel_centres_um(n: int, spacing_um: float = SPACING_UM) -> np.ndarray:
    """(n,) float64 voxel-centre coordinates x_i = (i + 1/2) h (um)."""
    return (np.arange(n, dtype=np.float64) + 0.5) * spacing_um


def analytic_steady(
    x_um: np.ndarray,
    low_um: float,
    high_um: float,
    c0: float = BOUNDARY_VALUE,
    ell_um: float = DIFFUSION_LENGTH_UM,
) -> np.ndarray:
    """Steady state of D c'' = lambda c with c = c0 at ``low_um`` and ``high_um``:
    c0 cosh((x - m) / ell) / cosh(w / ell), m = (low + high)/2, w = (high - low)/2.

    Args:
        x_um: positions (um), any shape; ell_um: sqrt(D / lambda) (um).

    Returns:
        float64 concentrations, the shape of ``x_um``.
    """
    middle, half = (low_um + high_um) / 2, (high_um - low_um) / 2
    return (
        c0
        * np.cosh((np.asarray(x_um, dtype=np.float64) - middle) / ell_um)
        / math.cosh(half / ell_um)
    )


def boundary_positions_um(code: str, n: int, spacing_um: float = SPACING_UM) -> tuple[float, float]:
    """Where ``code`` ("tissue" or "py-pde") puts the Dirichlet value on an n-voxel axis (um):
    tissue at the centres of the outer voxels, py-pde on the outer cell faces."""
    length = n * spacing_um
    if code == "tissue":
        return spacing_um / 2, length - spacing_um / 2
    if code == "py-pde":
        return 0.0, length
    raise ValueError(f"unknown code {code!r}")


def solved_voxels(code: str, n: int) -> slice:
    """x indices whose values the code solves for (tissue holds the outer layers at c0)."""
    return slice(1, n - 1) if code == "tissue" else slice(0, n)


def discrete_wavenumber(
    spacing_um: float = SPACING_UM, ell_um: float = DIFFUSION_LENGTH_UM
) -> float:
    """kappa (1/um) of the 3-point scheme's exact solutions cosh(kappa x):
    2 (cosh(kappa h) - 1) / h^2 = 1 / ell^2, i.e. kappa = (2/h) asinh(h / (2 ell))."""
    return 2 / spacing_um * math.asinh(spacing_um / (2 * ell_um))


def discrete_steady_tissue(n: int, spacing_um: float = SPACING_UM) -> np.ndarray:
    """(n,) float64 steady state of tissue's scheme in closed form: outer voxels at c0,
    D (c_{i-1} - 2 c_i + c_{i+1}) / h^2 = lambda c_i inside, so
    c_i = c0 cosh(kappa (x_i - L/2)) / cosh(kappa (L - h)/2)."""
    kappa = discrete_wavenumber(spacing_um)
    x = voxel_centres_um(n, spacing_um)
    length = n * spacing_um
    return (
        BOUNDARY_VALUE
        * np.cosh(kappa * (x - length / 2))
        / math.cosh(kappa * (length - spacing_um) / 2)
    )


def discrete_steady_pypde(n: int, spacing_um: float = SPACING_UM) -> np.ndarray:
    """(n,) float64 steady state of py-pde's scheme in closed form: the same interior
    equation for every voxel, ghost cells c_{-1} = 2 c0 - c_0 (face value c0), so
    c_i = c0 cosh(kappa (x_i - L/2)) / (cosh(kappa L/2) cosh(kappa h/2))."""
    kappa = discrete_wavenumber(spacing_um)
    x = voxel_centres_um(n, spacing_um)
    length = n * spacing_um
    return (
        BOUNDARY_VALUE
        * np.cosh(kappa * (x - length / 2))
        / (math.cosh(kappa * length / 2) * math.cosh(kappa * spacing_um / 2))
    )


DISCRETE_STEADY = {  # code -> its scheme's steady state in closed form
    "tissue": discrete_steady_tissue,
    "py-pde": discrete_steady_pypde,
}


def profile_errors(profile: np.ndarray, exact: np.ndarray, solved: slice) -> dict[str, float]:
    """Max and L2 error of a 1-D profile over ``solved`` voxels: max |c - c_a| / c0 and
    ||c - c_a||_2 / ||c_a||_2."""
    diff = profile[solved] - exact[solved]
    return {
        "max_rel_error": float(np.abs(diff).max() / BOUNDARY_VALUE),
        "l2_rel_error": float(np.linalg.norm(diff) / np.linalg.norm(exact[solved])),
    }


def field_errors(xp: Any, field_x_first: Any, exact: Any, solved: slice) -> tuple[float, float]:
    """Max |c - c_a| / c0 and ||c - c_a||_2 / ||c_a||_2 of a 3-D field over the solved voxels.

    Args:
        field_x_first: (nx, ny, nz) concentrations (any float dtype, backend array).
        exact: (nx,) float64 analytic profile on the same backend.
    """
    values = field_x_first[solved].astype(xp.float64)
    diff = values - exact[solved, None, None]
    per_x = values.shape[1] * values.shape[2]
    max_rel = float(xp.abs(diff).max()) / BOUNDARY_VALUE
    l2_rel = float(xp.sqrt((diff * diff).sum() / (per_x * (exact[solved] ** 2).sum())))
    return max_rel, l2_rel


def discretisation_floor(n: int) -> dict[str, Any]:
    """Each code's fully discrete steady state against the analytic one (float64)."""
    out = {}
    x = voxel_centres_um(n)
    for code, discrete in DISCRETE_STEADY.items():
        low, high = boundary_positions_um(code, n)
        exact = analytic_steady(x, low, high)
        out[code] = {
            "boundary_at_um": [low, high],
            **profile_errors(discrete(n), exact, solved_voxels(code, n)),
        }
    return out
