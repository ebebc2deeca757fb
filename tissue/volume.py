"""PhysiCell's volume model in closed form, per cell, as tissue's volume models use it: a
daughter's regrowth after division (:class:`~tissue.config.cells.DivisionVolume`) and an
apoptotic cell's shrinking (:class:`~tissue.config.cells.ApoptoticVolume`), from the types'
``grow_*`` and ``shrink_*`` parameters (:class:`tissue.organ.CellTypes`, indexed by a cell's
type ``t``)."""

from __future__ import annotations

from typing import Any

from tissue.grid import F32

VOLUME_PARAMS = (  # CellTypes key suffix -> the volume model's field
    ("fluid_fraction", "fluid_fraction"),
    ("nuclear_fraction", "nuclear_fraction"),
    ("fluid_rate", "fluid_change_rate_per_min"),
    ("cytoplasmic_rate", "cytoplasmic_biomass_change_rate_per_min"),
    ("nuclear_rate", "nuclear_biomass_change_rate_per_min"),
)


def regrown(xp: Any, p: dict[str, Any], t: Any, minutes: Any) -> Any:
    """(N,) float32 V / V0 of daughters ``minutes`` after their division by the types'
    :class:`~tissue.config.cells.DivisionVolume` (``grow_*`` params, indexed by ``t``)."""
    f, w_n = p["grow_fluid_fraction"][t], p["grow_nuclear_fraction"][t]
    r_f = p["grow_fluid_rate"][t]
    lam = r_f * (F32(1) - f)
    half = F32(0.5)
    out = F32(1) - half * f * xp.exp(-lam * minutes)
    for weight, rate in (
        (w_n, p["grow_nuclear_rate"][t]),
        (F32(1) - w_n, p["grow_cytoplasmic_rate"][t]),
    ):
        decay = xp.exp(-rate * minutes)
        out = out - half * (F32(1) - f) * weight * (
            decay + r_f * f * lag(xp, decay, lam - rate, minutes)
        )
    return out.astype(xp.float32)


def shrunk(xp: Any, p: dict[str, Any], t: Any, minutes: Any) -> tuple[Any, Any]:
    """(N,) float32 fluid and whole volume left, over the volume at death, of apoptotic cells
    ``minutes`` after it by their :class:`~tissue.config.cells.ApoptoticVolume`."""
    f, n = p["shrink_fluid_fraction"][t], p["shrink_nuclear_fraction"][t]
    fluid = f * xp.exp(-p["shrink_fluid_rate"][t] * minutes)
    solid = n * xp.exp(-p["shrink_nuclear_rate"][t] * minutes)
    solid = solid + (F32(1) - n) * xp.exp(-p["shrink_cytoplasmic_rate"][t] * minutes)
    return fluid, fluid + (F32(1) - f) * solid


def lag(xp: Any, decay: Any, gap: Any, minutes: Any) -> Any:
    """(e^(-r t) - e^(-lambda t)) / (lambda - r) from ``decay`` = e^(-r t) and ``gap`` =
    lambda - r (arrays of one shape, float32), t = ``minutes``; t e^(-r t) where the rates
    meet."""
    return decay * xp.where(
        gap != 0, -xp.expm1(-gap * minutes) / xp.where(gap != 0, gap, F32(1)), minutes
    )
