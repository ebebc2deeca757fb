"""Phagocytosis (PhysiCell 1.14's): live cells eat touching apoptotic and necrotic cells,
and live cells of the types they eat alive, in the mechanics steps
(:func:`phagocytosis_step`), and the volume they take in relaxes back in the phenotype steps
(:func:`relax_engulfed`).

A type eats when it has a phagocytosis rate above 0, a rule on one or cells placed with
their own (:meth:`~tissue.config.Scenario.phagocytes`); its rates are held behaviours
(``phagocytosis.apoptotic``, ``phagocytosis.necrotic``, ``phagocytosis.<type>``: set once a
phenotype step, read by the mechanics steps between). The eaten volume a cell holds beyond
its volume model's is in its ``engulfed_fluid_um3`` and ``engulfed_solid_um3`` columns,
which exist only where some type eats; :meth:`~tissue.organ.CellTypes.radius` (mechanics,
contacts, the ``volume`` signal) and the exchange volume count it, and division halves it
(:mod:`tissue.rules`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tissue.behaviours import held
from tissue.cells import APOPTOTIC, LIVE, NECROTIC, CellStore
from tissue.config.cells import DivisionVolume
from tissue.grid import F32
from tissue.kernels import stable_argsort
from tissue.kernels.contacts import choose_targets
from tissue.organ import CellTypes, Organ, cell_grid
from tissue.rng import CellRandom, Purpose
from tissue.signals import PHAGOCYTOSIS
from tissue.volume import lag, shrunk

EDIBLE = (APOPTOTIC, NECROTIC)  # the dead states eaten, in the order of PHAGOCYTOSIS's rates
BELOW_ONE = np.nextafter(F32(1), F32(0))  # the largest float32 probability below 1
FLUID_FRACTION = F32(DivisionVolume().fluid_fraction)  # PhysiCell's default cell's


def phagocytosis_step(
    organ: Organ, types: CellTypes, rng: CellRandom, step: int, dt_min: float
) -> None:
    """PhysiCell 1.14's phagocytosis (its standard cell-cell interactions) over one
    mechanics step.

    PhysiCell walks a live cell's neighbours (the cells closer than the sum of their
    adhesion reaches, tissue's contact) and eats the first one whose draw succeeds, with
    probability p = r dt for r its rate for the neighbour's kind (apoptotic, necrotic, or a
    live cell of type T, after rules): at most one a step. Here the neighbours are competing
    chances: with n_k touching cells of kind k, hazard h_k = -ln(1 - p_k) and W = sum_k n_k h_k, the
    cell eats one with probability 1 - exp(-W) = 1 - prod_k (1 - p_k)^n_k, exactly
    PhysiCell's chance of a success, of kind k with probability n_k h_k / W and uniformly
    among those (PhysiCell's first success in a neighbour order that depends on the
    layout; the two agree for p << 1). Where some p_k >= 1 it surely eats one of the cells
    of those kinds, uniformly. A cell chosen by several eaters goes to the one of lowest id
    (PhysiCell's cell order when serial); the others eat nothing this step (PhysiCell's
    walk stops at a neighbour already eaten). An eater won by an eater of lower id eats
    nothing this step, and nor does one eaten (PhysiCell's eaten cell is dead before its
    turn, and the order of its threads decides which comes first; here two cells that
    choose each other make the one of lower id eat the other, and what is eaten is what
    the eaters gain).

    The eaten cell is removed; its fluid and solid volume (:func:`volume_parts`) join the
    eater's engulfed fluid and solid, into its cytoplasm (``ingest_cell``). Every cell is
    computed and the eaters take the result (no host round trip).
    """
    xp, cells = organ.xp, organ.cells
    n = cells.n
    if n == 0 or not types.eats:
        return
    kinds = [*PHAGOCYTOSIS, *(f"phagocytosis.{types.names[t]}" for t in types.eaten)]
    rate = xp.stack([held(organ, types, b) for b in kinds], axis=1)  # (N, kinds)
    eater = (cells.state == LIVE) & (rate.max(axis=1) > 0)
    u = rng.uniform(cells.id, step, Purpose.PHAGOCYTOSIS)
    grid = cell_grid(organ, types)
    touch = types.of("adhesion_range", cells.type) * types.radius(cells)
    box = xp.zeros(n, dtype=xp.int64)
    pick = xp.ascontiguousarray(u[:, 2])
    # for each kind: one touching cell of it, uniformly, and how many there are
    candidates, counts = [], []
    scores = [cells.state == state for state in EDIBLE]
    scores += [(cells.state == LIVE) & (cells.type == t) for t in types.eaten]
    for edible in scores:
        score = edible.astype(xp.float32)
        found, _, options = choose_targets(
            cells.position_um, touch, score, box, cells.id, eater, pick, grid, F32(math.inf)
        )
        candidates.append(found)
        counts.append(options)
    count = xp.stack(counts, axis=1)  # (N, kinds)
    p = xp.minimum(rate * F32(dt_min), F32(1))
    sure = (p >= 1) & (count > 0)
    any_sure = sure.any(axis=1)
    # finite where p = 1 (those kinds count only through ``sure``)
    hazard = -xp.log1p(-xp.minimum(p, BELOW_ONE))
    weight = xp.where(any_sure[:, None], xp.where(sure, count, F32(0)), count * hazard)
    total = weight.sum(axis=1)
    eats = eater & (total > 0) & (any_sure | (u[:, 0] < -xp.expm1(-total)))
    # the kind: the first whose cumulative weight passes u1 W (one of weight 0 reached by
    # rounding, u1 W = W, falls back to the first)
    cumulative = xp.cumsum(weight, axis=1)
    kind = ((u[:, 1] * total)[:, None] >= cumulative[:, :-1]).sum(axis=1)
    kind = xp.where(weight[xp.arange(n), kind] > 0, kind, 0)
    chosen = xp.stack(candidates, axis=1)[xp.arange(n), kind]
    # a cell chosen twice goes to the eater of lowest id (first in array order)
    target = xp.where(eats & (chosen >= 0), chosen, n)
    order = stable_argsort(target)
    ordered = target[order]
    first = xp.concatenate([xp.ones(1, dtype=bool), ordered[1:] != ordered[:-1]])
    won = xp.zeros(n, dtype=bool)
    won[order] = first & (ordered < n)
    if types.eaten:  # eaters eaten (dead cells never eat): see the docstring
        rows = xp.arange(n, dtype=xp.int64)
        winner = xp.full(n + 1, n, dtype=xp.int64)  # the row that won each cell (n: none)
        winner[xp.where(won, chosen, n)] = rows  # one winner a cell (row n: any)
        won &= winner[:n] >= rows
        eaten = xp.zeros(n + 1, dtype=bool)
        eaten[xp.where(won, chosen, n)] = True
        won &= ~eaten[:n]
    row = xp.where(won, chosen, 0)
    fluid, solid = volume_parts(types, cells)
    cells.engulfed_fluid_um3[...] += xp.where(won, fluid[row], F32(0))
    cells.engulfed_solid_um3[...] += xp.where(won, solid[row], F32(0))
    organ.attributes.gain(cells, won, row)
    eaten = xp.zeros(n + 1, dtype=bool)
    eaten[xp.where(won, chosen, n)] = True
    cells.keep(~eaten[:n], recount=False)  # the phenotype step trims to the last count


def volume_parts(types: CellTypes, cells: CellStore) -> tuple[Any, Any]:
    """(N,) float32 fluid and (N,) float32 solid volume (um^3) of each cell: its volume
    model's volume, of which the fluid is its type's fluid fraction (its ``division_volume``'s,
    else its ``apoptotic_volume``'s, else PhysiCell's default 0.75; for an apoptotic cell that
    shrinks, what is left of that fraction, as its fluid drains faster than its solids), plus
    what it has engulfed."""
    xp, t, p = cells.xp, cells.type, types.params
    volume = F32(4.0 / 3.0 * math.pi) * p["radius_um"][t] ** 3 * types.volume_fraction(cells)
    grown, shrinks = p["grow_fluid_fraction"][t], p["shrink_fluid_fraction"][t]
    share = xp.where(grown >= 0, grown, xp.where(shrinks >= 0, shrinks, FLUID_FRACTION))
    if types.shrinks:
        drained, left = shrunk(xp, p, t, cells.state_time_min)
        shrinking = (cells.state == APOPTOTIC) & (shrinks >= 0)
        share = xp.where(shrinking, drained / xp.maximum(left, F32(1e-30)), share)
    fluid = volume * share
    return fluid + cells.engulfed_fluid_um3, volume - fluid + cells.engulfed_solid_um3


def relax_engulfed(organ: Organ, types: CellTypes, dt_min: float) -> None:
    """Once a phenotype step, where some type eats cells: each cell's engulfed volume
    (what it holds beyond its volume model's) relaxes over ``dt_min``. PhysiCell's volume
    model is linear, so the engulfed volume relaxes on its own: its solid (in the
    cytoplasm) as dS/dt = -r_c S and its fluid as dF/dt = r_f (f (F + S) - F), solved
    exactly over the step:

        S(t + dt) = S e^(-r_c dt)
        F(t + dt) = F e^(-lambda dt) + r_f f S (e^(-r_c dt) - e^(-lambda dt)) / (lambda - r_c)

    with lambda = r_f (1 - f) (and r_f f S dt e^(-r_c dt) where the rates meet). A live
    cell takes f, r_f and r_c (its fluid fraction, fluid change rate and cytoplasmic
    biomass change rate) from its type's ``division_volume``; an apoptotic cell of a type
    with an ``apoptotic_volume`` drains toward 0 at that model's fluid and cytoplasmic rates
    (f = 0), as PhysiCell's apoptotic cell does; other dead cells, and live ones of a type
    without a ``division_volume``, keep it (tissue's dead cells keep their volume)."""
    xp, cells = organ.xp, organ.cells
    if cells.n == 0 or not types.eats:
        return
    t, p = cells.type, types.params
    live = cells.state == LIVE
    shrinking = (cells.state == APOPTOTIC) & (p["shrink_fluid_fraction"][t] >= 0)

    def rate(grow: str, shrink: str) -> Any:
        return xp.where(live, p[grow][t], xp.where(shrinking, p[shrink][t], F32(0)))

    r_f = rate("grow_fluid_rate", "shrink_fluid_rate")
    r_c = rate("grow_cytoplasmic_rate", "shrink_cytoplasmic_rate")
    f = xp.where(live, xp.maximum(p["grow_fluid_fraction"][t], F32(0)), F32(0))
    lam = r_f * (F32(1) - f)
    dt = F32(dt_min)
    decay = xp.exp(-r_c * dt)
    solid = cells.engulfed_solid_um3
    fluid = cells.engulfed_fluid_um3
    fluid[...] = fluid * xp.exp(-lam * dt) + r_f * f * solid * lag(xp, decay, lam - r_c, dt)
    solid[...] = solid * decay
