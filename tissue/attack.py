"""Cell-cell attacks over one mechanics step, written once against the backend's array
module: PhysiCell's cancer-immune attack (:func:`attack_step`: attach, kill, let go) and
PhysiCell 1.14's damage attack (:func:`damage_attack_step`: start, deal damage, let go), and
the springs that hold attached pairs (:func:`spring_velocity`, read by the motion step).
"""

from __future__ import annotations

import math
from typing import Any

from tissue.behaviours import held
from tissue.cells import APOPTOTIC, LIVE
from tissue.grid import F32
from tissue.kernels.cells import CellGrid, deposit
from tissue.kernels.contacts import choose_targets
from tissue.organ import CellTypes, Organ, cell_grid
from tissue.rng import CellRandom, Purpose
from tissue.signals import falling_ramp, rising_ramp


def spring_velocity(organ: Organ, types: CellTypes) -> Any:
    """(N, 3) float32 velocities of attached pairs' springs (PhysiCell's elastic contact):
    an attacker of a type with ``spring_per_min`` k attached to a present cell gains
    k (x_target - x_self) and its target the opposite; a target held by several attackers
    sums theirs (deterministically, in cell order)."""
    xp, cells = organ.xp, organ.cells
    k = xp.zeros(cells.n, dtype=xp.float32)
    for attacker, spec in types.attack.items():
        k = xp.where(cells.type == attacker, F32(spec.attack.spring_per_min), k)
    row, found = partner_rows(xp, cells)
    k = xp.where(found, k, F32(0))
    pull = k[:, None] * (cells.position_um[row] - cells.position_um)
    # each pull lands on the target's row as its opposite (cells without one add 0 to row 0)
    on_target = deposit(row, -pull, cells.n).T
    return (pull + on_target).astype(xp.float32)


def partner_rows(xp: Any, cells: Any) -> tuple[Any, Any]:
    """(N,) int64 row of each cell's partner (0 where none) and (N,) bool: it has one and it
    is still present (cells are in id order, so a search finds it)."""
    partner = cells.partner
    row = xp.minimum(xp.searchsorted(cells.id, partner), cells.n - 1)
    found = (partner >= 0) & (cells.id[row] == partner)
    return xp.where(found, row, 0).astype(xp.int64), found


def attack_step(
    organ: Organ,
    types: CellTypes,
    rng: CellRandom,
    step: int,
    dt_min: float,
    grid: CellGrid | None = None,
) -> Any:
    """Cytotoxic attack (PhysiCell's cancer-immune rules, see
    :class:`~tissue.config.cells.Attack`), for every attacker type, over one mechanics step:

    1. an attached attacker's kill draw succeeds with probability 1 - exp(-kill_rate s dt)
       (s of its target whether that is still live or not, as PhysiCell draws it): a live
       target starts apoptosis, and the attacker lets go, so one whose target another
       attacker killed lets go at rate kill_rate s. It also lets go when it is released
       (after ``attachment_min``, or at rate 1/``attachment_min``), when its target is gone
       and when the target is out of reach;
    2. an attacker that was free picks one live target in reach (and in its search voxel,
       where one is set) with s > 0 uniformly and attaches with probability
       1 - exp(-attach_rate s g dt).

    ``grid``: the cells' grid (:func:`~tissue.organ.cell_grid`) when the caller has it.

    Returns:
        (N,) bool: the attackers that hold still this step (attached, or with a target in
        reach), or None when no type attacks.
    """
    xp, cells = organ.xp, organ.cells
    if cells.n == 0 or not types.attack:
        return None
    dt = F32(dt_min)
    u = rng.uniform(cells.id, step, Purpose.ATTACK)
    grid = cell_grid(organ, types) if grid is None else grid
    touch = types.of("adhesion_range", cells.type) * types.radius(cells)
    origin = xp.asarray(organ.grid.origin_xyz_um, dtype=xp.float32)

    def box(side_um: float | None) -> Any:
        """(N,) int64 search box of each cell (all 0 without a search voxel)."""
        if side_um is None:
            return xp.zeros(cells.n, dtype=xp.int64)
        ijk = xp.floor((cells.position_um - origin) / F32(side_um)).astype(xp.int64) + 1
        return (ijk[:, 2] << 42) | (ijk[:, 1] << 21) | ijk[:, 0]

    held = xp.zeros(cells.n, dtype=bool)
    for attacker, spec in types.attack.items():
        config = spec.attack
        mine = (cells.type == attacker) & (cells.state == LIVE)
        # 1. attached attackers
        was_free = mine & (cells.partner < 0)
        row, found = partner_rows(xp, cells)
        found &= mine
        score = _target_score(xp, cells, spec)
        s_target = _target_score(xp, cells, spec, live_only=False)[row]
        gap = cells.position_um[row] - cells.position_um
        in_reach = (gap * gap).sum(axis=1) <= F32(spec.reach_um) ** 2 if spec.fixed_reach else True
        kill = found & (u[:, 2] < -xp.expm1(-F32(config.kill_rate_per_min) * s_target * dt))
        attached_min = cells.attached_min + dt
        if config.release == "fixed":
            released = attached_min >= F32(config.attachment_min)
        else:
            released = u[:, 3] < -xp.expm1(-dt / F32(config.attachment_min))
        done = mine & (cells.partner >= 0) & ~(found & ~kill & ~released & in_reach)
        killed = deposit(row, kill.astype(xp.float64)[:, None], cells.n)[0] > 0
        victim = killed & (cells.state == LIVE)
        cells.state[...] = xp.where(victim, APOPTOTIC, cells.state)
        cells.state_time_min[...] = xp.where(victim, F32(0), cells.state_time_min)
        cells.attached_min[...] = xp.where(found & ~done, attached_min, cells.attached_min)
        cells.attached_min[...] = xp.where(done, F32(0), cells.attached_min)
        cells.partner[...] = xp.where(done, -1, cells.partner)
        held |= mine & ~was_free
        # 2. attackers that were free at the start of the step
        reach = F32(spec.reach_um) if spec.fixed_reach else F32(math.inf)
        chosen, distance, _ = choose_targets(
            cells.position_um, touch, score, box(config.search_voxel_um), cells.id, was_free,
            xp.ascontiguousarray(u[:, 1]), grid, reach,
        )  # fmt: skip
        has = chosen >= 0
        target = xp.where(has, chosen, 0)
        g = F32(1)
        if config.attach_full_within_um is not None:
            g = falling_ramp(xp, distance, F32(spec.reach_um), F32(config.attach_full_within_um))
        rate = F32(config.attach_rate_per_min) * score[target] * g
        attach = has & (u[:, 0] < -xp.expm1(-rate * dt))
        cells.partner[...] = xp.where(attach, cells.id[target], cells.partner)
        cells.attached_min[...] = xp.where(has, F32(0), cells.attached_min)
        held |= has
    return held


