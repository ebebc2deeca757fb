"""PhysiCell's initial cells CSV (version 1: ``x,y,z,type`` rows without a header; version
2: a header ``x,y,z,type[,more]``) as tissue ``list`` placements, one per type.

A type is a definition's name or its ID. Version 2's further columns set a behaviour,
``volume`` or ``custom:<name>`` of one cell; tissue has no per-cell values of those, so any
column that sets one (not empty, not ``s``/``skip``) is reported.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tissue.io.physicell.report import Report


def initial_cells(
    path: Path,
    shown: str,
    report: Report,
    organ: str,
    ids: dict[str, str],
    box: tuple[tuple[float, float], ...],
    plane_z: float | None,
) -> list[dict[str, Any]]:
    """``list`` placements of the file's cells. ``ids``: definition ID -> name; ``box``:
    the domain's (min, max) per axis (um); ``plane_z``: the z of a 2-D domain's cells."""
    lines = path.read_text().splitlines()
    rows = [
        (n, row) for n, row in enumerate(csv.reader(lines), start=1) if any(f.strip() for f in row)
    ]
    if not rows:
        return []
    header = [f.strip() for f in rows[0][1]]
    has_header = header[:1] == ["x"]
    if has_header:
        rows = rows[1:]
        extra = header[4:]
    else:
        extra = []
    names = set(ids.values())
    positions: dict[str, list[list[float]]] = {}
    reported: set[str] = set()
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
        for column, value in zip(extra, fields[4:], strict=False):
            if value and value[:1] not in ("s", "S") and column not in reported:
                reported.add(column)
                report.cannot(
                    number,
                    f"column '{column}'",
                    f"per-cell values of '{column}' are not imported (this is the first "
                    "cell that sets one); --lenient: the type's value",
                    file=shown,
                )
        if plane_z is not None:
            z = plane_z
        if not all(lo <= v <= hi for v, (lo, hi) in zip((x, y, z), box, strict=True)):
            report.cannot(
                number, "cell", f"({x:g}, {y:g}, {z:g}) is outside the domain", file=shown
            )
            continue
        positions.setdefault(name, []).append([x, y, z])
    return [
        {"kind": "list", "organ": organ, "type": name, "positions_um": points}
        for name, points in positions.items()
    ]


def _integer(text: str) -> str:
    """``text`` as an integer's digits (``"1.0"`` -> ``"1"``), or itself."""
    try:
        return str(int(float(text)))
    except ValueError:
        return text
