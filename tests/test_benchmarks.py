"""The benchmark package at tiny sizes: each case runs, checks what it measures, writes
JSON that the table renderer reads back. Timings are not checked (benchmarks, not tests)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks import bench_cells, bench_memory, bench_scenarios, common
from tissue.backend import get_backend
from tissue.config import scenario_from_dict

CPU = get_backend("cpu")


def test_cells_times_mechanics_and_secretion(tmp_path: Path) -> None:
    argv = ["--sizes", "400", "--warmup", "0", "--repeats", "2", "--out-dir", str(tmp_path)]
    assert bench_cells.main(argv) == 0
    (path,) = tmp_path.glob("cells-cpu-*.json")
    case = json.loads(path.read_text())["cases"][0]
    assert case["n"] == 400
    assert case["check"]["secretion_source_sum"] > 0
    step = case["cell_step"]
    assert step["seconds"] == case["mechanics_step"]["median_s"] + case["secretion"]["median_s"]


def test_memory_counts_the_arrays_a_field_and_a_cell_hold() -> None:
    fields = bench_memory.fields_case(CPU, 32)["bytes_per_voxel"]
    # a field holds at least its values, static source and uptake (float32 each)
    assert fields["per_extra_field"]["live"] >= 12
    assert fields["3_fields"]["peak"] >= fields["3_fields"]["live"] > fields["1_field"]["live"]
    cells = bench_memory.cells_case(CPU, 20_000)["bytes_per_cell"]
    columns = 8 + 2 + 1 + 12 + 12 + 4 + 4 + 8 + 4 + 8  # the cell store's columns, bytes
    assert 0.85 * columns <= cells["live"] <= 2.5 * columns  # less 1,024 empty rows


def test_whole_lung_case_builds_its_fields_and_cells_at_a_small_size() -> None:
    data = bench_scenarios.whole_lung_scenario(n=20, cells=300)
    scenario = scenario_from_dict(data, "test")
    assert set(scenario.fields) == {"s100a8a9", "il1b", "dtc_chemokine"}
    assert sum(entry.count for entry in scenario.initial_cells) == 300
    case = bench_scenarios.Case(lambda: data, {"cpu": 6.0}, "day", "tiny lung")
    out = bench_scenarios.run_case(CPU, "tiny", case, window_min=12.0, chunks=2)
    assert out["voxels"] == {"lung": 8000}
    assert out["window"]["end"]["time_min"] - out["window"]["start"]["time_min"] == 12.0
    rate = out["wall_s_per_simulated_day"]["median_s"]
    assert rate == pytest.approx(out["chunk_wall"]["median_s"] * 1440.0 / 6.0)
    json.dumps(out, allow_nan=False)


def test_scenario_budget_stops_after_two_chunks() -> None:
    case = bench_scenarios.CASES["metastasis-small"]
    out = bench_scenarios.run_case(CPU, "metastasis-small", case, 24.0, 4, budget_s=0.0)
    assert out["chunk_wall"]["repeats"] == 2
    assert out["chunks_planned"] == 4


def test_cancer_immune_case_reports_its_ratio_to_physicell() -> None:
    case = bench_scenarios.CASES["cancer-immune"]
    physicell = case.build()  # the header's PhysiCell set-up, immune cells from the start
    assert physicell.organs["tissue"].shape == (75, 75, 75)
    assert physicell.initial_cells[0].radius_um == 250
    assert physicell.interventions["immune_arrival"].cells[0].count == 7500
    assert physicell.interventions["immune_arrival"].start_day == 0.0
    small = bench_scenarios.Case(
        "cancer_immune",
        case.window_min,
        case.unit,
        case.description,
        bench_scenarios.IMMUNE_FROM_START,
    )
    out = bench_scenarios.run_case(CPU, "cancer-immune", small, window_min=2.0, chunks=2)
    assert out["window"]["start"]["cells"]["tissue"] > 300  # tumour (245) and immune cells (100)
    ours = out["wall_s_per_simulated_minute"]["median_s"]
    assert out["speedup_vs_physicell"] == pytest.approx(5.4 / ours)


def test_unknown_scenario_case_is_a_one_line_error(capsys: pytest.CaptureFixture) -> None:
    assert bench_scenarios.main(["--cases", "nope", "--no-write"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "nope" in err[0]
    assert "metastasis-small" in err[0]


def test_readme_tables_are_regenerated_between_the_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    shutil.copy(common.README, readme)
    results = tmp_path / "results"
    results.mkdir()
    for path in common.RESULTS_DIR.glob("*.json"):
        shutil.copy(path, results)
    common.update_readme(readme, results)
    text = readme.read_text()
    assert text.count(common.TABLES_BEGIN) == 1
    assert text.count(common.TABLES_END) == 1
    for path in results.glob("*.json"):
        if json.loads(path.read_text()).get("benchmark") in common.BENCHMARKS:
            assert f"<!-- {path.name} -->" in text


def test_a_failed_size_is_recorded_and_the_others_still_run(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of memory is a skip, any other error a failure (its traceback on stderr), a size
    over 80% of the free device memory is skipped unrun; the sizes after each still run."""

    def run_one(size: int) -> dict[str, int]:
        if size == 2:
            raise MemoryError
        if size == 3:
            raise ValueError("bad size")
        return {"n": size, "ok": 1}

    monkeypatch.setattr(common, "device_memory_free", lambda _backend: 10**9)
    cases, ok = common.run_cases(CPU, [1, 2, 4, 3, 5], run_one, lambda n: 9 * 10**8 * (n == 4))
    assert cases == [
        {"n": 1, "ok": 1},
        {"n": 2, "skipped": "out of memory (MemoryError)"},
        {"n": 4, "skipped": "needs ~0.9 GB, 1.0 GB free"},
        {"n": 3, "error": "ValueError: bad size"},
        {"n": 5, "ok": 1},
    ]
    assert ok is False
    assert "ValueError: bad size" in capsys.readouterr().err
    assert common.run_cases(CPU, [2], run_one, lambda n: 0)[1] is True  # a skip is no failure


def test_launches_are_counted_per_phase_and_step(tmp_path: Path) -> None:
    from benchmarks import launches

    out = tmp_path / "launches.json"
    assert launches.main(["--cases", "busy", "--out", str(out)]) == 0
    row = json.loads(out.read_text())["cases"]["busy"]
    assert row["steps"] == {"tick": 61, "mechanics": 61, "diffusion": 61, "phenotype": 2,
                            "output": 1}  # fmt: skip
    mechanics = row["phases"]["mechanics"]
    assert mechanics["per_step"] == pytest.approx(mechanics["launches"] / 61, abs=0.05)
    assert sum(mechanics["sites"].values()) <= mechanics["launches"]
    assert row["launches_per_tick"] * 61 == pytest.approx(
        sum(p["launches"] for p in row["phases"].values()), abs=3
    )
