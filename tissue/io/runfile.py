"""Run files: the time series of every observable and snapshots of fields and cells.

Layout of ``run.h5`` (format ``tissue-run``, version 1):

- root attributes: ``format``, ``format_version``, ``tissue_version``, ``tissue_commit``
  (the git commit of the code that wrote the file, ``+dirty`` with local changes; empty
  outside a checkout, absent in older files), ``scenario`` (TOML),
  ``scenario_name``, ``seed``, ``backend``, ``run_id`` (see :mod:`tissue.io.rundir`),
  ``status`` (running, interrupted, complete, incomplete: the run ended but its final
  checkpoint could not be written, or failed), ``cell_types`` and ``cell_states`` (names in
  code order); a branch of another run (``tissue branch``) also has ``branched_from`` (that
  run's id) and ``branched_at_tick``, and begins with that run's rows and snapshots;
- ``/organs/<organ>/labels``: (nz, ny, nx) uint8 with attributes ``spacing_um`` and
  ``origin_um`` (x, y, z; the grid's lower corner), ``label_names``, ``label_codes`` and
  ``fields``;
- ``/timeseries/<observable>``: float64 (rows,), resizable, one row per output, with
  ``/timeseries/tick`` int64; the group's attribute ``columns`` lists observables in order;
- ``/snapshots/<index:06d>``: attributes ``tick`` and ``time_min``;
  ``<organ>/fields/<field>`` (nz, ny, nx) float32 (attribute ``units``) and
  ``<organ>/cells/<column>`` (n, ...).

Datasets are chunked and gzip-compressed (readable by ParaView, VisIt and any HDF5 tool).
The writer takes the scenario and state records (:class:`~tissue.state.SimulationState`); it
opens the file only for the moment of each output and closes it again, so the file is
complete and readable between outputs while the run goes on. ``run.xmf`` beside it
describes the snapshots for ParaView and VisIt (see :mod:`tissue.io.xdmf`).

The writer opens the file without HDF5's chunk cache, so that every write reaches the disk
when it is made and a full disk is reported there, as an error this module turns into a
:class:`RunFileError`; HDF5 crashes (segfaults) when cached chunks cannot be flushed at close.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tissue.cells import STATE_NAMES
from tissue.config import Scenario, scenario_from_dict
from tissue.errors import InputError
from tissue.grid import Grid
from tissue.io.hdf5 import RUN_FORMAT, one_line, open_checked, text_attr, write_root_attrs
from tissue.io.xdmf import write_xdmf
from tissue.state import SimulationState

COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
SERIES_CHUNK = 256


class RunFileError(Exception):
    """The run file could not be written (one line naming the file and the reason)."""


class RunWriter:
    """Writes the run file of a run of ``scenario``.

    Args:
        path: the run file.
        scenario: the run's scenario.
        state: the run's state now (its labels, fields and seed lay out the file).
        backend: the backend the run is on (``cpu`` or ``gpu``).
        resume: continue an existing file at ``state.tick``: snapshots after that tick and
            rows after tick ``keep_rows_through`` (default ``state.tick``; written after the
            checkpoint the run resumes from, or at the end of a run that is now extended)
            are removed first, so the finished file equals that of a run that never
            stopped.
        run_id: the run's id (stored in a new file).
    """

    def __init__(
        self,
        path: str | Path,
        scenario: Scenario,
        state: SimulationState,
        backend: str,
        resume: bool = False,
        run_id: str = "",
        keep_rows_through: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.xdmf_path = self.path.with_suffix(".xmf")
        self.scenario = scenario
        if resume:
            open_checked(self.path, RUN_FORMAT).close()
            rows = state.tick if keep_rows_through is None else keep_rows_through
            with self._open() as handle:
                _truncate(handle, rows, state.tick)
                handle.attrs["status"] = "running"
                write_xdmf(handle, self.xdmf_path)
        else:
            with self._open("w") as handle:
                _create(handle, scenario, state, backend, run_id)

    def _open(self, mode: str = "a") -> h5py.File:
        try:
            handle = h5py.File(self.path, mode, rdcc_nbytes=0)
        except (OSError, RuntimeError) as error:
            raise self._failed(error) from None
        return _Translated(handle, self._translate)  # type: ignore[return-value]

    def _translate(self, error: BaseException) -> Exception | None:
        """Storage errors (OSError; h5py's RuntimeError when a close fails) become one
        line; anything else is a bug and passes through."""
        return self._failed(error) if isinstance(error, OSError | RuntimeError) else None

    def _failed(self, error: BaseException) -> RunFileError:
        return RunFileError(f"{self.path}: cannot write the run file ({one_line(error)})")

    def record_row(self, tick: int, row: dict[str, float]) -> None:
        """Append ``row`` (observable -> value) at ``tick`` to the time series."""
        with self._open() as handle:
            group = handle["timeseries"]
            columns = list(group.attrs["columns"])
            rows = group["tick"].shape[0]
            for key in row:
                if key not in group:
                    _series(group, key, np.float64, rows, np.nan)
                    columns.append(key)
            group.attrs["columns"] = columns
            for key in columns:
                group[key].resize((rows + 1,))
                group[key][rows] = row.get(key, np.nan)
            group["tick"].resize((rows + 1,))
            group["tick"][rows] = tick

    def snapshot(self, state: SimulationState) -> None:
        """Write the fields and cells of every organ in ``state`` (once per tick)."""
        with self._open() as handle:
            snapshots = handle["snapshots"]
            names = sorted(snapshots)
            if names and int(snapshots[names[-1]].attrs["tick"]) == state.tick:
                return
            group = snapshots.create_group(f"{len(names):06d}")
            group.attrs["tick"] = np.int64(state.tick)
            group.attrs["time_min"] = np.float64(state.time_min)
            for oname in self.scenario.organs:
                prefix = f"organs/{oname}"
                fields = group.create_group(f"{oname}/fields")
                for fname, data in state.under(f"{prefix}/fields").items():
                    dataset = fields.create_dataset(
                        fname, data=data, chunks=_field_chunks(data.shape), **COMPRESSION
                    )
                    dataset.attrs["units"] = self.scenario.fields[fname].units
                cells = group.create_group(f"{oname}/cells")
                cells.attrs["n"] = np.int64(state.counters[f"{prefix}/cells"]["n"])
                for cname, values in state.under(f"{prefix}/cells").items():
                    cells.create_dataset(cname, data=values, **(COMPRESSION if values.size else {}))
            write_xdmf(handle, self.xdmf_path)

    def copy_history(
        self, source: str | Path, at_tick: int, rows_through: int, snapshots_through: int
    ) -> list[dict[str, float]]:
        """Begin this (new) file with the run file ``source``'s rows up to tick
        ``rows_through`` and snapshots up to ``snapshots_through``, and record that this
        run branched from it at ``at_tick`` (root attributes ``branched_from``: its run id,
        and ``branched_at_tick``).
        Returns the copied rows (observable -> value, without ``tick``), for the CSV.

        Raises:
            InputError: ``source`` is unreadable (one line).
        """
        with open_checked(Path(source), RUN_FORMAT) as old, self._open() as handle:
            series = _timeseries(old)
            ticks = series.pop("tick")
            keep = int(np.count_nonzero(ticks <= rows_through))
            group = handle["timeseries"]
            group.attrs["columns"] = list(series)
            for key, values in {"tick": ticks, **series}.items():
                if key not in group:
                    _series(group, key, values.dtype, 0, np.nan)
                group[key].resize((keep,))
                group[key][:] = values[:keep]
            for name, snapshot in sorted(old["snapshots"].items()):
                if int(snapshot.attrs["tick"]) <= snapshots_through:
                    old.copy(snapshot, handle["snapshots"], name=name)
            handle.attrs["branched_from"] = str(old.attrs.get("run_id", ""))
            handle.attrs["branched_at_tick"] = np.int64(at_tick)
            write_xdmf(handle, self.xdmf_path)
        return [{key: float(values[i]) for key, values in series.items()} for i in range(keep)]

    def finish(self, status: str) -> None:
        """Mark the run ``complete``, ``interrupted``, ``incomplete`` or ``failed``."""
        with self._open() as handle:
            handle.attrs["status"] = status


class _Translated:
    """An open h5py file, closed on leaving the block, whose errors there become the one-line
    error ``translate(error)`` returns (or pass through when it returns None)."""

    def __init__(
        self, handle: h5py.File, translate: Callable[[BaseException], Exception | None]
    ) -> None:
        self.handle = handle
        self.translate = translate

    def __enter__(self) -> h5py.File:
        return self.handle

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        try:
            self.handle.close()
        except (OSError, RuntimeError) as close_error:
            error = error or close_error
        replacement = self.translate(error) if error is not None else None
        if replacement is not None:
            raise replacement from error


def _timeseries(handle: h5py.File) -> dict[str, np.ndarray]:
    """An open run file's time series: ``tick`` (int64), then each observable's (rows,)
    float64 values in the order they were first recorded."""
    group = handle["timeseries"]
    return {"tick": group["tick"][()]} | {str(k): group[k][()] for k in group.attrs["columns"]}


def _create(
    handle: h5py.File, scenario: Scenario, state: SimulationState, backend: str, run_id: str
) -> None:
    write_root_attrs(
        handle,
        RUN_FORMAT,
        scenario,
        state.seed,
        backend,
        run_id=run_id,
        scenario_name=scenario.name,
        status="running",
        cell_types=list(scenario.cell_types),
        cell_states=[STATE_NAMES[k] for k in sorted(STATE_NAMES)],
    )
    for oname, organ in scenario.organs.items():
        prefix = f"organs/{oname}"
        labels = state.arrays[f"{prefix}/labels"]
        label_codes = organ.label_names()
        dataset = handle.create_dataset(
            f"{prefix}/labels", data=labels, chunks=_field_chunks(labels.shape), **COMPRESSION
        )
        dataset.attrs["spacing_um"] = np.asarray(organ.spacing_xyz_um, dtype=np.float64)
        dataset.attrs["origin_um"] = np.asarray(organ.origin_um, dtype=np.float64)
        dataset.attrs["label_names"] = list(label_codes)
        dataset.attrs["label_codes"] = np.asarray(list(label_codes.values()), np.uint8)
        dataset.attrs["fields"] = list(state.under(f"{prefix}/fields"))
    series = handle.create_group("timeseries")
    series.attrs["columns"] = []
    _series(series, "tick", np.int64, 0, 0)
    handle.create_group("snapshots")


def _series(group: h5py.Group, key: str, dtype: Any, rows: int, fill: Any) -> None:
    group.create_dataset(
        key, shape=(rows,), maxshape=(None,), dtype=dtype, chunks=(SERIES_CHUNK,), fillvalue=fill
    )


def _truncate(handle: h5py.File, rows_through: int, snapshots_through: int) -> None:
    """Drop time-series rows after tick ``rows_through`` and snapshots after
    ``snapshots_through``."""
    series = handle["timeseries"]
    keep = int(np.count_nonzero(series["tick"][()] <= rows_through))
    for key in series:
        series[key].resize((keep,))
    snapshots = handle["snapshots"]
    for name in list(snapshots):
        if int(snapshots[name].attrs["tick"]) > snapshots_through:
            del snapshots[name]


def _field_chunks(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """About 1 MiB float32 chunks of whole z-slabs (or y-rows of one slab when larger)."""
    nz, ny, nx = shape
    target = 2**18
    if ny * nx <= target:
        return (max(1, min(nz, target // (ny * nx))), ny, nx)
    return (1, max(1, min(ny, target // nx)), nx)


@dataclass(frozen=True)
class OrganInfo:
    """An organ of a run file: its grid, label names and fields."""

    grid: Grid
    label_codes: dict[str, int]
    fields: list[str]


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot: its index, group name, tick and simulated time (min)."""

    index: int
    name: str
    tick: int
    time_min: float


class RunReader:
    """Reads a run file, opening it only for each read (so it works while a run writes).

    Raises:
        InputError: a missing, damaged, foreign or newer file (one line).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.source = str(self.path)
        with self._open() as handle:
            self.scenario_text = text_attr(handle, "scenario", self.source)
            self.scenario_name = text_attr(handle, "scenario_name", self.source)
            self.status = text_attr(handle, "status", self.source)
            self.backend = text_attr(handle, "backend", self.source)
            self.run_id = str(handle.attrs.get("run_id", ""))
            self.tissue_version = text_attr(handle, "tissue_version", self.source)
            self.tissue_commit = str(handle.attrs.get("tissue_commit", ""))
            self.format_version = int(handle.attrs["format_version"])
            self.seed = int(handle.attrs.get("seed", -1))
            self.cell_types = [str(x) for x in handle.attrs.get("cell_types", [])]
            self.cell_states = [str(x) for x in handle.attrs.get("cell_states", [])]
            self.organs = {name: _organ_info(group) for name, group in handle["organs"].items()}
            self.snapshots = [
                SnapshotInfo(i, name, int(group.attrs["tick"]), float(group.attrs["time_min"]))
                for i, (name, group) in enumerate(sorted(handle["snapshots"].items()))
            ]

    def _open(self) -> h5py.File:
        def unreadable(error: BaseException) -> Exception | None:
            # caught mid-write by another process, or damaged: h5py's errors vary in type
            if isinstance(error, Exception) and not isinstance(error, InputError):
                return InputError(
                    self.source,
                    "",
                    f"unreadable run file, damaged or caught mid-write "
                    f"({one_line(error)}); try again",
                )
            return None

        return _Translated(open_checked(self.path, RUN_FORMAT), unreadable)  # type: ignore[return-value]

    def scenario(self) -> Scenario:
        """The run's resolved scenario."""
        return scenario_from_dict(tomllib.loads(self.scenario_text), f"{self.source} (scenario)")

    def timeseries(self) -> dict[str, np.ndarray]:
        """Observable -> (rows,) float64 values, in the order they were first recorded, with
        ``tick`` (int64)."""
        with self._open() as handle:
            return _timeseries(handle)

    def final(self) -> dict[str, float]:
        """The last recorded row of observables (empty if none yet); a finished run records
        its final state as its last row."""
        series = self.timeseries()
        if series["tick"].size == 0:
            return {}
        return {key: float(values[-1]) for key, values in series.items() if key != "tick"}

    def snapshot(self, which: int) -> SnapshotInfo:
        """Snapshot ``which`` (negative counts from the end)."""
        if not self.snapshots:
            raise InputError(self.source, "snapshots", "the run file has no snapshots yet")
        try:
            return self.snapshots[which]
        except IndexError:
            raise InputError(
                self.source,
                "snapshot",
                f"{which} is out of range; allowed: 0..{len(self.snapshots) - 1} or -1 (last)",
            ) from None

    def labels(self, organ: str, region: tuple[slice, ...] | None = None) -> np.ndarray:
        """The organ's (nz, ny, nx) uint8 label volume, or only ``region`` (z, y, x)."""
        self.organ_info(organ)
        with self._open() as handle:
            return handle[f"organs/{organ}/labels"][region if region is not None else ()]

    def field(
        self, which: int, organ: str, name: str, region: tuple[slice, ...] | None = None
    ) -> np.ndarray:
        """Field ``name`` of ``organ`` at snapshot ``which``: (nz, ny, nx) float32, or only
        ``region`` (slices in z, y, x order), read from disk without loading the rest."""
        info = self.organ_info(organ)
        if name not in info.fields:
            raise InputError(
                self.source,
                "field",
                f"'{name}' is not a field of organ '{organ}'; "
                f"fields: {', '.join(info.fields) or '(none)'}",
            )
        snap = self.snapshot(which)
        with self._open() as handle:
            dataset = handle[f"snapshots/{snap.name}/{organ}/fields/{name}"]
            return dataset[region if region is not None else ()]

    def cells(
        self, which: int, organ: str, columns: list[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Cell columns of ``organ`` at snapshot ``which`` (all columns by default)."""
        self.organ_info(organ)
        snap = self.snapshot(which)
        with self._open() as handle:
            group = handle[f"snapshots/{snap.name}/{organ}/cells"]
            names = list(group) if columns is None else columns
            return {name: group[name][()] for name in names}

    def organ_info(self, organ: str) -> OrganInfo:
        """The organ's grid, labels and fields; an InputError naming the organs if absent."""
        if organ not in self.organs:
            raise InputError(
                self.source,
                "organ",
                f"'{organ}' is not in this run; organs: {', '.join(self.organs)}",
            )
        return self.organs[organ]


def _organ_info(labels: h5py.Group) -> OrganInfo:
    dataset = labels["labels"]
    shape = tuple(int(n) for n in dataset.shape)
    grid = Grid(
        shape,  # type: ignore[arg-type]
        tuple(float(v) for v in dataset.attrs["spacing_um"]),  # type: ignore[arg-type]
        tuple(float(v) for v in dataset.attrs["origin_um"]),  # type: ignore[arg-type]
    )
    names = [str(x) for x in dataset.attrs["label_names"]]
    codes = [int(x) for x in dataset.attrs["label_codes"]]
    return OrganInfo(
        grid, dict(zip(names, codes, strict=True)), [str(x) for x in dataset.attrs["fields"]]
    )
