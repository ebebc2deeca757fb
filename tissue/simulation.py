"""The simulation: organs on one backend, stepped by a fixed schedule of processes.

Time advances in *ticks* of the shortest process time step. In each tick, after the
interventions due at that tick (see :mod:`tissue.body`), the processes that are due run in
this order, each over its own time step:

1. diffusion (fields, with secretion and uptake of the cells as they are, and exchange
   with the blood; then the blood's concentrations),
2. mechanics (motility and pair forces, then motion),
3. phenotype (each organ's cell rules: attack, death, clearance, transitions, division;
   then the body: intravasation, the fates of circulating cells, recruitment),

then the tick count advances and observers that are due are called. A process due at tick
k advances the interval [k, k + its step). The random stream of a draw is keyed by the tick
at which its process runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tissue.backend import Backend, BackendName, get_backend, to_numpy
from tissue.behaviours import Behaviours, Contacts
from tissue.body import Body
from tissue.cells import LIVE, STATE_NAMES, CellStore
from tissue.config import (
    ListCells,
    OrganConfig,
    RandomCells,
    Scenario,
    SphereCells,
    ticks,
)
from tissue.errors import InputError
from tissue.fields import FieldSolver
from tissue.geometry import Grid, build_labels
from tissue.kernels.random import philox_uniform_numpy
from tissue.observables import census, front_metrics, volume_fraction
from tissue.rng import CellRandom, Purpose, unit_vectors
from tissue.rules import (
    CellTypes,
    allowed_positions,
    cell_exchange,
    move_cells,
    phenotype_step,
    update_motility,
)

Observer = Callable[["Simulation"], None]
ID_BITS = 40  # organ k numbers its cells from k << ID_BITS: ids are unique for the run


class Organ:
    """One organ: grid, labels, fields and cells on the simulation's backend.

    Attributes:
        grid: the voxel grid. labels: (nz, ny, nx) uint8 label volume.
        label_codes: label name -> code. fields: the :class:`FieldSolver`.
        cells: the :class:`CellStore`. allowed: (n_types, 256) bool, labels each type may
        enter.

    Args:
        labels: a label volume to use instead of building one from the configuration
            (when restoring a run, so that a changed or moved label file cannot alter it).
        index: the organ's place in the scenario (its cells' ids start at index << 40).
    """

    def __init__(
        self,
        backend: Backend,
        name: str,
        config: OrganConfig,
        scenario: Scenario,
        labels: np.ndarray | None = None,
        index: int = 0,
    ) -> None:
        xp = backend.xp
        self.name = name
        self.config = config
        self.xp = xp
        if labels is None:
            self.grid, self.labels = build_labels(xp, name, config, scenario.source)
        else:
            shape_zyx = tuple(int(n) for n in labels.shape)
            self.grid = Grid(shape_zyx, config.spacing_xyz_um, config.origin_um)  # type: ignore[arg-type]
            self.labels = xp.asarray(labels, dtype=xp.uint8)
        self.label_codes = config.label_names()
        barrier = [self.label_codes[x] for x in config.barrier_labels]
        self.fields = FieldSolver(
            xp, scenario, name, self.grid, self.labels, self.label_codes, barrier
        )
        self.cells = CellStore(xp, id_base=index << ID_BITS)
        allowed = np.zeros((max(1, len(scenario.cell_types)), 256), dtype=bool)
        for t, ctype in enumerate(scenario.cell_types.values()):
            if ctype.allowed_labels is None:
                allowed[t, list(self.label_codes.values())] = True
                allowed[t, barrier] = False
            else:
                codes = [self.label_codes[x] for x in ctype.allowed_labels if x in self.label_codes]
                allowed[t, codes] = True
        self.allowed = xp.asarray(allowed)


@dataclass(frozen=True)
class Schedule:
    """Ticks between runs of each process and the tick length (min)."""

    base_min: float
    diffusion: int
    mechanics: int
    phenotype: int
    output: int
    snapshot: int

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Schedule:
        s = scenario.time_steps
        base = min(s.diffusion_min, s.mechanics_min, s.phenotype_min)
        return cls(
            base_min=base,
            diffusion=ticks(s.diffusion_min, base),
            mechanics=ticks(s.mechanics_min, base),
            phenotype=ticks(s.phenotype_min, base),
            output=ticks(scenario.run.output_interval_min, base),
            snapshot=ticks(scenario.run.snapshot_interval_min, base),
        )


@dataclass
class SimulationState:
    """A host copy of everything needed to continue a run exactly.

    Attributes:
        tick: ticks done. seed: the generator's key (draws are keyed by seed, tick, cell
        id and purpose, so these two are the generator's whole state).
        arrays: path -> host array: ``organs/<organ>/labels`` (nz, ny, nx) uint8,
            ``organs/<organ>/fields/<field>`` (nz, ny, nx) float32,
            ``organs/<organ>/cells/<column>`` (n, ...) per cell.
        counters: group path -> integers, e.g. ``organs/<organ>/cells`` -> n, next_id and
            capacity.
    """

    tick: int
    seed: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    counters: dict[str, dict[str, int]] = field(default_factory=dict)


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
        self.backend = get_backend(backend)
        self.seed = scenario.run.seed if seed is None else int(seed)
        if not 0 <= self.seed < 2**63:
            raise InputError("--seed", str(self.seed), "allowed: 0 <= seed < 2**63")
        self.rng = CellRandom(self.seed)
        self.schedule = Schedule.from_scenario(scenario)
        self.types = CellTypes.from_scenario(self.backend.xp, scenario)
        self.organs = {
            name: Organ(self.backend, name, config, scenario, (labels or {}).get(name), index)
            for index, (name, config) in enumerate(scenario.organs.items())
        }
        self.behaviours = Behaviours(scenario, self.types)
        self.body = Body(self)
        self.tick = 0
        self.front_seen: dict[str, tuple[float, float, float]] = {}  # organ -> (t, r, speed)
        self.observers: list[tuple[int, Observer]] = []
        if labels is None:
            self._place_initial_cells()

    # --- time ------------------------------------------------------------------------

    @property
    def time_min(self) -> float:
        """Simulated time in minutes."""
        return self.tick * self.schedule.base_min

    def ticks_for(self, days: float) -> int:
        """Number of ticks in ``days``."""
        return round(days * 1440.0 / self.schedule.base_min)

    def add_observer(
        self, observer: Observer, every_min: float | None = None, call_now: bool = True
    ) -> None:
        """Call ``observer(sim)`` now (unless ``call_now`` is False) and whenever the tick
        count reaches a multiple of ``every_min`` (default: the output interval)."""
        every = (
            self.schedule.output if every_min is None else ticks(every_min, self.schedule.base_min)
        )
        self.observers.append((every, observer))
        if call_now:
            observer(self)

    def step(self, n: int = 1) -> None:
        """Advance ``n`` ticks."""
        sched = self.schedule
        for _ in range(n):
            k = self.tick
            body = self.body
            body.begin_tick(k)
            if k % sched.diffusion == 0:
                self._diffusion(sched.diffusion * sched.base_min)
            if k % sched.mechanics == 0:
                dt = sched.mechanics * sched.base_min
                for organ in self.organs.values():
                    update_motility(organ, self.types, self.rng, k, dt, body.factor)
                    move_cells(organ, self.types, dt)
            if k % sched.phenotype == 0:
                dt = sched.phenotype * sched.base_min
                for organ in self.organs.values():
                    behave = self.behaviours.bind(organ, body, Contacts(organ, self.types))
                    changed = phenotype_step(organ, self.types, self.rng, k, dt, behave)
                    body.record_transitions(changed)
                body.cells_step(k, dt)
            self.tick += 1
            for every, observer in self.observers:
                if self.tick % every == 0:
                    observer(self)

    def run(
        self, days: float | None = None, progress: Callable[[int, int], None] | None = None
    ) -> None:
        """Advance ``days`` (default: the scenario's run length); ``progress(done, total)``
        is called after each tick."""
        total = self.ticks_for(self.scenario.run.days if days is None else days)
        for done in range(1, total + 1):
            self.step()
            if progress is not None:
                progress(done, total)

    # --- state -------------------------------------------------------------------------

    def state(self) -> SimulationState:
        """A host copy of the complete state (see :class:`SimulationState`)."""
        out = SimulationState(tick=self.tick, seed=self.seed)
        for oname, organ in self.organs.items():
            prefix = f"organs/{oname}"
            out.arrays[f"{prefix}/labels"] = to_numpy(organ.labels).copy()
            for fname in organ.fields.names:
                out.arrays[f"{prefix}/fields/{fname}"] = to_numpy(organ.fields[fname]).copy()
            columns, counters = organ.cells.export_state()
            for cname, values in columns.items():
                out.arrays[f"{prefix}/cells/{cname}"] = values
            out.counters[f"{prefix}/cells"] = counters
        arrays, counters = self.body.export_state()
        out.arrays.update(arrays)
        for oname, seen in self.front_seen.items():
            out.arrays[f"observables/front/{oname}"] = np.array(seen, dtype=np.float64)
        out.counters["circulation"] = counters
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
        labels = {}
        for oname in scenario.organs:
            key = f"organs/{oname}/labels"
            if key not in state.arrays:
                raise ValueError(f"missing '{key}'")
            labels[oname] = state.arrays[key]
        sim = cls(scenario, backend=backend, seed=state.seed, labels=labels)
        sim.tick = int(state.tick)
        for oname, organ in sim.organs.items():
            prefix = f"organs/{oname}"
            for fname in organ.fields.names:
                key = f"{prefix}/fields/{fname}"
                value = state.arrays.get(key)
                if value is None:
                    raise ValueError(f"missing '{key}'")
                if value.dtype != np.float32 or value.shape != organ.grid.shape_zyx:
                    raise ValueError(
                        f"'{key}' is {value.dtype}{value.shape}, "
                        f"expected float32{organ.grid.shape_zyx}"
                    )
                organ.fields[fname][...] = sim.backend.xp.asarray(value)
            columns = {
                key.rsplit("/", 1)[1]: value
                for key, value in state.arrays.items()
                if key.startswith(f"{prefix}/cells/")
            }
            counters = state.counters.get(f"{prefix}/cells")
            if counters is None:
                raise ValueError(f"missing the counters of '{prefix}/cells'")
            organ.cells.restore_state(columns, counters)
        for key, value in state.arrays.items():
            if key.startswith("observables/front/") and value.shape == (3,):
                sim.front_seen[key.rsplit("/", 1)[1]] = tuple(float(v) for v in value)  # type: ignore[assignment]
        if scenario.circulation is not None:
            if "circulation" not in state.counters:
                raise ValueError("missing the circulation counters")
            sim.body.restore_state(state.arrays, state.counters["circulation"])
        return sim

    def save_checkpoint(self, path: str | Path, **run_settings: Any) -> None:
        """Write the complete state to ``path`` atomically (see :mod:`tissue.io.checkpoint`);
        ``run_settings`` (numbers or strings) are stored beside it for resuming."""
        from tissue.io.checkpoint import save_checkpoint

        save_checkpoint(self, path, run_settings)

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, backend: BackendName | Backend = "auto"
    ) -> Simulation:
        """The simulation saved in the checkpoint ``path``, on ``backend``."""
        from tissue.io.checkpoint import load_checkpoint

        return load_checkpoint(path, backend).simulation

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
        and the RMS-equivalent radius of each type's live cells (um)."""
        out: dict[str, float] = {"time_min": self.time_min, "time_days": self.time_min / 1440}
        n_states = len(STATE_NAMES)
        for oname, organ in self.organs.items():
            cells = organ.cells
            xp = organ.xp
            out[f"{oname}.cells"] = float(cells.n)
            n_types = len(self.types.names)
            code = cells.type.astype(xp.int64) * n_states + cells.state.astype(xp.int64)
            counts = to_numpy(xp.bincount(code, minlength=max(1, n_types) * n_states))
            for t, tname in enumerate(self.types.names):
                for s, sname in STATE_NAMES.items():
                    out[f"{oname}.{tname}.{sname}"] = float(counts[t * n_states + s])
                out[f"{oname}.{tname}.radius_um"] = self._equivalent_radius(organ, t)
            for fname in organ.fields.names:
                for stat, value in organ.fields.summary(fname).items():
                    out[f"{oname}.{fname}.{stat}"] = value
            out.update(self._tumour_observables(oname, organ))
        out.update(self.body.observables())
        return out

    def _tumour_observables(self, oname: str, organ: Organ) -> dict[str, float]:
        """Census and invasion front of the live cells of ``observables.tumour_types``
        (see :mod:`tissue.observables`); nothing when no tumour types are named."""
        config = self.scenario.observables
        if not config.tumour_types:
            return {}
        xp, cells = organ.xp, organ.cells
        codes = xp.asarray([self.types.names.index(t) for t in config.tumour_types])
        chosen = xp.isin(cells.type, codes) & (cells.state == LIVE)
        positions = cells.position_um[chosen]
        radius = self.types.of("radius_um", cells.type[chosen])
        out = {
            f"{oname}.census.{name}": float(count)
            for name, count in census(
                to_numpy(positions), config.cluster_link_um, config.size_classes
            ).items()
        }
        grid = organ.grid
        fraction = volume_fraction(
            xp, positions, radius, grid.shape_zyx, grid.spacing_xyz_um, grid.origin_xyz_um
        )
        front = front_metrics(xp, fraction, config.front_level, grid.spacing_xyz_um)
        front["front_speed_um_per_day"] = self._front_speed(oname, front["front_radius_um"])
        out.update({f"{oname}.{key}": value for key, value in front.items()})
        return out

    def _front_speed(self, oname: str, radius_um: float) -> float:
        """Change of the front radius since the previous observation at an earlier time, in
        um/day (0 at the first); the value stands until time moves on."""
        t_then, r_then, speed = self.front_seen.get(oname, (math.nan, math.nan, 0.0))
        t_now = self.time_min
        if t_now > t_then and math.isfinite(r_then) and math.isfinite(radius_um):
            speed = (radius_um - r_then) / (t_now - t_then) * 1440.0
        if t_now != t_then:
            self.front_seen[oname] = (t_now, radius_um, speed)
        return speed

    def _equivalent_radius(self, organ: Organ, type_index: int) -> float:
        """Radius of the uniform ball with the live cells' RMS distance from their centroid:
        sqrt(5/3) * RMS (0 for fewer than two cells)."""
        xp, cells = organ.xp, organ.cells
        sel = (cells.type == type_index) & (cells.state == LIVE)
        n = int(sel.sum())
        if n < 2:
            return 0.0
        p = cells.position_um[sel].astype(xp.float64)
        rms = float(xp.sqrt(((p - p.mean(axis=0)) ** 2).sum(axis=1).mean()))
        return math.sqrt(5.0 / 3.0) * rms

    # --- initial cells ---------------------------------------------------------------

    def _place_initial_cells(self) -> None:
        self.place_cells(self.scenario.initial_cells, "initial_cells", 0)

    def place_cells(self, entries: list[Any], key_prefix: str, stream: int) -> None:
        """Place initial-cells entries. Lists must lie in voxels the type may enter;
        random cells are drawn only from such voxels (exactly ``count`` of them); spheres
        leave out positions outside the organ or in voxels the type may not enter.

        Args:
            entries: InitialCells entries. key_prefix: their dotted key, for messages.
            stream: first placement stream (entry i draws from stream + i).
        """
        xp = self.backend.xp
        type_index = {name: i for i, name in enumerate(self.types.names)}
        for index, entry in enumerate(entries):
            entry_index = stream + index
            organ = self.organs[entry.organ]
            t = type_index[entry.type]
            key = f"{key_prefix}.{index}"
            allowed = to_numpy(organ.allowed[t])
            labels = to_numpy(organ.labels)
            if isinstance(entry, RandomCells):
                positions = _random_in_voxels(
                    entry, entry_index, organ.grid, labels, organ.label_codes, allowed, self.seed
                )
                if positions.shape[0] < entry.count:
                    where = f"label '{entry.label}'" if entry.label else "the organ"
                    raise InputError(
                        self.scenario.source,
                        f"{key}.label",
                        f"no voxel of {where} that cell type '{entry.type}' may enter",
                    )
            elif isinstance(entry, ListCells):
                positions = np.asarray(entry.positions_um, dtype=np.float32).reshape(-1, 3)
                _check_listed(positions, organ, labels, allowed, self.scenario.source, key)
            else:
                radius = self.scenario.cell_types[entry.type].radius_um
                positions = _sphere_positions(entry, entry_index, radius, self.seed)
            types = xp.full(positions.shape[0], t, dtype=xp.int16)
            device_positions = xp.asarray(positions, dtype=xp.float32)
            ok = allowed_positions(organ, types, device_positions)
            organ.cells.add(t, device_positions[ok])


def _placement_uniforms(seed: int, entry_index: int, count: int, block: int) -> np.ndarray:
    """(count, 4) float32 uniforms of placement entry ``entry_index`` (drawn on the host so
    that every backend places the same cells)."""
    ids = np.arange(count, dtype=np.int64)
    return philox_uniform_numpy(ids, entry_index, Purpose.PLACEMENT, seed, block)


def _sphere_positions(entry: SphereCells, entry_index: int, radius_um: float, seed: int):
    """(N, 3) float32: close packed at one cell diameter, or ``count`` uniform in the ball."""
    centre = np.asarray(entry.center_um, dtype=np.float64)
    if entry.count is None:
        points = _close_packed_ball(entry.radius_um, radius_um)
        points = points[(points**2).sum(axis=1) >= entry.inner_radius_um**2]
        return (points + centre).astype(np.float32)
    u = _placement_uniforms(seed, entry_index, entry.count, 0)
    direction = unit_vectors(np, u[:, 0], u[:, 1]).astype(np.float64)
    inner3 = entry.inner_radius_um**3
    r = np.cbrt(inner3 + (entry.radius_um**3 - inner3) * u[:, 2].astype(np.float64))
    return (centre + r[:, None] * direction).astype(np.float32)


def _random_in_voxels(
    entry: RandomCells,
    entry_index: int,
    grid: Grid,
    labels: np.ndarray,
    label_codes: dict[str, int],
    allowed: np.ndarray,
    seed: int,
) -> np.ndarray:
    """``count`` positions (N, 3) float32, uniform within uniformly chosen voxels of the
    label (or any) that the type may enter; empty if there is no such voxel."""
    flat = labels.reshape(-1)
    usable = allowed[flat]
    if entry.label is not None:
        usable &= flat == label_codes[entry.label]
    candidates = np.nonzero(usable)[0]
    if candidates.size == 0:
        return np.zeros((0, 3), dtype=np.float32)
    u0 = _placement_uniforms(seed, entry_index, entry.count, 0)
    u1 = _placement_uniforms(seed, entry_index, entry.count, 1)
    pick = candidates[
        np.minimum((u0[:, 0] * candidates.size).astype(np.int64), candidates.size - 1)
    ]
    _nz, ny, nx = grid.shape_zyx
    ijk = np.stack([pick % nx, (pick // nx) % ny, pick // (nx * ny)], axis=1)
    offset = np.stack([u0[:, 1], u0[:, 2], u1[:, 0]], axis=1).astype(np.float64)
    spacing = np.asarray(grid.spacing_xyz_um)
    origin = np.asarray(grid.origin_xyz_um)
    positions = (origin + (ijk + offset) * spacing).astype(np.float32)
    # rounding to float32 can land a point on its voxel's upper face: use the centre then
    strayed = np.any(grid.voxel_ijk(np, positions) != ijk, axis=1) | ~grid.contains(np, positions)
    positions[strayed] = (origin + (ijk[strayed] + 0.5) * spacing).astype(np.float32)
    return positions


def _check_listed(
    positions: np.ndarray,
    organ: Organ,
    labels: np.ndarray,
    allowed: np.ndarray,
    source: str,
    key: str,
) -> None:
    """Listed positions must be inside the organ, in voxels the type may enter."""
    inside = organ.grid.contains(np, positions)
    if not inside.all():
        bad = positions[~inside][0].tolist()
        raise InputError(source, f"{key}.positions_um", f"{bad} is outside organ '{organ.name}'")
    label = labels.reshape(-1)[organ.grid.flat_index(np, positions)]
    refused = ~allowed[label]
    if refused.any():
        bad = positions[refused][0].tolist()
        names = {code: name for name, code in organ.label_codes.items()}
        raise InputError(
            source,
            f"{key}.positions_um",
            f"{bad} lies in label "
            f"'{names.get(int(label[refused][0]), '?')}', which this cell type "
            f"may not enter",
        )


def _close_packed_ball(ball_radius: float, cell_radius: float) -> np.ndarray:
    """Hexagonal close packing of spheres of ``cell_radius`` centred in a ball, (N, 3)."""
    r = cell_radius
    n = math.ceil(ball_radius / r) + 2
    i, j, k = np.meshgrid(*(np.arange(-n, n + 1),) * 3, indexing="ij")
    x = (2 * i + (j + k) % 2) * r
    y = math.sqrt(3.0) * (j + (k % 2) / 3.0) * r
    z = (2.0 * math.sqrt(6.0) / 3.0) * k * r
    points = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    keep = (points**2).sum(axis=1) <= ball_radius**2
    points = points[keep]
    order = np.lexsort((points[:, 0], points[:, 1], points[:, 2]))
    return points[order]
