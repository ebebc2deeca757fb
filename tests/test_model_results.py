"""The README's results tables come from recorded runs, and those runs from this code."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import model_results
from tissue.io import RunReader

ROOT = Path(__file__).resolve().parent.parent


def test_readme_tables_are_what_the_recorded_runs_give() -> None:
    assert model_results.main(["check"]) == 0


def test_every_scenario_of_the_tables_was_run_from_a_clean_tree() -> None:
    runs = model_results.recorded_runs()
    assert sorted(runs) == sorted(model_results.SCENARIOS)
    for name, record in runs.items():
        assert record["git"]["dirty"] is False, name
        assert record["seed"] == model_results.SEED
        assert record["check_row"] is not None or record["days"] < model_results.CHECK_DAY


def test_metastasis_still_gives_the_recorded_day_one(tmp_path: Path) -> None:
    """The recorded runs are this code's: a run of ``metastasis`` to the check day gives every
    observable of the recorded row exactly (same seed, same backend: bit-identical). When the
    model changes on purpose, run ``make results`` again."""
    recorded = model_results.recorded_runs()["metastasis"]["check_row"]
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "tissue.cli", "run", "metastasis", "-o", str(out),
         "--seed", str(model_results.SEED), "--backend", "cpu", "--quiet",
         "--days", str(model_results.CHECK_DAY)],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    series = RunReader(out / "run.h5").timeseries()
    now = {key: float(values[-1]) for key, values in series.items()}
    assert now.keys() == recorded.keys()
    changed = {
        key: (recorded[key], now[key])
        for key in recorded
        if not (now[key] == recorded[key] or (math.isnan(now[key]) and math.isnan(recorded[key])))
    }
    assert changed == {}, f"{len(changed)} observables differ from the recorded run: {changed}"


def record(final: dict[str, float], wall_s: float = 60.0) -> dict[str, Any]:
    return {
        "final": final,
        "wall_s": wall_s,
        "jobs": 2,
        "git": {"commit": "0123456789abcdef", "dirty": False},
        "date_utc": "2026-12-04T00:00:00+00:00",
        "lock_sha256": "feedfeedfeedfeed",
        "versions": {"python": "3.11.7", "numpy": "2.4.6"},
        "rows": {},
    }


LEDGER = {
    "ledger.arrested": 898.0,
    "ledger.extravasated": 618.0,
    "lung.mic.live": 594.0,
    "lung.dtc.live": 2.0,
    "ledger.micrometastases": 8.0,
    "ledger.macrometastases": 0.0,
    "lung.myeloid.live": 1132.0,
    "lung.innate.live": 59.0,
}


def test_tables_render_each_recorded_value_in_its_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import replicates

    monkeypatch.setattr(replicates, "RESULTS", tmp_path / "none.json")
    text = "\n".join(
        f"<!-- model-results:{name} -->\nSTALE-TABLE\n<!-- /model-results -->"
        for name in model_results.TABLES
    )
    out = model_results.rendered(text, {"metastasis": record(LEDGER, wall_s=840.0)})
    assert "STALE-TABLE" not in out
    assert "| `metastasis` | 898 | 618 | 594 | 2 | 8 / 0 | 1,132 / 59 |" in out
    assert "| `niche` (restraint off)" not in out  # not run: no row
    assert "14.0 min" in out
    assert out.count("not run") == len(model_results.SCENARIOS) - 1
    assert "commit 0123456789 on 2026-12-04 (python 3.11.7, numpy 2.4.6)" in out


def test_a_missing_marker_is_named() -> None:
    with pytest.raises(SystemExit, match="no marker <!-- model-results:parameters -->"):
        model_results.rendered("no tables here", {})


def test_the_parameter_table_lists_each_value_with_its_kind() -> None:
    """Every value of metastasis.toml that the model reads is a row, and each says where it
    comes from (a fit, a cited source or an estimate); the fits are marked fitted and name
    their data."""
    from benchmarks.calibration.parameters import parameter_table, parameters

    listed = parameters()
    rows = {r.key: r for r in listed}
    for key in (
        "organs.breast.growth.carrying_cells",
        "cell_types.dtc.apoptosis_rate_per_min",
        "cell_types.invasive.intravasation_rate_per_min",
    ):
        assert rows[key].kind == "fitted", key
    assert rows["cell_types.arrested.transitions.mic"].kind == "estimate"  # a prior
    assert rows["fields.oxygen.decay_per_min"].kind == "cited"
    assert "run.days" not in rows
    table = parameter_table()
    assert f"{len(listed)} values" in table
    assert table.count("\n| `") == len(listed)
    assert "interventions.anti_s100.start_day" not in rows  # when, not what
    unmarked = [r.key for r in listed if r.kind == "unmarked"]
    assert unmarked == [], f"values without a source, fit or 'estimate': {unmarked}"


def record_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, values: dict[str, list[float]]
) -> None:
    """A replicate record of seeds 1 and 2 of scenario ``name`` at its own length, from a
    clean tree, with each observable's values, as the only record."""
    from benchmarks import replicates

    record = {
        "days": None,
        "seeds": [1, 2],
        "observables": {k: replicates.interval(v) for k, v in values.items()},
        "git": {"commit": "0123456789abcdef", "dirty": False},
        "date_utc": "2026-12-05T12:00:00+00:00",
    }
    path = tmp_path / "replicates.json"
    path.write_text(json.dumps({"scenarios": {name: record}}))
    monkeypatch.setattr(replicates, "RESULTS", path)


