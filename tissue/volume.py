"""PhysiCell's volume model in closed form, per cell, as tissue's volume models use it: a
daughter's regrowth after division (:class:`~tissue.config.cells.DivisionVolume`), an
apoptotic cell's shrinking (:class:`~tissue.config.cells.ApoptoticVolume`) and a necrotic
cell's swelling to rupture, then lysis (:class:`~tissue.config.cells.NecroticVolume`), from
the types' ``grow_*``, ``shrink_*`` and ``necro_*`` parameters (:class:`tissue.organ.CellTypes`,
indexed by a cell's type ``t``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tissue.grid import F32

if TYPE_CHECKING:
    from tissue.config import Scenario

VOLUME_PARAMS = (  # CellTypes key suffix -> the volume model's field
    ("fluid_fraction", "fluid_fraction"),
    ("nuclear_fraction", "nuclear_fraction"),
    ("fluid_rate", "fluid_change_rate_per_min"),
    ("cytoplasmic_rate", "cytoplasmic_biomass_change_rate_per_min"),
    ("nuclear_rate", "nuclear_biomass_change_rate_per_min"),
)


NECROTIC_KEYS = (  # necro_* params: the necrotic volume model's fields
    ("fluid_fraction", "fluid_fraction"),
    ("nuclear_fraction", "nuclear_fraction"),
    ("unlysed_rate", "unlysed_fluid_change_rate_per_min"),
    ("lysed_rate", "lysed_fluid_change_rate_per_min"),
    ("cytoplasmic_rate", "cytoplasmic_biomass_change_rate_per_min"),
    ("nuclear_rate", "nuclear_biomass_change_rate_per_min"),
)


def necrotic_params(models: list[Any]) -> dict[str, list[float]]:
    """Per type (a :class:`~tissue.config.cells.NecroticVolume` or None each): the model's
    fields (fraction -1 for a type without one) and ``rupture_min``, the time from death to
    the rupture (inf: never; 0 without a model; host float64 root of the swelling curve)."""
    out: dict[str, list[float]] = {key: [] for key, _ in NECROTIC_KEYS}
    out["rupture_min"] = []
    for model in models:
        for key, field in NECROTIC_KEYS:
            out[key].append(getattr(model, field) if model else (-1.0 if "fraction" in key else 0))
        out["rupture_min"].append(rupture_min(model) if model else 0.0)
    return out


def solids_of(f: Any, n: Any, r_n: Any, r_c: Any, t: Any, xp: Any = np) -> tuple[Any, Any]:
    """A necrotic cell's solids S(t) / V0 and their integral from 0 to t."""

    def lost(rate: Any) -> Any:  # (1 - e^(-r t)) / r, t where r is 0 (or too small to divide)
        some = rate > 1e-30
        return xp.where(some, -xp.expm1(-rate * t) / xp.where(some, rate, 1), t)

    solids = (1 - f) * (n * xp.exp(-r_n * t) + (1 - n) * xp.exp(-r_c * t))
    return solids, (1 - f) * (n * lost(r_n) + (1 - n) * lost(r_c))


def _swollen(model: Any, t: Any) -> Any:
    """V(t) / V0 of a :class:`~tissue.config.cells.NecroticVolume` swelling (no rupture),
    host float64."""
    solids, integral = solids_of(
        model.fluid_fraction, model.nuclear_fraction, model.nuclear_biomass_change_rate_per_min,
        model.cytoplasmic_biomass_change_rate_per_min, np.asarray(t, dtype=np.float64),
    )  # fmt: skip
    return model.fluid_fraction + model.unlysed_fluid_change_rate_per_min * integral + solids


SWELLING_MIN = np.concatenate([[0.0], np.geomspace(1e-3, 1e8, 4000)])  # where swelling is read


def rupture_min(model: Any) -> float:
    """Minutes from death to the rupture of a :class:`~tissue.config.cells.NecroticVolume`:
    the first t with V(t) / V0 >= its relative rupture volume (inf when it never comes)."""
    above = np.nonzero(_swollen(model, SWELLING_MIN) >= model.relative_rupture_volume)[0]
    if above.size == 0:
        return math.inf
    lo, hi = SWELLING_MIN[above[0] - 1], SWELLING_MIN[above[0]]
    for _ in range(80):  # bisection to double precision
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _swollen(model, mid) < model.relative_rupture_volume else (lo, mid)
    return float(hi)


def peak_fraction(model: Any) -> float:
    """The largest V / V0 a :class:`~tissue.config.cells.NecroticVolume` reaches: its
    relative rupture volume (the lysis after it only drains), else the most its swelling
    reaches in 1e8 min (at least 1, the volume at death)."""
    if math.isfinite(rupture_min(model)):
        return float(model.relative_rupture_volume)
    return max(1.0, float(np.max(_swollen(model, SWELLING_MIN))))


def necrotic_fraction(xp: Any, p: dict[str, Any], t: Any, minutes: Any) -> Any:
    """(N,) float32 V / V0 of necrotic cells ``minutes`` after death by the types'
    :class:`~tissue.config.cells.NecroticVolume` (``necro_*`` params, indexed by ``t``)."""
    f, n = p["necro_fluid_fraction"][t], p["necro_nuclear_fraction"][t]
    r_n, r_c = p["necro_nuclear_rate"][t], p["necro_cytoplasmic_rate"][t]
    rupture = p["necro_rupture_min"][t]
    solids, integral = solids_of(f, n, r_n, r_c, minutes, xp)
    swollen = f + p["necro_unlysed_rate"][t] * integral
    _, at_rupture = solids_of(f, n, r_n, r_c, xp.minimum(rupture, minutes), xp)
    fluid_at_rupture = f + p["necro_unlysed_rate"][t] * at_rupture
    since = xp.maximum(minutes - rupture, F32(0))  # 0 before the rupture (or without one)
    lysed = fluid_at_rupture * xp.exp(-p["necro_lysed_rate"][t] * since)
    return (xp.where(minutes < rupture, swollen, lysed) + solids).astype(xp.float32)


