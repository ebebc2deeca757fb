"""SIGINT and SIGTERM write a checkpoint and exit 130; `tissue resume` then finishes the run
exactly as if it had never stopped (files compared with tolerance 0)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import busy_scenario
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.io.runfile import RunReader

DAYS = "0.07"  # 100.8 min: about 4 s of stepping here


def tissue(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tissue.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=300)
    return process.returncode, err


def run_args(scenario: Path, out: Path) -> list[str]:
    return ["run", str(scenario), "-o", str(out), "--days", DAYS, "--backend", "cpu",
            "--snapshot-every", "12", "--checkpoint-every", "30", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "busy.toml"
    path.write_text(scenario_from_dict(busy_scenario(), "busy").to_toml())
    return path


@pytest.fixture(scope="module")
def straight(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("straight")
    code, err = finished(tissue(*run_args(scenario_file, out)))
    assert code == 0, err
    return out


def contents(path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}

    def visit(name: str, item: object) -> None:
        if isinstance(item, h5py.Dataset):
            out[name] = item[()]

    with h5py.File(path) as handle:
        handle.visititems(visit)
    return out


def rows_written(run_file: Path) -> int:
    try:
        return len(RunReader(run_file).timeseries()["tick"])
    except InputError:
        return 0  # not created yet, or caught mid-write


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_checkpoints_and_resume_is_exact(
    signum: int, scenario_file: Path, straight: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    process = tissue(*run_args(scenario_file, out))
    deadline = time.monotonic() + 120
    while rows_written(out / "run.h5") < 3 and process.poll() is None:
        assert time.monotonic() < deadline, "the run wrote no output"
        time.sleep(0.05)
    process.send_signal(signum)
    code, err = finished(process)
    assert code == 130, err
    assert "interrupted at day" in err
    assert f"tissue resume {out}" in err
    interrupted = RunReader(out / "run.h5")
    assert interrupted.status == "interrupted"
    assert interrupted.final()["time_min"] < float(DAYS) * 1440 - 6  # stopped well before

    code, err = finished(tissue("resume", str(out), "--backend", "cpu", "--quiet"))
    assert code == 0, err
    assert RunReader(out / "run.h5").status == "complete"

    for name in ["checkpoint.h5", "run.h5"]:
        expected, got = contents(straight / name), contents(out / name)
        assert expected.keys() == got.keys(), name
        for key, value in expected.items():
            assert np.array_equal(value, got[key], equal_nan=True), f"{name}:{key}"
    assert csv_rows(out) == csv_rows(straight)
    assert (out / "run.xmf").read_text() == (straight / "run.xmf").read_text()


def test_resume_refuses_a_damaged_checkpoint_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.h5").write_bytes(b"not hdf5")
    code, err = finished(tissue("resume", str(tmp_path)))
    assert code == 2
    assert err.count("\n") == 1
    assert "checkpoint.h5" in err
    assert "Traceback" not in err


def test_resume_of_a_finished_run_says_so(straight: Path) -> None:
    code, err = finished(tissue("resume", str(straight), "--backend", "cpu"))
    assert code == 0
    assert "already at or past day 0.07; use --days to go further" in err


def csv_rows(out: Path) -> list[str]:
    """The CSV's lines without the last column (the run id, which differs between runs)."""
    return [line.rsplit(",", 1)[0] for line in (out / "timeseries.csv").read_text().splitlines()]


def test_resume_with_days_extends_a_finished_run(straight: Path, tmp_path: Path) -> None:
    out = tmp_path / "extended"
    out.mkdir()
    for path in straight.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    code, err = finished(tissue("resume", str(out), "--days", "0.08", "--quiet"))
    assert code == 0, err
    reader = RunReader(out / "run.h5")
    assert reader.status == "complete"
    assert reader.final()["time_min"] == pytest.approx(115.2)  # the final state
    assert reader.timeseries()["time_min"][-2] == pytest.approx(114.0)  # the last output
    assert reader.snapshots[-1].time_min == pytest.approx(115.2)


def test_a_checkpoint_saved_from_python_resumes_with_the_scenario_settings(tmp_path: Path) -> None:
    from tissue.simulation import Simulation

    scenario = scenario_from_dict(busy_scenario(), "busy").with_overrides({"run.days": 0.005})
    sim = Simulation(scenario, backend="cpu", seed=3)
    sim.step(20)
    sim.save_checkpoint(tmp_path / "checkpoint.h5")
    code, err = finished(tissue("resume", str(tmp_path), "--quiet"))
    assert code == 0, err
    reader = RunReader(tmp_path / "run.h5")
    assert reader.status == "complete"
    assert reader.snapshots[-1].time_min == pytest.approx(7.2)
