"""Checkpoints: the complete state of a run, written so that no failure loses the last one.

Layout of ``checkpoint.h5`` (format ``tissue-checkpoint``, version 3): a 512-byte header
(HDF5's user block, which the library skips) followed by an HDF5 file:

- header: ``tissue-checkpoint sha256 <64 hex digits>\n`` padded with zero bytes, where the
  digest is the SHA-256 of every byte after the header;
- root attributes: ``format``, ``format_version``, ``tissue_version``, ``tissue_commit``
  (as in run files), ``scenario`` (the resolved scenario as TOML), ``scenario_source``,
  ``seed``, ``tick``, ``time_min``, ``backend`` (the one that wrote it; any backend can
  resume it), ``run_id`` (the run it belongs to; "" for one saved from Python);
- ``/state/<path>``: every array of a :class:`~tissue.state.SimulationState`, with
  Fletcher-32 checksums so that damaged data is refused rather than resumed; groups carry
  their counters as attributes (``/state/organs/<organ>/cells``: n, next_id, capacity);
- ``/run`` attributes: the settings of the run (target days, output intervals) for
  ``tissue resume``.

Reading hashes the file before HDF5 parses any of it and refuses a file whose digest differs
from its header, so a changed bit anywhere (data, attributes, chunk index, free space) is
caught without trusting HDF5 to survive damaged metadata (a flipped bit there can make its
reader loop); the loaded state is then checked for sense (see :mod:`tissue.io.validate`).

This module writes and reads state records only; ``tissue.simulation`` turns them into a
running simulation and back.

Writing goes to a temporary file in the same folder, which is flushed to disk and then
renamed over the previous checkpoint: a crash, a signal or a full disk leaves either the
old checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import hashlib
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
    FORMAT_VERSIONS,
    one_line,
    open_checked,
    text_attr,
    write_root_attrs,
)
from tissue.state import SimulationState

HEADER_BYTES = 512  # HDF5 finds its superblock after a user block of 512 * 2**k bytes
HEADER_MAGIC = b"tissue-checkpoint sha256 "


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
            raw.write(_header(hashlib.sha256(image).hexdigest()))
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
        return bytes(handle.id.get_file_image())


def read_checkpoint(path: str | Path) -> StoredCheckpoint:
    """The scenario, state and run settings saved in ``path``, checked against the file's
    digest before HDF5 reads it.

    Raises:
        InputError: a missing, truncated, damaged, changed, foreign or older or newer
            file; one line naming the file and what is wrong.
    """
    path = Path(path)
    source = str(path)
    headed = _verify(path)
    with open_checked(path, CHECKPOINT_FORMAT) as handle:
        version = int(handle.attrs["format_version"])
        if version < FORMAT_VERSIONS[CHECKPOINT_FORMAT]:
            raise InputError(source, "format_version", f"{version}: {_OLDER}")
        if not headed:
            raise InputError(source, "", "no checksum header (damaged?)")
        try:
            attrs, datasets = _collect(handle)
        except InputError:
            raise
        except Exception as error:  # h5py's errors on damaged metadata vary in type
            raise InputError(source, "", f"damaged structure ({one_line(error)})") from None
    return _stored(path, attrs, datasets)


_OLDER = (
    "written by an older tissue without a whole-file checksum; "
    f"allowed: {FORMAT_VERSIONS[CHECKPOINT_FORMAT]} (start the run again)"
)


def reseal(path: str | Path) -> None:
    """Rewrite the header digest of a checkpoint after a deliberate edit with h5py (tools
    that migrate or repair checkpoints; the loaded state is still checked for sense)."""
    with Path(path).open("r+b") as raw:
        header = _header(_body_digest(raw))
        raw.seek(0)
        raw.write(header)


def _header(digest: str) -> bytes:
    """The 512-byte header holding the SHA-256 (hex) of the HDF5 bytes after it."""
    return (HEADER_MAGIC + digest.encode() + b"\n").ljust(HEADER_BYTES, b"\0")


def _body_digest(raw: BinaryIO) -> str:
    """SHA-256 (hex) of an open file's bytes after the header."""
    raw.seek(HEADER_BYTES)
    digest = hashlib.sha256()
    while block := raw.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()


def _verify(path: Path) -> bool:
    """Refuse a checkpoint whose bytes do not match the digest in its header; False for an
    HDF5 file without a header (another file, or a checkpoint of an older version, which
    the format checks then name)."""
    source = str(path)
    try:
        with path.open("rb") as raw:
            header = raw.read(HEADER_BYTES)
            if not header.startswith(HEADER_MAGIC):
                if header.startswith(b"\x89HDF"):
                    return False
                raise InputError(source, "", "not a tissue checkpoint (no checkpoint header)")
            digest = header[len(HEADER_MAGIC) : len(HEADER_MAGIC) + 64].decode(
                "ascii", errors="replace"
            )
            if header != _header(digest) or _body_digest(raw) != digest:
                raise InputError(
                    source,
                    "sha256",
                    "the content does not match its checksum: the file was "
                    "truncated, changed or damaged after it was written",
                )
    except FileNotFoundError:
        raise InputError(source, "", "no such file") from None
    except OSError as error:
        raise InputError(source, "", f"unreadable ({one_line(error)})") from None
    return True


def _stored(
    path: Path, attrs: dict[str, dict[str, Any]], datasets: dict[str, np.ndarray]
) -> StoredCheckpoint:
    """The checkpoint record from a file's attributes and datasets."""
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
