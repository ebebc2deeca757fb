"""The scenario's per-type tables on the backend: damage attacks (attacker x target),
chemotaxis (type x field), cycle phases (type x phase) and adhesion affinities (type x
type); and the fields cells sense chemotactically."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tissue.config import Scenario
from tissue.signals import parse_behaviour


@dataclass(frozen=True)
class DamageAttacks:
    """The types' :class:`~tissue.config.cells.DamageAttack` as tables: ``rate`` (n_types,
    n_types) float32, attacker x target type (1/min, before rules); ``immunogenicity``
    (n_types, n_types) float32, target x attacker type; ``candidate`` (n_types, n_types)
    bool: attacker x target types it may start on (a rate > 0 or a rule on it, and an
    immunogenicity > 0 or a rule on it); ``attackers``: the attacking type codes (host list)."""

    rate: Any
    immunogenicity: Any
    candidate: Any
    attackers: list[int]

    @classmethod
    def from_scenario(cls, xp: Any, scenario: Scenario) -> DamageAttacks | None:
        """The tables, or None when no type has a damage attack."""
        names = list(scenario.cell_types)
        if not any(c.damage_attack for c in scenario.cell_types.values()):
            return None
        n = len(names)
        rate = np.zeros((n, n), dtype=np.float32)
        ruled = np.zeros((n, n), dtype=bool)
        immunogenicity = np.ones((n, n), dtype=np.float32)
        for a, ctype in enumerate(scenario.cell_types.values()):
            for other, value in ctype.immunogenicity.items():
                immunogenicity[a, names.index(other)] = value
            if ctype.damage_attack is not None:
                for other, value in ctype.damage_attack.rates_per_min.items():
                    rate[a, names.index(other)] = value
        moved = [(r.cell_type, r.behaviour) for r in scenario.rules.values()]
        moved += sorted(scenario.own_value_pairs())
        raised = immunogenicity > 0
        for cell_type, behaviour in moved:  # rules and per-cell values may raise a rate of 0
            parsed = parse_behaviour(behaviour)
            if parsed.kind == "attack":
                ruled[names.index(cell_type), names.index(parsed.target)] = True
            if parsed.kind == "immunogenicity":  # ... or a target's immunogenicity of 0
                raised[names.index(cell_type), names.index(parsed.target)] = True
        candidate = ((rate > 0) | ruled) & raised.T
        attackers = [a for a, c in enumerate(scenario.cell_types.values()) if c.damage_attack]
        return cls(xp.asarray(rate), xp.asarray(immunogenicity), xp.asarray(candidate), attackers)


@dataclass(frozen=True)
class Chemotaxis:
    """The types' chemotaxis over ``fields`` (K, :func:`chemotaxis_fields`) as backend
    tables: ``sensitivity`` ((n_types, K) float32, signed; 0 for a field a type does not
    list), ``senses`` ((n_types, K) bool: the type lists the field or rules move its
    sensitivity to it) and ``normalize_each`` ((n_types,) bool: each gradient is normalised
    before the sum)."""

    fields: list[str]
    sensitivity: Any
    senses: Any
    normalize_each: Any

    @classmethod
    def from_scenario(cls, xp: Any, scenario: Scenario) -> Chemotaxis | None:
        """The tables, or None when no type has chemotaxis."""
        types = list(scenario.cell_types.values())
        if not any(c.sensitivities for c in types):
            return None
        fields = chemotaxis_fields(scenario)
        ruled = steered(scenario)
        shape = (len(types), len(fields))
        sensitivity = np.zeros(shape, dtype=np.float32)
        senses = np.zeros(shape, dtype=bool)
        for t, (name, c) in enumerate(scenario.cell_types.items()):
            for k, f in enumerate(fields):
                sensitivity[t, k] = c.sensitivities.get(f, 0.0)
                senses[t, k] = f in c.sensitivities or (name, f) in ruled
        each = np.asarray([c.chemotaxis_normalize_each for c in types], dtype=bool)
        return cls(fields, *(xp.asarray(a) for a in (sensitivity, senses, each)))


@dataclass(frozen=True)
class CyclePhases:
    """The types' cycle phases (:class:`~tissue.config.cells.CyclePhase`) as tables over
    (type, phase), (n_types, K) backend arrays with phase 0 the first phase (left at the
    cycle rate) and K the most phases of any type: ``rate`` (1/min, 0 for fixed phases),
    ``duration`` (min, inf for phases left at a rate), ``divides`` and ``grows`` (bool);
    ``count`` ((n_types,) int64): each type's number of phases (1 without ``cycle_phases``);
    ``first_fixed`` ((n_types,) bool): the first phase lasts 1 / the cycle rate."""

    rate: Any
    duration: Any
    divides: Any
    grows: Any
    count: Any
    first_fixed: Any

    @classmethod
    def from_scenario(cls, xp: Any, scenario: Scenario) -> CyclePhases | None:
        """The tables, or None when no type has cycle phases or a fixed first phase."""
        types = list(scenario.cell_types.values())
        if not any(c.cycle_phases or c.cycle_first_phase == "fixed" for c in types):
            return None
        k = 1 + max(len(c.cycle_phases) for c in types)
        rate = np.zeros((len(types), k), dtype=np.float32)
        duration = np.full((len(types), k), np.inf, dtype=np.float32)
        divides = np.zeros((len(types), k), dtype=bool)
        grows = np.zeros((len(types), k), dtype=bool)
        for t, ctype in enumerate(types):
            divides[t, 0] = not ctype.cycle_phases
            for j, phase in enumerate(ctype.cycle_phases, start=1):
                rate[t, j] = phase.rate_per_min or 0.0
                duration[t, j] = np.inf if phase.duration_min is None else phase.duration_min
                divides[t, j] = phase.divides
                grows[t, j] = phase.grows
        count = np.array([1 + len(c.cycle_phases) for c in types], dtype=np.int64)
        first_fixed = np.array([c.cycle_first_phase == "fixed" for c in types], dtype=bool)
        tables = (rate, duration, divides, grows, count, first_fixed)
        return cls(*(xp.asarray(a) for a in tables))


def chemotaxis_fields(scenario: Scenario) -> list[str]:
    """The fields some cell type senses chemotactically or whose ``chemotaxis.<field>``
    rules move, in the scenario's order."""
    sensed = {f for c in scenario.cell_types.values() for f in c.sensitivities}
    sensed |= {target for _, target in steered(scenario)}
    return [f for f in scenario.fields if f in sensed]


def steered(scenario: Scenario) -> set[tuple[str, str]]:
    """(cell type, field) of each sensitivity that rules or an attribute (``scale_by``)
    move."""
    moved = [(r.cell_type, r.behaviour) for r in scenario.rules.values()]
    moved += [(t, b) for t, c in scenario.cell_types.items() for b in c.scale_by]
    parsed = [(t, parse_behaviour(b)) for t, b in moved]
    return {(t, b.target) for t, b in parsed if b.kind == "chemotaxis"}


def adhesion_affinities(xp: Any, scenario: Scenario) -> Any | None:
    """(n_types, n_types) float32 backend table of each type's adhesion affinity (row) to
    each type (column), 1 unless a type's ``adhesion_affinities`` gives it; None when every
    affinity is 1 (the pair kernel then skips the table)."""
    names = list(scenario.cell_types)
    table = np.ones((len(names), len(names)), dtype=np.float32)
    for t, ctype in enumerate(scenario.cell_types.values()):
        for other, value in ctype.adhesion_affinities.items():
            table[t, names.index(other)] = value
    return xp.asarray(table) if (table != 1).any() else None