def test_the_luzzi_table_pools_the_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two seeds of 30 and 10 arrested cells: each outcome pooled (its count over 40) and
    per seed, beside the exact model's probability at the run's day and Luzzi's figure."""
    from benchmarks import replicates
    from benchmarks.calibration import cascade

    values = {"ledger.arrested": [30.0, 10.0], "time_days": [13.0, 13.0],
              "ledger.extravasated": [29.0, 9.0], "ledger.died_in_organ": [12.0, 6.0],
              "ledger.solitary_dormant": [15.0, 2.0], "ledger.micrometastases": [1.0, 0.0],
              "ledger.macrometastases": [0.0, 0.0]}  # fmt: skip
    record_sweep(tmp_path, monkeypatch, "injection_assay", values)
    table = model_results.luzzi_table({})
    p = cascade.ledger(cascade.scenario_rates("injection_assay"), 13.0)["solitary_dormant"]
    sd = math.sqrt(p * (1 - p) / 40)
    share = replicates.interval([15 / 30, 2 / 10])
    row = (
        f"| solitary dormant (MICs) | 17 (42.5%) | 35.0% [{100 * share['low']:.1f}, "
        f"{100 * share['high']:.1f}] | {100 * p:.3g}% +- {100 * sd:.2g} | 41.4% |"
    )
    assert row in table, table
    assert "day 13, of the 40 cells arrested in the block" in table
    assert "| in micrometastases | 1 (2.5%) |" in table
    assert "seeds 1-2) of commit 0123456789 on 2026-12-05" in table


def test_the_seeds_table_gives_each_scenario_its_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scenario recorded by a sweep gets a row of mean [95% CI] per column, in the
    metastasis table's order; one with no record gets none."""
    from benchmarks import replicates

    values = {
        key: [float(i), float(i + 2)] for i, (_, key) in enumerate(model_results.SEED_COLUMNS)
    }
    values["time_days"] = [14.0, 14.0]
    record_sweep(tmp_path, monkeypatch, "dormancy", values)
    table = model_results.seeds_table({})
    proliferating = replicates.interval([3.0, 5.0])
    assert (
        f"| `dormancy` (niche off) | 2 | 1.0 [{replicates.interval([0.0, 2.0])['low']:.1f}, "
        in table
    )
    assert f"| 4.0 [{proliferating['low']:.1f}, {proliferating['high']:.1f}] |" in table
    assert "| run --names dormancy |" in table
    assert "`niche`" not in table
    assert "at day 14; means with 95% t-intervals over the seeds) of commit 0123456789" in table
