"""cancer_immune against PhysiCell (issue 15), from the recorded side-by-side runs
(``benchmarks/physicell``): the shape of tissue's seeds, their agreement with PhysiCell's
seeds, and a re-run proving that the recorded runs are this code's (so that a model change
fails here until the runs are made again)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.physicell import side_by_side, tissue_runs

RECORDED = json.loads(side_by_side.TISSUE_RESULT.read_text())
PHYSICELL = json.loads(side_by_side.PHYSICELL_RESULT.read_text())
SIDE_BY_SIDE = json.loads(side_by_side.SIDE_BY_SIDE.read_text())
CHECK_DAYS = 0.6  # the re-run: past the immune cells' arrival (day 0.5)


def shape(live: np.ndarray, immune: np.ndarray) -> tuple[float, float, float]:
    """Peak of the live tumour up to the immune cells' arrival and just after, the trough
    after the peak, and the last value."""
    arrival = int(np.argmax(immune > 0))
    peak_at = int(np.argmax(live[: arrival + 6]))
    trough_at = peak_at + int(np.argmin(live[peak_at:]))
    return float(live[peak_at]), float(live[trough_at]), float(live[-1])


def test_the_recorded_runs_cover_several_seeds_of_both_codes_at_the_same_set_up() -> None:
    assert len(RECORDED["seeds"]) >= 3
    assert len(PHYSICELL["seeds"]) >= 3
    assert RECORDED["setup"]["days"] == PHYSICELL["setup"]["days"]
    assert RECORDED["setup"]["has_oncoprotein"] is True
    assert RECORDED["provenance"]["git"]["dirty"] is False


def test_the_tumour_regresses_partly_and_the_cells_immune_cells_cannot_kill_grow() -> None:
    """After the immune cells arrive the live tumour falls well below its peak but not to
    nothing in every seed; the live cells with oncoprotein below 0.5 (which the immune cells
    neither attach to nor kill) at least double in number by day 3 in every seed; and the
    tumour grows again before day 3 in at least two of five seeds (PhysiCell: three)."""
    regrown = 0
    for seed in RECORDED["seeds"]:
        live, immune = np.asarray(seed["tumour_live"]), np.asarray(seed["immune"])
        peak, trough, last = shape(live, immune)
        assert 0.15 * peak < trough < 0.9 * peak, (seed["seed"], peak, trough)
        low = np.asarray(seed["low_onco_fraction"]) * live
        arrival = int(np.argmax(immune > 0))
        assert low[-1] >= 2 * low[arrival], (seed["seed"], low[arrival], low[-1])
        regrown += last >= 1.05 * trough
    assert len(RECORDED["seeds"]) >= 5
    assert regrown >= 2


def test_tissue_lies_within_physicells_seed_spread() -> None:
    """The recorded comparison (README, PhysiCell side by side): tissue's seed mean of the
    live tumour inside PhysiCell's seed range at >= 90% of the hourly outputs and within 2 sd
    at all; its oncoprotein mix and the share the immune cells cannot kill within 2 sd at
    all; the tumour's radius (which follows the cells' volumes) within 2 sd at >= 90%; and
    the immune count inside PhysiCell's range at every output but the arrival hour
    (PhysiCell writes it after adding the cells)."""
    quantities = SIDE_BY_SIDE["quantities"]
    for name in ("tumour_live", "mean_onco_live", "low_onco_fraction", "tumour_radius_um"):
        assert quantities[name]["compared"], name
    assert quantities["tumour_live"]["fraction_inside_range"] >= 0.9
    for name in ("tumour_live", "mean_onco_live", "low_onco_fraction"):
        assert quantities[name]["fraction_inside_2sd"] == 1.0, name
    assert quantities["tumour_radius_um"]["fraction_inside_2sd"] >= 0.9
    immune = quantities["immune"]
    outside = [v["time_min"] for v in immune["values"] if not v["inside_range"]]
    assert outside == [720], outside


def test_physicells_runs_are_built_with_both_patches() -> None:
    """PhysiCell's recorded seeds ran the sample with the immune shell's floor and the
    detachment distance patched (benchmarks/physicell/README.md): without the second its
    seeds disagree with each other for a reason that is not the model."""
    from benchmarks.physicell import physicell

    assert PHYSICELL["provenance"]["build"]["patches"] == list(physicell.PATCHES)
    assert len(PHYSICELL["seeds"]) >= 5


def test_the_recorded_runs_are_this_codes(tmp_path: Path) -> None:
    """Seed 1 re-run to day 0.6 gives the recorded curves exactly (same seed, same backend:
    bit-identical). When the model changes on purpose, run the harness's ``tissue`` step
    again (benchmarks/physicell/README.md)."""
    recorded = next(s for s in RECORDED["seeds"] if s["seed"] == 1)
    scenario = tissue_runs.DEFAULT_SCENARIO
    overrides = [o for o in RECORDED["setup"]["overrides"] if not o.startswith("run.snapshot")]
    now = tissue_runs.run_seed(scenario, 1, CHECK_DAYS, 1, overrides, tmp_path)
    index = {t: i for i, t in enumerate(recorded["time_min"])}
    shared = [i for i, t in enumerate(now["time_min"]) if t in index]
    assert len(shared) >= 14  # hourly to day 0.6, the immune cells' arrival included
    for key in ("tumour_live", "tumour_dead", "immune", "tumour_radius_um", "low_onco_fraction",
                "mean_onco_live"):  # fmt: skip
        then = [recorded[key][index[now["time_min"][i]]] for i in shared]
        assert [now[key][i] for i in shared] == then, key
