"""The growing primary: Gompertz's law fitted to a mouse Lewis lung carcinoma growth curve.

    python -m benchmarks.calibration.growth     # fit, print, write the result JSON

Fits ln W(t) = ln K + ln(W0 / K) exp(-beta t) to ``data/llc_growth_simpson_herren_1974.csv``
(least squares in ln W: tumour weights scatter in proportion), and converts K to cells at
``CELLS_PER_MG``. The scenario's ``organs.breast.growth`` takes K and beta; its N0 is the
implanted dose (its day 0 is the implantation, not the data's first point). Needs scipy
(the ``dev`` extra).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS_DIR, git_info

DATA = Path(__file__).parent / "data" / "llc_growth_simpson_herren_1974.csv"
RESULT = RESULTS_DIR / "calibration-growth.json"
CELLS_PER_MG = 1.0e6  # the usual 1e9 cells per gram (Del Monte 2009 argues ~1e8 for real tumours)
IMPLANTED_CELLS = 1.0e6  # estimate: a typical intradermal or subcutaneous dose of LLC cells


def read_table(path: Path = DATA) -> tuple[np.ndarray, np.ndarray]:
    """(days, weights in mg) of the growth curve."""
    with path.open() as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    return (
        np.array([float(r["day"]) for r in rows]),
        np.array([float(r["weight_mg"]) for r in rows]),
    )


def gompertz_log(params: Sequence[float], days: np.ndarray) -> np.ndarray:
    """ln W(t) for params (ln K, beta per day, ln W0)."""
    ln_k, beta, ln_w0 = params
    return ln_k + (ln_w0 - ln_k) * np.exp(-beta * days)


def fit(days: np.ndarray, weights: np.ndarray) -> dict[str, Any]:
    """The least-squares Gompertz fit in ln W, with its residuals."""
    from scipy.optimize import least_squares

    start = (math.log(10 * weights.max()), 0.1, math.log(weights[0]))
    solution = least_squares(lambda p: gompertz_log(p, days) - np.log(weights), start)
    ln_k, beta, ln_w0 = (float(v) for v in solution.x)
    residuals = solution.fun
    return {
        "carrying_mg": math.exp(ln_k),
        "rate_per_day": beta,
        "first_point_mg": math.exp(ln_w0),
        "residuals_ln": [float(r) for r in residuals],
        "rms_residual_ln": float(np.sqrt(np.mean(residuals**2))),
        "max_abs_residual_ln": float(np.abs(residuals).max()),
    }


def scenario_values(result: dict[str, Any]) -> dict[str, float]:
    """``organs.breast.growth`` as the scenario writes it (3 significant digits)."""
    return {
        "initial_cells": IMPLANTED_CELLS,
        "carrying_cells": float(f"{result['carrying_mg'] * CELLS_PER_MG:.3g}"),
        "rate_per_day": float(f"{result['rate_per_day']:.3g}"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    days, weights = read_table()
    result = fit(days, weights)
    values = scenario_values(result)
    record = {
        "data": str(DATA.relative_to(DATA.parents[3])),
        "cells_per_mg": CELLS_PER_MG,
        "fit": result,
        "scenario": {"organs.breast.growth": values},
        "git": git_info(),
    }
    RESULT.write_text(json.dumps(record, indent=2) + "\n")
    k, beta = values["carrying_cells"], values["rate_per_day"]
    print(f"K = {result['carrying_mg']:.4g} mg, beta = {beta:.3g}/day, "
          f"rms residual {result['rms_residual_ln']:.3f} in ln W")  # fmt: skip
    for day in (0, 3, 7, 10, 14, 21):
        n = k * math.exp(math.log(IMPLANTED_CELLS / k) * math.exp(-beta * day))
        print(f"  day {day:2d}: {n:.3g} cells ({n / CELLS_PER_MG:.3g} mg)")
    print(f"wrote {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
