"""Sense checks of a loaded state against its scenario, before a run continues from it.

A checkpoint's checksum proves that the file is what tissue wrote; these checks catch a state
that is internally impossible (a file written by a faulty version, or edited and re-sealed):
each failure is one line naming the file, the entry and what is allowed.
"""

from __future__ import annotations

import math

import numpy as np

from tissue.cells import STATE_NAMES
from tissue.config import Scenario
from tissue.errors import InputError
from tissue.grid import Grid
from tissue.schedule import Schedule
from tissue.signals import BEHAVIOUR_KINDS, CHEMOTAXIS_COLUMN, OWN, parse_behaviour
from tissue.state import SimulationState


def validate_state(scenario: Scenario, state: SimulationState, source: str) -> None:
    """Refuse a state that cannot have come from a run of ``scenario``.

    Checks: tick >= 0 and time = tick x the base step; seed in range; each organ's labels
    of the grid's shape holding only the organ's label codes; every field finite; cells
    with n <= capacity, ids unique, increasing and below ``next_id``, known type and state
    codes, finite positions inside the grid (within one voxel; on the plane of a 2-D
    organ), finite ages; the blood's concentrations finite and its counters non-negative.

    Raises:
        InputError: the first check that fails, as one line.
    """

    def refuse(key: str, message: str) -> None:
        raise InputError(source, key, message)

    if state.tick < 0:
        refuse("tick", f"{state.tick}; allowed: >= 0")
    if not 0 <= state.seed < 2**63:
        refuse("seed", f"{state.seed}; allowed: 0 <= seed < 2**63")
    base = Schedule.from_scenario(scenario).base_min
    if not math.isclose(state.time_min, state.tick * base, rel_tol=1e-9, abs_tol=1e-9):
        refuse(
            "time_min",
            f"{state.time_min} does not match tick {state.tick} x {base} min (the scenario's "
            "base step)",
        )
    for oname, organ in scenario.organs.items():
        prefix = f"organs/{oname}"
        labels = state.arrays.get(f"{prefix}/labels")
        if labels is None or labels.ndim != 3:
            refuse(f"state/{prefix}/labels", "missing or not 3-D")
            return
        if organ.shape is not None and labels.shape != tuple(reversed(organ.shape)):
            refuse(
                f"state/{prefix}/labels",
                f"shape {labels.shape} (z, y, x) does not fit the scenario's shape "
                f"{list(organ.shape)} (x, y, z)",
            )
        codes = np.array(sorted(organ.label_names().values()), dtype=np.int64)
        unknown = np.setdiff1d(np.unique(labels), codes)
        if unknown.size:
            refuse(f"state/{prefix}/labels", f"unknown label codes {unknown[:5].tolist()}")
        for name, values in state.under(f"{prefix}/fields").items():
            if not np.isfinite(values).all():
                refuse(f"state/{prefix}/fields/{name}", "holds NaN or infinite values")
        grid = Grid(labels.shape, organ.spacing_xyz_um, organ.origin_um, organ.two_d)
        _check_cells(scenario, state, prefix, grid, source)
    for name, values in state.under("circulation/species").items():
        if not np.isfinite(values).all():
            refuse(f"state/circulation/species/{name}", "holds NaN or infinite values")
    for name, value in state.counters.get("circulation", {}).items():
        if value < 0:
            refuse(f"state/circulation/{name}", f"{value}; allowed: >= 0")


def _check_cells(
    scenario: Scenario, state: SimulationState, prefix: str, grid: Grid, source: str
) -> None:
    key = f"state/{prefix}/cells"
    counters = state.counters.get(f"{prefix}/cells", {})
    columns = state.under(f"{prefix}/cells")
    n, next_id = counters.get("n", -1), counters.get("next_id", -1)

    def fail(what: str, message: str) -> None:
        raise InputError(source, f"{key}/{what}" if what else key, message)

    if n < 0 or next_id < 0:
        fail("", f"counters n={n}, next_id={next_id}; allowed: n >= 0, next_id >= 0")
    for name, values in columns.items():
        if values.shape[:1] != (n,):
            fail(name, f"{values.shape[0] if values.ndim else 0} rows; the counter n says {n}")
    ids = columns.get("id")
    if ids is not None and n:
        if np.any(np.diff(ids) <= 0):
            fail("id", "ids are not unique and increasing")
        if ids[0] < 0 or ids[-1] >= next_id:
            fail("id", f"ids {ids[0]}..{ids[-1]}; allowed: 0 <= id < next_id = {next_id}")
    types = columns.get("type")
    if types is not None and n and (types.min() < 0 or types.max() >= len(scenario.cell_types)):
        fail(
            "type",
            f"type codes {int(types.min())}..{int(types.max())}; allowed: 0.."
            f"{len(scenario.cell_types) - 1} ({', '.join(scenario.cell_types)})",
        )
    states = columns.get("state")
    if states is not None and n and not np.isin(states, list(STATE_NAMES)).all():
        fail("state", f"unknown state codes; allowed: {sorted(STATE_NAMES)}")
    declaring: dict[str, list[int]] = {}  # attribute -> type codes that have it (others: NaN)
    for t, ctype in enumerate(scenario.cell_types.values()):
        for name in ctype.attributes:
            declaring.setdefault(name, []).append(t)
    for name, values in columns.items():
        if values.dtype.kind != "f":
            continue
        if name in declaring and types is not None:
            has = np.isin(types, declaring[name])
            if not (np.isfinite(values[has]).all() and np.isnan(values[~has]).all()):
                fail(name, "holds NaN or infinite values for cells of types that have it, or "
                     "values for cells of types that do not")  # fmt: skip
        elif _behaviour_values(name):  # NaN: the type's value
            if np.isinf(values).any() and not name.startswith(OWN):
                fail(name, "holds infinite values")
        elif not np.isfinite(values).all():
            fail(name, "holds NaN or infinite values")
    positions = columns.get("position_um")
    if positions is not None and n:
        spacing = np.asarray(grid.spacing_xyz_um)
        low = np.asarray(grid.origin_xyz_um) - spacing
        high = np.asarray(grid.origin_xyz_um) + np.asarray(grid.extent_xyz_um) + spacing
        outside = ~((positions >= low) & (positions <= high)).all(axis=1)
        if outside.any():
            fail(
                "position_um",
                f"{int(outside.sum())} cells outside the grid {low.tolist()}..{high.tolist()} um",
            )
        off = int(np.count_nonzero(positions[:, 2] != grid.plane_z_um)) if grid.two_d else 0
        if off:
            fail("position_um", f"{off} cells off the 2-D organ's plane z = {grid.plane_z_um} um")


def _behaviour_values(column: str) -> bool:
    """Whether a cell column holds per-cell values of a behaviour (held between phenotype
    steps, a cell's own, or its chemotactic sensitivities), where NaN stands for the type's
    value."""
    if column.startswith(OWN) or column == CHEMOTAXIS_COLUMN:
        return True
    return parse_behaviour(column).kind in BEHAVIOUR_KINDS
