"""The scenario's rules on cell behaviours (PhysiCell-style): what each cell senses and how
its rates and secretion factors move with it.

A *behaviour* (a rate or a secretion factor, see :mod:`tissue.signals` for the names) starts
from the cell type's value and each rule on it moves it toward the rule's ``to_value`` by a
Hill function of the rule's signal, in the order the rules are written. A signal is read at
each cell: a field of its organ at its voxel, a systemic concentration, or the number of live
cells of a type touching it (from the step's :class:`~tissue.organ.Contacts`). An active
blocking intervention scales a signal by (1 - efficacy) wherever it is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tissue.config import Rule, Scenario
from tissue.grid import F32
from tissue.organ import CellTypes, Contacts, Organ
from tissue.signals import Sensing, hill, parse_signal

Behave = Callable[[str, Any], Any]  # (behaviour, base (N,) float32) -> (N,) float32


def unchanged(_behaviour: str, base: Any) -> Any:
    """The behaviour without rules: ``base``."""
    return base


@dataclass(frozen=True)
class _TypedRule:
    type_index: int
    rule: Rule


class Behaviours:
    """The scenario's rules, grouped by behaviour.

    Args:
        scenario: the validated scenario. types: its cell types.
    """

    def __init__(self, scenario: Scenario, types: CellTypes) -> None:
        self.type_names = types.names
        self.by_behaviour: dict[str, list[_TypedRule]] = {}
        for rule in scenario.rules.values():
            entry = _TypedRule(types.names.index(rule.cell_type), rule)
            self.by_behaviour.setdefault(rule.behaviour, []).append(entry)

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
        """(N,) float32: ``base`` (per cell) moved by the rules on ``behaviour``."""
        rules = self.by_behaviour.get(behaviour)
        if not rules:
            return base
        xp, cells = organ.xp, organ.cells
        value = xp.array(base, dtype=xp.float32, copy=True)
        flat = None
        n = cells.n
        for entry in rules:
            # every cell is evaluated and the rule's type takes the result (no host round
            # trip), except that contacts are only searched for a type that has cells
            selected = cells.type == entry.type_index
            rule = entry.rule
            parsed = parse_signal(rule.signal)
            if parsed.kind == "blood":
                signal = xp.full(n, sensing.signal_value(rule.signal), dtype=xp.float32)
            elif parsed.kind == "contact":
                if not bool(selected.any()):
                    continue
                factor = F32(sensing.factor(rule.signal))
                counts = contacts.count(entry.type_index, self.type_names.index(parsed.name))
                signal = counts * factor
            elif rule.signal in organ.fields:
                if flat is None:
                    flat = organ.grid.flat_index(xp, cells.position_um)
                factor = F32(sensing.factor(rule.signal))
                signal = organ.fields.sample(rule.signal, flat) * factor
            else:
                signal = xp.zeros(n, dtype=xp.float32)
            h = hill(xp, signal, rule.half_max, rule.hill_coefficient, rule.as_signal == "rises")
            value = xp.where(selected, value + (F32(rule.to_value) - value) * h, value)
        return value
