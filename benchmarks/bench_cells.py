"""Cell benchmark: cell-steps/s of motility + mechanics + secretion, and of the pair kernel.

Each case builds a scenario with :func:`tissue.config.scenario_from_dict`: N motile cells
(radius 8.4 um, speed 2 um/min, persistence 5 min, PhysiCell's default repulsion and
adhesion) placed by ``initial_cells`` of kind ``random`` in a cubic box whose volume is
N x ``volume_per_cell_um3`` (3000 um^3 by default: tissue-like packing, a cell's own volume
is 2483 um^3), and a :class:`tissue.Simulation`. It then times

- one mechanics step as the schedule runs it: ``update_motility`` then ``move_cells``
  (tissue/rules.py; the cell grid, pair velocities and the confined move), dt = 0.1 min;
- ``build_cell_grid`` alone and ``pair_velocity`` alone on that grid
  (tissue/kernels/cells.py);
- secretion: ``cell_exchange`` (tissue/rules.py), every cell's source and uptake of one field
  added into its voxel of a full-size array (the sparse deposit), as the diffusion step
  gathers them;
- the cell step: the mechanics step and the secretion, the issue's motility + mechanics +
  secretion per cell.

Cells move between samples (each step continues the last), as in a run. Rates are
cell-steps/s = N / seconds per call; candidate pairs per cell (cells in the 27 neighbour
bins) say how much work the pair kernel does per cell.
"""

from __future__ import annotations

import math
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.common import (
    Column,
    Table,
    Timer,
    finish,
    free_device_memory,
    make_parser,
    make_timer,
    ms,
    open_backend,
    result_header,
    run_cases,
    si,
    spread_ms,
)
from tissue.backend import Backend, get_backend, to_numpy
from tissue.config import scenario_from_dict
from tissue.kernels.cells import build_cell_grid, pair_velocity
from tissue.rules import cell_exchange, move_cells, update_motility
from tissue.simulation import Simulation

ORGAN = "box"
CELL_TYPE = "cell"
FIELD = "signal"
SPACING_UM = 20.0
MECHANICS_DT_MIN = 0.1
VOLUME_PER_CELL_UM3 = 3000.0
DEFAULT_SIZES = {"cpu": [1_000, 10_000, 50_000], "gpu": [10_000, 100_000, 1_000_000, 10_000_000]}
DEFAULT_WARMUP = {"cpu": 2, "gpu": 3}
DEFAULT_REPEATS = {"cpu": 20, "gpu": 30}
PARITY_CELLS = 10_000  # GPU runs also step this many cells on the CPU and compare
PARITY_STEPS = 3
BYTES_PER_GPU_CELL = 600  # generous: store (x2 capacity), step temporaries, grid, sort


def cells_scenario(
    n: int, volume_per_cell_um3: float = VOLUME_PER_CELL_UM3, speed_um_per_min: float = 2.0
) -> dict[str, Any]:
    """Scenario dict: ``n`` random motile cells in a cube of n x volume_per_cell_um3."""
    side_um = (n * volume_per_cell_um3) ** (1.0 / 3.0)
    voxels = max(3, math.ceil(side_um / SPACING_UM))
    return {
        "name": f"bench-cells-{n}",
        "time_steps": {
            "diffusion_min": 1.0,
            "mechanics_min": MECHANICS_DT_MIN,
            "phenotype_min": 6.0,
        },
        "organs": {
            ORGAN: {
                "shape": [voxels, voxels, voxels],
                "spacing_um": side_um / voxels,  # the box is exactly side_um wide
                "geometry": {"kind": "box", "label": "tissue"},
            }
        },
        "cell_types": {
            CELL_TYPE: {
                "radius_um": 8.4,
                "speed_um_per_min": speed_um_per_min,
                "persistence_min": 5.0,
                "repulsion_um_per_min": 10.0,
                "adhesion_um_per_min": 0.4,
                "adhesion_range": 1.25,
                "secretion": {  # PhysiCell cancer-immune's immunostimulatory factor
                    FIELD: {
                        "secretion_rate_per_min": 10.0,
                        "secretion_target": 1.0,
                        "uptake_rate_per_min": 0.1,
                    },
                },
            }
        },
        "fields": {
            FIELD: {"diffusion_um2_per_min": 1000.0, "decay_per_min": 0.016},
        },
        "initial_cells": [{"kind": "random", "organ": ORGAN, "type": CELL_TYPE, "count": n}],
    }


def build(backend: Backend, n: int, volume_per_cell_um3: float) -> Simulation:
    """The simulation of one case on ``backend``."""
    scenario = scenario_from_dict(
        cells_scenario(n, volume_per_cell_um3), "benchmarks/bench_cells.py"
    )
    return Simulation(scenario, backend=backend, seed=0)


