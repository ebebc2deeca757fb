"""Branching a run into treatments (:meth:`Simulation.branch`): the branch is the run of its
scenario from day 0, bit for bit, and a scenario that differs in anything but interventions
still to come is refused with its key."""

from __future__ import annotations

import pytest

from tests.test_checkpoint import assert_same_state
from tests.test_metastasis import BUSY
from tissue import Simulation, load_scenario
from tissue.errors import InputError
from tissue.simulation import branch_conflict

OFF = 10000.0
BASE = {**BUSY, "interventions.resection.start_day": OFF}  # anti-S100A8/A9 from day 0.1
TREATED = {  # resection and IL-1R blockade at day 0.2 (tick 48)
    **BUSY,
    "interventions.resection.start_day": 0.2,
    "interventions.il1r_blockade.start_day": 0.2,
    "interventions.il1r_blockade.end_day": 0.3,
}


def model(overrides: dict, days: float = 0.4) -> Simulation:
    return Simulation(load_scenario("metastasis", {**overrides, "run.days": days}), seed=3,
                      backend="cpu")  # fmt: skip


@pytest.mark.parametrize("at_day", [0.15, 0.2])
def test_a_branch_is_the_run_of_its_scenario_from_day_0(at_day: float) -> None:
    """The busy model (the lung seeded, the antibody on from day 0.1) branched before or at
    its treatments' tick: fields, cells, blood, ledger and observables equal the treated
    scenario's own run at day 0.4, and the untreated run goes on unchanged."""
    straight = model(TREATED)
    straight.run()
    base = model(BASE)
    base.step(base.ticks_for(at_day))
    treated = base.branch(load_scenario("metastasis", {**TREATED, "run.days": 0.4}))
    treated.step(straight.tick - treated.tick)
    assert straight.body.counters["arrested"] > 0, "the busy model must seed the lung"
    assert straight.observables() == treated.observables()
    assert_same_state(straight.state(), treated.state())
    untreated = model(BASE)
    untreated.run()
    base.run(0.4 - at_day)
    assert_same_state(untreated.state(), base.state())
    assert untreated.observables()["breast.whole_tumour.cells"] > 0


def test_the_built_in_releases_branch_from_their_parents_before_day_10() -> None:
    sim = model({}, 14.0)
    tick = sim.ticks_for(10.0)
    metastasis = load_scenario("metastasis")
    for name in ("resection", "il1r_blockade"):
        assert branch_conflict(metastasis, load_scenario(name), tick, sim.schedule) is None
    late = load_scenario("metastasis", {"interventions.resection.start_day": 10.0})
    assert branch_conflict(metastasis, late, tick + 1, sim.schedule) is not None
    assert branch_conflict(metastasis, load_scenario("niche"), 0, sim.schedule) is not None


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"fields.il1b.decay_per_min": 0.06}, "fields.il1b.decay_per_min"),
        ({"cell_types.mic.transitions.dtc": 1e-3}, "cell_types.mic.transitions.dtc"),
        ({"interventions.anti_s100.start_day": 0.05}, "interventions.anti_s100.start_day"),
        ({"interventions.anti_s100.end_day": 0.12}, "interventions.anti_s100.end_day"),
        ({"interventions.anti_s100.efficacy": 0.5}, "interventions.anti_s100.efficacy"),
        ({"run.output_interval_min": 120.0}, "run.output_interval_min"),
    ],
)
def test_a_branch_that_would_change_the_past_is_refused(overrides: dict, key: str) -> None:
    """At day 0.15 (the antibody on since day 0.1): a model parameter, the antibody's start,
    end or efficacy, or the outputs (the front's history) cannot change; the error names the
    key. The run's length and the antibody's end still to come can."""
    base = model(BASE)
    base.step(base.ticks_for(0.15))
    other = load_scenario("metastasis", {**BASE, **overrides})
    with pytest.raises(InputError, match=key.replace(".", r"\.")):
        base.branch(other)
    later = {**BASE, "interventions.anti_s100.end_day": 0.2, "run.days": 3.0, "run.seed": 9}
    base.branch(load_scenario("metastasis", later))
