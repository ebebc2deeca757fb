"""Run folders: one run owns a folder, for its whole life, and its files carry its id.

A run takes ``OUT/run.lock`` before it writes anything and holds it until it ends: an
exclusive ``flock`` on the file, which the kernel drops when the process dies, so a lock
left by a killed run is taken over (and reported) rather than blocking the folder forever.
The file names the holder (pid, host, run id, start time) for the message a second run gets.

Every run has a random *run id* (32 hex digits), written into ``run.h5``, ``checkpoint.h5``
and each row of ``timeseries.csv``; ``tissue resume`` refuses a folder whose files carry
different ids (two runs mixed), and ``tissue run`` refuses a folder that already holds a
run unless told to replace it (:func:`clear_run_files`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from tissue.errors import InputError

try:
    import fcntl
except ImportError:  # not POSIX: no locking (documented)
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "run.lock"
RUN_FILE = "run.h5"
CHECKPOINT_FILE = "checkpoint.h5"
CSV_FILE = "timeseries.csv"
SCENARIO_FILE = "scenario.toml"
XDMF_FILE = "run.xmf"
DAMAGED_RUN_FILE = "run.damaged.h5"
DAMAGED_CSV_FILE = "timeseries.damaged.csv"
RUN_FILES = (
    RUN_FILE,
    CHECKPOINT_FILE,
    CSV_FILE,
    SCENARIO_FILE,
    XDMF_FILE,
    DAMAGED_RUN_FILE,
    DAMAGED_CSV_FILE,
)


def new_run_id() -> str:
    """A fresh random run id (32 lowercase hex digits)."""
    return uuid.uuid4().hex


class RunLock:
    """Exclusive ownership of the run folder ``folder`` while held.

    Args:
        folder: the run folder (created).
        run_id: the id of the run taking it (written into the lock file).

    Raises:
        InputError: (from :meth:`acquire`) another live process holds the folder, or the
            folder cannot be created or written.
    """

    def __init__(self, folder: str | Path, run_id: str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.run_id = run_id
        self._fd: int | None = None
        self.taken_over: dict[str, Any] | None = None  # the dead holder's record, if any

    def acquire(self) -> RunLock:
        """Take the lock; a lock whose holder died is taken over (``taken_over`` says
        whose)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(
                str(self.folder), "-o", f"cannot write the output folder ({error})"
            ) from None
        while True:
            fd = self._open()
            if fcntl is None:
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_record(self.path)
                os.close(fd)
                raise InputError(
                    str(self.folder),
                    "",
                    f"{_describe(holder)} is writing this folder; "
                    "allowed: wait for it to end, or use another folder",
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the file was replaced while we waited: lock the current one
        previous = _read_record(self.path)
        if previous:
            self.taken_over = previous
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "run_id": self.run_id,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
        except OSError as error:
            os.close(fd)
            raise InputError(str(self.path), "", f"cannot write the run lock ({error})") from None
        self._fd = fd
        return self

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise InputError(
                str(self.folder), "-o", f"cannot write the output folder ({error})"
            ) from None

    def release(self) -> None:
        """Give the folder up (removes the lock file)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except OSError:
        return False


def _read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "another run"
    return (
        f"another run (pid {holder.get('pid')} on {holder.get('host')}, run id "
        f"{str(holder.get('run_id', '?'))[:8]}, since {holder.get('started')})"
    )


def describe_taken_over(record: dict[str, Any]) -> str:
    """A one-line note that a dead run's lock was taken over."""
    return (
        f"took over the lock of a run that is no longer running (pid {record.get('pid')} on "
        f"{record.get('host')}, since {record.get('started')})"
    )


def run_files_present(folder: str | Path) -> list[str]:
    """Names of a run's files present in ``folder``."""
    folder = Path(folder)
    return [name for name in RUN_FILES if (folder / name).exists()]


def clear_run_files(folder: str | Path) -> None:
    """Remove a run's files (and temporary files of interrupted writes) from ``folder``;
    the caller holds its lock.

    Raises:
        InputError: a file could not be removed.
    """
    folder = Path(folder)
    for name in RUN_FILES:
        try:
            (folder / name).unlink(missing_ok=True)
        except OSError as error:
            raise InputError(str(folder / name), "", f"cannot remove ({error})") from None
    remove_stale_temporaries(folder)


def remove_stale_temporaries(folder: str | Path) -> None:
    """Remove temporary files left by writes a killed run never finished (the caller holds
    the lock, so no live run is writing them)."""
    folder = Path(folder)
    for name in (CHECKPOINT_FILE, CSV_FILE, SCENARIO_FILE, XDMF_FILE):
        for stray in folder.glob(f".{name}.*tmp"):
            with contextlib.suppress(OSError):
                stray.unlink()
