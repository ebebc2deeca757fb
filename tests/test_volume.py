"""Cell volumes as PhysiCell's (issue 15): daughters at half volume growing back
(``division_volume``), apoptotic cells shrinking from their volume at death, and PhysiCell's
division placement. The closed form is held to PhysiCell's volume ODE integrated by RK4."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import box_scenario
from tissue.cells import APOPTOTIC
from tissue.config import scenario_from_dict
from tissue.config.cells import NecroticVolume
from tissue.rules import divide_cells
from tissue.simulation import Simulation
from tissue.volume import peak_fraction, regrown, regrowth_targets, rupture_min, whole

R = 8.4


def physicell_parts(
    f: float,
    n: float,
    r_f: float,
    r_c: float,
    r_n: float,
    t: float,
    start: Any = None,
    scale: float = 1.0,
) -> np.ndarray:
    """The nuclear solid, cytoplasmic solid and fluid volumes over V0 at ``t`` min after
    division by PhysiCell's standard volume update (solids toward their targets, times
    ``scale``, fluid toward f of the total), from ``start`` (those parts; default half of
    each target), by RK4 at 0.25 min."""
    target = scale * np.array([(1 - f) * n, (1 - f) * (1 - n)])
    rates = np.array([r_n, r_c])

    def slope(y: np.ndarray) -> np.ndarray:
        solids, fluid = y[:2], y[2]
        return np.append(rates * (target - solids), r_f * (f * y.sum() - fluid))

    y = np.append(target / 2, f * scale / 2) if start is None else np.asarray(start, float)
    steps = max(round(t / 0.25), 1 if t > 0 else 0)
    h = t / steps if steps else 0.0
    for _ in range(steps):
        k1 = slope(y)
        k2 = slope(y + h / 2 * k1)
        k3 = slope(y + h / 2 * k2)
        k4 = slope(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def physicell_volume(f: float, n: float, r_f: float, r_c: float, r_n: float, t: float) -> float:
    """V / V0 at ``t`` min after division from half of everything (see physicell_parts)."""
    return float(physicell_parts(f, n, r_f, r_c, r_n, t).sum())


def params(f: float, n: float, r_f: float, r_c: float, r_n: float) -> dict[str, np.ndarray]:
    return {key: np.float32([value]) for key, value in (
        ("grow_fluid_fraction", f), ("grow_nuclear_fraction", n), ("grow_fluid_rate", r_f),
        ("grow_cytoplasmic_rate", r_c), ("grow_nuclear_rate", r_n))}  # fmt: skip


def targets(f: float, n: float, size: int) -> np.ndarray:
    """(size, 3): the fluid, nuclear and cytoplasmic targets over V0, as tissue has them."""
    p = params(f, n, 0.05, 0.0045, 0.0055)
    got = regrowth_targets(np, p, np.zeros(size, int))
    want = np.float32([f, (1 - f) * n, (1 - f) * (1 - n)])
    np.testing.assert_allclose(got, np.broadcast_to(want, (size, 3)), atol=1e-7)
    return got


def volume(p: dict[str, np.ndarray], deviation: np.ndarray, times: np.ndarray) -> np.ndarray:
    """V / V0 ``times`` after a state ``deviation`` (one row), targets not doubled."""
    size = times.size
    moved = regrown(np, p, np.zeros(size, int), np.repeat(deviation, size, axis=0), times)
    return whole(np, moved, np.zeros(size, np.int8))


# the volume model's parameters: fluid fraction, nuclear share and the three rates (1/min)
MODELS = {
    "f": st.floats(0.0, 0.9),
    "n": st.floats(0.0, 1.0),
    "r_f": st.floats(1e-3, 0.2),
    "r_c": st.floats(1e-4, 0.05),
    "r_n": st.floats(1e-4, 0.05),
}


@settings(max_examples=25, deadline=None)
@given(**MODELS)
def test_regrowth_is_physicells_volume_ode(f, n, r_f, r_c, r_n) -> None:
    """A daughter of a cell at its targets: half of each part, growing back."""
    times = np.float32([0.0, 10.0, 45.0, 120.0, 300.0, 900.0])
    got = volume(params(f, n, r_f, r_c, r_n), -0.5 * targets(f, n, 1), times)
    want = [physicell_volume(f, n, r_f, r_c, r_n, float(t)) for t in times]
    np.testing.assert_allclose(got, want, atol=2e-6)


@settings(max_examples=15, deadline=None)
@given(**MODELS, first=st.floats(0.0, 600.0))
def test_regrowth_from_any_state_is_the_ode(f, n, r_f, r_c, r_n, first) -> None:
    """From where a daughter that divides again ``first`` min after its own division
    starts (half of each part it had then), and in steps: the exact solution composes."""
    p, target = params(f, n, r_f, r_c, r_n), targets(f, n, 1)
    then = regrown(np, p, np.zeros(1, int), -0.5 * target, np.float32([first]))
    again = 0.5 * (then - target)  # halved parts, the targets the type's again
    parts = physicell_parts(f, n, r_f, r_c, r_n, first) / 2
    np.testing.assert_allclose(whole(np, again, np.zeros(1, np.int8)), parts.sum(), atol=2e-6)
    times = np.float32([10.0, 120.0, 600.0])
    want = [physicell_parts(f, n, r_f, r_c, r_n, float(s), parts).sum() for s in times]
    np.testing.assert_allclose(volume(p, again, times), want, atol=3e-6)
    stepped = again
    for _ in range(20):  # 20 steps of 6 min: as one of 120 min
        stepped = regrown(np, p, np.zeros(1, int), stepped, np.float32(6.0))
    np.testing.assert_allclose(whole(np, stepped, np.zeros(1, np.int8)), want[1], atol=3e-6)


def test_regrowth_where_the_fluid_and_a_solid_rate_meet() -> None:
    """lambda = r_f (1 - f) equal to a biomass rate: the t e^(-r t) limit."""
    f, r_f = 0.75, 0.02  # lambda = 0.005
    times = np.float32([0.0, 60.0, 200.0, 600.0])
    got = volume(params(f, 0.3, r_f, 0.005, 0.011), -0.5 * targets(f, 0.3, 1), times)
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
    split_all(sim)  # again, before they have grown back: each is half of what it was
    np.testing.assert_allclose(sim.types.volume_fraction(cells), want / 2, rtol=1e-5)
    sim.step(600)  # an hour later, all four generations' cells alike
    parts = physicell_parts(0.75, 540 / 2494, 0.05, 0.0045, 0.0055, 120.0) / 2
    later = physicell_parts(0.75, 540 / 2494, 0.05, 0.0045, 0.0055, 60.0, parts).sum()
    np.testing.assert_allclose(sim.types.volume_fraction(cells), later, rtol=1e-5)
    whole = dividing()  # without division_volume the daughters are whole
    split_all(whole)
    np.testing.assert_array_equal(whole.types.volume_fraction(whole.organs["box"].cells), 1.0)


def test_a_phase_that_grows_doubles_the_targets_and_division_halves_them() -> None:
    """PhysiCell's S phase: a cell placed whole grows toward twice its volume from its entry
    into S (in the same phenotype step, after its entry function); leaving M it divides,
    each cell taking half of every part of the volume it had grown to and of its targets."""
    sim = dividing(division_volume={}, cycle_rate_per_min=10.0, cycle_phases=[
        {"name": "S", "duration_min": 300.0, "grows": True},
        {"name": "M", "duration_min": 6.0, "divides": True}])  # fmt: skip
    cells = sim.organs["box"].cells
    sim.step(1)  # the first phenotype step: G0/G1 left, S entered, 6 min of growth
    assert (cells.targets_doubled == 1).all()
    f, n, rates = 0.75, 540 / 2494, (0.05, 0.0045, 0.0055)
    start = [(1 - f) * n, (1 - f) * (1 - n), f]  # at the type's targets
    six = physicell_parts(f, n, *rates, 6.0, start, scale=2.0).sum()
    np.testing.assert_allclose(sim.types.volume_fraction(cells), six, rtol=1e-5)
    steps = 1
    while cells.n == 64:
        sim.step(60)
        steps += 1
    assert cells.n == 128
    assert 50 <= steps <= 53  # S and M, at 6 min a step
    grown = physicell_parts(f, n, *rates, 6.0 * steps, start, scale=2.0).sum()
    assert 1.6 < grown < 2.0
    np.testing.assert_allclose(sim.types.volume_fraction(cells), grown / 2, rtol=1e-5)
    assert (cells.targets_doubled == 0).all()
    assert sim.types.growing.tolist() == [True]


def test_an_apoptotic_daughter_shrinks_from_its_volume_at_death() -> None:
    sim = dividing(division_volume={}, apoptotic_volume={})
    cells = sim.organs["box"].cells
    split_all(sim)
    sim.step(960)  # 96 min of growth (eight phenotype steps)
    cells.state[:] = APOPTOTIC  # then dead for 72 min: its volume model stops
    cells.state_time_min[:] = 0.0
    sim.step(720)
    assert np.allclose(cells.state_time_min, 72.0)
    at_death = physicell_volume(0.75, 540 / 2494, 0.05, 0.0045, 0.0055, 96.0)
    f, n = 0.75, 540 / 2494
    left = f * math.exp(-0.05 * 72) + (1 - f) * (
        n * math.exp(-0.35 / 60 * 72) + (1 - n) * math.exp(-1 / 60 * 72)
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


def physicell_necrotic(model: Any, times: list[float]) -> tuple[list[float], float]:
    """V / V0 at ``times`` after necrosis by PhysiCell's volume update with its necrosis
    targets (solids to 0; fluid toward the whole volume while swelling, toward 0 once the
    volume has passed the rupture volume), by RK4 at 0.05 min; and the rupture time."""
    f, n = model.fluid_fraction, model.nuclear_fraction
    rates = np.array([model.nuclear_biomass_change_rate_per_min,
                      model.cytoplasmic_biomass_change_rate_per_min])  # fmt: skip
    y = np.array([(1 - f) * n, (1 - f) * (1 - n), f])
    lysed, rupture, clock, out = False, math.inf, 0.0, []

    def slope(y: np.ndarray) -> np.ndarray:
        fluid = (-model.lysed_fluid_change_rate_per_min * y[2] if lysed
                 else model.unlysed_fluid_change_rate_per_min * y[:2].sum())  # fmt: skip
        return np.append(-rates * y[:2], fluid)

    h = 0.05
    for t in times:
        while clock < t - 1e-9:
            k1 = slope(y)
            k2 = slope(y + h / 2 * k1)
            k3 = slope(y + h / 2 * k2)
            k4 = slope(y + h * k3)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            clock += h
            if not lysed and y.sum() >= model.relative_rupture_volume:
                lysed, rupture = True, clock
        out.append(float(y.sum()))
    return out, rupture


@settings(max_examples=10, deadline=None)
@given(
    r_u=st.floats(2e-3, 0.05),
    r_l=st.floats(0.0, 0.01),
    r_c=st.floats(0.0, 2e-3),
    r_n=st.floats(0.0, 5e-3),
)
def test_necrotic_cells_swell_rupture_and_lyse_as_physicells(
    r_u: float, r_l: float, r_c: float, r_n: float
) -> None:
    """The closed form (swelling, the rupture at twice the volume, lysis) against
    PhysiCell's necrotic volume ODE by RK4: rupture time within a step, V / V0 within 1e-3
    away from the rupture."""
    from tissue.config.cells import NecroticVolume
    from tissue.volume import NECROTIC_KEYS, necrotic_fraction, necrotic_params, rupture_min

    model = NecroticVolume(
        unlysed_fluid_change_rate_per_min=r_u, lysed_fluid_change_rate_per_min=r_l,
        cytoplasmic_biomass_change_rate_per_min=r_c, nuclear_biomass_change_rate_per_min=r_n,
    )  # fmt: skip
    table = {f"necro_{k}": np.float32(v) for k, v in necrotic_params([model]).items()}
    assert {k for k, _ in NECROTIC_KEYS} <= {k.removeprefix("necro_") for k in table}
    times = [0.0, 30.0, 200.0, 600.0, 1500.0, 4000.0]
    expected, rupture = physicell_necrotic(model, times)
    if rupture_min(model) < times[-1]:
        assert rupture_min(model) == pytest.approx(rupture, abs=0.06)
    else:
        assert rupture == math.inf
    got = necrotic_fraction(np, table, np.zeros(len(times), int), np.float32(times))
    for t, a, b in zip(times, got, expected, strict=True):
        if abs(t - rupture) > 1.0:
            assert a == pytest.approx(b, rel=1e-3), t


def test_a_necrotic_cell_grows_in_the_mechanics_and_is_cleared_after_lysis() -> None:
    """A necrotic cell of a type with PhysiCell's necrotic volume grows (its radius, which
    mechanics and contacts read) until the rupture at twice its volume, shrinks after it,
    and is cleared ``necrotic_clearance_min`` after the rupture, not after its death."""
    from tissue.cells import NECROTIC
    from tissue.config.cells import NecroticVolume
    from tissue.volume import rupture_min

    model = {"unlysed_fluid_change_rate_per_min": 0.02, "lysed_fluid_change_rate_per_min": 0.01}
    data = box_scenario(
        time_steps={"diffusion_min": 6.0, "mechanics_min": 6.0, "phenotype_min": 6.0},
        cell_types={"t": {"radius_um": R, "necrosis_model": "rate", "necrosis_rate_per_min": 50.0,
                          "necrotic_volume": model, "necrotic_clearance_min": 60.0,
                          "repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0}},
        initial_cells=[{"kind": "list", "organ": "box", "type": "t",
                        "positions_um": [[60.0, 60.0, 60.0]]}],
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "necrotic"), backend="cpu", seed=2)
    cells = sim.organs["box"].cells
    t_r = rupture_min(NecroticVolume(**model))
    radii = []
    while sim.time_min < t_r + 30.0:
        sim.step(1)
        radii.append(float(sim.types.radius(cells)[0]))
    assert cells.state.tolist() == [NECROTIC]
    before = [r for k, r in enumerate(radii) if 6.0 * (k + 1) < t_r]
    assert np.all(np.diff(before) > 0)  # swelling
    assert max(radii) <= R * 2 ** (1 / 3) * (1 + 1e-5)
    assert max(radii) > R * 2 ** (1 / 3) * 0.99  # the rupture at twice the volume
    assert radii[-1] < max(radii)  # lysis
    dying_step = 6.0  # the cell died at the first step: its time in the state runs from it
    while sim.time_min + 6.0 < t_r + 60.0 + dying_step - 6.0:
        sim.step(1)
        assert cells.n == 1  # still there until 60 min after the rupture
    sim.step(2)
    assert cells.n == 0


def test_the_largest_necrotic_volume_is_the_rupture_or_the_swellings_limit() -> None:
    """A model that ruptures peaks at its rupture volume (the lysis only drains); one that
    never does (rupture at 10x; solids lost fast, so its fluid rises only to f + r_u int S,
    1.76) peaks at the most its swelling reaches, checked on a dense grid of times; one that
    does not swell stays at 1, its volume at death."""
    assert peak_fraction(NecroticVolume()) == 2.0
    slow = NecroticVolume(
        relative_rupture_volume=10.0,
        unlysed_fluid_change_rate_per_min=0.05,
        cytoplasmic_biomass_change_rate_per_min=0.01,
        nuclear_biomass_change_rate_per_min=0.1,
    )
    assert math.isinf(rupture_min(slow))
    t = np.linspace(0.0, 2e5, 200_001)
    f, n = slow.fluid_fraction, slow.nuclear_fraction
    r_n, r_c = (
        slow.nuclear_biomass_change_rate_per_min,
        slow.cytoplasmic_biomass_change_rate_per_min,
    )
    solids = (1 - f) * (n * np.exp(-r_n * t) + (1 - n) * np.exp(-r_c * t))
    integral = (1 - f) * (n * -np.expm1(-r_n * t) / r_n + (1 - n) * -np.expm1(-r_c * t) / r_c)
    volume = f + slow.unlysed_fluid_change_rate_per_min * integral + solids
    assert 1.0 < peak_fraction(slow) < 10.0
    assert peak_fraction(slow) == pytest.approx(volume.max(), rel=1e-4)
    drains = NecroticVolume(relative_rupture_volume=10.0, unlysed_fluid_change_rate_per_min=0.0)
    assert peak_fraction(drains) == 1.0