def damage_attack_step(
    organ: Organ,
    types: CellTypes,
    rng: CellRandom,
    step: int,
    dt_min: float,
    grid: CellGrid | None = None,
) -> None:
    """PhysiCell 1.14's attack (:class:`~tissue.config.cells.DamageAttack`) over one
    mechanics step: free live attackers may start an attack on a touching candidate; then
    every attacker with a live target deals it damage (the new ones too) and adds it to its
    damage delivered, and lets go with probability min(dt / duration, 1), or when its target
    is dead or gone (dead attackers let go). A target of several attackers takes their sum
    (in cell order). ``grid``: the cells' grid when the caller has it."""
    xp, cells, attacks = organ.xp, organ.cells, types.damage_attacks
    if cells.n == 0 or attacks is None:
        return
    dt = F32(dt_min)
    t = cells.type
    live = cells.state == LIVE
    u = rng.uniform(cells.id, step, Purpose.DAMAGE_ATTACK)
    grid = cell_grid(organ, types) if grid is None else grid
    touch = types.of("adhesion_range", t) * types.radius(cells)
    no_box = xp.zeros(cells.n, dtype=xp.int64)
    attacker = xp.zeros(cells.n, dtype=bool)
    for a in attacks.attackers:
        mine = (t == a) & live
        attacker |= t == a
        score = (attacks.candidate[a][t] & live).astype(xp.float32)
        free = mine & (cells.partner < 0)
        chosen, _, options = choose_targets(
            cells.position_um, touch, score, no_box, cells.id, free,
            xp.ascontiguousarray(u[:, 1]), grid, F32(math.inf),
        )  # fmt: skip
        has = chosen >= 0
        target = xp.where(has, chosen, 0)
        rate = xp.zeros(cells.n, dtype=xp.float32)
        for b in range(len(types.names)):
            on_b = held(organ, types, f"attack.{types.names[b]}")
            rate = xp.where(t[target] == b, on_b, rate)
        immunogenicity = held(organ, types, f"immunogenicity.{types.names[a]}")[target]
        p = xp.minimum(rate * immunogenicity * dt, F32(1))
        start = has & (u[:, 0] < F32(1) - (F32(1) - p) ** options)
        cells.partner[...] = xp.where(start, cells.id[target], cells.partner)
    row, found = partner_rows(xp, cells)
    hitting = attacker & live & found & live[row]
    damage = xp.where(hitting, held(organ, types, "attack_damage_rate") * dt, F32(0))
    timed = "attack_time_min" in cells.columns  # PhysiCell's total attack time of each target
    per_hit = [damage, xp.where(hitting, dt, F32(0))] if timed else [damage]
    taken = deposit(row, xp.stack(per_hit, axis=1), cells.n)  # one pass, column by column
    cells.damage[...] += taken[0]
    if timed:
        cells.attack_time_min[...] += taken[1]
    cells.damage_delivered[...] += damage
    ends = u[:, 2] < xp.minimum(dt / held(organ, types, "attack_duration"), F32(1))
    done = attacker & (cells.partner >= 0) & ~(hitting & ~ends)
    cells.partner[...] = xp.where(done, -1, cells.partner)


def _target_score(xp: Any, cells: Any, spec: Any, live_only: bool = True) -> Any:
    """(N,) float32 s of each cell as a target of ``spec``'s attacker: 0 for cells that are
    not (live, with ``live_only``) cells of a target type, else 1 or the ramp of its
    attribute."""
    config = spec.attack
    target = xp.isin(cells.type, spec.target_codes)
    if live_only:
        target &= cells.state == LIVE
    if config.target_attribute is None:
        return target.astype(xp.float32)
    s = rising_ramp(
        xp,
        getattr(cells, config.target_attribute),
        F32(config.attribute_zero_at),
        F32(config.attribute_full_at),
    )
    return xp.where(target & ~xp.isnan(s), s, F32(0))
