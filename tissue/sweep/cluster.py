"""Running a sweep's members on Dask distributed and gathering their results.

A local cluster (one process per worker, one thread each, so one member per worker at a time)
by default, or an existing scheduler: dask-jobqueue on Slurm, dask-cuda with one worker per
GPU (see docs/sweeps.md). Members already finished in ``OUT/members`` are not submitted; each
submitted member is retried ``retries`` times after an error, and Dask runs the members of a
lost worker again elsewhere (members are idempotent: see :mod:`tissue.sweep.member`).

With the plan's ``branch_day``, the pending members of one seed that can all continue a run
of the first of them at that day (:func:`tissue.simulation.branch_conflict`) share it: the
trunk runs once into ``OUT/trunks/<id>`` (a member of its own, ending at ``branch_day``) and
each member of the group is branched from its checkpoint once it is done (a Dask dependency);
a member that cannot be branched, or is alone, runs from day 0 as before. The results are the
same bits either way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tissue.errors import InputError
from tissue.io.hdf5 import one_line, package_version
from tissue.sweep.member import (
    MemberError,
    MemberOutcome,
    MemberTask,
    attempts_started,
    finished_outcome,
    run_member,
)
from tissue.sweep.results import MemberRow, write_results
from tissue.sweep.spec import SweepPlan

if TYPE_CHECKING:
    from distributed import Client

    from tissue.backend import BackendName

MEMBERS_DIR = "members"
TRUNKS_DIR = "trunks"


@dataclass(frozen=True)
class SweepReport:
    """What a sweep ended with.

    Attributes:
        rows: one per member, in sweep order.
        table: the path of results.csv.
        skipped: members finished by an earlier run of the sweep (not run again).
    """

    rows: list[MemberRow]
    table: Path
    skipped: int

    def count(self, status: str) -> int:
        """Members with ``status`` (complete, failed, invalid or pending)."""
        return sum(row.status == status for row in self.rows)


def require_distributed() -> None:
    """Raises InputError (one line) when Dask distributed is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise InputError(
            "dask", "", "not installed; sweeps run on Dask: pip install 'tissue[dask]'"
        ) from None


def run_sweep(
    plan: SweepPlan,
    out: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    retries: int = 2,
    backend: BackendName = "auto",
    on_start: Callable[[Client, int], None] | None = None,
    on_member: Callable[[MemberRow], None] | None = None,
) -> SweepReport:
    """Run every valid member of ``plan`` not yet finished in ``out``, then write the table.

    Args:
        out: the sweep's output folder (on a file system every worker sees).
        workers: local worker processes (default: one per CPU core); ignored with a scheduler.
        scheduler: address of a running Dask scheduler (``tcp://host:8786``).
        retries: runs of a failed member after its first, before it is reported failed.
        backend: the members' array backend.
        on_start: called with the client and the number of members submitted.
        on_member: called with each member's row as it finishes or fails.

    Raises:
        InputError: no member is valid (the first one's error), Dask is missing, the
            scheduler cannot be reached or the output folder cannot be written.
    """
    require_distributed()
    if not plan.valid:
        raise next(member.error for member in plan.members if member.error is not None)
    out = Path(out).resolve()
    members_dir = out / MEMBERS_DIR
    try:
        members_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(str(out), "-o", f"cannot write the output folder ({error})") from None
    rows = {m.member_id: _row(m, "invalid", error=str(m.error)) for m in plan.members if m.error}
    tasks: dict[str, MemberTask] = {}
    for member in plan.valid:
        done = finished_outcome(members_dir / member.member_id)
        if done is not None:
            rows[member.member_id] = _complete(member, done)
        else:
            rows.setdefault(member.member_id, _row(member, "pending"))
            tasks[member.member_id] = MemberTask(
                member.member_id, str(members_dir), member.scenario,  # type: ignore[arg-type]
                member.seed, member.parameters, backend, plan.checkpoint_every_min,
            )  # fmt: skip
    trunks = _trunks(tasks, plan.branch_day, out / TRUNKS_DIR) if plan.branch_day else {}
    skipped = sum(row.status == "complete" for row in rows.values())
    info = {
        "name": plan.name,
        "description": plan.description,
        "source": plan.source,
        "scenario": plan.scenario_source,
        "branch_day": plan.branch_day,
        "tissue_version": package_version(),
    }
    try:
        if tasks:
            for member_id, row in _run_tasks(tasks, trunks, workers, scheduler, retries, on_start):
                rows[member_id] = row
                if on_member is not None:
                    on_member(row)
    finally:
        ordered = [rows[member.member_id] for member in plan.members]
        table = write_results(out, ordered, plan.parameters, info)
    return SweepReport(ordered, table, skipped)


