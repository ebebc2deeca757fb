"""`tissue sweep`: added to the command line through the ``tissue.commands`` entry points.

Exit codes: 0 every member complete; 2 bad input (the sweep file, its scenario, or members
whose values the scenario refuses: those are listed, and the others still run); 1 some members
failed after their retries (listed with their errors in the table); 130 interrupted (members
in flight continue from their checkpoints when the sweep is run again).
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from tissue.console import EXIT_INPUT, console, fail_on_input_errors, out_option
from tissue.errors import InputError

if TYPE_CHECKING:
    from tissue.backend import BackendName
    from tissue.sweep.cluster import SweepReport
    from tissue.sweep.results import MemberRow
    from tissue.sweep.spec import SweepPlan

EXIT_FAILED = 1
SHOWN_ERRORS = 10


@click.command()
@click.argument("sweep_file", metavar="SWEEP")
@out_option(
    "Output folder: members/, results.csv, sweep.json (on a file system every worker sees)."
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Local worker processes, one member each at a time (default: one per CPU core).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="A running Dask scheduler instead, e.g. tcp://HOST:8786 (Slurm, multi-GPU).",
)
@click.option(
    "--retries",
    type=int,
    default=2,
    show_default=True,
    help="Runs of a failed member after its first before it is reported failed.",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "cpu", "gpu"]),
    default="auto",
    show_default=True,
    help="Array backend of every member; auto picks the worker's GPU when CuPy sees one.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Validate and list the members; run nothing (exit 2 if any is refused).",
)
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
@fail_on_input_errors
def sweep(
    sweep_file: str,
    out_dir: str,
    workers: int | None,
    scheduler: str | None,
    retries: int,
    backend: BackendName,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Run the members of SWEEP (a sweep .toml file or a built-in sweep's name) on Dask,
    each into OUT/members/<id>/, and gather their final observables into OUT/results.csv.
    Running it again skips finished members and resumes unfinished ones."""
    from tissue.sweep.cluster import require_distributed, run_sweep
    from tissue.sweep.spec import load_sweep

    if workers is not None and scheduler is not None:
        raise InputError("--workers", str(workers), "allowed: --workers or --scheduler, not both")
    if workers is not None and workers < 1:
        raise InputError("--workers", str(workers), "allowed: 1 or more")
    if retries < 0:
        raise InputError("--retries", str(retries), "allowed: 0 or more")
    plan = load_sweep(sweep_file)
    if dry_run:
        _print_members(plan)
        if any(member.error is not None for member in plan.members):
            sys.exit(EXIT_INPUT)
        return
    require_distributed()
    invalid = [m for m in plan.members if m.error is not None]
    if not quiet:
        click.echo(
            f"sweep {plan.name}: {len(plan.members)} members of {plan.scenario_source}"
            + (f", {len(invalid)} refused by the scenario" if invalid else ""),
            err=True,
        )
    with _terminate_as_interrupt():
        if quiet:
            report = run_sweep(plan, out_dir, workers, scheduler, retries, backend)
        else:
            report = _run_with_progress(plan, out_dir, workers, scheduler, retries, backend)
    _finish(report.rows, report.table, report.skipped, quiet)


def _run_with_progress(
    plan: SweepPlan,
    out_dir: str,
    workers: int | None,
    scheduler: str | None,
    retries: int,
    backend: BackendName,
) -> SweepReport:
    from tissue.sweep.cluster import run_sweep

    columns = (
        TextColumn(f"[bold]{plan.name}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("members, {task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    progress = Progress(*columns, console=console, transient=False)
    task = progress.add_task("members", total=None, failed=0)

    def started(client: Any, submitted: int) -> None:
        workers_now = len(client.scheduler_info().get("workers", {}))
        where = f" ({client.scheduler.address})" if scheduler else ""
        console.print(f"running {submitted} members on {workers_now} workers{where}")
        progress.update(task, total=submitted)
        progress.start()

    def finished(row: MemberRow) -> None:
        failed = progress.tasks[0].fields["failed"] + (row.status == "failed")
        progress.update(task, advance=1, failed=failed)

    try:
        return run_sweep(
            plan, out_dir, workers, scheduler, retries, backend,
            on_start=started, on_member=finished,
        )  # fmt: skip
    finally:
        if progress.live.is_started:
            progress.stop()


def _finish(rows: list[MemberRow], table: Path, skipped: int, quiet: bool) -> None:
    """Print the outcome and the errors; exit 2 if members were refused, 1 if any failed."""
    failed = [row for row in rows if row.status in ("failed", "invalid")]
    complete = sum(row.status == "complete" for row in rows)
    for row in failed[:SHOWN_ERRORS]:
        click.echo(f"{row.status}: member {row.member_id}: {row.error}", err=True)
    if len(failed) > SHOWN_ERRORS:
        click.echo(f"... and {len(failed) - SHOWN_ERRORS} more in {table}", err=True)
    if not quiet:
        click.echo(
            f"{complete} of {len(rows)} members complete"
            + (f" ({skipped} finished earlier)" if skipped else "")
            + f"; table: {table}",
            err=True,
        )
    if any(row.status == "invalid" for row in rows):
        sys.exit(EXIT_INPUT)
    if failed:
        sys.exit(EXIT_FAILED)


def _print_members(plan: SweepPlan) -> None:
    table = Table(title=f"{plan.name}: {len(plan.members)} members of {plan.scenario_source}")
    for column in ("#", "member_id", "seed", *plan.parameters, "check"):
        table.add_column(column)
    for member in plan.members:
        values = [json.dumps(member.parameters.get(key)) for key in plan.parameters]
        check = "ok" if member.error is None else "refused"
        table.add_row(str(member.index), member.member_id, str(member.seed), *values, check)
    Console().print(table)
    for member in plan.members:
        if member.error is not None:
            click.echo(f"refused: member {member.member_id}: {member.error}", err=True)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a batch system's stop) ends the sweep as Ctrl-C does: the cluster is closed
    and the table written, and the command exits with code 130."""

    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
