"""Voxel grids: where a point lies, which voxels neighbour which, and the float type of the
model's values.

Owns :class:`Grid` (shape, spacing and origin of an organ's voxels, and the maps between
positions in um and voxel indices), the 27-neighbourhood table every neighbour search walks,
and ``F32``, the dtype of fields, positions and per-cell rates. Positions are (x, y, z) in
um; arrays are indexed (z, y, x), C order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

F32 = np.float32  # fields, positions and per-cell rates
NEIGHBOUR_OFFSETS = np.array(
    [(dz, dy, dx) for dz in (-1, 0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
    dtype=np.int64,
)  # (27, 3) offsets (dz, dy, dx) of a box and its neighbours, z outer and x inner


@dataclass(frozen=True)
class Grid:
    """A regular grid of voxels; voxel (iz, iy, ix) is centred at origin + (i + 1/2) * spacing.

    Attributes:
        shape_zyx: array shape (nz, ny, nx).
        spacing_xyz_um: voxel edge lengths (dx, dy, dz) in um.
        origin_xyz_um: position of the grid's lower corner (x, y, z) in um.
        two_d: one voxel layer (nz = 1) whose cells live in its mid-plane
            (:attr:`plane_z_um`).
    """

    shape_zyx: tuple[int, int, int]
    spacing_xyz_um: tuple[float, float, float]
    origin_xyz_um: tuple[float, float, float] = (0.0, 0.0, 0.0)
    two_d: bool = False

    @property
    def plane_z_um(self) -> np.float32:
        """z of a 2-D grid's cells (um): the layer's mid-plane, origin_z + dz/2, in float32
        as positions hold it."""
        return F32(self.origin_xyz_um[2] + 0.5 * self.spacing_xyz_um[2])

    def on_plane(self, xp: Any, positions_um: Any) -> Any:
        """(N, 3) float32 ``positions_um`` with z set to :attr:`plane_z_um` in a 2-D grid (a
        copy); in a 3-D grid the positions themselves."""
        if not self.two_d:
            return positions_um
        out = xp.array(positions_um, dtype=xp.float32, copy=True)
        out[:, 2] = self.plane_z_um
        return out

    @property
    def n_voxels(self) -> int:
        nz, ny, nx = self.shape_zyx
        return nz * ny * nx

    @property
    def shape_xyz(self) -> tuple[int, int, int]:
        nz, ny, nx = self.shape_zyx
        return nx, ny, nz

    @property
    def voxel_volume_um3(self) -> float:
        dx, dy, dz = self.spacing_xyz_um
        return dx * dy * dz

    @property
    def extent_xyz_um(self) -> tuple[float, float, float]:
        return tuple(n * d for n, d in zip(self.shape_xyz, self.spacing_xyz_um, strict=True))  # type: ignore[return-value]

    def voxel_ijk(self, xp: Any, positions_um: Any) -> Any:
        """Voxel indices (N, 3) int64 as (ix, iy, iz) of positions (N, 3) float32 (x, y, z),
        clamped to the grid."""
        origin, spacing, upper, _ = self.constants(xp)
        ijk = xp.floor((positions_um - origin) / spacing).astype(xp.int64)
        return xp.minimum(xp.maximum(ijk, 0), upper)

    def flat_index(self, xp: Any, positions_um: Any) -> Any:
        """Flat C-order voxel index (N,) int64 of positions (N, 3) um."""
        ijk = self.voxel_ijk(xp, positions_um)
        _nz, ny, nx = self.shape_zyx
        return (ijk[:, 2] * ny + ijk[:, 1]) * nx + ijk[:, 0]

    def centres(self, xp: Any) -> tuple[Any, Any, Any]:
        """Voxel-centre coordinates (x, y, z) in um: float32 arrays broadcastable to the grid."""
        out = []
        for axis, (n, d, o) in enumerate(
            zip(self.shape_xyz, self.spacing_xyz_um, self.origin_xyz_um, strict=True)
        ):
            shape = [1, 1, 1]
            shape[2 - axis] = n
            out.append(((xp.arange(n, dtype=xp.float32) + 0.5) * d + o).reshape(shape))
        return out[0], out[1], out[2]

    def constants(self, xp: Any) -> tuple[Any, Any, Any, Any]:
        """The origin and spacing (3,) float32, last voxel index (3,) int64 and upper corner
        (3,) float32 (x, y, z) on backend ``xp``: copied to it once, not at every use."""
        return _constants(self, xp)

    def contains(self, xp: Any, positions_um: Any) -> Any:
        """(N,) bool: positions inside the grid's box."""
        lo, _, _, hi = self.constants(xp)
        return xp.all((positions_um >= lo) & (positions_um < hi), axis=1)

    def in_voxels(self, xp: Any, flat: Any, u: Any) -> Any:
        """(k, 3) float32 positions (x, y, z) inside voxels ``flat`` (k,) int64 at relative
        places ``u`` (k, 3) float32 in (0, 1), kept off the voxels' faces (on the plane of a
        2-D grid)."""
        _, ny, nx = self.shape_zyx
        ijk = xp.stack([flat % nx, (flat // nx) % ny, flat // (nx * ny)], axis=1)
        spacing = xp.asarray(self.spacing_xyz_um, dtype=xp.float64)
        origin = xp.asarray(self.origin_xyz_um, dtype=xp.float64)
        inside = F32(0.05) + F32(0.9) * u
        out = (origin + (ijk + inside.astype(xp.float64)) * spacing).astype(xp.float32)
        return self.on_plane(xp, out)

    def near(self, xp: Any, mask: Any, distance_um: float) -> Any:
        """(nz, ny, nx) bool: voxels whose centre is within ``distance_um`` of the centre of
        a voxel where ``mask`` (nz, ny, nx) bool is True."""
        near = mask.copy()
        spacing = self.spacing_xyz_um[::-1]  # z, y, x
        # offsets past the block's size reach nothing in it
        reach = [
            min(int(distance_um // s), n - 1) for s, n in zip(spacing, mask.shape, strict=True)
        ]
        offsets = [
            (dz, dy, dx)
            for dz in range(-reach[0], reach[0] + 1)
            for dy in range(-reach[1], reach[1] + 1)
            for dx in range(-reach[2], reach[2] + 1)
            if (dz * spacing[0]) ** 2 + (dy * spacing[1]) ** 2 + (dx * spacing[2]) ** 2
            <= distance_um**2
        ]
        for offset in offsets:
            if offset != (0, 0, 0):
                near |= shifted(xp, mask, offset)
        return near


def shifted(xp: Any, mask: Any, offset: tuple[int, int, int]) -> Any:
    """``mask`` moved by ``offset`` (z, y, x) voxels, False where it moved in from outside."""
    out = xp.zeros_like(mask)
    src, dst = [], []
    for o, n in zip(offset, mask.shape, strict=True):
        src.append(slice(max(0, -o), n - max(0, o)))
        dst.append(slice(max(0, o), n - max(0, -o)))
    out[tuple(dst)] = mask[tuple(src)]
    return out


@lru_cache(maxsize=64)
def _constants(grid: Grid, xp: Any) -> tuple[Any, Any, Any, Any]:
    """The grid's origin and spacing (3,) float32, last voxel index (3,) int64 and upper
    corner (3,) float32 (x, y, z) on backend ``xp``, copied to it once, not at every use."""
    origin = xp.asarray(grid.origin_xyz_um, dtype=xp.float32)
    spacing = xp.asarray(grid.spacing_xyz_um, dtype=xp.float32)
    upper = xp.asarray(grid.shape_xyz, dtype=xp.int64) - 1
    corner = origin + xp.asarray(grid.extent_xyz_um, dtype=xp.float32)
    return origin, spacing, upper, corner
