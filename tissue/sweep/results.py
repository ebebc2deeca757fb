"""The table of a sweep: one row per member, written to ``OUT/results.csv``, with
``OUT/sweep.json`` beside it naming its parameter and observable columns (the mark of a sweep
folder, which ``tissue plot`` looks for).

Columns: ``member_id``, ``seed``, ``status`` (``complete``; ``failed``: its run failed after
its retries; ``invalid``: the scenario refused its values; ``pending``: not run, the sweep was
interrupted), ``error`` (one line), ``attempts`` (runs started), ``wall_s`` (wall-clock
seconds of the run that finished it), then one column per varied parameter (values as JSON:
numbers plain, text quoted), then the final value of every observable (empty where a member
has none).
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tissue.errors import InputError

RESULTS_FILE = "results.csv"
SWEEP_FILE = "sweep.json"
SWEEP_FORMAT = "tissue-sweep"
SWEEP_FORMAT_VERSION = 1
FIXED_COLUMNS = ("member_id", "seed", "status", "error", "attempts", "wall_s")
STATUSES = ("complete", "failed", "invalid", "pending")


@dataclass(frozen=True)
class MemberRow:
    """One member's line of the table."""

    member_id: str
    seed: int
    status: str
    parameters: dict[str, Any]
    error: str = ""
    attempts: int = 0
    wall_s: float = math.nan
    observables: dict[str, float] | None = None


@dataclass(frozen=True)
class SweepTable:
    """A sweep's table read back: column names by kind and the rows (values parsed)."""

    name: str
    parameters: list[str]
    observables: list[str]
    rows: list[dict[str, Any]]

    def complete(self) -> list[dict[str, Any]]:
        """The rows of complete members."""
        return [row for row in self.rows if row["status"] == "complete"]


def write_results(
    out: Path, rows: list[MemberRow], parameters: list[str], info: dict[str, Any]
) -> Path:
    """Write ``out/results.csv`` and ``out/sweep.json`` (``info`` plus the columns), each
    through a temporary file renamed over the old one; returns the table's path."""
    observables: dict[str, None] = {}
    for row in rows:
        observables.update(dict.fromkeys(row.observables or {}))
    path = out / RESULTS_FILE
    temporary = out / f".{RESULTS_FILE}.tmp"
    with temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*FIXED_COLUMNS, *parameters, *observables])
        for row in rows:
            found = row.observables or {}
            writer.writerow(
                [row.member_id, row.seed, row.status, row.error, row.attempts,
                 "" if math.isnan(row.wall_s) else f"{row.wall_s:.3f}",
                 *(json.dumps(row.parameters.get(key)) for key in parameters),
                 *(repr(found[key]) if key in found else "" for key in observables)]
            )  # fmt: skip
    os.replace(temporary, path)
    counts = {status: sum(row.status == status for row in rows) for status in STATUSES}
    marker = {
        "format": SWEEP_FORMAT,
        "format_version": SWEEP_FORMAT_VERSION,
        **info,
        "parameters": parameters,
        "observables": list(observables),
        "members": len(rows),
        "counts": counts,
    }
    temporary = out / f".{SWEEP_FILE}.tmp"
    temporary.write_text(json.dumps(marker, indent=2))
    os.replace(temporary, out / SWEEP_FILE)
    return path


def is_sweep_folder(path: str | Path) -> bool:
    """Whether ``path`` is the output folder of ``tissue sweep``."""
    return Path(path, SWEEP_FILE).is_file()


def read_results(out: str | Path) -> SweepTable:
    """The table of the sweep in folder ``out``.

    Raises:
        InputError: not a sweep folder, or a damaged or newer table (one line).
    """
    out = Path(out)
    marker_path = out / SWEEP_FILE
    try:
        marker = json.loads(marker_path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(str(marker_path), "", f"not a readable sweep folder ({error})") from None
    if not isinstance(marker, dict) or marker.get("format") != SWEEP_FORMAT:
        raise InputError(str(marker_path), "format", f"expected a '{SWEEP_FORMAT}' file")
    version = marker.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= SWEEP_FORMAT_VERSION:
        raise InputError(
            str(marker_path), "format_version", f"{version!r}; this tissue reads 1 to "
            f"{SWEEP_FORMAT_VERSION}: upgrade tissue"
        )  # fmt: skip
    parameters = [str(key) for key in marker.get("parameters", [])]
    observables = [str(key) for key in marker.get("observables", [])]
    path = out / RESULTS_FILE
    try:
        with path.open(newline="") as handle:
            rows = [_parse(row, parameters, observables) for row in csv.DictReader(handle)]
    except (OSError, KeyError, ValueError) as error:
        raise InputError(str(path), "", f"unreadable sweep table ({error})") from None
    return SweepTable(str(marker.get("name", out.name)), parameters, observables, rows)


def _parse(row: dict[str, str], parameters: list[str], observables: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "member_id": row["member_id"],
        "seed": int(row["seed"]),
        "status": row["status"],
        "error": row["error"],
        "attempts": int(row["attempts"]),
        "wall_s": float(row["wall_s"]) if row["wall_s"] else math.nan,
    }
    out.update({key: json.loads(row[key]) for key in parameters})
    out.update({key: float(row[key]) if row[key] else math.nan for key in observables})
    return out
