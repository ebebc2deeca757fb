"""Limits on what a run may be asked for, shared by the command line and the Python API so
that both refuse the same values with the same one-line message (an :class:`InputError`
naming the option or argument, the value and what is allowed).

- durations: finite, > 0 and at most :data:`MAX_DAYS` (longer than any mouse or patient);
- intervals: whole multiples of the run's shortest time step;
- seeds and tick counts: integers (not floats, strings or booleans) in range;
- memory: a run whose arrays cannot fit the backend's memory is refused before anything is
  allocated (:func:`check_memory`), and a cell store refuses to grow past it.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from typing import Any

from tissue.errors import InputError

MAX_DAYS = 36_500.0  # 100 years of simulated time
MAX_SEED = 2**63

# Bytes the engine holds per voxel and per cell at its peak, measured with
# benchmarks/bench_memory.py (tracemalloc, 32^3 and 48^3 boxes; 2e4 motile cells): about
# 4 + 152 per field per voxel and 6,500 per cell at the peak of a mechanics step (its pair
# lists). Rounded up so that the estimate bounds what was measured (tests/test_limits.py).
BYTES_PER_VOXEL = 16
BYTES_PER_VOXEL_PER_FIELD = 176
BYTES_PER_CELL = 7_200
MIN_CELL_ROWS = 1_024  # a store never holds fewer rows (see tissue.cells)


def check_days(value: Any, name: str) -> float:
    """``value`` as simulated days: a finite number, 0 < days <= MAX_DAYS."""
    allowed = f"allowed: a number of days, 0 < days <= {MAX_DAYS:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(name, repr(value), allowed)
    days = float(value)
    if not (math.isfinite(days) and 0 < days <= MAX_DAYS):
        raise InputError(name, f"{days:g}", allowed)
    return days


def check_interval_min(value: Any, name: str, base_min: float) -> float:
    """``value`` as an interval in simulated minutes: a whole multiple (>= 1) of the run's
    shortest time step ``base_min``."""
    allowed = (
        f"allowed: a whole multiple of the shortest time step ({base_min:g} min), "
        f"at most {MAX_DAYS:g} days"
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(name, repr(value), allowed)
    minutes = float(value)
    if not (is_whole_multiple(minutes, base_min) and minutes <= MAX_DAYS * 1440):
        raise InputError(name, f"{minutes:g}", allowed)
    return minutes


def is_whole_multiple(value: float, base: float) -> bool:
    """Whether ``value`` is ``base`` times a whole number >= 1 (to 1e-9 relative)."""
    ratio = value / base if math.isfinite(value) else math.inf
    if not math.isfinite(ratio) or ratio > 2**53:
        return False
    return abs(ratio - round(ratio)) <= 1e-9 * max(1.0, ratio) and round(ratio) >= 1


def check_seed(value: Any, name: str) -> int:
    """``value`` as a seed: an integer (not a float, string or boolean), 0 <= seed < 2**63."""
    allowed = "allowed: an integer, 0 <= seed < 2**63"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(name, repr(value), allowed)
    if not 0 <= int(value) < MAX_SEED:
        raise InputError(name, str(int(value)), allowed)
    return int(value)


def check_count(value: Any, name: str) -> int:
    """``value`` as a number of ticks: an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise InputError(name, repr(value), "allowed: an integer >= 0")
    return int(value)


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs at its peak: per organ, fields and solver work (``voxels``) and
    cells at their initial capacity (``cells``)."""

    voxels: dict[str, int]
    cells: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.voxels.values()) + sum(self.cells.values())


def estimate_memory(scenario: Any, shapes: dict[str, tuple[int, int, int]]) -> MemoryEstimate:
    """The peak bytes of a run of ``scenario`` with organ grids of ``shapes`` (organ ->
    (nx, ny, nz)), before any array exists."""
    fields = len(scenario.fields)
    voxels = {
        name: math.prod(shape) * (BYTES_PER_VOXEL + BYTES_PER_VOXEL_PER_FIELD * fields)
        for name, shape in shapes.items()
    }
    cells = {
        name: max(MIN_CELL_ROWS, initial_cell_count(scenario, name)) * BYTES_PER_CELL
        for name in shapes
    }
    return MemoryEstimate(voxels, cells)


def initial_cell_count(scenario: Any, organ: str) -> int:
    """An upper estimate of the cells ``scenario`` places in ``organ`` at the start (a ball
    without a count holds close-packed cells: 74% of its volume over a cell's)."""
    total = 0
    for spec in scenario.initial_cells:
        if spec.organ != organ:
            continue
        count = getattr(spec, "count", None)
        if count is None and hasattr(spec, "positions_um"):
            count = len(spec.positions_um)
        if count is None:
            radius = scenario.cell_types[spec.type].radius_um
            count = math.ceil(0.75 * (spec.radius_um / radius) ** 3)
        total += int(count)
    return total


def available_bytes(backend: Any) -> tuple[int, str]:
    """Memory a run on ``backend`` may use, and what it is (for the message): the GPU's
    total memory, or the host's available memory (MemAvailable, else physical memory)."""
    if getattr(backend, "is_gpu", False):
        return int(backend.memory_bytes() or 0), f"the memory of {backend.device_name}"
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "the host's available memory"
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0, "unknown"
    return int(pages), "the host's physical memory"


def check_memory(scenario: Any, shapes: dict[str, tuple[int, int, int]], backend: Any) -> None:
    """Refuse a run whose estimated peak exceeds what ``backend`` has.

    Raises:
        InputError: naming the largest organ's shape, the estimate and the limit.
    """
    estimate = estimate_memory(scenario, shapes)
    limit, what = available_bytes(backend)
    if limit <= 0 or estimate.total <= limit:
        return
    name = max(estimate.voxels, key=lambda key: estimate.voxels[key])
    shape = list(shapes[name])
    raise InputError(
        scenario.source or "scenario",
        f"organs.{name}.shape",
        f"{shape} with {len(scenario.fields)} field(s) needs about "
        f"{_gib(estimate.total)} at its peak, more than {what} ({_gib(limit)}); allowed: "
        "a smaller grid (or a coarser spacing_um), or a machine with more memory",
    )


def check_cell_growth(organ: str, rows: int, backend: Any) -> None:
    """Refuse growing a cell store to ``rows`` rows when they cannot fit.

    Raises:
        InputError: the cells have outgrown the memory (a runaway division rate).
    """
    limit, what = available_bytes(backend)
    need = rows * BYTES_PER_CELL
    if limit > 0 and need > limit:
        raise InputError(
            f"organ {organ}",
            "cells",
            f"{rows:,} cells would need about {_gib(need)}, more than {what} "
            f"({_gib(limit)}); the population is growing without bound (check the cycle "
            "and death rates)",
        )


def _gib(count: int) -> str:
    return f"{count / 2**30:.3g} GiB"
