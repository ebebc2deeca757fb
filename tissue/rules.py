"""Cell rules, written once against the backend's array module.

Order within a step of each process (documented, fixed):
- mechanics (dt_m): motility direction update -> pair velocities -> move, confined to
  labels the type may enter and to the organ's box; attached cells do not migrate;
- phenotype (dt_p): attack (attach, kill, let go) -> death (apoptosis, then necrosis) ->
  clearance of dead cells -> type transitions -> division of live cells;
- exchange (each diffusion step): secretion and uptake of live cells into their voxels.

Rates and secretion factors pass through ``behave(behaviour, base)``, which applies the
scenario's rules (see :mod:`tissue.behaviours`); without rules it returns ``base``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tissue.backend import to_numpy
from tissue.behaviours import Behave, unchanged
from tissue.cells import APOPTOTIC, LIVE, NECROTIC
from tissue.grid import F32
from tissue.kernels.cells import build_cell_grid, deposit, pair_velocity
from tissue.organ import CellTypes, Contacts, Organ
from tissue.rng import CellRandom, Purpose, unit_vectors

# --- mechanics -----------------------------------------------------------------------


def update_motility(
    organ: Organ,
    types: CellTypes,
    rng: CellRandom,
    step: int,
    dt_min: float,
    block_factor: Callable[[str], float] | None = None,
) -> None:
    """PhysiCell's persistent biased random walk: with probability 1 - exp(-dt/P) a motile
    cell draws direction = normalise(b * grad/|grad| + (1 - b) * random unit vector).

    ``block_factor(field)`` (default 1) scales b: a neutralised attractant guides less.
    Attached cells keep their direction (they do not migrate, see :func:`move_cells`)."""
    xp, cells = organ.xp, organ.cells
    if cells.n == 0 or not types.any_motile:
        return
    # every cell draws and mixes; only motile ones take the result (no host round trip)
    type_index = cells.type
    motile = (cells.state == LIVE) & (types.of("speed_um_per_min", type_index) > 0)
    u = rng.uniform(cells.id, step, Purpose.MOTILITY)
    p_turn = -xp.expm1(F32(-dt_min) / types.of("persistence_min", type_index))
    old = cells.direction
    unset = (old * old).sum(axis=1) == 0
    turn = motile & ((u[:, 0] < p_turn) | unset)
    new = unit_vectors(xp, u[:, 1], u[:, 2])
    bias = types.of("chemotaxis_bias", type_index)
    for t, field in enumerate(types.chemotaxis_field):
        if field is None or field not in organ.fields.values:
            continue
        ijk = organ.grid.voxel_ijk(xp, cells.position_um)
        grad = organ.fields.gradient(field, ijk)
        norm = xp.sqrt((grad * grad).sum(axis=1, keepdims=True))
        unit_grad = xp.where(norm > 0, grad / xp.maximum(norm, F32(1e-30)), F32(0))
        b = bias[:, None]
        if block_factor is not None:
            b = b * F32(block_factor(field))
        mixed = b * unit_grad + (F32(1) - b) * new
        length = xp.sqrt((mixed * mixed).sum(axis=1, keepdims=True))
        guided = (type_index == t)[:, None] & (length > 0)
        new = xp.where(guided, mixed / xp.maximum(length, F32(1e-30)), new)
    cells.direction[...] = xp.where(turn[:, None], new, old)


def move_cells(organ: Organ, types: CellTypes, dt_min: float) -> None:
    """Overdamped motion: velocity = motility + pair forces; moves into voxels the type may
    not enter are cut back axis by axis (cells slide along walls)."""
    xp, cells = organ.xp, organ.cells
    if cells.n == 0:
        return
    t = cells.type
    grid = build_cell_grid(
        xp,
        cells.position_um,
        organ.grid.origin_xyz_um,
        organ.grid.extent_xyz_um,
        types.max_interaction_um,
    )
    velocity = pair_velocity(
        cells.position_um,
        types.of("radius_um", t),
        types.of("repulsion_um_per_min", t),
        types.of("adhesion_um_per_min", t),
        types.of("adhesion_range", t),
        grid,
    )
    migrating = ((cells.state == LIVE) & (cells.partner < 0))[:, None]
    velocity += xp.where(migrating, types.of("speed_um_per_min", t)[:, None] * cells.direction, 0)
    old = cells.position_um
    new = old + F32(dt_min) * velocity
    # positions are always allowed (placement, division and motion keep them so); a cell
    # that is not can still move into an allowed voxel
    # a blocked cell's move is cut back axis by axis; every cell is tried (no host round
    # trip) and the blocked ones take the result
    position = old.copy()
    for axis in range(3):
        trial = position.copy()
        trial[:, axis] = new[:, axis]
        fits = organ.allowed_positions(t, trial)
        position[:, axis] = xp.where(fits, trial[:, axis], position[:, axis])
    blocked = ~organ.allowed_positions(t, new)
    cells.position_um[...] = xp.where(blocked[:, None], position, new)


# --- phenotype -----------------------------------------------------------------------


def _oxygen(organ: Organ, types: CellTypes, fill: float) -> Any:
    """Oxygen at each cell's voxel from its type's oxygen field; ``fill`` where none."""
    xp, cells = organ.xp, organ.cells
    out = xp.full(cells.n, fill, dtype=xp.float32)
    flat = None
    for t, field in enumerate(types.oxygen_field):
        if field is None or field not in organ.fields.values:
            continue
        if flat is None:
            flat = organ.grid.flat_index(xp, cells.position_um)
        sel = cells.type == t
        out = xp.where(sel, organ.fields.sample(field, flat), out)
    return out


def rising_ramp(xp: Any, value: Any, zero_at: Any, full_at: Any) -> Any:
    """0 at or below ``zero_at``, 1 at or above ``full_at`` (>= zero_at), linear between; a
    step at ``full_at`` when the two are equal."""
    span = full_at - zero_at
    linear = xp.clip((value - zero_at) / xp.where(span > 0, span, F32(1)), F32(0), F32(1))
    return xp.where(span > 0, linear, (value >= full_at).astype(xp.float32))


def falling_ramp(xp: Any, value: Any, zero_at: Any, full_at: Any) -> Any:
    """0 at or above ``zero_at``, 1 at or below ``full_at`` (<= zero_at), linear between; a
    step at ``full_at`` when the two are equal."""
    return rising_ramp(xp, -value, -zero_at, -full_at)


def phenotype_step(
    organ: Organ,
    types: CellTypes,
    rng: CellRandom,
    step: int,
    dt_min: float,
    contacts: Contacts,
    behave: Behave = unchanged,
) -> dict[tuple[int, int], int]:
    """Attack, death, clearance, transitions and division over ``dt_min``; ``contacts`` are
    the step's (the attack and ``behave``'s contact signals share them).

    Probabilities per step: apoptosis and necrosis 1 - exp(-rate dt); division
    exp(rate dt) - 1, so the expected number of live cells grows as exp((b - d) t) exactly.

    Returns:
        (from type, to type) -> number of cells that changed type.
    """
    xp, cells = organ.xp, organ.cells
    if cells.n == 0:
        return {}
    dt = F32(dt_min)
    if types.attack:
        attack_step(organ, types, rng, step, dt_min, contacts)
    t = cells.type
    oxygen = _oxygen(organ, types, fill=math.inf)
    live = cells.state == LIVE

    u = rng.uniform(cells.id, step, Purpose.DEATH)
    apoptosis = behave("apoptosis", types.of("apoptosis_rate_per_min", t))
    p_apoptosis = -xp.expm1(-apoptosis * dt)
    necrosis_rate = types.of("necrosis_rate_per_min", t) * falling_ramp(
        xp, oxygen, types.of("necrosis_oxygen_threshold", t), types.of("necrosis_oxygen_max", t)
    )
    p_necrosis = -xp.expm1(-necrosis_rate * dt)
    apoptotic = live & (u[:, 0] < p_apoptosis)
    necrotic = live & ~apoptotic & (u[:, 1] < p_necrosis)
    cells.state[...] = xp.where(apoptotic, APOPTOTIC, xp.where(necrotic, NECROTIC, cells.state))
    cells.state_time_min[...] = xp.where(apoptotic | necrotic, F32(0), cells.state_time_min)
    cells.state_time_min[...] += dt
    cells.age_min[...] += dt

    cleared = (
        (cells.state == APOPTOTIC)
        & (cells.state_time_min >= types.of("apoptotic_clearance_min", t))
    ) | (
        (cells.state == NECROTIC) & (cells.state_time_min >= types.of("necrotic_clearance_min", t))
    )
    if bool(cleared.any()):
        cells.keep(~cleared)
        t = cells.type
        oxygen = _oxygen(organ, types, fill=math.inf)

    changed = transition_step(organ, types, rng, step, dt_min, behave)
    if changed:
        t = cells.type
    live = cells.state == LIVE
    cycle = types.of("cycle_rate_per_min", t) * rising_ramp(
        xp,
        oxygen,
        types.of("cycle_oxygen_threshold", t),
        types.of("cycle_oxygen_saturation", t),
    )
    cycle = behave("cycle", cycle)
    u = rng.uniform(cells.id, step, Purpose.DIVISION)
    p_divide = xp.minimum(xp.expm1(cycle * dt), F32(1))
    parents = xp.nonzero(live & (u[:, 0] < p_divide))[0]
    if parents.shape[0]:
        divide_cells(organ, types, parents, unit_vectors(xp, u[parents, 1], u[parents, 2]))
    return changed


def transition_step(
    organ: Organ,
    types: CellTypes,
    rng: CellRandom,
    step: int,
    dt_min: float,
    behave: Behave = unchanged,
) -> dict[tuple[int, int], int]:
    """Live cells change type at their type's transition rates (moved by rules): with
    total rate R a cell changes with probability 1 - exp(-R dt), to each target in
    proportion to its rate. A changed cell keeps its place, age and lineage.

    Returns:
        (from type, to type) -> number of cells that changed.
    """
    xp, cells = organ.xp, organ.cells
    n_types = len(types.names)
    targets = sorted({to for table in types.transitions.values() for to in table})
    if cells.n == 0 or not targets:
        return {}
    t = cells.type
    live = cells.state == LIVE
    rates = []
    for to in targets:
        base = xp.asarray(
            [types.transitions.get(k, {}).get(to, 0.0) for k in range(n_types)],
            dtype=xp.float32,
        )[t]
        rate = behave(f"transition.{types.names[to]}", base)
        rates.append(xp.where(live & (t != to), rate, F32(0)))
    rate = xp.stack(rates, axis=1)  # (N, n_targets)
    total = rate.sum(axis=1)
    u = rng.uniform(cells.id, step, Purpose.TRANSITION)
    moving = xp.nonzero((total > 0) & (u[:, 0] < -xp.expm1(-total * F32(dt_min))))[0]
    if moving.shape[0] == 0:
        return {}
    cumulative = xp.cumsum(rate[moving], axis=1)
    pick = (u[moving, 1] * total[moving])[:, None] >= cumulative
    choice = xp.minimum(pick.sum(axis=1), len(targets) - 1)
    new_type = xp.asarray(targets, dtype=xp.int16)[choice]
    pairs = xp.stack([t[moving].astype(xp.int64), new_type.astype(xp.int64)], axis=1)
    keys, counts = np.unique(to_numpy(pairs), axis=0, return_counts=True)
    cells.type[moving] = new_type
    cells.direction[moving] = 0
    return {(int(a), int(b)): int(c) for (a, b), c in zip(keys, counts, strict=True)}


def attack_step(
    organ: Organ,
    types: CellTypes,
    rng: CellRandom,
    step: int,
    dt_min: float,
    contacts: Contacts,
) -> None:
    """Cytotoxic attack (PhysiCell's cancer-immune rules), for every attacker type:

    1. an attached attacker whose target is gone or dead lets go; otherwise it kills the
       target (apoptosis) with probability 1 - exp(-kill_rate dt), and lets go once it has
       been attached ``attachment_min``;
    2. a free live attacker touching live targets attaches with probability
       1 - exp(-attach_rate dt) to one of them, chosen uniformly.
    """
    xp, cells = organ.xp, organ.cells
    dt = F32(dt_min)
    u = rng.uniform(cells.id, step, Purpose.ATTACK)
    for attacker, spec in types.attack.items():
        target_codes = xp.asarray([types.names.index(x) for x in spec.targets], dtype=xp.int16)
        mine = (cells.type == attacker) & (cells.state == LIVE)
        attached = xp.nonzero(mine & (cells.partner >= 0))[0]
        if attached.shape[0]:
            where = xp.searchsorted(cells.id, cells.partner[attached])
            where = xp.minimum(where, cells.n - 1)
            found = cells.id[where] == cells.partner[attached]
            alive = found & (cells.state[where] == LIVE)
            kill = alive & (u[attached, 2] < -xp.expm1(-F32(spec.kill_rate_per_min) * dt))
            victims = where[kill]
            cells.state[victims] = APOPTOTIC
            cells.state_time_min[victims] = 0
            cells.attached_min[attached] += dt
            done = ~alive | kill | (cells.attached_min[attached] >= F32(spec.attachment_min))
            cells.partner[attached[done]] = -1
            cells.attached_min[attached[done]] = 0
        free = mine & (cells.partner < 0)
        if not bool(free.any()):
            continue
        i, j = contacts.pairs(attacker)
        usable = free[i] & xp.isin(cells.type[j], target_codes) & (cells.state[j] == LIVE)
        i, j = i[usable], j[usable]
        if i.shape[0] == 0:
            continue
        order = xp.lexsort(xp.stack([cells.id[j], i]))
        i, j = i[order], j[order]
        attackers, start = xp.unique(i, return_index=True)
        n_options = xp.searchsorted(i, attackers, side="right") - start
        chosen = start + xp.minimum(
            (u[attackers, 1] * n_options.astype(xp.float32)).astype(xp.int64), n_options - 1
        )
        attach = u[attackers, 0] < -xp.expm1(-F32(spec.attach_rate_per_min) * dt)
        cells.partner[attackers[attach]] = cells.id[j[chosen[attach]]]
        cells.attached_min[attackers[attach]] = 0


def divide_cells(organ: Organ, types: CellTypes, parents: Any, axis: Any) -> None:
    """Split each parent into two cells half a radius either side of its centre along
    ``axis`` (k, 3); a position the type may not occupy falls back to the centre."""
    xp, cells = organ.xp, organ.cells
    t = cells.type[parents]
    centre = cells.position_um[parents]
    offset = F32(0.5) * types.of("radius_um", t)[:, None] * axis
    placed = []
    for sign in (-1, 1):
        trial = centre + F32(sign) * offset
        ok = organ.allowed_positions(t, trial)[:, None]
        placed.append(xp.where(ok, trial, centre))
    cells.position_um[parents] = placed[0]
    cells.age_min[parents] = 0
    cells.duplicate(parents, placed[1])


# --- exchange with fields ------------------------------------------------------------


def cell_exchange(
    organ: Organ, types: CellTypes, behave: Behave = unchanged
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-voxel source (units/min) and uptake (1/min) of each field from live cells.

    BioFVM's cell model: a cell adds f (S T V_c + E) / V_vox to the source and
    (f S + U) V_c / V_vox to the uptake of its voxel, with f the ``secretion.<field>``
    factor of its rules (1 without).
    """
    xp, cells = organ.xp, organ.cells
    fields = [f for f in types.secretion if f in organ.fields.values]
    if cells.n == 0 or not fields:
        return {}, {}
    live = cells.state == LIVE
    t = cells.type
    volume = F32(4.0 / 3.0 * math.pi) * types.of("radius_um", t) ** 3
    inv_vox = F32(1.0 / organ.grid.voxel_volume_um3)
    columns = []
    for field in fields:
        table = types.secretion[field]
        s, target, u, e = (table[k][t] for k in ("S", "T", "U", "E"))
        factor = behave(f"secretion.{field}", xp.ones(cells.n, dtype=xp.float32))
        s, e = s * factor, e * factor
        columns.append(xp.where(live, (s * target * volume + e) * inv_vox, F32(0)))
        columns.append(xp.where(live, (s + u) * volume * inv_vox, F32(0)))
    values = xp.stack(columns, axis=1).astype(xp.float32)
    flat = organ.grid.flat_index(xp, cells.position_um)
    sums = deposit(flat, values, organ.grid.n_voxels)
    shape = organ.grid.shape_zyx
    source = {f: sums[2 * i].reshape(shape) for i, f in enumerate(fields)}
    uptake = {f: sums[2 * i + 1].reshape(shape) for i, f in enumerate(fields)}
    return source, uptake
