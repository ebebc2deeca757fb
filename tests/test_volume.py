"""Cell volumes as PhysiCell's (issue 15): daughters at half volume growing back
(``division_volume``), apoptotic cells shrinking from their volume at death, and PhysiCell's
division placement. The closed form is held to PhysiCell's volume ODE integrated by RK4."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import box_scenario
from tissue.cells import APOPTOTIC
from tissue.config import scenario_from_dict
from tissue.rules import divide_cells
from tissue.simulation import Simulation
from tissue.volume import regrown

R = 8.4


def physicell_volume(f: float, n: float, r_f: float, r_c: float, r_n: float, t: float) -> float:
    """V / V0 at ``t`` min after division by PhysiCell's standard volume update (solids
    toward their targets, fluid toward f of the total), from half of everything, by RK4
    at 0.25 min."""
    target = np.array([(1 - f) * n, (1 - f) * (1 - n)])
    rates = np.array([r_n, r_c])

    def slope(y: np.ndarray) -> np.ndarray:
        solids, fluid = y[:2], y[2]
        return np.append(rates * (target - solids), r_f * (f * y.sum() - fluid))

    y = np.append(target / 2, f / 2)
    steps = round(t / 0.25)
    h = t / steps if steps else 0.0
    for _ in range(steps):
        k1 = slope(y)
        k2 = slope(y + h / 2 * k1)
        k3 = slope(y + h / 2 * k2)
        k4 = slope(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return float(y.sum())


def params(f: float, n: float, r_f: float, r_c: float, r_n: float) -> dict[str, np.ndarray]:
    return {key: np.float32([value]) for key, value in (
        ("grow_fluid_fraction", f), ("grow_nuclear_fraction", n), ("grow_fluid_rate", r_f),
        ("grow_cytoplasmic_rate", r_c), ("grow_nuclear_rate", r_n))}  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(
    f=st.floats(0.0, 0.9),
    n=st.floats(0.0, 1.0),
    r_f=st.floats(1e-3, 0.2),
    r_c=st.floats(1e-4, 0.05),
    r_n=st.floats(1e-4, 0.05),
)
def test_regrowth_is_physicells_volume_ode(f, n, r_f, r_c, r_n) -> None:
    times = np.float32([0.0, 10.0, 45.0, 120.0, 300.0, 900.0])
    got = regrown(np, params(f, n, r_f, r_c, r_n), np.zeros(times.size, int), times)
    want = [physicell_volume(f, n, r_f, r_c, r_n, float(t)) for t in times]
    np.testing.assert_allclose(got, want, atol=2e-6)


def test_regrowth_where_the_fluid_and_a_solid_rate_meet() -> None:
    """lambda = r_f (1 - f) equal to a biomass rate: the t e^(-r t) limit."""
    f, r_f = 0.75, 0.02  # lambda = 0.005
    times = np.float32([0.0, 60.0, 200.0, 600.0])
    got = regrown(np, params(f, 0.3, r_f, 0.005, 0.011), np.zeros(4, int), times)
    want = [physicell_volume(f, 0.3, r_f, 0.005, 0.011, float(t)) for t in times]
    np.testing.assert_allclose(got, want, atol=2e-6)


def dividing(**tumour: Any) -> Simulation:
    """64 tumour cells on a lattice 40 um apart, no forces."""
    lattice = [[20.0 + 40 * i, 20.0 + 40 * j, 20.0 + 40 * k]
               for i in range(4) for j in range(4) for k in range(4)]  # fmt: skip
    data = box_scenario(
        organs={"box": {"shape": [16, 16, 16], "spacing_um": 10.0}},
        cell_types={"tumour": {"radius_um": R, "repulsion_um_per_min": 0.0,
                               "adhesion_um_per_min": 0.0, "apoptotic_clearance_min": 1e4,
                               **tumour}},
        initial_cells=[{"kind": "list", "organ": "box", "type": "tumour",
                        "positions_um": lattice}],
    )  # fmt: skip
    return Simulation(scenario_from_dict(data, "volume"), backend="cpu", seed=3)


def split_all(sim: Simulation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Divide every cell along x: (centres before, parents' rows, daughters' rows)."""
    organ = sim.organs["box"]
    cells = organ.cells
    parents = np.arange(cells.n, dtype=np.int64)
    centre = cells.position_um.copy()
    axis = np.zeros((cells.n, 3), np.float32)
    axis[:, 0] = 1
    divide_cells(organ, sim.types, np.ones(cells.n, bool), axis, sim.rng)
    return centre, parents, np.arange(parents.size, 2 * parents.size)


def test_placed_cells_are_whole_and_daughters_start_at_half_and_grow_back() -> None:
    sim = dividing(division_volume={})
    cells = sim.organs["box"].cells
    assert (cells.age_min == -1).all()
    np.testing.assert_array_equal(sim.types.volume_fraction(cells), 1.0)
    split_all(sim)
    np.testing.assert_allclose(sim.types.volume_fraction(cells), 0.5, atol=1e-6)
    np.testing.assert_allclose(sim.types.radius(cells), R * 0.5 ** (1 / 3), rtol=1e-6)
    sim.step(1200)  # two hours: ten phenotype steps of age
    assert np.allclose(cells.age_min, 120.0)
    want = physicell_volume(0.75, 540 / 2494, 0.05, 0.0045, 0.0055, 120.0)
    np.testing.assert_allclose(sim.types.volume_fraction(cells), want, rtol=1e-5)
    assert 0.6 < want < 0.65
    whole = dividing()  # without division_volume the daughters are whole
    split_all(whole)
    np.testing.assert_array_equal(whole.types.volume_fraction(whole.organs["box"].cells), 1.0)


def test_an_apoptotic_daughter_shrinks_from_its_volume_at_death() -> None:
    sim = dividing(division_volume={}, apoptotic_volume={})
    cells = sim.organs["box"].cells
    split_all(sim)
    cells.age_min[:] = 150.0  # died at 90 min of age, 60 min ago
    cells.state[:] = APOPTOTIC
    cells.state_time_min[:] = 60.0
    at_death = physicell_volume(0.75, 540 / 2494, 0.05, 0.0045, 0.0055, 90.0)
    f, n = 0.75, 540 / 2494
    left = f * math.exp(-0.05 * 60) + (1 - f) * (
        n * math.exp(-0.35 / 60 * 60) + (1 - n) * math.exp(-1 / 60 * 60)
    )
    np.testing.assert_allclose(sim.types.volume_fraction(cells), at_death * left, rtol=1e-5)


def test_division_placement() -> None:
    """Symmetric: half a radius either side. PhysiCell's: the daughter a radius out along the
    axis, the parent half a radius back, by the parent's radius before the split."""
    for placement, forward in (("symmetric", 0.5), ("physicell", 1.0)):
        sim = dividing(division_placement=placement, division_volume={})
        cells = sim.organs["box"].cells
        centre, parents, daughters = split_all(sim)
        shift = np.array([R, 0, 0], np.float32)
        np.testing.assert_allclose(cells.position_um[parents], centre - 0.5 * shift, atol=1e-5)
        np.testing.assert_allclose(
            cells.position_um[daughters], centre + forward * shift, atol=1e-5
        )
        assert (cells.age_min == 0).all()
