"""Driving a run to its end with its files: time series, snapshots, checkpoints, signals.

A :class:`Runner` owns the output folder of one run::

    OUT/scenario.toml     the resolved scenario
    OUT/run.h5            time series and snapshots (see tissue.io.runfile), run.xmf beside it
    OUT/timeseries.csv    the time series as CSV
    OUT/checkpoint.h5     the latest checkpoint (see tissue.io.checkpoint)

Checkpoints are written every ``checkpoint_every_min`` of simulated time (if set), at the end
of the run, and when SIGINT or SIGTERM arrives: the signal only sets a flag, the tick in
progress completes, the checkpoint is written, and the run returns ``interrupted``.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tissue.config import Scenario
from tissue.errors import InputError
from tissue.io.checkpoint import CheckpointError
from tissue.io.runfile import RunFileError, RunWriter
from tissue.observers import TimeSeriesCSV
from tissue.simulation import Simulation, save_checkpoint

RUN_FILE = "run.h5"
CHECKPOINT_FILE = "checkpoint.h5"
CSV_FILE = "timeseries.csv"


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
    """Runs ``sim`` to ``settings.target_days`` writing into ``out``.

    Args:
        sim: a new simulation, or one restored from a checkpoint (``resume``).
        out: the output folder (created).
        settings: the run's settings.
        resume: continue the files in ``out`` from ``sim.tick``.
        report: called with one-line warnings (a checkpoint that could not be written).
    """

    def __init__(
        self,
        sim: Simulation,
        out: str | Path,
        settings: RunSettings,
        resume: bool = False,
        report: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.sim = sim
        self.out = Path(out)
        self.settings = settings
        self.report = report
        self.checkpoint_path = self.out / CHECKPOINT_FILE
        self._checkpointed_tick = -1  # the tick of the checkpoint this runner wrote last
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            if not resume:
                (self.out / "scenario.toml").write_text(sim.scenario.to_toml())
        except OSError as error:
            raise InputError(
                str(self.out), "-o", f"cannot write the output folder ({error})"
            ) from None
        self.run_file = self._open_run_file(resume)
        self.csv = TimeSeriesCSV(
            self.out / CSV_FILE, resume_at_min=sim.time_min if resume else None
        )
        sim.add_observer(self._record, call_now=not resume)
        sim.add_observer(self._snapshot, every_min=settings.snapshot_every_min, call_now=not resume)
        if settings.checkpoint_every_min > 0:
            sim.add_observer(
                self._periodic_checkpoint, every_min=settings.checkpoint_every_min, call_now=False
            )

    def _open_run_file(self, resume: bool) -> RunWriter:
        path = self.out / RUN_FILE
        sim = self.sim
        if resume and path.exists():
            try:
                return RunWriter(path, sim.scenario, sim.state(), sim.backend.name, resume=True)
            except InputError as error:
                aside = path.with_name("run.damaged.h5")
                path.replace(aside)
                self.report(f"{error}; moved it to {aside} and started a new run file")
        return RunWriter(path, sim.scenario, sim.state(), sim.backend.name)

    @property
    def total_ticks(self) -> int:
        return self.sim.ticks_for(self.settings.target_days)

    def checkpoint(self) -> bool:
        """Write the checkpoint now (unless this tick's is written); False (and a report)
        if it could not be written."""
        if self._checkpointed_tick == self.sim.tick:
            return True
        try:
            save_checkpoint(self.sim, self.checkpoint_path, asdict(self.settings))
        except CheckpointError as error:
            self.report(str(error))
            return False
        self._checkpointed_tick = self.sim.tick
        return True

    def _record(self, sim: Simulation) -> None:
        """One row of observables (computed once) to the run file and the CSV."""
        row = sim.observables()
        self.run_file.record_row(sim.tick, row)
        self.csv.write_row(row)

    def _snapshot(self, sim: Simulation) -> None:
        self.run_file.snapshot(sim.state())

    def _periodic_checkpoint(self, sim: Simulation) -> None:
        self.checkpoint()

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
        """Step to the target; returns ``complete`` or ``interrupted`` (after writing a
        checkpoint) when ``stop`` was set by a signal.

        ``progress(done, total)`` is called after each tick with ticks done since day 0.

        Raises:
            RunFileError: the run file could not be written; a checkpoint is attempted
                first, and the message says where it is if it was written.
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
            if stop:
                self.checkpoint()
                self.run_file.finish("interrupted")
                return "interrupted"
            self.run_file.snapshot(self.sim.state())
            self.checkpoint()
            self.run_file.finish("complete")
            return "complete"
        except RunFileError as error:
            if self.checkpoint():
                raise RunFileError(
                    f"{error}; the state at day {self.sim.time_min / 1440:g} is saved in "
                    f"{self.checkpoint_path}"
                ) from error
            raise
        finally:
            self.csv.close()
