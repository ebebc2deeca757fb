"""Checkpoints: the complete state of a run, written so that no failure loses the last one.

Layout of ``checkpoint.h5`` (format ``tissue-checkpoint``, version 2):

- root attributes: ``format``, ``format_version``, ``tissue_version``, ``scenario`` (the
  resolved scenario as TOML), ``scenario_source``, ``seed``, ``tick``, ``time_min``,
  ``backend`` (the one that wrote it; any backend can resume it), ``run_id`` (the run it
  belongs to; "" for one saved from Python) and ``sha256`` (see below);
- ``/state/<path>``: every array of a :class:`~tissue.state.SimulationState`, with
  Fletcher-32 checksums so that damaged data is refused rather than resumed; groups carry
  their counters as attributes (``/state/organs/<organ>/cells``: n, next_id, capacity);
- ``/run`` attributes: the settings of the run (target days, output intervals) for
  ``tissue resume``.

``sha256`` is the SHA-256 of a canonical serialisation of everything else in the file: every
attribute of every group (name and value, as JSON) and every dataset (path, dtype, shape,
bytes), in sorted path order. Reading recomputes it from what it read and refuses a file
whose digest differs, so a changed bit anywhere (data, attributes, chunk index) that does
not already make the file unreadable is caught; the loaded state is then checked for sense
(see :mod:`tissue.io.validate`).

This module writes and reads state records only; ``tissue.simulation`` turns them into a
running simulation and back.

Writing goes to a temporary file in the same folder, which is flushed to disk and then
renamed over the previous checkpoint: a crash, a signal or a full disk leaves either the
old checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import h5py
import numpy as np

from tissue.config import Scenario, scenario_from_dict
from tissue.errors import InputError
from tissue.io.hdf5 import (
    CHECKPOINT_FORMAT,
    one_line,
    open_checked,
    text_attr,
    write_root_attrs,
)
from tissue.state import SimulationState

DIGEST_ATTR = "sha256"


class CheckpointError(Exception):
    """A checkpoint could not be written; the message says whether an earlier one is intact."""


@dataclass
class StoredCheckpoint:
    """What a checkpoint file holds: the scenario, the state, the run settings saved with
    them, the backend that wrote it and the run it belongs to."""

    path: Path
    scenario: Scenario
    state: SimulationState
    settings: dict[str, Any] = field(default_factory=dict)
    written_on: str = ""
    run_id: str = ""


def write_checkpoint(
    path: str | Path,
    scenario: Scenario,
    state: SimulationState,
    backend: str,
    settings: dict[str, Any],
    run_id: str = "",
) -> None:
    """Write ``state`` of a run of ``scenario`` on ``backend`` to ``path`` atomically.

    Args:
        settings: run settings (str, int or float values) to store for resuming.
        run_id: the id of the run the checkpoint belongs to ("" for none).

    Raises:
        CheckpointError: the file could not be written (disk full, read-only folder...);
            any previous checkpoint at ``path`` is left as it was, and no temporary file
            is left behind.
    """
    path = Path(path)
    try:
        image = _file_image(scenario, state, backend, settings, run_id)
    except (ValueError, TypeError, OSError, RuntimeError) as error:
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
    scenario: Scenario,
    state: SimulationState,
    backend: str,
    settings: dict[str, Any],
    run_id: str,
) -> bytes:
    """The checkpoint as the bytes of an HDF5 file, built in memory so that every disk
    error comes from one plain write (h5py reports failed writes at close only as
    warnings)."""
    with h5py.File(
        f"checkpoint-{id(state)}", "w", driver="core", backing_store=False, libver="latest"
    ) as handle:
        write_root_attrs(
            handle,
            CHECKPOINT_FORMAT,
            scenario,
            state.seed,
            backend,
            scenario_source=scenario.source,
            tick=np.int64(state.tick),
            time_min=np.float64(state.time_min),
            run_id=run_id,
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
        attrs, datasets = _collect(handle)
        handle.attrs[DIGEST_ATTR] = _digest(attrs, datasets)
        handle.flush()
        return bytes(handle.id.get_file_image())


def read_checkpoint(path: str | Path) -> StoredCheckpoint:
    """The scenario, state and run settings saved in ``path``, checked against the file's
    digest.

    Raises:
        InputError: a missing, truncated, damaged, changed, foreign or newer file; one line
            naming the file and what is wrong.
    """
    path = Path(path)
    source = str(path)
    with open_checked(path, CHECKPOINT_FORMAT) as handle:
        version = int(handle.attrs["format_version"])
        if version < 2:
            raise InputError(
                source,
                "format_version",
                f"{version}: written by an older tissue without a "
                "whole-file checksum; allowed: 2 (start the run again)",
            )
        try:
            attrs, datasets = _collect(handle)
        except InputError:
            raise
        except Exception as error:  # h5py's errors on damaged metadata vary in type
            raise InputError(source, "", f"damaged structure ({one_line(error)})") from None
    stored_digest = attrs.get("", {}).pop(DIGEST_ATTR, None)
    if not isinstance(stored_digest, str):
        raise InputError(source, DIGEST_ATTR, "missing or not text")
    if _digest(attrs, datasets) != stored_digest:
        raise InputError(
            source,
            DIGEST_ATTR,
            "the content does not match its checksum: the file was "
            "changed or damaged after it was written",
        )
    return _stored(path, attrs, datasets)


def reseal(path: str | Path) -> None:
    """Recompute the digest of a checkpoint after a deliberate edit (tools that migrate or
    repair checkpoints; the loaded state is still checked for sense)."""
    with h5py.File(path, "a") as handle:
        attrs, datasets = _collect(handle)
        handle.attrs[DIGEST_ATTR] = _digest(attrs, datasets)


def _stored(
    path: Path, attrs: dict[str, dict[str, Any]], datasets: dict[str, np.ndarray]
) -> StoredCheckpoint:
    """The checkpoint record from a file's attributes and datasets (checksum verified)."""
    source = str(path)
    root = attrs.get("", {})
    text = text_attr(root, "scenario", source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(source, "scenario", f"not valid TOML ({error})") from None
    scenario = scenario_from_dict(data, f"{source} (its scenario)").with_source(
        text_attr(root, "scenario_source", source)
    )
    state = SimulationState(
        tick=_int(root, "tick", source),
        seed=_int(root, "seed", source),
        time_min=_float(root, "time_min", source),
    )
    prefix = "state/"
    for name, value in datasets.items():
        if name.startswith(prefix):
            state.arrays[name[len(prefix) :]] = value
    for name, values in attrs.items():
        if name.startswith(prefix) and values:
            state.counters[name[len(prefix) :]] = {
                key: _int(values, key, f"{source}: {name}") for key in values
            }
    settings = {
        k: v.item() if isinstance(v, np.generic) else v for k, v in attrs.get("run", {}).items()
    }
    written_on = str(root.get("backend", ""))
    run_id = root.get("run_id", "")
    return StoredCheckpoint(path, scenario, state, settings, written_on, str(run_id))


def _collect(handle: h5py.File) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Every group's attributes (path -> name -> value; the root is "") and every dataset
    (path -> array), reading data with its Fletcher-32 checks."""
    attrs: dict[str, dict[str, Any]] = {"": dict(handle.attrs)}
    datasets: dict[str, np.ndarray] = {}

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            try:
                datasets[name] = item[()]
            except OSError as error:
                raise InputError(
                    handle.filename, name, f"damaged data ({one_line(error)})"
                ) from None
            if item.attrs:
                attrs[name] = dict(item.attrs)
        else:
            attrs[name] = dict(item.attrs)

    handle.visititems(visit)
    return attrs, datasets


def _digest(attrs: dict[str, dict[str, Any]], datasets: dict[str, np.ndarray]) -> str:
    """SHA-256 (hex) of a canonical serialisation of attributes and datasets."""
    digest = hashlib.sha256()
    for path in sorted(attrs):
        values = {
            k: _canonical(v) for k, v in attrs[path].items() if (path, k) != ("", DIGEST_ATTR)
        }
        digest.update(json.dumps([path, values], sort_keys=True).encode())
    for path in sorted(datasets):
        array = np.ascontiguousarray(datasets[path])
        digest.update(json.dumps([path, array.dtype.str, list(array.shape)]).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    """An attribute value as JSON-able data that survives an HDF5 round trip unchanged."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray):
        return [value.dtype.str, [_canonical(v) for v in value.tolist()]]
    if isinstance(value, np.generic):
        return [value.dtype.str, value.item()]
    if isinstance(value, float):
        return ["f8", value]
    if isinstance(value, int):
        return ["i8", value]
    return value


def _int(attrs: dict[str, Any], name: str, source: str) -> int:
    value = attrs.get(name)
    if not isinstance(value, np.integer | int) or isinstance(value, bool):
        raise InputError(source, name, "missing or not an integer")
    return int(value)


def _float(attrs: dict[str, Any], name: str, source: str) -> float:
    value = attrs.get(name)
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
