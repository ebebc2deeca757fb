"""The calibration of the metastasis model (issue 16): the exact cascade model against a
simulation of the same process, and the scenario's values against the fits (Luzzi 1998's
fractions; the Lewis lung carcinoma growth curve)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.calibration import cascade, growth
from tissue import load_scenario

pytest.importorskip("scipy")

DAY = cascade.DAY


def simulate_lineages(rates: cascade.Rates, days: float, n: int, seed: int) -> dict[str, float]:
    """Where ``n`` arrested cells' lineages are after ``days``, by drawing each cell's
    event times (Gillespie): fractions of the ledger's classes."""
    rng = np.random.default_rng(seed)
    end = days * DAY
    counts = dict.fromkeys(("in_vessel", "solitary_dormant", "solitary_dtc", "micro", "died"), 0)
    counts["macro"] = 0
    for _ in range(n):
        t = rng.exponential(1.0 / (rates.extravasation + rates.arrested_death))
        if t > end:
            counts["in_vessel"] += 1
            continue
        if rng.random() >= rates.extravasation / (rates.extravasation + rates.arrested_death):
            counts["died"] += 1
            continue
        if rng.random() < rates.mic_fraction:  # a MIC, which must wake to proliferate
            t += rng.exponential(1.0 / (rates.waking + rates.mic_death))
            if t > end:
                counts["solitary_dormant"] += 1
                continue
            if rng.random() >= rates.waking / (rates.waking + rates.mic_death):
                counts["died"] += 1
                continue
        size, total = 1, rates.division + rates.dtc_death
        while size > 0:
            t += rng.exponential(1.0 / (size * total))
            if t > end:
                break
            size += 1 if rng.random() < rates.division / total else -1
        key = (
            "died"
            if size == 0
            else "solitary_dtc"
            if size == 1
            else "micro"
            if size < cascade.MACRO_CELLS
            else "macro"
        )
        counts[key] += 1
    return {k: v / n for k, v in counts.items()}


@pytest.mark.parametrize(("days", "mic_fraction"), [(3.0, 1.0), (13.0, 1.0), (3.0, 0.6)])
def test_the_exact_cascade_model_matches_a_simulation_of_it(
    days: float, mic_fraction: float
) -> None:
    """Every ledger class of the closed form within 4.5 binomial sd of 20,000 simulated
    cells (rates that make every class common: fast waking, a critical lineage), with
    every extravasating cell a MIC and with 40% proliferating at once."""
    rates = cascade.Rates(2e-4, 1.5e-3, 2e-5, 3e-4, 7e-4, mic_fraction=mic_fraction)
    exact = cascade.ledger(rates, days)
    n = 20_000
    sim = simulate_lineages(rates, days, n, seed=7)
    pairs = {
        "in_vessel": "in_vessel",
        "solitary_dormant": "solitary_dormant",
        "solitary_dtc": "solitary_dtc",
        "micrometastases": "micro",
        "died": "died",
    }
    for key, mine in pairs.items():
        p = exact[key]
        assert abs(sim[mine] - p) <= 4.5 * math.sqrt(p * (1 - p) / n) + 1e-12, (key, sim[mine], p)
    assert sum(v for k, v in exact.items() if k != "extravasated") == pytest.approx(1.0)


def test_luzzi_bounds_the_share_of_cells_that_proliferate_at_once() -> None:
    """Luzzi's four fractions are met exactly (0.1%) with any MIC share from the smallest
    up, the waking rate falling toward 0 there; 1% below it the day-3 micrometastases
    overshoot (over 3%) whatever the rates, as cells proliferating at once make them."""
    targets = cascade.read_targets()
    smallest = cascade.smallest_mic_fraction(targets)
    assert 0.8 < smallest < 0.9
    wakings = []
    for share in (1.0, 0.9, smallest + 1e-3):
        rates = cascade.fit(targets, share)
        wakings.append(rates.waking)
        for quantity, (day, target) in targets.items():
            assert cascade.ledger(rates, day)[quantity] == pytest.approx(target, rel=1e-3)
    assert wakings[0] > wakings[1] > 0
    assert wakings[2] < 0.02 * wakings[0]
    below = cascade.fit(targets, smallest - 0.01)
    micro_day, micro = targets["micrometastases"]
    assert cascade.ledger(below, micro_day)["micrometastases"] > 1.03 * micro


def test_kendalls_law_matches_a_simulated_lineage() -> None:
    """P(N = 0), P(N = 1) and P(N >= 5) of a supercritical birth-death lineage after 3
    days, within 4.5 sd of 20,000 simulated lineages."""
    rates = cascade.Rates(0.0, 1.0, 0.0, 1.0, 4e-4)
    alpha, beta = cascade._birth_death(rates, 3 * DAY)
    rng = np.random.default_rng(3)
    n, sizes = 20_000, []
    for _ in range(n):
        size, t, total = 1, 0.0, rates.division + rates.dtc_death
        while size > 0:
            t += rng.exponential(1.0 / (size * total))
            if t > 3 * DAY:
                break
            size += 1 if rng.random() < rates.division / total else -1
        sizes.append(size)
    sizes_array = np.array(sizes)
    for p, observed in (
        (alpha, np.mean(sizes_array == 0)),
        ((1 - alpha) * (1 - beta), np.mean(sizes_array == 1)),
        ((1 - alpha) * beta**4, np.mean(sizes_array >= 5)),
    ):
        assert abs(observed - p) <= 4.5 * math.sqrt(p * (1 - p) / n), (observed, p)


