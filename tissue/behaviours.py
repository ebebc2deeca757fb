"""Signals and the rules that move cell behaviours with them (PhysiCell-style rules).

A *signal* is what a cell senses: a field of its organ at its voxel, a systemic
concentration (``blood.<species>``) or the number of live cells of a type touching it
(``contact.<type>``). An active blocking intervention scales a signal by (1 - efficacy)
wherever it is read. A *behaviour* (a rate or a secretion factor) starts from the cell
type's value and each rule on it moves it toward the rule's ``to_value`` by a Hill function
of the signal, in the order the rules are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tissue.cells import LIVE
from tissue.config import Rule, Scenario
from tissue.kernels.cells import CHUNK_CELLS, CellGrid, build_cell_grid

if TYPE_CHECKING:
    from tissue.rules import CellTypes
    from tissue.simulation import Organ

F32 = np.float32


class Sensing(Protocol):
    """What the body tells rules about the moment: blocks and systemic concentrations."""

    def factor(self, signal: str) -> float:
        """1 - efficacy of the blocks on ``signal`` active now (1 when none)."""

    def blood(self, species: str) -> float:
        """Systemic concentration of ``species`` now (blocks not applied)."""

    def signal_value(self, signal: str) -> float:
        """A ``blood.<species>`` signal as rules see it (blocks applied)."""


def hill(xp: Any, signal: Any, half_max: float, n: float, rises: bool = True) -> Any:
    """s^n / (h^n + s^n) (or h^n / (h^n + s^n) when not ``rises``), float32, 0 <= H <= 1."""
    ratio = xp.maximum(xp.asarray(signal, dtype=xp.float32), F32(0)) / F32(half_max)
    power = ratio ** F32(n)
    up = power / (F32(1) + power)
    return up if rises else F32(1) - up


def contact_pairs(
    xp: Any, positions: Any, reach: Any, grid: CellGrid, query: Any = None
) -> tuple[Any, Any]:
    """Ordered pairs (i, j), i != j, with |x_i - x_j| < reach_i + reach_j, for i in
    ``query`` (int64 cell indices; all cells when None).

    Args:
        positions: (N, 3) float32 um. reach: (N,) float32 um.
        grid: the cell grid of ``positions``; its bins must be at least the longest
            ``reach_i + reach_j`` wide.

    Returns:
        (M,) int64 arrays i and j, grouped by chunks of ``query`` in a fixed order.
    """
    n = positions.shape[0]
    if query is None:
        query = xp.arange(n, dtype=xp.int64)
    if n == 0 or query.shape[0] == 0:
        return xp.zeros(0, xp.int64), xp.zeros(0, xp.int64)
    bz, by, bx = grid.shape_zyx
    shape = xp.asarray([bz, by, bx], dtype=xp.int64)
    counts = xp.diff(grid.bin_start).astype(xp.int64)
    bin_start = grid.bin_start.astype(xp.int64)
    cell_bin = grid.cell_bin.astype(xp.int64)[query]
    b_zyx = xp.stack([cell_bin // (by * bx), (cell_bin // bx) % by, cell_bin % bx])
    offsets = xp.asarray(
        [(dz, dy, dx) for dz in (-1, 0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
        dtype=xp.int64,
    ).T[:, :, None]
    order = grid.order.astype(xp.int64)
    found_i, found_j = [], []
    for lo in range(0, query.shape[0], CHUNK_CELLS):
        cells = query[lo : lo + CHUNK_CELLS]
        nb_zyx = b_zyx[:, None, lo : lo + cells.shape[0]] + offsets  # (3, 27, m)
        valid = (nb_zyx.min(axis=0) >= 0) & xp.all(nb_zyx < shape[:, None, None], axis=0)
        nb = xp.where(valid, (nb_zyx[0] * by + nb_zyx[1]) * bx + nb_zyx[2], 0)
        length = xp.where(valid, counts[nb], 0).ravel()
        ends = xp.cumsum(length)
        total = int(ends[-1])
        if total == 0:
            continue
        slot = xp.arange(total, dtype=xp.int64)
        segment = xp.searchsorted(ends, slot, side="right")
        i = xp.broadcast_to(cells, nb.shape).ravel()[segment]
        k = bin_start[nb].ravel()[segment] + slot - (ends - length)[segment]
        j = order[k]
        d = positions[i] - positions[j]
        distance = xp.sqrt((d * d).sum(axis=1))
        keep = (i != j) & (distance < reach[i] + reach[j])
        found_i.append(i[keep])
        found_j.append(j[keep])
    if not found_i:
        return xp.zeros(0, xp.int64), xp.zeros(0, xp.int64)
    return xp.concatenate(found_i), xp.concatenate(found_j)


class Contacts:
    """Cells touching each other in one organ at one moment (computed on demand, once for
    each type of querying cell)."""

    def __init__(self, organ: Organ, types: CellTypes) -> None:
        self.organ = organ
        self.types = types
        self._pairs: dict[int, tuple[Any, Any]] = {}
        self._grid: CellGrid | None = None
        self._key: tuple[int, int] = (-1, -1)

    def pairs(self, query_type: int) -> tuple[Any, Any]:
        """(i, j) with i a cell of ``query_type`` and j any cell touching it: centres
        closer than the sum of their adhesion reaches.

        Recomputed when cells were added or removed since (cells move only in the
        mechanics process, which makes a new Contacts)."""
        organ, types = self.organ, self.types
        cells = organ.cells
        key = (cells.n, cells.next_id)
        if key != self._key:
            self._key = key
            self._pairs = {}
            self._grid = build_cell_grid(
                organ.xp,
                cells.position_um,
                organ.grid.origin_xyz_um,
                organ.grid.extent_xyz_um,
                types.max_interaction_um,
            )
        if query_type not in self._pairs:
            xp = organ.xp
            assert self._grid is not None
            reach = types.of("adhesion_range", cells.type) * types.of("radius_um", cells.type)
            query = xp.nonzero(cells.type == query_type)[0].astype(xp.int64)
            self._pairs[query_type] = contact_pairs(xp, cells.position_um, reach, self._grid, query)
        return self._pairs[query_type]

    def count(self, query_type: int, type_index: int) -> Any:
        """(N,) float32: live cells of ``type_index`` touching each cell (counted for the
        cells of ``query_type``, 0 for others)."""
        xp, cells = self.organ.xp, self.organ.cells
        i, j = self.pairs(query_type)
        hit = (cells.type[j] == type_index) & (cells.state[j] == LIVE)
        return xp.bincount(i[hit], minlength=cells.n).astype(xp.float32)


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

    def bind(self, organ: Organ, sensing: Sensing, contacts: Contacts) -> Any:
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
        for entry in rules:
            selected = xp.nonzero(cells.type == entry.type_index)[0]
            if selected.shape[0] == 0:
                continue
            rule = entry.rule
            kind, _, name = rule.signal.partition(".")
            if kind == "blood" and name:
                signal = xp.full(
                    selected.shape[0], sensing.signal_value(rule.signal), dtype=xp.float32
                )
            elif kind == "contact" and name:
                factor = F32(sensing.factor(rule.signal))
                counts = contacts.count(entry.type_index, self.type_names.index(name))
                signal = counts[selected] * factor
            elif rule.signal in organ.fields:
                if flat is None:
                    flat = organ.grid.flat_index(xp, cells.position_um)
                factor = F32(sensing.factor(rule.signal))
                signal = organ.fields.sample(rule.signal, flat[selected]) * factor
            else:
                signal = xp.zeros(selected.shape[0], dtype=xp.float32)
            h = hill(xp, signal, rule.half_max, rule.hill_coefficient, rule.as_signal == "rises")
            old = value[selected]
            value[selected] = old + (F32(rule.to_value) - old) * h
        return value
