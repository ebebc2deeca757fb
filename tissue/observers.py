"""Observers of a run's observables, called by the simulation on a schedule apart from the
stepping loop: :class:`TimeSeries` keeps every row in memory, :class:`TimeSeriesCSV` appends
them to a CSV file that can be read while the run goes on."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import TextIO

from tissue.errors import InputError
from tissue.simulation import Simulation


class TimeSeries:
    """Keeps every observation in memory: ``rows`` is a list of observable dicts."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def __call__(self, sim: Simulation) -> None:
        self.rows.append(sim.observables())

    def column(self, key: str) -> list[float]:
        """The values of one observable over time."""
        return [row[key] for row in self.rows]


class TimeSeriesCSV:
    """Appends the observables to a CSV file, one row per call, flushed at once so the
    file can be read while the run goes on.

    Args:
        path: the CSV file (created or truncated).
        resume_at_min: continue an existing file instead: rows after this simulated time
            (written after the checkpoint a run resumes from) are dropped first.
        run_id: when given, a last column ``run_id`` holds it on every row, and a resumed
            file must hold only rows of that run.

    Raises:
        InputError: (resuming) the file holds rows of another run.
        OSError: the file could not be written.
    """

    def __init__(
        self, path: str | Path, resume_at_min: float | None = None, run_id: str = ""
    ) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None
        if resume_at_min is not None and self.path.is_file():
            self._reopen(resume_at_min)

    def _reopen(self, resume_at_min: float) -> None:
        with self.path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            fields = list(reader.fieldnames or [])
            rows = [row for row in reader if float(row["time_min"]) <= resume_at_min + 1e-6]
        if not fields:
            return
        if self.run_id:
            others = {row.get("run_id") for row in rows} - {self.run_id}
            if others:
                found = sorted(str(x) for x in others)[0]
                raise InputError(
                    str(self.path),
                    "run_id",
                    f"holds rows of run {found[:8]}, not of run {self.run_id[:8]} that the "
                    "checkpoint belongs to: the folder mixes two runs; allowed: start again "
                    "with `tissue run ... --overwrite`",
                )
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        try:
            with temporary.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)
            temporary.replace(self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise
        self._file = self.path.open("a", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=fields, restval="nan")

    def __call__(self, sim: Simulation) -> None:
        self.write_row(sim.observables())

    def write_row(self, row: dict[str, float]) -> None:
        """Append ``row`` (observable -> value); the first row sets the columns."""
        if self._writer is None:
            self._file = self.path.open("w", newline="")
            fields = list(row) + (["run_id"] if self.run_id else [])
            self._writer = csv.DictWriter(self._file, fieldnames=fields, restval="nan")
            self._writer.writeheader()
        known = set(self._writer.fieldnames)
        line = {k: f"{v:.9g}" for k, v in row.items() if k in known}
        if "run_id" in known:
            line["run_id"] = self.run_id
        self._writer.writerow(line)
        assert self._file is not None
        self._file.flush()

    def close(self) -> None:
        """Close the file (errors while closing are ignored: every row was flushed)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
