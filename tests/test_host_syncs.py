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

import numpy as np
import pytest

import tissue.cells
import tissue.kernels.cells
import tissue.kernels.cg
import tissue.kernels.contacts
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
    tissue.kernels.cg,
    tissue.kernels.contacts,
    tissue.kernels.diffusion,
    tissue.kernels.multigrid,
    tissue.kernels.random,
)
# The remaining synchronisations, per phase as kind@file:function -> count. Mechanics
# (motility, pair forces, motion), attack (every mechanics step), secretion (rules on
# fields included), contacts (a kernel counts them), transitions and recruitment have none.
# Deaths, clearance, births and recruits run on the backend with device counters (see
# tissue.cells): each phenotype step reads the count once, from the copy the previous
# change started (LAGGED: on a GPU a copy a phenotype step old, which waits for nothing),
# except where the host placed cells since and knows it. What is left: the body's
# stochastic blood (the number of cells leaving, drawn on the host with the circulating
# cells' fates; arrivals placed by the host), and the solver's stopping test.
LAGGED = "lagged@tissue/cells.py:settle_lagged"
CONVERGENCE = "get@tissue/solver.py:_read"  # the field solver's stopping test, read from
# the iteration the previous step stopped at (one read per solve while that holds)
CASES: dict[str, tuple[Callable[[], Scenario], int, dict[str, dict[str, int]]]] = {
    # two phenotype steps (ticks 0 and 60; the first knows the placed cells), 61 mechanics
    # and diffusion steps
    "busy": (
        lambda: scenario_from_dict(busy_scenario(), "busy"),
        61,
        {"phenotype": {LAGGED: 1}, "fields": {CONVERGENCE: 80}},
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
                "get@tissue/placement.py:place_cells": 2,  # placement draws on the host
                "mask-index@tissue/placement.py:place_cells": 1,
            },
            "phenotype": {LAGGED: 1},
            "fields": {CONVERGENCE: 16},
        },
    ),
    # PhysiCell's models: a flow-cytometry cycle, rules on time, volume and an attribute,
    # and motility behaviours (a chemotactic sensitivity too) set by rules each phenotype
    # step, chemotaxis over two fields
    "physicell_features": (
        lambda: scenario_from_dict(physicell_features(), "physicell_features"),
        61,
        {"phenotype": {LAGGED: 1}, "fields": {CONVERGENCE: 77}},
    ),
    # PhysiCell 1.14's damage attack, damage rules and debris from dead cells
    "damage_features": (
        lambda: scenario_from_dict(damage_features(), "damage_features"),
        61,
        {"phenotype": {LAGGED: 1}, "fields": {CONVERGENCE: 81}},
    ),
    # macrophages eating dead tumour cells (a rule on the rate, the engulfed volume relaxing)
    # and live ones
    "phagocytosis": (
        lambda: scenario_from_dict(phagocytes(), "phagocytosis"),
        61,
        {"phenotype": {LAGGED: 1}, "fields": {CONVERGENCE: 81}},
    ),
    # two organs, rules on contacts and fields, transitions, the body; six phenotype steps
    "metastasis": (
        lambda: load_scenario("metastasis"),
        13,
        {
            "phenotype": {
                LAGGED: 12,  # one per organ per phenotype step
                "get@tissue/body.py:_intravasate": 7,  # the cells that may leave, one read
            },
            "fields": {
                CONVERGENCE: 35,
            },
        },
    ),
}


def physicell_features() -> dict[str, Any]:
    """The busy scenario with cycle phases, a per-cell attribute, advanced chemotaxis and
    rules on PhysiCell's signals and motility behaviours."""
    data = busy_scenario()
    tumour, scout = data["cell_types"]["tumour"], data["cell_types"]["scout"]
    tumour["cycle_phases"] = [
        {"name": "S", "duration_min": 12.0},
        {"name": "M", "rate_per_min": 0.05, "divides": True},
    ]
    scout["attributes"] = {"grit": {"distribution": "uniform", "low": 0.0, "high": 2.0}}
    del scout["chemotaxis_field"]
    scout["chemotaxis_sensitivities"] = {"signal": 1.0, "oxygen": -0.5}
    scout["chemotaxis_normalize_each"] = True
    data["rules"] = {
        "late": {"cell_type": "tumour", "behaviour": "cycle", "signal": "time",
                 "to_value": 0.0, "half_max": 60.0},
        "big": {"cell_type": "tumour", "behaviour": "apoptosis", "signal": "volume",
                "to_value": 1e-3, "half_max": 2000.0},
        "slow": {"cell_type": "scout", "behaviour": "migration_speed", "signal": "signal",
                 "to_value": 0.5, "half_max": 0.1},
        "gritty": {"cell_type": "scout", "behaviour": "migration_persistence",
                   "signal": "attribute.grit", "to_value": 10.0, "half_max": 1.0},
        "repelled": {"cell_type": "scout", "behaviour": "chemotaxis.oxygen",
                     "signal": "signal", "to_value": -2.0, "half_max": 0.1},
    }  # fmt: skip
    return data


