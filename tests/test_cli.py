"""The command line: outputs, exit codes and one-line errors."""

from __future__ import annotations

import csv
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from tissue.cli import main
from tissue.io.runfile import RunReader


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tissue.cli", *args], capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip


def test_run_writes_scenario_and_time_series(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "spheroid", "-o", str(out), "--days", "0.05",
                                       "--seed", "3", "--backend", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    resolved = tomllib.loads((out / "scenario.toml").read_text())
    assert resolved["name"] == "spheroid"
    rows = list(csv.DictReader((out / "timeseries.csv").open()))
    # output every 120 min; the 72-min run ends with a row of its final state
    assert [float(r["time_min"]) for r in rows] == [0.0, 72.0]
    assert {r["run_id"] for r in rows} == {RunReader(out / "run.h5").run_id}
    assert float(rows[0]["tissue.tumour.live"]) > 200
    assert "tissue.oxygen.min" in rows[0]


def test_run_warns_when_a_solve_stops_at_its_iteration_cap(tmp_path: Path) -> None:
    """One CG iteration cannot reach a 1e-7 tolerance from the spheroid's first steps: the
    run completes and says which field, how often and what to change; by default it is
    silent (the spheroid converges)."""
    out = tmp_path / "run"
    capped = ["--set", "fields.oxygen.solver_max_iterations=1",
              "--set", "fields.oxygen.solver_tolerance=1e-7"]  # fmt: skip
    result = CliRunner().invoke(main, ["run", "spheroid", "-o", str(out), "--days", "0.01",
                                       "--backend", "cpu", *capped])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "field oxygen in tissue:" in result.output
    assert "stopped at solver_max_iterations = 1 before solver_tolerance = 1e-07" in result.output
    quiet = CliRunner().invoke(main, ["run", "spheroid", "-o", str(tmp_path / "default"),
                                      "--days", "0.01", "--backend", "cpu"])  # fmt: skip
    assert quiet.exit_code == 0, quiet.output
    assert "solver_max_iterations" not in quiet.output


def test_overrides_days_and_quiet(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "run",
            "spheroid",
            "-o",
            str(out),
            "--days",
            "0.02",
            "--quiet",
            "--set",
            "run.output_interval_min=6.0",
            "--set",
            "cell_types.tumour.radius_um=9.0",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "timeseries.csv").open()))
    assert len(rows) == 6  # t = 0, 6, 12, 18, 24 min and the end (0.02 days = 28.8 min)
    resolved = tomllib.loads((out / "scenario.toml").read_text())
    assert resolved["cell_types"]["tumour"]["radius_um"] == 9.0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "nope", "-o", "X"], "error: nope: no such built-in scenario or file"),
        (["run", "spheroid", "-o", "X", "--set", "run.dayz=1"],
         "error: --set: run.dayz: no key 'dayz' in run; allowed: days, output_interval_min, "
         "snapshot_interval_min, seed"),
        (["run", "spheroid", "-o", "X", "--set", "cell_types.tumour.speed_um_per_min=-2"],
         "error: --set: cell_types.tumour.speed_um_per_min: Input should be greater than or "
         "equal to 0 (got -2)"),
        (["run", "spheroid", "-o", "X", "--set", "nodots"], "error: --set: nodots: expected"),
        (["run", "spheroid", "-o", "X", "--days", "-1"], "error: --days: -1: allowed"),
        (["run", "spheroid", "-o", "X", "--days", "inf"], "error: --days: inf: allowed"),
        (["run", "spheroid", "-o", "X", "--days", "1e300"], "error: --days: 1e+300: allowed"),
        (["run", "spheroid", "-o", "X", "--snapshot-every", "1e-9"],
         "error: --snapshot-every: 1e-09: allowed: a whole multiple of the shortest time step"),
        (["run", "spheroid", "-o", "X", "--checkpoint-every", "nan"],
         "error: --checkpoint-every: nan: allowed"),
        (["run", "spheroid", "-o", "X", "--set", "cell_types.tumour.cycle_rate_per_min=1e30"],
         "error: --set: cell_types.tumour.cycle_rate_per_min: 1e+30 per min; allowed: <= "),
        (["run", "spheroid", "-o", "X", "--set", "organs.tissue.shape=[1200,1200,1200]"],
         "error: spheroid (built-in): organs.tissue.shape: [1200, 1200, 1200] with 1 field(s) "
         "needs about"),
        (["run", "spheroid", "-o", "X", "--set", "organs.tissue.spacing_um=-1"],
         "error: --set: organs.tissue.spacing_um: Input should be greater than 0 (got -1)"),
        (["run", "spheroid", "-o", "X", "--seed", "1.5"],
         "error: tissue run: Invalid value for '--seed': '1.5' is not a valid integer."),
        (["run", "spheroid"], "error: tissue run: Missing option '-o' / '--out'."),
        (["run", "spheroid", "-o", "X", "--backend", "gpu"], "error: --backend: gpu:"),
        (["run", "spheroid", "-o", "X", "--seed", "-4"], "error: --seed: -4: allowed"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, args, expected: str) -> None:
    args = [str(tmp_path / "out") if a == "X" else a for a in args]
    if "--backend" in args:
        pytest.importorskip("tissue")
        from tissue.backend import cupy_device_count

        if cupy_device_count():
            pytest.skip("a GPU is present: gpu is valid here")
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)
    assert "Traceback" not in result.stderr


def test_bad_scenario_file_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[organs.lung]\nshape = [8, 8, "8"]\n')
    result = run_cli("run", str(path), "-o", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {path}: organs.lung.shape.2: Input should be a valid integer (got '8')"
    )


def test_unwritable_output_is_an_input_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli("run", "spheroid", "-o", str(blocker / "sub"), "--days", "0.01")
    assert result.returncode == 2
    assert "cannot write the output folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_option_is_exit_code_2() -> None:
    assert CliRunner().invoke(main, ["run", "spheroid", "--bogus"]).exit_code == 2


def test_scenarios_and_info() -> None:
    runner = CliRunner()
    listing = runner.invoke(main, ["scenarios"])
    assert listing.exit_code == 0
    assert "spheroid" in listing.output
    info = runner.invoke(main, ["info"])
    assert info.exit_code == 0
    for word in ("tissue", "numpy", "backend (auto)", "gpu"):
        assert word in info.output
