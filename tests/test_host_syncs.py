"""No host round trips where the step loop claims none (issue 18, part 2).

A busy simulation runs on :class:`tests.syncguard.SyncGuard`, NumPy instrumented to record
every device-to-host synchronisation, with each process's work attributed to a phase. The
NumPy references of CUDA kernels are run uncounted (on a GPU they are launches). Phases
made free of synchronisations (motility and mechanics) must stay so; the others must show
exactly the known synchronisations listed here, so that a new one fails the test (and a
removed one asks for the list to shrink).
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
from tissue.config import scenario_from_dict
from tissue.simulation import Simulation

KERNEL_MODULES = (
    tissue.kernels.cells,
    tissue.kernels.diffusion,
    tissue.kernels.multigrid,
    tissue.kernels.random,
)
TICKS = 61  # two phenotype steps (ticks 0 and 60) and 61 mechanics and diffusion steps

# kind@site -> count over TICKS ticks of the busy scenario, per phase
KNOWN: dict[str, dict[str, int]] = {
    "phenotype": {
        "bool@tissue/rules.py:phenotype_step": 2,  # any dead cell cleared
        "nonzero@tissue/rules.py:phenotype_step": 2,  # dividing cells
    },
    "fields": {
        "get@tissue/solver.py:_error_bound": 239,  # convergence test per cycle
    },
}


def phased(guard: SyncGuard, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its synchronisations attributed to ``label``."""

    def call(*args: Any, **kwargs: Any) -> Any:
        with guard.phase(label):
            return function(*args, **kwargs)

    return call


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> tuple[Simulation, SyncGuard]:
    guard = SyncGuard()
    for module in KERNEL_MODULES:
        for name, value in list(vars(module).items()):
            twin = name.removesuffix("_numpy") + "_cuda"
            if name.endswith("_numpy") and twin in vars(module):
                monkeypatch.setattr(module, name, guard.as_kernel(value))
    for name, label in (
        ("update_motility", "mechanics"),
        ("move_cells", "mechanics"),
        ("phenotype_step", "phenotype"),
        ("cell_exchange", "secretion"),
    ):
        monkeypatch.setattr(
            tissue.simulation, name, phased(guard, label, getattr(tissue.simulation, name))
        )
    with guard.active():
        sim = Simulation(scenario_from_dict(busy_scenario(), "busy"), Backend("cpu", guard), seed=4)
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


def test_step_loop_syncs(guarded: tuple[Simulation, SyncGuard]) -> None:
    sim, guard = guarded
    guard.events.clear()
    with guard.active():
        sim.step(TICKS)
    phases = {p for p, _, _ in guard.events}
    assert phases <= set(KNOWN), f"synchronisations in {sorted(phases - set(KNOWN))}"
    for phase, known in KNOWN.items():
        assert dict(guard.sites(phase)) == known, phase