def damage_features() -> dict[str, Any]:
    """The busy scenario with scouts that attack the tumour (PhysiCell 1.14's damage attack,
    its rate moved by a rule), damage repaired and killing by a rule, and dead tumour cells
    secreting by a rule on dead cells."""
    data = busy_scenario()
    tumour, scout = data["cell_types"]["tumour"], data["cell_types"]["scout"]
    scout["damage_attack"] = {"rates_per_min": {"tumour": 0.5}, "duration_min": 1.0,
                              "damage_rate_per_min": 5.0, "spring_per_min": 0.01}  # fmt: skip
    tumour["damage_repair_rate_per_min"] = 0.01
    tumour["immunogenicity"] = {"scout": 0.8}
    data["rules"] = {
        "harm": {"cell_type": "tumour", "behaviour": "apoptosis", "signal": "damage",
                 "to_value": 0.5, "half_max": 2.0, "hill_coefficient": 4.0},
        "arm": {"cell_type": "scout", "behaviour": "attack.tumour", "signal": "signal",
                "to_value": 2.0, "half_max": 0.1},
        "debris": {"cell_type": "tumour", "behaviour": "secretion_rate.signal",
                   "signal": "apoptotic", "to_value": 1.0, "half_max": 0.5,
                   "hill_coefficient": 10.0, "applies_to_dead": True},
    }  # fmt: skip
    return data


def phagocytes() -> dict[str, Any]:
    """The busy scenario with dying tumour cells that shrink, and macrophages that eat them
    at a rate a rule on their volume lowers, and live ones too."""
    data = busy_scenario()
    data["cell_types"]["tumour"].update(apoptosis_rate_per_min=0.02, apoptotic_volume={})
    data["cell_types"]["macrophage"] = {
        "speed_um_per_min": 1.0, "division_volume": {}, "cycle_rate_per_min": 1e-3,
        "apoptotic_phagocytosis_rate_per_min": 0.5, "necrotic_phagocytosis_rate_per_min": 0.2,
        "live_phagocytosis_rates_per_min": {"tumour": 0.01},
    }  # fmt: skip
    data["initial_cells"].append(
        {"kind": "sphere", "organ": "box", "type": "macrophage", "center_um": [80, 80, 40],
         "radius_um": 35.0, "inner_radius_um": 25.0, "count": 40}
    )  # fmt: skip
    data["rules"] = {
        "full": {"cell_type": "macrophage", "behaviour": "phagocytosis.apoptotic",
                 "signal": "volume", "to_value": 0.0, "half_max": 6000.0},
    }  # fmt: skip
    return data


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
        ("damage_attack_step", "attack"),
        ("phagocytosis_step", "phagocytosis"),
        ("relax_engulfed", "phenotype"),
        ("cell_grid", "mechanics"),
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


def test_the_guard_counts_one_launch_per_array_operation() -> None:
    """A ufunc, a reduction, a module function (whatever NumPy calls inside it), a gather,
    an assignment and a kernel's reference are one launch each; an allocation without a
    fill, a view and a copy of device data to itself are none."""
    guard = SyncGuard()
    with guard.active():
        a = guard.zeros(6)  # 1
        b = guard.empty(6)  # 0
        c = a + 1.0  # 1
        c.sum()  # 1
        guard.mean(c)  # 1 (a sum and a division inside)
        guard.where(c > 0, a, b)  # 2: the comparison and the where
        a[1:3], a.reshape(2, 3), guard.asarray(a)  # 0: views, already on the device
        a[guard.asarray(np.array([0, 2]))]  # 2: the copy of the index to the device, the gather
        a[:2] = 5.0  # 1
        guard.as_kernel(lambda x: np.cumsum(x) + 1)(a)  # 1
    assert sum(guard.launches.values()) == 10


# Array operations a mechanics step of the busy case may make (see benchmarks/launches.py:
# 114 at d0eb60d, from 354 before the gradients, cut moves and unit rows were one kernel each)
MECHANICS_LAUNCHES = 130


def test_a_mechanics_step_stays_within_its_launches(monkeypatch: pytest.MonkeyPatch) -> None:
    sim, guard = guarded(monkeypatch, scenario_from_dict(busy_scenario(), "busy"))
    sim.step(1)  # the first phenotype step
    guard.launches.clear()
    with guard.active():
        sim.step(10)
    launches = sum(n for (phase, _, _), n in guard.launches.items() if phase == "mechanics")
    assert 0 < launches / 10 <= MECHANICS_LAUNCHES, guard.launch_counts("mechanics")


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


@pytest.mark.parametrize("case", CASES)
def test_untrimmed_views_change_no_bits(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """The stores of a device (lazy: counters on the backend, vacant rows in the views until
    a read) give the same bits as NumPy's trimmed ones, in every column and field. The
    vacant rows sit at the centre of the first organ, among the cells, so that any use of
    them as a cell shows."""
    make, ticks, _ = CASES[case]
    scenario = make()
    grid = Simulation(scenario, "cpu", seed=4).organs[next(iter(scenario.organs))].grid
    centre = [o + e / 2 for o, e in zip(grid.origin_xyz_um, grid.extent_xyz_um, strict=True)]
    monkeypatch.setitem(tissue.cells._VACANT_FILL, "position_um", centre)
    runs = []
    for lazy in (False, True):
        sim = Simulation(scenario, "cpu", seed=4)
        for organ in sim.organs.values():
            organ.cells.lazy = lazy
        sim.step(ticks)
        if lazy:  # the last phenotype step left rows past the cells (a bound on the births)
            assert any(o.cells.n > int(o.cells.count) for o in sim.organs.values())
        runs.append(sim.state().arrays)
    assert runs[0].keys() == runs[1].keys()
    for key, value in runs[0].items():
        np.testing.assert_array_equal(runs[1][key], value, err_msg=key, strict=True)
