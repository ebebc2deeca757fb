"""The model's random generator: explicit state (the seed) and named purposes.

Every draw is a pure function of (seed, step, cell id, purpose), so a run is
reproducible regardless of cell order, thread count or backend.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from tissue.kernels.random import philox_uniform


class Purpose(enum.IntEnum):
    """What a draw is for; each purpose has its own stream (16 bits of the counter). Model
    rules built on the engine number their purposes from 64 up."""

    MOTILITY = 1  # u0: re-draw direction?  u1, u2: random unit vector
    DIVISION = 2  # u0: divide?  u1, u2: division axis
    DEATH = 3  # u0: apoptosis?  u1: necrosis?
    PLACEMENT = 4  # initial cell positions
    TRANSITION = 5  # u0: change type?  u1: to which type
    ATTACK = 6  # u0: attach?  u1: which target  u2: kill?
    INTRAVASATION = 7  # u0: enter the blood?
    ARRIVAL = 8  # u0: which voxel  u1..u3: where in it (keyed by the new cell's id)
    RECRUITMENT = 9  # keyed by voxel index, block = recruitment entry; u0: recruit?  u1..u3


@dataclass(frozen=True)
class CellRandom:
    """Counter-based generator of a run.

    Attributes:
        seed: the run's seed, 0 <= seed < 2**64.
    """

    seed: int

    def uniform(self, ids: Any, step: int, purpose: int) -> Any:
        """(N, 4) float32 uniforms in (0, 1) for cells ``ids`` (int64, backend array)."""
        return philox_uniform(ids, step, int(purpose), self.seed)


def unit_vectors(xp: Any, u1: Any, u2: Any) -> Any:
    """Uniform random directions on the unit sphere from two uniforms: (N, 3) float32."""
    z = xp.float32(2.0) * u1 - xp.float32(1.0)
    phi = xp.float32(2.0 * 3.141592653589793) * u2
    r = xp.sqrt(xp.maximum(xp.float32(1.0) - z * z, xp.float32(0.0)))
    return xp.stack([r * xp.cos(phi), r * xp.sin(phi), z], axis=1).astype(xp.float32)
