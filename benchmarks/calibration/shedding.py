"""The primary's shedding, fitted to Butler & Gullino 1975's cells per gram per day.

    python -m benchmarks.calibration.shedding RUN_DIR          # a `tissue run metastasis` folder
    python -m benchmarks.calibration.shedding RUN_DIR --check  # record a run at the fitted rate

Reads the run's ``timeseries.csv`` (the ledger's shed cells and the whole tumour's cells) and
its ``scenario.toml`` (the intravasation rate it ran with), and measures the shedding per
gram per day over days ``FROM_DAY``-``TO_DAY`` (cells shed / the integral of the tumour's
grams over time, at ``CELLS_PER_GRAM``). Each run is added to the result's ``runs``; the
fitted rate solves measured = target on the power law through the last two runs (log-log
secant), or, after one run, on a line through the origin. Shedding is not proportional to
the rate: fewer invasive cells leave the block at a lower rate, so more stay near vessels
(1e-4/min measured 1.33e7, 2.64e-5/min 5.2e6: exponent 0.7). Iterate (run the scenario at
the fitted rate, give its folder again) until the measured value is within Butler &
Gullino's range; the README's results show the last run's value. ``--check`` records a run
at the fitted rate as the result's ``check`` without fitting again.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS_DIR, git_info

DATA = Path(__file__).parent / "data" / "butler_gullino_1975.csv"
RESULT = RESULTS_DIR / "calibration-shedding.json"
CELLS_PER_GRAM = 1.0e9  # as the growth fit's cells per mg
FROM_DAY, TO_DAY = 7.0, 14.0  # a palpable tumour (50-600 mg), as Butler & Gullino's


def target() -> float:
    with DATA.open() as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    return float(rows[0]["target"])


def shed_per_gram_day(series: dict[str, np.ndarray], start: float, stop: float) -> float:
    """Cells shed between days ``start`` and ``stop`` over the integral of the tumour's
    grams over that time (g day)."""
    days = series["time_days"]
    inside = (days >= start - 1e-9) & (days <= stop + 1e-9)
    grams = series["breast.whole_tumour.cells"][inside] / CELLS_PER_GRAM
    gram_days = float(np.sum((grams[1:] + grams[:-1]) * np.diff(days[inside])) / 2)
    shed = series["ledger.shed"][inside]
    return float(shed[-1] - shed[0]) / gram_days


def fitted_rate(runs: Sequence[dict[str, Any]], goal: float) -> float:
    """The rate at which the power law through the last two runs (or the line through the
    origin and the one run) sheds ``goal`` cells per gram per day."""
    last = runs[-1]
    rate, measured = last["intravasation_rate_per_min"], last["measured_cells_per_gram_per_day"]
    if len(runs) < 2:
        return rate * goal / measured
    before = runs[-2]
    exponent = math.log(measured / before["measured_cells_per_gram_per_day"]) / math.log(
        rate / before["intravasation_rate_per_min"]
    )
    return rate * (goal / measured) ** (1.0 / exponent)


def read_run(run: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with (run / "timeseries.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    keys = ("time_days", "ledger.shed", "breast.whole_tumour.cells")
    series = {key: np.array([float(r[key]) for r in rows]) for key in keys}
    scenario = tomllib.loads((run / "scenario.toml").read_text())
    return series, scenario


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    if len(args) != 1:
        print("usage: python -m benchmarks.calibration.shedding RUN_DIR [--check]", file=sys.stderr)
        return 2
    run = Path(args[0])
    series, scenario = read_run(run)
    rate = float(scenario["cell_types"]["invasive"]["intravasation_rate_per_min"])
    measured = shed_per_gram_day(series, FROM_DAY, TO_DAY)
    if check:
        record = json.loads(RESULT.read_text())
        record["check"] = {
            "intravasation_rate_per_min": rate,
            "seed": scenario["run"]["seed"],
            "measured_cells_per_gram_per_day": measured,
            "git": git_info(),
        }
        RESULT.write_text(json.dumps(record, indent=2) + "\n")
        print(f"shed {measured:.3g} cells/g/day at {rate:.3g}/min (target {target():.3g})")
        return 0
    runs = json.loads(RESULT.read_text())["runs"] if RESULT.is_file() else []
    runs = [r for r in runs if r["intravasation_rate_per_min"] != rate]
    runs.append({"intravasation_rate_per_min": rate, "seed": scenario["run"]["seed"],
                 "measured_cells_per_gram_per_day": measured, "git": git_info()})  # fmt: skip
    fitted = float(f"{fitted_rate(runs, target()):.3g}")
    record = {
        "data": str(DATA.relative_to(DATA.parents[3])),
        "days": [FROM_DAY, TO_DAY],
        "runs": runs,
        "target_cells_per_gram_per_day": target(),
        "scenario": {"cell_types.invasive.intravasation_rate_per_min": fitted},
    }
    RESULT.write_text(json.dumps(record, indent=2) + "\n")
    print(f"shed {measured:.3g} cells/g/day at {rate:.3g}/min (days {FROM_DAY:g}-{TO_DAY:g}); "
          f"target {target():.3g}: rate {fitted:.3g}/min")  # fmt: skip
    print(f"wrote {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
