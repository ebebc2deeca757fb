"""Views of a sweep's table (``OUT/results.csv``), from the complete members:

- an observable against one parameter: the mean and standard deviation over the members at
  each value (replicate seeds, and the other parameters when they vary too much to draw one
  line per combination), with every member as a faint dot;
- a heat map of an observable's mean over two parameters (a scatter coloured by the mean when
  the parameters were sampled from ranges rather than set on a grid).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tissue.errors import InputError
from tissue.sweep.results import SweepTable
from viz.headless import matplotlib_pyplot

MAX_LINES = 6  # more combinations of the other parameters than this are pooled
MAX_HEAT_CELLS = 40  # more distinct values than this along an axis: a scatter instead


@dataclass(frozen=True)
class Line:
    """One line of the 1-parameter view: per distinct x value, the mean and standard
    deviation (0 for one member) of the observable, and the number of members."""

    label: str
    x: list[Any]
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray


def choose_axes(
    table: SweepTable, observable: str | None, x: str | None, y: str | None
) -> tuple[str, str, str | None]:
    """The observable and parameters to plot; x and y default to the sweep's parameters
    when there are one or two.

    Raises:
        InputError: a name not in the table, or no default (one line naming the choices).
    """
    if observable is None or observable not in table.observables:
        what = "required for a sweep" if observable is None else "not in this sweep's table"
        raise InputError(
            "--observable", observable or "", f"{what}; allowed: {', '.join(table.observables)}"
        )
    allowed = f"allowed: {', '.join(table.parameters) or '(the sweep varies none)'}"
    for option, name in (("--x", x), ("--y", y)):
        if name is not None and name not in table.parameters:
            raise InputError(option, name, f"not a parameter of this sweep; {allowed}")
    if x is None and y is None and 1 <= len(table.parameters) <= 2:
        x, y = [*table.parameters, None][:2]
    if x is None:
        raise InputError("--x", "", f"required: the parameter along x; {allowed}")
    if x == y:
        raise InputError("--y", str(y), "must differ from --x")
    return observable, x, y


def lines(table: SweepTable, observable: str, x: str) -> list[Line]:
    """The 1-parameter view's lines: one per combination of the other parameters, or one
    pooling them when there are more than MAX_LINES combinations."""
    rows = _usable(table, observable)
    others = [p for p in table.parameters if p != x]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        label = ", ".join(f"{p}={_text(row[p])}" for p in others)
        groups.setdefault(label, []).append(row)
    if len(groups) > MAX_LINES:
        groups = {f"pooled over {', '.join(others)}": rows}
    out = []
    for label, members in groups.items():
        values = _sorted_values(row[x] for row in members)
        samples = [[r[observable] for r in members if _text(r[x]) == _text(v)] for v in values]
        out.append(
            Line(
                label or "all members",
                values,
                np.array([np.mean(s) for s in samples]),
                np.array([np.std(s, ddof=1) if len(s) > 1 else 0.0 for s in samples]),
                np.array([len(s) for s in samples]),
            )
        )
    return out


def heat(
    table: SweepTable, observable: str, x: str, y: str
) -> tuple[list[Any], list[Any], np.ndarray, np.ndarray]:
    """(x values, y values, mean (ny, nx), members (ny, nx)) of the observable over two
    parameters, pooling everything else; NaN where no member has that pair."""
    rows = _usable(table, observable)
    xs = _sorted_values(row[x] for row in rows)
    ys = _sorted_values(row[y] for row in rows)
    column = {_text(v): i for i, v in enumerate(xs)}
    line = {_text(v): i for i, v in enumerate(ys)}
    total = np.zeros((len(ys), len(xs)))
    count = np.zeros((len(ys), len(xs)), dtype=np.int64)
    for row in rows:
        i, j = line[_text(row[y])], column[_text(row[x])]
        total[i, j] += row[observable]
        count[i, j] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
    return xs, ys, mean, count


def sweep_figure(
    table: SweepTable,
    observable: str,
    x: str,
    y: str | None = None,
    size_px: tuple[int, int] = (1600, 1000),
) -> Any:
    """The figure (matplotlib Figure): the 1-parameter view, or the heat map when ``y`` is
    given."""
    plt = matplotlib_pyplot()
    dpi = 100
    figure, ax = plt.subplots(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi)
    done = len(_usable(table, observable))
    figure.suptitle(f"sweep {table.name}: {observable} ({done} of {len(table.rows)} members)")
    if y is None:
        _draw_lines(ax, table, observable, x)
    else:
        _draw_heat(figure, ax, table, observable, x, y)
    figure.tight_layout()
    return figure


def write_sweep_plot(
    table: SweepTable,
    path: str,
    observable: str,
    x: str,
    y: str | None = None,
    size_px: tuple[int, int] = (1600, 1000),
) -> None:
    """Write :func:`sweep_figure` to the PNG ``path``."""
    plt = matplotlib_pyplot()
    figure = sweep_figure(table, observable, x, y, size_px)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _draw_lines(ax: Any, table: SweepTable, observable: str, x: str) -> None:
    rows = _usable(table, observable)
    numeric = all(_is_number(row[x]) for row in rows)
    found = lines(table, observable, x)
    categories = _sorted_values(row[x] for row in rows)
    where = {_text(v): i for i, v in enumerate(categories)}

    def position(values: list[Any]) -> np.ndarray:
        return np.array([v if numeric else where[_text(v)] for v in values], dtype=float)

    ax.scatter(position([r[x] for r in rows]), [r[observable] for r in rows], s=12,
               color="0.6", alpha=0.5, label="members")  # fmt: skip
    for line in found:
        ax.errorbar(position(line.x), line.mean, yerr=line.std, marker="o", capsize=3,
                    label=f"{line.label} (mean ± sd)")  # fmt: skip
    if numeric and _spans_decades([float(r[x]) for r in rows]):
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(categories)), [_text(v) for v in categories])
    ax.set_xlabel(x)
    ax.set_ylabel(observable)
    ax.legend(fontsize=8, loc="best")


def _draw_heat(figure: Any, ax: Any, table: SweepTable, observable: str, x: str, y: str) -> None:
    xs, ys, mean, count = heat(table, observable, x, y)
    if max(len(xs), len(ys)) > MAX_HEAT_CELLS:  # sampled: every point its own value
        rows = _usable(table, observable)
        points = ax.scatter([r[x] for r in rows], [r[y] for r in rows],
                            c=[r[observable] for r in rows], cmap="viridis", s=30)  # fmt: skip
        figure.colorbar(points, ax=ax, label=observable)
    else:
        image = ax.imshow(mean, origin="lower", cmap="viridis", aspect="auto")
        figure.colorbar(image, ax=ax, label=f"{observable} (mean)")
        ax.set_xticks(range(len(xs)), [_text(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_text(v) for v in ys])
        if mean.size <= 100:
            finite = mean[np.isfinite(mean)]
            middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
            for (i, j), value in np.ndenumerate(mean):
                if math.isfinite(value):
                    ax.text(j, i, f"{value:.3g}\nn={count[i, j]}", ha="center", va="center",
                            fontsize=8, color="black" if value > middle else "white")  # fmt: skip
    ax.set_xlabel(x)
    ax.set_ylabel(y)


def _usable(table: SweepTable, observable: str) -> list[dict[str, Any]]:
    """Complete members that have the observable.

    Raises:
        InputError: none has it.
    """
    rows = [row for row in table.complete() if math.isfinite(row[observable])]
    if not rows:
        raise InputError(
            "--observable", observable, f"no complete member of sweep {table.name} has it"
        )
    return rows


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return json.dumps(value)


def _sorted_values(values: Any) -> list[Any]:
    """Distinct values: numbers in order, anything else in order of its JSON text."""
    distinct = {_text(v): v for v in values}
    numbers = sorted(v for v in distinct.values() if _is_number(v))
    return numbers + sorted((v for v in distinct.values() if not _is_number(v)), key=_text)


def _spans_decades(values: list[float]) -> bool:
    """Positive values spread over at least a factor of 50: a log axis reads better."""
    return min(values) > 0 and max(values) / min(values) >= 50
