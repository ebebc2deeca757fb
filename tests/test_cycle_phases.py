"""Cell cycles with several phases (PhysiCell's cycle models): fixed phases are left at
PhysiCell's step, the first at its exponential rate, division where a phase divides, and
restarts that lose nothing."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario
from tests.test_checkpoint import assert_same_state
from tissue.cells import LIVE
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.simulation import Simulation

DT = 6.0  # min: every process steps at the phenotype step here
# PhysiCell's flow-cytometry (separated) cycle after G0/G1: S, G2, M (its default durations)
FLOW = [
    {"name": "S", "duration_min": 480.0},
    {"name": "G2", "duration_min": 240.0},
    {"name": "M", "duration_min": 60.0, "divides": True},
]


def cycling(
    count: int, cycle_rate: float, phases: list[dict[str, Any]], **types: Any
) -> Simulation:
    """``count`` cells of type ``c`` at random in a 120 um box, no fields, no death."""
    scenario = box_scenario(
        time_steps={"diffusion_min": DT, "mechanics_min": DT, "phenotype_min": DT},
        cell_types={
            "c": {"cycle_rate_per_min": cycle_rate, "cycle_phases": phases,
                  "repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0},
            **types,
        },
        initial_cells=[{"kind": "random", "organ": "box", "type": "c", "count": count}],
    )  # fmt: skip
    return Simulation(scenario_from_dict(scenario, "phases"), backend="cpu", seed=3)


def advance(sim: Simulation, minutes: float) -> None:
    """Step ``minutes`` (a whole number of steps of DT)."""
    sim.step(round(minutes / DT))


def live(sim: Simulation) -> int:
    return int((sim.organs["box"].cells.state == LIVE).sum())


def test_fixed_phases_take_their_durations_to_the_step() -> None:
    """Nearly every cell leaves G0/G1 at the first phenotype step (rate 1/min: 1 - e^-6);
    then S, G2 and M each end at the first step whose time in the phase exceeds the
    duration less half a step (PhysiCell's test): 480, 240 and 60 min exactly at 6 min
    steps, so those cells divide 780 min after that first step, not a step earlier."""
    n = 400
    sim = cycling(n, 1.0, FLOW)
    cells = sim.organs["box"].cells
    while not (cells.cycle_phase == 1).any():
        sim.step(1)
    first = sim.time_min
    left = int((cells.cycle_phase == 1).sum())
    assert left >= 0.99 * n
    advance(sim, 780.0 - DT)
    assert live(sim) == n  # nobody divides before 780 min
    sim.step(1)
    assert sim.time_min == pytest.approx(first + 780.0)
    assert live(sim) == n + left
    # parents and daughters begin G0/G1 again, at time 0
    assert int((cells.cycle_phase == 0).sum()) >= 2 * left


def test_the_first_phase_is_left_at_its_rate() -> None:
    """Fraction of the initial cells still in G0/G1 after t: exp(-r t) (the draw per step
    is 1 - exp(-r dt)), within 4 binomial standard deviations."""
    n, rate = 2000, 1.0 / 300.0
    sim = cycling(n, rate, FLOW)
    cells = sim.organs["box"].cells
    advance(sim, 300.0)
    still = float((cells.cycle_phase == 0).sum()) / n  # before any division (780 min)
    expected = math.exp(-rate * sim.time_min)
    assert abs(still - expected) < 4 * math.sqrt(expected * (1 - expected) / n)


def test_a_phase_left_at_a_rate_and_division_in_the_middle() -> None:
    """Ki67 (advanced): division on leaving the premitotic phase; both cells start the
    postmitotic one, left at its rate."""
    phases = [
        {"name": "Ki67+ premitotic", "duration_min": 60.0, "divides": True},
        {"name": "Ki67+ postmitotic", "rate_per_min": 1.0 / 600.0},
    ]
    n = 300
    sim = cycling(n, 1.0, phases)
    cells = sim.organs["box"].cells
    while live(sim) == n:
        sim.step(1)
    born = cells.age_min == 0  # divided at this step: parents and daughters
    assert born.sum() == 2 * (live(sim) - n)
    assert (cells.cycle_phase[born] == 2).all()
    assert (cells.phase_time_min[born] == 0).all()
    # the postmitotic phase is left at its rate: about 1% a step, so most are still in it
    ids = cells.id[born].copy()
    sim.step(10)
    still = (cells.cycle_phase[np.isin(cells.id, ids)] == 2).mean()
    assert 0.8 < still < 0.97


def test_a_cell_that_changes_type_restarts_its_new_types_cycle() -> None:
    plain = {"cycle_rate_per_min": 0.0, "repulsion_um_per_min": 0.0}
    sim = cycling(200, 1.0, FLOW, plain=plain)
    scenario = sim.scenario.with_overrides({"cell_types.c.transitions": {"plain": 0.01}})
    sim = Simulation(scenario, "cpu", seed=3)
    advance(sim, 240.0)
    cells = sim.organs["box"].cells
    plain = cells.type == list(scenario.cell_types).index("plain")
    assert plain.any()
    # cells left G0/G1 at once, so most changed type in S, G2 or M: they start over
    assert (cells.cycle_phase[plain] == 0).all()
    assert (cells.cycle_phase[~plain] > 0).any()


def test_restart_with_phases_is_bit_identical(tmp_path: Path) -> None:
    straight = cycling(100, 0.01, FLOW)
    advance(straight, 600.0)
    first = cycling(100, 0.01, FLOW)
    advance(first, 300.0)
    path = tmp_path / "checkpoint.h5"
    first.save_checkpoint(path, target_days=1.0)
    restored = Simulation.from_checkpoint(path, backend="cpu")
    advance(restored, 300.0)
    assert_same_state(straight.state(), restored.state())
    assert np.unique(straight.organs["box"].cells.cycle_phase).size > 1


def test_a_cycle_must_divide_somewhere_and_a_phase_must_end_one_way() -> None:
    with pytest.raises(InputError, match="one phase at least divides"):
        cycling(1, 1.0, [{"duration_min": 60.0}])
    with pytest.raises(InputError, match=r"give duration_min .* or rate_per_min"):
        cycling(1, 1.0, [{"duration_min": 60.0, "rate_per_min": 0.1, "divides": True}])


def fixed_first(sim: Simulation) -> Simulation:
    """The same simulation with the first phase of fixed duration."""
    fixed = sim.scenario.with_overrides({"cell_types.c.cycle_first_phase": "fixed"})
    return Simulation(fixed, backend="cpu", seed=3)


def test_a_fixed_first_phase_lasts_one_over_the_rate_to_the_step() -> None:
    """PhysiCell's first phase of fixed duration: at rate 1/300 min the cells placed at time
    0 leave G0/G1 together at the first 6 min step past 300 - 3 min (300 min), none
    before; then S, G2 and M as fixed: all divide at 1080 min (excludes leaving at the
    rate: 37% still in G0/G1 at 300 min)."""
    n = 200
    sim = fixed_first(cycling(n, 1.0 / 300.0, FLOW))
    cells = sim.organs["box"].cells
    advance(sim, 300.0 - DT)
    assert int((cells.cycle_phase == 0).sum()) == n
    sim.step(1)
    assert int((cells.cycle_phase == 1).sum()) == n
    advance(sim, 780.0 - DT)
    assert live(sim) == n
    sim.step(1)
    assert live(sim) == 2 * n


def test_a_fixed_live_cycle_divides_every_one_over_the_rate() -> None:
    """PhysiCell's live model with its one phase fixed: no later phases, so leaving it
    divides; at 1/120 min every cell divides at 120, 240 and 360 min (the population
    doubles exactly, excluding the exponential draw); at rate 0 none ever does."""
    n = 50
    sim = fixed_first(cycling(n, 1.0 / 120.0, []))
    for doubling in (1, 2, 3):
        advance(sim, 120.0 - DT)
        assert live(sim) == n * 2 ** (doubling - 1)
        sim.step(1)
        assert live(sim) == n * 2**doubling
    still = fixed_first(cycling(n, 0.0, []))
    advance(still, 600.0)
    assert live(still) == n


def test_a_rule_on_cycle_entry_sets_the_fixed_first_phases_length() -> None:
    """A rule raising cycle entry from 0 to 1/60 min by time (half-max 1 min, Hill 20: full
    from the second step on) makes the fixed first phase 60 min long from then: cells
    placed at 0 leave it at 60 min (their time in the phase counts from 0)."""
    rule = {"cell_type": "c", "behaviour": "cycle", "signal": "time", "to_value": 1.0 / 60.0,
            "half_max": 1.0, "hill_coefficient": 20.0}  # fmt: skip
    n = 100
    base = cycling(n, 0.0, FLOW)
    data = base.scenario.to_dict()
    data["cell_types"]["c"]["cycle_first_phase"] = "fixed"
    data["rules"] = {"on": rule}
    sim = Simulation(scenario_from_dict(data, "ruled"), "cpu", seed=3)
    cells = sim.organs["box"].cells
    advance(sim, 60.0 - DT)
    assert int((cells.cycle_phase == 0).sum()) == n
    sim.step(1)
    assert int((cells.cycle_phase == 1).sum()) == n
