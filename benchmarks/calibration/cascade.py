"""The metastatic cascade's rates, fitted to Luzzi 1998's fractions with an exact model.

    python -m benchmarks.calibration.cascade     # fit, print, write the result JSON

Each cell that arrests in the lung follows the scenario's per-cell rules without a niche or
a restraint (no primary: the injection assay): arrested -> dies (``d_a``) or extravasates as a
MIC (``e``); a MIC dies (``d_m``) or wakes as a proliferating DTC (``w``); a DTC's lineage is
a linear birth-death process (divides at ``b``, the primary's rate; each cell dies at
``d_d``). The ledger's classes at day T follow in closed form: in a vessel exp(-(e + d_a)T),
a solitary MIC (the convolution of two exponentials), and for a lineage woken at time s the
birth-death law of Kendall (1948): P(N = 0) = alpha, P(N = n) = (1 - alpha)(1 - beta)
beta^(n - 1), so P(2 <= N <= 49) = (1 - alpha)(beta - beta^49) and P(N >= 50) = (1 - alpha)
beta^49, integrated over the waking time (quadrature).

Luzzi's table (``data/luzzi_1998.csv``) gives four fractions of the arrested cells: out of
the vessel by day 3, micrometastases at day 3, solitary dormant cells at day 13,
macrometastases at day 13. ``e`` is fixed at the prior ``EXTRAVASATION_PER_MIN`` (Luzzi saw
most cells out by day 3; any e above ~1.5/day gives that), and the four targets fix d_a, w,
d_m and d_d exactly (residuals ~0 in this model). Where a share 1 - f of the extravasating
cells proliferates at once instead of becoming a MIC (``transition_split``), the table is
met as exactly for every f down to :func:`smallest_mic_fraction` (w falls to 0 there): it
does not fix f, which the scenario sets (every extravasated cell a MIC). The agent model
adds what this one leaves out (crowding, IL-1beta from resident innate cells, the lineage
threshold counted on live cells): the injection assay's runs over seeds measure that.
Needs scipy (``dev`` extra).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.common import RESULTS_DIR, git_info

DATA = Path(__file__).parent / "data" / "luzzi_1998.csv"
RESULT = RESULTS_DIR / "calibration-cascade.json"
DAY = 1440.0  # min
DIVISION_PER_MIN = 7.2e-4  # DTCs divide as the primary does (doubling ~16 h)
EXTRAVASATION_PER_MIN = 2.1e-3  # prior: ~3/day without a niche
MACRO_CELLS = 50  # the scenario's observables.macrometastasis_cells


@dataclass(frozen=True)
class Rates:
    """Per-cell rates, 1/min."""

    arrested_death: float
    extravasation: float
    mic_death: float
    waking: float
    dtc_death: float
    division: float = DIVISION_PER_MIN
    mic_fraction: float = 1.0  # of the extravasating cells; the rest proliferate at once


def scenario_rates(name: str = "metastasis") -> Rates:
    """The cascade's rates as built-in scenario ``name`` sets them (before its rules)."""
    from tissue.config import load_scenario

    types = load_scenario(name).cell_types
    return Rates(
        arrested_death=types["arrested"].apoptosis_rate_per_min,
        extravasation=types["arrested"].transitions["mic"],
        mic_death=types["mic"].apoptosis_rate_per_min,
        waking=types["mic"].transitions["dtc"],
        dtc_death=types["dtc"].apoptosis_rate_per_min,
        division=types["dtc"].cycle_rate_per_min,
        mic_fraction=1.0 - types["arrested"].transition_split.get("mic", {}).get("dtc", 0.0),
    )


def read_targets(path: Path = DATA) -> dict[str, tuple[float, float]]:
    """quantity -> (day, fraction of the arrested cells)."""
    with path.open() as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    injected = {r["quantity"]: (float(r["day"]), float(r["fraction_of_injected"])) for r in rows}
    arrested = injected.pop("arrested")[1]
    return {k: (day, f / arrested) for k, (day, f) in injected.items()}


