"""Sweeps with ``branch_day``: the members of a seed that differ only in interventions to come
share one run to that day (a trunk) and are branched from it, with the same results as
members run from day 0; members that cannot share it run alone."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from tests.test_branch import BASE
from tests.test_cli_branch import OUTPUTS
from tissue.io.runfile import RunReader
from tissue.sweep import load_sweep, read_results, run_sweep
from tissue.sweep.cluster import _trunks
from tissue.sweep.member import MemberTask

distributed = pytest.importorskip("distributed")

RESECTION = "interventions.resection.start_day"


def write_sweep(folder: Path, branch: str, grid: dict[str, list[Any]]) -> Path:
    """The busy metastasis model to day 0.25, seeds 3 and 4, over ``grid``."""
    fixed = {**BASE, **OUTPUTS, "run.days": 0.25}
    lines = ['scenario = "metastasis"', "seed = 3", "replicates = 2", branch, "[set]"]
    lines += [f'"{key}" = {json.dumps(value)}' for key, value in fixed.items() if key not in grid]
    lines += ["[grid]", *(f'"{key}" = {json.dumps(values)}' for key, values in grid.items())]
    path = folder / "sweep.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as local:  # fmt: skip
        yield local


def test_branched_members_equal_members_run_from_day_0(tmp_path: Path, cluster: Any) -> None:
    """Resection at day 0.2 or never, two seeds, branched at day 0.15: two trunks, and a
    results table equal, value for value, to the same sweep without ``branch_day``; each
    member's run file names its trunk, whose run ends at the branch."""
    grid = {RESECTION: [0.2, 10000.0]}
    address = cluster.scheduler_address
    plain = run_sweep(load_sweep(write_sweep(tmp_path, "", grid)), tmp_path / "plain",
                      scheduler=address, backend="cpu")  # fmt: skip
    (tmp_path / "b").mkdir()
    path = write_sweep(tmp_path / "b", "branch_day = 0.15", grid)
    branched = run_sweep(load_sweep(path), tmp_path / "branched", scheduler=address,
                         backend="cpu")  # fmt: skip
    assert branched.count("complete") == plain.count("complete") == 4
    assert json.loads((tmp_path / "branched" / "sweep.json").read_text())["branch_day"] == 0.15
    rows = [read_results(tmp_path / out).rows for out in ("branched", "plain")]
    for row in (*rows[0], *rows[1]):
        row.pop("wall_s")
    assert rows[0] == rows[1]
    trunks = sorted((tmp_path / "branched" / "trunks").iterdir())
    assert len(trunks) == 2
    ids = {RunReader(t / "run.h5").run_id: t for t in trunks}
    for trunk in trunks:
        series = RunReader(trunk / "run.h5").timeseries()
        assert series["tick"][-1] == 72  # day 0.15 of 3-min ticks
    for row in branched.rows:
        member = tmp_path / "branched" / "members" / row.member_id / "run.h5"
        with h5py.File(member, "r") as handle:
            assert handle.attrs["branched_from"] in ids
            assert int(handle.attrs["branched_at_tick"]) == 72
        other = tmp_path / "plain" / "members" / row.member_id / "run.h5"
        mine, theirs = RunReader(member).timeseries(), RunReader(other).timeseries()
        for key, values in theirs.items():
            np.testing.assert_array_equal(mine[key], values, err_msg=key)
    resected = [r for r in branched.rows if r.parameters[RESECTION] == 0.2]
    assert all(r.observables["breast.whole_tumour.cells"] == 0 for r in resected)


def test_only_members_that_can_share_a_trunk_are_grouped(tmp_path: Path) -> None:
    """Per seed, the members that differ only in an intervention still to come share a
    trunk; a member that differs in a parameter, or whose intervention has begun by the
    branch day, runs alone, as does a group of one."""
    grid = {
        RESECTION: [0.2, 10000.0],
        "fields.il1b.decay_per_min": [0.05, 0.06],
        "interventions.anti_s100.start_day": [0.1, 0.12],
    }
    plan = load_sweep(write_sweep(tmp_path, "branch_day = 0.15", grid))

    def tasks_of(members: list[Any]) -> dict[str, MemberTask]:
        return {
            m.member_id: MemberTask(m.member_id, str(tmp_path), m.scenario, m.seed, m.parameters)
            for m in members
        }

    tasks = tasks_of(plan.valid)
    trunks = _trunks(tasks, 0.15, tmp_path / "trunks")
    groups: dict[str, list[dict[str, Any]]] = {}
    for task in tasks.values():
        groups.setdefault(task.trunk, []).append({**task.parameters, "seed": task.seed})
    assert len(trunks) == 8  # 2 decays x 2 antibody starts x 2 seeds, each with both resections
    assert "" not in groups
    for members in groups.values():
        assert sorted(m[RESECTION] for m in members) == [0.2, 10000.0]
        assert (
            len({json.dumps({k: v for k, v in m.items() if k != RESECTION}) for m in members}) == 1
        )
    assert all(t.scenario.run.days == 0.15 for t in trunks.values())
    alone = tasks_of([m for m in plan.valid if m.parameters[RESECTION] == 0.2])
    assert _trunks(alone, 0.15, tmp_path) == {}, "a group of one runs alone"
    assert all(task.trunk == "" for task in alone.values())
