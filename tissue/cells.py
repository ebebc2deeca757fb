"""The cell store: a structure of arrays with growable capacity and unique int64 ids.

Cells are always kept in id order: new cells take the next ids and are appended, and
removal compacts stably. Array order is therefore canonical (it depends only on what
happened, never on the backend), which makes per-voxel sums reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tissue.backend import to_numpy

LIVE, APOPTOTIC, NECROTIC = 0, 1, 2
STATE_NAMES = {LIVE: "live", APOPTOTIC: "apoptotic", NECROTIC: "necrotic"}


@dataclass(frozen=True)
class Column:
    """One per-cell attribute: dtype, trailing shape and the value new cells get."""

    dtype: Any
    shape: tuple[int, ...] = ()
    fill: float | int = 0


BASE_COLUMNS: dict[str, Column] = {
    "id": Column(np.int64, (), -1),
    "type": Column(np.int16, (), 0),
    "state": Column(np.int8, (), LIVE),
    "position_um": Column(np.float32, (3,), 0.0),
    "direction": Column(np.float32, (3,), 0.0),  # motility direction, unit or 0
    "age_min": Column(np.float32, (), -1.0),  # since the division that made it; -1: placed
    "state_time_min": Column(np.float32, (), 0.0),  # time since entering the state
    "partner": Column(np.int64, (), -1),  # id of an attached cell, -1 for none
    "attached_min": Column(np.float32, (), 0.0),  # time attached to the partner
    "founder": Column(np.int64, (), -1),  # id of the disseminated cell a lineage began with
}


class CellStore:
    """Per-organ cells as a structure of arrays on one backend.

    Columns are accessed as attributes (``cells.position_um``) and return views of the
    ``n`` live rows; writes go through. Capacity doubles when needed (never a silent drop).

    Args:
        xp: array module (numpy or cupy).
        capacity: initial number of rows.
        extra_columns: model-specific columns (name -> Column) added to the base ones.
        id_base: the first id (organs of one run use disjoint id ranges, so that ids are
            unique for the run and random draws keyed by id never repeat).
        grow_check: called with the new capacity before the store grows; it raises to
            refuse growth that cannot fit (see :func:`tissue.limits.check_cell_growth`).
    """

    def __init__(
        self,
        xp: Any,
        capacity: int = 1024,
        extra_columns: dict[str, Column] | None = None,
        id_base: int = 0,
        grow_check: Callable[[int], None] | None = None,
    ) -> None:
        self.xp = xp
        self.grow_check = grow_check
        self.columns = {**BASE_COLUMNS, **(extra_columns or {})}
        self.n = 0
        self.next_id = int(id_base)
        self.capacity = max(16, int(capacity))
        self._data = {
            name: self._allocate(col, self.capacity) for name, col in self.columns.items()
        }

    def _allocate(self, column: Column, rows: int) -> Any:
        return self.xp.full((rows, *column.shape), column.fill, dtype=column.dtype)

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            return data[name][: self.n]
        raise AttributeError(name)

    def __len__(self) -> int:
        return self.n

    def ensure_capacity(self, rows: int) -> None:
        """Grow (by doubling) so that ``rows`` cells fit."""
        if rows <= self.capacity:
            return
        new_capacity = max(rows, 2 * self.capacity)
        if self.grow_check is not None:
            self.grow_check(new_capacity)
        for name, col in self.columns.items():
            grown = self._allocate(col, new_capacity)
            grown[: self.n] = self._data[name][: self.n]
            self._data[name] = grown
        self.capacity = new_capacity

    def add(self, type_index: Any, position_um: Any, **values: Any) -> Any:
        """Append cells with new ids; returns their ids (backend int64 array).

        Args:
            type_index: (k,) or scalar type index.
            position_um: (k, 3) float32 positions (x, y, z) in um.
            values: other columns, each (k, ...) or scalar; unspecified columns get fills.
        """
        xp = self.xp
        position_um = xp.asarray(position_um, dtype=xp.float32).reshape(-1, 3)
        k = position_um.shape[0]
        self.ensure_capacity(self.n + k)
        rows = slice(self.n, self.n + k)
        ids = xp.arange(self.next_id, self.next_id + k, dtype=xp.int64)
        for name, col in self.columns.items():
            self._data[name][rows] = col.fill
        self._data["id"][rows] = ids
        self._data["type"][rows] = type_index
        self._data["position_um"][rows] = position_um
        for name, value in values.items():
            if name not in self.columns or name in ("id", "position_um", "type"):
                raise KeyError(f"cannot set column '{name}' when adding cells")
            self._data[name][rows] = value
        self.n += k
        self.next_id += k
        return ids

    def duplicate(self, parents: Any, position_um: Any) -> Any:
        """Append daughters of cells ``parents`` (int64 indices, ascending) at the given
        positions: every column is copied from the parent except id, position, age and
        state time. Returns the daughters' indices."""
        xp = self.xp
        k = int(parents.shape[0])
        self.ensure_capacity(self.n + k)
        rows = slice(self.n, self.n + k)
        for name in self.columns:
            self._data[name][rows] = self._data[name][parents]
        self._data["id"][rows] = xp.arange(self.next_id, self.next_id + k, dtype=xp.int64)
        self._data["position_um"][rows] = position_um
        self._data["age_min"][rows] = 0.0
        self._data["state_time_min"][rows] = 0.0
        self._data["partner"][rows] = -1
        self._data["attached_min"][rows] = 0.0
        self.n += k
        self.next_id += k
        return xp.arange(rows.start, rows.stop, dtype=xp.int64)

    def keep(self, mask: Any) -> None:
        """Remove the cells where ``mask`` (N,) bool is False, keeping order."""
        index = self.xp.nonzero(mask)[0]
        k = int(index.shape[0])
        if k == self.n:
            return
        for name in self.columns:
            self._data[name][:k] = self._data[name][index]
        self.n = k

    def export_state(self) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """Everything needed to restore the store: host copies of the columns' live rows,
        and the counters ``n``, ``next_id`` and ``capacity``."""
        counters = {"n": self.n, "next_id": self.next_id, "capacity": self.capacity}
        return self.to_numpy(), counters

    def restore_state(self, columns: dict[str, np.ndarray], counters: dict[str, int]) -> None:
        """Restore from :meth:`export_state` (columns as host or backend arrays).

        Raises:
            ValueError: a column is missing, unknown, or of the wrong dtype or shape.
        """
        n = int(counters["n"])
        capacity = max(int(counters["capacity"]), n, 16)
        if set(columns) != set(self.columns):
            raise ValueError(
                f"cell columns {sorted(columns)} differ from the model's {sorted(self.columns)}"
            )
        data = {}
        for name, col in self.columns.items():
            value = columns[name]
            if value.dtype != np.dtype(col.dtype) or tuple(value.shape) != (n, *col.shape):
                raise ValueError(
                    f"cell column '{name}' is {value.dtype}{tuple(value.shape)}, "
                    f"expected {np.dtype(col.dtype)}{(n, *col.shape)}"
                )
            data[name] = self._allocate(col, capacity)
            data[name][:n] = self.xp.asarray(value)
        self._data = data
        self.n = n
        self.next_id = int(counters["next_id"])
        self.capacity = capacity

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Host copies of all columns' live rows."""
        return {name: to_numpy(self._data[name][: self.n]).copy() for name in self.columns}
