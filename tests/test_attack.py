"""The cytotoxic attack (PhysiCell's cancer-immune rules, issue 15): attachment scaled by the
target's attribute and by distance, kills, fixed and random release, springs, and attackers
that hold still at a target. Each statistical check uses >= 1,000 independent pairs and a
5-sigma binomial tolerance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario
from tissue.cells import APOPTOTIC, LIVE
from tissue.config import scenario_from_dict
from tissue.simulation import Simulation

SIDE = 10  # pairs on a SIDE^3 lattice, 100 um apart
DT = 0.1


def pairs(distance_um: float, p: float, **attack: Any) -> Simulation:
    """SIDE^3 isolated (attacker, target) pairs ``distance_um`` apart along x; targets carry
    oncoprotein ``p``; no forces, no motility unless ``attack`` asks for a speed."""
    speed = attack.pop("speed", 0.0)
    lattice = [(50.0 + 100 * i, 50.0 + 100 * j, 50.0 + 100 * k)
               for i in range(SIDE) for j in range(SIDE) for k in range(SIDE)]  # fmt: skip
    spec = {"targets": ["tumour"], "attach_rate_per_min": 5.0, "kill_rate_per_min": 0.0,
            "attachment_min": 1e4, "release": "random", "attach_distance_um": 18.0,
            "attach_full_within_um": 14.0, "target_attribute": "p", "attribute_zero_at": 0.5,
            "attribute_full_at": 2.0, **attack}  # fmt: skip
    data = box_scenario(
        organs={"box": {"shape": [20, 20, 20], "spacing_um": 50.0}},
        cell_types={
            "tumour": {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0,
                       "attributes": {"p": {"value": p}}},
            "immune": {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0,
                       "speed_um_per_min": speed, "persistence_min": 0.01, "attack": spec},
        },
        initial_cells=[
            {"kind": "list", "organ": "box", "type": "tumour",
             "positions_um": [[x + distance_um, y, z] for x, y, z in lattice]},
            {"kind": "list", "organ": "box", "type": "immune", "positions_um": lattice},
        ],
    )  # fmt: skip
    return Simulation(scenario_from_dict(data, "pairs"), backend="cpu", seed=7)


def attached_fraction(sim: Simulation) -> float:
    cells = sim.organs["box"].cells
    return float((cells.partner[cells.type == 1] >= 0).mean())


def binomial_ok(observed: float, p: float, n: int = SIDE**3) -> bool:
    return abs(observed - p) <= 5 * math.sqrt(max(p * (1 - p), 1e-4) / n)


@pytest.mark.parametrize(
    ("distance", "p", "s", "g"),
    [(12.0, 2.5, 1.0, 1.0), (16.0, 1.25, 0.5, 0.5), (17.0, 2.0, 1.0, 0.25), (12.0, 0.5, 0, 1)],
)
def test_attachment_scales_with_the_targets_attribute_and_distance(distance, p, s, g) -> None:
    sim = pairs(distance, p)
    sim.step(1)
    assert binomial_ok(attached_fraction(sim), 1 - math.exp(-5.0 * s * g * DT))


def test_out_of_reach_or_below_the_threshold_is_never_attacked() -> None:
    for distance, p in ((18.5, 2.0), (12.0, 0.45)):
        sim = pairs(distance, p, attach_rate_per_min=1e3)
        sim.step(20)
        assert attached_fraction(sim) == 0.0


def attach_all(sim: Simulation) -> Any:
    cells = sim.organs["box"].cells
    immune = cells.type == 1
    cells.partner[immune] = cells.id[cells.type == 0]
    return immune


def test_attached_attackers_kill_at_the_scaled_rate() -> None:
    sim = pairs(12.0, 1.25, attach_rate_per_min=0.0, kill_rate_per_min=3.0)
    attach_all(sim)
    sim.step(1)
    cells = sim.organs["box"].cells
    killed = (cells.state[cells.type == 0] == APOPTOTIC).mean()
    assert binomial_ok(killed, 1 - math.exp(-3.0 * 0.5 * DT))
    # an attacker lets go of the cell it killed
    victims = cells.id[(cells.type == 0) & (cells.state == APOPTOTIC)]
    assert not np.isin(cells.partner, victims).any()


def test_an_attacker_holding_a_dead_target_lets_go_at_the_kill_rate() -> None:
    """PhysiCell draws the kill on a target another attacker already killed: a success
    lets go (at kill_rate x s), and kills nothing."""
    sim = pairs(12.0, 1.25, attach_rate_per_min=0.0, kill_rate_per_min=3.0)
    attach_all(sim)
    cells = sim.organs["box"].cells
    cells.state[cells.type == 0] = APOPTOTIC
    sim.step(1)
    assert binomial_ok(1 - attached_fraction(sim), 1 - math.exp(-3.0 * 0.5 * DT))
    assert (cells.state_time_min[cells.type == 0] > 0).all()  # none killed a second time


def test_release_at_random_or_after_a_fixed_time() -> None:
    sim = pairs(12.0, 1.25, attach_rate_per_min=0.0, attachment_min=1.0)
    attach_all(sim)
    sim.step(1)
    assert binomial_ok(1 - attached_fraction(sim), 1 - math.exp(-DT / 1.0))
    fixed = pairs(12.0, 1.25, attach_rate_per_min=0.0, attachment_min=0.5, release="fixed")
    attach_all(fixed)
    fixed.step(4)
    assert attached_fraction(fixed) == 1.0  # 0.4 min attached
    fixed.step(1)
    assert attached_fraction(fixed) == 0.0


def test_a_target_out_of_reach_is_let_go() -> None:
    sim = pairs(12.0, 1.25, attach_rate_per_min=0.0)
    attach_all(sim)
    cells = sim.organs["box"].cells
    cells.position_um[cells.type == 0, 0] += 7.0  # now 19 um apart
    sim.step(1)
    assert attached_fraction(sim) == 0.0


def test_springs_pull_attached_pairs_together() -> None:
    """Each cell moves k (x_other - x_self) dt: the gap closes by 2 k dt of itself."""
    sim = pairs(16.0, 1.25, attach_rate_per_min=0.0, spring_per_min=0.5)
    attach_all(sim)
    sim.step(1)
    cells = sim.organs["box"].cells
    gap = cells.position_um[cells.type == 0, 0] - cells.position_um[cells.type == 1, 0]
    np.testing.assert_allclose(gap, 16.0 * (1 - 2 * 0.5 * DT), rtol=1e-5)


def test_two_attackers_on_one_target_pull_it_with_both_springs() -> None:
    data = box_scenario(
        organs={"box": {"shape": [10, 10, 10], "spacing_um": 20.0}},
        cell_types={
            "tumour": {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0},
            "immune": {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0,
                       "attack": {"targets": ["tumour"], "attach_rate_per_min": 0.0,
                                  "kill_rate_per_min": 0.0, "attachment_min": 1e4,
                                  "spring_per_min": 0.5, "attach_distance_um": 30.0}},
        },
        initial_cells=[
            {"kind": "list", "organ": "box", "type": "tumour", "positions_um": [[100, 100, 100]]},
            {"kind": "list", "organ": "box", "type": "immune",
             "positions_um": [[110, 100, 100], [100, 120, 100]]},
        ],
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "two"), backend="cpu", seed=1)
    attach_all(sim)
    sim.step(1)
    target = sim.organs["box"].cells.position_um[0]
    np.testing.assert_allclose(target, [100 + 0.5 * 10 * DT, 100 + 0.5 * 20 * DT, 100], rtol=1e-6)


def test_attackers_hold_still_at_an_eligible_target_even_when_they_fail_to_attach() -> None:
    """PhysiCell's immune cell stops while it has a target in reach (its attach attempt
    returns true whether or not the draw succeeds) and resumes at its next turn."""
    for p, moves in ((2.0, False), (0.3, True)):
        sim = pairs(12.0, p, attach_rate_per_min=0.0, speed=5.0)
        cells = sim.organs["box"].cells
        before = cells.position_um[cells.type == 1].copy()
        sim.step(5)
        moved = np.abs(cells.position_um[cells.type == 1] - before).max(axis=1) > 0
        assert moved.all() if moves else not moved.any()
        assert (cells.state == LIVE).all()


def test_a_search_voxel_limits_the_targets_to_the_attackers_own_cube() -> None:
    """With 30 um cubes from the origin, an attacker attaches to its target (all but
    certain at this rate) exactly when the two share a cube."""
    for distance in (8.0, 12.0, 16.0):
        sim = pairs(distance, 2.0, attach_rate_per_min=1e3, search_voxel_um=30.0)
        cells = sim.organs["box"].cells
        attacker_x = cells.position_um[cells.type == 1, 0]
        share = np.floor(attacker_x / 30) == np.floor((attacker_x + distance) / 30)
        assert share.any()
        assert distance == 8.0 or not share.all()
        sim.step(1)
        np.testing.assert_array_equal(cells.partner[cells.type == 1] >= 0, share)


def test_apoptotic_cells_shrink_as_physicells() -> None:
    """With ``apoptotic_volume`` a killed cell's volume follows PhysiCell's apoptotic volume
    loss (fluid, cytoplasmic and nuclear solids draining at their rates); without, it keeps
    its size."""
    sim = pairs(12.0, 1.25, attach_rate_per_min=0.0)
    cells = sim.organs["box"].cells
    cells.state[cells.type == 0] = APOPTOTIC
    cells.state_time_min[cells.type == 0] = 60.0
    np.testing.assert_array_equal(sim.types.radius(cells), sim.types.of("radius_um", cells.type))
    data_spec = {"apoptotic_volume": {}}
    data = box_scenario(
        organs={"box": {"shape": [4, 4, 4], "spacing_um": 20.0}},
        cell_types={"tumour": data_spec, "immune": {}},
        initial_cells=[{"kind": "list", "organ": "box", "type": t, "positions_um": [[30, 30, 30]]}
                       for t in ("tumour", "immune")],
    )  # fmt: skip
    shrinking = Simulation(scenario_from_dict(data, "shrink"), backend="cpu", seed=1)
    cells = shrinking.organs["box"].cells
    cells.state[:] = APOPTOTIC
    cells.state_time_min[:] = 60.0
    f, n = 0.75, 540 / 2494
    left = f * math.exp(-0.05 * 60) + (1 - f) * (
        n * math.exp(-0.35 / 60 * 60) + (1 - n) * math.exp(-1 / 60 * 60)
    )
    fraction = shrinking.types.volume_fraction(cells)
    np.testing.assert_allclose(fraction, [left, 1.0], rtol=1e-5)
    radius = shrinking.types.radius(cells)
    np.testing.assert_allclose(radius, [8.4 * left ** (1 / 3), 8.4], rtol=1e-5)
