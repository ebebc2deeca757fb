"""Initial distributions of behaviours: each placed cell's own value of a behaviour, drawn
once (PhysiCell's initial parameter distributions); :func:`tissue.placement.initial_values`
draws them."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import ClassVar, Literal, Self

from pydantic import model_validator

from tissue.config.base import Finite, Model, Positive, require

NORMAL = NormalDist()


class InitialDistribution(Model):
    """Each placed cell's own value of a behaviour, drawn when it is placed (PhysiCell's
    initial parameter distributions; daughters keep it): ``uniform`` from ``low`` to
    ``high``; ``log_uniform`` the same in log (low > 0); ``normal`` with mean ``mu`` and sd
    ``sigma`` of the value, ``lognormal`` of its natural log, ``log10_normal`` of its
    log10, each truncated to the open interval (``lower``, ``upper``) of values where given
    (PhysiCell redraws outside it; a lognormal's lower bound is at least 0).
    """

    distribution: Literal["uniform", "log_uniform", "normal", "lognormal", "log10_normal"]
    low: Finite | None = None
    high: Finite | None = None
    mu: Finite | None = None
    sigma: Positive | None = None
    lower: Finite | None = None
    upper: Finite | None = None

    NEEDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "uniform": ("low", "high"),
        "log_uniform": ("low", "high"),
        "normal": ("mu", "sigma"),
        "lognormal": ("mu", "sigma"),
        "log10_normal": ("mu", "sigma"),
    }
    SMALLEST_MASS: ClassVar[float] = 1e-12  # of the untruncated distribution in (lower, upper)

    @model_validator(mode="after")
    def check_parameters(self) -> Self:
        """The distribution has its parameters and no others; ranges run upward; the
        truncation keeps some of the distribution."""
        needed = self.NEEDS[self.distribution]
        bounded = needed == ("mu", "sigma")
        takes = needed + (("lower", "upper") if bounded else ())
        for name in ("low", "high", "mu", "sigma", "lower", "upper"):
            given = getattr(self, name) is not None
            require(given or name not in needed, name,
                    f"required for a {self.distribution} distribution")  # fmt: skip
            require(not given or name in takes, name,
                    f"not used by a {self.distribution} distribution (it takes "
                    f"{', '.join(takes)})")  # fmt: skip
        if not bounded:
            require(self.low <= self.high, "high", "must be >= low")  # type: ignore[operator]
            require(self.distribution == "uniform" or self.low > 0, "low",  # type: ignore[operator]
                    "must be > 0 (log_uniform)")  # fmt: skip
            return self
        logged = self.distribution != "normal"
        require(
            not logged or self.lower is None or self.lower >= 0,
            "lower",
            f"must be >= 0: it bounds the value, not its log ({self.distribution})",
        )
        lower, upper = self.bounds()
        require(lower < upper, "upper", "must be > lower")
        mass = self.mass()
        require(mass >= self.SMALLEST_MASS, "upper",
                f"(lower, upper) holds {mass:.3g} of the distribution: too little to draw "
                f"from (at least {self.SMALLEST_MASS:g})")  # fmt: skip
        return self

    def nonnegative(self) -> bool:
        """Whether every value it draws is >= 0."""
        return self.value_range()[0] >= 0

    def value_range(self) -> tuple[float, float]:
        """The values it may draw: ``low`` to ``high``, or the truncation's bounds."""
        if self.NEEDS[self.distribution] == ("low", "high"):
            return float(self.low or 0.0), float(self.high or 0.0)  # given (checked)
        return self.bounds()

    def bounds(self) -> tuple[float, float]:
        """The truncation's (lower, upper) values (open; -inf/inf, or 0 for a log's lower,
        where not given)."""
        floor = -math.inf if self.distribution == "normal" else 0.0
        lower = floor if self.lower is None else self.lower
        return lower, math.inf if self.upper is None else self.upper

    def standard_bounds(self) -> tuple[float, float]:
        """The bounds as standard normal quantiles ((bound - mu) / sigma on the scale the
        normal lives on: the value, its ln or its log10)."""
        mu, sigma = self.mu or 0.0, self.sigma or 1.0
        log = {"normal": None, "lognormal": math.log, "log10_normal": math.log10}
        to = log.get(self.distribution)

        def z(v: float) -> float:
            if to is not None:
                v = -math.inf if v <= 0 else (v if math.isinf(v) else to(v))
            return (v - mu) / sigma

        lower, upper = self.bounds()
        return z(lower), z(upper)

    def mass(self) -> float:
        """The untruncated distribution's probability in (lower, upper) (from whichever
        tail keeps it accurate)."""
        a, b = self.standard_bounds()
        if a > 0:  # the interval lies above the mean: its mirror image is as likely
            a, b = -b, -a
        return NORMAL.cdf(b) - NORMAL.cdf(a)
