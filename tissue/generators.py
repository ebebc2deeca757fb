"""Seeded procedural tissue: lung alveoli as a Voronoi foam, breast stroma, fat, ducts, vessels.

Both tissues are built from one primitive, a **foam**: seeds on a jittered cubic lattice
(spacing ``a``, one seed per lattice cell, displaced by up to ``jitter * a / 2`` per axis)
split space into Voronoi cells. A voxel is

- a *wall* voxel when it lies within half a wall thickness of a face of its Voronoi cell
  (the bisector plane with another seed s_k, at distance (d_k^2 - d_1^2) / (2 |s_k - s_1|)
  from the voxel, d_1 being the distance to the nearest seed s_1; all 26 neighbouring
  lattice cells' seeds are tried);
- an *edge* voxel when it lies within half an edge width of two faces at once: the lines
  where three cells meet (capillaries in alveolar walls, and around adipocytes).

Everything is computed in int64 on a 1/16 um lattice (coordinates, squared distances and
the comparisons above, squared), so the CPU and the GPU give identical labels; seeds come
from Philox keyed by the geometry's own seed. Voxels are processed in z-slabs to bound
memory (27 candidate seeds per voxel).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tissue.config import BREAST_LABELS, LUNG_LABELS
from tissue.grid import NEIGHBOUR_OFFSETS, Grid
from tissue.rng import CellRandom, Purpose

UNITS_PER_UM = 16
SLAB_VOXELS = 1 << 20  # voxels per slab: 27 int64 candidates each, ~220 MB

INTERIOR, WALL, EDGE = 0, 1, 2


def _units(um: float) -> int:
    return round(um * UNITS_PER_UM)


def voxel_centres(grid: Grid) -> list[np.ndarray]:
    """Voxel-centre coordinates per axis (x, y, z) in lattice units (int64)."""
    return [
        np.round(((np.arange(n) + 0.5) * d + o) * UNITS_PER_UM).astype(np.int64)
        for n, d, o in zip(grid.shape_xyz, grid.spacing_xyz_um, grid.origin_xyz_um, strict=True)
    ]


class Foam:
    """Seeds of a jittered lattice covering ``grid`` with one cell of margin.

    Args:
        grid: the organ's grid.
        spacing_um: lattice spacing ``a`` (the mean cell diameter, roughly).
        jitter: displacement of seeds as a fraction of ``a`` (0: a cubic lattice).
        seed: the geometry's seed. stream: tells foams of one organ apart.
    """

    def __init__(
        self, grid: Grid, spacing_um: float, jitter: float, seed: int, stream: int = 0
    ) -> None:
        self.a = _units(spacing_um)
        lo = [_units(o) for o in grid.origin_xyz_um]
        hi = [_units(o + e) for o, e in zip(grid.origin_xyz_um, grid.extent_xyz_um, strict=True)]
        self.origin = np.array([lo[0] - self.a, lo[1] - self.a, lo[2] - self.a], dtype=np.int64)
        counts = [-(-(h - l) // self.a) + 2 for l, h in zip(lo, hi, strict=True)]  # noqa: E741
        nx, ny, nz = counts
        ids = np.arange(nx * ny * nz, dtype=np.int64)
        u = CellRandom(seed).uniform(ids, stream, Purpose.GEOMETRY)[:, :3].astype(np.float64)
        cz, cy, cx = np.unravel_index(ids, (nz, ny, nx))
        cell = np.stack([cx, cy, cz], axis=1).astype(np.float64)
        offset = 0.5 + jitter * (u - 0.5)
        self.seeds = (self.origin + np.round((cell + offset) * self.a).astype(np.int64)).reshape(
            nz, ny, nx, 3
        )

    def classify(self, xp: Any, grid: Grid, wall_um: float, edge_um: float) -> Any:
        """The class of each voxel (INTERIOR, WALL, EDGE): (nz, ny, nx) uint8 on ``xp``."""
        x, y, z = voxel_centres(grid)
        seeds = xp.asarray(self.seeds)
        cells = [xp.asarray((c - self.origin[axis]) // self.a) for axis, c in enumerate((x, y, z))]
        coords = [xp.asarray(c) for c in (x, y, z)]
        wall2 = _units(wall_um) ** 2
        edge2 = _units(edge_um) ** 2
        nz, ny, nx = grid.shape_zyx
        slab = max(1, SLAB_VOXELS // (ny * nx))
        classes = xp.zeros((nz, ny, nx), dtype=xp.uint8)
        offsets = xp.asarray(NEIGHBOUR_OFFSETS)
        for z0 in range(0, nz, slab):
            zs = slice(z0, min(nz, z0 + slab))
            point = (
                coords[0][None, None, :],
                coords[1][None, :, None],
                coords[2][zs][:, None, None],
            )
            cell = (cells[0][None, None, :], cells[1][None, :, None], cells[2][zs][:, None, None])

            def candidate(k: int, cell: Any = cell) -> Any:
                dz, dy, dx = NEIGHBOUR_OFFSETS[k].tolist()
                return seeds[cell[2] + dz, cell[1] + dy, cell[0] + dx]

            def distance2(s: Any, point: Any = point) -> Any:
                return sum((s[..., axis] - point[axis]) ** 2 for axis in range(3))

            # the nearest seed; keys d^2 * 32 + k are distinct, so ties cannot arise
            best = xp.stack([distance2(candidate(k)) * 32 + k for k in range(27)]).min(axis=0)
            d1, k1 = best // 32, best % 32
            off = offsets[k1]
            s1 = seeds[cell[2] + off[..., 0], cell[1] + off[..., 1], cell[0] + off[..., 2]]
            near_wall = xp.zeros(d1.shape, dtype=bool)
            near_edge = xp.zeros(d1.shape, dtype=xp.int8)
            for k in range(27):
                s = candidate(k)
                gap = ((s - s1) ** 2).sum(axis=-1)
                # distance to the bisector with seed k < w/2 <=> (d_k^2 - d_1^2)^2 < w^2 gap
                excess = (distance2(s) - d1) ** 2
                near_wall |= excess < wall2 * gap
                near_edge += excess < edge2 * gap
            classes[zs] = xp.where(
                near_edge >= 2, EDGE, xp.where(near_wall, WALL, INTERIOR)
            ).astype(xp.uint8)
        return classes


def lung_labels(xp: Any, grid: Grid, config: Any) -> Any:
    """Alveolar air spaces (Voronoi cells of ``alveolus_diameter_um``), septal walls of
    ``septum_thickness_um``, and capillaries of ``capillary_diameter_um`` along the lines
    where three alveoli meet; codes as :data:`LUNG_LABELS`. (nz, ny, nx) uint8."""
    foam = Foam(grid, config.alveolus_diameter_um, config.jitter, config.seed)
    # a wall at least one voxel thick lets no face-to-face step cross it (each step changes
    # the distance to a plane by at most one spacing): no air leaks between alveoli
    wall = max(config.septum_thickness_um, *grid.spacing_xyz_um)
    classes = foam.classify(xp, grid, wall, max(config.capillary_diameter_um, wall))
    table = xp.asarray(
        np.array([LUNG_LABELS["air"], LUNG_LABELS["septum"], LUNG_LABELS["capillary"]], np.uint8)
    )
    return table[classes]


def breast_labels(xp: Any, grid: Grid, config: Any) -> Any:
    """Ducts (lumen and epithelium) with fibroglandular stroma around them making up
    ``fibroglandular_fraction`` of the volume, microvessels through that stroma, and fat
    elsewhere: adipocytes (Voronoi cells of ``adipocyte_diameter_um``) with thin stroma and
    capillaries between them. Codes as :data:`BREAST_LABELS`. (nz, ny, nx) uint8."""
    labels = xp.full(grid.shape_zyx, BREAST_LABELS["stroma"], dtype=xp.uint8)
    duct2, lumen2, outer2 = _duct_distances(xp, grid, config)
    # fibroglandular region: the voxels nearest the ducts, as many as the fraction asks
    count = round(config.fibroglandular_fraction * grid.n_voxels)
    if count > 0:
        threshold = xp.sort(duct2.reshape(-1))[min(count, grid.n_voxels) - 1]
        glandular = duct2 <= threshold
    else:
        glandular = xp.zeros(grid.shape_zyx, dtype=bool)
    fat = Foam(grid, config.adipocyte_diameter_um, config.jitter, config.seed, stream=1)
    fat_class = fat.classify(xp, grid, config.fat_septum_um, config.vessel_diameter_um)
    vessels = Foam(grid, config.vessel_spacing_um, config.jitter, config.seed, stream=2)
    vessel_class = vessels.classify(xp, grid, config.vessel_diameter_um,
                                       config.vessel_diameter_um)  # fmt: skip
    adipose = ~glandular
    labels[adipose & (fat_class == INTERIOR)] = BREAST_LABELS["adipocyte"]
    labels[adipose & (fat_class == EDGE)] = BREAST_LABELS["vessel"]
    labels[glandular & (vessel_class == EDGE)] = BREAST_LABELS["vessel"]
    labels[duct2 < outer2] = BREAST_LABELS["epithelium"]
    labels[duct2 < lumen2] = BREAST_LABELS["lumen"]
    return labels


def _duct_distances(xp: Any, grid: Grid, config: Any) -> tuple[Any, int, int]:
    """Squared distance (lattice units, int64) of each voxel to the nearest duct axis, and
    the squared lumen and outer (lumen + epithelium) radii. Ducts are straight lines through
    seeded points of the block's middle half, in seeded directions."""
    x, y, z = (xp.asarray(c) for c in voxel_centres(grid))
    n = config.duct_count
    ids = np.arange(max(n, 1), dtype=np.int64)
    u = CellRandom(config.seed).uniform(ids, 3, Purpose.GEOMETRY).astype(np.float64)
    lo = np.array(grid.origin_xyz_um)
    extent = np.array(grid.extent_xyz_um)
    best = xp.full(grid.shape_zyx, np.iinfo(np.int64).max, dtype=xp.int64)
    for i in range(n):
        point = np.round((lo + extent * (0.25 + 0.5 * u[i, :3])) * UNITS_PER_UM).astype(np.int64)
        # a direction within 45 degrees of z: ducts run along the block
        theta = math.acos(1.0 - (1.0 - math.cos(math.pi / 4)) * float(u[i, 3]))
        phi = 2.0 * math.pi * float(u[(i + 1) % len(u), 3])
        direction = np.round(
            1000 * np.array([math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi),
                             math.cos(theta)])
        ).astype(np.int64)  # fmt: skip
        dx = x[None, None, :] - int(point[0])
        dy = y[None, :, None] - int(point[1])
        dz = z[:, None, None] - int(point[2])
        a, b, c = (int(v) for v in direction)
        cross2 = (dy * c - dz * b) ** 2 + (dz * a - dx * c) ** 2 + (dx * b - dy * a) ** 2
        # |cross|^2 / |d|^2 with |d|^2 ~ 1e6: divide, rounding down, in integers
        best = xp.minimum(best, cross2 // int(a * a + b * b + c * c))
    lumen = _units(config.duct_lumen_radius_um)
    outer = _units(config.duct_lumen_radius_um + config.epithelium_thickness_um)
    return best, lumen * lumen, outer * outer
