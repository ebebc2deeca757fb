"""How much tissue's 1-minute diffusion step changes what the cells of ``cancer_immune`` see:
seed 1 run to day 0.5 at the scenario's 1 min step and at 0.1 min, the oxygen at the live
tumour cells' voxels (mean and lowest, mmHg) and their count compared at day 0.25 and 0.5.

    python -m benchmarks.physicell.tissue_step_accuracy [--out PATH]

Writes ``benchmarks/results/cancer-immune-tissue-step-accuracy.json``. PhysiCell's error at
its shipped step (its cells read their oxygen 2.07 mmHg low) is in ``biofvm-lod-oxygen.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS_DIR, git_info, load_average
from tissue.backend import to_numpy
from tissue.cells import LIVE
from tissue.config import load_scenario
from tissue.simulation import Simulation

OUT = RESULTS_DIR / "cancer-immune-tissue-step-accuracy.json"
STEPS_MIN = (1.0, 0.1)
DAYS = (0.25, 0.5)


def measure(diffusion_min: float, seed: int = 1) -> dict[str, Any]:
    """The live tumour cells' count and oxygen at each of ``DAYS``, and the wall time."""
    scenario = load_scenario("cancer_immune", {"time_steps.diffusion_min": diffusion_min})
    sim = Simulation(scenario, backend="cpu", seed=seed)
    out: dict[str, Any] = {"diffusion_min": diffusion_min, "days": {}}
    start, done = time.perf_counter(), 0.0
    for day in DAYS:
        sim.run(days=day - done)
        done = day
        organ = sim.organs["tissue"]
        cells = organ.cells
        oxygen = to_numpy(
            organ.fields.sample("oxygen", organ.grid.flat_index(np, cells.position_um))
        )
        live = to_numpy((cells.type == sim.types.names.index("tumour")) & (cells.state == LIVE))
        out["days"][str(day)] = {
            "live_tumour_cells": int(live.sum()),
            "oxygen_mean_mmHg": float(oxygen[live].astype(np.float64).mean()),
            "oxygen_min_mmHg": float(oxygen[live].min()),
        }
    out["wall_s"] = time.perf_counter() - start
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    runs = [measure(step) for step in STEPS_MIN]
    coarse, fine = runs
    difference = {
        day: {
            key: coarse["days"][day][key] - fine["days"][day][key]
            for key in ("live_tumour_cells", "oxygen_mean_mmHg", "oxygen_min_mmHg")
        }
        for day in coarse["days"]
    }
    result = {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_info(),
        "load_average": load_average(),
        "runs": runs,
        "difference_1_minus_0.1": difference,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(difference, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
