"""The growing primary: Gompertz's law, what a block with a growth law stands for, and
shedding as a Poisson number with the block's mean (issue 16, part 2)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tissue import Simulation, load_scenario
from tissue.cells import LIVE
from tissue.config import GompertzGrowth
from tissue.errors import InputError

SMALL = {  # the metastasis model on small blocks, a few seconds a day
    "organs.breast.shape": [10, 10, 10],
    "organs.lung.shape": [10, 10, 10],
    "initial_cells.0.center_um": [100.0, 100.0, 100.0],
    "initial_cells.0.radius_um": 40.0,
}


def small_model(**overrides: Any) -> Simulation:
    return Simulation(load_scenario("metastasis", {**SMALL, **overrides}), backend="cpu", seed=2)


def law(n0: float = 1e6, k: float = 2e10, beta: float = 0.07) -> GompertzGrowth:
    return GompertzGrowth(
        initial_cells=n0, carrying_cells=k, rate_per_day=beta, cell_types=["tumour"]
    )


@pytest.mark.parametrize(("n0", "k", "beta"), [(1e6, 2e10, 0.07), (50.0, 1e4, 0.5)])
def test_gompertz_law_solves_its_equation(n0: float, k: float, beta: float) -> None:
    """N(0) = N0, dN/dt = beta N ln(K / N) (central differences, rtol 1e-6), N -> K."""
    growth = law(n0, k, beta)
    assert growth.cells(0.0) == pytest.approx(n0, rel=1e-12)
    for day in (0.5, 3.0, 14.0):
        h = 1e-4
        slope = (growth.cells(day + h) - growth.cells(day - h)) / (2 * h)
        n = growth.cells(day)
        assert slope == pytest.approx(beta * n * math.log(k / n), rel=1e-6)
    assert growth.cells(1e4) == pytest.approx(k, rel=1e-9)


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        ({"organs.breast.whole_organ_fraction": 0.5}, "organs.breast.growth", "not both"),
        ({"organs.breast.growth.carrying_cells": 1e5}, "carrying_cells", "more than"),
        ({"organs.breast.growth.cell_types": ["tumor"]}, "growth.cell_types.0", "unknown"),
    ],
)
def test_a_bad_growth_law_names_its_key(overrides: dict, key: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        load_scenario("metastasis", overrides)
    assert key in str(info.value)
    assert fragment in str(info.value)


def block_tumour_cells(sim: Simulation) -> int:
    cells = sim.organs["breast"].cells
    codes = sim.types.index(["tumour", "invasive"])
    return int(((cells.state == LIVE) & np.isin(cells.type, codes)).sum())


def test_the_block_stands_for_the_whole_tumour_until_it_is_resected() -> None:
    """What the block stands for is N(t) / its live tumour cells, at any tick; the blood
    takes the block's export times that; after resection it is 0 and so is the tumour."""
    sim = small_model(**{"interventions.resection.start_day": 0.5})
    growth = sim.scenario.organs["breast"].growth
    body = sim.body
    for ticks in (1, 40, 60):
        sim.step(ticks)
        day = body.time_min / 1440.0  # the tick just run
        n = block_tumour_cells(sim)
        assert n > 0
        assert float(body.stands_for("breast")) == pytest.approx(growth.cells(day) / n, 1e-12)
        assert sim.observables()["breast.whole_tumour.cells"] == pytest.approx(growth.cells(day))
        before = float(body.blood_values["vegf"])
        dt, export = 6.0, 2.5  # a.u. um^3 per min
        clearance = sim.scenario.circulation.species["vegf"].clearance_per_min
        volume = sim.scenario.circulation.blood_volume_um3
        body.exchange(dt, {"breast": {"vegf": np.float64(export)}})
        expected = (before + dt * export * growth.cells(day) / n / volume) / (1 + dt * clearance)
        assert float(body.blood_values["vegf"]) == pytest.approx(expected, rel=1e-12)
    sim.step(sim.schedule.ticks_of_days(0.5) - sim.tick + 1)
    assert block_tumour_cells(sim) == 0
    assert float(body.stands_for("breast")) == 0.0
    assert sim.observables()["breast.whole_tumour.cells"] == 0.0


def test_shedding_is_a_poisson_number_with_the_blocks_mean() -> None:
    """Every block cell is invasive and near a vessel, so the whole tumour's expected CTCs
    per phenotype step are N(t) p (~600), whatever the block holds; each step sheds some
    and the total over 20 steps lies within 5 Poisson sd of the sum (shedding a block cell's
    worth, N(t)/n cells, when one leaves: about one step in 20 sheds)."""
    rate = 1.0e-4
    sim = small_model(
        **{
            "initial_cells.0.type": "invasive",
            "cell_types.invasive.intravasation_rate_per_min": rate,
            "cell_types.invasive.intravasation_distance_um": 400.0,  # the whole block
            "circulation.arrest_rate_per_min": 0.0,
        }
    )
    growth = sim.scenario.organs["breast"].growth
    every = sim.schedule.phenotype
    dt = every * sim.schedule.base_min
    steps = 20
    shed = []
    for _ in range(steps):
        sim.step(every)
        shed.append(sim.body.counters["shed"])
    p = -math.expm1(-rate * dt)
    mean = sum(growth.cells(k * dt / 1440.0) * p for k in range(steps))
    assert abs(shed[-1] - mean) < 5 * math.sqrt(mean), (shed[-1], mean)
    assert np.all(np.diff([0, *shed]) > 0), "each step sheds ~600 cells, not one block cell's worth"
    assert block_tumour_cells(sim) > 0
