"""Inputs shared by the kernel parity tests (GPU and host-emulated)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tissue.kernels.diffusion import BARRIER, FIXED, DiffusionOperator


def diffusion_operator(xp: Any, seed: int) -> DiffusionOperator:
    """A random labelled grid (17 x 23 x 29) with a non-diffusing label, a fixed label, a
    barrier and Dirichlet faces on z-, y- and x+, on the backend ``xp``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, size=(17, 23, 29)).astype(np.uint8)
    diffusivity = np.zeros(256, np.float32)
    diffusivity[:5] = rng.uniform(10, 1e4, 5).astype(np.float32)
    diffusivity[2] = 0.0
    kind = np.zeros(256, np.uint8)
    kind[3], kind[4] = FIXED, BARRIER
    fixed = np.zeros(256, np.float32)
    fixed[3] = 2.5
    faces = np.array([1.0, np.nan, 0.5, np.nan, np.nan, 3.0], np.float32)
    inv = np.array([1 / 4.0, 1 / 9.0, 1 / 16.0], np.float32)
    return DiffusionOperator(xp.asarray(labels), xp.asarray(diffusivity), xp.asarray(kind),
                             xp.asarray(fixed), xp.asarray(faces), faces, 0.07, inv)  # fmt: skip


def multigrid_case(xp: Any, seed: int) -> tuple[Any, list[Any]]:
    """The hierarchy of two random operators (see :func:`diffusion_operator`) set for a step
    of 0.7 min, and random float32 vectors r, e, c, source, loss of its finest shape, on
    ``xp``."""
    from tissue.solver import Hierarchy

    hierarchy = Hierarchy([diffusion_operator(xp, seed), diffusion_operator(xp, seed + 1)])
    rng = np.random.default_rng(seed)
    shape = hierarchy.levels[0].shape
    uptake = rng.uniform(0, 3, shape).astype(np.float32)
    hierarchy.set_step(np.float32(0.7), xp.asarray(np.float32(1) + np.float32(0.7) * uptake))
    vectors = [xp.asarray(rng.normal(size=shape).astype(np.float32)) for _ in range(5)]
    return hierarchy, vectors


def contact_case(seed: int, n: int, box_um: float) -> dict[str, np.ndarray]:
    """Cells for the contact and target kernels: ``n`` cells uniform in a cube of ``box_um``,
    reaches 5-11 um, three types, a fifth dead, a tenth of the rows vacant (type -1, state 3)
    as a device's cell store has them. Keys: positions, reach, cell_type, state, occupied."""
    rng = np.random.default_rng(seed)
    case = {
        "positions": rng.uniform(0, box_um, size=(n, 3)).astype(np.float32),
        "reach": rng.uniform(5, 11, n).astype(np.float32),
        "cell_type": rng.integers(0, 3, n).astype(np.int16),
        "state": np.where(rng.random(n) < 0.2, 1, 0).astype(np.int8),
        "occupied": rng.random(n) < 0.9,
    }
    case["cell_type"][~case["occupied"]] = -1
    case["state"][~case["occupied"]] = 3
    return case


def deposit_case(
    seed: int, n_cells: int, n_voxels: int, columns: int, vacant_every: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(voxel (n_cells,) int64 with every ``vacant_every``-th row in voxel ``n_voxels``, as
    vacant rows are; values (n_cells, columns) float32; a starting field (n_voxels,) float32)
    for the deposit kernels."""
    rng = np.random.default_rng(seed)
    voxel = rng.integers(0, n_voxels, size=n_cells).astype(np.int64)
    voxel[::vacant_every] = n_voxels
    values = rng.normal(size=(n_cells, columns)).astype(np.float32)
    return voxel, values, rng.normal(size=n_voxels).astype(np.float32)
