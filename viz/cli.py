"""`tissue render`, `tissue movie` and `tissue plot` (of a run or a sweep): added to the tissue
command line through the ``tissue.commands`` entry points, so that tissue never imports viz."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tissue.console import console, fail_on_input_errors
from tissue.errors import InputError
from tissue.io.runfile import RunReader
from viz.scene import VIEWS, RenderOptions


def _reader(run_path: str) -> RunReader:
    path = Path(run_path)
    return RunReader(path / "run.h5" if path.is_dir() else path)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError("--size", text, "allowed: WIDTHxHEIGHT in pixels, e.g. 1200x900") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise InputError("--size", text, "allowed: 16 to 8192 pixels each way")
    return width, height


def scene_options(func):  # type: ignore[no-untyped-def]
    """The options render and movie share."""
    for option in reversed(
        [
            click.option("--organ", default=None, help="Organ to show (default: the first)."),
            click.option(
                "--field",
                default=None,
                help='Field to volume-render (default: the first; "" none).',
            ),
            click.option(
                "--view", type=click.Choice(list(VIEWS)), default="iso", show_default=True
            ),
            click.option("--no-cut", is_flag=True, help="Show the whole organ (no cut-away)."),
            click.option("--size", default="1200x900", show_default=True, help="WIDTHxHEIGHT."),
            click.option(
                "--front-type",
                "front_types",
                multiple=True,
                help="Cell type whose density makes the invasion front (default: tumour).",
            ),
            click.option(
                "--color-by",
                default=None,
                help="Colour cells by a per-cell attribute (e.g. oncoprotein), not by type.",
            ),
            click.option(
                "--front-level",
                type=float,
                default=0.2,
                show_default=True,
                help="Volume fraction of those cells on the front surface.",
            ),
        ]
    ):
        func = option(func)
    return func


def _options(organ, field, view, no_cut, size, front_types, color_by, front_level) -> RenderOptions:  # type: ignore[no-untyped-def]
    if not 0 < front_level < 1:
        raise InputError("--front-level", str(front_level), "allowed: between 0 and 1")
    return RenderOptions(
        organ=organ,
        field=field,
        view=view,
        cut=not no_cut,
        size=_size(size),
        front_types=list(front_types) or None,
        front_level=front_level,
        color_by=color_by,
    )


@click.command()
@click.argument("run_path", metavar="RUN")
@click.option("-o", "--out", "out_path", required=True, help="PNG file to write.")
@click.option("--snapshot", "which", type=int, default=-1, show_default=True,
              help="Snapshot index (negative counts from the end).")  # fmt: skip
@click.option("--last", is_flag=True, help="The last snapshot (the default).")
@scene_options
@fail_on_input_errors
def render(run_path: str, out_path: str, which: int, last: bool, **scene: object) -> None:
    """Render one snapshot of RUN (a run.h5 or its folder) to a PNG: tissue, a field, the
    invasion front and cells."""
    from viz.scene import render as render_snapshot

    reader = _reader(run_path)
    snap = reader.snapshot(-1 if last else which)
    render_snapshot(reader, snap.index, _options(**scene), out_path)
    click.echo(f"wrote {out_path} (snapshot {snap.index}, day {snap.time_min / 1440:g})", err=True)


@click.command()
@click.argument("run_path", metavar="RUN")
@click.option("-o", "--out", "out_path", required=True, help="Movie file: .mp4 or .gif.")
@click.option("--fps", type=float, default=4.0, show_default=True)
@scene_options
@fail_on_input_errors
def movie(run_path: str, out_path: str, fps: float, **scene: object) -> None:
    """A time-lapse of RUN's snapshots with a fixed camera and colour range."""
    from viz.movie import check_movie_path, write_movie

    check_movie_path(out_path)
    reader = _reader(run_path)
    options = _options(**scene)
    columns = (TextColumn("frames"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("movie", total=len(reader.snapshots))
        frames = write_movie(
            reader, out_path, options, fps,
            lambda done, _total: progress.update(task, completed=done),
        )  # fmt: skip
    click.echo(f"wrote {out_path} ({frames} frames)", err=True)


@click.command()
@click.argument("run_path", metavar="RUN")
@click.option("-o", "--out", "out_path", required=True, help="PNG file to write.")
@click.option("--size", default="1600x1000", show_default=True, help="WIDTHxHEIGHT.")
@click.option("--observable", default=None, help="Sweeps: the observable to plot.")
@click.option(
    "--x",
    "x_param",
    default=None,
    metavar="PARAMETER",
    help="Sweeps: the parameter along x (default: the sweep's first).",
)
@click.option(
    "--y",
    "y_param",
    default=None,
    metavar="PARAMETER",
    help="Sweeps: a second parameter, for a heat map (default: the sweep's second).",
)
@fail_on_input_errors
def plot(
    run_path: str,
    out_path: str,
    size: str,
    observable: str | None,
    x_param: str | None,
    y_param: str | None,
) -> None:
    """A dashboard of RUN's time series: populations, circulation, niche, ledger, front.
    RUN may be a sweep's output folder instead: an observable against one parameter (mean and
    standard deviation over replicates) or, with two, a heat map of its mean."""
    from tissue.sweep.results import is_sweep_folder, read_results

    if is_sweep_folder(run_path):
        from viz.sweep import choose_axes, write_sweep_plot

        table = read_results(run_path)
        chosen = choose_axes(table, observable, x_param, y_param)
        write_sweep_plot(table, out_path, *chosen, _size(size))
        click.echo(f"wrote {out_path}", err=True)
        return
    for option, value in (("--observable", observable), ("--x", x_param), ("--y", y_param)):
        if value is not None:
            raise InputError(option, value, "only for a sweep folder (tissue sweep -o OUT)")
    from viz.dashboard import write_dashboard

    write_dashboard(_reader(run_path), out_path, _size(size))
    click.echo(f"wrote {out_path}", err=True)