def _birth_death(rates: Rates, t: float) -> tuple[float, float]:
    """Kendall's (alpha, beta) of a birth-death lineage of one cell after ``t`` min."""
    lam, mu = rates.division, rates.dtc_death
    if t <= 0:
        return 0.0, 0.0
    if abs(lam - mu) < 1e-12:
        x = lam * t / (1.0 + lam * t)
        return x, x
    g = math.exp((lam - mu) * t)
    return mu * (g - 1.0) / (lam * g - mu), lam * (g - 1.0) / (lam * g - mu)


def _wake_density(rates: Rates, s: float) -> float:
    """Density (1/min) of an arrested cell becoming a DTC at time ``s``: as a MIC that
    wakes, or on extravasating (the share that is not a MIC)."""
    a = rates.extravasation + rates.arrested_death
    m = rates.waking + rates.mic_death
    e, f = rates.extravasation, rates.mic_fraction
    direct = (1.0 - f) * e * math.exp(-a * s)
    if abs(a - m) < 1e-15:
        return f * e * rates.waking * s * math.exp(-a * s) + direct
    return f * e * rates.waking * (math.exp(-m * s) - math.exp(-a * s)) / (a - m) + direct


def ledger(rates: Rates, day: float) -> dict[str, float]:
    """Where an arrested cell's lineage is at ``day``, as probabilities: in_vessel, died,
    solitary_dormant (a MIC), solitary_dtc, micrometastases, macrometastases, extravasated
    (ever)."""
    from scipy.integrate import quad

    t = day * DAY
    a = rates.extravasation + rates.arrested_death
    m = rates.waking + rates.mic_death
    in_vessel = math.exp(-a * t)
    extravasated = rates.extravasation / a * (1.0 - in_vessel)
    if abs(a - m) < 1e-15:
        mic = rates.mic_fraction * rates.extravasation * t * math.exp(-a * t)
    else:
        mic = rates.mic_fraction * rates.extravasation * (math.exp(-m * t) - math.exp(-a * t))
        mic /= a - m

    def lineage(part: str) -> float:
        def integrand(s: float) -> float:
            alpha, beta = _birth_death(rates, t - s)
            alive = 1.0 - alpha
            size = {
                "single": alive * (1.0 - beta),
                "micro": alive * (beta - beta ** (MACRO_CELLS - 1)),
                "macro": alive * beta ** (MACRO_CELLS - 1),
            }[part]
            return _wake_density(rates, s) * size

        return quad(integrand, 0.0, t, limit=200, epsabs=1e-14, epsrel=1e-10)[0]

    out = {
        "in_vessel": in_vessel,
        "extravasated": extravasated,
        "solitary_dormant": mic,
        "solitary_dtc": lineage("single"),
        "micrometastases": lineage("micro"),
        "macrometastases": lineage("macro"),
    }
    out["died"] = 1.0 - sum(v for k, v in out.items() if k != "extravasated")
    return out


def arrested_death(targets: dict[str, tuple[float, float]]) -> float:
    """d_a (1/min) that puts Luzzi's share of arrested cells out of the vessel by his day,
    with ``e`` at its prior: e/(e + d_a) (1 - exp(-(e + d_a) T)), solved by fixed point."""
    e = EXTRAVASATION_PER_MIN
    day, out = targets["extravasated"]
    d_a = e * (1.0 / out - 1.0)
    for _ in range(50):
        d_a = e * ((1.0 - math.exp(-(e + d_a) * day * DAY)) / out - 1.0)
    return d_a


def fit(targets: dict[str, tuple[float, float]], mic_fraction: float = 1.0) -> Rates:
    """The rates that meet the four targets, with ``e`` at its prior and the given share
    of extravasating cells becoming MICs (the rest proliferate at once)."""
    from scipy.optimize import least_squares

    e, d_a = EXTRAVASATION_PER_MIN, arrested_death(targets)

    def residuals(log_rates: Sequence[float]) -> list[float]:
        w, d_m, d_d = (math.exp(v) for v in log_rates)
        rates = Rates(d_a, e, d_m, w, d_d, mic_fraction=mic_fraction)
        return [
            math.log(max(ledger(rates, targets[k][0])[k], 1e-300) / targets[k][1])
            for k in ("micrometastases", "solitary_dormant", "macrometastases")
        ]

    start = [math.log(6e-6), math.log(4e-5), math.log(6.5e-4)]
    solution = least_squares(residuals, start, xtol=1e-14, ftol=1e-14, gtol=1e-14)
    w, d_m, d_d = (math.exp(v) for v in solution.x)
    return Rates(d_a, e, d_m, w, d_d, mic_fraction=mic_fraction)


