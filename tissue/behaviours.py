"""The scenario's rules on cell behaviours (PhysiCell's rules): what each cell senses and how
its rates and secretion factors move with it.

A *behaviour* (a rate or a secretion factor, see :mod:`tissue.signals` for the names) starts
from the cell type's value. The rules on it combine as PhysiCell's do (1.10 and later): those
whose ``to_value`` is above the type's own value raise it, the others lower it; with U the
multivariate Hill response of the raising rules' signals and D that of the lowering ones,

    value -> base + (up - base) U, then value -> value + (down - value) D,

where ``up`` and ``down`` are the two groups' ``to_value`` (one each, see the checks). Then a
type's ``scale_by`` attribute multiplies the result (see :class:`AttributeScale`). A signal
is read at each cell: a field of its organ at its voxel, a systemic concentration, the
number of live cells of a type touching it (from the step's :class:`~tissue.organ.Contacts`),
the number of cells of a type in any state touching it, the time, its volume, its pressure,
one of its attributes, its state (dead, apoptotic, necrotic), its damage
taken or dealt, and whether it attacks. On a dead cell only the rules that apply to dead cells
read their signals (the others count as no signal), as in PhysiCell.
An active blocking intervention scales a signal by (1 - efficacy) wherever it is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tissue.cells import APOPTOTIC, LIVE, NECROTIC
from tissue.config import Rule, Scenario
from tissue.config.cells import AttributeScale
from tissue.grid import F32
from tissue.organ import CellTypes, Contacts, Organ
from tissue.signals import (
    ATTACK_PARAMS,
    MECHANICS,
    MIGRATION,
    OWN,
    PHAGOCYTOSIS,
    Sensing,
    base_value,
    hill_sum,
    parse_behaviour,
    parse_signal,
    rising_ramp,
)

Behave = Callable[[str, Any], Any]  # (behaviour, base (N,) float32) -> (N,) float32
STATE_CODES = {"apoptotic": (APOPTOTIC,), "necrotic": (NECROTIC,), "dead": (APOPTOTIC, NECROTIC)}


def _touching(contacts: Contacts, query: int, n_types: int) -> tuple[Any, Any]:
    """(N,) float32 live cells and (N,) float32 cells in any state, of every type, touching
    each cell of type ``query`` (0 for the others)."""
    live = sum(contacts.count(query, t) for t in range(n_types))
    every = sum(contacts.count(query, t, live_only=False) for t in range(n_types))
    return live, every


def own_value(cells: Any, behaviour: str, base: Any) -> Any:
    """(N,) float32: ``base`` with each cell's own value of ``behaviour`` where it has one
    (placed with it, or a daughter of such a cell; see ``ListCells.behaviours``)."""
    column = OWN + behaviour
    if column not in cells.columns:
        return base
    own = getattr(cells, column)
    return cells.xp.where(cells.xp.isnan(own), base, own)


def _state_signal(xp: Any, state: Any, name: str) -> Any:
    """(N,) float32: 1 for cells in the state ``name`` (a key of :data:`STATE_CODES`)."""
    return xp.isin(state, xp.asarray(STATE_CODES[name], dtype=state.dtype)).astype(xp.float32)


def unchanged(_behaviour: str, base: Any) -> Any:
    """The behaviour without rules: ``base``."""
    return base


@dataclass(frozen=True)
class _Group:
    """The rules of one cell type on one behaviour that move it the same way."""

    type_index: int
    to_value: float
    rules: tuple[Rule, ...]


class Behaviours:
    """The scenario's rules and attribute scalings, grouped by behaviour.

    Args:
        scenario: the validated scenario. types: its cell types.
    """

    def __init__(self, scenario: Scenario, types: CellTypes) -> None:
        self.type_names = types.names
        self.types = types
        grouped: dict[tuple[str, int, bool], list[Rule]] = {}
        for rule in scenario.rules.values():
            rises = rule.to_value >= base_value(scenario.cell_types[rule.cell_type], rule.behaviour)
            key = (rule.behaviour, types.names.index(rule.cell_type), rises)
            grouped.setdefault(key, []).append(rule)
        # per behaviour: the raising groups, then the lowering ones (PhysiCell's order)
        self.by_behaviour: dict[str, list[_Group]] = {}
        for (behaviour, t, _rises), rules in sorted(grouped.items(), key=lambda kv: not kv[0][2]):
            group = _Group(t, rules[0].to_value, tuple(rules))
            self.by_behaviour.setdefault(behaviour, []).append(group)
        self.scales: dict[str, list[tuple[int, AttributeScale]]] = {}
        for t, ctype in enumerate(scenario.cell_types.values()):
            for behaviour, scale in ctype.scale_by.items():
                self.scales.setdefault(behaviour, []).append((t, scale))

    def bind(self, organ: Organ, sensing: Sensing, contacts: Contacts) -> Behave:
        """``behave(behaviour, base)`` for the rule functions of :mod:`tissue.rules`."""

        def behave(behaviour: str, base: Any) -> Any:
            return self.apply(organ, behaviour, base, sensing, contacts)

        return behave

    def apply(
        self,
        organ: Organ,
        behaviour: str,
        base: Any,
        sensing: Sensing,
        contacts: Contacts,
    ) -> Any:
        """(N,) float32: ``base`` (per cell; a cell's own value where it has one) moved by
        the rules on ``behaviour``, then scaled by the attributes that scale it."""
        base = own_value(organ.cells, behaviour, base)
        groups = self.by_behaviour.get(behaviour, [])
        scales = self.scales.get(behaviour, [])
        if not groups and not scales:
            return base
        xp, cells = organ.xp, organ.cells
        value = xp.array(base, dtype=xp.float32, copy=True)
        flat = None
        n = cells.n
        for group in groups:
            # every cell is evaluated and the rule's type takes the result (no host round
            # trip)
            selected = cells.type == group.type_index
            terms = []
            for rule in group.rules:
                parsed = parse_signal(rule.signal)
                if parsed.kind == "blood":
                    level = xp.asarray(sensing.signal_value(rule.signal)).astype(xp.float32)
                    signal = xp.broadcast_to(level, (n,))
                elif parsed.kind in ("contact", "contact_any"):
                    factor = F32(sensing.factor(rule.signal))
                    other = self.type_names.index(parsed.name)
                    counts = contacts.count(group.type_index, other, parsed.kind == "contact")
                    signal = counts * factor
                elif parsed.kind in ("contact_live", "contact_dead"):
                    signal = _touching(contacts, group.type_index, len(self.type_names))
                    signal = signal[0] if parsed.kind == "contact_live" else signal[1] - signal[0]
                elif parsed.kind == "pressure":
                    signal = contacts.pressure()
                elif parsed.kind == "time":
                    signal = xp.full(n, sensing.time_min, dtype=xp.float32)
                elif parsed.kind == "volume":
                    signal = F32(4.0 * math.pi / 3.0) * self.types.radius(cells) ** 3
                elif parsed.kind == "attribute":
                    signal = getattr(cells, parsed.name)
                elif parsed.kind == "gradient":
                    ijk = organ.grid.voxel_ijk(xp, cells.position_um)
                    g = organ.fields.gradient(parsed.name, ijk)
                    factor = F32(sensing.factor(parsed.name))
                    signal = xp.sqrt((g * g).sum(axis=1)) * factor
                elif parsed.kind in STATE_CODES:
                    signal = _state_signal(xp, cells.state, parsed.kind)
                elif parsed.kind in ("damage", "damage_delivered"):
                    signal = getattr(cells, parsed.kind)
                elif parsed.kind == "attacking":
                    signal = (cells.partner >= 0).astype(xp.float32)
                elif parsed.kind == "attack_time":
                    signal = cells.attack_time_min
                elif rule.signal in organ.fields:
                    if flat is None:
                        flat = organ.grid.flat_index(xp, cells.position_um)
                    factor = F32(sensing.factor(rule.signal))
                    signal = organ.fields.sample(rule.signal, flat) * factor
                else:
                    signal = xp.zeros(n, dtype=xp.float32)
                rises = rule.as_signal == "rises"
                if not rule.applies_to_dead:  # no signal on dead cells: a term of 0
                    silent = F32(0) if rises else F32(math.inf)
                    signal = xp.where(cells.state == LIVE, signal, silent)
                terms.append((signal, rule.half_max, rule.hill_coefficient, rises))
            h = hill_sum(xp, terms)
            value = xp.where(selected, value + (F32(group.to_value) - value) * h, value)
        for t, scale in scales:
            a = getattr(cells, scale.attribute)
            if scale.kind == "ramp":
                a = rising_ramp(xp, a, F32(scale.zero_at), F32(scale.full_at))
            value = xp.where(cells.type == t, value * a, value)
        return value


def held(organ: Organ, types: CellTypes, behaviour: str) -> Any:
    """(N,) float32: each cell's value of a held behaviour (:data:`tissue.signals.HELD`): as
    the rules last set it (:func:`tissue.rules.update_held`), else its type's."""
    cells = organ.cells
    base = own_value(cells, behaviour, held_base(types, behaviour, cells.type))
    if behaviour not in cells.columns:
        return base
    value = getattr(cells, behaviour)
    return organ.xp.where(organ.xp.isnan(value), base, value)


def held_base(types: CellTypes, behaviour: str, type_index: Any) -> Any:
    """(N,) float32: the types' own value of a held behaviour."""
    parsed = parse_behaviour(behaviour)
    if parsed.kind == "attack":
        attacks = types.damage_attacks
        assert attacks is not None, "attack behaviours need a damage attack (checked)"
        return attacks.rate[type_index, types.names.index(parsed.target)]
    if parsed.kind in ATTACK_PARAMS:
        return types.of(f"attack_{ATTACK_PARAMS[parsed.kind]}", type_index)
    if parsed.kind == "immunogenicity":
        attacks = types.damage_attacks
        assert attacks is not None, "immunogenicity behaviours need a damage attack (checked)"
        return attacks.immunogenicity[type_index, types.names.index(parsed.target)]
    if behaviour in PHAGOCYTOSIS:
        return types.of(PHAGOCYTOSIS[behaviour], type_index)
    if parsed.kind == "phagocytosis":  # of live cells of a type
        return types.of(behaviour, type_index)
    return types.of({**MIGRATION, **MECHANICS}[parsed.kind], type_index)
