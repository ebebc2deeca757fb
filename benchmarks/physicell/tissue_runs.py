"""tissue's side: run the ``cancer_immune`` scenario for each seed with the command line and
read the same curves from each run's ``run.h5``.

Each run is ``python -m tissue.cli run SCENARIO -o RUNS/seed<N> --seed N --days D --backend
cpu --set run.snapshot_interval_min=60 [--set ...]``; the curves come from the snapshots of
organ ``tissue`` (type names from the run file, ``state`` 0 = live, an ``oncoprotein`` column
where the engine records one), with the domain's centre taken from the organ's grid.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import REPO_ROOT
from benchmarks.physicell.quantities import compute_quantities, curves
from tissue.io import RunReader

DEFAULT_SCENARIO = REPO_ROOT / "tissue" / "scenarios" / "cancer_immune.toml"
RUNS_DIR = Path(__file__).resolve().parent / "build" / "tissue-runs"
ORGAN = "tissue"
TUMOUR_TYPE = "tumour"
IMMUNE_TYPE = "immune"
SNAPSHOT_INTERVAL_MIN = 60.0
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def command(
    scenario: Path, folder: Path, seed: int, days: float, overrides: Sequence[str]
) -> list[str]:
    """The command line of one run."""
    sets = [f"run.snapshot_interval_min={SNAPSHOT_INTERVAL_MIN:g}", *overrides]
    return [
        sys.executable, "-m", "tissue.cli", "run", str(scenario), "-o", str(folder),
        "--seed", str(seed), "--days", f"{days:g}", "--backend", "cpu", "--quiet",
        *[part for value in sets for part in ("--set", value)],
    ]  # fmt: skip


def run_seed(
    scenario: Path,
    seed: int,
    days: float,
    threads: int,
    overrides: Sequence[str] = (),
    runs_dir: Path = RUNS_DIR,
) -> dict[str, Any]:
    """Run one seed into ``runs_dir/seed<seed>``; its wall time and curves."""
    folder = runs_dir / f"seed{seed}"
    if folder.exists():
        shutil.rmtree(folder)
    runs_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(threads))}
    start = time.perf_counter()
    done = subprocess.run(
        command(scenario, folder, seed, days, overrides),
        cwd=REPO_ROOT, capture_output=True, text=True, env=env,
    )  # fmt: skip
    wall_s = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"seed {seed}: tissue run exited {done.returncode}: {done.stderr[-2000:]}"
        )
    result = read_run(folder / "run.h5")
    result.update(
        seed=seed,
        wall_s=round(wall_s, 2),
        wall_s_per_sim_min=wall_s / (days * 1440.0),
        threads=threads,
    )
    return result


def read_run(path: Path) -> dict[str, Any]:
    """Curves of one run file (every snapshot), its time steps and whether it had
    oncoprotein."""
    reader = RunReader(path)
    grid = reader.organ_info(ORGAN).grid
    shape_xyz = np.asarray(grid.shape_zyx[::-1], dtype=np.float64)
    centre = np.asarray(grid.origin_xyz_um) + shape_xyz * np.asarray(grid.spacing_xyz_um) / 2
    tumour_code = reader.cell_types.index(TUMOUR_TYPE)
    immune_code = reader.cell_types.index(IMMUNE_TYPE)
    live_code = reader.cell_states.index("live") if reader.cell_states else 0
    rows, times, has_onco = [], [], False
    for snapshot in reader.snapshots:
        cells = reader.cells(snapshot.index, ORGAN)
        onco = cells.get("oncoprotein")
        has_onco = has_onco or onco is not None
        rows.append(
            compute_quantities(
                cells["position_um"], cells["type"] == tumour_code,
                cells["type"] == immune_code, cells["state"] != live_code, centre, onco,
            )
        )  # fmt: skip
        times.append(snapshot.time_min)
    scenario = tomllib.loads(reader.scenario_text)
    return {
        "time_min": [round(t, 4) for t in times],
        **curves(rows),
        "outputs": len(times),
        "has_oncoprotein": has_onco,
        "time_steps_min": scenario.get("time_steps", {}),
        "centre_um": [float(c) for c in centre],
    }


def run_seeds(
    scenario: Path,
    seeds: Sequence[int],
    days: float,
    jobs: int,
    overrides: Sequence[str] = (),
    runs_dir: Path = RUNS_DIR,
) -> list[dict[str, Any]]:
    """Run every seed, ``jobs`` at a time, each with ``max(1, cores // jobs)`` threads."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [
            pool.submit(run_seed, scenario, seed, days, threads, overrides, runs_dir)
            for seed in seeds
        ]
        return [future.result() for future in futures]
