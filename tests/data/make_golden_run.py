"""Writes tests/data/run-v1.h5, the golden run file of format version 1.

Run once, when the format version changes, and commit the result; tests read the committed
file and never rewrite it: ``python -m tests.data.make_golden_run``.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from tissue.config import scenario_from_dict
from tissue.runner import Runner, RunSettings
from tissue.simulation import Simulation

SCENARIO = {
    "name": "golden",
    "description": "A tiny tumour in an 8^3 box: the golden run file of the tests.",
    "run": {"days": 20 / 1440, "output_interval_min": 5.0, "snapshot_interval_min": 10.0},
    "time_steps": {"diffusion_min": 0.25, "mechanics_min": 0.25, "phenotype_min": 5.0},
    "organs": {"box": {"shape": [8, 8, 8], "spacing_um": 20.0}},
    "fields": {
        "oxygen": {"diffusion_um2_per_min": 1e5, "decay_per_min": 0.1, "initial": 38.0,
                   "boundary": "dirichlet", "boundary_value": 38.0},
    },
    "cell_types": {
        "tumour": {"cycle_rate_per_min": 0.01, "oxygen_field": "oxygen",
                   "speed_um_per_min": 1.0, "persistence_min": 5.0,
                   "secretion": {"oxygen": {"uptake_rate_per_min": 10.0}}},
    },
    "initial_cells": [{"kind": "sphere", "organ": "box", "type": "tumour",
                       "center_um": [80, 80, 80], "radius_um": 30.0}],
}  # fmt: skip


def main() -> None:
    target = Path(__file__).with_name("run-v1.h5")
    scenario = scenario_from_dict(SCENARIO, "golden")
    sim = Simulation(scenario, backend="cpu", seed=7)
    with TemporaryDirectory() as folder:
        settings = RunSettings(scenario.run.days, scenario.run.snapshot_interval_min)
        Runner(sim, folder, settings).run()
        target.write_bytes((Path(folder) / "run.h5").read_bytes())
    print(f"wrote {target} ({target.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
