"""Phagocytosis of live cells (PhysiCell 1.14's ``live_phagocytosis_rates`` and rules on
"phagocytose <type>"): how often an eater eats a touching live cell of a type it eats, how
those chances compete with the dead cells', who eats when eaters eat each other, and that
what is eaten is what the eaters gain.

Statistical bounds as in :mod:`tests.test_phagocytosis` (4 standard deviations); each test
names a wrong model it excludes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.test_checkpoint import assert_same_state
from tests.test_phagocytosis import VOLUME, place, prey_left, scenario, within_4_sd
from tissue.cells import APOPTOTIC, LIVE
from tissue.config import Scenario, scenario_from_dict
from tissue.errors import InputError
from tissue.phagocytosis import phagocytosis_step
from tissue.simulation import Simulation


def eats_prey(rate: float, **eater: Any) -> dict[str, Any]:
    return {"live_phagocytosis_rates_per_min": {"prey": rate}, **eater}


def test_a_touching_live_cell_is_eaten_with_probability_r_dt_a_step() -> None:
    """4,096 eaters, each touching one live prey cell, p = r dt = 0.25 a step: after n
    steps 1 - (1 - p)^n of them are eaten (excludes 1 - exp(-r dt), off by 7-14 sd); the
    eaters hold the prey's volume and stay."""
    sim = Simulation(scenario(eater=eats_prey(0.25)), "cpu", seed=11)
    organ = place(sim, [(6.0, 0.0, 0.0)], [LIVE])
    done = 0
    for n in (1, 2, 4):
        sim.step(n - done)
        done = n
        within_4_sd(4096 - prey_left(organ), 4096, 1 - 0.75**n)
    cells = organ.cells
    eaters = cells.type == 0
    assert int(eaters.sum()) == 4096
    held = (cells.engulfed_fluid_um3 + cells.engulfed_solid_um3)[eaters]
    eaten = 4096 - prey_left(organ)
    assert int((held > 0).sum()) == eaten


def test_live_and_dead_neighbours_compete_by_their_hazards() -> None:
    """An eater touching an apoptotic cell (p 0.3) and a live one (p 0.1) eats one with
    probability 1 - 0.7 x 0.9 and the dead one in the share -ln 0.7 / (-ln 0.7 - ln 0.9) =
    0.77 (excludes the live rate ignored, 0.3 in all, and a uniform pick, 0.5), never
    both in a step."""
    eater = eats_prey(0.1, apoptotic_phagocytosis_rate_per_min=0.3)
    sim = Simulation(scenario(eater=eater), "cpu", seed=12)
    organ = place(sim, [(6.0, 0.0, 0.0), (-6.0, 0.0, 0.0)], [APOPTOTIC, LIVE])
    sim.step(1)
    dead, live = (4096 - prey_left(organ, s) for s in (APOPTOTIC, LIVE))
    share = math.log(0.7) / (math.log(0.7) + math.log(0.9))
    within_4_sd(dead, 4096, (1 - 0.63) * share)
    within_4_sd(live, 4096, (1 - 0.63) * (1 - share))
    cells = organ.cells
    held = (cells.engulfed_fluid_um3 + cells.engulfed_solid_um3)[cells.type == 0]
    assert float(held.max()) < 1.5 * VOLUME  # one meal at most


def three_types(**eater: Any) -> Scenario:
    """The phagocytosis box with a third type, ``other``, like the prey."""
    data = scenario(eater=eater).model_dump()
    data["cell_types"]["other"] = dict(data["cell_types"]["prey"])
    return scenario_from_dict(data, "three")


def test_only_the_types_named_are_eaten_alive() -> None:
    """An eater of ``prey`` (sure) touching a live ``other`` cell leaves it; the same eater
    eats a touching prey cell at once."""
    sim = Simulation(three_types(**eats_prey(2.0)), "cpu", seed=13)
    organ = sim.organs["box"]
    organ.add_cells(0, [[40.0, 40.0, 40.0], [140.0, 140.0, 140.0]], sim.rng)
    organ.add_cells(2, [[46.0, 40.0, 40.0]], sim.rng)
    organ.add_cells(1, [[146.0, 140.0, 140.0]], sim.rng)
    assert sim.types.eaten == [1]
    sim.step(3)
    assert organ.cells.type.tolist() == [0, 0, 2]


