"""The ``tissue`` command line.

Exit codes: 0 success; 2 bad input (one line naming the file, key and what is allowed,
no traceback); 130 interrupted; 1 a bug (with its traceback).
"""

from __future__ import annotations

import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from tissue.console import (
    DAYS_OPTION,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    console,
    fail_on_input_errors,
    out_option,
    set_option,
)
from tissue.errors import InputError


class OneLineErrors(click.Group):
    """A group whose usage errors (a missing argument, an unknown option, a bad number) are
    one line, ``error: tissue run: ...``, with exit code 2, like every other refusal."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        kwargs.setdefault("prog_name", "tissue")
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as error:
            error.show()
            sys.exit(error.exit_code)
        except click.ClickException as error:
            where = error.ctx.command_path if getattr(error, "ctx", None) else "tissue"
            message = " ".join(error.format_message().split())
            click.echo(f"error: {where}: {message} (see {where} --help)", err=True)
            sys.exit(error.exit_code)
        except click.exceptions.Abort:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tissue")
def main() -> None:
    """tissue: 3-D tissue simulations of cancer metastasis on CPU or GPU."""


BACKEND_OPTION = click.option(
    "--backend",
    type=click.Choice(["auto", "cpu", "gpu"]),
    default="auto",
    show_default=True,
    help="Array backend; auto picks the GPU when CuPy sees one.",
)
QUIET_OPTION = click.option("--quiet", is_flag=True, help="No progress bar or summary.")


@main.command()
@click.argument("scenario")
@out_option("Output folder (created).")
@BACKEND_OPTION
@click.option("--seed", type=int, default=None, help="Random seed (default: the scenario's).")
@DAYS_OPTION
@set_option("Override a scenario value, e.g. cell_types.tumour.speed_um_per_min=0.5.")
@click.option(
    "--snapshot-every",
    type=float,
    default=None,
    metavar="MIN",
    help="Simulated minutes between snapshots (default: run.snapshot_interval_min).",
)
@click.option(
    "--checkpoint-every",
    type=float,
    default=None,
    metavar="MIN",
    help="Simulated minutes between checkpoints (always: at the end and on a signal).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the run already in OUT (its files are removed first).",
)
@QUIET_OPTION
@fail_on_input_errors
def run(
    scenario: str,
    out_dir: str,
    backend: str,
    seed: int | None,
    days: float | None,
    overrides: tuple[str, ...],
    snapshot_every: float | None,
    checkpoint_every: float | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Run SCENARIO (a built-in name or a .toml file), writing run.h5, timeseries.csv and
    checkpoint.h5 to OUT. SIGINT or SIGTERM writes a checkpoint and exits with code 130;
    `tissue resume OUT` continues. A folder holding another run is refused unless
    --overwrite."""
    from tissue.config import load_scenario, parse_override
    from tissue.limits import check_seed
    from tissue.runner import RunSettings, deferred_signals
    from tissue.schedule import Schedule
    from tissue.simulation import Simulation

    with deferred_signals() as stop:
        parsed = dict(parse_override(text) for text in overrides)
        loaded = load_scenario(scenario, parsed)
        if seed is not None:
            check_seed(seed, "--seed")
        settings = RunSettings(
            target_days=loaded.run.days if days is None else days,
            snapshot_every_min=(
                loaded.run.snapshot_interval_min if snapshot_every is None else snapshot_every
            ),
            checkpoint_every_min=0.0 if checkpoint_every is None else checkpoint_every,
        )
        if checkpoint_every is not None and checkpoint_every == 0:
            raise InputError("--checkpoint-every", "0", "allowed: a positive interval")
        settings.checked(Schedule.from_scenario(loaded).base_min, CLI_NAMES)
        sim = Simulation(loaded, backend=backend, seed=seed)
        _drive(sim, Path(out_dir), settings, "", stop=stop, quiet=quiet, overwrite=overwrite)


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--days",
    type=float,
    default=None,
    help="Run until this simulated day (default: the day the run was started for).",
)
@BACKEND_OPTION
@QUIET_OPTION
@fail_on_input_errors
def resume(out_dir: str, days: float | None, backend: str, quiet: bool) -> None:
    """Continue the run in OUT from its checkpoint, exactly as if it had never stopped
    (on any backend)."""
    from tissue.limits import check_days
    from tissue.runner import CHECKPOINT_FILE, RunSettings, deferred_signals
    from tissue.simulation import load_checkpoint

    with deferred_signals() as stop:
        out = Path(out_dir)
        if not (out / CHECKPOINT_FILE).is_file() and (out / "run.h5").is_file():
            raise InputError(
                str(out / CHECKPOINT_FILE),
                "",
                "no checkpoint to resume from: the run stopped before writing its first one; "
                "allowed: start it again with `tissue run ... --overwrite` (and a shorter "
                "--checkpoint-every)",
            )
        checkpoint = load_checkpoint(out / CHECKPOINT_FILE, backend=backend)
        settings = RunSettings.from_stored(
            checkpoint.settings, checkpoint.simulation.scenario, str(checkpoint.path)
        )
        if days is not None:
            check_days(days, "--days")
            settings = RunSettings(days, settings.snapshot_every_min, settings.checkpoint_every_min)
        sim = checkpoint.simulation
        if sim.tick >= sim.ticks_for(settings.target_days):
            click.echo(
                f"{out}: the run is at day {sim.time_min / 1440:g}, already at or past day "
                f"{settings.target_days:g}; use --days to go further",
                err=True,
            )
            return
        if not quiet:
            click.echo(
                f"resuming {out} at day {sim.time_min / 1440:g} "
                f"(written on {checkpoint.written_on}, continuing on {sim.backend.name})",
                err=True,
            )
        _drive(sim, out, settings, checkpoint.run_id or "-", stop=stop, quiet=quiet)


