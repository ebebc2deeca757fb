"""Where PhysiCell's oxygen differs from tissue's: BioFVM's LOD step with Dirichlet voxels.

BioFVM (``diffusion_decay_solver__constant_coefficients_LOD_3D``, PhysiCell 1.14.2) solves
each of x, y, z in turn as a tridiagonal system over the whole line, the Dirichlet voxels
included as ordinary unknowns with no-flux ends, and writes the Dirichlet values back after
each sweep. Within a sweep the boundary voxel is pulled toward the interior (by
k = dt D / dx^2 = 2.5 for oxygen at dt = 0.01 min, 20 um voxels), so the interior sees a
boundary below its value (a dip of ~1.7 mmHg in the first interior voxel). PhysiCell then
applies the cells' uptake as a separate implicit step after each diffusion step, and its cells
read their voxel's oxygen (and its outputs record the field) right after that uptake, which
is lower than the field by the factor 1 / (1 + dt u): with two cells in a voxel (u ~ 6/min)
about 6% at dt = 0.01 min. This script ports the loop to NumPy line for line (float64), runs
it to steady state on the harness's reduced domain (18^3 voxels of 20 um, oxygen D = 1e5
um^2/min, decay 0.1/min, 38 mmHg on the outer voxels) with a ball of cells' uptake, at
PhysiCell's dt and shorter ones, and compares both samples with the exact steady state of
the same discrete equation (a sparse direct solve), which tissue's implicit solver reaches
(tests/validation). With ``--physicell-run DIR`` it also measures a real run of the harness:
at each of its outputs up to the immune cells' arrival, the oxygen PhysiCell recorded at its
tumour cells against the exact steady state for those same cells (uptake 10/min x each
cell's own volume). Writes ``benchmarks/results/biofvm-lod-oxygen.json``.

    python -m benchmarks.physicell.biofvm_lod [--physicell-run build/runs/seed1]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.bench_diffusion import thomas_coefficients, thomas_sweep
from benchmarks.common import RESULTS_DIR, git_info

N = 18  # voxels per side (the harness's 360 um cube)
DX = 20.0  # um
D = 1.0e5  # um^2/min
DECAY = 0.1  # 1/min
BOUNDARY = 38.0  # mmHg on the outer voxels
# the tumour at day 0.5 in the harness: ~420 cells within ~75 um; PhysiCell's lattice gives
# each cell 3,566 um^3, so the voxels inside take up 10/min x 2,494 / 3,566
BALL_UM = 75.0
UPTAKE = 10.0 * 2494.0 / 3566.0
RESULT = RESULTS_DIR / "biofvm-lod-oxygen.json"


def geometry() -> tuple[np.ndarray, np.ndarray]:
    """(N, N, N) uptake rate (1/min) and the Dirichlet mask (the outer voxels)."""
    centre = (np.arange(N) + 0.5) * DX - N * DX / 2
    z, y, x = np.meshgrid(centre, centre, centre, indexing="ij")
    uptake = np.where(x * x + y * y + z * z <= BALL_UM**2, UPTAKE, 0.0)
    edge = np.zeros((N, N, N), dtype=bool)
    edge[[0, -1], :, :] = edge[:, [0, -1], :] = edge[:, :, [0, -1]] = True
    return uptake, edge


def lod_step(field: np.ndarray, edge: np.ndarray, dt: float, coefficients: Any) -> np.ndarray:
    """One BioFVM LOD diffusion-decay step (x, then y, then z sweeps with the Thomas
    factors of :func:`benchmarks.bench_diffusion.thomas_coefficients`, the Dirichlet values
    written before and after each), in place on a (z, y, x) float64 field."""
    k = dt * D / DX**2
    denom, upper = coefficients
    field[edge] = BOUNDARY
    for axis in (2, 1, 0):
        thomas_sweep(field, axis, k, denom, upper)
        field[edge] = BOUNDARY
    return field


def biofvm_steady(
    dt: float, uptake: np.ndarray, edge: np.ndarray, minutes: float
) -> tuple[np.ndarray, np.ndarray]:
    """PhysiCell's loop run ``minutes`` from 38 everywhere: each step the LOD step
    (``simulate_diffusion_decay``), then the cells' uptake (``update_all_cells`` ->
    ``Secretion::advance``: BioFVM's implicit sink, c / (1 + dt u) per voxel). Returns the
    field after the LOD step and after the uptake: PhysiCell's cells read (and its outputs
    write) the second."""
    field = np.full((N, N, N), BOUNDARY)
    coefficients = thomas_coefficients(N, dt * D / DX**2, dt * DECAY / 3.0)
    sink = 1.0 / (1.0 + dt * uptake)
    for _ in range(round(minutes / dt)):
        lod_step(field, edge, dt, coefficients)
        after_lod = field.copy()
        field *= sink
    return after_lod, field


def exact_steady(uptake: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """The steady state of D lap(c) - (decay + uptake) c = 0 on the 7-point stencil with
    no-flux outer faces and the outer voxels held at 38 (a sparse direct solve)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    index = np.arange(N**3).reshape(N, N, N)
    rows, cols, vals = [], [], []
    rhs = np.zeros(N**3)
    k = D / DX**2
    diagonal = DECAY + uptake.reshape(-1).copy()
    for axis in range(3):
        for step in (-1, 1):
            neighbour = np.roll(index, -step, axis=axis)
            inside = np.ones((N, N, N), dtype=bool)
            edge_slice = [slice(None)] * 3
            edge_slice[axis] = N - 1 if step == 1 else 0
            inside[tuple(edge_slice)] = False
            rows.append(index[inside])
            cols.append(neighbour[inside])
            vals.append(np.full(inside.sum(), -k))
            diagonal[index[inside]] += k
    free = ~edge.reshape(-1)
    a = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(N**3,) * 2
    ).tocsr()
    a = a + coo_matrix((diagonal, (np.arange(N**3), np.arange(N**3))), shape=(N**3,) * 2)
    fixed = np.full(N**3, BOUNDARY)
    rhs = -(a[:, ~free] @ fixed[~free])
    solution = fixed.copy()
    solution[free] = spsolve(a[free][:, free].tocsc(), rhs[free])
    return solution.reshape(N, N, N)


