"""Kernels over the cells touching each cell, each a NumPy reference and its CUDA twin
(gpu_kernels/cells.cu) that walk the cell grid's neighbour bins: an attacker's choice of
target, contact counts, and PhysiCell's simple pressure. Nothing is read back to the host."""

from __future__ import annotations

from typing import Any

import numpy as np

from tissue.kernels import on_device
from tissue.kernels.cells import CellGrid, contact_pairs


def choose_targets_numpy(
    positions: np.ndarray,
    reach: np.ndarray,
    score: np.ndarray,
    box: np.ndarray,
    ids: np.ndarray,
    free: np.ndarray,
    u: np.ndarray,
    grid: CellGrid,
    max_distance: np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One target for each free attacker: of the cells j != i with score > 0, touching it
    (:func:`contact_pairs` with ``reach``), at most ``max_distance`` um away and in the same
    search ``box``, the one of rank min(floor(u n), n - 1) in id order among its n.

    Args:
        positions: (N, 3) float32 um. reach: (N,) float32 contact reach (um).
        score: (N,) float32 (> 0: a possible target). box: (N,) int64 search box.
        ids: (N,) int64 cell ids. free: (N,) bool attackers looking for a target.
        u: (N,) float32 uniforms in (0, 1). grid: the cell grid of ``positions``.

    Returns:
        (N,) int64 row of each attacker's target (-1: none), (N,) float32 its distance
        (um, 0 where none) and (N,) float32 the number of cells it chose among (0 where
        none).
    """
    n = positions.shape[0]
    chosen = np.full(n, -1, dtype=np.int64)
    distance = np.zeros(n, dtype=np.float32)
    options = np.zeros(n, dtype=np.float32)
    i, j = contact_pairs(np, positions, reach, grid, np.nonzero(free)[0].astype(np.int64))
    gap = positions[j] - positions[i]
    d = np.sqrt((gap * gap).sum(axis=1))
    usable = (score[j] > 0) & (d <= max_distance) & (box[i] == box[j])
    i, j, d = i[usable], j[usable], d[usable]
    if i.shape[0] == 0:
        return chosen, distance, options
    order = np.lexsort(np.stack([ids[j], i]))
    i, j, d = i[order], j[order], d[order]
    attackers, start = np.unique(i, return_index=True)
    n_options = np.searchsorted(i, attackers, side="right") - start
    rank = (u[attackers] * n_options.astype(np.float32)).astype(np.int64)
    pick = start + np.minimum(rank, n_options - 1)
    chosen[attackers] = j[pick]
    distance[attackers] = d[pick]
    options[attackers] = n_options
    return chosen, distance, options


def _check_cell_arguments(positions: Any, grid: CellGrid, **columns: Any) -> None:
    """Refuse what a kernel walking the cell grid would misread: (N, 3) float32 positions,
    the grid's int32 arrays, and each (N,) column of its dtype (float32 unless named in
    ``_COLUMN_DTYPES``)."""
    import cupy

    from gpu_kernels.loader import check_array

    n = positions.shape[0]
    check_array("positions", positions, cupy.float32, shape=(n, 3))
    for name, array in {**columns, "cell_bin": grid.cell_bin, "order": grid.order}.items():
        check_array(name, array, _COLUMN_DTYPES.get(name, np.float32), shape=(n,))
    check_array("bin_start", grid.bin_start, cupy.int32, ndim=1)


_COLUMN_DTYPES = {
    "box": np.int64, "ids": np.int64, "cell_type": np.int16, "state": np.int8,
    "cell_bin": np.int32, "order": np.int32,
}  # fmt: skip


def choose_targets_cuda(
    positions: Any,
    reach: Any,
    score: Any,
    box: Any,
    ids: Any,
    free: Any,
    u: Any,
    grid: CellGrid,
    max_distance: np.float32,
) -> tuple[Any, Any, Any]:
    """CUDA twin of :func:`choose_targets_numpy` (gpu_kernels/cells.cu): one thread per
    cell, stepping through its candidates in id order; nothing read back to the host."""
    import cupy

    from gpu_kernels.loader import launch_1d

    n = positions.shape[0]
    _check_cell_arguments(positions, grid, reach=reach, score=score, box=box, ids=ids, u=u)
    chosen = cupy.empty(n, dtype=cupy.int64)
    distance = cupy.empty(n, dtype=cupy.float32)
    options = cupy.empty(n, dtype=cupy.float32)
    bz, by, bx = grid.shape_zyx
    launch_1d(
        "cells.cu",
        "choose_targets",
        n,
        (positions, reach, score, box, ids, free.astype(cupy.uint8), u, grid.cell_bin,
         grid.order, grid.bin_start, chosen, distance, options, np.int32(n), np.int32(bz),
         np.int32(by), np.int32(bx), np.float32(max_distance)),
    )  # fmt: skip
    return chosen, distance, options


def choose_targets(*args: Any) -> tuple[Any, Any, Any]:
    """Dispatch to the NumPy or CUDA target choice by the arrays' backend."""
    return (choose_targets_cuda if on_device(args[0]) else choose_targets_numpy)(*args)


