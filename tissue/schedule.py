"""The clock of a run: the tick (the shortest process time step) and how many ticks lie
between runs of each process and each output.

A process due at tick k advances the interval [k, k + its step); random draws are keyed by
the tick at which their process runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tissue.config import Scenario


def ticks(value_min: float, base_min: float) -> int:
    """Whole number of base steps in ``value_min`` (validated to be whole)."""
    return max(1, round(value_min / base_min))


@dataclass(frozen=True)
class Schedule:
    """Ticks between runs of each process and the tick length (min)."""

    base_min: float
    diffusion: int
    mechanics: int
    phenotype: int
    output: int
    snapshot: int

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Schedule:
        s = scenario.time_steps
        base = min(s.diffusion_min, s.mechanics_min, s.phenotype_min)
        return cls(
            base_min=base,
            diffusion=ticks(s.diffusion_min, base),
            mechanics=ticks(s.mechanics_min, base),
            phenotype=ticks(s.phenotype_min, base),
            output=ticks(scenario.run.output_interval_min, base),
            snapshot=ticks(scenario.run.snapshot_interval_min, base),
        )

    def ticks_of_min(self, minutes: float) -> int:
        """Whole ticks in ``minutes`` (at least one)."""
        return ticks(minutes, self.base_min)

    def event_tick(self, day: float | None) -> float:
        """The tick at which an intervention time ``day`` acts: 0 for day 0, else the whole
        ticks in it (at least one); infinity for None (never)."""
        if day is None:
            return math.inf
        return self.ticks_of_min(day * 1440.0) if day > 0 else 0

    def ticks_of_days(self, days: float) -> int:
        """Ticks in ``days``, rounded (0 for 0 days)."""
        return round(days * 1440.0 / self.base_min)