def summary(field: np.ndarray, uptake: np.ndarray) -> dict[str, Any]:
    ball = uptake > 0
    return {
        "centre_mmHg": round(float(field[N // 2, N // 2, N // 2]), 4),
        "ball_mean_mmHg": round(float(field[ball].mean()), 4),
        "ball_min_mmHg": round(float(field[ball].min()), 4),
        "line_x_through_centre": [round(float(v), 3) for v in field[N // 2, N // 2, :]],
    }


def measured(run_dir: Path, last_min: float = 720.0) -> list[dict[str, Any]]:
    """PhysiCell's recorded oxygen at its live tumour cells against the exact steady state
    for the same cells, at every output up to ``last_min`` after the first (mmHg)."""
    from tissue.io.multicellds import read_mat4, read_output

    _, edge = geometry()
    rows = []
    for index in range(1, 1000):
        xml = run_dir / "output" / f"output{index:08d}.xml"
        if not xml.exists():
            break
        output = read_output(xml)
        if output.time_min > last_min + 1e-6:
            break
        cells = output.columns
        tumour = (cells["cell_type"] == 0) & (cells["dead"] == 0)
        ijk = np.floor((cells["position"][tumour] + N * DX / 2) / DX).astype(np.int64)
        voxel = (ijk[:, 2], ijk[:, 1], ijk[:, 0])
        uptake = np.zeros((N, N, N))
        np.add.at(uptake, voxel, 10.0 * cells["total_volume"][tumour] / DX**3)
        exact = exact_steady(uptake, edge)
        _, mesh = read_mat4(xml.with_name(f"output{index:08d}_microenvironment0.mat"))
        recorded = np.zeros((N, N, N))
        at = np.floor((mesh[:3] + N * DX / 2) / DX).astype(np.int64)
        recorded[at[2], at[1], at[0]] = mesh[4]
        seen, truth = recorded[voxel], exact[voxel]
        ramp = lambda o: np.clip((o - 5.0) / 33.0, 0.0, 1.0).mean()  # noqa: E731
        rows.append({
            "time_min": round(output.time_min, 2),
            "tumour_cells": int(tumour.sum()),
            "physicell_mmHg": round(float(seen.mean()), 3),
            "exact_mmHg": round(float(truth.mean()), 3),
            "physicell_minus_exact_mmHg": round(float((seen - truth).mean()), 3),
            "cycle_multiplier_physicell": round(float(ramp(seen)), 4),
            "cycle_multiplier_exact": round(float(ramp(truth)), 4),
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--physicell-run", type=Path, default=None)
    args = parser.parse_args(argv)
    uptake, edge = geometry()
    exact = exact_steady(uptake, edge)
    result: dict[str, Any] = {
        "benchmark": "biofvm-lod-oxygen",
        "git": git_info(),
        "setup": {
            "voxels": N,
            "dx_um": DX,
            "D_um2_per_min": D,
            "decay_per_min": DECAY,
            "dirichlet_mmHg": BOUNDARY,
            "uptake_ball_um": BALL_UM,
            "uptake_per_min": UPTAKE,
        },
        "exact_steady": summary(exact, uptake),
        "biofvm_lod": {},
    }
    for dt in (0.01, 0.003, 0.001):
        after_lod, after_uptake = biofvm_steady(dt, uptake, edge, minutes=3.0)
        row = {
            "after_lod": summary(after_lod, uptake),
            "after_uptake": summary(after_uptake, uptake),
        }
        exact_mean = result["exact_steady"]["ball_mean_mmHg"]
        for key in ("after_lod", "after_uptake"):
            row[key]["ball_mean_minus_exact_mmHg"] = round(
                row[key]["ball_mean_mmHg"] - exact_mean, 4
            )
        result["biofvm_lod"][f"{dt:g}"] = row
        print(f"dt {dt:g} min: ball mean after the LOD step "
              f"{row['after_lod']['ball_mean_minus_exact_mmHg']:+.3f} mmHg from the exact steady "
              f"state, after the uptake (what cells read) "
              f"{row['after_uptake']['ball_mean_minus_exact_mmHg']:+.3f}")  # fmt: skip
    print(f"exact: ball mean {result['exact_steady']['ball_mean_mmHg']:.3f} mmHg")
    if args.physicell_run is not None:
        rows = measured(args.physicell_run)
        result["physicell_run"] = {"folder": args.physicell_run.name, "outputs": rows}
        for row in rows:
            print(f"PhysiCell at {row['time_min']:g} min: {row['physicell_mmHg']} mmHg at its "
                  f"tumour cells, exact {row['exact_mmHg']} "
                  f"({row['physicell_minus_exact_mmHg']:+.3f})")  # fmt: skip
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
