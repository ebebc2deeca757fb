"""The ``tissue`` command line.

Exit codes: 0 success; 2 bad input (one line naming the file, key and what is allowed,
no traceback); 130 interrupted; 1 a bug (with its traceback).
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from tissue.errors import InputError

console = Console(stderr=True)
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def _fail_on_input_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn InputError into one line on stderr and exit code 2; Ctrl-C into 130."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_INPUT)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tissue")
def main() -> None:
    """tissue: 3-D tissue simulations of cancer metastasis on CPU or GPU."""


@main.command()
@click.argument("scenario")
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder (created).",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "cpu", "gpu"]),
    default="auto",
    show_default=True,
    help="Array backend; auto picks the GPU when CuPy sees one.",
)
@click.option("--seed", type=int, default=None, help="Random seed (default: the scenario's).")
@click.option("--days", type=float, default=None, help="Simulated days (default: the scenario's).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a scenario value, e.g. cell_types.tumour.speed_um_per_min=0.5.",
)
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
@_fail_on_input_errors
def run(
    scenario: str,
    out_dir: str,
    backend: str,
    seed: int | None,
    days: float | None,
    overrides: tuple[str, ...],
    quiet: bool,
) -> None:
    """Run SCENARIO (a built-in name or a .toml file) and write its time series to OUT."""
    from tissue.config import load_scenario, parse_override
    from tissue.observers import TimeSeriesCSV
    from tissue.simulation import Simulation

    parsed = dict(parse_override(text) for text in overrides)
    loaded = load_scenario(scenario, parsed)
    for warning in loaded.warnings():
        click.echo(f"warning: {warning}", err=True)
    if days is not None and days <= 0:
        raise InputError("--days", str(days), "allowed: a positive number of days")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "scenario.toml").write_text(loaded.to_toml())
    except OSError as error:
        raise InputError(str(out), "-o", f"cannot write the output folder ({error})") from None
    sim = Simulation(loaded, backend=backend, seed=seed)
    series = TimeSeriesCSV(out / "timeseries.csv")
    sim.add_observer(series)
    run_days = loaded.run.days if days is None else days
    started = time.perf_counter()
    try:
        if quiet:
            sim.run(days=run_days)
        else:
            _run_with_progress(sim, run_days, loaded.name, sim.backend.name)
    finally:
        series.close()
    elapsed = time.perf_counter() - started
    if not quiet:
        _print_summary(sim.observables(), elapsed, run_days, out)


def _run_with_progress(sim: Any, days: float, name: str, backend: str) -> None:
    total = sim.ticks_for(days)
    columns = (
        TextColumn(f"[bold]{name}[/] on {backend}"),
        BarColumn(),
        TextColumn("day {task.fields[day]:.2f}/{task.fields[days]:.2f}"),
        TextColumn("{task.fields[cells]} cells"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("run", total=total, day=0.0, days=days, cells=0)
        every = max(1, total // 400)

        def report(done: int, _total: int) -> None:
            if done % every == 0 or done == _total:
                cells = sum(organ.cells.n for organ in sim.organs.values())
                progress.update(task, completed=done, day=sim.time_min / 1440, cells=cells)

        sim.run(days=days, progress=report)


def _print_summary(observables: dict[str, float], elapsed: float, days: float, out: Path) -> None:
    table = Table(title=f"after {days:g} days ({elapsed:.1f} s wall)", show_header=True)
    table.add_column("observable")
    table.add_column("value", justify="right")
    for key, value in observables.items():
        if key.startswith("time_"):
            continue
        table.add_row(key, f"{value:.4g}")
    Console().print(table)
    Console().print(f"time series: {out / 'timeseries.csv'}")


@main.command()
@_fail_on_input_errors
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


if __name__ == "__main__":
    main()
