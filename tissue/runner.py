"""Driving a run to its end with its files: time series, snapshots, checkpoints, signals.

A :class:`Runner` owns the output folder of one run, locked for its life (see
:mod:`tissue.io.rundir`)::

    OUT/run.lock          held while the run writes (names the process)
    OUT/scenario.toml     the resolved scenario
    OUT/run.h5            time series and snapshots (see tissue.io.runfile), run.xmf beside it
    OUT/timeseries.csv    the time series as CSV
    OUT/checkpoint.h5     the latest checkpoint (see tissue.io.checkpoint)

Each run has a run id, written into run.h5, checkpoint.h5 and the CSV: a new run refuses a
folder that holds another run (unless ``overwrite``), and a resumed run refuses files of
two different runs.

Checkpoints are written every ``checkpoint_every_min`` of simulated time (if set), at the end
of the run, and when SIGINT or SIGTERM arrives: the signal only sets a flag, the tick in
progress completes, the checkpoint is written, and the run returns ``interrupted``. A run
that reaches its end records its final state as the last time-series row and snapshot, and
returns ``complete``, or ``incomplete`` when its final checkpoint could not be written.
"""

from __future__ import annotations

import contextlib
import csv
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5py

from tissue.config import Scenario
from tissue.errors import InputError
from tissue.io.checkpoint import CheckpointError
from tissue.io.rundir import (
    CHECKPOINT_FILE,
    CSV_FILE,
    DAMAGED_CSV_FILE,
    DAMAGED_RUN_FILE,
    RUN_FILE,
    SCENARIO_FILE,
    RunLock,
    clear_run_files,
    describe_taken_over,
    new_run_id,
    remove_stale_temporaries,
    run_files_present,
)
from tissue.io.runfile import RunFileError, RunReader, RunWriter
from tissue.io.xdmf import write_text_atomic
from tissue.limits import check_days, check_interval_min
from tissue.observers import TimeSeriesCSV
from tissue.simulation import Simulation, save_checkpoint

__all__ = ["CHECKPOINT_FILE", "CSV_FILE", "RUN_FILE", "RunSettings", "Runner"]


@dataclass(frozen=True)
class RunSettings:
    """What a run was asked for, stored in each checkpoint so that a resume continues it.

    Attributes:
        target_days: simulated days at which the run ends (counted from day 0).
        snapshot_every_min: simulated minutes between snapshots.
        checkpoint_every_min: simulated minutes between checkpoints, or 0 for only at the
            end and on a signal.
    """

    target_days: float
    snapshot_every_min: float
    checkpoint_every_min: float = 0.0

    @classmethod
    def from_stored(cls, stored: dict[str, Any], scenario: Scenario, source: str) -> RunSettings:
        """The settings saved with a checkpoint; the scenario's run length and snapshot
        interval stand in for any that are missing (a checkpoint saved from Python)."""
        values = {
            "target_days": stored.get("target_days", scenario.run.days),
            "snapshot_every_min": stored.get(
                "snapshot_every_min", scenario.run.snapshot_interval_min
            ),
            "checkpoint_every_min": stored.get("checkpoint_every_min", 0.0),
        }
        try:
            return cls(**{key: float(value) for key, value in values.items()})
        except (TypeError, ValueError):
            raise InputError(source, "run", f"bad run settings {stored}") from None

    def checked(self, base_min: float, names: dict[str, str] | None = None) -> RunSettings:
        """These settings, refused (one line naming ``names[field]``, default the field's
        own name) unless the days are in range and the intervals whole multiples of the
        shortest time step ``base_min`` (a checkpoint interval may be 0: none)."""
        names = names or {}
        check_days(self.target_days, names.get("target_days", "target_days"))
        check_interval_min(
            self.snapshot_every_min, names.get("snapshot_every_min", "snapshot_every_min"), base_min
        )
        if self.checkpoint_every_min != 0:
            check_interval_min(
                self.checkpoint_every_min,
                names.get("checkpoint_every_min", "checkpoint_every_min"),
                base_min,
            )
        return self


