"""The metastasis census and the invasion front, against brute force and geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import busy_scenario
from tissue.backend import Backend, to_numpy
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.observables import census, cluster_labels, front_metrics, volume_fraction
from tissue.simulation import Simulation


def brute_force_clusters(points: np.ndarray, link: float) -> np.ndarray:
    n = len(points)
    labels = np.arange(n)
    near = ((points[:, None] - points[None]) ** 2).sum(-1) <= link * link
    changed = True
    while changed:
        changed = False
        for i in range(n):
            low = labels[near[i]].min()
            if low < labels[i]:
                labels[near[i]] = np.minimum(labels[near[i]], low)
                labels[i] = low
                changed = True
    return labels


@pytest.mark.parametrize("seed", range(5))
def test_clusters_equal_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 200, size=(250, 3)).astype(np.float32)
    expected = brute_force_clusters(points.astype(np.float64), 15.0)
    assert np.array_equal(cluster_labels(points, 15.0), expected)


def test_census_counts_clusters_by_size_class() -> None:
    rng = np.random.default_rng(1)
    parts = [rng.normal(0, 4, (150, 3)), rng.normal(500, 3, (12, 3)), rng.normal(-500, 2, (3, 3))]
    parts += [np.array([[900.0, 0, 0]]), np.array([[0, 900.0, 0]])]
    points = np.concatenate(parts).astype(np.float32)
    assert census(points, 21.0, [1, 2, 10, 100, 1000]) == {
        "1": 2, "2-9": 1, "10-99": 1, "100-999": 1, "1000+": 0
    }  # fmt: skip
    assert census(np.zeros((0, 3), np.float32), 21.0, [1, 5]) == {"1-4": 0, "5+": 0}


def test_front_of_a_ball_of_cells(backend: Backend) -> None:
    """Cells packed in a ball of radius R: the front's radius is within a voxel of R and
    its area within 5% of a sphere's of the front's own radius."""
    xp = backend.xp
    spacing = 14.0
    g = np.arange(-150, 151, spacing)
    points = np.stack(np.meshgrid(g, g, g), axis=-1).reshape(-1, 3)
    points = points[(points**2).sum(axis=1) <= 150**2] + 300.0
    fraction = volume_fraction(
        xp, xp.asarray(points, dtype=xp.float32), xp.full(len(points), 8.4), (60, 60, 60),
        (10.0, 10.0, 10.0), (0.0, 0.0, 0.0),
    )  # fmt: skip
    volume = float(to_numpy(fraction).astype(np.float64).sum()) * 1000.0
    assert volume == pytest.approx(len(points) * 4 / 3 * math.pi * 8.4**3, rel=1e-5)
    front = front_metrics(xp, fraction, 0.2, (10.0, 10.0, 10.0))
    assert abs(front["front_radius_um"] - 150.0) < 10.0
    sphere = 4 * math.pi * front["front_radius_um"] ** 2
    assert front["front_area_um2"] == pytest.approx(sphere, rel=0.05)


def test_front_of_a_disc_of_cells_in_2d(backend: Backend) -> None:
    """Cells 14 um apart in a disc of radius R in a 2-D layer (dz 20 um), smoothed in the plane
    only: the front's radius (of the disc of equal area) is within a voxel of R, its area
    within 5% of the rim of a disc of the front's own radius times dz; for a packed disc in
    a simulation, the cells' equivalent radius (of the uniform disc) is within a cell radius
    of R."""
    xp = backend.xp
    g = np.arange(-150.0, 151.0, 14.0)
    points = np.stack([*np.meshgrid(g, g), np.zeros((g.size, g.size))], axis=-1).reshape(-1, 3)
    points = points[(points**2).sum(axis=1) <= 150**2] + [300.0, 300.0, 10.0]
    fraction = volume_fraction(
        xp, xp.asarray(points, dtype=xp.float32), xp.full(len(points), 8.4), (1, 60, 60),
        (10.0, 10.0, 20.0), (0.0, 0.0, 0.0), two_d=True,
    )  # fmt: skip
    volume = float(to_numpy(fraction).astype(np.float64).sum()) * 2000.0
    assert volume == pytest.approx(len(points) * 4 / 3 * math.pi * 8.4**3, rel=1e-5)
    front = front_metrics(xp, fraction, 0.2, (10.0, 10.0, 20.0), two_d=True)
    assert abs(front["front_radius_um"] - 150.0) < 10.0
    rim = 2 * math.pi * front["front_radius_um"] * 20.0
    assert front["front_area_um2"] == pytest.approx(rim, rel=0.05)
    scenario = scenario_from_dict(
        {"organs": {"box": {"shape": [60, 60, 1], "spacing_um": 10.0, "two_d": True}},
         "cell_types": {"t": {}}, "observables": {"tumour_types": ["t"]},
         "initial_cells": [{"kind": "sphere", "organ": "box", "type": "t",
                            "center_um": [300.0, 300.0, 5.0], "radius_um": 150.0}]}, "disc",
    )  # fmt: skip
    values = Simulation(scenario, backend=backend).observables()
    assert abs(values["box.t.radius_um"] - 150.0) < 8.4
    assert abs(values["box.front_radius_um"] - 150.0) < 10.0 + 8.4  # the rim cells' edges


def test_simulation_reports_census_and_front() -> None:
    data = busy_scenario(observables={"tumour_types": ["tumour"]})
    sim = Simulation(scenario_from_dict(data, "busy"), backend="cpu", seed=1)
    values = sim.observables()
    live = values["box.tumour.live"]
    assert values["box.census.1"] + values["box.census.2-9"] + values["box.census.10-99"] >= 1
    # the initial tumour is one close-packed cluster
    assert values["box.census.10-99"] == 1
    assert live >= 10
    assert 10.0 < values["box.front_radius_um"] < 40.0
    assert values["box.front_area_um2"] > 0


def test_observables_config_is_checked() -> None:
    with pytest.raises(InputError, match="unknown cell type 'tumor'"):
        scenario_from_dict(busy_scenario(observables={"tumour_types": ["tumor"]}), "t")
    with pytest.raises(InputError, match="increasing lower bounds starting at 1"):
        scenario_from_dict(busy_scenario(observables={"size_classes": [2, 10]}), "t")