@main.command()
@click.argument("trunk_dir", metavar="RUN", type=click.Path(file_okay=False))
@click.argument("scenario")
@out_option("Output folder of the branch (created).")
@BACKEND_OPTION
@DAYS_OPTION
@set_option("Override a value of SCENARIO, e.g. interventions.resection.start_day=10.")
@click.option(
    "--checkpoint-every",
    type=float,
    default=None,
    metavar="MIN",
    help="Simulated minutes between checkpoints (default: RUN's).",
)
@click.option("--overwrite", is_flag=True, help="Replace the run already in OUT.")
@QUIET_OPTION
@fail_on_input_errors
def branch(
    trunk_dir: str,
    scenario: str,
    out_dir: str,
    backend: str,
    days: float | None,
    overrides: tuple[str, ...],
    checkpoint_every: float | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Continue the run in RUN from its checkpoint as SCENARIO, into OUT: SCENARIO may differ
    from RUN's only in interventions still to come (and its name, description and length),
    so that OUT holds SCENARIO's own run from day 0 with RUN's seed, bit for bit (RUN's rows
    and snapshots up to the branch are copied in). RUN is left as it is; treatments that
    share a history cost one run of it. Stop RUN where the first treatment starts (`tissue
    run ... --days D`), branch each treatment, and `tissue resume RUN --days ...` for the
    untreated run."""
    from tissue.config import load_scenario, parse_override
    from tissue.runner import (
        CHECKPOINT_FILE,
        RUN_FILE,
        RunSettings,
        check_belongs,
        deferred_signals,
    )
    from tissue.simulation import load_checkpoint

    with deferred_signals() as stop:
        trunk, out = Path(trunk_dir), Path(out_dir)
        if out.resolve() == trunk.resolve():
            raise InputError(str(out), "-o", "is RUN itself; allowed: another folder")
        if not (trunk / CHECKPOINT_FILE).is_file():
            raise InputError(
                str(trunk / CHECKPOINT_FILE), "", "no checkpoint to branch from; allowed: a "
                "folder written by `tissue run` or `tissue resume`, stopped or finished"
            )  # fmt: skip
        checkpoint = load_checkpoint(trunk / CHECKPOINT_FILE, backend=backend)
        check_belongs(trunk, checkpoint.run_id, "branch a folder whose files belong to one run")
        loaded = load_scenario(scenario, dict(parse_override(text) for text in overrides))
        sim = checkpoint.simulation.branch(loaded)
        stored = RunSettings.from_stored(checkpoint.settings, sim.scenario, str(checkpoint.path))
        settings = RunSettings(
            target_days=loaded.run.days if days is None else days,
            snapshot_every_min=stored.snapshot_every_min,  # RUN's: one cadence in OUT
            checkpoint_every_min=(
                stored.checkpoint_every_min if checkpoint_every is None else checkpoint_every
            ),
        )
        if checkpoint_every is not None and checkpoint_every == 0:
            raise InputError("--checkpoint-every", "0", "allowed: a positive interval")
        settings.checked(sim.schedule.base_min, CLI_NAMES)
        if sim.tick >= sim.ticks_for(settings.target_days):
            raise InputError(
                "--days", f"{settings.target_days:g}", f"RUN is at day {sim.time_min / 1440:g} "
                "already; allowed: a later day"
            )  # fmt: skip
        if not quiet:
            click.echo(
                f"branching {trunk} at day {sim.time_min / 1440:g} as {sim.scenario.name} "
                f"into {out}",
                err=True,
            )
        _drive(sim, out, settings, "", stop=stop, quiet=quiet, overwrite=overwrite,
               history=trunk / RUN_FILE)  # fmt: skip


CLI_NAMES = {
    "target_days": "--days",
    "snapshot_every_min": "--snapshot-every",
    "checkpoint_every_min": "--checkpoint-every",
}


def _drive(
    sim: Any,
    out: Path,
    settings: Any,
    resume_id: str,
    stop: Any,
    quiet: bool,
    overwrite: bool = False,
    history: Path | None = None,
) -> None:
    """Run to the target with files in ``out`` (a new run, a branch of the run whose file
    is ``history``, or resuming the run ``resume_id``; "-" for a checkpoint saved outside a
    run); exit 130 after a signal, 2 when the run file or the final checkpoint could not be
    written."""
    from tissue.io.runfile import RunFileError
    from tissue.runner import Runner

    def report(message: str) -> None:
        click.echo(f"warning: {message}", err=True)

    runner = Runner(
        sim,
        out,
        settings,
        resume=bool(resume_id),
        report=report,
        overwrite=overwrite,
        run_id="" if resume_id in ("", "-") else resume_id,
        history=history,
    )
    started = time.perf_counter()
    try:
        if quiet:
            status = runner.run(stop)
        else:
            status = _run_with_progress(runner, stop, sim.scenario.name, sim.backend.name)
    except RunFileError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_INPUT)
    elapsed = time.perf_counter() - started
    if status == "incomplete":
        click.echo(
            f"error: the run reached day {sim.time_min / 1440:g} but its final checkpoint "
            f"could not be written (see the warning above); {out / 'run.h5'} is marked "
            "incomplete",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    if status == "interrupted":
        click.echo(
            f"interrupted at day {sim.time_min / 1440:g}: checkpoint in "
            f"{runner.checkpoint_path}; continue with `tissue resume {out}`",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    if not quiet:
        _print_summary(sim.observables(), elapsed, settings.target_days, out)


def _run_with_progress(runner: Any, stop: Any, name: str, backend: str) -> str:
    sim = runner.sim
    total = runner.total_ticks
    days = runner.settings.target_days
    columns = (
        TextColumn(f"[bold]{name}[/] on {backend}"),
        BarColumn(),
        TextColumn("day {task.fields[day]:.2f}/{task.fields[days]:.2f}"),
        TextColumn("{task.fields[cells]} cells"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(
            "run", total=total, completed=sim.tick, day=sim.time_min / 1440, days=days, cells=0
        )
        every = max(1, total // 400)

        def report(done: int, _total: int) -> None:
            if done % every == 0 or done == _total:
                cells = 0
                for organ in sim.organs.values():
                    organ.cells.settle()  # a few hundred reads a run, for the display
                    cells += organ.cells.n
                progress.update(task, completed=done, day=sim.time_min / 1440, cells=cells)

        return str(runner.run(stop, progress=report))


def _print_summary(observables: dict[str, float], elapsed: float, days: float, out: Path) -> None:
    from tissue.report import summary_tables

    console = Console()
    console.print(f"[bold]after {days:g} days[/bold] ({elapsed:.1f} s wall)")
    for table in summary_tables(observables):
        console.print(table)
    console.print(f"run file: {out / 'run.h5'} (time series also in {out / 'timeseries.csv'})")


@main.command()
@click.argument("run_path", metavar="RUN", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@fail_on_input_errors
def summary(run_path: str, as_json: bool) -> None:
    """Print the final observables of RUN (a run.h5 or the folder holding it)."""
    import json

    from tissue.io.runfile import RunReader
    from tissue.runner import RUN_FILE

    path = Path(run_path)
    if path.is_dir():
        path = path / RUN_FILE
    reader = RunReader(path)
    final = reader.final()
    if as_json:
        record = {
            "file": str(path),
            "scenario": reader.scenario_name,
            "seed": reader.seed,
            "backend": reader.backend,
            "status": reader.status,
            "tissue_version": reader.tissue_version,
            "tissue_commit": reader.tissue_commit,
            "snapshots": len(reader.snapshots),
            "observables": final,
        }
        click.echo(json.dumps(record, indent=2, allow_nan=True))
        return
    from tissue.report import summary_tables

    day = final.get("time_min", 0.0) / 1440
    console = Console()
    console.print(
        f"[bold]{reader.scenario_name}[/bold], seed {reader.seed}, {reader.backend}: "
        f"{reader.status} at day {day:g}"
    )
    for table in summary_tables(final):
        console.print(table)
    console.print(f"{len(reader.snapshots)} snapshots; {path}")


@main.command("import-physicell")
@click.argument("project", type=click.Path())
@click.option(
    "-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False),
    help="The scenario file to write (.toml).",
)  # fmt: skip
@click.option(
    "--lenient", is_flag=True,
    help="Drop or approximate what tissue cannot express, with a warning each (default: fail).",
)  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace the scenario file if it exists.")
@fail_on_input_errors
def import_physicell(project: str, out_path: str, lenient: bool, overwrite: bool) -> None:
    """Convert a PhysiCell project (a folder with config/PhysiCell_settings.xml, its rules CSV
    and cells CSV, as PhysiCell Studio writes them; or the settings file itself) into a
    commented tissue scenario. Strict by default: every element or rule tissue cannot
    express is listed with its file and line, and nothing is written."""
    from tissue.io.physicell import UnsupportedModel
    from tissue.io.physicell import import_physicell as convert

    out = Path(out_path)
    if out.exists() and not overwrite:
        raise InputError(out_path, "", "exists; pass --overwrite to replace it")
    try:
        imported = convert(project, lenient=lenient)
    except UnsupportedModel as error:
        for finding in error.findings:
            click.echo(f"  {finding}", err=True)
        raise
    for finding in imported.dropped:
        click.echo(f"warning: {finding}", err=True)
    out.write_text(imported.toml)
    scenario = imported.scenario
    click.echo(
        f"{out_path}: {len(scenario.cell_types)} cell types, {len(scenario.fields)} fields, "
        f"{len(scenario.rules)} rules"
        + (f"; {len(imported.dropped)} parts dropped or approximated" if lenient else "")
    )


@main.command("export-physicell")
@click.argument("run_path", metavar="RUN", type=click.Path())
@out_option("Folder to write (made if absent).")
@click.option(
    "--organ", default=None,
    help="The organ to write (default: every organ; several go in subfolders by name).",
)  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace PhysiCell output already in the folder.")
@fail_on_input_errors
def export_physicell(run_path: str, out_dir: str, organ: str | None, overwrite: bool) -> None:
    """Write RUN's snapshots (a run.h5 or the folder holding it) as PhysiCell output:
    MultiCellDS v2 XML, MATLAB .mat tables and cell graphs, which PhysiCell's tools (pcdl,
    PhysiCell Studio) read."""
    from tissue.io.multicellds import export_physicell
    from tissue.runner import RUN_FILE

    path = Path(run_path)
    if path.is_dir():
        path = path / RUN_FILE
    written = export_physicell(path, out_dir, organ, overwrite=overwrite)
    click.echo(f"{len(written)} outputs written to {out_dir}")


@main.command()
@fail_on_input_errors
def scenarios() -> None:
    """List the built-in scenarios."""
    from tissue.config import builtin_scenarios

    table = Table(show_header=True)
    table.add_column("name")
    table.add_column("description")
    for name, description in builtin_scenarios().items():
        table.add_row(name, description)
    Console().print(table)


@main.command()
def info() -> None:
    """Versions, the backend `auto` picks, and the GPU's name and memory."""
    from tissue.backend import cupy_device_count, get_backend

    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    lines = {
        "tissue": pkg("tissue"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": pkg("numpy"),
        "pydantic": pkg("pydantic"),
    }
    cupy_version = next(
        (pkg(n) for n in ("cupy-cuda13x", "cupy-cuda12x", "cupy") if pkg(n) != "not installed"),
        "not installed",
    )
    lines["cupy"] = cupy_version
    devices = cupy_device_count()
    backend = get_backend("auto")
    lines["backend (auto)"] = backend.name
    if devices:
        gpu = get_backend("gpu")
        memory = gpu.memory_bytes() or 0
        lines["gpu"] = f"{gpu.device_name}, {memory / 2**30:.1f} GiB ({devices} device(s))"
    else:
        lines["gpu"] = "none visible"
    for key, value in lines.items():
        click.echo(f"{key:15} {value}")


def _add_plugin_commands() -> None:
    """Commands of installed packages under the ``tissue.commands`` entry points (viz adds
    render, movie and plot), so that this package never imports them by name."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="tissue.commands"):
        if entry.name in main.commands:
            continue
        try:
            command = entry.load()
        except ImportError as error:  # an extra that is not installed
            reason = f"needs an extra that is not installed ({error})"

            @click.command(name=entry.name, help=f"(unavailable: {reason})")
            def unavailable(reason: str = reason) -> None:
                click.echo(f"error: {reason}; pip install 'tissue[viz]'", err=True)
                sys.exit(EXIT_INPUT)

            command = unavailable
        main.add_command(command, entry.name)


_add_plugin_commands()

if __name__ == "__main__":
    main()
