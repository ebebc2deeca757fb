"""Checkpoints: the complete state of a run, written so that no failure loses the last one.

Layout of ``checkpoint.h5`` (format ``tissue-checkpoint``, version 1):

- root attributes: ``format``, ``format_version``, ``tissue_version``, ``scenario`` (the
  resolved scenario as TOML), ``scenario_source``, ``seed``, ``tick``, ``time_min`` and
  ``backend`` (the one that wrote it; any backend can resume it);
- ``/state/<path>``: every array of a :class:`~tissue.state.SimulationState`, with
  Fletcher-32 checksums so that damaged data is refused rather than resumed; groups carry
  their counters as attributes (``/state/organs/<organ>/cells``: n, next_id, capacity);
- ``/run`` attributes: the settings of the run (target days, output intervals) for
  ``tissue resume``.

This module writes and reads state records only; ``tissue.simulation`` turns them into a
running simulation and back.

Writing goes to a temporary file in the same folder, which is flushed to disk and then
renamed over the previous checkpoint: a crash, a signal or a full disk leaves either the
old checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import h5py
import numpy as np

from tissue.config import Scenario, scenario_from_dict
from tissue.errors import InputError
from tissue.io.hdf5 import CHECKPOINT_FORMAT, one_line, open_checked, text_attr, write_root_attrs
from tissue.state import SimulationState


class CheckpointError(Exception):
    """A checkpoint could not be written; the message says whether an earlier one is intact."""


@dataclass
class StoredCheckpoint:
    """What a checkpoint file holds: the scenario, the state, the run settings saved with
    them, and the backend that wrote it."""

    path: Path
    scenario: Scenario
    state: SimulationState
    settings: dict[str, Any] = field(default_factory=dict)
    written_on: str = ""


def write_checkpoint(
    path: str | Path,
    scenario: Scenario,
    state: SimulationState,
    backend: str,
    settings: dict[str, Any],
) -> None:
    """Write ``state`` of a run of ``scenario`` on ``backend`` to ``path`` atomically.

    Args:
        settings: run settings (str, int or float values) to store for resuming.

    Raises:
        CheckpointError: the file could not be written (disk full, read-only folder...);
            any previous checkpoint at ``path`` is left as it was.
    """
    path = Path(path)
    try:
        image = _file_image(scenario, state, backend, settings)
    except (ValueError, TypeError) as error:
        raise CheckpointError(
            f"{path}: could not build the checkpoint ({one_line(error)})"
        ) from error
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as raw:
            raw.write(image)
            raw.flush()
            _fsync(raw)
        os.replace(temporary, path)
        _fsync_folder(path.parent)
    except (OSError, KeyboardInterrupt) as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        earlier = (
            "the previous checkpoint is intact"
            if path.is_file()
            else "there is no earlier checkpoint"
        )
        raise CheckpointError(
            f"{path}: could not write the checkpoint ({one_line(error)}); {earlier}"
        ) from error


def _file_image(
    scenario: Scenario, state: SimulationState, backend: str, settings: dict[str, Any]
) -> bytes:
    """The checkpoint as the bytes of an HDF5 file, built in memory so that every disk
    error comes from one plain write (h5py reports failed writes at close only as
    warnings)."""
    with h5py.File(f"checkpoint-{id(state)}", "w", driver="core", backing_store=False) as handle:
        write_root_attrs(
            handle,
            CHECKPOINT_FORMAT,
            scenario,
            state.seed,
            backend,
            scenario_source=scenario.source,
            tick=np.int64(state.tick),
            time_min=np.float64(state.time_min),
        )
        group = handle.create_group("state")
        for key, value in state.arrays.items():
            checksummed = {"chunks": True, "fletcher32": True} if value.size else {}
            group.create_dataset(key, data=value, **checksummed)
        for key, counters in state.counters.items():
            target = group.require_group(key)
            for name, number in counters.items():
                target.attrs[name] = np.int64(number)
        run = handle.create_group("run")
        for name, value in settings.items():
            if value is not None:
                run.attrs[name] = value
        handle.flush()
        return bytes(handle.id.get_file_image())


def read_checkpoint(path: str | Path) -> StoredCheckpoint:
    """The scenario, state and run settings saved in ``path``.

    Raises:
        InputError: a missing, truncated, damaged, foreign or newer file; one line naming
            the file and what is wrong.
    """
    path = Path(path)
    source = str(path)
    with open_checked(path, CHECKPOINT_FORMAT) as handle:
        text = text_attr(handle, "scenario", source)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InputError(source, "scenario", f"not valid TOML ({error})") from None
        scenario = scenario_from_dict(data, f"{source} (its scenario)").with_source(
            text_attr(handle, "scenario_source", source)
        )
        state = SimulationState(
            tick=_int_attr(handle, "tick", source),
            seed=_int_attr(handle, "seed", source),
            time_min=_float_attr(handle, "time_min", source),
        )
        if "state" not in handle:
            raise InputError(source, "state", "missing")
        _read_state(handle["state"], state, source)
        settings = dict(handle["run"].attrs) if "run" in handle else {}
        written_on = str(handle.attrs.get("backend", ""))
    settings = {k: v.item() if isinstance(v, np.generic) else v for k, v in settings.items()}
    return StoredCheckpoint(path, scenario, state, settings, written_on)


def _read_state(group: h5py.Group, state: SimulationState, source: str) -> None:
    """Fill ``state`` from ``/state``, verifying checksums."""

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            try:
                state.arrays[name] = item[()]
            except OSError as error:
                raise InputError(
                    source, f"state/{name}", f"damaged data ({one_line(error)})"
                ) from None
        elif item.attrs:
            state.counters[name] = {k: int(v) for k, v in item.attrs.items()}

    try:
        group.visititems(visit)
    except InputError:
        raise
    except (OSError, KeyError, ValueError) as error:
        raise InputError(source, "state", f"damaged structure ({one_line(error)})") from None


def _int_attr(handle: h5py.File, name: str, source: str) -> int:
    value = handle.attrs.get(name)
    if not isinstance(value, np.integer | int):
        raise InputError(source, name, "missing or not an integer")
    return int(value)


def _float_attr(handle: h5py.File, name: str, source: str) -> float:
    value = handle.attrs.get(name)
    if not isinstance(value, np.floating | float):
        raise InputError(source, name, "missing or not a number")
    return float(value)


def _fsync(raw: BinaryIO) -> None:
    os.fsync(raw.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
