"""The simulation loop: determinism, placement, confinement, schedule, observables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario, busy_scenario
from tissue.backend import Backend
from tissue.cells import LIVE
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.observers import TimeSeries
from tissue.simulation import Simulation


def state_of(sim: Simulation) -> dict[str, np.ndarray]:
    organ = sim.organs["box"]
    state = {f"cells.{k}": v for k, v in organ.cells.to_numpy().items()}
    for name, value in organ.fields.values.items():
        state[f"field.{name}"] = sim.backend.to_numpy(value).copy()
    return state


def test_same_seed_same_backend_gives_identical_state(backend: Backend) -> None:
    scenario = scenario_from_dict(busy_scenario(), "test")
    runs = []
    for _ in range(2):
        sim = Simulation(scenario, backend=backend, seed=11)
        sim.step(600)
        runs.append(state_of(sim))
    assert runs[0].keys() == runs[1].keys()
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key], err_msg=key)
    # the run did exercise the rules
    cells = runs[0]
    assert (cells["cells.state"] != LIVE).any()
    assert cells["cells.id"].max() >= cells["cells.id"].size  # divisions and removals


def test_different_seeds_differ() -> None:
    scenario = scenario_from_dict(busy_scenario(), "test")
    a, b = (Simulation(scenario, backend="cpu", seed=s) for s in (1, 2))
    a.step(300)
    b.step(300)
    pa, pb = a.organs["box"].cells.position_um, b.organs["box"].cells.position_um
    assert pa.shape != pb.shape or not np.array_equal(pa, pb)


def test_cells_never_enter_barriers_or_leave_the_box() -> None:
    scenario = scenario_from_dict(busy_scenario(), "test")
    sim = Simulation(scenario, backend="cpu", seed=3)
    organ = sim.organs["box"]
    wall = organ.label_codes["wall"]
    for _ in range(20):
        sim.step(30)
        p = organ.cells.position_um
        assert organ.grid.contains(np, p).all()
        assert (organ.labels.reshape(-1)[organ.grid.flat_index(np, p)] != wall).all()


def test_ids_stay_unique_and_sorted_through_division_and_removal() -> None:
    scenario = scenario_from_dict(busy_scenario(), "test")
    sim = Simulation(scenario, backend="cpu", seed=5)
    for _ in range(10):
        sim.step(60)
        ids = sim.organs["box"].cells.id
        assert (np.diff(ids) > 0).all()


def test_placement() -> None:
    scenario = scenario_from_dict(busy_scenario(), "test")
    sim = Simulation(scenario, backend="cpu")
    cells = sim.organs["box"].cells
    tumour = cells.position_um[cells.type == 0]
    # hexagonal close packing of r = 8.4 um cells in a 25 um ball: about 0.74 (25/8.4)^3
    assert 15 <= tumour.shape[0] <= 25
    assert np.linalg.norm(tumour - [80, 80, 40], axis=1).max() <= 25.0 + 1e-4
    scouts = cells.position_um[cells.type == 1]
    assert scouts.shape[0] == 60  # all in 'tissue' voxels, none in the wall
    with pytest.raises(InputError, match="outside organ 'box'"):
        Simulation(scenario_from_dict(busy_scenario(initial_cells=[
            {"kind": "list", "organ": "box", "type": "scout", "positions_um": [[500, 0, 0]]}]),
            "test"))  # fmt: skip


def test_schedule_and_observers() -> None:
    scenario = scenario_from_dict(busy_scenario(), "test")
    sim = Simulation(scenario, backend="cpu")
    assert (sim.schedule.diffusion, sim.schedule.mechanics, sim.schedule.phenotype) == (1, 1, 60)
    series = TimeSeries()
    sim.add_observer(series, every_min=6.0)
    sim.run(days=18.0 / 1440)
    assert series.column("time_min") == pytest.approx([0.0, 6.0, 12.0, 18.0])
    assert sim.time_min == pytest.approx(18.0)
    row = series.rows[-1]
    assert row["box.cells"] == sum(row[f"box.{t}.{s}"] for t in ("tumour", "scout")
                                   for s in ("live", "apoptotic", "necrotic"))  # fmt: skip
    assert row["box.oxygen.max"] == pytest.approx(38.0)
    assert row["box.signal.max"] > 0
    assert row["box.tumour.radius_um"] > 0


def test_seed_out_of_range() -> None:
    scenario = scenario_from_dict(busy_scenario(), "test")
    with pytest.raises(InputError, match="seed"):
        Simulation(scenario, seed=-1)


def test_python_api_of_the_design() -> None:
    """The calls DESIGN.md promises: load_scenario(...).with_overrides, Simulation(...),
    sim.step / sim.run / sim.time_min, organ.fields[name], organ.cells, sim.observables(),
    tissue.to_numpy."""
    import tissue

    scenario = tissue.load_scenario("spheroid").with_overrides({"run.days": 0.01})
    sim = tissue.Simulation(scenario, backend="cpu", seed=1)
    sim.step(10)
    sim.run(days=0.005)
    assert sim.time_min == pytest.approx(1.0 + 7.2)
    organ = sim.organs["tissue"]
    oxygen = tissue.to_numpy(organ.fields["oxygen"])
    assert oxygen.shape == (30, 30, 30)
    assert "oxygen" in organ.fields
    assert list(organ.fields) == ["oxygen"]
    assert organ.cells.n > 0
    assert sim.observables()["tissue.cells"] == organ.cells.n


def walled_box(initial: list[dict[str, Any]]) -> dict[str, Any]:
    return box_scenario(
        organs={"box": {"shape": [10, 10, 10], "spacing_um": 20.0, "origin_um": [1000, 0, 0],
                        "barrier_labels": ["air"],
                        "regions": [{"shape": "box", "label": "air", "min_um": [1000, 0, 0],
                                     "max_um": [1100, 200, 200]},
                                    {"shape": "sphere", "label": "duct",
                                     "center_um": [1150, 100, 100], "radius_um": 30}]}},
        cell_types={"t": {"allowed_labels": ["tissue"]}},
        initial_cells=initial,
    )  # fmt: skip


def test_random_placement_places_exactly_count_in_allowed_voxels() -> None:
    sim = Simulation(
        scenario_from_dict(
            walled_box([{"kind": "random", "organ": "box", "type": "t", "count": 5000}]), "test"
        ),
        seed=2,
    )
    organ = sim.organs["box"]
    assert organ.cells.n == 5000
    label = organ.labels.reshape(-1)[organ.grid.flat_index(np, organ.cells.position_um)]
    assert (label == organ.label_codes["tissue"]).all()


def test_random_placement_never_loses_a_cell_to_rounding(monkeypatch) -> None:
    """The largest uniform draw puts points on their voxel's upper face after rounding to
    float32 (and on the box's face for the last voxel): they move to the voxel centre."""
    import tissue.placement as placement

    def top(seed: int, entry: int, count: int, block: int) -> np.ndarray:
        return np.full((count, 4), np.float32(1 - 2**-24), dtype=np.float32)

    monkeypatch.setattr(placement, "_placement_uniforms", top)
    sim = Simulation(
        scenario_from_dict(
            walled_box([{"kind": "random", "organ": "box", "type": "t", "count": 300}]), "test"
        )
    )
    organ = sim.organs["box"]
    assert organ.cells.n == 300
    assert organ.grid.contains(np, organ.cells.position_um).all()


def test_placement_errors_name_the_entry() -> None:
    with pytest.raises(InputError, match="no voxel of label 'air' that cell type 't' may enter"):
        Simulation(scenario_from_dict(walled_box(
            [{"kind": "random", "organ": "box", "type": "t", "count": 1, "label": "air"}]),
            "test"))  # fmt: skip
    with pytest.raises(InputError, match="lies in label 'duct'") as info:
        Simulation(scenario_from_dict(walled_box(
            [{"kind": "list", "organ": "box", "type": "t", "positions_um": [[1150, 100, 100]]}]),
            "test"))  # fmt: skip
    assert info.value.key == "initial_cells.0.positions_um"


def test_sphere_placement_is_clipped_to_the_tissue() -> None:
    sim = Simulation(scenario_from_dict(walled_box(
        [{"kind": "sphere", "organ": "box", "type": "t", "center_um": [1100, 100, 100],
          "radius_um": 60}]), "test"))  # fmt: skip
    organ = sim.organs["box"]
    label = organ.labels.reshape(-1)[organ.grid.flat_index(np, organ.cells.position_um)]
    assert organ.cells.n > 20
    assert (label == organ.label_codes["tissue"]).all()


def test_oxygen_ramps() -> None:
    """Cycle rises from threshold to saturation; necrosis falls in from threshold to max;
    equal ends are a step; no oxygen field (sampled as +inf) means full cycle, no necrosis."""
    from tissue.signals import falling_ramp, rising_ramp

    oxygen = np.array([-np.inf, 0.0, 2.5, 3.75, 5.0, 20.0, 38.0, 50.0, np.inf], np.float32)
    f32 = np.float32
    np.testing.assert_allclose(rising_ramp(np, oxygen, f32(5.0), f32(38.0)),
                               [0, 0, 0, 0, 0, 15 / 33, 1, 1, 1], rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(falling_ramp(np, oxygen, f32(5.0), f32(2.5)),
                               [1, 1, 1, 0.5, 0, 0, 0, 0, 0])  # fmt: skip
    assert falling_ramp(np, oxygen, f32(5.0), f32(5.0)).tolist() == [1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert rising_ramp(np, oxygen, f32(5.0), f32(5.0)).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1]


def test_no_oxygen_field_means_no_necrosis() -> None:
    data = busy_scenario()
    data["cell_types"]["tumour"].update(
        oxygen_field=None,
        necrosis_rate_per_min=1.0,
        necrosis_oxygen_threshold=5.0,
        necrosis_oxygen_max=5.0,
    )
    del data["cell_types"]["tumour"]["oxygen_field"]
    sim = Simulation(scenario_from_dict(data, "test"), backend="cpu")
    sim.step(120)
    cells = sim.organs["box"].cells
    assert not (cells.state[cells.type == 0] == 2).any()


def test_necrosis_at_a_rate_moved_by_rules() -> None:
    """``necrosis_model = "rate"`` (PhysiCell's rule-based models): live cells become
    necrotic at the rate wherever they are, 1 - exp(-r t) of them by t (within 4 binomial
    sd, no division or apoptosis); a rule on ``necrosis`` moves the rate (here to 0 in a
    field above its half-max)."""
    n, rate = 3000, 1.0 / 120.0

    def run(rules: dict[str, Any]) -> tuple[float, float]:
        data = box_scenario(
            organs={"box": {"shape": [20, 20, 20], "spacing_um": 20.0}},
            time_steps={"diffusion_min": 6.0, "mechanics_min": 6.0, "phenotype_min": 6.0},
            fields={"s": {"diffusion_um2_per_min": 1.0, "initial": 10.0}},
            cell_types={"a": {"necrosis_model": "rate", "necrosis_rate_per_min": rate,
                              "necrotic_clearance_min": 1e5, "repulsion_um_per_min": 0.0}},
            initial_cells=[{"kind": "random", "organ": "box", "type": "a", "count": n}],
            rules=rules,
        )  # fmt: skip
        sim = Simulation(scenario_from_dict(data, "t"), backend="cpu", seed=2)
        sim.step(20)
        return float((sim.organs["box"].cells.state == 2).mean()), sim.time_min

    necrotic, minutes = run({})
    expected = 1.0 - math.exp(-rate * minutes)
    assert abs(necrotic - expected) < 4 * math.sqrt(expected * (1 - expected) / n)
    fed = {"cell_type": "a", "behaviour": "necrosis", "signal": "s", "to_value": 0.0,
           "half_max": 0.1, "hill_coefficient": 8.0}  # fmt: skip
    spared, _ = run({"fed": fed})
    assert spared == 0.0