def _trunks(
    tasks: dict[str, MemberTask], branch_day: float, trunks_dir: Path
) -> dict[str, MemberTask]:
    """Group the tasks that can share a run to ``branch_day`` (same seed, and each a branch
    of the group's first at that day); point each grouped task (in ``tasks``) at its trunk's
    folder and return the trunks' own tasks by trunk id."""
    from tissue.schedule import Schedule
    from tissue.simulation import branch_conflict
    from tissue.sweep.spec import member_id

    groups: list[list[str]] = []
    for key, task in tasks.items():
        schedule = Schedule.from_scenario(task.scenario)
        tick = schedule.ticks_of_days(branch_day)
        if tick >= schedule.ticks_of_days(task.scenario.run.days):
            continue
        for group in groups:
            first = tasks[group[0]]
            if first.seed == task.seed and (
                branch_conflict(first.scenario, task.scenario, tick, schedule) is None
            ):
                group.append(key)
                break
        else:
            groups.append([key])
    trunks = {}
    for group in (g for g in groups if len(g) > 1):
        first = tasks[group[0]]
        scenario = first.scenario.with_overrides({"run.days": branch_day})
        trunk_id = member_id(scenario, first.seed)
        trunks[trunk_id] = MemberTask(
            trunk_id, str(trunks_dir), scenario, first.seed, {}, first.backend,
            first.checkpoint_every_min,
        )  # fmt: skip
        for key in group:
            tasks[key] = replace(tasks[key], trunk=str(trunks_dir / trunk_id))
    return trunks


def _run_tasks(
    tasks: dict[str, MemberTask],
    trunks: dict[str, MemberTask],
    workers: int | None,
    scheduler: str | None,
    retries: int,
    on_start: Callable[[Client, int], None] | None,
) -> Iterator[tuple[str, MemberRow]]:
    """Submit every trunk and task (a task after its trunk); yield (member id, row) as each
    task finishes or fails."""
    from distributed import as_completed

    def key(kind: str, name: str) -> str:
        return f"{kind}-{name}-{os.urandom(4).hex()}"

    with _client(workers, scheduler) as client:
        before = {
            str(Path(task.members_dir) / trunk_id): client.submit(
                run_member, task, key=key("trunk", trunk_id), retries=retries, pure=False
            )
            for trunk_id, task in trunks.items()
        }
        futures = {
            client.submit(
                run_member, task, *([before[task.trunk]] if task.trunk else []),
                key=key("member", member_id), retries=retries, pure=False,
            ): member_id
            for member_id, task in tasks.items()
        }  # fmt: skip
        if on_start is not None:
            on_start(client, len(futures))
        for future in as_completed(futures):
            member_id = futures[future]
            task = tasks[member_id]
            if future.status == "finished":
                row = _complete(task, future.result())
            else:
                error = future.exception()
                text = (
                    str(error)
                    if isinstance(error, MemberError)
                    else f"{type(error).__name__}: {one_line(error)}"
                )
                row = MemberRow(
                    member_id, task.seed, "failed", task.parameters, text,
                    attempts_started(Path(task.members_dir), member_id),
                )  # fmt: skip
            future.release()
            yield member_id, row


@contextmanager
def _client(workers: int | None, scheduler: str | None) -> Iterator[Client]:
    """A client of ``scheduler``, or of a new local cluster of ``workers`` processes with one
    thread each (closed on leaving)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as error:
            raise InputError(
                "--scheduler", scheduler, f"cannot connect ({one_line(error)})"
            ) from None
        with client:
            yield client
        return
    count = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _row(member: Any, status: str, error: str = "") -> MemberRow:
    return MemberRow(member.member_id, member.seed, status, member.parameters, error)


def _complete(member: Any, outcome: MemberOutcome) -> MemberRow:
    return MemberRow(
        member.member_id, member.seed, "complete", member.parameters, "",
        outcome.attempts, outcome.wall_s, outcome.observables,
    )  # fmt: skip