def smallest_mic_fraction(targets: dict[str, tuple[float, float]]) -> float:
    """The smallest share of extravasating cells that may become MICs with Luzzi's table
    still met exactly: there no MIC wakes, and the cells that proliferate at once make
    every micro- and macrometastasis. Their ratio fixes the lineages' death rate, the
    day-3 micrometastases then the share."""
    from scipy.optimize import brentq

    d_a = arrested_death(targets)
    (day_micro, micro), (day_macro, macro) = targets["micrometastases"], targets["macrometastases"]

    def direct(d_d: float) -> Rates:  # every extravasating cell proliferates at once
        return Rates(d_a, EXTRAVASATION_PER_MIN, 0.0, 0.0, d_d, mic_fraction=0.0)

    def ratio_gap(log_d: float) -> float:
        rates = direct(math.exp(log_d))
        made = ledger(rates, day_macro)["macrometastases"]
        return math.log(made / ledger(rates, day_micro)["micrometastases"]) - math.log(
            macro / micro
        )

    d_d = math.exp(brentq(ratio_gap, math.log(DIVISION_PER_MIN), math.log(4 * DIVISION_PER_MIN)))
    return 1.0 - micro / ledger(direct(d_d), day_micro)["micrometastases"]


def scenario_values(rates: Rates) -> dict[str, float]:
    """The metastasis scenario's keys and their values (3 significant digits)."""

    def g(v: float) -> float:
        return float(f"{v:.3g}")

    return {
        "cell_types.arrested.apoptosis_rate_per_min": g(rates.arrested_death),
        "cell_types.arrested.transitions.mic": g(rates.extravasation),
        "cell_types.mic.apoptosis_rate_per_min": g(rates.mic_death),
        "cell_types.mic.transitions.dtc": g(rates.waking),
        "cell_types.dtc.apoptosis_rate_per_min": g(rates.dtc_death),
    }


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    targets = read_targets()
    rates = fit(targets)
    values = scenario_values(rates)
    rounded = Rates(
        values["cell_types.arrested.apoptosis_rate_per_min"],
        values["cell_types.arrested.transitions.mic"],
        values["cell_types.mic.apoptosis_rate_per_min"],
        values["cell_types.mic.transitions.dtc"],
        values["cell_types.dtc.apoptosis_rate_per_min"],
    )
    table = []
    for quantity, (day, target) in targets.items():
        model = ledger(rounded, day)[quantity]
        table.append(
            {
                "quantity": quantity,
                "day": day,
                "target_of_arrested": target,
                "model_of_arrested": model,
                "relative_residual": model / target - 1.0,
            }
        )
    smallest = smallest_mic_fraction(targets)
    shares = {
        f"{f:.4f}": asdict(fit(targets, f))
        for f in (1.0, 0.95, 0.9, math.ceil(smallest * 1e4) / 1e4)
    }
    record = {
        "data": str(DATA.relative_to(DATA.parents[3])),
        "rates_per_min": asdict(rates),
        "scenario": values,
        "residuals": table,
        "mic_fraction": {"smallest": smallest, "fits": shares},
        "ledger_of_arrested": {str(d): ledger(rounded, d) for d in (1.0, 3.0, 13.0)},
        "git": git_info(),
    }
    RESULT.write_text(json.dumps(record, indent=2) + "\n")
    for key, value in values.items():
        print(f"{key} = {value:.3g}")
    for row in table:
        model, target = row["model_of_arrested"], row["target_of_arrested"]
        print(f"  {row['quantity']:>16} day {row['day']:4.0f}: model {model:.4g} "
              f"target {target:.4g} ({row['relative_residual']:+.2%})")  # fmt: skip
    print(f"Luzzi's table holds with MICs from {smallest:.3f} to 1 of the extravasating cells:")
    for f, fitted in shares.items():
        rates_text = ", ".join(f"{k} {fitted[k]:.3g}" for k in ("waking", "mic_death", "dtc_death"))
        print(f"  MIC share {f}: {rates_text} /min")
    print(f"wrote {RESULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
