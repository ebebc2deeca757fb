"""Tumour observables: the metastasis census and the invasion front.

- **Census**: tumour cells are linked when their centres are at most ``link_um`` apart;
  connected clusters are counted by size class (lower bounds, e.g. 1, 2, 10, 100, 1000
  cells: solitary cells, small clusters, micro- and macrometastases).
- **Front**: live tumour cells' volumes (4/3 pi r^3) are added to their voxels, divided by
  the voxel volume and smoothed by a Gaussian of one voxel (sigma); the front is the
  surface where this volume fraction equals ``level``. Its radius is that of the sphere of
  equal enclosed volume; its area is estimated from the voxel faces between inside and
  outside times 2/3 (the mean ratio of an isotropic surface's area to its voxel faces).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from tissue.kernels.cells import build_cell_grid

_NEIGHBOUR_BINS = np.array(
    [(dz, dy, dx) for dz in (-1, 0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
    dtype=np.int64,
)


def cluster_labels(positions_um: np.ndarray, link_um: float) -> np.ndarray:
    """Cluster of each cell (N,) int64: the smallest index in its connected component, with
    cells linked when their centres are at most ``link_um`` apart. Host arrays."""
    n = positions_um.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    positions = positions_um.astype(np.float64)
    lo = positions.min(axis=0) - link_um
    extent = positions.max(axis=0) - lo + link_um
    grid = build_cell_grid(np, positions.astype(np.float32), tuple(lo), tuple(extent), link_um)
    bz, by, bx = grid.shape_zyx
    bins = grid.cell_bin.astype(np.int64)
    ijk = np.stack([bins % bx, (bins // bx) % by, bins // (bx * by)], axis=1)
    starts = grid.bin_start.astype(np.int64)
    order = grid.order.astype(np.int64)
    first, second = [], []
    for dz, dy, dx in _NEIGHBOUR_BINS.tolist():
        other = ijk + np.array([dx, dy, dz])
        inside = np.all((other >= 0) & (other < np.array([bx, by, bz])), axis=1)
        cells = np.nonzero(inside)[0]
        nb = (other[cells, 2] * by + other[cells, 1]) * bx + other[cells, 0]
        counts = starts[nb + 1] - starts[nb]
        i = np.repeat(cells, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        j = order[np.repeat(starts[nb], counts) + offsets]
        keep = (i < j) & (((positions[i] - positions[j]) ** 2).sum(axis=1) <= link_um**2)
        first.append(i[keep])
        second.append(j[keep])
    a, b = np.concatenate(first), np.concatenate(second)
    labels = np.arange(n, dtype=np.int64)
    while True:  # min-label propagation with pointer jumping
        smaller = np.minimum(labels[a], labels[b])
        updated = labels.copy()
        np.minimum.at(updated, a, smaller)
        np.minimum.at(updated, b, smaller)
        while True:
            jumped = updated[updated]
            if np.array_equal(jumped, updated):
                break
            updated = jumped
        if np.array_equal(updated, labels):
            return labels
        labels = updated


def census(positions_um: np.ndarray, link_um: float, size_classes: list[int]) -> dict[str, int]:
    """Number of clusters per size class, keyed by class: "1", "2-9", ..., "1000+"."""
    labels = cluster_labels(positions_um, link_um)
    sizes = np.unique(labels, return_counts=True)[1]
    out = {}
    bounds = [*size_classes, None]
    for lower, following in itertools.pairwise(bounds):
        if following is None:
            name, chosen = f"{lower}+", sizes >= lower
        else:
            upper = following - 1
            name = str(lower) if upper == lower else f"{lower}-{upper}"
            chosen = (sizes >= lower) & (sizes <= upper)
        out[name] = int(np.count_nonzero(chosen))
    return out


def volume_fraction(
    xp: Any,
    positions_um: Any,
    radius_um: Any,
    shape_zyx: tuple[int, int, int],
    spacing_xyz_um: tuple[float, float, float],
    origin_xyz_um: tuple[float, float, float],
) -> Any:
    """Smoothed volume fraction of the given cells on a grid: (nz, ny, nx) float32 on
    ``xp``. Each cell's volume is added to its voxel (sums in float64, in cell order) and
    smoothed by a Gaussian with sigma one voxel (zero outside the grid)."""
    nz, ny, nx = shape_zyx
    spacing = xp.asarray(spacing_xyz_um, dtype=xp.float64)
    ijk = xp.floor((positions_um.astype(xp.float64) - xp.asarray(origin_xyz_um)) / spacing)
    ijk = xp.clip(ijk.astype(xp.int64), 0, xp.asarray([nx - 1, ny - 1, nz - 1]))
    flat = (ijk[:, 2] * ny + ijk[:, 1]) * nx + ijk[:, 0]
    volume = 4.0 / 3.0 * math.pi * radius_um.astype(xp.float64) ** 3
    fraction = xp.bincount(flat, weights=volume, minlength=nx * ny * nz).reshape(nz, ny, nx)
    fraction = fraction.astype(xp.float64)  # bincount of no cells is int64
    fraction /= float(np.prod(spacing_xyz_um))
    return gaussian(xp, fraction, 1.0).astype(xp.float32)


def gaussian(xp: Any, values: Any, sigma: float) -> Any:
    """Separable Gaussian smoothing of a 3-D array, sigma in voxels, zero padding."""
    radius = max(1, math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = values
    for axis in range(3):
        padded = xp.pad(out, [(radius, radius) if a == axis else (0, 0) for a in range(3)])
        n = out.shape[axis]
        total = xp.zeros_like(out)
        for k, weight in enumerate(taps):
            index = [slice(None)] * 3
            index[axis] = slice(k, k + n)
            total += weight * padded[tuple(index)]
        out = total
    return out


def front_metrics(
    xp: Any, fraction: Any, level: float, spacing_xyz_um: tuple[float, float, float]
) -> dict[str, float]:
    """Radius (um, of the sphere of equal volume) and area (um^2, face-count estimate) of
    the region where ``fraction`` (nz, ny, nx) >= ``level``."""
    inside = fraction >= level
    dx, dy, dz = spacing_xyz_um
    volume = float(inside.sum()) * dx * dy * dz
    faces = 0.0
    for axis, face_area in ((0, dx * dy), (1, dx * dz), (2, dy * dz)):  # z, y, x normals
        padded = xp.pad(inside, [(1, 1) if a == axis else (0, 0) for a in range(3)])
        changes = xp.diff(padded.astype(xp.int8), axis=axis) != 0
        faces += float(changes.sum()) * face_area
    return {
        "front_radius_um": (3.0 * volume / (4.0 * math.pi)) ** (1.0 / 3.0),
        "front_area_um2": 2.0 / 3.0 * faces,
    }