class Mechanics:
    """The mechanics process of one organ, stepped as Simulation.step does (tick k)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.organ = sim.organs[ORGAN]
        self.tick = 0

    def step(self) -> None:
        """update_motility then move_cells over MECHANICS_DT_MIN."""
        update_motility(self.organ, self.sim.types, self.sim.rng, self.tick, MECHANICS_DT_MIN)
        move_cells(self.organ, self.sim.types, MECHANICS_DT_MIN)
        self.tick += 1

    def grid(self) -> Any:
        """The cell grid of the current positions (as move_cells builds it)."""
        organ = self.organ
        return build_cell_grid(
            organ.xp,
            organ.cells.position_um,
            organ.grid.origin_xyz_um,
            organ.grid.extent_xyz_um,
            self.sim.types.max_interaction_um,
        )

    def pair_arguments(self) -> tuple[Any, ...]:
        """Positions and per-cell parameters for pair_velocity (grid excluded)."""
        types, t = self.sim.types, self.organ.cells.type
        return (
            self.organ.cells.position_um,
            types.of("radius_um", t),
            types.of("repulsion_um_per_min", t),
            types.of("adhesion_um_per_min", t),
            types.of("adhesion_range", t),
        )


def candidates_per_cell(grid: Any) -> float:
    """Mean number of other cells in a cell's 27 neighbour bins (pairs the kernel tests)."""
    counts = np.diff(to_numpy(grid.bin_start).astype(np.int64)).reshape(grid.shape_zyx)
    padded = np.pad(counts, 1)
    bz, by, bx = counts.shape
    around = np.zeros_like(counts)
    for dz in range(3):
        for dy in range(3):
            for dx in range(3):
                around += padded[dz : dz + bz, dy : dy + by, dx : dx + bx]
    total = int(counts.sum())
    return float((counts * (around - 1)).sum() / max(total, 1))


def run_case(backend: Backend, timer: Timer, n: int, volume_per_cell_um3: float) -> dict[str, Any]:
    """Time one case: the mechanics step, the grid build and the pair kernel (s, per s)."""
    sim = build(backend, n, volume_per_cell_um3)
    mechanics = Mechanics(sim)
    organ = mechanics.organ
    placed = organ.cells.n
    step = timer.time(mechanics.step)
    grid_timing = timer.time(mechanics.grid)
    grid = mechanics.grid()
    arguments = mechanics.pair_arguments()
    kinds = organ.cells.type  # gathered with the columns, as the step passes them
    pair = timer.time(lambda: pair_velocity(*arguments, grid, kinds))
    terms = organ.xp.zeros(organ.grid.shape_zyx, dtype=organ.xp.float32)

    def secrete() -> None:
        """The cells' terms, added into a field's full-size terms as the step adds them."""
        for deposits in cell_exchange(organ, sim.types):
            for deposit in deposits.values():
                deposit.add_to(terms)

    secretion = timer.time(secrete)
    source, _ = cell_exchange(organ, sim.types)
    dense = source[FIELD].dense(organ.grid.shape_zyx)
    deposited = float(to_numpy(dense).astype(np.float64).sum())
    velocity = to_numpy(pair_velocity(*arguments, grid, kinds))
    positions = to_numpy(organ.cells.position_um)
    speed = np.sqrt((velocity.astype(np.float64) ** 2).sum(axis=1))
    candidates = candidates_per_cell(grid)
    side_um = organ.grid.extent_xyz_um[0]
    case: dict[str, Any] = {
        "n_requested": n,
        "n": placed,
        "box_side_um": side_um,
        "volume_per_cell_um3": side_um**3 / max(placed, 1),
        "bins_zyx": list(grid.shape_zyx),
        "bin_um": sim.types.max_interaction_um,
        "candidate_pairs_per_cell": candidates,
        "mechanics_steps_timed": mechanics.tick,
        "mechanics_step": {**step.to_dict(), "cell_steps_per_s": placed / step.median_s},
        "build_cell_grid": {
            **grid_timing.to_dict(),
            "cell_steps_per_s": placed / grid_timing.median_s,
        },
        "pair_velocity": {
            **pair.to_dict(),
            "cell_steps_per_s": placed / pair.median_s,
            "candidate_pairs_per_s": placed * candidates / pair.median_s,
        },
        "grid_and_pair_cell_steps_per_s": placed / (grid_timing.median_s + pair.median_s),
        "secretion": {**secretion.to_dict(), "cell_steps_per_s": placed / secretion.median_s},
        "cell_step": {
            "seconds": step.median_s + secretion.median_s,
            "cell_steps_per_s": placed / (step.median_s + secretion.median_s),
            "counted": "median mechanics step + median secretion",
        },
        "check": {
            "positions_finite": bool(np.isfinite(positions).all()),
            "pair_speed_mean_um_per_min": float(speed.mean()),
            "pair_speed_max_um_per_min": float(speed.max()),
        },
    }
    if placed != n:
        case["note"] = f"{n - placed} of {n} requested cells were not placed by the engine"
    case["check"]["secretion_source_sum"] = deposited
    if not deposited > 0:
        raise RuntimeError(f"n={n}: the cells deposited no secretion")
    if not case["check"]["positions_finite"] or not np.isfinite(speed).all():
        raise RuntimeError(f"n={n}: positions or pair velocities are not finite")
    return case


