"""Cell rules, written once against the backend's array module.

Order within a step of each process (documented, fixed):
- mechanics (dt_m): motility direction update -> pair velocities -> move, confined to
  labels the type may enter and to the organ's box;
- phenotype (dt_p): death (apoptosis, then necrosis) -> clearance of dead cells ->
  division of live cells;
- exchange (each diffusion step): secretion and uptake of live cells into their voxels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tissue.cells import APOPTOTIC, LIVE, NECROTIC
from tissue.config import Scenario
from tissue.kernels.cells import build_cell_grid, deposit, pair_velocity
from tissue.rng import CellRandom, Purpose, unit_vectors

if TYPE_CHECKING:
    from tissue.simulation import Organ

F32 = np.float32


@dataclass(frozen=True)
class CellTypes:
    """Per-type parameters as (n_types,) backend arrays, indexed by a cell's type."""

    names: list[str]
    params: dict[str, Any]
    chemotaxis_field: list[str | None]
    oxygen_field: list[str | None]
    secretion: dict[str, dict[str, Any]]  # field -> {"S","T","U","E"} (n_types,) arrays
    max_interaction_um: float  # longest centre-to-centre interaction between any two types

    PARAMS = (
        "radius_um", "speed_um_per_min", "persistence_min", "chemotaxis_bias",
        "cycle_rate_per_min", "cycle_oxygen_threshold", "cycle_oxygen_saturation",
        "apoptosis_rate_per_min", "apoptotic_clearance_min", "necrosis_rate_per_min",
        "necrosis_oxygen_threshold", "necrosis_oxygen_max", "necrotic_clearance_min",
        "repulsion_um_per_min", "adhesion_um_per_min", "adhesion_range",
    )  # fmt: skip

    @classmethod
    def from_scenario(cls, xp: Any, scenario: Scenario) -> CellTypes:
        types = scenario.cell_types
        names = list(types)
        params = {
            p: xp.asarray([getattr(types[t], p) for t in names], dtype=xp.float32)
            for p in cls.PARAMS
        }
        secretion: dict[str, dict[str, Any]] = {}
        for field in scenario.fields:
            specs = [types[t].secretion.get(field) for t in names]
            if not any(specs):
                continue
            table = {"S": [], "T": [], "U": [], "E": []}
            for spec in specs:
                table["S"].append(spec.secretion_rate_per_min if spec else 0.0)
                table["T"].append(spec.secretion_target if spec else 0.0)
                table["U"].append(spec.uptake_rate_per_min if spec else 0.0)
                table["E"].append(spec.export_rate if spec else 0.0)
            secretion[field] = {k: xp.asarray(v, dtype=xp.float32) for k, v in table.items()}
        reach = [max(2 * c.radius_um, 2 * c.adhesion_range * c.radius_um) for c in types.values()]
        return cls(
            names=names,
            params=params,
            chemotaxis_field=[types[t].chemotaxis_field for t in names],
            oxygen_field=[types[t].oxygen_field for t in names],
            secretion=secretion,
            # a hair wider than the float32 reach the kernels compare distances with
            max_interaction_um=max(reach, default=1.0) * (1 + 1e-5),
        )

    def of(self, name: str, type_index: Any) -> Any:
        """Parameter ``name`` of each cell, (N,) float32."""
        return self.params[name][type_index]


def allowed_positions(organ: Organ, type_index: Any, positions_um: Any) -> Any:
    """(N,) bool: inside the organ's box and in a voxel the cell's type may enter."""
    xp = organ.xp
    inside = organ.grid.contains(xp, positions_um)
    flat = organ.grid.flat_index(xp, positions_um)
    label = organ.labels.reshape(-1)[flat]
    return inside & organ.allowed[type_index.astype(xp.int64), label.astype(xp.int64)]


# --- mechanics -----------------------------------------------------------------------


