"""The metastasis model's biological checks (SCIENCE.md section 3), small and seeded, on CPU.

One control run of the built-in `metastasis` scenario is shared by several checks and
compared with the same scenario under an intervention, same seed. Horizons are shortened
(TEST_DAYS, interventions at RELEASE_DAY) so that the module fits the CI budget; the
thresholds are the issue's minimums.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tissue import Simulation, load_scenario
from tissue.body import LEDGER_PARTITION
from tissue.cells import LIVE

pytestmark = pytest.mark.slow

TEST_DAYS = 10.0
RELEASE_DAY = 5.0


def run_series(name: str, overrides: dict[str, Any], days: float) -> dict[str, np.ndarray]:
    """Observables at every output of ``name`` run for ``days`` on CPU: key -> (rows,)."""
    scenario = load_scenario(name, {"run.days": days, **overrides})
    sim = Simulation(scenario, backend="cpu")
    rows: list[dict[str, float]] = []
    sim.add_observer(lambda s: rows.append(s.observables()))
    sim.run()
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


@pytest.fixture(scope="module")
def control() -> dict[str, np.ndarray]:
    return run_series("metastasis", {}, TEST_DAYS)


def dormant_fraction(series: dict[str, np.ndarray]) -> float:
    mic, dtc = series["lung.mic.live"][-1], series["lung.dtc.live"][-1]
    return float(mic / (mic + dtc))


def test_the_niche_forms_before_the_first_tumour_cell_arrives(control) -> None:
    """S100A8/A9 and Mac1+ cells rise in the lung before any tumour cell is there, and
    because of the primary: >= 5x the same lung without a primary at that time."""
    arrived = control["ledger.arrested"]
    assert arrived[-1] > 0, "no tumour cell reached the lung"
    before = int(np.argmax(arrived > 0)) - 1  # last output with no arrival yet
    assert before >= 1
    days = float(control["time_days"][before])
    without_primary = run_series("metastasis", {"interventions.resection.start_day": 0.0}, days)
    s100, myeloid = control["lung.s100a8a9.mean"], control["lung.myeloid.live"]
    assert s100[before] >= 5 * max(s100[0], without_primary["lung.s100a8a9.mean"][-1])
    assert myeloid[before] >= 5 * max(1.0, without_primary["lung.myeloid.live"][-1])


def test_anti_s100_cuts_myeloid_cells_3x_and_extravasation_2x(control) -> None:
    treated = run_series("anti_s100", {}, TEST_DAYS)
    assert control["lung.myeloid.live"][-1] >= 3 * treated["lung.myeloid.live"][-1]
    assert control["ledger.extravasated"][-1] >= 2 * max(1.0, treated["ledger.extravasated"][-1])


def test_with_the_primary_disseminated_cells_stay_dormant(control) -> None:
    surviving = control["lung.mic.live"][-1] + control["lung.dtc.live"][-1]
    assert surviving >= 20
    assert dormant_fraction(control) >= 0.8


@pytest.mark.parametrize("release", ["resection", "il1r_blockade"])
def test_removing_the_restraint_releases_outgrowth(control, release: str) -> None:
    """Resection of the primary or IL-1R blockade at RELEASE_DAY: >= 5x proliferating
    disseminated cells at the end, against the control with the same seed."""
    released = run_series(release, {f"interventions.{release}.start_day": RELEASE_DAY}, TEST_DAYS)
    assert released["lung.dtc.live"][-1] >= 5 * max(1.0, control["lung.dtc.live"][-1])


def test_the_injection_assay_ledger_is_conserved() -> None:
    series = run_series("injection_assay", {}, 3.0)
    entered = series["ledger.shed"] + series["ledger.injected"]
    np.testing.assert_array_equal(sum(series[f"ledger.{k}"] for k in LEDGER_PARTITION), entered)
    assert series["ledger.injected"][-1] == 1_000_000
    assert series["ledger.arrested"][-1] > 0


BUSY = {  # every part of the body at work within a quarter of a day
    "organs.lung.shape": [16, 16, 16],
    "cell_types.invasive.intravasation_rate_per_min": 0.01,
    "rules.emt.to_value": 0.01,
    "cell_types.arrested.transitions.mic": 0.01,
    "cell_types.mic.transitions.dtc": 0.01,
    "cell_types.dtc.cycle_rate_per_min": 0.01,
    "interventions.anti_s100.start_day": 0.1,
    "interventions.resection.start_day": 0.2,
}


def busy_model(backend: str = "cpu") -> Simulation:
    return Simulation(load_scenario("metastasis", BUSY), backend=backend, seed=3)


def census(sim: Simulation) -> dict[str, float]:
    """The ledger's lung classes counted from the lung's cell columns alone: live cells
    grouped by the founder they descend from."""
    cells = sim.organs["lung"].cells
    live = (cells.state == LIVE) & (cells.founder >= 0)
    founders, sizes = np.unique(cells.founder[live], return_counts=True)
    arrested = sim.types.index(["arrested"])[0]
    single = {int(f) for f, n in zip(founders, sizes, strict=True) if n == 1}
    in_vessel = sum(
        1 for f, t in zip(cells.founder[live], cells.type[live], strict=True)
        if int(f) in single and t == arrested
    )  # fmt: skip
    macro = int((sizes >= sim.scenario.observables.macrometastasis_cells).sum())
    return {
        "lineages": float(founders.size),
        "in_vessel": float(in_vessel),
        "solitary": float(len(single) - in_vessel),
        "micrometastases": float(int((sizes > 1).sum()) - macro),
        "macrometastases": float(macro),
    }


def test_the_ledger_agrees_with_a_census_of_cells_and_arrivals() -> None:
    """At every output of the busy model seeding a bigger share of the lung (~90 lineages,
    macrometastases from 8 cells): the ledger's lung classes equal a census of the
    lung's cells by founder; its arrested count equals the arrivals counted where cells are
    placed; the lineages that died are the arrivals without a live descendant; and every
    cell that entered the blood is in exactly one class."""
    overrides = {"organs.lung.whole_organ_fraction": 5e-4, "observables.macrometastasis_cells": 8}
    sim = Simulation(load_scenario("metastasis", {**BUSY, **overrides}), backend="cpu", seed=3)
    arrivals = []
    place = sim.body._arrive

    def counted(organ: Any, count: int, tick: int) -> None:
        arrivals.append(count)
        place(organ, count, tick)

    sim.body._arrive = counted  # type: ignore[method-assign]
    checked = 0
    for _ in range(8):
        sim.step(20)
        row, seen = sim.observables(), census(sim)
        assert row["ledger.arrested"] == sum(arrivals)
        for key in ("in_vessel", "solitary", "micrometastases", "macrometastases"):
            assert row[f"ledger.{key}"] == seen[key], key
        assert row["ledger.died_in_organ"] == sum(arrivals) - seen["lineages"]
        assert row["ledger.in_blood"] == sim.body.ctc
        entered = row["ledger.shed"] + row["ledger.injected"]
        assert sum(row[f"ledger.{k}"] for k in LEDGER_PARTITION) == entered
        checked += seen["lineages"] > 0
    assert checked >= 6, "the model must have lineages in the lung at most outputs"
    assert min(row[f"ledger.{k}"] for k in ("solitary", "micrometastases", "macrometastases")) > 0


@pytest.mark.parametrize("stop", [37, 74])
def test_model_restart_is_bit_identical(tmp_path, stop: int) -> None:
    """Straight run against checkpoint at ``stop`` ticks + restore + the rest: the fields,
    cells, blood, ledger counters and front history are equal bit for bit (the resection
    at tick 96 falls after either stop)."""
    from tests.test_checkpoint import assert_same_state

    ticks = 120
    straight = busy_model()
    straight.step(stop)
    straight.observables()  # observed at the same times as the restarted run
    straight.step(ticks - stop)
    assert straight.body.counters["arrested"] > 0, "the busy model must seed the lung"
    first = busy_model()
    first.step(stop)
    first.observables()  # front history goes into the checkpoint too
    path = tmp_path / "checkpoint.h5"
    first.save_checkpoint(path)
    restored = Simulation.from_checkpoint(path, backend="cpu")
    restored.step(ticks - stop)
    assert straight.observables() == restored.observables()
    assert_same_state(straight.state(), restored.state())


def test_cancer_immune_restart_is_bit_identical(tmp_path) -> None:
    """Attack state (partners, attachment clocks), attributes and added cells survive a
    checkpoint (the immune cells arrive touching the tumour at tick 144)."""
    from tests.test_checkpoint import assert_same_state

    overrides = {
        "interventions.immune_arrival.start_day": 0.01,
        "interventions.immune_arrival.cells.0.inner_radius_um": 62.0,
        "interventions.immune_arrival.cells.0.radius_um": 75.0,
    }

    def model() -> Simulation:
        return Simulation(load_scenario("cancer_immune", overrides), backend="cpu", seed=2)

    straight = model()
    straight.step(400)
    first = model()
    first.step(230)
    first.save_checkpoint(tmp_path / "checkpoint.h5")
    restored = Simulation.from_checkpoint(tmp_path / "checkpoint.h5", backend="cpu")
    restored.step(170)
    cells = straight.organs["tissue"].cells
    assert int((cells.partner >= 0).sum()) > 0, "some immune cells must be attached"
    assert_same_state(straight.state(), restored.state())
