"""Fault injection: damaged checkpoints, full disks, concurrent runs, reused folders, killed
runs and bad arguments. Each case ends in a one-line refusal (exit code 2) or a correct
result, and nothing finished is lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from tests.conftest import box_scenario
from tissue.config import load_scenario, scenario_from_dict
from tissue.errors import InputError
from tissue.io.checkpoint import StoredCheckpoint, read_checkpoint
from tissue.io.runfile import RunFileError, RunReader, _Translated
from tissue.limits import (
    BYTES_PER_VOXEL,
    BYTES_PER_VOXEL_PER_FIELD,
    MAX_DAYS,
    estimate_memory,
)
from tissue.runner import Runner, RunSettings
from tissue.simulation import Simulation, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = {"checkpoint.h5", "run.h5", "run.xmf", "scenario.toml", "timeseries.csv"}


def tiny_scenario() -> dict[str, Any]:
    """A 4^3 box with one field and three cells: the smallest checkpoint that holds every
    kind of entry (fields, labels, cells, counters, settings)."""
    return box_scenario(
        organs={"box": {"shape": [4, 4, 4], "spacing_um": 10.0}},
        fields={"oxygen": {"diffusion_um2_per_min": 1e3, "decay_per_min": 0.1, "initial": 38.0}},
        cell_types={"tumour": {"cycle_rate_per_min": 1e-3}},
        initial_cells=[{"kind": "random", "organ": "box", "type": "tumour", "count": 3}],
    )


def tiny_checkpoint(path: Path) -> None:
    sim = Simulation(scenario_from_dict(tiny_scenario(), "tiny"), backend="cpu", seed=3)
    sim.step(2)
    sim.save_checkpoint(path, target_days=1.0)


def fingerprint(stored: StoredCheckpoint) -> dict[str, Any]:
    """Everything a checkpoint restores, as comparable values."""
    state = stored.state
    return {
        "scenario": stored.scenario.to_toml(),
        "source": stored.scenario.source,
        "tick": state.tick,
        "seed": state.seed,
        "time_min": state.time_min,
        "counters": state.counters,
        "arrays": {k: (v.dtype.str, v.shape, v.tobytes()) for k, v in state.arrays.items()},
        "settings": stored.settings,
        "run_id": stored.run_id,
    }


def flip_bytes(path: str, start: int, stop: int, step: int) -> dict[str, Any]:
    """Flip one bit in each of bytes ``start``, ``start + step``... of the checkpoint at
    ``path``; count refusals, loads equal to the original, and anything else (a changed
    state accepted, a message over one line, an exception that is not a refusal)."""
    original = Path(path).read_bytes()
    expected = fingerprint(read_checkpoint(path))
    flipped = Path(f"{path}.{os.getpid()}.flip.h5")
    out: dict[str, Any] = {"refused": 0, "same": 0, "bad": []}
    for offset in range(start, min(stop, len(original)), step):
        data = bytearray(original)
        data[offset] ^= 1 << (offset % 8)
        flipped.write_bytes(bytes(data))
        try:
            stored = read_checkpoint(flipped)
        except InputError as error:
            if "\n" in str(error):
                out["bad"].append([offset, "message over one line"])
            out["refused"] += 1
            continue
        except Exception as error:
            out["bad"].append([offset, f"{type(error).__name__}: {error}"])
            continue
        if fingerprint(stored) == expected:
            out["same"] += 1
        else:
            out["bad"].append([offset, "accepted with a changed state"])
    flipped.unlink(missing_ok=True)
    return out


def run_flips(path: Path, step: int) -> dict[str, Any]:
    """:func:`flip_bytes` over the whole file in two processes (in subprocesses, so that
    a crash of the HDF5 library fails the test instead of killing it)."""
    script = textwrap.dedent(
        f"""
        import json, os
        from concurrent.futures import ProcessPoolExecutor
        from tests.test_faults import flip_bytes
        size = os.path.getsize({str(path)!r})
        half = size // 2
        with ProcessPoolExecutor(2) as pool:
            parts = list(pool.map(flip_bytes, [{str(path)!r}] * 2, [0, half + (half % {step})],
                                  [half, size], [{step}] * 2))
        print(json.dumps({{"size": size, "refused": sum(p["refused"] for p in parts),
                          "same": sum(p["same"] for p in parts),
                          "bad": [b for p in parts for b in p["bad"]]}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_bit_flip_in_every_byte_is_refused(tmp_path: Path) -> None:
    """One flipped bit in each byte of a whole checkpoint (header, HDF5 metadata, data and
    free space): each is refused in one line before HDF5 parses the file, so none can hang
    the reader or pass with a changed state."""
    path = tmp_path / "checkpoint.h5"
    tiny_checkpoint(path)
    result = run_flips(path, step=1)
    assert result["bad"] == [], result["bad"][:10]
    assert result["refused"] == result["size"]


# --- the command line, as a user meets it -------------------------------------------


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tissue.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit code 2, one line on stderr, no traceback, naming each fragment."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


SMALL = ["--set", "organs.tissue.shape=[16,16,16]", "--backend", "cpu", "--quiet"]


def test_a_used_folder_is_refused_and_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        cli("run", "spheroid", "-o", str(out), "--days", "0.02", "--seed", "7", *SMALL).returncode
        == 0
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = cli("run", "spheroid", "-o", str(out), "--days", "0.02", "--seed", "3", *SMALL)
    assert_refused(again, str(out), "holds another run (spheroid, seed 7, complete",
                   "--overwrite")  # fmt: skip
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_overwrite_replaces_the_old_run_entirely(tmp_path: Path) -> None:
    """The issue's case: a run into a used folder killed before its first checkpoint
    cannot be resumed from the old run's checkpoint."""
    out = tmp_path / "out"
    assert (
        cli("run", "spheroid", "-o", str(out), "--days", "0.02", "--seed", "7", *SMALL).returncode
        == 0
    )
    old_id = RunReader(out / "run.h5").run_id
    process = start_run(out, "--days", "5", "--seed", "3", "--overwrite")
    wait_for(lambda: run_id_of(out / "run.h5") not in ("", old_id))
    process.kill()
    process.wait()
    assert not (out / "checkpoint.h5").exists()
    assert_refused(cli("resume", str(out), "--quiet"), "checkpoint.h5: no checkpoint to resume")
    assert RunReader(out / "run.h5").seed == 3


def start_run(out: Path, *args: str) -> subprocess.Popen[str]:
    """``tissue run spheroid -o OUT ARGS`` (small) in the background."""
    command = [sys.executable, "-m", "tissue.cli", "run", "spheroid", "-o", str(out), *args]
    return subprocess.Popen([*command, *SMALL], cwd=ROOT, stderr=subprocess.PIPE, text=True)


def run_id_of(path: Path) -> str:
    try:
        return RunReader(path).run_id
    except InputError:
        return ""


def wait_for(condition: Any, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_files_of_two_runs_are_refused_on_resume(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        cli("run", "spheroid", "-o", str(a), "--days", "0.02", "--seed", "7", *SMALL).returncode
        == 0
    )
    assert (
        cli("run", "spheroid", "-o", str(b), "--days", "0.02", "--seed", "3", *SMALL).returncode
        == 0
    )
    before = (b / "run.h5").read_bytes()
    shutil.copy(a / "checkpoint.h5", b / "checkpoint.h5")
    resume = ["resume", str(b), "--days", "0.04", "--quiet"]
    assert_refused(cli(*resume), "run.h5: run_id: belongs to run", "the folder mixes two runs")
    assert (b / "run.h5").read_bytes() == before
    # the CSV is checked too
    shutil.copy(a / "run.h5", b / "run.h5")
    assert_refused(
        cli("resume", str(b), "--days", "0.04", "--quiet"), "timeseries.csv: run_id: holds rows"
    )


def test_two_runs_into_one_folder(tmp_path: Path) -> None:
    """The second is refused while the first runs; the first finishes alone."""
    out = tmp_path / "out"
    first = start_run(out, "--days", "0.3", "--seed", "7")
    wait_for(lambda: (out / "run.lock").exists() and (out / "run.lock").stat().st_size > 0)
    second = ["run", "spheroid", "-o", str(out), "--seed", "3", *SMALL]
    for args in (second, [*second, "--overwrite"]):
        assert_refused(cli(*args), "another run (pid", "is writing this folder")
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    reader = RunReader(out / "run.h5")
    assert (reader.seed, reader.status) == (7, "complete")
    text = (out / "timeseries.csv").read_text()
    assert "\0" not in text
    rows = text.splitlines()
    assert {row.rsplit(",", 1)[1] for row in rows[1:]} == {reader.run_id}
    assert set(os.listdir(out)) == RUN_FILES


def test_a_killed_run_leaves_a_stale_lock_that_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = start_run(out, "--days", "0.2", "--checkpoint-every", "12")
    wait_for(lambda: (out / "checkpoint.h5").exists())
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (out / "run.lock").exists()
    result = cli("resume", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "took over the lock of a run that is no longer running" in result.stderr
    assert not (out / "run.lock").exists()
    summary = json.loads(cli("summary", str(out), "--json").stdout)
    assert summary["status"] == "complete"
    assert summary["observables"]["time_min"] == pytest.approx(0.2 * 1440)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    """Runs a command with a fresh tmpfs of the given size mounted over ``tmp_path/disk``
    (a private mount namespace: needs unshare with user namespaces, else skips)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (no user namespaces)")
    disk = tmp_path / "disk"
    disk.mkdir()

    def run(size_kib: int, command: str) -> subprocess.CompletedProcess[str]:
        script = (
            f"mount -t tmpfs -o size={size_kib}k tmpfs {disk} && {command}; echo rc=$?; "
            f"ls -A {disk}/out 2>/dev/null | tr '\\n' ' '; echo"
        )
        return subprocess.run(
            ["unshare", "-rm", "sh", "-c", script],
            capture_output=True, text=True, cwd=ROOT, timeout=600,
        )  # fmt: skip

    run.disk = disk  # type: ignore[attr-defined]
    return run


@pytest.mark.parametrize("size_kib", [300, 700, 1024])
def test_a_full_disk_is_one_line_and_leaves_no_temporaries(tiny_disk: Any, size_kib: int) -> None:
    """Disks that fill at the first snapshot, at the first checkpoint and later: exit 2 with
    one error line (no segfault), no temporary file left, and the checkpoint, if one was
    written, loads."""
    out = tiny_disk.disk / "out"
    command = (
        f"{sys.executable} -m tissue.cli run spheroid -o {out} --days 2 --snapshot-every 30 "
        f"--checkpoint-every 120 {' '.join(SMALL[:2])} --backend cpu --quiet"
    )
    result = tiny_disk(size_kib, command)
    rc_line, listing = result.stdout.strip().splitlines()[-2:]
    assert rc_line == "rc=2", result.stdout + result.stderr
    assert len(errors(result)) == 1, result.stderr
    assert "No space left on device" in errors(result)[0]
    assert "Traceback" not in result.stderr
    assert not [name for name in listing.split() if name.endswith("tmp")], listing


def test_an_unwritable_final_checkpoint_ends_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    import tissue.io.checkpoint as checkpoint
    from tissue.cli import main

    def fail(raw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "_fsync", fail)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "spheroid", "-o", str(out), "--days", "0.02", *SMALL])
    assert result.exit_code == 2, result.output
    assert "final checkpoint could not be written" in result.output
    assert RunReader(out / "run.h5").status == "incomplete"
    assert set(os.listdir(out)) == RUN_FILES - {"checkpoint.h5"}


def test_a_failing_close_of_the_run_file_is_one_line(tmp_path: Path) -> None:
    """h5py raises RuntimeError (not OSError) when a close cannot flush."""

    class Handle:
        def close(self) -> None:
            raise RuntimeError(
                "Can't decrement id ref count (file write failed: errno = 28, "
                "error message = 'No space left on device', offset = 1)"
            )

    def translate(error: BaseException) -> Exception | None:
        return RunFileError(f"run.h5: cannot write the run file ({error})")

    with (
        pytest.raises(RunFileError, match="No space left on device"),
        _Translated(Handle(), translate),  # type: ignore[arg-type]
    ):
        pass


# --- sizes and values ----------------------------------------------------------------


def test_summary_shows_the_final_state(tmp_path: Path) -> None:
    """A run length that is not a multiple of the output interval still ends with a row of
    its final state."""
    out = tmp_path / "out"
    assert cli("run", "spheroid", "-o", str(out), "--days", "0.07", *SMALL).returncode == 0
    summary = json.loads(cli("summary", str(out), "--json").stdout)
    final = load_checkpoint(out / "checkpoint.h5", backend="cpu").simulation.observables()
    assert summary["observables"]["time_min"] == pytest.approx(0.07 * 1440)
    assert summary["observables"]["tissue.tumour.live"] == final["tissue.tumour.live"]


@pytest.fixture(scope="module")
def small_sim() -> Simulation:
    return Simulation(scenario_from_dict(tiny_scenario(), "tiny"), backend="cpu", seed=1)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda s: s.run(days=-1), f"days: -1: allowed: a number of days, 0 < days <= {MAX_DAYS:g}"),  # noqa: E501
        (lambda s: s.run(days=0), "days: 0: allowed"),
        (lambda s: s.run(days=float("nan")), "days: nan: allowed"),
        (lambda s: s.run(days=float("inf")), "days: inf: allowed"),
        (lambda s: s.run(days="1"), "days: '1': allowed"),
        (lambda s: s.step(-5), "n: -5: allowed: an integer >= 0"),
        (lambda s: s.step(1.5), "n: 1.5: allowed: an integer >= 0"),
        (lambda s: Simulation(s.scenario, "cpu", seed=1.5), "seed: 1.5: allowed: an integer"),
        (lambda s: Simulation(s.scenario, "cpu", seed="1"), "seed: '1': allowed: an integer"),
        (lambda s: Simulation(s.scenario, "cpu", seed=True), "seed: True: allowed: an integer"),
        (lambda s: Simulation(s.scenario, "cpu", seed=-1), "seed: -1: allowed: an integer"),
    ],
)  # fmt: skip
def test_the_python_api_checks_its_arguments(
    small_sim: Simulation, call: Any, expected: str
) -> None:
    tick = small_sim.tick
    with pytest.raises(InputError) as caught:
        call(small_sim)
    assert str(caught.value) == expected or str(caught.value).startswith(expected)
    assert small_sim.tick == tick


def test_the_cli_and_the_api_say_the_same(tmp_path: Path, small_sim: Simulation) -> None:
    result = cli("run", "spheroid", "-o", str(tmp_path / "o"), "--days", "-1")
    with pytest.raises(InputError) as caught:
        small_sim.run(days=-1)
    assert errors(result)[0] == f"error: --{caught.value}"


def test_runner_settings_are_checked(tmp_path: Path, small_sim: Simulation) -> None:
    with pytest.raises(InputError, match="snapshot_every_min: 1e-09: allowed: a whole multiple"):
        Runner(small_sim, tmp_path / "o", RunSettings(1.0, 1e-9))
    with pytest.raises(InputError, match=r"target_days: 1e\+300: allowed"):
        Runner(small_sim, tmp_path / "o", RunSettings(1e300, 60.0))
    assert not (tmp_path / "o").exists()


def test_the_memory_estimate_bounds_what_a_grid_takes() -> None:
    """Per voxel, the estimate is at least the measured peak (tracemalloc, 8^3 to 32^3
    boxes, 1 and 3 fields) and at most twice it."""
    from benchmarks.bench_memory import fields_scenario, measure
    from tissue.backend import get_backend

    backend = get_backend("cpu")
    measure(backend, fields_scenario(8, 1), 2)  # imports and caches stay out
    for fields in (1, 3):
        small, large = (measure(backend, fields_scenario(n, fields), 2)["peak"] for n in (8, 32))
        measured = (large - small) / (32**3 - 8**3)
        estimated = BYTES_PER_VOXEL + BYTES_PER_VOXEL_PER_FIELD * fields
        assert measured <= estimated <= 2 * measured, (fields, measured, estimated)


def test_a_grid_too_large_for_memory_is_refused_before_allocating() -> None:
    scenario = load_scenario("spheroid", {"organs.tissue.shape": [100_000] * 3})
    estimate = estimate_memory(scenario, {"tissue": (100_000,) * 3})
    assert estimate.total > 1e17  # 1e15 voxels
    with pytest.raises(InputError, match=r"organs.tissue.shape: \[100000, 100000, 100000\]"):
        Simulation(scenario, backend="cpu")


def test_cells_outgrowing_the_memory_stop_the_run_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runaway division rate: the cell store refuses to grow past the memory, the run
    file says ``failed``."""
    import tissue.limits as limits

    monkeypatch.setattr(limits, "available_bytes", lambda backend: (40_000_000, "the test's limit"))
    data = tiny_scenario()
    data["organs"]["box"]["shape"] = [12, 12, 12]
    data["cell_types"]["tumour"]["cycle_rate_per_min"] = 1.0
    data["initial_cells"][0]["count"] = 800
    sim = Simulation(scenario_from_dict(data, "runaway"), backend="cpu", seed=1)
    runner = Runner(sim, tmp_path / "o", RunSettings(1.0, 60.0))
    with pytest.raises(InputError, match=r"cells would need about .* the population is growing"):
        runner.run()
    assert RunReader(tmp_path / "o" / "run.h5").status == "failed"
    assert not (tmp_path / "o" / "run.lock").exists()


def test_a_damaged_csv_is_set_aside_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("run", "spheroid", "-o", str(out), "--days", "0.05", *SMALL).returncode == 0
    (out / "timeseries.csv").write_bytes(b"time_min,a\n\0\0\0,1\n")
    result = cli("resume", str(out), "--days", "0.1", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "moved it to" in result.stderr
    assert (out / "timeseries.damaged.csv").exists()
    with h5py.File(out / "run.h5") as handle:
        assert np.all(np.diff(handle["timeseries/tick"][()]) > 0)