def update_motility(
    organ: Organ, types: CellTypes, rng: CellRandom, step: int, dt_min: float
) -> None:
    """PhysiCell's persistent biased random walk: with probability 1 - exp(-dt/P) a motile
    cell draws direction = normalise(b * grad/|grad| + (1 - b) * random unit vector)."""
    xp, cells = organ.xp, organ.cells
    if cells.n == 0:
        return
    speed = types.of("speed_um_per_min", cells.type)
    motile = xp.nonzero((cells.state == LIVE) & (speed > 0))[0]
    if motile.shape[0] == 0:
        return
    type_index = cells.type[motile]
    u = rng.uniform(cells.id[motile], step, Purpose.MOTILITY)
    p_turn = -xp.expm1(F32(-dt_min) / types.of("persistence_min", type_index))
    old = cells.direction[motile]
    unset = (old * old).sum(axis=1) == 0
    turn = (u[:, 0] < p_turn) | unset
    new = unit_vectors(xp, u[:, 1], u[:, 2])
    bias = types.of("chemotaxis_bias", type_index)
    for t, field in enumerate(types.chemotaxis_field):
        if field is None or field not in organ.fields.values:
            continue
        sel = xp.nonzero(type_index == t)[0]
        if sel.shape[0] == 0:
            continue
        ijk = organ.grid.voxel_ijk(xp, cells.position_um[motile[sel]])
        grad = organ.fields.gradient(field, ijk)
        norm = xp.sqrt((grad * grad).sum(axis=1, keepdims=True))
        unit_grad = xp.where(norm > 0, grad / xp.maximum(norm, F32(1e-30)), F32(0))
        b = bias[sel][:, None]
        mixed = b * unit_grad + (F32(1) - b) * new[sel]
        length = xp.sqrt((mixed * mixed).sum(axis=1, keepdims=True))
        new[sel] = xp.where(length > 0, mixed / xp.maximum(length, F32(1e-30)), new[sel])
    cells.direction[motile] = xp.where(turn[:, None], new, old)


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
    live = (cells.state == LIVE)[:, None]
    velocity += xp.where(live, types.of("speed_um_per_min", t)[:, None] * cells.direction, 0)
    old = cells.position_um
    new = old + F32(dt_min) * velocity
    # positions are always allowed (placement, division and motion keep them so); a cell
    # that is not can still move into an allowed voxel
    blocked = xp.nonzero(~allowed_positions(organ, t, new))[0]
    if blocked.shape[0]:
        position = old[blocked].copy()
        for axis in range(3):
            trial = position.copy()
            trial[:, axis] = new[blocked, axis]
            fits = allowed_positions(organ, t[blocked], trial)
            position[:, axis] = xp.where(fits, trial[:, axis], position[:, axis])
        new[blocked] = position
    cells.position_um[...] = new


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
    organ: Organ, types: CellTypes, rng: CellRandom, step: int, dt_min: float
) -> None:
    """Death, clearance and division over ``dt_min``.

    Probabilities per step: apoptosis and necrosis 1 - exp(-rate dt); division
    exp(rate dt) - 1, so the expected number of live cells grows as exp((b - d) t) exactly.
    """
    xp, cells = organ.xp, organ.cells
    if cells.n == 0:
        return
    t = cells.type
    dt = F32(dt_min)
    oxygen = _oxygen(organ, types, fill=math.inf)
    live = cells.state == LIVE

    u = rng.uniform(cells.id, step, Purpose.DEATH)
    p_apoptosis = -xp.expm1(-types.of("apoptosis_rate_per_min", t) * dt)
    necrosis_rate = types.of("necrosis_rate_per_min", t) * falling_ramp(
        xp, oxygen, types.of("necrosis_oxygen_threshold", t), types.of("necrosis_oxygen_max", t)
    )
    p_necrosis = -xp.expm1(-necrosis_rate * dt)
    apoptotic = live & (u[:, 0] < p_apoptosis)
    necrotic = live & ~apoptotic & (u[:, 1] < p_necrosis)
    cells.state[apoptotic] = APOPTOTIC
    cells.state[necrotic] = NECROTIC
    cells.state_time_min[apoptotic | necrotic] = 0
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

    live = cells.state == LIVE
    cycle = types.of("cycle_rate_per_min", t) * rising_ramp(
        xp,
        oxygen,
        types.of("cycle_oxygen_threshold", t),
        types.of("cycle_oxygen_saturation", t),
    )
    u = rng.uniform(cells.id, step, Purpose.DIVISION)
    p_divide = xp.minimum(xp.expm1(cycle * dt), F32(1))
    parents = xp.nonzero(live & (u[:, 0] < p_divide))[0]
    if parents.shape[0]:
        divide_cells(organ, types, parents, unit_vectors(xp, u[parents, 1], u[parents, 2]))


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
        ok = allowed_positions(organ, t, trial)[:, None]
        placed.append(xp.where(ok, trial, centre))
    cells.position_um[parents] = placed[0]
    cells.age_min[parents] = 0
    cells.duplicate(parents, placed[1])


# --- exchange with fields ------------------------------------------------------------


def cell_exchange(organ: Organ, types: CellTypes) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-voxel source (units/min) and uptake (1/min) of each field from live cells.

    BioFVM's cell model: a cell adds (S T V_c + E) / V_vox to the source and
    (S + U) V_c / V_vox to the uptake of its voxel.
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
        columns.append(xp.where(live, (s * target * volume + e) * inv_vox, F32(0)))
        columns.append(xp.where(live, (s + u) * volume * inv_vox, F32(0)))
    values = xp.stack(columns, axis=1).astype(xp.float32)
    flat = organ.grid.flat_index(xp, cells.position_um)
    sums = deposit(flat, values, organ.grid.n_voxels)
    shape = organ.grid.shape_zyx
    source = {f: sums[2 * i].reshape(shape) for i, f in enumerate(fields)}
    uptake = {f: sums[2 * i + 1].reshape(shape) for i, f in enumerate(fields)}
    return source, uptake
