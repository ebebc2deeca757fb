"""Cell hot paths: the cell grid, pairwise mechanics, contact pairs and deposits into voxels.

``contact_pairs`` is written once against the array module (no CUDA twin; the references
of :mod:`tissue.kernels.contacts` use it); the others pair a NumPy reference with a CUDA
launcher.

Determinism: every sum over a cell's neighbours or a voxel's cells runs in a fixed order
(neighbour bins z-major from -1 to +1, then cells by position in the bin-sorted order;
cells of a voxel in array order) and accumulates in float64 before one rounding to float32.
``np.bincount`` adds in input order, which is the order the CUDA kernels loop in, so the
NumPy and CUDA results are the same bits. No atomics.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from tissue.grid import F32, NEIGHBOUR_OFFSETS, Grid
from tissue.kernels import array_module, on_device, stable_argsort

CHUNK_CELLS = 1 << 15  # cells per vectorised block in the NumPy pair search


@dataclass(frozen=True)
class CellGrid:
    """Cells binned into cubes at least as wide as the longest interaction range.

    Attributes:
        cell_bin: (N,) int32 flat bin (C order over (bz, by, bx)) of each cell.
        order: (N,) int32 cell indices sorted by bin, stable (so by index within a bin).
        bin_start: (n_bins + 1,) int32 offsets of each bin's run in ``order``.
        shape_zyx: bins per axis (bz, by, bx).
    """

    cell_bin: Any
    order: Any
    bin_start: Any
    shape_zyx: tuple[int, int, int]


def build_cell_grid(
    xp: Any,
    positions_um: Any,
    origin_xyz_um: tuple[float, float, float],
    extent_xyz_um: tuple[float, float, float],
    bin_um: float,
    occupied: Any = None,
) -> CellGrid:
    """Bin cells (N, 3 float32 um) into cubes of ``bin_um`` over the given box.

    Rows where ``occupied`` ((N,) bool, default all) is False (vacant rows of a cell
    store) get the bin past the last, ``n_bins``: they sort last, lie in no bin's run and
    so are nobody's neighbour; ``bin_start[n_bins]`` is the number of occupied rows."""
    shape_xyz = tuple(max(1, int(np.ceil(e / bin_um))) for e in extent_xyz_um)
    origin, last = _bin_constants(xp, tuple(origin_xyz_um), shape_xyz)
    ijk = xp.floor((positions_um - origin) / xp.float32(bin_um)).astype(xp.int32)
    ijk = xp.minimum(xp.maximum(ijk, 0), last)
    bx, by, bz = shape_xyz
    cell_bin = (ijk[:, 2] * by + ijk[:, 1]) * bx + ijk[:, 0]
    if occupied is not None:
        cell_bin = xp.where(occupied, cell_bin, xp.int32(bx * by * bz))
    order = stable_argsort(cell_bin).astype(xp.int32)
    # each bin's run starts where the sorted bins reach it: sizes known without a host read
    bins = xp.arange(bx * by * bz + 1, dtype=xp.int32)
    bin_start = xp.searchsorted(cell_bin[order], bins, side="left").astype(xp.int32)
    return CellGrid(cell_bin.astype(xp.int32), order, bin_start, (bz, by, bx))


@lru_cache(maxsize=64)
def _bin_constants(xp: Any, origin_xyz_um: tuple, shape_xyz: tuple) -> tuple[Any, Any]:
    """The bins' origin (3,) float32 and last index (3,) int32 on ``xp``, copied once."""
    origin = xp.asarray(origin_xyz_um, dtype=xp.float32)
    return origin, xp.asarray(shape_xyz, dtype=xp.int32) - 1