@pytest.mark.parametrize("name", ["metastasis", "injection_assay", "niche", "resection"])
def test_every_scenario_has_the_cascade_fitted_to_luzzi(name: str) -> None:
    """The scenario's cascade rates are the fit's, and give Luzzi's four fractions of the
    arrested cells within 2% (the values are rounded to 3 digits) in the exact model."""
    rates = cascade.scenario_rates(name)
    assert rates == cascade.scenario_rates("metastasis")
    fitted = cascade.fit(cascade.read_targets())
    for key, value in cascade.scenario_values(fitted).items():
        part, field = key.split(".")[1], ".".join(key.split(".")[2:])
        cell_type = load_scenario(name).cell_types[part]
        held = (
            cell_type.transitions[field.split(".")[1]]
            if field.startswith("transitions")
            else getattr(cell_type, field)
        )
        assert held == pytest.approx(value, rel=1e-12), key
    for quantity, (day, target) in cascade.read_targets().items():
        assert cascade.ledger(rates, day)[quantity] == pytest.approx(target, rel=0.02), quantity


def test_the_primary_grows_by_the_fitted_law() -> None:
    """The Gompertz fit to the LLC curve is good (rms 0.12 in ln W at most) and the
    scenario holds its K and beta."""
    days, weights = growth.read_table()
    result = growth.fit(days, weights)
    assert result["rms_residual_ln"] < 0.12
    law = load_scenario("metastasis").organs["breast"].growth
    values = growth.scenario_values(result)
    assert law.carrying_cells == pytest.approx(values["carrying_cells"], rel=1e-12)
    assert law.rate_per_day == pytest.approx(values["rate_per_day"], rel=1e-12)
    assert law.initial_cells == growth.IMPLANTED_CELLS


def test_the_primary_sheds_at_the_fitted_rate() -> None:
    """The scenario's intravasation rate is the shedding fit's, the rate at which the
    power law through the recorded runs sheds Butler & Gullino's target."""
    import json

    from benchmarks.calibration import shedding

    record = json.loads(shedding.RESULT.read_text())
    fitted = shedding.fitted_rate(record["runs"], shedding.target())
    key = "cell_types.invasive.intravasation_rate_per_min"
    assert record["scenario"][key] == pytest.approx(fitted, rel=5e-3)
    held = load_scenario("metastasis").cell_types["invasive"].intravasation_rate_per_min
    assert held == record["scenario"][key]


def test_shedding_per_gram_is_the_shed_over_the_tumours_gram_days() -> None:
    """A tumour of 1 g, growing to 3 g between days 1 and 3, shedding 8e6 cells in 4 days:
    the shed cells over the gram-days by the trapezoid rule (8 g day in all)."""
    from benchmarks.calibration import shedding

    days = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    grams = np.array([1.0, 1.0, 2.0, 3.0, 3.0])
    series = {
        "time_days": days,
        "breast.whole_tumour.cells": grams * shedding.CELLS_PER_GRAM,
        "ledger.shed": np.array([0.0, 1e6, 3e6, 6e6, 8e6]),
    }
    assert shedding.shed_per_gram_day(series, 0.0, 4.0) == pytest.approx(8e6 / 8.0)
    assert shedding.shed_per_gram_day(series, 1.0, 3.0) == pytest.approx(5e6 / 4.0)


def test_the_shedding_fit_solves_a_power_law_through_two_runs() -> None:
    """Runs on measured = 2e6 x (rate / 1e-5)^0.5: the fit gives the rate for the goal
    exactly; after one run, the proportional guess."""
    from benchmarks.calibration import shedding

    def run(rate: float) -> dict[str, float]:
        return {"intravasation_rate_per_min": rate,
                "measured_cells_per_gram_per_day": 2e6 * (rate / 1e-5) ** 0.5}  # fmt: skip

    assert shedding.fitted_rate([run(4e-5), run(1e-5)], 3e6) == pytest.approx(2.25e-5)
    assert shedding.fitted_rate([run(4e-5)], 2e6) == pytest.approx(2e-5)


def test_a_run_at_the_fitted_rate_sheds_within_butler_and_gullinos_range() -> None:
    """The recorded check run (seed 1, at the scenario's rate) shed 3-4e6 cells per gram
    per day over days 7-14 (the range the source gives; `shedding.py --check` records it)."""
    import csv
    import json

    from benchmarks.calibration import shedding

    record = json.loads(shedding.RESULT.read_text())
    check = record["check"]
    held = load_scenario("metastasis").cell_types["invasive"].intravasation_rate_per_min
    assert check["intravasation_rate_per_min"] == held
    with shedding.DATA.open() as handle:
        row = next(csv.DictReader(line for line in handle if not line.startswith("#")))
    low, high = float(row["low"]), float(row["high"])
    assert low <= check["measured_cells_per_gram_per_day"] <= high
