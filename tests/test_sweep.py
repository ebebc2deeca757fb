"""Sweeps on a local Dask cluster of 2 worker processes: members complete, a killed worker
loses nothing, a re-run skips finished members, bad members are reported while the others
finish; sweep files are validated and expanded as documented; the sweep views plot the table."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import HAS_GPU
from tissue.cli import main
from tissue.config import load_scenario
from tissue.errors import InputError
from tissue.runner import Runner, StopRequest
from tissue.simulation import Simulation
from tissue.sweep import builtin_sweeps, load_sweep, read_results, run_sweep
from tissue.sweep.member import MEMBER_FILE, PART, MemberTask, run_member
from tissue.sweep.results import MemberRow, write_results

distributed = pytest.importorskip("distributed")

# The spheroid at a tiny size: about 40 cells in a 200 um cube, 0.05 days (~1 s a member).
TINY = {
    "organs.tissue.shape": [10, 10, 10],
    "run.days": 0.05,
    "run.output_interval_min": 24.0,
    "initial_cells.0.center_um": [100.0, 100.0, 100.0],
    "initial_cells.0.radius_um": 30.0,
}
CYCLE = "cell_types.tumour.cycle_rate_per_min"


def write_sweep(folder: Path, text: str = "", fixed: dict[str, Any] | None = None) -> Path:
    """A sweep file of the tiny spheroid with ``text`` added (grid, sample, ...)."""
    lines = ['scenario = "spheroid"', text, "[set]"]
    lines += [f'"{key}" = {json.dumps(value)}' for key, value in {**TINY, **(fixed or {})}.items()]
    path = folder / "sweep.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


FOUR = f'replicates = 2\ncheckpoint_every_min = 12.0\n[grid]\n"{CYCLE}" = [7.2e-4, 1.4e-3]\n'


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes, one thread each, closed after the module's tests."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as local:
        yield local


# --- sweep files ----------------------------------------------------------------------


def sample(range_text: str, extra: str = "") -> str:
    """A [sample] table of 2 points with one range of the cycle rate."""
    return f'[sample]\ncount = 2\n{extra}[sample.ranges]\n"{CYCLE}" = {{ {range_text} }}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("replicate = 2", "replicate: unknown key; allowed: name, description, scenario, seed, "
                          "replicates, checkpoint_every_min, branch_day, set, grid, sample"),
        ('replicates = "2"', "replicates: Input should be a valid integer (got '2')"),
        ("replicates = 0", "replicates: Input should be greater than or equal to 1"),
        ('[grid]\n"run.days" = []', "grid.run.days: List should have at least 1"),
        (f'[grid]\n"{CYCLE}" = [1e-3]\n' + sample("min = 0.0, max = 1.0"),
         f"sample.ranges.{CYCLE}: also in [grid]; allowed: one place"),
        (sample("min = 1.0, max = 0.5"),
         f"sample.ranges.{CYCLE}: max (0.5) must be greater than min (1.0)"),
        (sample('min = 0.0, max = 1.0, scale = "log"'),
         f"sample.ranges.{CYCLE}: a log scale needs min > 0 (got 0.0)"),
        (sample("min = 0.0, max = 1.0, step = 1"),
         f"sample.ranges.{CYCLE}.step: unknown key; allowed: min, max, scale, integer"),
        (sample("min = 0.0, max = 1.0", "kind = 1\n"),
         "sample.kind: unknown key; allowed: method, count, ranges"),
    ],
)  # fmt: skip
def test_bad_sweep_files_are_one_line_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = write_sweep(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_sweep(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {expected}"), message


def test_sweep_file_errors_from_the_command_line(tmp_path: Path) -> None:
    good = str(write_sweep(tmp_path, ""))
    out = str(tmp_path / "out")
    cases = [
        (["nope"], "error: nope: no such built-in sweep or file; built-ins: niche_vs_restraint"),
        ([str(tmp_path / "none.toml")], f"error: {tmp_path / 'none.toml'}: no such sweep file"),
        ([good, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
         "error: --workers: 2: allowed: --workers or --scheduler, not both"),
        ([good, "--workers", "0"], "error: --workers: 0: allowed: 1 or more"),
    ]  # fmt: skip
    for args, expected in cases:
        result = CliRunner().invoke(main, ["sweep", *args, "-o", out])
        assert result.exit_code == 2, result.output
        assert result.output.strip() == expected, result.output


def test_every_member_is_checked_against_the_scenario(tmp_path: Path) -> None:
    """A key the scenario lacks refuses every member: exit 2 before anything runs."""
    path = write_sweep(tmp_path, '[grid]\n"cell_types.tumour.speed" = [1.0, 2.0]')
    result = CliRunner().invoke(main, ["sweep", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "cell_types.tumour.speed: no key 'speed' in cell_types.tumour; allowed:" in result.output
    assert not (tmp_path / "out" / "members").exists()


def test_dry_run_lists_members_and_refusals(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, f'[grid]\n"{CYCLE}" = [7.2e-4, -1.0]')
    result = CliRunner().invoke(
        main, ["sweep", str(path), "-o", str(tmp_path / "out"), "--dry-run"]
    )
    assert result.exit_code == 2
    assert "sweep: 2 members of spheroid (built-in)" in result.output
    assert (
        f"refused: member {load_sweep(path).members[1].member_id}: {path} member 1 "
        in result.output
    )
    assert not (tmp_path / "out").exists()


def test_members_are_grid_x_samples_x_replicates(tmp_path: Path) -> None:
    text = (
        "seed = 5\nreplicates = 2\n[grid]\ncell_types.tumour.radius_um = [8.0, 9.0, 10.0]\n"
        "[sample]\nmethod = \"latin_hypercube\"\ncount = 4\n[sample.ranges]\n"
        f'"{CYCLE}" = {{ min = 1e-4, max = 1e-2, scale = "log" }}\n'
        'cell_types.tumour.apoptosis_rate_per_min = { min = 0.0, max = 1e-4 }\n'
    )  # fmt: skip
    plan = load_sweep(write_sweep(tmp_path, text))
    assert plan.parameters == ["cell_types.tumour.radius_um", CYCLE,
                               "cell_types.tumour.apoptosis_rate_per_min"]  # fmt: skip
    assert len(plan.members) == 3 * 4 * 2
    assert [m.seed for m in plan.members[:4]] == [5, 6, 5, 6]
    assert all(m.error is None for m in plan.members)
    assert len({m.member_id for m in plan.members}) == len(plan.members)
    first = plan.members[::2][:4]  # the 4 samples at the first grid point
    assert {m.parameters["cell_types.tumour.radius_um"] for m in first} == {8.0}
    # Latin hypercube: one sample in each quarter of each range (log-spaced for the cycle)
    cycle_strata = sorted(int(4 * math.log(m.parameters[CYCLE] / 1e-4, 100)) for m in first)
    apoptosis = [m.parameters["cell_types.tumour.apoptosis_rate_per_min"] for m in first]
    assert cycle_strata == [0, 1, 2, 3]
    assert sorted(int(4 * a / 1e-4) for a in apoptosis) == [0, 1, 2, 3]
    # the same file gives the same members; a scenario value is really set
    again = load_sweep(tmp_path / "sweep.toml")
    assert [m.member_id for m in again.members] == [m.member_id for m in plan.members]
    assert plan.members[-1].scenario.cell_types["tumour"].radius_um == 10.0


def test_random_and_integer_ranges(tmp_path: Path) -> None:
    text = (
        "[sample]\nmethod = \"random\"\ncount = 50\n[sample.ranges]\n"
        "\"initial_cells.0.count\" = { min = 3, max = 6, integer = true }\n"
    )  # fmt: skip
    plan = load_sweep(write_sweep(tmp_path, text))
    counts = [m.parameters["initial_cells.0.count"] for m in plan.members]
    assert all(isinstance(c, int) for c in counts)
    assert set(counts) == {3, 4, 5, 6}


def test_built_in_sweep_names_its_scenario_keys() -> None:
    assert "niche_vs_restraint" in builtin_sweeps()
    plan = load_sweep("niche_vs_restraint")
    assert plan.parameters == ["interventions.anti_s100.start_day",
                               "rules.mic_awakening.half_max"]  # fmt: skip
    assert len(plan.members) == 18
    refused = [str(m.error) for m in plan.members if m.error is not None]
    assert not refused, f"the metastasis scenario refuses the built-in sweep: {refused[0]}"


def test_folders_named_like_built_ins_do_not_hide_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep re-run from where its output folder has the built-in's name, and a sweep file
    beside a folder named like its built-in scenario: both are the built-ins."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "niche_vs_restraint").mkdir()
    assert len(load_sweep("niche_vs_restraint").members) == 18
    (tmp_path / "spheroid").mkdir()
    spec = tmp_path / "seeds.toml"
    spec.write_text('scenario = "spheroid"\nreplicates = 2\n')
    plan = load_sweep(spec)
    assert [m.error for m in plan.members] == [None, None]
    assert plan.members[0].scenario.name == "spheroid"


# --- members --------------------------------------------------------------------------


def tiny_task(members_dir: Path, **overrides: Any) -> MemberTask:
    scenario = load_scenario("spheroid", {**TINY, **overrides})
    return MemberTask("m", str(members_dir), scenario, 3, {}, "cpu", 12.0)


def test_half_finished_member_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    """A member stopped mid-run (its worker died) continues from its checkpoint and ends
    exactly where an uninterrupted run ends."""
    straight = run_member(tiny_task(tmp_path / "a"))
    assert straight.attempts == 1
    task = tiny_task(tmp_path / "b")
    part = tmp_path / "b" / f"m{PART}dead"
    part.mkdir(parents=True)
    (part / MEMBER_FILE).write_text(json.dumps({"attempts": 1, "status": "running"}))
    sim = Simulation(task.scenario, backend="cpu", seed=task.seed)
    stop = StopRequest()

    def stop_at_day(done: int, _total: int) -> None:
        if done == 300:
            stop.signal = signal.SIGKILL

    assert Runner(sim, part, task.settings).run(stop, progress=stop_at_day) == "interrupted"
    resumed = run_member(task)
    assert resumed.attempts == 2
    assert resumed.observables == straight.observables
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["m"]
    assert run_member(task) == resumed  # finished: nothing runs again


# --- on the cluster -------------------------------------------------------------------


def child_processes() -> set[int]:
    """Process ids of this test process's descendants (but multiprocessing's resource
    tracker, which lives as long as the test process)."""
    import psutil

    return {
        child.pid
        for child in psutil.Process().children(recursive=True)
        if "resource_tracker" not in " ".join(child.cmdline())
    }


def test_sweep_runs_and_a_rerun_skips_finished_members(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, FOUR)
    out = tmp_path / "out"
    args = ["sweep", str(path), "-o", str(out), "--workers", "2", "--backend", "cpu"]
    before = child_processes()
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    deadline = time.monotonic() + 10
    while child_processes() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not child_processes() - before, "the sweep left worker processes behind"
    assert "4 of 4 members complete; table:" in result.output
    table = read_results(out)
    assert table.parameters == [CYCLE]
    assert [row["status"] for row in table.rows] == ["complete"] * 4
    assert [row["seed"] for row in table.rows] == [0, 1, 0, 1]
    assert [row[CYCLE] for row in table.rows] == [7.2e-4, 7.2e-4, 1.4e-3, 1.4e-3]
    assert all(row["tissue.tumour.live"] > 30 and row["attempts"] == 1 for row in table.rows)
    folders = sorted(p.name for p in (out / "members").iterdir())
    assert folders == sorted(row["member_id"] for row in table.rows)
    for folder in folders:
        assert (out / "members" / folder / "run.h5").is_file()

    started = time.perf_counter()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "running" not in again.output
    assert "4 of 4 members complete (4 finished earlier)" in again.output
    assert time.perf_counter() - started < 10  # no cluster was started
    assert read_results(out).rows == table.rows


def test_a_killed_worker_loses_nothing(tmp_path: Path, cluster: Any) -> None:
    """SIGKILL to the worker running a member once it has a checkpoint: Dask runs the member
    again elsewhere, which resumes it; all members complete as if nothing had happened."""
    path = write_sweep(tmp_path, FOUR, {"run.days": 0.1})
    members = tmp_path / "out" / "members"
    killed: list[int] = []

    def kill_first_member_with_a_checkpoint() -> None:
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for part in members.glob(f"*{PART}*") if members.exists() else []:
                try:
                    pid = json.loads((part / MEMBER_FILE).read_text())["pid"]
                except (OSError, ValueError, KeyError):
                    continue
                if (part / "checkpoint.h5").exists() and pid != os.getpid():
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_first_member_with_a_checkpoint, daemon=True)
    killer.start()
    report = run_sweep(load_sweep(path), tmp_path / "out", scheduler=cluster.scheduler_address,
                       backend="cpu")  # fmt: skip
    killer.join()
    assert killed, "no member was caught running"
    assert [row.status for row in report.rows] == ["complete"] * 4
    assert sorted(row.attempts for row in report.rows) == [1, 1, 1, 2]
    assert not list(members.glob(f"*{PART}*"))
    twice = next(row for row in report.rows if row.attempts == 2)
    member = next(m for m in load_sweep(path).members if m.member_id == twice.member_id)
    task = MemberTask("m", str(tmp_path / "straight"), member.scenario, member.seed)
    assert run_member(task).observables == twice.observables


def test_bad_members_are_reported_while_the_others_finish(tmp_path: Path, cluster: Any) -> None:
    path = write_sweep(tmp_path, f'[grid]\n"{CYCLE}" = [7.2e-4, -1.0, 1.4e-3]\n')
    plan = load_sweep(path)
    report = run_sweep(plan, tmp_path / "out", scheduler=cluster.scheduler_address,
                       backend="cpu")  # fmt: skip
    assert [row.status for row in report.rows] == ["complete", "invalid", "complete"]
    error = report.rows[1].error
    assert error == (
        f"{path} member 1 ({CYCLE}=-1.0): {CYCLE}: Input should be greater than or equal "
        "to 0 (got -1.0)"
    )
    table = read_results(tmp_path / "out")
    assert table.rows[1]["error"] == error
    assert math.isnan(table.rows[1]["tissue.tumour.live"])


@pytest.mark.skipif(HAS_GPU, reason="members on a GPU do not fail")
def test_a_failing_member_is_retried_then_reported(tmp_path: Path, cluster: Any) -> None:
    """Asking for a GPU where there is none fails every run: each member runs twice
    (retries=1) and is reported with its one-line error."""
    plan = load_sweep(write_sweep(tmp_path, f'[grid]\n"{CYCLE}" = [7.2e-4, -1.0]\n'))
    report = run_sweep(plan, tmp_path / "out", scheduler=cluster.scheduler_address,
                       backend="gpu", retries=1)  # fmt: skip
    assert [row.status for row in report.rows] == ["failed", "invalid"]
    assert report.rows[0].error.startswith("InputError: --backend: gpu: ")
    assert "\n" not in report.rows[0].error
    assert report.rows[0].attempts == 2
    assert read_results(tmp_path / "out").rows[0]["status"] == "failed"


def test_missing_dask_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    path = write_sweep(tmp_path, FOUR)
    result = CliRunner().invoke(main, ["sweep", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: dask: not installed; sweeps run on Dask: pip install 'tissue[dask]'"
    )


# --- views ----------------------------------------------------------------------------

START, HALF = "interventions.anti_s100.start_day", "rules.mic_awakening.half_max"


def fake_sweep(out: Path) -> None:
    """A 2 x 3 grid with 2 replicates: burden = start day x 10 + half-max + replicate; one
    member failed, so the (7, 4) point has a single replicate."""
    rows = []
    for start in (0.0, 7.0):
        for half in (1.0, 2.0, 4.0):
            for seed in (0, 1):
                failed = (start, half, seed) == (7.0, 4.0, 1)
                burden = {"lung.ledger.macrometastases": start * 10 + half + seed}
                rows.append(
                    MemberRow(
                        f"{start}-{half}-{seed}", seed, "failed" if failed else "complete",
                        {START: start, HALF: half}, "MemberError: boom" if failed else "", 1, 1.0,
                        None if failed else burden,
                    )
                )  # fmt: skip
    out.mkdir()
    write_results(out, rows, [START, HALF], {"name": "fake"})


def test_sweep_views_average_over_replicates(tmp_path: Path) -> None:
    from viz.sweep import choose_axes, heat, lines

    fake_sweep(tmp_path / "sweep")
    table = read_results(tmp_path / "sweep")
    burden = "lung.ledger.macrometastases"
    assert choose_axes(table, burden, None, None) == (burden, START, HALF)
    assert choose_axes(table, burden, HALF, None) == (burden, HALF, None)
    xs, ys, mean, count = heat(table, burden, START, HALF)
    assert (xs, ys) == ([0.0, 7.0], [1.0, 2.0, 4.0])
    np.testing.assert_allclose(mean, [[1.5, 71.5], [2.5, 72.5], [4.5, 74.0]])
    np.testing.assert_array_equal(count, [[2, 2], [2, 2], [2, 1]])
    by_start = lines(table, burden, HALF)
    assert [line.label for line in by_start] == [f"{START}=0.0", f"{START}=7.0"]
    np.testing.assert_allclose(by_start[1].mean, [71.5, 72.5, 74.0])
    np.testing.assert_allclose(by_start[1].std, [math.sqrt(0.5), math.sqrt(0.5), 0.0])
    with pytest.raises(InputError, match="--observable: nope: not in this sweep's table; allowed"):
        choose_axes(table, "nope", None, None)
    with pytest.raises(InputError, match=f"--x: run.days: not a parameter .*allowed: {START}"):
        choose_axes(table, burden, "run.days", None)


def test_plot_of_a_sweep_folder(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from PIL import Image

    fake_sweep(tmp_path / "sweep")
    burden = ["--observable", "lung.ledger.macrometastases"]
    for name, extra in [("heat.png", []), ("line.png", ["--x", HALF])]:
        png = tmp_path / name
        args = ["plot", str(tmp_path / "sweep"), "-o", str(png), "--size", "400x300", *burden]
        result = CliRunner().invoke(main, args + extra)
        assert result.exit_code == 0, result.output
        assert Image.open(png).size == (400, 300)
    result = CliRunner().invoke(main, ["plot", str(tmp_path / "sweep"), "-o", str(png)])
    assert result.exit_code == 2
    assert result.output.startswith("error: --observable: required for a sweep; allowed: lung.")
    run = Path(__file__).parent / "data" / "run-v1.h5"
    result = CliRunner().invoke(main, ["plot", str(run), "-o", str(png), *burden])
    assert result.exit_code == 2
    assert "only for a sweep folder" in result.output
