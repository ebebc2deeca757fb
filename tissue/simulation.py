"""The simulation: organs on one backend, stepped by a fixed schedule of processes.

A :class:`Simulation` builds its parts from the scenario (organs, cell types, rules, the
body, the observables) and only orchestrates them: it owns the clock, the order of the
processes and the observers, and gathers and restores the parts' states (each part saves
and restores its own).

Time advances in *ticks* of the shortest process time step (see :mod:`tissue.schedule`). In
each tick, after the interventions due at that tick (see :mod:`tissue.body`), the processes
that are due run in this order, each over its own time step:

1. diffusion (fields, with secretion and uptake of the cells as they are, and exchange
   with the blood; then the blood's concentrations),
2. mechanics (phagocytosis, attack, motility, pair and spring forces, then motion),
3. phenotype (each organ's cell rules: death, clearance, transitions, division, then the
   engulfed volume's relaxation; then the body: intravasation, the fates of circulating
   cells, recruitment),

then the tick count advances; at output ticks the observables remember the tumour front;
then the observers that are due are called. A process due at tick k advances the interval
[k, k + its step). The random stream of a draw is keyed by the tick at which its process
runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tissue.attack import attack_step, damage_attack_step
from tissue.backend import Backend, BackendName, get_backend
from tissue.behaviours import Behaviours
from tissue.body import Body
from tissue.config import Scenario
from tissue.errors import InputError
from tissue.io.checkpoint import read_checkpoint, write_checkpoint
from tissue.io.validate import validate_state
from tissue.limits import check_count, check_days, check_memory, check_seed
from tissue.observables import Observables
from tissue.organ import CellTypes, Contacts, Organ, cell_grid
from tissue.phagocytosis import phagocytosis_step, relax_engulfed
from tissue.placement import place_cells
from tissue.rng import CellRandom
from tissue.rules import cell_exchange, move_cells, phenotype_step, update_motility
from tissue.schedule import Schedule
from tissue.state import SimulationState

Observer = Callable[["Simulation"], None]


class Simulation:
    """A run of a scenario on one backend.

    Args:
        scenario: the validated scenario.
        backend: ``auto``, ``cpu``, ``gpu`` or a :class:`Backend`.
        seed: overrides ``scenario.run.seed``.
        labels: organ -> label volume, used instead of building them; no initial cells are
            placed then (see :meth:`from_state`).
    """

    def __init__(
        self,
        scenario: Scenario,
        backend: BackendName | Backend = "auto",
        seed: int | None = None,
        *,
        labels: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.run.seed if seed is None else check_seed(seed, "seed")
        self.backend = get_backend(backend)
        check_memory(scenario, _organ_shapes(scenario, labels), self.backend)
        self.rng = CellRandom(self.seed)
        self.schedule = Schedule.from_scenario(scenario)
        self.types = CellTypes.from_scenario(self.backend.xp, scenario)
        self.organs = {
            name: Organ(self.backend, name, config, scenario, (labels or {}).get(name), index)
            for index, (name, config) in enumerate(scenario.organs.items())
        }
        self.behaviours = Behaviours(scenario, self.types)
        self.body = Body(scenario, self.organs, self.types, self.rng, self.schedule)
        self.measures = Observables(scenario.observables, self.types)
        self.tick = 0
        self.observers: list[tuple[int, Observer]] = []
        if labels is None:
            place_cells(self.organs, scenario, scenario.initial_cells, "initial_cells", 0, self.rng)
            self.measures.record_front(self.time_min, self.organs)

    # --- time ------------------------------------------------------------------------

    @property
    def time_min(self) -> float:
        """Simulated time in minutes."""
        return self.tick * self.schedule.base_min

    def ticks_for(self, days: float) -> int:
        """Number of ticks in ``days``."""
        return self.schedule.ticks_of_days(days)

    def add_observer(
        self, observer: Observer, every_min: float | None = None, call_now: bool = True
    ) -> None:
        """Call ``observer(sim)`` now (unless ``call_now`` is False) and whenever the tick
        count reaches a multiple of ``every_min`` (default: the output interval)."""
        every = self.schedule.output if every_min is None else self.schedule.ticks_of_min(every_min)
        self.observers.append((every, observer))
        if call_now:
            observer(self)

    def step(self, n: int = 1) -> None:
        """Advance ``n`` ticks (an integer >= 0)."""
        n = check_count(n, "n")
        sched = self.schedule
        body = self.body
        for _ in range(n):
            k = self.tick
            body.begin_tick(k)
            if k % sched.diffusion == 0:
                self._diffusion(sched.diffusion * sched.base_min)
            if k % sched.mechanics == 0:
                dt = sched.mechanics * sched.base_min
                for organ in self.organs.values():
                    phagocytosis_step(organ, self.types, self.rng, k, dt)
                    # one grid for the rest: no cell moves, arrives or leaves before the move
                    grid = cell_grid(organ, self.types) if organ.cells.n else None
                    still = attack_step(organ, self.types, self.rng, k, dt, grid)
                    damage_attack_step(organ, self.types, self.rng, k, dt, grid)
                    update_motility(organ, self.types, self.rng, k, dt, body.factor, still)
                    move_cells(organ, self.types, dt, grid)
            if k % sched.phenotype == 0:
                dt = sched.phenotype * sched.base_min
                for organ in self.organs.values():
                    contacts = Contacts(organ, self.types)
                    behave = self.behaviours.bind(organ, body, contacts)
                    changed = phenotype_step(organ, self.types, self.rng, k, dt, contacts, behave)
                    relax_engulfed(organ, self.types, dt)
                    body.record_transitions(changed)
                body.cells_step(k, dt)
            self.tick += 1
            if self.tick % sched.output == 0:
                self.measures.record_front(self.time_min, self.organs)
            for every, observer in self.observers:
                if self.tick % every == 0:
                    observer(self)

    def run(
        self, days: float | None = None, progress: Callable[[int, int], None] | None = None
    ) -> None:
        """Advance ``days`` (default: the scenario's run length; a number, 0 < days <=
        36,500); ``progress(done, total)`` is called after each tick."""
        total = self.ticks_for(self.scenario.run.days if days is None else check_days(days, "days"))
        for done in range(1, total + 1):
            self.step()
            if progress is not None:
                progress(done, total)

    def _diffusion(self, dt_min: float) -> None:
        exported = {}
        for name, organ in self.organs.items():
            behave = self.behaviours.bind(organ, self.body, Contacts(organ, self.types))
            source, uptake = cell_exchange(organ, self.types, behave)
            exported[name] = organ.fields.step(dt_min, source, uptake, self.body)
        self.body.exchange(dt_min, exported)

    # --- observables -----------------------------------------------------------------

    def observables(self) -> dict[str, float]:
        """A flat dict of numbers: time, cell counts per organ/type/state, field summaries,
        the RMS-equivalent radius of each type's live cells (um), the tumour census and
        front, the blood and the ledger (see :mod:`tissue.observables`). Reading them
        changes nothing."""
        out = self.measures.measure(self.time_min, self.organs)
        out.update(self.body.observables())
        return out

    def widest_contact_um(self) -> float:
        """The farthest any two current cells could interact (um), over the organs (a host
        read, for the outputs): above ``types.max_interaction_um`` the contact search, whose
        bins are that wide, can miss pairs."""
        organs = self.organs.values()
        return max((self.types.widest_contact_um(o.cells) for o in organs), default=0.0)

    # --- state -------------------------------------------------------------------------

    def state(self) -> SimulationState:
        """A host copy of the complete state (see :class:`SimulationState`)."""
        out = SimulationState(tick=self.tick, seed=self.seed, time_min=self.time_min)
        for organ in self.organs.values():
            organ.save_state(out)
        self.body.save_state(out)
        self.measures.save_state(out)
        return out

    @classmethod
    def from_state(
        cls,
        scenario: Scenario,
        state: SimulationState,
        backend: BackendName | Backend = "auto",
    ) -> Simulation:
        """The simulation that continues ``state`` exactly, on any backend.

        Raises:
            ValueError: the state does not fit the scenario (a missing organ, field or
                cell column, or a wrong shape or dtype).
        """
        labels = {oname: state.require(f"organs/{oname}/labels") for oname in scenario.organs}
        sim = cls(scenario, backend=backend, seed=state.seed, labels=labels)
        sim.tick = int(state.tick)
        for organ in sim.organs.values():
            organ.restore_state(state)
        sim.measures.restore_state(state)
        sim.body.restore_state(state)
        return sim

    def branch(self, scenario: Scenario) -> Simulation:
        """This run continued from now as ``scenario``: the same state under a scenario that
        differs from this one only in interventions still to come (and in its name,
        description, run length and default seed), so that it is the run of ``scenario``
        from day 0 with this run's seed, bit for bit. Treatments compared this way share
        their history up to the branch (paired runs, at the cost of one).

        Raises:
            InputError: ``scenario`` differs in anything else, or in an intervention that
                has acted or started by now; one line naming the first such key.
        """
        conflict = branch_conflict(self.scenario, scenario, self.tick, self.schedule)
        if conflict is not None:
            key, message = conflict
            raise InputError(scenario.source, key, message)
        return Simulation.from_state(scenario, self.state(), backend=self.backend)

    def save_checkpoint(self, path: str | Path, **run_settings: Any) -> None:
        """Write the complete state to ``path`` atomically (see :mod:`tissue.io.checkpoint`);
        ``run_settings`` (numbers or strings) are stored beside it for resuming."""
        save_checkpoint(self, path, run_settings)

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, backend: BackendName | Backend = "auto"
    ) -> Simulation:
        """The simulation saved in the checkpoint ``path``, on ``backend``."""
        return load_checkpoint(path, backend).simulation


def _organ_shapes(
    scenario: Scenario, labels: Mapping[str, np.ndarray] | None
) -> dict[str, tuple[int, int, int]]:
    """Organ -> (nx, ny, nz) of the grids a simulation will allocate (organs whose label
    file brings its shape are sized when the file is read)."""
    shapes = {}
    for name, organ in scenario.organs.items():
        if labels is not None and name in labels:
            shapes[name] = tuple(int(n) for n in labels[name].shape[::-1])
        elif organ.shape is not None:
            shapes[name] = tuple(organ.shape)
    return shapes  # type: ignore[return-value]


@dataclass
class Checkpoint:
    """A loaded checkpoint: the restored simulation and the run settings saved with it."""

    path: Path
    simulation: Simulation
    settings: dict[str, Any] = field(default_factory=dict)
    written_on: str = ""
    run_id: str = ""


def save_checkpoint(
    sim: Simulation,
    path: str | Path,
    settings: dict[str, Any] | None = None,
    run_id: str = "",
) -> None:
    """Write the complete state of ``sim`` to ``path`` atomically.

    Args:
        settings: run settings (str, int or float values) to store for resuming.
        run_id: the run the checkpoint belongs to (see :mod:`tissue.io.rundir`).

    Raises:
        CheckpointError: the file could not be written (disk full, read-only folder...);
            any previous checkpoint at ``path`` is left as it was.
    """
    write_checkpoint(path, sim.scenario, sim.state(), sim.backend.name, settings or {}, run_id)


def load_checkpoint(path: str | Path, backend: BackendName | Backend = "auto") -> Checkpoint:
    """Restore the run saved in ``path`` on ``backend`` (any backend reads any checkpoint).

    Raises:
        InputError: a missing, truncated, damaged, changed, foreign or newer file, or a
            state that makes no sense or does not fit its own scenario; one line naming the
            file and what is wrong.
    """
    stored = read_checkpoint(path)
    validate_state(stored.scenario, stored.state, str(stored.path))
    try:
        sim = Simulation.from_state(stored.scenario, stored.state, backend=backend)
    except ValueError as error:
        raise InputError(str(stored.path), "state", str(error)) from None
    return Checkpoint(stored.path, sim, stored.settings, stored.written_on, stored.run_id)


def branch_conflict(
    base: Scenario, other: Scenario, tick: int, schedule: Schedule
) -> tuple[str, str] | None:
    """The first key at which a run of ``base`` at ``tick`` cannot continue as ``other``
    (see :meth:`Simulation.branch`), with what is allowed; None where it can."""
    ours, theirs = base.model_dump(), other.model_dump()
    for dump in (ours, theirs):  # the seed is the run's own; the length the branch's
        dump.pop("name"), dump.pop("description"), dump["run"].pop("days"), dump["run"].pop("seed")
    mine, yours = ours.pop("interventions"), theirs.pop("interventions")
    key = _first_difference(ours, theirs, "")
    if key is not None:
        return key, f"differs from {base.source}'s; a branch may change only interventions to come"
    if list(mine) != list(yours):
        return "interventions", f"must name those of {base.source} in its order: {list(mine)}"
    for name, action in mine.items():
        times = {k: (action.pop(k, None), yours[name].pop(k, None)) for k in _EVENT_DAYS}
        key = _first_difference(action, yours[name], f"interventions.{name}")
        if key is not None:
            return key, f"differs from {base.source}'s; a branch may change only times to come"
        for time_key, (a, b) in times.items():
            first, second = schedule.event_tick(a), schedule.event_tick(b)
            if first != second and min(first, second) < tick:
                return (
                    f"interventions.{name}.{time_key}",
                    f"{b} against {a}: the run is at day {tick * schedule.base_min / 1440:g}; "
                    "a branch may move only what has not happened",
                )
    return None


_EVENT_DAYS = ("start_day", "end_day")


def _first_difference(a: Any, b: Any, key: str) -> str | None:
    """The dotted key of the first difference between two dumped configurations."""
    if isinstance(a, dict) and isinstance(b, dict):
        for name in sorted(a.keys() | b.keys()):
            if name not in a or name not in b:
                return f"{key}.{name}".lstrip(".")
            found = _first_difference(a[name], b[name], f"{key}.{name}")
            if found is not None:
                return found.lstrip(".")
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{key}.{index}")
            if found is not None:
                return found.lstrip(".")
        return None
    return None if a == b else key.lstrip(".") or "scenario"
