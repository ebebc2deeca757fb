"""The model's random numbers: one generator, explicit state (the seed) and named purposes.

Every draw is a pure function of (seed, step, key, purpose, block), so a run is reproducible
regardless of cell order, thread count or backend:

- :meth:`CellRandom.uniform`: four float32 uniforms per key (a cell id, a voxel index or a
  placement slot) from Philox4x32-10 on the keys' backend (NumPy or CUDA, the same bits);
- :meth:`CellRandom.host_stream`: a NumPy generator keyed by (seed, step, purpose), for the
  few draws made once per step on the host (the blood's binomial fates).

Nothing else in the package draws random numbers for the model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from tissue.kernels.random import philox_uniform


class Purpose(enum.IntEnum):
    """What a draw is for; each purpose has its own stream (16 bits of the counter). Model
    rules built on the engine number their purposes from 64 up."""

    MOTILITY = 1  # u0: re-draw direction?  u1, u2: random unit vector
    DIVISION = 2  # u0: divide?  u1, u2: division axis
    DEATH = 3  # u0: apoptosis?  u1: necrosis?
    PLACEMENT = 4  # initial cell positions (step = the placement entry's stream)
    TRANSITION = 5  # u0: change type?  u1: to which type
    GEOMETRY = 5  # seeds of generated tissue, keyed by the geometry's own seed (an alias)
    ATTACK = 6  # u0: attach?  u1: which target  u2: kill?
    INTRAVASATION = 7  # u0: enter the blood?
    ARRIVAL = 8  # u0: which voxel  u1..u3: where in it (keyed by the new cell's id)
    RECRUITMENT = 9  # keyed by voxel index, block = recruitment entry; u0: recruit?  u1..u3
    ATTRIBUTE = 10  # per-cell attributes; block = attribute; u0, u1: normal  u2: uniform
    PHAGOCYTOSIS = 11  # u0: eat?  u1: which kind of dead cell  u2: which of them
    DAMAGE_ATTACK = 12  # u0: start?  u1: which target  u2: end?
    INITIAL_VALUE = 13  # a placed cell's own behaviour values; block = behaviour; u0
    BLOOD = 0xB10D  # the host stream of the blood's fates


@dataclass(frozen=True)
class CellRandom:
    """Counter-based generator of a run.

    Attributes:
        seed: the run's seed, 0 <= seed < 2**64.
    """

    seed: int

    def uniform(self, keys: Any, step: int, purpose: int, block: int = 0) -> Any:
        """(N, 4) float32 uniforms in (0, 1) for ``keys`` ((N,) int64, NumPy or backend
        array; the result is on the same backend); ``block`` selects further fours."""
        return philox_uniform(keys, step, int(purpose), self.seed, block)

    def host_stream(self, step: int, purpose: int) -> np.random.Generator:
        """A NumPy generator keyed by (seed, step, purpose)."""
        return np.random.Generator(
            np.random.Philox(np.random.SeedSequence([self.seed, step, int(purpose)]))
        )


def unit_vectors(xp: Any, u1: Any, u2: Any) -> Any:
    """Uniform random directions on the unit sphere from two uniforms: (N, 3) float32."""
    z = xp.float32(2.0) * u1 - xp.float32(1.0)
    phi = xp.float32(2.0 * 3.141592653589793) * u2
    r = xp.sqrt(xp.maximum(xp.float32(1.0) - z * z, xp.float32(0.0)))
    return xp.stack([r * xp.cos(phi), r * xp.sin(phi), z], axis=1).astype(xp.float32)


def plane_vectors(xp: Any, u: Any) -> Any:
    """Uniform random directions in the plane z = 0 from one uniform, the angle 2 pi u:
    (N, 3) float32 (cos, sin, 0)."""
    phi = xp.float32(2.0 * 3.141592653589793) * u
    return xp.stack([xp.cos(phi), xp.sin(phi), xp.zeros_like(phi)], axis=1).astype(xp.float32)


def random_directions(xp: Any, u1: Any, u2: Any, two_d: bool) -> Any:
    """(N, 3) float32 uniform random directions from two uniforms: on the unit sphere
    (:func:`unit_vectors`), or in a 2-D organ's plane from ``u2`` (:func:`plane_vectors`)."""
    return plane_vectors(xp, u2) if two_d else unit_vectors(xp, u1, u2)