class StopRequest:
    """Set by SIGINT or SIGTERM; the run stops after the tick in progress."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __bool__(self) -> bool:
        return self.signal is not None


@contextmanager
def deferred_signals() -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM set a :class:`StopRequest` instead of stopping
    the process (where signals can be caught: the main thread)."""
    stop = StopRequest()

    def handler(signum: int, _frame: Any) -> None:
        stop.signal = signum

    previous: dict[int, Any] = {}
    try:
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, handler)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield stop
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


class Runner:
    """Runs ``sim`` to ``settings.target_days`` writing into ``out``, which it locks.

    Args:
        sim: a new simulation, or one restored from a checkpoint (``resume``).
        out: the output folder (created).
        settings: the run's settings.
        resume: continue the files in ``out`` from ``sim.tick``; they must belong to the
            run ``run_id`` (the checkpoint's).
        report: called with one-line warnings (a checkpoint that could not be written).
        overwrite: a new run into a folder holding another run removes that run's files
            first (otherwise it is refused).
        run_id: the run's id: the checkpoint's when resuming; a new one by default.
        history: a new run that is a branch of another at ``sim.tick``
            (:meth:`Simulation.branch`): that run's file, whose rows and snapshots up to
            now begin this run's files, so that they equal those of a run of ``sim``'s
            scenario from day 0.

    Raises:
        InputError: another process is writing ``out``; ``out`` holds another run (a new
            run without ``overwrite``) or files of two runs (resuming); bad settings; the
            folder cannot be written.
    """

    def __init__(
        self,
        sim: Simulation,
        out: str | Path,
        settings: RunSettings,
        resume: bool = False,
        report: Callable[[str], None] = lambda message: None,
        overwrite: bool = False,
        run_id: str = "",
        history: Path | None = None,
    ) -> None:
        self.sim = sim
        self.out = Path(out)
        self.settings = settings.checked(sim.schedule.base_min)
        self.report = report
        self.checkpoint_path = self.out / CHECKPOINT_FILE
        self.run_id = run_id or (_checkpoint_run_id(self.checkpoint_path) if resume else "")
        self.run_id = self.run_id or new_run_id()
        self._checkpointed_tick = -1  # the tick of the checkpoint this runner wrote last
        self._last_row_tick = -1
        self._widest_contact_um = 0.0  # the farthest two cells could interact at an output
        self.lock = RunLock(self.out, self.run_id).acquire()
        try:
            if self.lock.taken_over:
                report(describe_taken_over(self.lock.taken_over))
            self._claim(resume, overwrite)
            self._write_scenario()
            self.run_file = self._open_run_file(resume)
            self.csv = self._open_csv(resume)
            if history is not None:
                self._copy_history(history)
        except BaseException:
            self.lock.release()
            raise
        continued = resume or history is not None
        if not continued or sim.tick % sim.schedule.output == 0:
            self._last_row_tick = sim.tick  # recorded now, or kept in the files
        sim.add_observer(self._record, call_now=not continued)
        sim.add_observer(
            self._snapshot, every_min=settings.snapshot_every_min, call_now=not continued
        )
        if settings.checkpoint_every_min > 0:
            sim.add_observer(
                self._periodic_checkpoint, every_min=settings.checkpoint_every_min, call_now=False
            )

    # --- the folder ------------------------------------------------------------------

    def _claim(self, resume: bool, overwrite: bool) -> None:
        """Make sure the folder holds only this run's files (under the lock)."""
        present = run_files_present(self.out)
        if not resume and present:
            if not overwrite:
                raise InputError(
                    str(self.out),
                    "",
                    f"holds another run ({_describe_run(self.out, present)}); allowed: "
                    f"`tissue resume {self.out}` to continue it, another folder, or "
                    "--overwrite to replace it",
                )
            clear_run_files(self.out)
        remove_stale_temporaries(self.out)
        if resume:
            check_belongs(self.out, self.run_id, "resume a folder whose files belong to one "
                          "run, or start again with `tissue run ... --overwrite`")  # fmt: skip

    def _write_scenario(self) -> None:
        """scenario.toml, written atomically (also on resume, so it is the run's own)."""
        try:
            write_text_atomic(self.out / SCENARIO_FILE, self.sim.scenario.to_toml())
        except OSError as error:
            raise InputError(
                str(self.out), "-o", f"cannot write the output folder ({error})"
            ) from None

    def _keep_through(self, every: int) -> int:
        """The last tick, at or before the resume tick, on a grid of ``every`` ticks (the
        final row of a run that is now extended is dropped, so that the time series stays
        evenly spaced as in a run that never stopped; its final snapshot is a real state
        and stays)."""
        tick = self.sim.tick
        return tick if tick % every == 0 else tick - 1

    def _open_run_file(self, resume: bool) -> RunWriter:
        path = self.out / RUN_FILE
        sim = self.sim
        state = sim.state()
        if resume and path.exists():
            try:
                return RunWriter(
                    path,
                    sim.scenario,
                    state,
                    sim.backend.name,
                    resume=True,
                    keep_rows_through=self._keep_through(sim.schedule.output),
                )
            except InputError as error:
                aside = path.with_name(DAMAGED_RUN_FILE)
                path.replace(aside)
                self.report(f"{error}; moved it to {aside} and started a new run file")
        try:
            return RunWriter(path, sim.scenario, state, sim.backend.name, run_id=self.run_id)
        except RunFileError as error:
            raise InputError(str(path), "", str(error).removeprefix(f"{path}: ")) from None

    def _open_csv(self, resume: bool) -> TimeSeriesCSV:
        path = self.out / CSV_FILE
        at_min = None
        if resume:
            at_min = self._keep_through(self.sim.schedule.output) * self.sim.schedule.base_min
        try:
            return TimeSeriesCSV(path, resume_at_min=at_min, run_id=self.run_id)
        except (csv.Error, ValueError, KeyError, UnicodeDecodeError) as error:
            aside = path.with_name(DAMAGED_CSV_FILE)
            path.replace(aside)
            self.report(
                f"{path}: unreadable ({type(error).__name__}: {error}); moved it to {aside} and "
                "started a new CSV (the run file holds the whole time series)"
            )
            return TimeSeriesCSV(path, run_id=self.run_id)
        except OSError as error:
            raise InputError(str(path), "", f"cannot write ({error})") from None

    def _copy_history(self, history: Path) -> None:
        """Begin the new files with the rows and snapshots of the run file ``history`` up
        to now, each on its own grid (that run's final row and snapshot, if it ended between
        outputs, are not this run's)."""
        sim = self.sim
        snapshots = self._keep_through(sim.schedule.ticks_of_min(self.settings.snapshot_every_min))
        try:
            rows = self.run_file.copy_history(
                history, sim.tick, self._keep_through(sim.schedule.output), snapshots
            )
            for row in rows:
                self.csv.write_row(row)
        except RunFileError as error:
            raise InputError(str(self.out), "", str(error)) from None
        except OSError as error:
            raise InputError(str(self.out / CSV_FILE), "", f"cannot write ({error})") from None

    @property
    def total_ticks(self) -> int:
        return self.sim.ticks_for(self.settings.target_days)

    # --- outputs ---------------------------------------------------------------------

    def checkpoint(self) -> bool:
        """Write the checkpoint now (unless this tick's is written); False (and a report)
        if it could not be written."""
        if self._checkpointed_tick == self.sim.tick:
            return True
        try:
            save_checkpoint(self.sim, self.checkpoint_path, asdict(self.settings), self.run_id)
        except CheckpointError as error:
            self.report(str(error))
            return False
        self._checkpointed_tick = self.sim.tick
        return True

    def _record(self, sim: Simulation) -> None:
        """One row of observables (computed once) to the run file and the CSV."""
        row = sim.observables()
        self.run_file.record_row(sim.tick, row)
        try:
            self.csv.write_row(row)
        except OSError as error:
            raise RunFileError(f"{self.csv.path}: cannot write the CSV ({error})") from None
        self._last_row_tick = sim.tick
        self._widest_contact_um = max(self._widest_contact_um, sim.widest_contact_um())

    def _snapshot(self, sim: Simulation) -> None:
        self.run_file.snapshot(sim.state())

    def _periodic_checkpoint(self, sim: Simulation) -> None:
        self.checkpoint()

    def _report_contacts(self) -> None:
        """A warning when cells grew, at some output, to interact farther than the contact
        search's bins are wide (:func:`tissue.volume.contact_reach`): pairs farther apart
        than that may have been missed between outputs."""
        bins = self.sim.types.max_interaction_um
        if self._widest_contact_um > bins:
            self.report(
                f"cells grew to interact over {self._widest_contact_um:.1f} um, beyond the "
                f"contact search's {bins:.1f} um (sized for a swollen necrotic cell and one "
                f"meal of an eater): contacts farther apart than {bins:.1f} um were missed"
            )

    def _report_solver(self) -> None:
        """A warning for each field whose diffusion solve ever stopped at its iteration cap
        short of its tolerance (its error was then larger than the tolerance says)."""
        for organ_name, organ in self.sim.organs.items():
            for name, stats in organ.fields.stats.items():
                if stats.unconverged:
                    config = organ.fields.configs[name]
                    self.report(
                        f"field {name} in {organ_name}: {stats.unconverged} of {stats.steps} "
                        f"diffusion steps stopped at solver_max_iterations = "
                        f"{config.solver_max_iterations} before solver_tolerance = "
                        f"{config.solver_tolerance:g}; raise the cap or shorten diffusion_min"
                    )

    def run(
        self,
        stop: StopRequest | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> str:
        """Step to the target; returns ``complete``, ``incomplete`` (the final checkpoint
        could not be written; reported) or ``interrupted`` (after writing a checkpoint)
        when ``stop`` was set by a signal. The folder's lock is released on return.

        ``progress(done, total)`` is called after each tick with ticks done since day 0.

        Raises:
            RunFileError: the run file could not be written; a checkpoint is attempted
                first, and the message says where it is if it was written.
            InputError: the model ran out of bounds (cells outgrowing the memory); the
                run file is marked ``failed``.
        """
        if stop is None:
            stop = StopRequest()
        total = self.total_ticks
        try:
            while self.sim.tick < total and not stop:
                self.sim.step()
                if progress is not None:
                    progress(self.sim.tick, total)
            self._report_solver()
            self._report_contacts()
            if stop:
                self.checkpoint()
                self.run_file.finish("interrupted")
                return "interrupted"
            if self._last_row_tick != self.sim.tick:
                self._record(self.sim)
            self.run_file.snapshot(self.sim.state())
            status = "complete" if self.checkpoint() else "incomplete"
            self.run_file.finish(status)
            return status
        except RunFileError as error:
            if self.checkpoint():
                raise RunFileError(
                    f"{error}; the state at day {self.sim.time_min / 1440:g} is saved in "
                    f"{self.checkpoint_path}"
                ) from error
            raise
        except InputError:
            with contextlib.suppress(RunFileError):
                self.run_file.finish("failed")
            raise
        finally:
            self.close()

    def close(self) -> None:
        """Close the CSV and release the folder (done by :meth:`run`)."""
        self.csv.close()
        self.lock.release()


def check_belongs(folder: Path, run_id: str, allowed: str) -> None:
    """Refuse (``allowed``: what to do instead) a folder whose run file belongs to another
    run than ``run_id``, its checkpoint's; a missing or damaged run file passes (a resume
    moves it aside)."""
    path = folder / RUN_FILE
    if not path.exists():
        return
    try:
        found = RunReader(path).run_id
    except InputError:
        return
    if found != run_id:
        raise InputError(
            str(path),
            "run_id",
            f"belongs to run {found[:8] or '(none)'}, but {CHECKPOINT_FILE} to run "
            f"{run_id[:8] or '(none)'}: the folder mixes two runs; allowed: {allowed}",
        )


def _checkpoint_run_id(path: Path) -> str:
    """The run id stored in the checkpoint at ``path`` ("" if none can be read)."""
    try:
        with h5py.File(path, "r", locking=False) as handle:
            value = handle.attrs.get("run_id", "")
    except Exception:  # missing or unreadable: the caller's load reports it
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _describe_run(folder: Path, present: list[str]) -> str:
    """What a folder's existing run is, for the refusal message."""
    try:
        reader = RunReader(folder / RUN_FILE)
    except InputError:
        return ", ".join(present)
    return (
        f"{reader.scenario_name}, seed {reader.seed}, {reader.status}, run id "
        f"{reader.run_id[:8] or '(none)'}"
    )
