"""One member of a sweep, run on a worker with the same :class:`~tissue.runner.Runner` as
``tissue run``, made safe to run twice, to kill at any moment and to run again.

A member's folder under ``OUT/members/`` is::

    <id>/                 a finished member: run.h5 (status complete), checkpoint.h5,
                          timeseries.csv, scenario.toml, run.xmf and member.json
    <id>.part-<token>/    a member in progress (or one whose worker died)

A run starts in a ``.part-`` folder of its own. On success, ``member.json`` is written
(atomically) and the folder is renamed to ``<id>`` in one step, so a member folder either is
complete or does not exist. A later attempt first claims any ``.part-`` folder of the same
member by renaming it to its own name (only one attempt can win a rename), resumes the run
from its checkpoint when there is one, and otherwise starts clean in it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tissue.errors import InputError
from tissue.io.hdf5 import one_line
from tissue.io.runfile import RunReader
from tissue.runner import CHECKPOINT_FILE, RUN_FILE, Runner, RunSettings

if TYPE_CHECKING:
    from tissue.backend import BackendName
    from tissue.config import Scenario
    from tissue.simulation import Simulation

MEMBER_FILE = "member.json"
PART = ".part-"
log = logging.getLogger(__name__)


class MemberError(RuntimeError):
    """A member's run failed; the message is one line. (A plain one-argument exception, so
    that it travels back from a worker whatever raised it there.)"""


@dataclass(frozen=True)
class MemberTask:
    """What a worker needs to run one member.

    Attributes:
        member_id: the member's id (its folder's name).
        members_dir: ``OUT/members``, absolute, on a file system the workers share.
        scenario: the member's validated scenario.
        seed: the run's seed.
        parameters: the varied keys and values (recorded in member.json).
        backend: ``auto``, ``cpu`` or ``gpu``.
        checkpoint_every_min: simulated minutes between checkpoints (0: only at the end).
        trunk: the folder of a finished run this member branches from (its checkpoint's
            state continued as ``scenario``; see :meth:`tissue.Simulation.branch`), or "".
    """

    member_id: str
    members_dir: str
    scenario: Scenario
    seed: int
    parameters: dict[str, Any] = field(default_factory=dict)
    backend: BackendName = "auto"
    checkpoint_every_min: float = 0.0
    trunk: str = ""

    @property
    def settings(self) -> RunSettings:
        """The run's settings: the scenario's run length and snapshot interval."""
        run = self.scenario.run
        return RunSettings(run.days, run.snapshot_interval_min, self.checkpoint_every_min)


@dataclass(frozen=True)
class MemberOutcome:
    """A finished member: its final observables and how it got there.

    Attributes:
        member_id: the member's id.
        observables: the last row of the run's time series.
        attempts: runs started for it (more than 1 after a failure or a lost worker).
        wall_s: wall-clock seconds of the attempt that finished it.
    """

    member_id: str
    observables: dict[str, float]
    attempts: int
    wall_s: float


def run_member(task: MemberTask, *after: Any) -> MemberOutcome:
    """Run ``task`` to completion unless it is finished already; idempotent. ``after``: the
    outcomes of the tasks it waited for (its trunk's), unused.

    Raises:
        MemberError: the run failed (one line).
    """
    try:
        return _run_member(task)
    except Exception as error:
        text = str(error) if isinstance(error, InputError) else one_line(error)
        raise MemberError(f"{type(error).__name__}: {text}") from None


def finished_outcome(folder: Path) -> MemberOutcome | None:
    """The outcome of the finished member in ``folder``, or None if it is not finished."""
    record = _read_record(folder)
    if record.get("status") != "complete" or not (folder / RUN_FILE).is_file():
        return None
    try:
        reader = RunReader(folder / RUN_FILE)
        if reader.status != "complete":
            return None
        observables = reader.final()
    except InputError:
        return None
    return MemberOutcome(
        str(record["member"]), observables, int(record["attempts"]), float(record["wall_s"])
    )


def attempts_started(members_dir: Path, member_id: str) -> int:
    """Runs started for an unfinished member (as its ``.part-`` folder records them)."""
    records = (_read_record(part) for part in members_dir.glob(f"{member_id}{PART}*"))
    return max((int(record.get("attempts", 0)) for record in records), default=0)


def _run_member(task: MemberTask) -> MemberOutcome:
    members = Path(task.members_dir)
    final = members / task.member_id
    done = finished_outcome(final)
    if done is not None:
        return done
    members.mkdir(parents=True, exist_ok=True)
    work = _claim(members, task.member_id)
    attempts = int(_read_record(work).get("attempts", 0)) + 1
    record = {
        "member": task.member_id,
        "seed": task.seed,
        "parameters": task.parameters,
        "status": "running",
        "attempts": attempts,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    _write_record(work, record)
    started = time.perf_counter()
    sim, resume = _restore_or_start(work, task)
    history = Path(task.trunk) / RUN_FILE if task.trunk and not resume else None
    Runner(sim, work, task.settings, resume=resume, report=log.warning, history=history).run()
    _write_record(work, {**record, "status": "complete", "wall_s": time.perf_counter() - started})
    _publish(work, final)
    outcome = finished_outcome(final)
    if outcome is None:
        raise MemberError(f"{final}: not complete after its run")
    return outcome


def _claim(members: Path, member_id: str) -> Path:
    """A ``.part-`` folder of this attempt's own: an earlier attempt's, renamed (so that no
    other attempt works in it), or a new one."""
    mine = members / f"{member_id}{PART}{uuid.uuid4().hex[:8]}"
    for earlier in sorted(members.glob(f"{member_id}{PART}*")):
        try:
            earlier.rename(mine)
        except FileNotFoundError:  # another attempt claimed it first
            continue
        return mine
    mine.mkdir()
    return mine


def _restore_or_start(work: Path, task: MemberTask) -> tuple[Simulation, bool]:
    """The simulation from ``work``'s checkpoint (resume) or a new one, branched from the
    trunk's checkpoint when there is a trunk (its folder emptied of an earlier attempt's
    files, which cannot be continued)."""
    from tissue.simulation import Simulation, load_checkpoint

    checkpoint = work / CHECKPOINT_FILE
    if checkpoint.is_file() and (work / RUN_FILE).is_file():
        try:
            sim = load_checkpoint(checkpoint, backend=task.backend).simulation
        except InputError as error:
            log.warning("%s; starting %s again", error, task.member_id)
        else:
            if sim.seed == task.seed:
                return sim, True
    for path in work.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        elif path.name != MEMBER_FILE:
            path.unlink()
    if task.trunk:
        trunk = load_checkpoint(Path(task.trunk) / CHECKPOINT_FILE, backend=task.backend)
        return trunk.simulation.branch(task.scenario), False
    return Simulation(task.scenario, backend=task.backend, seed=task.seed), False


def _publish(work: Path, final: Path) -> None:
    """Rename the finished ``work`` to ``final`` in one step; if another attempt got there
    first with a finished member, drop this one."""
    try:
        work.rename(final)
    except OSError:
        if finished_outcome(final) is None:
            raise
        shutil.rmtree(work, ignore_errors=True)


def _read_record(folder: Path) -> dict[str, Any]:
    try:
        record = json.loads((folder / MEMBER_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    """Write member.json through a temporary file renamed over it."""
    temporary = folder / f".{MEMBER_FILE}.tmp"
    temporary.write_text(json.dumps(record, indent=2, sort_keys=True))
    temporary.replace(folder / MEMBER_FILE)
