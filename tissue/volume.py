"""PhysiCell's volume model in closed form, per cell, as tissue's volume models use it: a
live cell's volume through its cycle and divisions (:class:`~tissue.config.cells.DivisionVolume`:
each cell's parts less its targets, advanced exactly once a phenotype step), an
apoptotic cell's shrinking (:class:`~tissue.config.cells.ApoptoticVolume`) and a necrotic
cell's swelling to rupture, then lysis (:class:`~tissue.config.cells.NecroticVolume`), from
the types' ``grow_*``, ``shrink_*`` and ``necro_*`` parameters (:class:`tissue.organ.CellTypes`,
indexed by a cell's type ``t``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tissue.cells import LIVE
from tissue.grid import F32

if TYPE_CHECKING:
    from tissue.cells import CellStore
    from tissue.config import Scenario
    from tissue.config.cells import CellTypeConfig

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
    """Some type's live cells follow a ``division_volume`` (cells carry its columns)."""
    return any(c.division_volume is not None for c in scenario.cell_types.values())


def grows(ctype: CellTypeConfig) -> bool:
    """The type's volume follows a ``division_volume`` and some phase of its cycle doubles
    the targets (it grows toward twice its volume)."""
    return ctype.division_volume is not None and any(p.grows for p in ctype.cycle_phases)


def regrowth_targets(xp: Any, p: dict[str, Any], t: Any) -> Any:
    """(N, 3) float32: the fluid, nuclear solid and cytoplasmic solid volumes a whole cell
    of each type holds, over its type's volume (its ``division_volume``'s targets)."""
    f, w_n = p["grow_fluid_fraction"][t], p["grow_nuclear_fraction"][t]
    solid = F32(1) - f
    return xp.stack([f, solid * w_n, solid * (F32(1) - w_n)], axis=-1).astype(xp.float32)


def regrown(xp: Any, p: dict[str, Any], t: Any, deviation: Any, minutes: Any) -> Any:
    """(N, 3) float32: the ``deviation`` of each cell's fluid, nuclear and cytoplasmic
    volumes from its targets ((N, 3), over its type's volume) ``minutes`` later, by the
    types' :class:`~tissue.config.cells.DivisionVolume` (``grow_*`` params, indexed by
    ``t``). The deviations obey a linear ODE whatever the targets: each solid's decays at
    its rate, d_x(t) = d_x e^(-r_x t), and the fluid's follows f of the total's at r_f, so

        d_F(t) = d_F e^(-lambda t) + r_f f sum_x d_x (e^(-r_x t) - e^(-lambda t)) / (lambda - r_x)

    with lambda = r_f (1 - f)."""
    f, r_f = p["grow_fluid_fraction"][t], p["grow_fluid_rate"][t]
    lam = r_f * (F32(1) - f)
    fluid = deviation[:, 0] * xp.exp(-lam * minutes)
    solids = []
    for k, rate in ((1, p["grow_nuclear_rate"][t]), (2, p["grow_cytoplasmic_rate"][t])):
        decay = xp.exp(-rate * minutes)
        fluid = fluid + r_f * f * deviation[:, k] * lag(xp, decay, lam - rate, minutes)
        solids.append(deviation[:, k] * decay)
    return xp.stack([fluid, *solids], axis=-1).astype(xp.float32)


def whole(xp: Any, deviation: Any, doubled: Any) -> Any:
    """(N,) float32 V / V0: the targets (1, or 2 while ``doubled``, (N,) int) plus the
    ``deviation`` ((N, 3)) of the parts from them."""
    scale = xp.exp2(doubled.astype(xp.float32))
    return (scale + deviation[:, 0] + deviation[:, 1] + deviation[:, 2]).astype(xp.float32)


def update_volumes(cells: CellStore, p: dict[str, Any], entering: Any | None, dt: Any) -> None:
    """Once a phenotype step, after the cycle (PhysiCell's order): the volume targets of
    cells ``entering`` ((N,) bool, or None) a phase that grows double (its entry function),
    then every live cell's volume relaxes over ``dt`` by its type's ``division_volume``
    (PhysiCell's volume update, solved exactly: :func:`regrown`); ``p``: the types'
    params (:class:`tissue.organ.CellTypes`)."""
    xp, t = cells.xp, cells.type
    regrowing = p["grow_fluid_fraction"][t] >= 0
    deviation = cells.volume_deviation
    if entering is not None:
        doubling = entering & regrowing
        targets = _targets(xp, p, t, cells.targets_doubled)
        deviation = xp.where(doubling[:, None], deviation - targets, deviation)
        cells.targets_doubled[...] = cells.targets_doubled + doubling.astype(xp.int8)
    relaxing = (regrowing & (cells.state == LIVE))[:, None]
    cells.volume_deviation[...] = xp.where(relaxing, regrown(xp, p, t, deviation, dt), deviation)


def halve_volumes(cells: CellStore, p: dict[str, Any], growing: Any, dividing: Any) -> None:
    """Before cells ``dividing`` ((N,) bool) split: PhysiCell halves every part of the
    volume and the targets. A type that does not grow (``growing``, (n_types,) bool: see
    :func:`grows`) first doubles the targets, as its cycle's entry function does when the
    daughters start it again (PhysiCell's live cycle: both grow back to the type's volume;
    PhysiCell doubles them before the step's growth, here after it: under 1% of the
    volume, for one step)."""
    xp, t = cells.xp, cells.type
    halving = dividing & (p["grow_fluid_fraction"][t] >= 0)
    again = halving & ~growing[t]  # the targets doubled again at once: unchanged
    targets = _targets(xp, p, t, cells.targets_doubled)
    deviation = cells.volume_deviation - xp.where(again[:, None], targets, F32(0))
    half = F32(0.5) * deviation
    cells.volume_deviation[...] = xp.where(halving[:, None], half, cells.volume_deviation)
    lower = (halving & ~again).astype(xp.int8)  # never below the type's targets (a cell
    # converted to a growing type restarts its cycle, so it enters the growing phase first)
    cells.targets_doubled[...] = xp.maximum(cells.targets_doubled - lower, 0).astype(xp.int8)


def _targets(xp: Any, p: dict[str, Any], t: Any, doubled: Any) -> Any:
    """(N, 3) float32: each cell's volume targets (:func:`regrowth_targets` times 2 to the
    power ``doubled``)."""
    scale = xp.exp2(doubled.astype(xp.float32))[:, None]
    return (regrowth_targets(xp, p, t) * scale).astype(xp.float32)


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
    most (twice it for a type with a cycle phase that ``grows``), but for a necrotic one
    swelling (to its relative rupture volume, :func:`peak_fraction`) and an eater holding
    what it ate: one meal of the largest dead cell of any type is allowed for (the engulfed
    volume relaxes between meals; :class:`tissue.runner.Runner` reports a run whose cells
    outgrew this)."""
    types = scenario.cell_types
    volume = {
        t: 4.0 / 3.0 * math.pi * c.radius_um**3 * (2.0 if grows(c) else 1.0)
        for t, c in types.items()
    }
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
