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