def _pair_terms(
    columns: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    cell_type: np.ndarray,
    affinity: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Velocity terms (M, 3) float32 on cells i from cells j, and a mask of acting pairs.

    ``columns``: (7, N) float32 rows x, y, z, radius, repulsion, adhesion, adhesion_range.
    PhysiCell's potentials: repulsion sqrt(rep_i rep_j) (1 - d/R)^2 for d < R = r_i + r_j;
    adhesion sqrt(adh_i adh_j) (1 - d/Ra)^2 for d < Ra = a_i r_i + a_j r_j; both along the
    line between centres. With an ``affinity`` table ((T, T) float32), adh_i is times
    affinity[t_i, t_j] and adh_j times affinity[t_j, t_i] (t: ``cell_type``, (N,)).
    """
    dx, dy, dz = (np.take(columns[a], i) - np.take(columns[a], j) for a in range(3))
    dist = np.sqrt((dx * dx + dy * dy) + dz * dz)
    ri, rj = np.take(columns[3], i), np.take(columns[3], j)
    rr = ri + rj
    ra = np.take(columns[6], i) * ri + np.take(columns[6], j) * rj
    acting = (dist > F32(0)) & ((dist < rr) | (dist < ra))
    i, j = i[acting], j[acting]
    dx, dy, dz, dist, rr, ra = (
        dx[acting],
        dy[acting],
        dz[acting],
        dist[acting],
        rr[acting],
        ra[acting],
    )
    t_rep = F32(1) - dist / rr
    t_adh = F32(1) - dist / ra
    rep_ij = np.sqrt(np.take(columns[4], i) * np.take(columns[4], j))
    adh_i, adh_j = np.take(columns[5], i), np.take(columns[5], j)
    if affinity is not None:
        ti, tj = cell_type[i].astype(np.int64), cell_type[j].astype(np.int64)
        adh_i, adh_j = adh_i * affinity[ti, tj], adh_j * affinity[tj, ti]
    adh_ij = np.sqrt(adh_i * adh_j)
    rep = np.where(dist < rr, rep_ij * t_rep * t_rep, F32(0))
    adh = np.where(dist < ra, adh_ij * t_adh * t_adh, F32(0))
    f = (rep - adh) / dist
    return np.stack([f * dx, f * dy, f * dz], axis=1), acting


def gather_bin_order_numpy(
    grid: CellGrid, positions: np.ndarray, *columns: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The pair kernel's inputs in bin order: positions (N, 3), the per-cell ``columns``
    (N,) and the cells' bins, each gathered by ``grid.order``."""
    order = grid.order
    return positions[order], *(c[order] for c in columns), grid.cell_bin[order]


def gather_bin_order_cuda(grid: CellGrid, positions: Any, *columns: Any) -> tuple[Any, ...]:
    """CUDA twin of :func:`gather_bin_order_numpy` for the columns of the pair kernel
    (radius, repulsion, adhesion and adhesion range, float32; the type, int16): one
    launch."""
    import cupy

    from gpu_kernels.loader import launch_1d

    n = positions.shape[0]
    out = (
        cupy.empty((n, 3), dtype=cupy.float32),
        *(cupy.empty(n, dtype=c.dtype) for c in columns),
        cupy.empty(n, dtype=cupy.int32),
    )
    launch_1d(
        "cells.cu",
        "gather_bin_order",
        n,
        (grid.order, positions, *columns, grid.cell_bin, *out, np.int32(n)),
    )
    return out


def pair_velocity_numpy(
    positions: np.ndarray,
    radius: np.ndarray,
    repulsion: np.ndarray,
    adhesion: np.ndarray,
    adhesion_range: np.ndarray,
    grid: CellGrid,
    cell_type: np.ndarray | None = None,
    affinity: np.ndarray | None = None,
) -> np.ndarray:
    """Velocity (N, 3) float32 um/min of each cell from its neighbours.

    The cells' columns are gathered in bin order (``grid.order``), so that each bin's
    neighbours are one contiguous run; the velocities are scattered back to array order.

    Args:
        positions: (N, 3) float32 um. radius: (N,) float32 um.
        repulsion, adhesion: (N,) float32 um/min. adhesion_range: (N,) float32, relative.
        grid: the cell grid of ``positions`` (bins at least the longest range wide).
        cell_type: (N,) int16 and affinity: (T, T) float32, the types' adhesion affinities
            (see :func:`_pair_terms`; None: every affinity 1).
    """
    n = positions.shape[0]
    out = np.zeros((n, 3), dtype=np.float32)
    if n == 0:
        return out
    order = grid.order
    types = np.zeros(n, dtype=np.int16) if cell_type is None else cell_type
    position, *rest, binned_type, cell_bin = gather_bin_order_numpy(
        grid, positions, radius, repulsion, adhesion, adhesion_range, types
    )
    columns = np.stack([position[:, 0], position[:, 1], position[:, 2], *rest]).astype(np.float32)
    shape = np.asarray(grid.shape_zyx, dtype=np.int64)
    counts = np.diff(grid.bin_start).astype(np.int64)
    bin_start = grid.bin_start.astype(np.int64)
    cell_bin = cell_bin.astype(np.int64)
    b_zyx = np.stack(
        [cell_bin // (shape[1] * shape[2]), (cell_bin // shape[2]) % shape[1], cell_bin % shape[2]]
    )  # (3, N)
    binned = cell_bin < shape.prod()  # vacant rows (the bin past the last) have no velocity
    velocity = np.zeros((n, 3), dtype=np.float32)  # in bin order
    for lo in range(0, n, CHUNK_CELLS):
        cells = np.arange(lo, min(n, lo + CHUNK_CELLS), dtype=np.int64)
        offsets = NEIGHBOUR_OFFSETS.T[:, :, None]
        nb_zyx = b_zyx[:, None, lo : lo + len(cells)] + offsets  # (3, 27, m)
        valid = (nb_zyx.min(axis=0) >= 0) & np.all(nb_zyx < shape[:, None, None], axis=0)
        valid &= binned[lo : lo + len(cells)]
        nb = np.where(valid, (nb_zyx[0] * shape[1] + nb_zyx[1]) * shape[2] + nb_zyx[2], 0)
        length = np.where(valid, counts[nb], 0).ravel()  # offset-major: offset, then cell
        start = bin_start[nb].ravel()
        total = int(length.sum())
        if total == 0:
            continue
        i = np.repeat(np.broadcast_to(cells, nb.shape).ravel(), length)
        run_begin = np.cumsum(length) - length
        j = np.repeat(start - run_begin, length) + np.arange(total, dtype=np.int64)
        keep = i != j
        i, j = i[keep], j[keep]
        terms, acting = _pair_terms(columns, i, j, binned_type, affinity)
        i = i[acting] - lo
        for axis in range(3):
            sums = np.bincount(i, weights=terms[:, axis], minlength=len(cells))
            velocity[lo : lo + len(cells), axis] = sums.astype(np.float32)
    out[order] = velocity
    return out


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
    offsets = xp.asarray(NEIGHBOUR_OFFSETS).T[:, :, None]
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


def pair_velocity_cuda(
    positions: Any,
    radius: Any,
    repulsion: Any,
    adhesion: Any,
    adhesion_range: Any,
    grid: CellGrid,
    cell_type: Any = None,
    affinity: Any = None,
) -> Any:
    """CUDA twin of :func:`pair_velocity_numpy` (gpu_kernels/cells.cu): columns gathered
    in bin order, one thread per cell, each writing its velocity to its row."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    n = positions.shape[0]
    check_array("positions", positions, cupy.float32, shape=(n, 3))
    for name, array in (
        ("radius", radius),
        ("repulsion", repulsion),
        ("adhesion", adhesion),
        ("adhesion_range", adhesion_range),
    ):
        check_array(name, array, cupy.float32, shape=(n,))
    check_array("cell_bin", grid.cell_bin, cupy.int32, shape=(n,))
    check_array("order", grid.order, cupy.int32, shape=(n,))
    check_array("bin_start", grid.bin_start, cupy.int32, ndim=1)
    types = cupy.zeros(n, dtype=cupy.int16) if cell_type is None else cell_type
    check_array("cell_type", types, cupy.int16, shape=(n,))
    n_types = 0 if affinity is None else affinity.shape[0]
    table = cupy.ones((1, 1), dtype=cupy.float32) if affinity is None else affinity
    check_array("affinity", table, cupy.float32, shape=(max(n_types, 1),) * 2)
    out = cupy.zeros((n, 3), dtype=cupy.float32)
    if n:
        bz, by, bx = grid.shape_zyx
        order = grid.order
        in_bin_order = gather_bin_order_cuda(
            grid, positions, radius, repulsion, adhesion, adhesion_range, types
        )
        launch_1d(
            "cells.cu",
            "pair_velocity",
            n,
            (*in_bin_order, grid.bin_start, order, cupy.ascontiguousarray(table), out,
             np.int32(n), np.int32(bz), np.int32(by), np.int32(bx), np.int32(n_types)),
        )  # fmt: skip
    return out


def pair_velocity(*args: Any, **kwargs: Any) -> Any:
    """Dispatch to the NumPy or CUDA pair velocity by the arrays' backend."""
    return (pair_velocity_cuda if on_device(args[0]) else pair_velocity_numpy)(*args, **kwargs)


def deposit_numpy(voxel: np.ndarray, values: np.ndarray, n_voxels: int) -> np.ndarray:
    """Per-voxel sums (K, n_voxels) of per-cell values (N, K), float32 or float64 (the
    result has the values' dtype); cells in voxel ``n_voxels`` (vacant rows) are left out.

    Each voxel's cells are added in array order in float64, then rounded once.
    """
    n_cols = values.shape[1]
    out = np.zeros((n_cols, n_voxels), dtype=values.dtype)
    for col in range(n_cols):
        sums = np.bincount(voxel, weights=values[:, col], minlength=n_voxels + 1)
        out[col] = sums[:n_voxels]
    return out


def deposit_cuda(voxel: Any, values: Any, n_voxels: int) -> Any:
    """CUDA twin of :func:`deposit_numpy`: stable sort by voxel, one thread per voxel run
    (no atomics, so the sums do not depend on the schedule)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    n = voxel.shape[0]
    check_array("voxel", voxel, cupy.int64, shape=(n,))
    double = values.dtype == np.float64
    check_array("values", values, cupy.float64 if double else cupy.float32, ndim=2)
    n_cols = values.shape[1]
    out = cupy.zeros((n_cols, n_voxels), dtype=values.dtype)
    if n:
        order = stable_argsort(voxel)
        sorted_voxel = cupy.ascontiguousarray(voxel[order])
        launch_1d(
            "cells.cu",
            "deposit_sorted_f64" if double else "deposit_sorted",
            n,
            (sorted_voxel, order, values, out, np.int64(n), np.int32(n_cols), np.int64(n_voxels)),
        )
    return out


def deposit(voxel: Any, values: Any, n_voxels: int) -> Any:
    """Dispatch to the NumPy or CUDA deposit by the arrays' backend."""
    return (deposit_cuda if on_device(voxel) else deposit_numpy)(voxel, values, n_voxels)


@dataclass(frozen=True)
class VoxelSums:
    """Per-cell float32 values (N, K) to be summed per voxel and added, one column at a
    time, into full-size arrays (:meth:`add_to`): a sparse deposit, which touches only the
    voxels that hold cells (nothing of full size is allocated or zero-filled).

    Attributes:
        voxel: (N,) int64 flat voxel of each cell (``n_voxels`` for vacant rows).
        values: (N, K) float32. n_voxels: voxels of the grid.
        order, sorted_voxel: on a device, the cells sorted stably by voxel (once for all
            columns); None on NumPy.
        held: on NumPy, (n_voxels,) bool: the voxels that hold a cell; None on a device.
    """

    voxel: Any
    values: Any
    n_voxels: int
    order: Any = None
    sorted_voxel: Any = None
    held: Any = None

    @classmethod
    def of(cls, voxel: Any, values: Any, n_voxels: int) -> VoxelSums:
        """The sums of ``values`` (N, K) float32 by ``voxel`` (N,) int64."""
        prepare = voxel_sums_cuda if on_device(voxel) else voxel_sums_numpy
        return prepare(voxel, values, n_voxels)

    def add_to(self, column: int, out: Any) -> None:
        """``out`` (a full-size float32 array, C-contiguous, ``n_voxels`` elements) += the
        per-voxel sums of column ``column`` where cells are, in place."""
        flat = out.reshape(-1)
        if on_device(flat):
            deposit_add_cuda(self, column, flat)
        else:
            deposit_add_numpy(self, column, flat)

    def dense(self, column: int) -> Any:
        """The per-voxel sums of column ``column`` as a full (n_voxels,) float32 array."""
        out = array_module(self.values).zeros(self.n_voxels, dtype=np.float32)
        self.add_to(column, out)
        return out


def voxel_sums_numpy(voxel: np.ndarray, values: np.ndarray, n_voxels: int) -> VoxelSums:
    """:class:`VoxelSums` on NumPy: the voxels that hold a cell, found once."""
    held = np.bincount(voxel, minlength=n_voxels + 1)[:n_voxels] > 0
    return VoxelSums(voxel, values, n_voxels, held=held)


def voxel_sums_cuda(voxel: Any, values: Any, n_voxels: int) -> VoxelSums:
    """:class:`VoxelSums` on a device: the cells sorted stably by voxel, once."""
    order = stable_argsort(voxel)
    return VoxelSums(voxel, values, n_voxels, order, voxel[order])


def deposit_add_numpy(sums: VoxelSums, column: int, out: np.ndarray) -> None:
    """Reference of :meth:`VoxelSums.add_to`: each voxel's cells summed in array order in
    float64, rounded once, added to ``out`` (flat) where the voxel holds a cell."""
    n = sums.n_voxels
    total = np.bincount(sums.voxel, weights=sums.values[:, column], minlength=n + 1)[:n]
    out[sums.held] += total[sums.held].astype(np.float32)


def deposit_add_cuda(sums: VoxelSums, column: int, out: Any) -> None:
    """CUDA twin of :func:`deposit_add_numpy`: one thread per voxel run of the sorted
    cells (no atomics)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    n = sums.voxel.shape[0]
    check_array("sorted_voxel", sums.sorted_voxel, cupy.int64, shape=(n,))
    check_array("order", sums.order, cupy.int64, shape=(n,))
    check_array("values", sums.values, cupy.float32, ndim=2)
    check_array("out", out, cupy.float32, shape=(sums.n_voxels,))
    launch_1d(
        "cells.cu",
        "deposit_add",
        n,
        (sums.sorted_voxel, sums.order, sums.values, out, np.int64(n),
         np.int32(sums.values.shape[1]), np.int32(column), np.int64(sums.n_voxels)),
    )  # fmt: skip


# --- moves that stay where the cells may be --------------------------------------------


def allowed_at(
    xp: Any, grid: Grid, labels: Any, allowed: Any, type_index: Any, positions_um: Any
) -> Any:
    """(N,) bool: positions (N, 3) float32 um inside ``grid``'s box and in a voxel whose
    label (``labels``, (nz, ny, nx) uint8) the cell's type may enter (``allowed``,
    (n_types, 256) bool; ``type_index`` (N,) int16, a vacant row's -1 reading the last
    type's row as NumPy's index does)."""
    inside = grid.contains(xp, positions_um)
    label = labels.reshape(-1)[grid.flat_index(xp, positions_um)]
    return inside & allowed[type_index.astype(xp.int64), label.astype(xp.int64)]


def cut_moves_numpy(
    old: np.ndarray,
    new: np.ndarray,
    type_index: np.ndarray,
    labels: np.ndarray,
    allowed: np.ndarray,
    grid: Grid,
) -> np.ndarray:
    """The positions (N, 3) float32 cells take moving from ``old`` to ``new``: ``new``
    where it is allowed (:func:`allowed_at`), else the move cut back axis by axis (x, y,
    then z, each axis taken where it keeps the cell allowed), so that cells slide along
    walls."""
    position = old.copy()
    for axis in range(3):
        trial = position.copy()
        trial[:, axis] = new[:, axis]
        fits = allowed_at(np, grid, labels, allowed, type_index, trial)
        position[:, axis] = np.where(fits, trial[:, axis], position[:, axis])
    blocked = ~allowed_at(np, grid, labels, allowed, type_index, new)
    return np.where(blocked[:, None], position, new)


def cut_moves_cuda(
    old: Any, new: Any, type_index: Any, labels: Any, allowed: Any, grid: Grid
) -> Any:
    """CUDA twin of :func:`cut_moves_numpy` (one launch)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    n = old.shape[0]
    check_array("old", old, cupy.float32, shape=(n, 3))
    check_array("new", new, cupy.float32, shape=(n, 3))
    check_array("type_index", type_index, cupy.int16, shape=(n,))
    check_array("labels", labels, cupy.uint8, shape=grid.shape_zyx)
    check_array("allowed", allowed, cupy.bool_, ndim=2)
    lo, spacing, _, hi = grid.constants(np)  # host copies of what Grid.contains compares
    nx, ny, nz = (np.int32(s) for s in grid.shape_xyz)
    out = cupy.empty((n, 3), dtype=cupy.float32)
    launch_1d(
        "cells.cu",
        "cut_moves",
        n,
        (old, new, type_index, labels, allowed, np.int32(allowed.shape[0]), *lo, *spacing, *hi,
         nx, ny, nz, out, np.int64(n)),
    )  # fmt: skip
    return out


def cut_moves(old: Any, new: Any, type_index: Any, labels: Any, allowed: Any, grid: Grid) -> Any:
    """The positions cells take (see cut_moves_numpy) on the arrays' backend."""
    run = cut_moves_cuda if on_device(old) else cut_moves_numpy
    return run(old, new, type_index, labels, allowed, grid)


# --- unit vectors ----------------------------------------------------------------------


def unit_rows_numpy(v: np.ndarray) -> np.ndarray:
    """(N, 3) float32: each row of ``v`` over its length; 0 where that is 0 (PhysiCell's
    ``normalize``)."""
    length = np.sqrt((v * v).sum(axis=1, keepdims=True))
    return np.where(length > 0, v / np.maximum(length, F32(1e-30)), F32(0))


def unit_rows_cuda(v: Any) -> Any:
    """CUDA twin of :func:`unit_rows_numpy` (one launch)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    v = cupy.ascontiguousarray(v)
    n = v.shape[0]
    check_array("v", v, cupy.float32, shape=(n, 3))
    out = cupy.empty_like(v)
    launch_1d("cells.cu", "unit_rows", n, (v, out, np.int64(n)))
    return out


def unit_rows(v: Any) -> Any:
    """Unit rows (see unit_rows_numpy) on the array's backend."""
    return (unit_rows_cuda if on_device(v) else unit_rows_numpy)(v)
