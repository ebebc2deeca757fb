"""Opening tissue HDF5 files with checks, and the attributes every file carries."""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tissue.config import Scenario
from tissue.errors import InputError

RUN_FORMAT = "tissue-run"
CHECKPOINT_FORMAT = "tissue-checkpoint"
# the version of each format this code writes (the newest it reads)
FORMAT_VERSIONS = {RUN_FORMAT: 1, CHECKPOINT_FORMAT: 3}


@cache
def code_commit() -> str:
    """The git commit of the running code (its ``tissue`` and ``gpu_kernels``; ``+dirty``
    where they differ from it), or "" outside a git checkout (an installed wheel): what a
    run file records so that runs of different code cannot be mixed unseen."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=20)  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    if not head:
        return ""
    dirty = git("status", "--porcelain", "--", "tissue", "gpu_kernels")
    return head + ("+dirty" if dirty else "")


def package_version() -> str:
    try:
        return version("tissue")
    except PackageNotFoundError:
        return "0+unknown"


def open_checked(path: str | Path, fmt: str, mode: str = "r") -> h5py.File:
    """Open a tissue file of format ``fmt``; refuse missing, damaged, foreign and newer
    files with an :class:`InputError` naming the file.

    Reading does not take HDF5's file lock, so a run file can be read while a run
    appends to it (the writer opens it only for the moment of each output).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "", "no such file")
    try:
        handle = h5py.File(path, mode, locking=False) if mode == "r" else h5py.File(path, mode)
    except Exception as error:  # OSError mostly; damaged superblocks raise others
        raise InputError(
            str(path), "", f"not a readable HDF5 file (truncated or damaged?): {one_line(error)}"
        ) from None
    try:
        found = handle.attrs.get("format")
        if isinstance(found, bytes):
            found = found.decode()
        if found != fmt:
            what = "no 'format' attribute" if found is None else f"format '{found}'"
            raise InputError(str(path), "format", f"{what}; expected a '{fmt}' file")
        file_version = handle.attrs.get("format_version")
        if not isinstance(file_version, np.integer | int):
            raise InputError(str(path), "format_version", "missing or not an integer")
        if int(file_version) > FORMAT_VERSIONS[fmt]:
            raise InputError(
                str(path),
                "format_version",
                f"{int(file_version)} is newer than this tissue "
                f"{package_version()} reads (<= {FORMAT_VERSIONS[fmt]}); upgrade tissue",
            )
        if int(file_version) < 1:
            raise InputError(str(path), "format_version", f"{int(file_version)} is not valid")
    except InputError:
        with contextlib.suppress(Exception):
            handle.close()
        raise
    except Exception as error:  # h5py's errors on inconsistent metadata vary in type
        with contextlib.suppress(Exception):
            handle.close()
        raise InputError(str(path), "", f"unreadable ({one_line(error)})") from None
    return handle


def text_attr(holder: h5py.Group | Mapping[str, Any], name: str, source: str) -> str:
    """A string attribute of a group (or of a mapping of attributes already read), or an
    InputError naming it."""
    value = getattr(holder, "attrs", holder).get(name)
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, str):
        raise InputError(source, name, "missing or not text")
    return value


def write_root_attrs(
    handle: h5py.File, fmt: str, scenario: Scenario, seed: int, backend: str, **attrs: Any
) -> None:
    """Format name and version, package version and commit, the scenario (TOML), seed and
    backend of a run, and ``attrs``, as root attributes."""
    handle.attrs["format"] = fmt
    handle.attrs["format_version"] = np.int64(FORMAT_VERSIONS[fmt])
    handle.attrs["tissue_version"] = package_version()
    handle.attrs["tissue_commit"] = code_commit()
    handle.attrs["scenario"] = scenario.to_toml()
    handle.attrs["seed"] = np.int64(seed)
    handle.attrs["backend"] = backend
    for key, value in attrs.items():
        handle.attrs[key] = value


def one_line(error: BaseException) -> str:
    """The useful part of an h5py error message, on one line (HDF5's record of a failed
    write, with its time, buffer and offsets, shortened to the system's message)."""
    text = " ".join(str(error).split())
    match = re.search(r"\(file write failed:.*error message = '([^']*)'.*\)", text)
    if match:
        text = f"{text[: match.start()].rstrip()}: {match.group(1)}"
    return text or type(error).__name__
