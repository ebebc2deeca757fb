"""Cell rules, written once against the backend's array module.

Order within a step of each process (documented, fixed):
- mechanics (dt_m): phagocytosis (live cells eat touching dead ones, which are removed;
  :mod:`tissue.phagocytosis`) -> attack (attach, kill, let go; attackers with a target in
  reach hold still) -> damage attack (start, deal damage, let go) -> motility direction
  update -> pair and spring velocities -> move, confined to labels the type may enter and to
  the organ's box; attached cells do not migrate, except damage attackers;
- phenotype (dt_p): damage (its rate and repair, after the rules read it) -> death
  (apoptosis, then necrosis) -> clearance of dead cells -> type transitions -> division of
  live cells (daughters inherit attributes and damage; an engulfed volume is halved between
  the two) -> the held behaviours that rules move (motility, chemotactic sensitivities,
  attack and phagocytosis rates), kept per cell until the next -> the engulfed volume
  relaxes (:mod:`tissue.phagocytosis`);
- exchange (each diffusion step): secretion and uptake of live and dead cells into their
  voxels.

In a 2-D organ random directions (motility, division axes) are uniform in angle in the
plane, and motion has no z component: cells stay on the plane z = origin_z + dz/2.

Rates and secretion factors pass through ``behave(behaviour, base)``, which applies the
scenario's rules (see :mod:`tissue.behaviours`); without rules it returns ``base``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tissue.attack import spring_velocity
from tissue.behaviours import Behave, held, held_base, unchanged
from tissue.cells import (
    APOPTOTIC,
    ENGULFED_COLUMNS,
    LIVE,
    MOTILITY_SPEED,
    NECROTIC,
    REGROWTH,
)
from tissue.chemotaxis import bias_direction, update_sensitivities
from tissue.grid import F32
from tissue.kernels.cells import (
    CellGrid,
    VoxelSums,
    cut_moves,
    pair_velocity,
    unit_rows,
)
from tissue.organ import CellTypes, Contacts, Organ, cell_grid
from tissue.rng import CellRandom, Purpose, random_directions
from tissue.signals import OWN, falling_ramp, rising_ramp
from tissue.volume import halve_volumes, update_volumes

# --- mechanics -----------------------------------------------------------------------


def update_motility(
    organ: Organ,
    types: CellTypes,
    rng: CellRandom,
    step: int,
    dt_min: float,
    block_factor: Callable[[str], float] | None = None,
    still: Any = None,
) -> None:
    """PhysiCell's persistent biased random walk: with probability 1 - exp(-dt/P) a motile
    cell draws a random unit vector v and takes direction = normalise(b d + (1 - b) v), d
    its chemotactic bias direction (:mod:`tissue.chemotaxis`); a cell of a type without
    chemotaxis takes v. As PhysiCell's ``normalize`` leaves a zero vector zero, a cell
    whose mix is 0 (b = 1 where d = 0) stands still until its next turn.

    The cell's speed is taken at the turn too: where rules move speeds, a cell keeps the
    speed it turned with until its next turn, as PhysiCell's motility vector does (its
    length is set only when the direction is drawn).

    As in PhysiCell, a cell that is not motile (dead, attached, or in ``still``, (N,) bool:
    attackers holding at a target) has no direction, and a cell without one (new cells too)
    waits for its next turn. ``block_factor(field)`` (default 1): a neutralised attractant
    guides less (it scales the field's term in d and b, see :func:`bias_direction`)."""
    xp, cells = organ.xp, organ.cells
    if cells.n == 0 or not types.any_motile:
        return
    # every cell draws and mixes; only motile ones take the result (no host round trip)
    type_index = cells.type
    motile = _migrating(organ, types)
    if still is not None:
        motile &= ~still
    u = rng.uniform(cells.id, step, Purpose.MOTILITY)
    persistence = xp.maximum(migration(organ, types, "migration_persistence"), F32(1e-6))
    p_turn = -xp.expm1(F32(-dt_min) / persistence)
    old = xp.where(motile[:, None], cells.direction, F32(0))
    turn = motile & (types.of("speed_um_per_min", type_index) > 0) & (u[:, 0] < p_turn)
    new = random_directions(xp, u[:, 1], u[:, 2], organ.grid.two_d)
    if types.chemotaxis is not None:
        direction, guided, weight = bias_direction(organ, types.chemotaxis, block_factor)
        b = (xp.clip(migration(organ, types, "migration_bias"), F32(0), F32(1)) * weight)[:, None]
        mixed = unit_rows(b * direction + (F32(1) - b) * new)
        new = xp.where(guided[:, None], mixed, new)
    cells.direction[...] = xp.where(turn[:, None], new, old)
    if MOTILITY_SPEED in cells.columns:
        speed = cells.motility_speed
        speed[...] = xp.where(turn, migration(organ, types, "migration_speed"), speed)


def _migrating(organ: Organ, types: CellTypes) -> Any:
    """(N,) bool: live cells free to migrate: not attached, or of a type that migrates while
    attached (a damage attacker)."""
    cells = organ.cells
    free = (cells.partner < 0) | (types.of("migrates_attached", cells.type) > 0)
    return (cells.state == LIVE) & free


def migration(organ: Organ, types: CellTypes, behaviour: str) -> Any:
    """(N,) float32: each cell's ``migration_speed``, ``migration_persistence`` or
    ``migration_bias``: as the rules last set it (:func:`update_held`), else its type's."""
    return held(organ, types, behaviour)


def update_held(organ: Organ, types: CellTypes, behave: Behave) -> None:
    """Set each cell's held behaviours that rules move, its chemotactic sensitivities too
    (PhysiCell's phenotype update: once a phenotype step, read by the mechanics steps until
    the next)."""
    cells = organ.cells
    for behaviour in organ.held:
        getattr(cells, behaviour)[...] = behave(behaviour, held_base(types, behaviour, cells.type))
    if types.chemotaxis is not None:
        update_sensitivities(organ, types.chemotaxis, behave)


def move_cells(organ: Organ, types: CellTypes, dt_min: float, grid: CellGrid | None = None) -> None:
    """Overdamped motion: velocity = motility + pair forces (in the plane of a 2-D organ);
    moves into voxels the type may not enter are cut back axis by axis (cells slide along
    walls). ``grid``: the cells' grid (:func:`~tissue.organ.cell_grid`) when the caller
    has it (no cell may have moved, arrived or left since it was built)."""
    xp, cells = organ.xp, organ.cells
    if cells.n == 0:
        return
    t = cells.type
    grid = cell_grid(organ, types) if grid is None else grid
    velocity = pair_velocity(
        cells.position_um,
        types.radius(cells),
        held(organ, types, "repulsion"),
        held(organ, types, "adhesion"),
        types.of("adhesion_range", t),
        grid,
        cell_type=t,
        affinity=types.affinity,
    )
    migrating = _migrating(organ, types)[:, None]
    if MOTILITY_SPEED in cells.columns:  # the speed at the last turn (update_motility)
        speed = cells.motility_speed
    else:
        speed = migration(organ, types, "migration_speed")
    velocity += xp.where(migrating, speed[:, None] * cells.direction, 0)
    if types.springs:
        velocity += spring_velocity(organ, types)
    if organ.grid.two_d:
        velocity[:, 2] = F32(0)  # cells stay on the plane, bit for bit
    old = cells.position_um
    new = old + F32(dt_min) * velocity
    # positions are always allowed (placement, division and motion keep them so); a cell
    # that is not can still move into an allowed voxel. A blocked cell's move is cut back
    # axis by axis (one kernel on a device; every cell is tried, no host round trip)
    cells.position_um[...] = cut_moves(old, new, t, organ.labels, organ.allowed, organ.grid)


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


def phenotype_step(
    organ: Organ,
    types: CellTypes,
    rng: CellRandom,
    step: int,
    dt_min: float,
    contacts: Contacts,
    behave: Behave = unchanged,
) -> Any:
    """Death, clearance, transitions and division over ``dt_min``; ``contacts`` are the
    step's (``behave``'s contact signals read them).

    Probabilities per step: apoptosis and necrosis 1 - exp(-rate dt); division
    exp(rate dt) - 1, so the expected number of live cells grows as exp((b - d) t) exactly.

    Returns:
        the type changes of :func:`transition_step` ((n_types, n_types) int64 backend
        array, or None).
    """
    xp, cells = organ.xp, organ.cells
    cells.settle_lagged()
    if cells.n == 0:
        return None
    dt = F32(dt_min)
    t = cells.type
    oxygen = _oxygen(organ, types, fill=math.inf)
    live = cells.state == LIVE

    u = rng.uniform(cells.id, step, Purpose.DEATH)
    apoptosis = behave("apoptosis", types.of("apoptosis_rate_per_min", t))
    p_apoptosis = -xp.expm1(-apoptosis * dt)
    ramp = falling_ramp(
        xp, oxygen, types.of("necrosis_oxygen_threshold", t), types.of("necrosis_oxygen_max", t)
    )
    ramp = xp.where(types.of("necrosis_by_rate", t) > 0, F32(1), ramp)
    necrosis_rate = behave("necrosis", types.of("necrosis_rate_per_min", t) * ramp)
    p_necrosis = -xp.expm1(-necrosis_rate * dt)
    if types.damages:  # after the rules read it, before the death draws (PhysiCell's order)
        gain = behave("damage_rate", types.of("damage_rate_per_min", t)) * dt
        repair = behave("damage_repair_rate", types.of("damage_repair_rate_per_min", t)) * dt
        cells.damage[...] = (cells.damage + gain) / (F32(1) + repair)
    apoptotic = live & (u[:, 0] < p_apoptosis)
    necrotic = live & ~apoptotic & (u[:, 1] < p_necrosis)
    cells.state[...] = xp.where(apoptotic, APOPTOTIC, xp.where(necrotic, NECROTIC, cells.state))
    cells.state_time_min[...] = xp.where(apoptotic | necrotic, F32(0), cells.state_time_min)
    cells.state_time_min[...] += dt
    cells.age_min[...] = xp.where(cells.age_min >= 0, cells.age_min + dt, cells.age_min)

    cells.keep(~_cleared(xp, cells, types, t, u[:, 2], dt))
    t = cells.type
    oxygen = _oxygen(organ, types, fill=math.inf)

    changed = transition_step(organ, types, rng, step, dt_min, behave)
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
    dividing = live & (u[:, 0] < p_divide)
    entering = None
    if types.phases is not None:
        dividing, entering = _advance_phases(organ, types, live, cycle, u[:, 0], dt, dividing)
    if REGROWTH in cells.columns:
        update_volumes(cells, types.params, entering, dt)
    axis = random_directions(xp, u[:, 1], u[:, 2], organ.grid.two_d)
    daughter_type = _daughter_types(organ, types, behave, u[:, 3])
    divide_cells(organ, types, dividing, axis, rng, daughter_type)
    update_held(organ, types, behave)
    return changed


def _daughter_types(organ: Organ, types: CellTypes, behave: Behave, u: Any) -> Any | None:
    """(N,) int16: the type each cell's daughter would take if it divided now (its own,
    or another with the probability of ``asymmetric_division`` after the rules, picked
    with ``u``, (N,) uniforms; probabilities adding up past 1 are scaled to 1, where
    PhysiCell stops with an error); None where no type divides asymmetrically."""
    if types.asymmetric is None:
        return None
    xp, t = organ.xp, organ.cells.type
    codes = list(types.asymmetric)
    p = xp.stack([xp.where(t == to, F32(0), behave(f"asymmetric_division.{types.names[to]}",
                                                   types.asymmetric[to][t]))
                  for to in codes], axis=1)  # fmt: skip
    total = p.sum(axis=1)
    cumulative = xp.cumsum(p, axis=1) / xp.maximum(total, F32(1))[:, None]
    pick = (u[:, None] >= cumulative).sum(axis=1)  # len(codes): the daughter stays
    choice = xp.asarray([*codes, -1], dtype=xp.int16)[pick]
    return xp.where(choice >= 0, choice, t).astype(xp.int16)


def _cleared(xp: Any, cells: Any, types: CellTypes, t: Any, u: Any, dt: Any) -> Any:
    """(N,) bool: the dead cells cleared this step. An apoptotic cell goes when its time
    dead reaches ``apoptotic_clearance_min``, or, with ``apoptotic_clearance = "random"``,
    with probability 1 - exp(-dt / apoptotic_clearance_min) a step (drawn with ``u``, (N,)
    uniforms); a necrotic cell likewise from its rupture (0 without a necrotic volume)."""
    out = xp.zeros(cells.n, dtype=bool)
    for kind, state, start in (
        ("apoptotic", APOPTOTIC, None),
        ("necrotic", NECROTIC, "necro_rupture_min"),
    ):
        mean = types.of(f"{kind}_clearance_min", t)
        begun = types.of(start, t) if start else F32(0)
        fixed = cells.state_time_min >= (mean + begun if start else mean)
        random = (cells.state_time_min >= begun) & (u < -xp.expm1(-dt / mean))
        due = xp.where(types.of(f"{kind}_clearance_random", t) > 0, random, fixed)
        out |= (cells.state == state) & due
    return out


def _advance_phases(
    organ: Organ, types: CellTypes, live: Any, cycle: Any, u: Any, dt: Any, one_phase: Any
) -> tuple[Any, Any]:
    """Move live cells of types with cycle phases through them over ``dt``; returns (N,)
    bool each: the cells that divide (``one_phase``'s for types without phases), and those
    that enter a phase that ``grows``.

    The first phase is left at ``cycle`` ((N,) 1/min, after rules) with probability
    1 - exp(-cycle dt) drawn with ``u`` ((N,) uniforms), or, for a type whose first phase
    is fixed, after 1 / ``cycle`` (never at a rate of 0); a later one at its rate or when
    the time in it passes its duration less dt / 2 (PhysiCell's test); a cell leaving a
    phase starts the next at time 0, dividing if the phase divides (the daughter copies the
    parent's new phase; a fixed first phase without later ones divides). A cell whose type
    has fewer phases than its phase (it changed type) restarts the first."""
    xp, cells, phases = organ.xp, organ.cells, types.phases
    t = cells.type.astype(xp.int64)
    count = phases.count[t]
    phase = cells.cycle_phase.astype(xp.int64)
    phase = xp.where(phase < count, phase, 0)
    time = cells.phase_time_min + dt
    fixed = phases.first_fixed[t] & (phase == 0)
    rate = xp.where(phase == 0, xp.where(fixed, F32(0), cycle), phases.rate[t, phase])
    lasts = F32(1) / xp.where(cycle > 0, cycle, F32(1))  # the fixed first phase's length
    duration = xp.where(fixed & (cycle > 0), lasts, phases.duration[t, phase])
    leave = (u < -xp.expm1(-rate * dt)) | (time > duration - F32(0.5) * dt)
    has_phases = (count > 1) | phases.first_fixed[t]
    phased = live & has_phases
    leave &= phased
    after = xp.where(phase + 1 < count, phase + 1, 0)
    cells.cycle_phase[...] = xp.where(leave, after, phase).astype(xp.int8)
    kept = xp.where(phased, time, cells.phase_time_min)
    cells.phase_time_min[...] = xp.where(leave, F32(0), kept)
    dividing = xp.where(has_phases, leave & phases.divides[t, phase], one_phase)
    return dividing, leave & phases.grows[t, after]


# the columns a changed cell restarts (PhysiCell's conversion keeps the volume, not the
# rest of the phenotype), besides its own behaviour values (OWN + behaviour)
CONVERTED = ("partner", "attached_min", "damage", "damage_delivered", "cycle_phase",
             "phase_time_min")  # fmt: skip


def transition_step(
    organ: Organ,
    types: CellTypes,
    rng: CellRandom,
    step: int,
    dt_min: float,
    behave: Behave = unchanged,
) -> Any:
    """Live cells change type at their type's transition rates (moved by rules): with
    total rate R a cell changes with probability 1 - exp(-R dt), to each target in
    proportion to its rate, and of those bound for T the ``transition_split`` shares to
    other types (from the same uniform draw as the pick). A changed cell keeps its place,
    age, volume and lineage and takes the new type's phenotype, as PhysiCell converts a cell
    to another definition: its own behaviour values and the columns of :data:`CONVERTED`
    (damage taken and dealt, attack, cycle phase) restart, and its attributes are the new
    type's but for those it conserves (:meth:`tissue.attributes.Attributes.convert`).
    Every cell draws and picks; the changing ones take the result (no host round trip).

    Returns:
        (n_types, n_types) int64 backend array: cells that changed from type a to type b
        (None when no type changes).
    """
    xp, cells = organ.xp, organ.cells
    n_types = len(types.names)
    targets = sorted({to for table in types.transitions.values() for to in table})
    if cells.n == 0 or not targets:
        return None
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
    moving = (total > 0) & (u[:, 0] < -xp.expm1(-total * F32(dt_min)))
    cumulative = xp.cumsum(rate, axis=1)
    pick = (u[:, 1] * total)[:, None] >= cumulative
    choice = xp.minimum(pick.sum(axis=1), len(targets) - 1)
    codes = xp.asarray(targets, dtype=xp.int16)
    new_type = codes[choice]
    if types.split:
        # where the pick fell within its target's share of the total: uniform on [0, 1)
        # whichever target it chose, so it draws the split without another number
        width = xp.take_along_axis(rate, choice[:, None], axis=1)[:, 0]
        below = xp.take_along_axis(cumulative, choice[:, None], axis=1)[:, 0] - width
        within = (u[:, 1] * total - below) / xp.maximum(width, F32(1e-30))
        new_type = _split(xp, types.split, t, new_type, within)
    chosen = new_type[:, None] == codes[None, :]  # (N, n_targets)
    changed = xp.zeros((n_types, n_types), dtype=xp.int64)
    for a in range(n_types):
        changed[a, codes] = (chosen & (moving & (t == a))[:, None]).sum(axis=0)
    for name, value in converted(cells, moving, new_type).items():
        getattr(cells, name)[...] = value
    organ.attributes.convert(cells, moving, rng)
    return changed


def converted(cells: Any, changing: Any, new_type: Any) -> dict[str, Any]:
    """Column -> (N, ...) values of every cell, those where ``changing`` ((N,) bool)
    converted to ``new_type`` ((N,) int16) as PhysiCell converts a cell to another
    definition: the new type, no motility direction, and the columns of
    :data:`CONVERTED` and the own behaviour values restarted (attributes: see
    :meth:`tissue.attributes.Attributes.convert`)."""
    xp = cells.xp
    out = {
        "type": xp.where(changing, new_type, cells.type),
        "direction": xp.where(changing[:, None], F32(0), cells.direction),
    }
    for name, column in cells.columns.items():
        if name in CONVERTED or name.startswith(OWN):
            values = getattr(cells, name)
            out[name] = xp.where(changing, values.dtype.type(column.fill), values)
    return out


def _split(
    xp: Any, split: dict[int, dict[int, dict[int, float]]], t: Any, new_type: Any, within: Any
) -> Any:
    """``new_type`` with each cell of type a bound for b made type c where ``within`` (its
    uniform position in the pick) falls in c's share of ``split[a][b]`` (shares in turn)."""
    out = new_type
    for a, toward in split.items():
        for b, shares in toward.items():
            bound = (t == a) & (new_type == b)
            edge = 0.0
            for c, share in shares.items():
                inside = bound & (within >= F32(edge)) & (within < F32(edge + share))
                out = xp.where(inside, xp.int16(c), out)
                edge += share
    return out


def divide_cells(
    organ: Organ,
    types: CellTypes,
    dividing: Any,
    axis: Any,
    rng: CellRandom,
    daughter_type: Any | None = None,
) -> None:
    """Split each cell where ``dividing`` ((N,) bool) along its row of ``axis`` (N, 3): it
    moves half its radius back, its daughter half a radius forward (a radius with
    ``division_placement = "physicell"``); a position the type may not occupy falls back to
    the centre. Both take half of each part of the parent's volume and of its targets
    (:func:`tissue.volume.halve_volumes`) and restart their age and their time under
    attack; the daughter inherits the parent's attributes (with their mutation spread;
    conserved ones halved in both); each keeps half the parent's engulfed volume.
    A daughter whose ``daughter_type`` ((N,) int16, by its parent's row) differs from its
    parent's is converted to it (asymmetric division; :func:`converted`, attributes as
    :meth:`tissue.attributes.Attributes.convert` gives them). Every cell is computed and
    the dividing ones take the result (no host round trip)."""
    xp, cells = organ.xp, organ.cells
    t = cells.type
    centre = cells.position_um
    radius = types.radius(cells)[:, None]
    offsets = (F32(0.5) * radius * axis, types.of("division_offset", t)[:, None] * radius * axis)
    placed = []
    for sign, offset in zip((-1, 1), offsets, strict=True):
        trial = centre + F32(sign) * offset
        ok = organ.allowed_positions(t, trial)[:, None]
        placed.append(xp.where(ok, trial, centre))
    cells.position_um[...] = xp.where(dividing[:, None], placed[0], centre)
    if REGROWTH in cells.columns:
        halve_volumes(cells, types.params, types.growing, dividing)
    cells.age_min[...] = xp.where(dividing, F32(0), cells.age_min)
    if "attack_time_min" in cells.columns:  # PhysiCell restarts both cells' attack time
        cells.attack_time_min[...] = xp.where(dividing, F32(0), cells.attack_time_min)
    if types.eats:  # PhysiCell halves every part of the volume, the eaten one too
        for name in ENGULFED_COLUMNS:
            column = getattr(cells, name)
            column[...] = xp.where(dividing, F32(0.5) * column, column)
    organ.attributes.halve(cells, dividing)
    if daughter_type is None:
        daughters = cells.split(dividing, placed[1])
    else:  # the daughters' columns, by parent row, as converted where the type changes
        changing = dividing & (daughter_type != t)
        values = converted(cells, changing, daughter_type)
        values.update(organ.attributes.reset(cells, changing, daughter_type))
        daughters = cells.split(dividing, placed[1], values)
        organ.attributes.draw(cells, daughters, rng, only=organ.attributes.unset(cells))
    organ.attributes.mutate(cells, daughters, rng)


# --- exchange with fields ------------------------------------------------------------


def cell_exchange(
    organ: Organ, types: CellTypes, behave: Behave = unchanged
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-voxel source (units/min) and uptake (1/min) of each field from live cells, as
    :class:`CellDeposit` (sparse: added into the solver's terms where cells are).

    BioFVM's cell model: a live cell adds f (S T V_c + E) / V_vox to the source and
    (f S + U) V_c / V_vox to the uptake of its voxel, with S its rate after the rules on
    ``secretion_rate.<field>`` and f the ``secretion.<field>`` factor of its rules (1
    without), T, U and E its target, uptake and export after the rules on
    ``secretion_target.<field>``, ``uptake_rate.<field>`` and ``export_rate.<field>``; a
    dead one adds the same with its type's ``dead_secretion``
    (and f = 1), or nothing, except that a dead cell of a type with rules on
    ``secretion_rate.<field>`` for dead cells secretes at the rate they give, toward the
    type's live target. V_c includes what the cell has engulfed.
    """
    xp, cells = organ.xp, organ.cells
    fields = [f for f in {**types.secretion, **types.dead_secretion} if f in organ.fields.values]
    if cells.n == 0 or not fields:
        return {}, {}
    live = cells.state == LIVE
    t = cells.type
    volume = F32(4.0 / 3.0 * math.pi) * types.of("radius_um", t) ** 3
    if types.resizes:
        volume = volume * types.volume_fraction(cells)
    if types.eats:
        volume = volume + cells.engulfed_fluid_um3 + cells.engulfed_solid_um3
    inv_vox = F32(1.0 / organ.grid.voxel_volume_um3)
    columns = []
    zero = xp.zeros(cells.n, dtype=xp.float32)
    for field in fields:
        s, target, u, e = _exchange_of(types.secretion.get(field), t, zero)
        s = behave(f"secretion_rate.{field}", s)
        target = behave(f"secretion_target.{field}", target)
        u = behave(f"uptake_rate.{field}", u)
        e = behave(f"export_rate.{field}", e)
        factor = behave(f"secretion.{field}", xp.ones(cells.n, dtype=xp.float32))
        s, e = s * factor, e * factor
        dead_s, dead_target, dead_u, dead_e = _exchange_of(types.dead_secretion.get(field), t, zero)
        ruled = types.dead_rules.get(f"secretion_rate.{field}")
        if ruled is not None:  # dead cells of these types secrete as their rules say
            follows = ruled[t]
            dead_s = xp.where(follows, s, dead_s)
            dead_target = xp.where(follows, target, dead_target)
        s, target, u, e = (
            xp.where(live, a, b)
            for a, b in zip((s, target, u, e), (dead_s, dead_target, dead_u, dead_e), strict=True)
        )
        columns.append((s * target * volume + e) * inv_vox)
        columns.append((s + u) * volume * inv_vox)
    values = xp.stack(columns, axis=1).astype(xp.float32)
    n_voxels = organ.grid.n_voxels
    flat = xp.where(cells.occupied, organ.grid.flat_index(xp, cells.position_um), n_voxels)
    sums = VoxelSums.of(flat, values, n_voxels)
    source = {f: CellDeposit(sums, 2 * i) for i, f in enumerate(fields)}
    uptake = {f: CellDeposit(sums, 2 * i + 1) for i, f in enumerate(fields)}
    return source, uptake


@dataclass(frozen=True)
class CellDeposit:
    """One field's source or uptake from the cells: a column of :class:`VoxelSums`, added
    into the solver's full-size terms only where cells are (:meth:`add_to`)."""

    sums: VoxelSums
    column: int

    def add_to(self, out: Any) -> None:
        """``out`` ((nz, ny, nx) float32, in place) += the cells' per-voxel sums."""
        self.sums.add_to(self.column, out)

    def dense(self, shape_zyx: tuple[int, int, int]) -> Any:
        """The per-voxel sums as a full (nz, ny, nx) float32 array."""
        return self.sums.dense(self.column).reshape(shape_zyx)


def _exchange_of(table: dict[str, Any] | None, t: Any, zero: Any) -> tuple[Any, ...]:
    """Each cell's (S, T, U, E) from a (n_types,) table (zeros without one)."""
    if table is None:
        return zero, zero, zero, zero
    return tuple(table[k][t] for k in ("S", "T", "U", "E"))
