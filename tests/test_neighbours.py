"""The cell grid and pair forces against an all-pairs computation in float64."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tissue.backend import Backend
from tissue.kernels.cells import build_cell_grid, pair_velocity, pair_velocity_numpy


def all_pairs(positions, radius, rep, adh, rng_factor, cell_type=None, affinity=None):
    """O(N^2) float64 reference: velocities and the number of acting pairs; with types and
    an affinity table, the adhesion of i and j is sqrt(adh_i f[t_i, t_j] adh_j f[t_j, t_i])."""
    p = positions.astype(np.float64)
    d = p[:, None, :] - p[None, :, :]
    dist = np.sqrt((d**2).sum(axis=2))
    r = radius.astype(np.float64)
    rr = r[:, None] + r[None, :]
    ra = rng_factor[:, None] * r[:, None] + rng_factor[None, :] * r[None, :]
    acting = (dist > 0) & ((dist < rr) | (dist < ra))
    with np.errstate(divide="ignore", invalid="ignore"):
        rep_term = np.where(dist < rr, np.sqrt(np.outer(rep, rep)) * (1 - dist / rr) ** 2, 0)
        strength = np.outer(adh, adh).astype(np.float64)
        if affinity is not None:
            f_ij = affinity.astype(np.float64)[cell_type[:, None], cell_type[None, :]]
            strength = strength * f_ij * f_ij.T
        adh_term = np.where(dist < ra, np.sqrt(strength) * (1 - dist / ra) ** 2, 0)
        f = np.where(acting, (rep_term - adh_term) / dist, 0)
    return (f[:, :, None] * d).sum(axis=1), int(acting.sum())


def random_cells(rng: np.random.Generator, n: int, box: float, clustered: bool):
    if clustered:  # many cells per bin, some coincident pairs
        positions = rng.normal(box / 2, box / 12, size=(n, 3))
        positions[: n // 10] = positions[n // 10 : 2 * (n // 10)]
    else:
        positions = rng.uniform(0, box, size=(n, 3))
    positions = np.clip(positions, 0, box * (1 - 1e-6)).astype(np.float32)
    radius = rng.uniform(4, 10, n).astype(np.float32)
    rep = rng.uniform(0, 20, n).astype(np.float32)
    adh = rng.uniform(0, 2, n).astype(np.float32)
    factor = rng.uniform(1.0, 1.5, n).astype(np.float32)
    return positions, radius, rep, adh, factor


def test_cell_grid_bins_every_cell() -> None:
    rng = np.random.default_rng(0)
    positions = rng.uniform(0, 100, size=(500, 3)).astype(np.float32)
    grid = build_cell_grid(np, positions, (0.0, 0.0, 0.0), (100.0, 100.0, 100.0), 21.0)
    assert grid.shape_zyx == (5, 5, 5)
    ijk = np.minimum((positions // 21).astype(int), 4)
    np.testing.assert_array_equal(grid.cell_bin, (ijk[:, 2] * 5 + ijk[:, 1]) * 5 + ijk[:, 0])
    for b in range(125):
        members = grid.order[grid.bin_start[b] : grid.bin_start[b + 1]]
        assert (grid.cell_bin[members] == b).all()
        assert (np.diff(members) > 0).all()  # stable: by index within a bin
    assert grid.bin_start[-1] == 500


@pytest.mark.parametrize("clustered", [False, True])
def test_pair_velocity_matches_all_pairs(backend: Backend, clustered: bool) -> None:
    rng = np.random.default_rng(3)
    positions, radius, rep, adh, factor = random_cells(rng, 700, 120.0, clustered)
    reach = float(max(2 * radius.max(), 2 * (factor * radius).max()))
    xp = backend.xp
    grid = build_cell_grid(xp, xp.asarray(positions), (0, 0, 0), (120.0, 120.0, 120.0), reach)
    velocity = backend.to_numpy(
        pair_velocity(*(xp.asarray(a) for a in (positions, radius, rep, adh, factor)), grid)
    )
    expected, n_pairs = all_pairs(positions, radius, rep, adh, factor)
    assert n_pairs > (700 if clustered else 50)
    np.testing.assert_allclose(velocity, expected, rtol=2e-4, atol=2e-4 * np.abs(expected).max())


def test_adhesion_affinities_scale_each_pair_by_both_types(backend: Backend) -> None:
    """Three types with affinities that differ by direction (PhysiCell's
    cell_adhesion_affinities): the grid's velocities equal the all-pairs reference in
    float64, the forces still sum to zero (the pair's adhesion is symmetric), and they
    differ from those without the table."""
    rng = np.random.default_rng(7)
    positions, radius, rep, adh, factor = random_cells(rng, 700, 120.0, clustered=True)
    cell_type = rng.integers(0, 3, 700).astype(np.int16)
    affinity = np.array([[1.0, 0.1, 3.0], [2.0, 0.0, 1.0], [0.5, 1.0, 4.0]], dtype=np.float32)
    reach = float(max(2 * radius.max(), 2 * (factor * radius).max()))
    xp = backend.xp
    grid = build_cell_grid(xp, xp.asarray(positions), (0, 0, 0), (120.0, 120.0, 120.0), reach)
    arrays = [xp.asarray(a) for a in (positions, radius, rep, adh, factor)]
    velocity = backend.to_numpy(
        pair_velocity(*arrays, grid, cell_type=xp.asarray(cell_type), affinity=xp.asarray(affinity))
    )
    expected, _ = all_pairs(positions, radius, rep, adh, factor, cell_type, affinity)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(velocity, expected, rtol=2e-4, atol=2e-4 * scale)
    np.testing.assert_allclose(velocity.sum(axis=0), 0.0, atol=2e-3 * scale * np.sqrt(700))
    plain, _ = all_pairs(positions, radius, rep, adh, factor)
    assert np.abs(plain - expected).max() > 0.1 * scale


@pytest.mark.parametrize("bin_um", [10.0, 13.0, 31.0])
def test_grid_neighbour_count_equals_all_pairs_count(bin_um: float) -> None:
    """Walking the 27 bins around each cell finds exactly the pairs closer than the reach
    that an all-pairs search finds, each once from each side."""
    rng = np.random.default_rng(5)
    n, box, reach = 500, 70.0, 10.0
    positions = rng.uniform(0, box, size=(n, 3)).astype(np.float32)
    grid = build_cell_grid(np, positions, (0, 0, 0), (box, box, box), bin_um)
    bz_n, by_n, bx_n = grid.shape_zyx
    found = 0
    for i in range(n):
        b = int(grid.cell_bin[i])
        bx, by, bz = b % bx_n, (b // bx_n) % by_n, b // (bx_n * by_n)
        for dz, dy, dx in np.ndindex(3, 3, 3):
            z, y, x = bz + dz - 1, by + dy - 1, bx + dx - 1
            if not (0 <= z < bz_n and 0 <= y < by_n and 0 <= x < bx_n):
                continue
            nb = (z * by_n + y) * bx_n + x
            for j in grid.order[grid.bin_start[nb] : grid.bin_start[nb + 1]]:
                if j != i and np.linalg.norm(positions[i] - positions[j]) < reach:
                    found += 1
    dist = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    expected = int(((dist < reach) & (dist > 0)).sum())
    assert expected > 200
    assert found == expected


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=60),
    box=st.floats(min_value=10.0, max_value=200.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    bin_scale=st.floats(min_value=1.0, max_value=4.0),
)
def test_pair_velocity_property(n: int, box: float, seed: int, bin_scale: float) -> None:
    """Any bin at least as wide as the reach gives the all-pairs result, and the forces
    of a closed system sum to zero (momentum conservation: f_ij = -f_ji)."""
    rng = np.random.default_rng(seed)
    positions, radius, rep, adh, factor = random_cells(rng, n, box, clustered=bool(seed % 2))
    reach = float(max(2 * radius.max(), 2 * (factor * radius).max())) if n else 1.0
    grid = build_cell_grid(np, positions, (0, 0, 0), (box, box, box), reach * bin_scale)
    velocity = pair_velocity_numpy(positions, radius, rep, adh, factor, grid)
    expected, _ = all_pairs(positions, radius, rep, adh, factor)
    scale = max(1e-3, float(np.abs(expected).max()) if n else 1.0)
    np.testing.assert_allclose(velocity, expected, atol=3e-4 * scale)
    if n:
        np.testing.assert_allclose(velocity.sum(axis=0), 0.0, atol=2e-3 * scale * np.sqrt(n))


@pytest.mark.parametrize("n", [0, 1, 300])
def test_contact_pairs_match_brute_force(n: int) -> None:
    """Touching pairs through the cell grid equal the O(N^2) count, for all cells and for a
    query subset."""
    from tissue.kernels.cells import build_cell_grid, contact_pairs

    rng = np.random.default_rng(n)
    positions = rng.uniform(0, 120, (n, 3)).astype(np.float32)
    reach = rng.uniform(4, 11, n).astype(np.float32)
    grid = build_cell_grid(np, positions, (0, 0, 0), (120, 120, 120), 22.0)
    distance = np.sqrt(((positions[:, None, :] - positions[None, :, :]) ** 2).sum(-1))
    touching = (distance < reach[:, None] + reach[None, :]) & ~np.eye(n, dtype=bool)
    for query in (None, np.arange(0, n, 3, dtype=np.int64)):
        i, j = contact_pairs(np, positions, reach, grid, query)
        expected = touching if query is None else touching & np.isin(np.arange(n), query)[:, None]
        assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == sorted(
            zip(*np.nonzero(expected), strict=True)
        )
