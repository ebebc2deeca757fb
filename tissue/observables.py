"""What a run reports: cell counts, field summaries, the metastasis census and the invasion
front of each organ, and the front history the front speed needs (owned and saved here).

Observables are read from the organs and never change them. The one thing remembered between
observations is each organ's front at the last output (time, radius, speed): the simulation
records it at every output tick (:meth:`Observables.record_front`), so the reported front
speed is the change over the last output interval whoever asks and however often.

- **Census**: tumour cells are linked when their centres are at most ``link_um`` apart;
  connected clusters are counted by size class (lower bounds, e.g. 1, 2, 10, 100, 1000
  cells: solitary cells, small clusters, micro- and macrometastases).
- **Front**: live tumour cells' volumes (4/3 pi r^3) are added to their voxels, divided by
  the voxel volume and smoothed by a Gaussian of one voxel (sigma); the front is the
  surface where this volume fraction equals ``level``. Its radius is that of the sphere of
  equal enclosed volume; its area is estimated from the voxel faces between inside and
  outside times 2/3 (the mean ratio of an isotropic surface's area to its voxel faces).
  In a 2-D organ the smoothing is in the plane, the front is a curve: its radius that of
  the disc of equal area, its area the curve's length (pi/4 of the voxel edges between
  inside and outside, the mean ratio for an isotropic curve) times the layer's thickness.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tissue.backend import to_numpy
from tissue.cells import LIVE, STATE_NAMES
from tissue.config import ObservablesConfig
from tissue.grid import NEIGHBOUR_OFFSETS
from tissue.kernels.cells import build_cell_grid, deposit
from tissue.organ import CellTypes, Organ
from tissue.state import SimulationState

FRONT_STATE = "observables/front"  # state path of the front history: (t, r, speed) per organ


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
    for dz, dy, dx in NEIGHBOUR_OFFSETS.tolist():
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
    two_d: bool = False,
) -> Any:
    """Smoothed volume fraction of the given cells on a grid: (nz, ny, nx) float32 on
    ``xp``. Each cell's volume is added to its voxel (sums in float64, in cell order, no
    atomics: the same bits on every run and backend) and smoothed by a Gaussian with sigma
    one voxel (zero outside the grid; in x and y only in a 2-D grid)."""
    nz, ny, nx = shape_zyx
    spacing = xp.asarray(spacing_xyz_um, dtype=xp.float64)
    ijk = xp.floor((positions_um.astype(xp.float64) - xp.asarray(origin_xyz_um)) / spacing)
    ijk = xp.clip(ijk.astype(xp.int64), 0, xp.asarray([nx - 1, ny - 1, nz - 1]))
    flat = (ijk[:, 2] * ny + ijk[:, 1]) * nx + ijk[:, 0]
    volume = 4.0 / 3.0 * math.pi * radius_um.astype(xp.float64) ** 3
    fraction = deposit(flat, volume[:, None], nx * ny * nz).reshape(nz, ny, nx)
    fraction /= float(np.prod(spacing_xyz_um))
    return gaussian(xp, fraction, 1.0, (1, 2) if two_d else (0, 1, 2)).astype(xp.float32)


def gaussian(xp: Any, values: Any, sigma: float, axes: tuple[int, ...] = (0, 1, 2)) -> Any:
    """Separable Gaussian smoothing of a 3-D array along ``axes``, sigma in voxels, zero
    padding."""
    radius = max(1, math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = values
    for axis in axes:
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
    xp: Any,
    fraction: Any,
    level: float,
    spacing_xyz_um: tuple[float, float, float],
    two_d: bool = False,
) -> dict[str, float]:
    """Radius (um, of the sphere of equal volume) and area (um^2, face-count estimate) of
    the region where ``fraction`` (nz, ny, nx) >= ``level``; in a 2-D grid, the radius of
    the disc of equal area and the front curve's length (edge-count estimate) times dz."""
    inside = fraction >= level
    dx, dy, dz = spacing_xyz_um
    if two_d:
        area = float(inside.sum()) * dx * dy
        edges = 0.0
        for axis, edge_length in ((1, dx), (2, dy)):  # y, x normals
            padded = xp.pad(inside, [(1, 1) if a == axis else (0, 0) for a in range(3)])
            edges += float((xp.diff(padded.astype(xp.int8), axis=axis) != 0).sum()) * edge_length
        return {
            "front_radius_um": math.sqrt(area / math.pi),
            "front_area_um2": math.pi / 4.0 * edges * dz,
        }
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