def test_two_eaters_that_choose_each_other_leave_the_one_of_lower_id() -> None:
    """Pairs of cannibals (a type that eats its own kind, sure at dt 1 min), each touching
    only its partner: after one step exactly the first of each pair is left, holding the
    other's volume (a rule that lets both, or neither, eat fails)."""
    eater = {"live_phagocytosis_rates_per_min": {"eater": 2.0}}
    sim = Simulation(scenario(side=4, eater=eater), "cpu", seed=14)
    organ = place(sim, [], [])
    first = organ.cells.id.copy()
    organ.add_cells(0, organ.cells.position_um + np.float32([7.0, 0.0, 0.0]), sim.rng)
    phagocytosis_step(organ, sim.types, sim.rng, 0, 1.0)
    cells = organ.cells
    assert cells.id.tolist() == first.tolist()
    held = cells.engulfed_fluid_um3 + cells.engulfed_solid_um3
    np.testing.assert_allclose(held, VOLUME, rtol=1e-5)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_what_is_eaten_is_what_the_eaters_gain(seed: int) -> None:
    """A crowd of 300 cannibals (sure) at random in a 60 um cube, each touching several:
    one step removes some and the volume the survivors gained equals the volume removed. An
    eater that is itself eaten in the same step would take its meal's volume out of the
    simulation (as would two eaters of one cell each gaining it: more gained than lost);
    every survivor holds at most one meal."""
    eater = {"live_phagocytosis_rates_per_min": {"eater": 2.0}}
    sim = Simulation(scenario(side=3, eater=eater), "cpu", seed=seed)
    organ = sim.organs["box"]
    positions = np.random.default_rng(seed).uniform(0.0, 60.0, (300, 3)).astype(np.float32)
    organ.add_cells(0, positions, sim.rng)
    phagocytosis_step(organ, sim.types, sim.rng, 0, 1.0)
    cells = organ.cells
    removed = 300 - cells.n
    held = cells.engulfed_fluid_um3 + cells.engulfed_solid_um3
    assert removed > 30
    assert float(held.sum()) == pytest.approx(removed * VOLUME, rel=1e-5)
    assert int((held > 0).sum()) == removed
    assert float(held.max()) == pytest.approx(VOLUME, rel=1e-5)


def test_a_rule_raises_a_rate_of_zero_and_its_type_becomes_eaten() -> None:
    """No rate in the table, a rule on ``phagocytosis.prey`` by contact with prey (half-max
    0.01: about 1 for one touching cell) raises it to 2/min at the first phenotype step
    (which ends the first tick): every touching prey cell is eaten in the second step;
    without the rule, none."""
    rule = {"cell_type": "eater", "behaviour": "phagocytosis.prey", "signal": "contact.prey",
            "to_value": 2.0, "half_max": 0.01, "hill_coefficient": 4.0}  # fmt: skip
    left = {}
    for name, rules in (("plain", {}), ("ruled", {"eat": rule})):
        sim = Simulation(scenario(side=4, rules=rules), "cpu", seed=15)
        organ = place(sim, [(6.0, 0.0, 0.0)], [LIVE])
        sim.step(2)
        left[name] = prey_left(organ)
    assert left == {"plain": 64, "ruled": 0}


def test_runs_with_live_eaters_repeat_bit_for_bit() -> None:
    """Motile cannibals that divide, among prey that divide: the same seed, the same state."""
    cases = scenario(
        side=3,
        eater=eats_prey(0.05, speed_um_per_min=2.0, cycle_rate_per_min=0.003,
                        repulsion_um_per_min=2.0),
        prey={"cycle_rate_per_min": 0.004, "repulsion_um_per_min": 2.0},
        initial_cells=[{"kind": "random", "organ": "box", "type": "eater", "count": 30},
                       {"kind": "random", "organ": "box", "type": "prey", "count": 120}],
    )  # fmt: skip
    runs = []
    for _ in range(2):
        sim = Simulation(cases, "cpu", seed=16)
        sim.step(120)
        runs.append(sim.state())
    assert_same_state(*runs)
    assert (runs[0].arrays["organs/box/cells/engulfed_solid_um3"] > 0).sum() >= 3


@pytest.mark.parametrize(
    ("eater", "message"),
    [
        ({"live_phagocytosis_rates_per_min": {"nobody": 0.1}}, "unknown cell type"),
        ({"live_phagocytosis_rates_per_min": {"prey": -0.1}}, "greater than or equal to 0"),
        (
            {"live_phagocytosis_rates_per_min": {"prey": 0.1}, "division_volume": None},
            "division_volume: required for a type that eats cells",
        ),
    ],
)
def test_bad_live_rates_are_refused_with_their_key(eater: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        scenario(side=2, eater=eater)
