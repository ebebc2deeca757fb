"""Clearance of dead cells: after a fixed time, or at random with that mean (PhysiCell's
death phases that are not of fixed duration), counted from death or from the rupture."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario
from tissue.cells import APOPTOTIC, NECROTIC
from tissue.config import scenario_from_dict
from tissue.simulation import Simulation

N = 1600  # dead cells at the start
DT = 6.0  # min: every step is a phenotype step


def dead_cells(state: int, **dead: Any) -> Simulation:
    """N cells of one type on a 40^2 lattice in one layer, no forces, all dead (``state``)
    at time 0."""
    lattice = [[5.0 + 10 * i, 5.0 + 10 * j, 5.0] for i in range(40) for j in range(40)]
    data = box_scenario(
        organs={"box": {"shape": [40, 40, 1], "spacing_um": 10.0, "two_d": True}},
        time_steps={"diffusion_min": DT, "mechanics_min": DT, "phenotype_min": DT},
        cell_types={"dead": {"radius_um": 4.0, "repulsion_um_per_min": 0.0,
                             "adhesion_um_per_min": 0.0, **dead}},
        initial_cells=[{"kind": "list", "organ": "box", "type": "dead",
                        "positions_um": lattice}],
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "clearance"), backend="cpu", seed=11)
    cells = sim.organs["box"].cells
    cells.state[:] = state
    cells.state_time_min[:] = 0.0
    return sim


def left_after(sim: Simulation, steps: list[int]) -> list[int]:
    """The cells left after each of ``steps`` (cumulative step counts)."""
    out, done = [], 0
    for k in steps:
        sim.step(k - done)
        done = k
        out.append(sim.organs["box"].cells.n)
    return out


def within_binomial(count: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_fixed_clearance_takes_every_cell_at_its_time() -> None:
    sim = dead_cells(APOPTOTIC, apoptotic_clearance_min=60.0)
    assert left_after(sim, [9, 10]) == [N, 0]  # 54 min: all there; 60 min: none


@pytest.mark.parametrize("mean", [30.0, 60.0, 240.0])
def test_random_clearance_leaves_an_exponential_share(mean: float) -> None:
    """After k steps of DT a share exp(-k DT / mean) is left, within 4 binomial sd (about
    2.5% of N at most); a fixed clearance (all or none) fails it at every time."""
    sim = dead_cells(APOPTOTIC, apoptotic_clearance_min=mean, apoptotic_clearance="random")
    steps = [1, 3, 5, 10, 20]
    for k, left in zip(steps, left_after(sim, steps), strict=True):
        p = math.exp(-k * DT / mean)
        assert within_binomial(left, N, p), (k, left, N * p)


def test_random_necrotic_clearance_counts_from_the_rupture() -> None:
    sim = dead_cells(
        NECROTIC,
        necrosis_model="rate",
        necrotic_volume={},
        necrotic_clearance_min=60.0,
        necrotic_clearance="random",
    )
    rupture = float(sim.types.params["necro_rupture_min"][0])
    assert 60.0 < rupture < 600.0  # PhysiCell's defaults swell to twice in a few hours
    first = math.ceil(rupture / DT - 1e-6)  # the first step at or after the rupture
    before, at, later = left_after(sim, [first - 1, first + 4, first + 14])
    assert before == N
    for k, left in ((5, at), (15, later)):
        assert within_binomial(left, N, math.exp(-k * DT / 60.0)), (k, left)


def test_random_clearance_is_the_same_draws_for_the_same_seed() -> None:
    runs = []
    for _ in range(2):
        sim = dead_cells(APOPTOTIC, apoptotic_clearance_min=60.0, apoptotic_clearance="random")
        sim.step(5)
        runs.append(np.sort(sim.organs["box"].cells.id))
    np.testing.assert_array_equal(*runs)
