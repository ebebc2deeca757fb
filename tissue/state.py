"""The record a checkpoint holds: everything needed to continue a run exactly.

A :class:`SimulationState` is plain data on the host (NumPy arrays and integers) with no link
to the objects it came from. Each part of a simulation writes its own entries into it and
restores itself from them (organs their labels, fields and cells; the body its blood and
ledger; the observables what they remember); ``tissue.io`` writes and reads it.

Array paths (all host arrays):

- ``organs/<organ>/labels``: (nz, ny, nx) uint8;
- ``organs/<organ>/fields/<field>``: (nz, ny, nx) float32;
- ``organs/<organ>/cells/<column>``: (n, ...) one row per cell (see ``tissue.cells``);
- ``circulation/species/<species>``: (1,) float64 systemic concentration;
- ``observables/front/<organ>``: (3,) float64 (time min, front radius um, speed um/day).

Counter groups (name -> int): ``organs/<organ>/cells`` (n, next_id, capacity) and
``circulation`` (ctc and the ledger's counters).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SimulationState:
    """A host copy of a run's complete state.

    Attributes:
        tick: ticks done. seed: the generator's key (draws are keyed by seed, tick, cell
        id and purpose, so these two are the generator's whole state).
        arrays: path -> host array (see the module docstring).
        counters: group path -> integers.
        time_min: simulated minutes at ``tick``.
    """

    tick: int
    seed: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    time_min: float = 0.0

    def under(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays whose path starts with ``prefix/``, keyed by the rest of the path."""
        start = f"{prefix}/"
        return {k[len(start) :]: v for k, v in self.arrays.items() if k.startswith(start)}

    def require(self, path: str) -> np.ndarray:
        """The array at ``path``.

        Raises:
            ValueError: there is none.
        """
        if path not in self.arrays:
            raise ValueError(f"missing '{path}'")
        return self.arrays[path]
