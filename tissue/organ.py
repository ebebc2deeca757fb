"""An organ and what its cells are: the grid with its labels, fields and cells on one
backend, the per-type parameter tables, where each type may be, and which cells touch.

Owns :class:`Organ` (and the saving and restoring of its state), :class:`CellTypes` (the
scenario's cell types as (n_types,) backend arrays), :meth:`Organ.allowed_positions` and
:class:`Contacts` (the cells touching each other at one moment: one per organ per process
step, shared by every rule that reads contacts in that step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tissue import cells as store
from tissue.attributes import Attributes
from tissue.backend import Backend, to_numpy
from tissue.cells import APOPTOTIC, NECROTIC, CellStore, Column
from tissue.config import OrganConfig, Scenario
from tissue.fields import FieldSolver
from tissue.geometry import build_labels
from tissue.grid import Grid
from tissue.kernels.cells import CellGrid, allowed_at, build_cell_grid
from tissue.kernels.contacts import count_contacts, simple_pressure
from tissue.limits import check_cell_growth
from tissue.rng import CellRandom
from tissue.signals import CHEMOTAXIS_COLUMN, HELD, OWN, parse_behaviour
from tissue.state import SimulationState
from tissue.tables import (
    Chemotaxis,
    CyclePhases,
    DamageAttacks,
    adhesion_affinities,
    chemotaxis_fields,
    steered,
)
from tissue.volume import (
    VOLUME_PARAMS,
    contact_reach,
    grows,
    necrotic_fraction,
    necrotic_params,
    regrows,
    shrunk,
    whole,
)

F32 = np.float32
ID_BITS = 40  # organ k numbers its cells from k << ID_BITS: ids are unique for the run


@dataclass(frozen=True)
class AttackSpec:
    """An attacker type's :class:`~tissue.config.cells.Attack` with its targets' type codes
    ((k,) int16 backend array) and reach: ``attach_distance_um`` when given (``fixed_reach``),
    else touching (the contact search's reach)."""

    attack: Any
    target_codes: Any
    reach_um: float
    fixed_reach: bool


@dataclass(frozen=True)
class CellTypes:
    """Per-type parameters as (n_types,) backend arrays, indexed by a cell's type."""

    names: list[str]
    params: dict[str, Any]
    chemotaxis_field: list[str | None]  # the field of the largest |sensitivity|, or None
    chemotaxis: Chemotaxis | None  # the chemotaxis tables, when some type has chemotaxis
    oxygen_field: list[str | None]
    secretion: dict[str, dict[str, Any]]  # field -> {"S","T","U","E"} (n_types,) arrays
    dead_secretion: dict[str, dict[str, Any]]  # the same for dead cells
    max_interaction_um: float  # longest centre-to-centre interaction between any two types
    transitions: dict[int, dict[int, float]]  # from type -> to type -> base rate (1/min)
    split: dict[int, dict[int, dict[int, float]]]  # from -> toward -> {instead: share}
    # daughter type -> (n_types,) float32 probability a dividing cell's daughter takes it,
    # before rules (None: no type divides asymmetrically)
    asymmetric: dict[int, Any] | None
    attack: dict[int, AttackSpec]  # attacker type -> its attack
    springs: bool  # some attack holds its pairs with a spring
    any_motile: bool  # some type has a speed > 0
    shrinks: bool  # some type's apoptotic cells shrink (shrink_* params; fraction -1 if not)
    regrows: bool  # some type's volume follows a division_volume (grow_* params; -1 if not)
    growing: Any  # (n_types,) bool: the type grows toward twice its volume (volume.grows)
    swells: bool  # some type's necrotic cells swell and lyse (necro_* params; -1 if not)
    phases: CyclePhases | None  # the cycle phases, when some type has them
    damage_attacks: DamageAttacks | None  # the damage attacks, when some type has one
    damages: bool  # cells carry damage columns (some type takes or deals damage)
    dead_rules: dict[str, Any]  # behaviour -> (n_types,) bool: types with rules on dead cells
    eats: bool  # some type eats cells (cells have the engulfed_* columns)
    eaten: list[int]  # the types eaten alive; params["phagocytosis.T"]: the rates (1/min)
    affinity: Any | None  # (n_types, n_types) adhesion affinities (None: all 1)

    PARAMS = (
        "radius_um", "speed_um_per_min", "persistence_min", "chemotaxis_bias",
        "cycle_rate_per_min", "cycle_oxygen_threshold", "cycle_oxygen_saturation",
        "apoptosis_rate_per_min", "apoptotic_clearance_min", "necrosis_rate_per_min",
        "necrosis_oxygen_threshold", "necrosis_oxygen_max", "necrotic_clearance_min",
        "repulsion_um_per_min", "adhesion_um_per_min", "adhesion_range",
        "damage_rate_per_min", "damage_repair_rate_per_min",
        "apoptotic_phagocytosis_rate_per_min", "necrotic_phagocytosis_rate_per_min",
    )  # fmt: skip

    @classmethod
    def from_scenario(cls, xp: Any, scenario: Scenario) -> CellTypes:
        types = scenario.cell_types
        names = list(types)
        params = {
            p: xp.asarray([getattr(types[t], p) for t in names], dtype=xp.float32)
            for p in cls.PARAMS
        }
        # volume models' parameters as shrink_* (apoptotic_volume) and grow_* (division_volume);
        # a fraction of -1 marks a type without the model
        for prefix, model in (("shrink", "apoptotic_volume"), ("grow", "division_volume")):
            specs = [getattr(types[t], model) for t in names]
            for key, attr in VOLUME_PARAMS:
                missing = -1.0 if key.endswith("fraction") else 0.0
                values = [getattr(s, attr) if s else missing for s in specs]
                params[f"{prefix}_{key}"] = xp.asarray(values, dtype=xp.float32)
        necrotic = [types[t].necrotic_volume for t in names]
        for key, values in necrotic_params(necrotic).items():
            params[f"necro_{key}"] = xp.asarray(values, dtype=xp.float32)
        for kind in ("apoptotic", "necrotic"):  # 1: cleared at random, at 1 / clearance
            params[f"{kind}_clearance_random"] = xp.asarray(
                [1.0 if getattr(types[t], f"{kind}_clearance") == "random" else 0.0 for t in names],
                dtype=xp.float32,
            )
        params["necrosis_by_rate"] = xp.asarray(
            [1.0 if types[t].necrosis_model == "rate" else 0.0 for t in names], dtype=xp.float32
        )  # 1: necrosis at its rate, not ramped by oxygen
        params["division_offset"] = xp.asarray(
            [1.0 if types[t].division_placement == "physicell" else 0.5 for t in names],
            dtype=xp.float32,
        )  # the daughter's distance from the parent's centre, in radii
        params["migrates_attached"] = xp.asarray(
            [1.0 if c.damage_attack else 0.0 for c in types.values()], dtype=xp.float32
        )  # 1: migrates while attached to its target (a damage attacker)
        params["attack_damage_rate_per_min"], params["attack_duration_min"] = (
            xp.asarray(
                [
                    getattr(c.damage_attack, key) if c.damage_attack else none
                    for c in types.values()
                ],
                dtype=xp.float32,
            )
            for key, none in (("damage_rate_per_min", 0.0), ("duration_min", math.inf))
        )
        for eaten in scenario.eaten_alive():
            rates = [c.live_phagocytosis_rates_per_min.get(eaten, 0.0) for c in types.values()]
            params[f"phagocytosis.{eaten}"] = xp.asarray(rates, dtype=xp.float32)
        reach = contact_reach(scenario)
        dead_rules: dict[str, np.ndarray] = {}
        for rule in scenario.rules.values():
            if rule.applies_to_dead:
                mask = dead_rules.setdefault(rule.behaviour, np.zeros(len(names), dtype=bool))
                mask[names.index(rule.cell_type)] = True
        return cls(
            names=names,
            params=params,
            chemotaxis_field=[_strongest(types[t].sensitivities) for t in names],
            chemotaxis=Chemotaxis.from_scenario(xp, scenario),
            oxygen_field=[types[t].oxygen_field for t in names],
            secretion=_exchange_tables(xp, scenario, "secretion"),
            dead_secretion=_exchange_tables(xp, scenario, "dead_secretion"),
            # a hair wider than the float32 reach the kernels compare distances with
            max_interaction_um=2 * max(reach, default=0.5) * (1 + 1e-5),
            transitions=scenario.transition_table(names),
            split={
                names.index(t): {
                    names.index(to): {names.index(u): share for u, share in shares.items()}
                    for to, shares in c.transition_split.items()
                }
                for t, c in types.items()
                if c.transition_split
            },
            asymmetric={
                to: xp.asarray(p, dtype=xp.float32)
                for to, p in scenario.asymmetric_table(names).items()
            }
            or None,
            attack={
                names.index(t): AttackSpec(
                    c.attack,
                    xp.asarray([names.index(x) for x in c.attack.targets], dtype=xp.int16),
                    c.attack.attach_distance_um or math.inf,
                    c.attack.attach_distance_um is not None,
                )
                for t, c in types.items()
                if c.attack
            },
            springs=any(
                (c.attack and c.attack.spring_per_min > 0)
                or (c.damage_attack and c.damage_attack.spring_per_min > 0)
                for c in types.values()
            ),
            any_motile=any(c.speed_um_per_min > 0 for c in types.values()),
            shrinks=any(c.apoptotic_volume is not None for c in types.values()),
            regrows=regrows(scenario),
            growing=xp.asarray([grows(c) for c in types.values()], dtype=bool),
            swells=any(c.necrotic_volume is not None for c in types.values()),
            phases=CyclePhases.from_scenario(xp, scenario),
            damage_attacks=DamageAttacks.from_scenario(xp, scenario),
            damages=scenario.takes_damage(),
            dead_rules={k: xp.asarray(v) for k, v in dead_rules.items()},
            eats=bool(scenario.phagocytes()),
            eaten=[names.index(t) for t in scenario.eaten_alive()],
            affinity=adhesion_affinities(xp, scenario),
        )

    def of(self, name: str, type_index: Any) -> Any:
        """Parameter ``name`` of each cell, (N,) float32."""
        return self.params[name][type_index]

    def volume_fraction(self, cells: CellStore) -> Any:
        """(N,) float32: each cell's volume over its type's: as its ``division_volume`` has
        it (:func:`tissue.volume.whole`; for a dead cell, as it was at death), for an
        apoptotic cell of a type with an ``apoptotic_volume`` and a necrotic one of a type
        with a ``necrotic_volume`` times what is left of its volume at death."""
        xp = cells.xp
        out = xp.ones(cells.n, dtype=xp.float32)
        t, p = cells.type, self.params
        if self.regrows:
            regrowing = p["grow_fluid_fraction"][t] >= 0
            parts = whole(xp, cells.volume_deviation, cells.targets_doubled)
            out = xp.where(regrowing, parts, out)
        if self.swells:
            swelling = (cells.state == NECROTIC) & (p["necro_fluid_fraction"][t] >= 0)
            out = xp.where(swelling, out * necrotic_fraction(xp, p, t, cells.state_time_min), out)
        if self.shrinks:
            _, left = shrunk(xp, p, t, cells.state_time_min)
            shrinking = (cells.state == APOPTOTIC) & (p["shrink_fluid_fraction"][t] >= 0)
            out = xp.where(shrinking, out * left, out)
        return out.astype(xp.float32)

    @property
    def resizes(self) -> bool:
        """Some cell's volume differs from its type's (see :meth:`volume_fraction`)."""
        return self.shrinks or self.regrows or self.swells

    def radius(self, cells: CellStore) -> Any:
        """(N,) float32 radius of each cell (um): its type's, scaled by the cube root of its
        :meth:`volume_fraction` plus what it has engulfed over the type's volume."""
        base = self.of("radius_um", cells.type)
        if not (self.resizes or self.eats):
            return base
        fraction = self.volume_fraction(cells)
        if self.eats:
            engulfed = cells.engulfed_fluid_um3 + cells.engulfed_solid_um3
            fraction = fraction + engulfed / (F32(4.0 / 3.0 * math.pi) * base**3)
        return (base * cells.xp.cbrt(fraction)).astype(cells.xp.float32)

    def widest_contact_um(self, cells: CellStore) -> float:
        """Twice the longest reach (max(1, adhesion_range) times the radius, um) of
        ``cells``' occupied rows: the farthest any two of them could interact (a host read,
        for the outputs; 0 without cells)."""
        if cells.n == 0:
            return 0.0
        reach = cells.xp.maximum(self.of("adhesion_range", cells.type), 1) * self.radius(cells)
        return 2.0 * float(cells.xp.where(cells.occupied, reach, 0).max())

    def index(self, names: list[str]) -> list[int]:
        """Type codes of the named types."""
        return [self.names.index(name) for name in names]


def _strongest(sensitivities: dict[str, float]) -> str | None:
    """The field of the largest |sensitivity| (the first of equals), None for none."""
    return max(sensitivities, key=lambda f: abs(sensitivities[f]), default=None)


def _exchange_tables(xp: Any, scenario: Scenario, which: str) -> dict[str, dict[str, Any]]:
    """field -> {"S", "T", "U", "E"} (n_types,) float32 arrays of the types' ``which``
    (``secretion`` or ``dead_secretion``), for the fields some type exchanges."""
    tables: dict[str, dict[str, Any]] = {}
    for field in scenario.fields:
        specs = [getattr(c, which).get(field) for c in scenario.cell_types.values()]
        if not any(specs):
            continue
        table: dict[str, list[float]] = {"S": [], "T": [], "U": [], "E": []}
        for spec in specs:
            table["S"].append(spec.secretion_rate_per_min if spec else 0.0)
            table["T"].append(spec.secretion_target if spec else 0.0)
            table["U"].append(spec.uptake_rate_per_min if spec else 0.0)
            table["E"].append(spec.export_rate if spec else 0.0)
        tables[field] = {k: xp.asarray(v, dtype=xp.float32) for k, v in table.items()}
    return tables


def held_behaviours(scenario: Scenario) -> list[str]:
    """The held behaviours that rules or attributes move, sorted: each is a cell column."""
    moved = {r.behaviour for r in scenario.rules.values()}
    moved |= {b for c in scenario.cell_types.values() for b in c.scale_by}
    return sorted(b for b in moved if parse_behaviour(b).kind in HELD)


def cell_columns(scenario: Scenario) -> dict[str, Column]:
    """The cell columns ``scenario``'s model adds to the base ones (name -> Column): what
    an organ's :class:`CellStore` holds beyond :data:`tissue.cells.BASE_COLUMNS`, and so
    what a snapshot or checkpoint of it must carry."""
    held = held_behaviours(scenario)
    sensing = len(chemotaxis_fields(scenario)) if steered(scenario) else 0
    return {
        **Attributes(scenario).columns(),
        **(store.PHASE_COLUMNS if CyclePhases.from_scenario(np, scenario) is not None else {}),
        **(store.DAMAGE_COLUMNS if scenario.takes_damage() else {}),
        **(store.ATTACK_TIME_COLUMNS if scenario.times_attacks() else {}),
        **{behaviour: store.HELD_COLUMN for behaviour in held},
        **(store.MOTILITY_SPEED_COLUMNS if "migration_speed" in held else {}),
        **{OWN + behaviour: store.HELD_COLUMN for behaviour in scenario.own_values()},
        **(store.ENGULFED_COLUMNS if scenario.phagocytes() else {}),
        **(store.REGROWTH_COLUMNS if regrows(scenario) else {}),
        # each cell's sensitivities when rules or attributes move them (NaN: the type's)
        **({CHEMOTAXIS_COLUMN: Column(np.float32, (sensing,), math.nan)} if sensing else {}),
    }


class Organ:
    """One organ: grid, labels, fields and cells on the simulation's backend.

    Attributes:
        name: the organ's name. config: its scenario entry.
        grid: the voxel grid. labels: (nz, ny, nx) uint8 label volume.
        label_codes: label name -> code. fields: the :class:`FieldSolver`.
        cells: the :class:`CellStore`. attributes: the per-cell :class:`Attributes`.
        allowed: (n_types, 256) bool, labels each type may enter.

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
            self.grid = Grid(shape_zyx, config.spacing_xyz_um, config.origin_um, config.two_d)  # type: ignore[arg-type]
            self.labels = xp.asarray(labels, dtype=xp.uint8)
        self.label_codes = config.label_names()
        barrier = [self.label_codes[x] for x in config.barrier_labels]
        self.fields = FieldSolver(
            xp, scenario, name, self.grid, self.labels, self.label_codes, barrier
        )
        self.attributes = Attributes(scenario)
        self.held = held_behaviours(scenario)  # moved by rules or attributes: cell columns
        self.cells = CellStore(
            xp,
            extra_columns=cell_columns(scenario),
            id_base=index << ID_BITS,
            grow_check=lambda rows: check_cell_growth(name, rows, backend),
        )
        allowed = np.zeros((max(1, len(scenario.cell_types)), 256), dtype=bool)
        for t, ctype in enumerate(scenario.cell_types.values()):
            if ctype.allowed_labels is None:
                allowed[t, list(self.label_codes.values())] = True
                allowed[t, barrier] = False
            else:
                codes = [self.label_codes[x] for x in ctype.allowed_labels if x in self.label_codes]
                allowed[t, codes] = True
        self.allowed = xp.asarray(allowed)

    def add_cells(
        self, type_index: int, positions_um: Any, random: CellRandom, **values: Any
    ) -> Any:
        """Append cells of one type (see :meth:`CellStore.add`) with their attributes drawn;
        returns their ids."""
        cells = self.cells
        cells.settle()
        first = cells.n
        ids = cells.add(type_index, positions_um, **values)
        new = cells.xp.arange(cells.n, dtype=cells.xp.int64) >= first
        self.attributes.draw(cells, new, random)
        return ids

    def append_cells(
        self, type_index: int, selected: Any, positions_um: Any, random: CellRandom
    ) -> None:
        """Append a cell of one type for each True of ``selected`` ((m,) bool) at its row of
        ``positions_um`` ((m, 3) float32), with its attributes drawn; on the backend,
        without a host read (see :meth:`CellStore.append`)."""
        values = {"type": type_index, "position_um": positions_um}
        new = self.cells.append(selected, values)
        self.attributes.draw(self.cells, new, random)

    def allowed_positions(self, type_index: Any, positions_um: Any) -> Any:
        """(N,) bool: inside the organ's box and in a voxel the cell's type may enter."""
        return allowed_at(self.xp, self.grid, self.labels, self.allowed, type_index, positions_um)

    def label_mask(self, label: str) -> Any:
        """(nz, ny, nx) bool: the voxels of ``label``."""
        return self.labels == self.label_codes[label]

    def save_state(self, state: SimulationState) -> None:
        """Add this organ's labels, fields and cells (host copies) to ``state``."""
        prefix = f"organs/{self.name}"
        state.arrays[f"{prefix}/labels"] = to_numpy(self.labels).copy()
        for fname in self.fields.names:
            state.arrays[f"{prefix}/fields/{fname}"] = to_numpy(self.fields[fname]).copy()
        columns, counters = self.cells.export_state()
        for cname, values in columns.items():
            state.arrays[f"{prefix}/cells/{cname}"] = values
        state.counters[f"{prefix}/cells"] = counters

    def restore_state(self, state: SimulationState) -> None:
        """Take fields and cells from ``state`` (the labels are given to the constructor).

        Raises:
            ValueError: a field or cell column is missing or of the wrong dtype or shape.
        """
        prefix = f"organs/{self.name}"
        for fname in self.fields.names:
            key = f"{prefix}/fields/{fname}"
            value = state.require(key)
            if value.dtype != np.float32 or value.shape != self.grid.shape_zyx:
                raise ValueError(
                    f"'{key}' is {value.dtype}{value.shape}, expected float32{self.grid.shape_zyx}"
                )
            self.fields[fname][...] = self.xp.asarray(value)
        counters = state.counters.get(f"{prefix}/cells")
        if counters is None:
            raise ValueError(f"missing the counters of '{prefix}/cells'")
        self.cells.restore_state(state.under(f"{prefix}/cells"), counters)


def cell_grid(organ: Organ, types: CellTypes) -> CellGrid:
    """The organ's cells binned by the longest interaction range (vacant rows past every
    bin): what the pair kernel, the contact counts and the target searches walk."""
    return build_cell_grid(
        organ.xp, organ.cells.position_um, organ.grid.origin_xyz_um, organ.grid.extent_xyz_um,
        types.max_interaction_um, organ.cells.occupied,
    )  # fmt: skip


class Contacts:
    """Cells touching each other in one organ at one moment: centres closer than the sum
    of their adhesion reaches (the cell grid built on demand, once while the cells stay).

    One is made per organ for each process step (diffusion, phenotype) and shared by all
    that read contacts in it; cells move only in the mechanics step, between them.
    """

    def __init__(self, organ: Organ, types: CellTypes) -> None:
        self.organ = organ
        self.types = types
        self._grid: CellGrid | None = None
        self._reach: Any = None
        self._pressure: Any = None
        self._key = -1

    def count(self, query_type: int, type_index: int, live_only: bool = True) -> Any:
        """(N,) float32: cells of ``type_index`` (live ones with ``live_only``, else in any
        state, as PhysiCell's "contact with" counts) touching each cell of ``query_type`` (0
        for the others); on the backend, without a host round trip. Cells added or removed
        since the last call are seen."""
        cells = self.organ.cells
        grid = self._cell_grid()
        return count_contacts(
            cells.position_um, self._reach, cells.type, cells.state, np.int16(query_type),
            np.int16(type_index), grid, live_only,
        )  # fmt: skip

    def pressure(self) -> Any:
        """(N,) float32: PhysiCell's simple pressure of each cell (see
        :func:`~tissue.kernels.contacts.simple_pressure`; dead cells press too)."""
        cells = self.organ.cells
        grid = self._cell_grid()
        if self._pressure is None:
            self._pressure = simple_pressure(cells.position_um, self.types.radius(cells), grid)
        return self._pressure

    def _cell_grid(self) -> CellGrid:
        """The cell grid of the cells now (rebuilt when cells were added or removed)."""
        organ, types = self.organ, self.types
        cells = organ.cells
        if cells.version != self._key or self._grid is None:
            self._key = cells.version
            self._grid = cell_grid(organ, types)
            self._reach = types.of("adhesion_range", cells.type) * types.radius(cells)
            self._pressure = None
        return self._grid