class Observables:
    """The observables of a run's organs, and the front history they remember.

    Args:
        config: the scenario's observables table. types: the run's cell types.
    """

    def __init__(self, config: ObservablesConfig, types: CellTypes) -> None:
        self.config = config
        self.types = types
        self.front_seen: dict[str, tuple[float, float, float]] = {}  # organ -> (t, r, speed)

    def measure(self, time_min: float, organs: Mapping[str, Organ]) -> dict[str, float]:
        """A flat dict: time, cell counts per organ/type/state, the RMS-equivalent radius of
        each type's live cells (um), their attributes' mean, sd, min and max
        (``organ.type.attribute.name.stat``), field summaries, and the tumour census and
        front."""
        out: dict[str, float] = {"time_min": time_min, "time_days": time_min / 1440}
        n_states = len(STATE_NAMES)
        n_types = len(self.types.names)
        for oname, organ in organs.items():
            cells = organ.cells
            cells.settle()  # outputs read the counts (the step loop leaves them on the device)
            xp = organ.xp
            out[f"{oname}.cells"] = float(cells.n)
            code = cells.type.astype(xp.int64) * n_states + cells.state.astype(xp.int64)
            counts = to_numpy(xp.bincount(code, minlength=max(1, n_types) * n_states))
            for t, tname in enumerate(self.types.names):
                for s, sname in STATE_NAMES.items():
                    out[f"{oname}.{tname}.{sname}"] = float(counts[t * n_states + s])
                out[f"{oname}.{tname}.radius_um"] = _equivalent_radius(organ, t)
            out.update(_attribute_summary(oname, organ, self.types.names))
            for fname in organ.fields.names:
                for stat, value in organ.fields.summary(fname).items():
                    out[f"{oname}.{fname}.{stat}"] = value
            out.update(self._tumour(time_min, oname, organ))
        return out

    def record_front(self, time_min: float, organs: Mapping[str, Organ]) -> None:
        """Remember each organ's front now (the simulation calls this at every output)."""
        if not self.config.tumour_types:
            return
        for oname, organ in organs.items():
            organ.cells.settle()
            radius = self._front(organ)[0]["front_radius_um"]
            speed = self._front_speed(oname, time_min, radius)
            if time_min != self.front_seen.get(oname, (math.nan,))[0]:
                self.front_seen[oname] = (time_min, radius, speed)

    def _tumour(self, time_min: float, oname: str, organ: Organ) -> dict[str, float]:
        """Census and invasion front of the live cells of ``observables.tumour_types``
        (see the module docstring); nothing when no tumour types are named."""
        if not self.config.tumour_types:
            return {}
        front, positions = self._front(organ)
        out = {
            f"{oname}.census.{name}": float(count)
            for name, count in census(
                to_numpy(positions), self.config.cluster_link_um, self.config.size_classes
            ).items()
        }
        front["front_speed_um_per_day"] = self._front_speed(
            oname, time_min, front["front_radius_um"]
        )
        out.update({f"{oname}.{key}": value for key, value in front.items()})
        return out

    def _front(self, organ: Organ) -> tuple[dict[str, float], Any]:
        """Front radius and area of the organ's live tumour cells, and their positions."""
        xp, cells = organ.xp, organ.cells
        codes = xp.asarray(self.types.index(self.config.tumour_types))
        chosen = xp.isin(cells.type, codes) & (cells.state == LIVE)
        positions = cells.position_um[chosen]
        radius = self.types.of("radius_um", cells.type[chosen])
        grid = organ.grid
        fraction = volume_fraction(xp, positions, radius, grid.shape_zyx, grid.spacing_xyz_um,
                                   grid.origin_xyz_um, grid.two_d)  # fmt: skip
        front = front_metrics(xp, fraction, self.config.front_level, grid.spacing_xyz_um,
                              grid.two_d)  # fmt: skip
        return front, positions

    def _front_speed(self, oname: str, time_min: float, radius_um: float) -> float:
        """Change of the front radius since the remembered front at an earlier time, in
        um/day (0 when none); at the remembered time, the speed remembered with it."""
        t_then, r_then, speed = self.front_seen.get(oname, (math.nan, math.nan, 0.0))
        if time_min > t_then and math.isfinite(r_then) and math.isfinite(radius_um):
            speed = (radius_um - r_then) / (time_min - t_then) * 1440.0
        return speed

    def save_state(self, state: SimulationState) -> None:
        """Add the front history to ``state``."""
        for oname, seen in self.front_seen.items():
            state.arrays[f"{FRONT_STATE}/{oname}"] = np.array(seen, dtype=np.float64)

    def restore_state(self, state: SimulationState) -> None:
        """Take the front history from ``state`` (none in a state saved before any output)."""
        for oname, value in state.under(FRONT_STATE).items():
            if value.shape == (3,):
                self.front_seen[oname] = tuple(float(v) for v in value)  # type: ignore[assignment]


def _equivalent_radius(organ: Organ, type_index: int) -> float:
    """Radius of the uniform ball with the live cells' RMS distance from their centroid:
    sqrt(5/3) * RMS; in a 2-D organ of the uniform disc, sqrt(2) * RMS (0 for fewer than
    two cells)."""
    xp, cells = organ.xp, organ.cells
    sel = (cells.type == type_index) & (cells.state == LIVE)
    n = int(sel.sum())
    if n < 2:
        return 0.0
    p = cells.position_um[sel].astype(xp.float64)
    rms = float(xp.sqrt(((p - p.mean(axis=0)) ** 2).sum(axis=1).mean()))
    return math.sqrt(2.0 if organ.grid.two_d else 5.0 / 3.0) * rms


def _attribute_summary(oname: str, organ: Organ, type_names: list[str]) -> dict[str, float]:
    """Mean, sd, min and max of each attribute over each declaring type's live cells (NaN
    when there are none)."""
    out: dict[str, float] = {}
    cells = organ.cells
    if not organ.attributes.specs:
        return out
    kinds, states = to_numpy(cells.type), to_numpy(cells.state)
    for name, specs in organ.attributes.specs.items():
        column = to_numpy(getattr(cells, name))
        for t in specs:
            values = column[(kinds == t) & (states == LIVE)].astype(np.float64)
            some = values.size > 0
            stats = {
                "mean": values.mean() if some else math.nan,
                "sd": values.std() if some else math.nan,
                "min": values.min() if some else math.nan,
                "max": values.max() if some else math.nan,
            }
            for stat, value in stats.items():
                out[f"{oname}.{type_names[t]}.attribute.{name}.{stat}"] = float(value)
    return out
