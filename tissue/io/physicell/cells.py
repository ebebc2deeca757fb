"""PhysiCell's initial cells CSV (version 1: ``x,y,z,type`` rows without a header; version
2: a header ``x,y,z,type[,more]``) as tissue ``list`` placements, one per type.

A type is a definition's name or its ID. Version 2's further columns set a behaviour,
``volume`` or ``custom:<name>`` of one cell (empty or ``s``/``skip``: the type's). A behaviour
tissue knows becomes the placement's per-cell value (``behaviours``), unless rules of the
cell's type move it: PhysiCell's rules overwrite it at the first phenotype step, before it
acts, so it is left out (and listed). A ``custom:`` column of the type's custom data sets
the cell's attribute (``attributes``). Other columns are reported where a cell sets them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tissue.io.physicell.report import Report


@dataclass
class Placed:
    """The file's ``list`` placements and the (type, PhysiCell behaviour) pairs whose
    per-cell values they carry."""

    placements: list[dict[str, Any]]
    behaviours: set[tuple[str, str]]


def initial_cells(
    path: Path,
    shown: str,
    report: Report,
    organ: str,
    ids: dict[str, str],
    box: tuple[tuple[float, float], ...],
    plane_z: float | None,
    tissue_name: Callable[[str], str],
    ruled: set[tuple[str, str]],
    custom_data: dict[str, set[str]],
) -> Placed:
    """``list`` placements of the file's cells, one per type. ``ids``: definition ID ->
    name; ``box``: the domain's (min, max) per axis (um); ``plane_z``: the z of a 2-D
    domain's cells; ``tissue_name``: tissue's name of a PhysiCell behaviour ("" when it has
    none); ``ruled``: the (type, behaviour) pairs that rules move; ``custom_data``: each
    type's custom data (a ``custom:NAME`` column sets the cell's attribute)."""
    lines = path.read_text().splitlines()
    rows = [
        (n, row) for n, row in enumerate(csv.reader(lines), start=1) if any(f.strip() for f in row)
    ]
    if not rows:
        return Placed([], set())
    header = [f.strip() for f in rows[0][1]]
    has_header = header[:1] == ["x"]
    if has_header:
        rows = rows[1:]
        extra = header[4:]
    else:
        extra = []
    names = set(ids.values())
    cells: dict[str, list[tuple[list[float], dict[str, float]]]] = {}
    reported: set[tuple[str, str]] = set()
    for number, row in rows:
        fields = [f.strip() for f in row]
        try:
            x, y, z = (float(v) for v in fields[:3])
        except ValueError:
            report.cannot(number, "cell", "x, y and z must be numbers", file=shown)
            continue
        kind = fields[3] if len(fields) > 3 else "0"
        name = kind if kind in names else ids.get(_integer(kind), "")
        if not name:
            report.cannot(number, "cell", f"unknown cell type '{kind}'", file=shown)
            continue
        values = {}
        for column, value in zip(extra, fields[4:], strict=False):
            if not value or value[:1] in ("s", "S"):
                continue
            behaviour = tissue_name(column)
            custom = column.removeprefix("custom:")
            if column.startswith("custom:") and custom in custom_data.get(name, ()):
                values[column] = float(value)
            elif not behaviour:
                if (column, "") not in reported:
                    reported.add((column, ""))
                    report.cannot(
                        number,
                        f"column '{column}'",
                        f"per-cell values of '{column}' are not imported (this is the first "
                        "cell that sets one); --lenient: the type's value",
                        file=shown,
                    )
            elif (name, column) in ruled:
                if (column, name) not in reported:
                    reported.add((column, name))
                    report.remark(
                        f"{report.short(shown)}:{number}: column '{column}' of '{name}' left "
                        "out: the type's rules set it at PhysiCell's first phenotype step"
                    )
            else:
                values[column] = float(value)
        if plane_z is not None:
            z = plane_z
        if not all(lo <= v <= hi for v, (lo, hi) in zip((x, y, z), box, strict=True)):
            report.cannot(
                number, "cell", f"({x:g}, {y:g}, {z:g}) is outside the domain", file=shown
            )
            continue
        cells.setdefault(name, []).append(([x, y, z], values))
    placements, pairs = [], set()
    for name, listed in cells.items():
        entry: dict[str, Any] = {
            "kind": "list",
            "organ": organ,
            "type": name,
            "positions_um": [position for position, _ in listed],
        }
        columns = sorted({c for _, values in listed for c in values})
        for key, chosen in (
            ("behaviours", [c for c in columns if not c.startswith("custom:")]),
            ("attributes", [c for c in columns if c.startswith("custom:")]),
        ):
            if chosen:
                entry[key] = {
                    tissue_name(c) or c.removeprefix("custom:"):
                    [values.get(c, math.nan) for _, values in listed] for c in chosen
                }  # fmt: skip
        pairs |= {(name, c) for c in columns if not c.startswith("custom:")}
        placements.append(entry)
    return Placed(placements, pairs)


def _integer(text: str) -> str:
    """``text`` as an integer's digits (``"1.0"`` -> ``"1"``), or itself."""
    try:
        return str(int(float(text)))
    except ValueError:
        return text