def parity_vs_cpu(backend: Backend, n: int, volume_per_cell_um3: float) -> dict[str, Any]:
    """Fresh GPU and CPU runs of ``n`` cells, PARITY_STEPS mechanics steps: max |diff| (um)."""
    positions = []
    for b in (backend, get_backend("cpu")):
        mechanics = Mechanics(build(b, n, volume_per_cell_um3))
        for _ in range(PARITY_STEPS):
            mechanics.step()
        positions.append(to_numpy(mechanics.organ.cells.position_um).astype(np.float64))
        del mechanics
    free_device_memory(backend)
    if positions[0].shape != positions[1].shape:
        return {"cells": n, "steps": PARITY_STEPS, "shape_mismatch": True}
    diff = np.abs(positions[0] - positions[1])
    return {
        "cells": n,
        "steps": PARITY_STEPS,
        "max_abs_diff_um": float(diff.max()),
        "bit_identical": bool((diff == 0).all()),
    }


def summary_tables(result: dict[str, Any]) -> list[Table]:
    """The mechanics, grid, pair-kernel and secretion timings of each case."""
    columns = [
        # cells placed; cells requested where the case did not run
        Column("N cells", lambda case: case.get("n", case["n_requested"]), "{:,}"),
        Column("box um", "box_side_um", "{:.0f}"),
        Column("pairs tested/cell", "candidate_pairs_per_cell", "{:.1f}"),
        Column("mechanics ms/step [min-max]", "mechanics_step", spread_ms),
        Column("mechanics cell-steps/s", "mechanics_step.cell_steps_per_s", si),
        Column("grid ms", "build_cell_grid.median_s", ms),
        Column("pair kernel ms [min-max]", "pair_velocity", spread_ms),
        Column("pair kernel cell-steps/s", "pair_velocity.cell_steps_per_s", si),
        Column("secretion ms", "secretion.median_s", ms),
        Column("cell step cell-steps/s", "cell_step.cell_steps_per_s", si),
    ]
    title = "One mechanics step (motility + pair velocities + move), secretion, and both"
    return [Table(title, columns, result["cases"])]


def summary_notes(result: dict[str, Any]) -> list[str]:
    """Lines under the table: packing and parity."""
    notes = [
        f"Random placement at {result['settings']['volume_per_cell_um3']:g} um^3 per cell, "
        f"radius 8.4 um, speed 2 um/min, dt {MECHANICS_DT_MIN} min."
    ]
    for case in result["cases"]:
        if "note" in case:
            notes.append(f"N={case['n_requested']:,}: {case['note']}.")
    parity = result.get("parity_vs_cpu")
    if parity and "error" in parity:
        notes.append(f"GPU vs CPU check failed: {parity['error']}")
    if parity and "max_abs_diff_um" in parity:
        notes.append(
            f"GPU vs CPU, {parity['cells']:,} cells after {parity['steps']} steps: max |diff| "
            f"{parity['max_abs_diff_um']:.3g} um (bit-identical: {parity['bit_identical']})."
        )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON; returns the exit code."""
    parser = make_parser(__doc__.splitlines()[0], "cell counts, e.g. 1e4,1e5")
    parser.add_argument("--volume-per-cell-um3", type=float, default=VOLUME_PER_CELL_UM3)
    args = parser.parse_args(argv)
    backend = open_backend(args.backend)
    name = backend.name
    sizes = args.sizes or DEFAULT_SIZES[name]
    timer = make_timer(backend, args, DEFAULT_WARMUP, DEFAULT_REPEATS)
    result = result_header("cells", backend, timer)
    result["settings"] = {
        "volume_per_cell_um3": args.volume_per_cell_um3,
        "mechanics_dt_min": MECHANICS_DT_MIN,
        "scenario_example": cells_scenario(sizes[0], args.volume_per_cell_um3),
    }

    def run_one(n: int) -> dict[str, Any]:
        case = run_case(backend, timer, n, args.volume_per_cell_um3)
        print(
            f"N={n:,}: {case['mechanics_step']['median_s'] * 1e3:.3g} ms/step, "
            f"{si(case['mechanics_step']['cell_steps_per_s'])} cell-steps/s",
            flush=True,
        )
        return case

    result["cases"], all_ok = run_cases(
        backend, sizes, run_one, lambda n: BYTES_PER_GPU_CELL * n, "n_requested"
    )
    if backend.is_gpu:
        try:
            result["parity_vs_cpu"] = parity_vs_cpu(backend, PARITY_CELLS, args.volume_per_cell_um3)
        except Exception as error:  # keep the timings; report the failed check
            traceback.print_exc()
            result["parity_vs_cpu"] = {"error": f"{type(error).__name__}: {error}"}
            all_ok = False
    return finish(result, args, all_ok)


if __name__ == "__main__":
    sys.exit(main())