def regrows(scenario: Scenario) -> bool:
    """Some type's daughters start at half volume and grow back (a ``division_volume``)."""
    return any(c.division_volume is not None for c in scenario.cell_types.values())


def regrowth_targets(xp: Any, p: dict[str, Any], t: Any) -> Any:
    """(N, 3) float32: the fluid, nuclear solid and cytoplasmic solid volumes a whole cell
    of each type holds, over its type's volume (its ``division_volume``'s targets)."""
    f, w_n = p["grow_fluid_fraction"][t], p["grow_nuclear_fraction"][t]
    solid = F32(1) - f
    return xp.stack([f, solid * w_n, solid * (F32(1) - w_n)], axis=-1).astype(xp.float32)


def _propagators(xp: Any, p: dict[str, Any], t: Any, minutes: Any) -> tuple[Any, list[Any]]:
    """How a start's deviations from the targets carry ``minutes`` on: e^(-lambda t) for the
    fluid's, and for each solid's (nuclear, cytoplasmic) e^(-r_x t) and the fluid it draws,
    r_f f (e^(-r_x t) - e^(-lambda t)) / (lambda - r_x), lambda = r_f (1 - f)."""
    f, r_f = p["grow_fluid_fraction"][t], p["grow_fluid_rate"][t]
    lam = r_f * (F32(1) - f)
    solids = []
    for rate in (p["grow_nuclear_rate"][t], p["grow_cytoplasmic_rate"][t]):
        decay = xp.exp(-rate * minutes)
        solids.append((decay, r_f * f * lag(xp, decay, lam - rate, minutes)))
    return xp.exp(-lam * minutes), solids


def regrown(xp: Any, p: dict[str, Any], t: Any, minutes: Any, start: Any) -> Any:
    """(N,) float32 V / V0 of cells ``minutes`` after their division by the types'
    :class:`~tissue.config.cells.DivisionVolume` (``grow_*`` params, indexed by ``t``), from
    ``start`` ((N, 3) float32, :func:`division_start`): the deviations of their fluid,
    nuclear and cytoplasmic volumes from the targets then. Each solid relaxes at its rate,
    x(t) = x* + d_x e^(-r_x t), and the fluid toward f of the total, so

        V(t) / V0 = 1 + d_F e^(-lambda t) + sum_x d_x (e^(-r_x t) + r_f f lag_x(t))."""
    fluid, solids = _propagators(xp, p, t, minutes)
    out = F32(1) + start[:, 0] * fluid
    for k, (decay, drawn) in enumerate(solids, start=1):
        out = out + start[:, k] * (decay + drawn)
    return out.astype(xp.float32)


def division_start(xp: Any, p: dict[str, Any], t: Any, minutes: Any, start: Any) -> Any:
    """(N, 3) float32: the ``start`` (see :func:`regrown`) of the two cells a division makes
    ``minutes`` after the cell's own division, ``start`` then: PhysiCell halves every part
    of the volume, so each is half the parent's parts less the targets. A cell placed whole
    (``minutes`` < 0) is at its targets: its daughters start at minus half of them."""
    fluid, solids = _propagators(xp, p, t, xp.maximum(minutes, F32(0)))
    now = [start[:, 0] * fluid]
    for k, (decay, drawn) in enumerate(solids, start=1):
        now[0] = now[0] + start[:, k] * drawn
        now.append(start[:, k] * decay)
    deviation = xp.where((minutes >= 0)[:, None], xp.stack(now, axis=-1), F32(0))
    return (F32(0.5) * (deviation - regrowth_targets(xp, p, t))).astype(xp.float32)


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


def contact_reach(scenario: Scenario) -> list[float]:
    """Each type's longest reach (um): max(1, adhesion_range) times the radius of its
    largest cell, so that two cells interact only closer than the sum of their reaches and
    twice the longest bounds the contact search's bins. A cell's volume is its type's at
    most, but for a necrotic one swelling (to its relative rupture volume,
    :func:`peak_fraction`) and an eater holding what it ate: one meal of the largest dead
    cell of any type is allowed for (the engulfed volume relaxes between meals;
    :class:`tissue.runner.Runner` reports a run whose cells outgrew this)."""
    types = scenario.cell_types
    volume = {t: 4.0 / 3.0 * math.pi * c.radius_um**3 for t, c in types.items()}
    peak = {
        t: peak_fraction(c.necrotic_volume) if c.necrotic_volume else 1.0 for t, c in types.items()
    }
    meal = max((volume[t] * peak[t] for t in types), default=0.0)
    eaters = set(scenario.phagocytes())
    reach = []
    for name, c in types.items():
        largest = volume[name] * peak[name] + (meal if name in eaters else 0.0)
        reach.append(max(1.0, c.adhesion_range) * (3.0 * largest / (4.0 * math.pi)) ** (1 / 3))
    return reach