def count_contacts_numpy(
    positions: np.ndarray,
    reach: np.ndarray,
    cell_type: np.ndarray,
    state: np.ndarray,
    query: np.int16,
    target: np.int16,
    grid: CellGrid,
    live_only: bool = True,
) -> np.ndarray:
    """(N,) float32: the cells of type ``target`` (live ones with ``live_only``, else in any
    state) touching each cell of type ``query`` (:func:`contact_pairs` with ``reach``), 0 for
    the other cells.

    Args:
        positions: (N, 3) float32 um. reach: (N,) float32 contact reach (um).
        cell_type: (N,) int16. state: (N,) int8 (0: live). grid: the cell grid of
            ``positions`` (vacant rows outside every bin).
    """
    n = positions.shape[0]
    rows = np.nonzero(cell_type == query)[0].astype(np.int64)
    rows = rows[grid.cell_bin[rows] < int(np.prod(grid.shape_zyx))]
    i, j = contact_pairs(np, positions, reach, grid, rows)
    hit = (cell_type[j] == target) & ((state[j] == 0) | (not live_only))
    return np.bincount(i[hit], minlength=n).astype(np.float32)


def count_contacts_cuda(
    positions: Any,
    reach: Any,
    cell_type: Any,
    state: Any,
    query: np.int16,
    target: np.int16,
    grid: CellGrid,
    live_only: bool = True,
) -> Any:
    """CUDA twin of :func:`count_contacts_numpy` (gpu_kernels/cells.cu): one thread per
    cell walking its neighbour runs; nothing read back to the host."""
    import cupy

    from gpu_kernels.loader import launch_1d

    n = positions.shape[0]
    _check_cell_arguments(positions, grid, reach=reach, cell_type=cell_type, state=state)
    out = cupy.empty(n, dtype=cupy.float32)
    bz, by, bx = grid.shape_zyx
    launch_1d(
        "cells.cu",
        "count_contacts",
        n,
        (positions, reach, cell_type, state, grid.cell_bin, grid.order, grid.bin_start, out,
         np.int32(n), np.int32(bz), np.int32(by), np.int32(bx), np.int32(query),
         np.int32(target), np.int32(live_only)),
    )  # fmt: skip
    return out


def count_contacts(*args: Any) -> Any:
    """Dispatch to the NumPy or CUDA contact count by the arrays' backend."""
    return (count_contacts_cuda if on_device(args[0]) else count_contacts_numpy)(*args)


PRESSURE_SCALE = 0.027288820670331  # PhysiCell's 12 (1 - sqrt(pi / (2 sqrt 3)))^2


def simple_pressure_numpy(positions: np.ndarray, radius: np.ndarray, grid: CellGrid) -> np.ndarray:
    """(N,) float32 PhysiCell's simple pressure: for each cell the sum over the other cells j
    closer than R = radius_i + radius_j of (1 - d/R)^2, over :data:`PRESSURE_SCALE` (twelve
    neighbours at close packing give 1); in float64, rounded once. Vacant rows get 0.

    Args:
        positions: (N, 3) float32 um. radius: (N,) float32 um. grid: the cell grid of
            ``positions`` (bins at least the longest radius_i + radius_j wide).
    """
    n = positions.shape[0]
    rows = np.nonzero(grid.cell_bin < int(np.prod(grid.shape_zyx)))[0].astype(np.int64)
    i, j = contact_pairs(np, positions, radius, grid, rows)
    gap = positions[i] - positions[j]
    d = np.sqrt((gap * gap).sum(axis=1))
    q = 1.0 - d.astype(np.float64) / (radius[i] + radius[j]).astype(np.float64)
    return (np.bincount(i, weights=q * q, minlength=n) / PRESSURE_SCALE).astype(np.float32)


def simple_pressure_cuda(positions: Any, radius: Any, grid: CellGrid) -> Any:
    """CUDA twin of :func:`simple_pressure_numpy` (gpu_kernels/cells.cu): one thread per
    cell walking its neighbour runs, summing in double; nothing read back to the host."""
    import cupy

    from gpu_kernels.loader import launch_1d

    n = positions.shape[0]
    _check_cell_arguments(positions, grid, radius=radius)
    out = cupy.empty(n, dtype=cupy.float32)
    bz, by, bx = grid.shape_zyx
    launch_1d(
        "cells.cu",
        "simple_pressure",
        n,
        (positions, radius, grid.cell_bin, grid.order, grid.bin_start, out, np.int32(n),
         np.int32(bz), np.int32(by), np.int32(bx)),
    )  # fmt: skip
    return out


def simple_pressure(*args: Any) -> Any:
    """Dispatch to the NumPy or CUDA simple pressure by the arrays' backend."""
    return (simple_pressure_cuda if on_device(args[0]) else simple_pressure_numpy)(*args)
