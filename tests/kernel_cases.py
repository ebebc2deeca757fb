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
