"""The cell store: a structure of arrays with growable capacity and unique int64 ids.

Cells are always kept in id order: new cells take the next ids and are appended, and
removal compacts stably. Array order is therefore canonical (it depends only on what
happened, never on the backend), which makes per-voxel sums reproducible.

Births and removals run on the backend without a host round trip: the number of cells
(``count``) and the next id are 0-d device counters, compaction and the placing of
daughters are gathers by prefix sums. On a device (``lazy``) the host does not wait for
the new count: the views keep a host-known number of rows ``n`` that bounds it (rows past
the cells are *vacant*: state :data:`VACANT`, type -1, id :data:`NO_ID`, excluded from the
cell grid and deposits), and each change starts an asynchronous copy of the counters that
:meth:`CellStore.settle_lagged` reads a phenotype step later, when it has long arrived
(removals between phenotype steps start none: the last copy still bounds the count).
On NumPy the views are trimmed at once (it costs nothing), so there are no vacant rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tissue.backend import Pending, read_later, to_numpy

LIVE, APOPTOTIC, NECROTIC = 0, 1, 2
STATE_NAMES = {LIVE: "live", APOPTOTIC: "apoptotic", NECROTIC: "necrotic"}
VACANT = 3  # a row past the cells (never a cell's state; see the module doc)
NO_ID = np.iinfo(np.int64).max  # a vacant row's id: ids stay sorted over every row


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
_VACANT_FILL = {"id": NO_ID, "type": -1, "state": VACANT}


# the columns some scenarios add (tissue.organ.Organ picks them)
HELD_COLUMN = Column(np.float32, (), math.nan)  # a held behaviour's value (NaN: the type's)
DAMAGE_COLUMNS = {  # damage taken and dealt, when some type takes or deals damage
    "damage": Column(np.float32, (), 0.0),
    "damage_delivered": Column(np.float32, (), 0.0),
}
ATTACK_TIME_COLUMNS = {  # the minutes a cell has been attacked, when a rule reads them
    "attack_time_min": Column(np.float32, (), 0.0),
}
PHASE_COLUMNS = {  # a cell's cycle phase and the time in it, when some type has phases
    "cycle_phase": Column(np.int8, (), 0),
    "phase_time_min": Column(np.float32, (), 0.0),
}
# the speed (um/min) a cell took at its last turn, where rules move speeds: PhysiCell scales
# its motility vector then and keeps it until the next turn (tissue.rules.update_motility)
MOTILITY_SPEED = "motility_speed"
MOTILITY_SPEED_COLUMNS = {MOTILITY_SPEED: Column(np.float32, (), 0.0)}
# where some type's volume follows its division_volume (tissue.volume): a cell's fluid,
# nuclear and cytoplasmic volumes less its targets, over its type's volume (0: at them),
# and how many times its targets are doubled (PhysiCell's S-phase entry; a division halves)
REGROWTH = "volume_deviation"
DOUBLED = "targets_doubled"
REGROWTH_COLUMNS = {REGROWTH: Column(np.float32, (3,), 0.0), DOUBLED: Column(np.int8, (), 0)}
# the volume eaten, beyond the volume model's, when some type eats (um^3; tissue.phagocytosis)
ENGULFED_COLUMNS = {f"engulfed_{part}_um3": Column(np.float32) for part in ("fluid", "solid")}


class CellStore:
    """Per-organ cells as a structure of arrays on one backend.

    Columns are accessed as attributes (``cells.position_um``) and return views of the
    first ``n`` rows; writes go through. Capacity doubles when needed (never a silent drop).

    Attributes:
        n: rows in the views (host int): the number of cells, or on a ``lazy`` store a
            bound on it until :meth:`settle` (the rows past ``count`` are vacant).
        count: the number of cells, a 0-d int64 backend array.
        version: a host counter that changes whenever cells are added or removed.

    Args:
        xp: array module (numpy or cupy).
        capacity: initial number of rows.
        extra_columns: model-specific columns (name -> Column) added to the base ones.
        id_base: the first id (organs of one run use disjoint id ranges, so that ids are
            unique for the run and random draws keyed by id never repeat).
        grow_check: called with the new capacity before the store grows; it raises to
            refuse growth that cannot fit (see :func:`tissue.limits.check_cell_growth`).
        lazy: leave the views untrimmed between reads (default: on every backend but
            NumPy; see the module doc).
    """

    def __init__(
        self,
        xp: Any,
        capacity: int = 1024,
        extra_columns: dict[str, Column] | None = None,
        id_base: int = 0,
        grow_check: Callable[[int], None] | None = None,
        lazy: bool | None = None,
    ) -> None:
        self.xp = xp
        self.grow_check = grow_check
        self.lazy = xp is not np if lazy is None else lazy
        self.columns = {**BASE_COLUMNS, **(extra_columns or {})}
        self.capacity = max(16, int(capacity))
        self._data = {
            name: self._allocate(name, col, self.capacity) for name, col in self.columns.items()
        }
        self.version = 0
        self._pending: tuple[int, Pending, bool] | None = None  # version, copy, exact?
        self._set_exact(0, int(id_base))

    def _allocate(self, name: str, column: Column, rows: int) -> Any:
        fill = _VACANT_FILL.get(name, column.fill)
        return self.xp.full((rows, *column.shape), fill, dtype=column.dtype)

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            return data[name][: self.n]
        raise AttributeError(name)

    def __len__(self) -> int:
        return self.n

    @property
    def occupied(self) -> Any:
        """(n,) bool: the rows that hold a cell (all of them on a settled store)."""
        return self.state != VACANT

    @property
    def next_id(self) -> int:
        """The id the next new cell gets (settles the store)."""
        self.settle()
        return self._next_id

    # --- counters ----------------------------------------------------------------------

    def _set_exact(self, n: int, next_id: int) -> None:
        """Counters known on the host: ``n`` cells, the next id ``next_id``."""
        self.n, self._next_id, self.exact = n, next_id, True
        self.count = self.xp.asarray(n, dtype=self.xp.int64)
        self._next = self.xp.asarray(next_id, dtype=self.xp.int64)
        self.version += 1

    def _changed(self) -> None:
        """After a change made on the backend: trim at once (NumPy) or start the copy of
        the counters that :meth:`settle_lagged` will read."""
        self.version += 1
        counters = self.xp.stack([self.count, self._next])
        if self.lazy:
            self.exact = False
            self._pending = (self.version, read_later(self.xp, counters), True)
        else:
            self.n, self._next_id = (int(c) for c in counters)

    def _bounded(self) -> None:
        """After a removal on a lazy store that starts no copy of the counters: the last
        copy (or the counters the host knows) still bounds the count, which removals only
        lower, and holds the next id; :meth:`settle_lagged` trims the views to that bound."""
        if self.exact:
            bound = Pending(np.array([self.n, self._next_id], dtype=np.int64))
        else:
            assert self._pending is not None, "an inexact lazy store has a copy pending"
            bound = self._pending[1]
        self.version += 1
        self.exact = False
        self._pending = (self.version, bound, False)

    def _take(self, counters: np.ndarray) -> None:
        self.n, self._next_id = int(counters[0]), int(counters[1])
        self.exact = True

    def settle(self) -> None:
        """Trim the views to the cells (a host read of the counters, waiting for the device
        on a lazy store; nothing when they are known)."""
        if not self.exact:
            self._take(to_numpy(self.xp.stack([self.count, self._next])))

    def settle_lagged(self) -> None:
        """Trim the views from the copy of the counters started at the last change: on a
        device it arrived long ago (a phenotype step), so the host waits for nothing; after
        removals that started none (see :meth:`keep`) the views keep the vacant rows up to
        that copy's count. Falls back to :meth:`settle` when there is no such copy."""
        if self.exact:
            return
        if self._pending is not None and self._pending[0] == self.version:
            _, copy, exact = self._pending
            self._take(copy.value())
            self.exact = exact
        else:
            self.settle()

    # --- rows --------------------------------------------------------------------------

    def ensure_capacity(self, rows: int) -> None:
        """Grow (by doubling) so that ``rows`` rows fit."""
        if rows <= self.capacity:
            return
        new_capacity = max(rows, 2 * self.capacity)
        if self.grow_check is not None:
            self.grow_check(new_capacity)
        for name, col in self.columns.items():
            grown = self._allocate(name, col, new_capacity)
            grown[: self.n] = self._data[name][: self.n]
            self._data[name] = grown
        self.capacity = new_capacity

    def add(self, type_index: Any, position_um: Any, **values: Any) -> Any:
        """Append cells with new ids; returns their ids (backend int64 array). Settles the
        store first (the rows are placed by the host).

        Args:
            type_index: (k,) or scalar type index.
            position_um: (k, 3) float32 positions (x, y, z) in um.
            values: other columns, each (k, ...) or scalar; unspecified columns get fills.
        """
        xp = self.xp
        self.settle()
        position_um = xp.asarray(position_um, dtype=xp.float32).reshape(-1, 3)
        k = position_um.shape[0]
        self.ensure_capacity(self.n + k)
        rows = slice(self.n, self.n + k)
        ids = xp.arange(self._next_id, self._next_id + k, dtype=xp.int64)
        for name, col in self.columns.items():
            self._data[name][rows] = col.fill
        self._data["id"][rows] = ids
        self._data["type"][rows] = type_index
        self._data["position_um"][rows] = position_um
        for name, value in values.items():
            if name not in self.columns or name in ("id", "position_um", "type"):
                raise KeyError(f"cannot set column '{name}' when adding cells")
            self._data[name][rows] = value
        self._set_exact(self.n + k, self._next_id + k)
        return ids

    def append(self, selected: Any, values: dict[str, Any]) -> Any:
        """Append a cell for each True of ``selected`` ((m,) bool), in order, with the next
        ids: each column takes its row of ``values`` (column -> (m, ...) backend array, or a
        scalar for all) or its fill. On the backend, without a host read (a lazy store's
        views grow by m rows). Returns (n,) bool over the new rows: the new cells."""
        xp, m = self.xp, int(selected.shape[0])
        if m == 0 or not (self.lazy or bool(selected.any())):
            return xp.zeros(self.n, dtype=bool)
        ranks = xp.cumsum(selected, dtype=xp.int64)  # new cells up to each entry
        births = ranks[-1]
        rows = self.n + m if self.lazy else int(self.count + births)
        self.ensure_capacity(rows)
        rank = xp.arange(rows, dtype=xp.int64) - self.count
        new = (rank >= 0) & (rank < births)
        source = xp.minimum(xp.searchsorted(ranks, rank + 1, side="left"), m - 1)
        for name, col in self.columns.items():
            data = self._data[name]
            value = values.get(name, col.fill)
            if name == "id":
                value = self._next + rank
            elif getattr(value, "ndim", 0) == data.ndim:  # a row for each entry
                value = value[source]
            pick = new.reshape(-1, *([1] * (data.ndim - 1)))
            data[:rows] = xp.where(pick, xp.asarray(value, dtype=data.dtype), data[:rows])
        self.n = rows
        self.count = self.count + births
        self._next = self._next + births
        self._changed()
        return new[: self.n]

    def split(self, dividing: Any, position_um: Any, values: dict[str, Any] | None = None) -> Any:
        """Append a daughter of each cell where ``dividing`` ((n,) bool), in row order (see
        :meth:`append`): every column is copied from the parent except id, position (the
        parent's row of ``position_um``, (n, 3) float32), age, state time, attachment and
        the columns of ``values`` (column -> (n, ...) array by the parent's row). Returns
        (n,) bool over the new rows: the daughters."""
        n = self.n
        parents = {name: self._data[name][:n] for name in self.columns}
        daughters = {"position_um": position_um, "age_min": 0.0, "state_time_min": 0.0,
                     "partner": -1, "attached_min": 0.0}  # fmt: skip
        occupied = self.xp.arange(n, dtype=self.xp.int64) < self.count
        return self.append(dividing & occupied, {**parents, **(values or {}), **daughters})

    def keep(self, mask: Any, recount: bool = True) -> None:
        """Remove the cells where ``mask`` ((n,) bool) is False, keeping order; on the
        backend, without a host read (rows past the kept cells become vacant).
        ``recount=False``: a lazy store starts no copy of the counters (for removals
        between phenotype steps, whose first :meth:`settle_lagged` would wait for it):
        the last copy still bounds the count."""
        xp, n = self.xp, self.n
        if n == 0 or not (self.lazy or not bool(mask.all())):
            return
        rows = xp.arange(n, dtype=xp.int64)
        kept = xp.cumsum(mask & (rows < self.count), dtype=xp.int64)
        count = kept[-1]
        source = xp.minimum(xp.searchsorted(kept, rows + 1, side="left"), n - 1)
        filled = rows < count
        for name, col in self.columns.items():
            data = self._data[name]
            pick = filled.reshape(-1, *([1] * (data.ndim - 1)))
            fill = xp.asarray(_VACANT_FILL.get(name, col.fill), dtype=data.dtype)
            data[:n] = xp.where(pick, data[source], fill)
        self.count = count
        if recount or not self.lazy:
            self._changed()
        else:
            self._bounded()

    # --- state -------------------------------------------------------------------------

    def export_state(self) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """Everything needed to restore the store: host copies of the columns' live rows,
        and the counters ``n``, ``next_id`` and ``capacity``."""
        self.settle()
        counters = {"n": self.n, "next_id": self._next_id, "capacity": self.capacity}
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
            data[name] = self._allocate(name, col, capacity)
            data[name][:n] = self.xp.asarray(value)
        self._data = data
        self.capacity = capacity
        self._set_exact(n, int(counters["next_id"]))

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Host copies of all columns' rows (settles the store)."""
        self.settle()
        return {name: to_numpy(self._data[name][: self.n]).copy() for name in self.columns}
