"""No host round trips where the step loop claims none (issue 18, part 2).

A busy simulation runs on :class:`tests.syncguard.SyncGuard`, NumPy instrumented to record
every device-to-host synchronisation, with each process's work attributed to a phase. The
NumPy references of CUDA kernels are run uncounted (on a GPU they are launches). Phases
made free of synchronisations (motility, mechanics and attack) must stay so; the others
must show exactly the known synchronisations listed here, so that a new one fails the test
(and a removed one asks for the list to shrink).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import tissue.kernels.cells
import tissue.kernels.diffusion
import tissue.kernels.multigrid
import tissue.kernels.random
import tissue.simulation
from tests.conftest import busy_scenario
from tests.syncguard import GuardArray, SyncGuard
from tissue.backend import Backend
from tissue.config import Scenario, load_scenario, scenario_from_dict
from tissue.simulation import Simulation

KERNEL_MODULES = (
    tissue.kernels.cells,
    tissue.kernels.diffusion,
    tissue.kernels.multigrid,
    tissue.kernels.random,
)
# The remaining synchronisations, per phase as kind@file:function -> count. Mechanics
# (motility, pair forces, motion), attack (every mechanics step) and secretion (rules on
# fields included) have none. What is left needs device-side counters: cell counts that
# size arrays (clearance, division, contacts, transitions, intravasation, recruitment) and
# the solver's stopping test.
CLEARANCE = "bool@tissue/rules.py:phenotype_step"  # any dead cell to clear, then keep()
DIVISION = "nonzero@tissue/rules.py:phenotype_step"  # dividing cells
CONTACTS = {  # per query type: its cells, the candidates' count, the hits
    "nonzero@tissue/organ.py:pairs": 1,
    "int@tissue/kernels/cells.py:contact_pairs": 1,
    "mask-index@tissue/kernels/cells.py:contact_pairs": 2,
}
CONVERGENCE = "get@tissue/solver.py:_read"  # the field solver's stopping test, read from
# the iteration the previous step stopped at (one read per solve while that holds)
CASES: dict[str, tuple[Callable[[], Scenario], int, dict[str, dict[str, int]]]] = {
    # two phenotype steps (ticks 0 and 60), 61 mechanics and diffusion steps
    "busy": (
        lambda: scenario_from_dict(busy_scenario(), "busy"),
        61,
        {"phenotype": {CLEARANCE: 2, DIVISION: 2}, "fields": {CONVERGENCE: 80}},
    ),
    # the immune cells arrive at tick 0 touching the tumour; 61 mechanics (and attack) steps
    # of 0.1 min, two phenotype steps; the attack phase has no synchronisation
    "cancer_immune": (
        lambda: load_scenario(
            "cancer_immune",
            {
                "interventions.immune_arrival.start_day": 0,
                "interventions.immune_arrival.cells.0.inner_radius_um": 62.0,
                "interventions.immune_arrival.cells.0.radius_um": 75.0,
            },
        ),
        61,
        {
            "interventions": {
                "get@tissue/backend.py:to_numpy": 2,  # placement draws on the host
                "mask-index@tissue/placement.py:place_cells": 1,
            },
            "phenotype": {CLEARANCE: 2, DIVISION: 2},
            "fields": {CONVERGENCE: 16},
        },
    ),
    # two organs, rules on contacts and fields, transitions, the body; six phenotype steps
    "metastasis": (
        lambda: load_scenario("metastasis"),
        13,
        {
            "phenotype": {
                CLEARANCE: 12,
                DIVISION: 12,
                **{site: 7 * count for site, count in CONTACTS.items()},
                "bool@tissue/behaviours.py:apply": 36,  # any cell of a contact rule's type
                "mask-index@tissue/organ.py:count": 7,  # live contacts of a type
                "bincount@tissue/organ.py:count": 7,
                "nonzero@tissue/rules.py:transition_step": 12,  # cells changing type
                "int@tissue/body.py:_intravasate": 7,  # cells leaving
                "nonzero@tissue/body.py:_label_voxels": 1,  # where recruits appear
                "nonzero@tissue/body.py:_recruit": 14,
            },
            "fields": {
                CONVERGENCE: 41,
            },
        },
    ),
}


def phased(guard: SyncGuard, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its synchronisations attributed to ``label``."""

    def call(*args: Any, **kwargs: Any) -> Any:
        with guard.phase(label):
            return function(*args, **kwargs)

    return call


def guarded(monkeypatch: pytest.MonkeyPatch, scenario: Scenario) -> tuple[Simulation, SyncGuard]:
    """A simulation of ``scenario`` on a :class:`SyncGuard`, its processes phased."""
    guard = SyncGuard()
    for module in KERNEL_MODULES:
        for name, value in list(vars(module).items()):
            twin = name.removesuffix("_numpy") + "_cuda"
            if name.endswith("_numpy") and twin in vars(module):
                monkeypatch.setattr(module, name, guard.as_kernel(value))
    for name, label in (
        ("attack_step", "attack"),
        ("update_motility", "mechanics"),
        ("move_cells", "mechanics"),
        ("phenotype_step", "phenotype"),
        ("cell_exchange", "secretion"),
    ):
        monkeypatch.setattr(
            tissue.simulation, name, phased(guard, label, getattr(tissue.simulation, name))
        )
    with guard.active():
        sim = Simulation(scenario, Backend("cpu", guard), seed=4)
    body, measures = sim.body, sim.measures
    monkeypatch.setattr(sim, "_diffusion", phased(guard, "fields", sim._diffusion))
    monkeypatch.setattr(body, "cells_step", phased(guard, "phenotype", body.cells_step))
    monkeypatch.setattr(body, "begin_tick", phased(guard, "interventions", body.begin_tick))
    monkeypatch.setattr(measures, "record_front", phased(guard, "outputs", measures.record_front))
    return sim, guard


def test_the_guard_sees_conversions_and_data_sized_results() -> None:
    guard = SyncGuard()
    with guard.active():
        a = guard.arange(5)
        assert isinstance(a, GuardArray)
        assert isinstance(a.sum(), GuardArray)
        bool(a.any()), int(a[2]), float(a.sum()), a.tolist(), a.get(), a.item(1)
        guard.nonzero(a), a.nonzero(), a[a > 2], guard.repeat(a, a), guard.bincount(a)
        with guard.kernel():
            int(a[0])
        guard.repeat(a, 2), a[1:3], a[guard.asarray([0, 1])], guard.where(a > 1, a, 0)
    kinds = Counter(kind for _, kind, _ in guard.events)
    assert kinds == Counter(
        ["bool", "int", "float", "tolist", "get", "item", "nonzero", "nonzero", "mask-index",
         "repeat", "bincount"]
    )  # fmt: skip
    assert {site for _, _, site in guard.events} == {"?"}


@pytest.mark.parametrize("case", CASES)
def test_step_loop_syncs(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    make, ticks, known = CASES[case]
    sim, guard = guarded(monkeypatch, make())
    guard.events.clear()
    with guard.active():
        sim.step(ticks)
    phases = {p for p, _, _ in guard.events}
    assert phases <= set(known), f"synchronisations in {sorted(phases - set(known))}"
    for phase, sites in known.items():
        assert dict(guard.sites(phase)) == sites, phase
