"""Placing cells: the initial cells of a scenario and cells added by interventions.

Entries are ``sphere`` (close packed, or ``count`` uniform in a ball or shell), ``random``
(exactly ``count`` in the voxels of a label a type may enter) and ``list`` (explicit
positions, each checked). Positions are drawn on the host from the run's generator, keyed by
the entry's placement stream, so every backend places the same cells.

In a 2-D organ every cell is placed on its plane z = origin_z + dz/2: a sphere fills the
disc (or ring) where its ball meets the plane, random cells take the plane's z in their
voxels, and listed positions, which must lie in the layer, are moved onto it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tissue.backend import to_numpy
from tissue.config import InitialDistribution, ListCells, RandomCells, Scenario, SphereCells
from tissue.config.initial import NORMAL
from tissue.errors import InputError
from tissue.grid import Grid
from tissue.organ import Organ
from tissue.rng import CellRandom, Purpose, unit_vectors
from tissue.signals import OWN


def place_cells(
    organs: Mapping[str, Organ],
    scenario: Scenario,
    entries: list[Any],
    key_prefix: str,
    stream: int,
    random: CellRandom,
) -> None:
    """Place initial-cells entries. Lists must lie in voxels the type may enter;
    random cells are drawn only from such voxels (exactly ``count`` of them); spheres
    leave out positions outside the organ or in voxels the type may not enter.

    Args:
        entries: InitialCells entries. key_prefix: their dotted key, for messages.
        stream: first placement stream (entry i draws from stream + i).
        random: the run's generator.
    """
    source = scenario.source
    type_index = {name: i for i, name in enumerate(scenario.cell_types)}
    for index, entry in enumerate(entries):
        entry_index = stream + index
        organ = organs[entry.organ]
        xp = organ.xp
        t = type_index[entry.type]
        key = f"{key_prefix}.{index}"
        allowed = to_numpy(organ.allowed[t])
        labels = to_numpy(organ.labels)
        if isinstance(entry, RandomCells):
            positions = _random_in_voxels(
                entry, entry_index, organ.grid, labels, organ.label_codes, allowed, random.seed
            )
            if positions.shape[0] < entry.count:
                where = f"label '{entry.label}'" if entry.label else "the organ"
                raise InputError(
                    source,
                    f"{key}.label",
                    f"no voxel of {where} that cell type '{entry.type}' may enter",
                )
        elif isinstance(entry, ListCells):
            positions = np.asarray(entry.positions_um, dtype=np.float32).reshape(-1, 3)
            _check_listed(positions, organ, labels, allowed, source, key)
            positions = organ.grid.on_plane(np, positions)
        elif organ.grid.two_d:
            radius = scenario.cell_types[entry.type].radius_um
            positions = _disc_positions(entry, entry_index, radius, random.seed,
                                        organ.grid.plane_z_um)  # fmt: skip
        else:
            radius = scenario.cell_types[entry.type].radius_um
            positions = _sphere_positions(entry, entry_index, radius, random.seed)
        kinds = xp.full(positions.shape[0], t, dtype=xp.int16)
        device_positions = xp.asarray(positions, dtype=xp.float32)
        ok = organ.allowed_positions(kinds, device_positions)
        values = dict(getattr(entry, "behaviours", {}))
        drawn = scenario.cell_types[entry.type].initial_distributions
        ids = np.arange(positions.shape[0], dtype=np.int64)
        for block, behaviour in enumerate(sorted(drawn)):
            u = random.uniform(ids, entry_index, Purpose.INITIAL_VALUE, block)[:, 0]
            values[behaviour] = initial_values(drawn[behaviour], u)
        own = {OWN + b: xp.asarray(v, dtype=xp.float32)[ok] for b, v in values.items()}
        organ.cells.settle()  # as add_cells does: the new cells are the rows from here
        before = organ.cells.n
        organ.add_cells(t, device_positions[ok], random, **own)
        for name, listed in getattr(entry, "attributes", {}).items():  # over the drawn values
            column = getattr(organ.cells, name)[before:]
            given = xp.asarray(listed, dtype=xp.float32)[ok]
            column[...] = xp.where(xp.isnan(given), column, given)


def initial_values(distribution: InitialDistribution, u: np.ndarray) -> np.ndarray:
    """(N,) float32 values of ``distribution`` from (N,) uniforms in (0, 1), by its
    inverse distribution function (a truncated normal's within its bounds: the same
    distribution as PhysiCell's redrawing outside them, from one uniform each)."""
    d = distribution
    u64 = u.astype(np.float64)
    if d.distribution in ("uniform", "log_uniform"):
        low, high = d.value_range()
        if d.distribution == "uniform":
            return (low + (high - low) * u64).astype(np.float32)
        low, high = math.log(low), math.log(high)
        return np.exp(low + (high - low) * u64).astype(np.float32)
    a, b = d.standard_bounds()
    mirrored = a > 0  # an interval above the mean is drawn as its mirror image (accuracy)
    if mirrored:
        a, b, u64 = -b, -a, 1.0 - u64
    low, high = NORMAL.cdf(a), NORMAL.cdf(b)
    inverse = np.vectorize(NORMAL.inv_cdf, otypes=[np.float64])
    z = inverse(np.clip(low + (high - low) * u64, math.ulp(0.0), 1.0 - 2**-53))
    z = np.clip(-z if mirrored else z, *d.standard_bounds())
    x = (d.mu or 0.0) + (d.sigma or 1.0) * z
    if d.distribution == "lognormal":
        x = np.exp(x)
    elif d.distribution == "log10_normal":
        x = 10.0**x
    return x.astype(np.float32)


def _placement_uniforms(seed: int, entry_index: int, count: int, block: int) -> np.ndarray:
    """(count, 4) float32 uniforms of placement entry ``entry_index`` (drawn on the host so
    that every backend places the same cells)."""
    ids = np.arange(count, dtype=np.int64)
    return CellRandom(seed).uniform(ids, entry_index, Purpose.PLACEMENT, block)


def _sphere_positions(entry: SphereCells, entry_index: int, radius_um: float, seed: int):
    """(N, 3) float32: close packed at one cell diameter, or ``count`` uniform in the ball."""
    centre = np.asarray(entry.center_um, dtype=np.float64)
    if entry.count is None:
        pack = _physicell_ball if entry.packing == "physicell" else _close_packed_ball
        points = pack(entry.radius_um, radius_um)
        points = points[(points**2).sum(axis=1) >= entry.inner_radius_um**2]
        return (points + centre).astype(np.float32)
    u = _placement_uniforms(seed, entry_index, entry.count, 0)
    direction = unit_vectors(np, u[:, 0], u[:, 1]).astype(np.float64)
    inner3 = entry.inner_radius_um**3
    r = np.cbrt(inner3 + (entry.radius_um**3 - inner3) * u[:, 2].astype(np.float64))
    return (centre + r[:, None] * direction).astype(np.float32)


def _disc_positions(
    entry: SphereCells, entry_index: int, radius_um: float, seed: int, plane_z_um: float
) -> np.ndarray:
    """(N, 3) float32 on the plane z = ``plane_z_um``, in the disc (a ring for a shell)
    where the entry's ball meets it: a hexagonal lattice at one cell diameter, PhysiCell's
    circle (``packing = "physicell"``), or ``count`` uniform in the disc; none when the ball
    does not reach the plane."""
    cx, cy, cz = entry.center_um
    height2 = (cz - float(plane_z_um)) ** 2
    outer2 = entry.radius_um**2 - height2
    if outer2 <= 0:
        return np.zeros((0, 3), dtype=np.float32)
    inner2 = max(entry.inner_radius_um**2 - height2, 0.0)
    if entry.count is None:
        pack = _physicell_disc if entry.packing == "physicell" else _hexagonal_disc
        points = pack(math.sqrt(outer2), radius_um)
        points = points[(points**2).sum(axis=1) >= inner2]
    else:
        u = _placement_uniforms(seed, entry_index, entry.count, 0).astype(np.float64)
        r = np.sqrt(inner2 + (outer2 - inner2) * u[:, 2])
        phi = 2.0 * math.pi * u[:, 1]
        points = np.stack([r * np.cos(phi), r * np.sin(phi), np.zeros_like(r)], axis=1)
    return (points + np.array([cx, cy, float(plane_z_um)])).astype(np.float32)


def _random_in_voxels(
    entry: RandomCells,
    entry_index: int,
    grid: Grid,
    labels: np.ndarray,
    label_codes: dict[str, int],
    allowed: np.ndarray,
    seed: int,
) -> np.ndarray:
    """``count`` positions (N, 3) float32, uniform within uniformly chosen voxels of the
    label (or any) that the type may enter (on the plane of a 2-D grid); empty if there is
    no such voxel."""
    flat = labels.reshape(-1)
    usable = allowed[flat]
    if entry.label is not None:
        usable &= flat == label_codes[entry.label]
    candidates = np.nonzero(usable)[0]
    if candidates.size == 0:
        return np.zeros((0, 3), dtype=np.float32)
    u0 = _placement_uniforms(seed, entry_index, entry.count, 0)
    u1 = _placement_uniforms(seed, entry_index, entry.count, 1)
    pick = candidates[
        np.minimum((u0[:, 0] * candidates.size).astype(np.int64), candidates.size - 1)
    ]
    _nz, ny, nx = grid.shape_zyx
    ijk = np.stack([pick % nx, (pick // nx) % ny, pick // (nx * ny)], axis=1)
    offset = np.stack([u0[:, 1], u0[:, 2], u1[:, 0]], axis=1).astype(np.float64)
    spacing = np.asarray(grid.spacing_xyz_um)
    origin = np.asarray(grid.origin_xyz_um)
    positions = (origin + (ijk + offset) * spacing).astype(np.float32)
    # rounding to float32 can land a point on its voxel's upper face: use the centre then
    strayed = np.any(grid.voxel_ijk(np, positions) != ijk, axis=1) | ~grid.contains(np, positions)
    positions[strayed] = (origin + (ijk[strayed] + 0.5) * spacing).astype(np.float32)
    return grid.on_plane(np, positions)


def _check_listed(
    positions: np.ndarray,
    organ: Organ,
    labels: np.ndarray,
    allowed: np.ndarray,
    source: str,
    key: str,
) -> None:
    """Listed positions must be inside the organ, in voxels the type may enter."""
    inside = organ.grid.contains(np, positions)
    if not inside.all():
        bad = positions[~inside][0].tolist()
        raise InputError(source, f"{key}.positions_um", f"{bad} is outside organ '{organ.name}'")
    label = labels.reshape(-1)[organ.grid.flat_index(np, positions)]
    refused = ~allowed[label]
    if refused.any():
        bad = positions[refused][0].tolist()
        names = {code: name for name, code in organ.label_codes.items()}
        raise InputError(
            source,
            f"{key}.positions_um",
            f"{bad} lies in label "
            f"'{names.get(int(label[refused][0]), '?')}', which this cell type "
            f"may not enter",
        )


def _physicell_ball(ball_radius: float, cell_radius: float) -> np.ndarray:
    """PhysiCell's sphere of cells (sample_projects/cancer_immune, 1.14.2,
    ``create_cell_sphere_positions``), point for point: a lattice r sqrt(3), 2r, r sqrt(3)
    apart in x, y, z, with x shifted r/2 on odd z rows and y shifted r on odd x columns (its
    column count runs on across z rows), kept strictly inside the ball. (N, 3), its order."""
    r, big = cell_radius, ball_radius
    points = []
    xc = zc = 0
    z = -big
    while z < big:
        x = -big
        while x < big:
            y = -big
            while y < big:
                p = (x + (zc % 2) * 0.5 * r, y + (xc % 2) * r, z)
                if math.sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) < big:
                    points.append(p)
                y += 2 * r
            x += r * math.sqrt(3)
            xc += 1
        z += r * math.sqrt(3)
        zc += 1
    return np.asarray(points, dtype=np.float64).reshape(-1, 3)


def _physicell_disc(disc_radius: float, cell_radius: float) -> np.ndarray:
    """PhysiCell's disc of cells in 2-D (``create_cell_circle_positions``, as in its
    sample_projects_intracellular/ode/ode_energy), point for point: columns r sqrt(3) apart
    in x from -R, rows r sqrt(3) apart in y from -R, shifted r on odd columns, z = 0, kept
    strictly inside the disc. (N, 3), its order."""
    r, big = cell_radius, disc_radius
    points = []
    xc = 0
    x = -big
    while x < big:
        y = -big
        while y < big:
            p = (x, y + (xc % 2) * r, 0.0)
            if math.sqrt(p[0] * p[0] + p[1] * p[1]) < big:
                points.append(p)
            y += r * math.sqrt(3)
        x += r * math.sqrt(3)
        xc += 1
    return np.asarray(points, dtype=np.float64).reshape(-1, 3)


def _hexagonal_disc(disc_radius: float, cell_radius: float) -> np.ndarray:
    """Hexagonal packing of discs of ``cell_radius`` centred in a disc in the plane z = 0
    (the middle layer of :func:`_close_packed_ball`), (N, 3)."""
    r = cell_radius
    n = math.ceil(disc_radius / r) + 2
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    x = (2 * i + j % 2) * r
    y = math.sqrt(3.0) * j * r
    points = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    points = points[(points**2).sum(axis=1) <= disc_radius**2]
    return points[np.lexsort((points[:, 0], points[:, 1]))]


def _close_packed_ball(ball_radius: float, cell_radius: float) -> np.ndarray:
    """Hexagonal close packing of spheres of ``cell_radius`` centred in a ball, (N, 3)."""
    r = cell_radius
    n = math.ceil(ball_radius / r) + 2
    i, j, k = np.meshgrid(*(np.arange(-n, n + 1),) * 3, indexing="ij")
    x = (2 * i + (j + k) % 2) * r
    y = math.sqrt(3.0) * (j + (k % 2) / 3.0) * r
    z = (2.0 * math.sqrt(6.0) / 3.0) * k * r
    points = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    keep = (points**2).sum(axis=1) <= ball_radius**2
    points = points[keep]
    order = np.lexsort((points[:, 0], points[:, 1], points[:, 2]))
    return points[order]
