"""Per-cell attributes (issue 15): drawn from their distributions, inherited at division,
saved and restored, scaling behaviours; and the rules combined as PhysiCell combines them."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import box_scenario
from tissue.backend import Backend, to_numpy
from tissue.behaviours import Behaviours
from tissue.cli import main
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.io.runfile import RunReader
from tissue.organ import Contacts
from tissue.rules import divide_cells, migration
from tissue.runner import Runner, RunSettings
from tissue.simulation import Simulation

N = 20_000


def many_cells(attributes: dict[str, Any], count: int = N, **ctype: Any) -> dict[str, Any]:
    """``count`` cells of type ``a`` (with ``attributes``) and a few of type ``b``."""
    return box_scenario(
        organs={"box": {"shape": [10, 10, 10], "spacing_um": 100.0}},
        cell_types={"a": {"attributes": attributes, **ctype}, "b": {}},
        initial_cells=[
            {"kind": "random", "organ": "box", "type": "a", "count": count},
            {"kind": "random", "organ": "box", "type": "b", "count": 10},
        ],
    )


def drawn(backend: Backend, attributes: dict[str, Any], seed: int = 3) -> dict[str, np.ndarray]:
    sim = Simulation(scenario_from_dict(many_cells(attributes), "t"), backend=backend, seed=seed)
    columns = sim.organs["box"].cells.to_numpy()
    a = columns["type"] == 0
    return {name: columns[name][a] for name in attributes} | {
        f"{name}.b": columns[name][~a] for name in attributes
    }


@pytest.mark.parametrize(
    ("spec", "mean", "sd"),
    [
        ({"distribution": "constant", "value": 2.5}, 2.5, 0.0),
        ({"distribution": "normal", "mean": 1.0, "sd": 0.25}, 1.0, 0.25),
        ({"distribution": "lognormal", "mean": 2.0, "sd": 1.0}, 2.0, 1.0),
        ({"distribution": "uniform", "low": -1.0, "high": 3.0}, 1.0, 4 / math.sqrt(12)),
    ],
)
def test_each_distribution_has_its_moments(backend: Backend, spec: dict, mean: float, sd: float):
    values = drawn(backend, {"x": spec})
    x = values["x"].astype(np.float64)
    # 5 standard errors of the mean and of the sd (the sd's for a normal, wider otherwise)
    assert abs(x.mean() - mean) <= 5 * sd / math.sqrt(N) + 1e-6
    assert abs(x.std() - sd) <= 0.05 * sd + 1e-6
    assert np.isnan(values["x.b"]).all()  # a type without the attribute holds NaN
    if spec["distribution"] == "lognormal":
        assert (x > 0).all()
        log = np.log(x)  # log-normal: the log is normal (skew ~0)
        assert abs(((log - log.mean()) ** 3).mean() / log.std() ** 3) < 0.1
    if spec["distribution"] == "uniform":
        assert x.min() >= -1.0
        assert x.max() <= 3.0


def test_clipping_and_the_same_draws_for_the_same_seed(backend: Backend) -> None:
    spec = {"distribution": "normal", "mean": 1.0, "sd": 0.25, "min": 0.8, "max": 1.1}
    one, two = drawn(backend, {"p": spec}), drawn(backend, {"p": spec})
    p = one["p"]
    assert p.min() == np.float32(0.8)
    assert p.max() == np.float32(1.1)
    # the share clipped at each end is the normal's tail beyond it
    assert abs((p == np.float32(0.8)).mean() - 0.2119) < 0.01
    assert abs((p == np.float32(1.1)).mean() - 0.3446) < 0.01
    np.testing.assert_array_equal(one["p"], two["p"])
    other = drawn(backend, {"p": spec}, seed=4)["p"]
    assert not np.array_equal(other, p)


def test_two_attributes_draw_independently() -> None:
    values = drawn("cpu", {"u": {"distribution": "normal", "mean": 0.0, "sd": 1.0},
                           "v": {"distribution": "normal", "mean": 0.0, "sd": 1.0}})  # fmt: skip
    assert abs(np.corrcoef(values["u"], values["v"])[0, 1]) < 5 / math.sqrt(N)


def test_daughters_inherit_and_mutate(backend: Backend) -> None:
    spec = {"distribution": "uniform", "low": 0.0, "high": 10.0}
    for mutation_sd in (0.0, 0.5):
        data = many_cells({"p": {**spec, "mutation_sd": mutation_sd}})
        sim = Simulation(scenario_from_dict(data, "t"), backend=backend, seed=1)
        organ = sim.organs["box"]
        xp, cells = organ.xp, organ.cells
        dividing = cells.type == 0
        parents = to_numpy(xp.nonzero(dividing)[0])
        before = to_numpy(cells.p)[parents].copy()
        axis = xp.zeros((cells.n, 3), dtype=xp.float32)
        axis[:, 0] = 1
        divide_cells(organ, sim.types, dividing, axis, sim.rng)
        after = cells.to_numpy()["p"]
        daughters = after[-parents.shape[0] :]
        np.testing.assert_array_equal(after[parents], before)  # parents keep
        if mutation_sd == 0:
            np.testing.assert_array_equal(daughters, before)
        else:
            step = (daughters - before).astype(np.float64)
            assert abs(step.mean()) < 5 * 0.5 / math.sqrt(N)
            assert abs(step.std() - 0.5) < 0.02


def test_attributes_survive_a_checkpoint_and_reach_the_run_file_and_summary(tmp_path: Path) -> None:
    data = many_cells(
        {"p": {"distribution": "normal", "mean": 1.0, "sd": 0.25, "units": "a.u."}},
        count=300,
        cycle_rate_per_min=1e-3,
    )
    sim = Simulation(scenario_from_dict(data, "t"), backend="cpu", seed=5)
    sim.step(120)
    sim.save_checkpoint(tmp_path / "c.h5")
    back = Simulation.from_checkpoint(tmp_path / "c.h5", backend="cpu")
    mine, theirs = sim.organs["box"].cells.to_numpy(), back.organs["box"].cells.to_numpy()
    np.testing.assert_array_equal(mine["p"], theirs["p"])
    sim.step(120)
    back.step(120)
    np.testing.assert_array_equal(
        sim.organs["box"].cells.to_numpy()["p"], back.organs["box"].cells.to_numpy()["p"]
    )
    Runner(back, tmp_path / "run", RunSettings(target_days=0.2, snapshot_every_min=60.0)).run()
    reader = RunReader(tmp_path / "run" / "run.h5")
    stored = reader.cells(-1, "box", ["type", "p"])
    live = back.organs["box"].cells.to_numpy()
    np.testing.assert_array_equal(stored["p"], live["p"])
    final = reader.final()
    a = live["p"][live["type"] == 0].astype(np.float64)
    assert final["box.a.attribute.p.mean"] == pytest.approx(a.mean(), rel=1e-12)
    assert final["box.a.attribute.p.sd"] == pytest.approx(a.std(), rel=1e-12)
    assert "box.b.attribute.p.mean" not in final  # b has no p
    shown = CliRunner().invoke(main, ["summary", str(tmp_path / "run")], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "per-cell attributes" in shown.output
    assert f"{a.mean():.4g}" in shown.output


def test_attribute_errors_name_the_key() -> None:
    bad = [
        ({"distribution": "normal", "mean": 1.0}, "cell_types.a.attributes.p.sd"),
        ({"distribution": "constant", "value": 1.0, "sd": 1.0}, "cell_types.a.attributes.p.sd"),
        ({"distribution": "lognormal", "mean": -1.0, "sd": 1.0}, "attributes.p.mean"),
        ({"distribution": "uniform", "low": 2.0, "high": 1.0}, "attributes.p.high"),
    ]
    for spec, key in bad:
        with pytest.raises(InputError, match=key.replace(".", r"\.")):
            scenario_from_dict(many_cells({"p": spec}), "t")
    with pytest.raises(InputError, match="built-in cell column"):  # found when built
        Simulation(scenario_from_dict(many_cells({"partner": {"value": 1.0}}), "t"), "cpu")
    with pytest.raises(InputError, match=r"scale_by\.cycle\.attribute"):
        scenario_from_dict(many_cells({}, scale_by={"cycle": {"attribute": "p"}}), "t")


# --- behaviours scaled by attributes, and rules combined ----------------------------------


def behaviour_of(data: dict[str, Any], behaviour: str, base: float, seed: int = 2) -> tuple:
    sim = Simulation(scenario_from_dict(data, "t"), backend="cpu", seed=seed)
    organ = sim.organs["box"]
    contacts = Contacts(organ, sim.types)
    base_values = np.full(organ.cells.n, base, dtype=np.float32)
    value = Behaviours(sim.scenario, sim.types).apply(
        organ, behaviour, base_values, sim.body, contacts
    )
    return organ, value


def test_scale_by_multiplies_or_ramps() -> None:
    spec = {"distribution": "uniform", "low": 0.0, "high": 3.0}
    for scale, expect in [
        ({"attribute": "p"}, lambda p: 2e-3 * p),
        ({"attribute": "p", "kind": "ramp", "zero_at": 0.5, "full_at": 2.0},
         lambda p: 2e-3 * np.clip((p - 0.5) / 1.5, 0, 1)),
    ]:  # fmt: skip
        data = many_cells({"p": spec}, scale_by={"cycle": scale})
        organ, value = behaviour_of(data, "cycle", 2e-3)
        a = organ.cells.type == 0
        np.testing.assert_allclose(value[a], expect(organ.cells.p[a]), rtol=1e-6, atol=1e-12)
        np.testing.assert_array_equal(value[~a], np.float32(2e-3))  # type b unscaled


def test_scale_by_moves_a_held_behaviour_without_rules() -> None:
    """Migration speed is held between phenotype steps; its ``scale_by`` acts although no
    rule moves it (each cell of type a at 2 um/min times its p, type b unscaled)."""
    spec = {"distribution": "uniform", "low": 0.0, "high": 3.0}
    data = many_cells({"p": spec}, speed_um_per_min=2.0,
                      scale_by={"migration_speed": {"attribute": "p"}})  # fmt: skip
    data["cell_types"]["b"] = {"speed_um_per_min": 2.0}
    sim = Simulation(scenario_from_dict(data, "t"), backend="cpu", seed=4)
    sim.step(1)  # the first tick is a phenotype step
    organ = sim.organs["box"]
    speed = migration(organ, sim.types, "migration_speed")
    a = organ.cells.type == 0
    np.testing.assert_allclose(speed[a], 2.0 * organ.cells.p[a], rtol=1e-6)
    np.testing.assert_array_equal(speed[~a], np.float32(2.0))


def rule(signal: str, to_value: float, half_max: float, n: float = 1.0, **extra: Any) -> dict:
    return {"cell_type": "a", "behaviour": "cycle", "signal": signal, "to_value": to_value,
            "half_max": half_max, "hill_coefficient": n, **extra}  # fmt: skip


def field_scenario(rules: dict[str, Any]) -> dict[str, Any]:
    """Cells of type ``a`` (base cycle 1e-3) in two uniform fields, s1 = 2 and s2 = 3."""
    return box_scenario(
        fields={"s1": {"diffusion_um2_per_min": 1.0, "initial": 2.0},
                "s2": {"diffusion_um2_per_min": 1.0, "initial": 3.0}},
        cell_types={"a": {"cycle_rate_per_min": 1e-3}},
        initial_cells=[{"kind": "random", "organ": "box", "type": "a", "count": 50}],
        rules=rules,
    )  # fmt: skip


def test_rules_combine_as_physicells_multivariate_hill() -> None:
    """PhysiCell 1.14 (Hypothesis_Rule::evaluate): U = X/(1+X), X = sum (s/h)^n of the
    raising rules; value = b + (max - b) U; then D likewise for the lowering ones and
    value + (min - value) D. Written out here from PhysiCell's formula."""
    rules = {
        "up1": rule("s1", 4e-3, 1.0, 2.0),
        "up2": rule("s2", 4e-3, 6.0, 1.0),
        "down": rule("s1", 0.0, 4.0, 3.0),
        "down_falls": rule("s2", 0.0, 1.5, 2.0, as_signal="falls"),
    }
    _, value = behaviour_of(field_scenario(rules), "cycle", 1e-3)
    x_up = (2 / 1) ** 2 + (3 / 6) ** 1
    u = 1e-3 + (4e-3 - 1e-3) * x_up / (1 + x_up)
    x_down = (2 / 4) ** 3 + (1.5 / 3) ** 2
    expect = u + (0.0 - u) * x_down / (1 + x_down)
    np.testing.assert_allclose(value, expect, rtol=1e-6)
    # the order in which the rules are written does not matter
    _, again = behaviour_of(field_scenario(dict(reversed(list(rules.items())))), "cycle", 1e-3)
    np.testing.assert_array_equal(value, again)
    # one rule alone is its Hill function
    _, one = behaviour_of(field_scenario({"up1": rules["up1"]}), "cycle", 1e-3)
    np.testing.assert_allclose(one, 1e-3 + 3e-3 * 4 / 5, rtol=1e-6)


def test_rules_raising_one_behaviour_to_different_values_are_refused() -> None:
    rules = {"up1": rule("s1", 4e-3, 1.0), "up2": rule("s2", 5e-3, 1.0)}
    with pytest.raises(InputError, match=r"rules\.up2\.to_value: .*'up1' and 'up2' both raise"):
        scenario_from_dict(field_scenario(rules), "t")


def test_time_volume_and_attribute_signals() -> None:
    """PhysiCell's ``time``, ``volume`` and ``custom:<name>`` signals: the run's time (min),
    each cell's volume 4/3 pi r^3 (r from its volume model) and its attribute value, each
    through the Hill response (written out here)."""
    spec = {"distribution": "uniform", "low": 0.0, "high": 3.0}
    data = many_cells({"p": spec}, count=2000, cycle_rate_per_min=1e-3, division_volume={})
    data["rules"] = {
        "late": rule("time", 0.0, 30.0, 4.0),
        "attribute": rule("attribute.p", 5e-3, 1.5, 2.0),
    }
    sim = Simulation(scenario_from_dict(data, "t"), backend="cpu", seed=2)
    sim.step(round(60.0 / sim.schedule.base_min))  # one hour: some divided, at half volume
    organ = sim.organs["box"]
    cells, a = organ.cells, organ.cells.type == 0
    base = np.full(cells.n, 1e-3, dtype=np.float32)
    value = Behaviours(sim.scenario, sim.types).apply(
        organ, "cycle", base, sim.body, Contacts(organ, sim.types)
    )
    x_up = (cells.p / 1.5) ** 2
    up = 1e-3 + (5e-3 - 1e-3) * x_up / (1 + x_up)
    # rules read the time at the start of the step they act in: the last step's
    now = sim.time_min - sim.schedule.base_min
    assert sim.body.time_min == pytest.approx(now)
    x_down = (now / 30.0) ** 4
    np.testing.assert_allclose(value[a], up[a] - up[a] * x_down / (1 + x_down), rtol=1e-5)

    data["rules"] = {"small": rule("volume", 0.0, 2000.0, 8.0)}
    sim2 = Simulation(scenario_from_dict(data, "t"), backend="cpu", seed=2)
    sim2.step(round(60.0 / sim2.schedule.base_min))
    organ = sim2.organs["box"]
    volume = 4.0 / 3.0 * np.pi * sim2.types.radius(organ.cells).astype(np.float64) ** 3
    assert volume.min() < 2000.0 < volume.max()  # daughters start small
    base = np.full(organ.cells.n, 1e-3, dtype=np.float32)
    value = Behaviours(sim2.scenario, sim2.types).apply(
        organ, "cycle", base, sim2.body, Contacts(organ, sim2.types)
    )
    x = (volume / 2000.0) ** 8
    a = organ.cells.type == 0
    np.testing.assert_allclose(value[a], (1e-3 - 1e-3 * x / (1 + x))[a], rtol=1e-4)


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"rules": {"r": rule("attribute.q", 0.0, 1.0)}}, "rules.r.signal",
         "'q' is not an attribute of the rule's cell type"),
        ({"recruitment": {"x": {"organ": "box", "type": "a", "label": "tissue",
                                "signal": "time"}}}, "recruitment.x.signal", "in rules only"),
        ({"fields": {"volume": {"diffusion_um2_per_min": 1.0}}}, "fields.volume",
         "'volume' names a rule signal"),
    ],
)  # fmt: skip
def test_cell_signals_are_for_rules_of_types_that_have_them(
    change: dict[str, Any], key: str, message: str
) -> None:
    data = many_cells({"p": {"value": 1.0}}, cycle_rate_per_min=1e-3) | change
    with pytest.raises(InputError, match=re.escape(key) + ": .*" + re.escape(message)):
        scenario_from_dict(data, "t")


def test_rules_move_the_motility_each_phenotype_step() -> None:
    """migration_speed, _persistence and _bias (PhysiCell's migration speed, persistence
    time and bias): set per cell by the rules at each phenotype step, held between. A
    cell moves at the speed it took at its last turn, as PhysiCell's motility vector keeps
    its length until the next turn: after the rules slow them, the cells that turn move
    at the rule's speed and those that do not at the type's 2 um/min (excludes applying
    the rule's speed at once)."""
    data = box_scenario(
        organs={"box": {"shape": [30, 30, 30], "spacing_um": 20.0}},
        time_steps={"diffusion_min": 1.0, "mechanics_min": 1.0, "phenotype_min": 6.0},
        fields={"s1": {"diffusion_um2_per_min": 1.0, "initial": 2.0}},
        cell_types={"a": {"speed_um_per_min": 2.0, "persistence_min": 1.0,
                          "chemotaxis_field": "s1", "chemotaxis_bias": 0.5,
                          "repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0}},
        initial_cells=[{"kind": "random", "organ": "box", "type": "a", "count": 300}],
        rules={
            "slow": {"cell_type": "a", "behaviour": "migration_speed", "signal": "s1",
                     "to_value": 0.0, "half_max": 1.0, "hill_coefficient": 4.0},
            "stubborn": {"cell_type": "a", "behaviour": "migration_persistence",
                         "signal": "s1", "to_value": 50.0, "half_max": 2.0},
        },
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "t"), backend="cpu", seed=4)
    cells = sim.organs["box"].cells
    assert np.isnan(cells.migration_speed).all()  # the type's until the first phenotype step
    sim.step(1)  # tick 0: mechanics with the type's speed, then the phenotype step
    speed = np.float32(2.0 * (1 - 16 / 17))
    np.testing.assert_allclose(cells.migration_speed, speed, rtol=1e-6)
    np.testing.assert_allclose(cells.migration_persistence, 1.0 + 49.0 * 0.5, rtol=1e-6)
    assert "migration_bias" not in cells.columns  # no rule moves it: no column, the type's
    np.testing.assert_array_equal(migration(sim.organs["box"], sim.types, "migration_bias"), 0.5)
    before, direction = cells.position_um.copy(), cells.direction.copy()
    np.testing.assert_array_equal(cells.motility_speed[np.linalg.norm(direction, axis=1) > 0], 2)
    sim.step(1)
    step = np.linalg.norm(cells.position_um - before, axis=1)
    turned = (cells.direction != direction).any(axis=1)
    kept = ~turned & (np.linalg.norm(direction, axis=1) > 0)
    assert turned.sum() >= 5
    assert kept.sum() >= 5
    # to the float32 rounding of positions of up to 600 um (6e-5 um)
    np.testing.assert_allclose(step[turned], speed * 1.0, rtol=0, atol=1e-4)
    np.testing.assert_allclose(step[kept], 2.0 * 1.0, rtol=0, atol=1e-4)


def listed(attributes: dict[str, list[float]]) -> dict[str, Any]:
    """Two listed cells of a type whose attribute ``a`` is normal(1, 0.1)."""
    return box_scenario(
        cell_types={"tumour": {"attributes": {"a": {"distribution": "normal", "mean": 1.0,
                                                    "sd": 0.1}}}},
        initial_cells=[{"kind": "list", "organ": "box", "type": "tumour",
                        "positions_um": [[30.0, 30.0, 30.0], [90.0, 90.0, 90.0]],
                        "attributes": attributes}],
    )  # fmt: skip


def test_listed_attribute_values_replace_the_drawn_ones() -> None:
    """PhysiCell's ``custom:`` columns: the first cell's listed 7.5 replaces its draw, the
    second's nan keeps the draw it would have had without the list."""
    given = Simulation(scenario_from_dict(listed({"a": [7.5, math.nan]}), "s"), "cpu", seed=4)
    plain = Simulation(scenario_from_dict(listed({}), "s"), "cpu", seed=4)
    values, draws = given.organs["box"].cells.a, plain.organs["box"].cells.a
    assert values[0] == np.float32(7.5)
    assert values[1] == draws[1] != draws[0]


@pytest.mark.parametrize(
    ("attributes", "message"),
    [({"b": [1.0, 1.0]}, "not an attribute of 'tumour'"),
     ({"a": [1.0]}, "1 values for 2 positions"),
     ({"a": [1.0, math.inf]}, "values are finite")],
)  # fmt: skip
def test_listed_attribute_values_that_cannot_be_are_refused(
    attributes: dict[str, list[float]], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        scenario_from_dict(listed(attributes), "bad")


STILL = {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0}


def constant(value: float, conserved: bool = False) -> dict[str, Any]:
    return {"distribution": "constant", "value": value, "conserved": conserved}


def test_a_conserved_attribute_splits_at_division_and_the_others_do_not() -> None:
    """PhysiCell's conserved custom data: every cell divides at each phenotype step (rate
    10/min), so a conserved 8 is 4 in each of the two cells after the first and 2 in each
    of the four after the second, its total kept; a plain one stays 8."""
    data = box_scenario(
        time_steps={"diffusion_min": 6.0, "mechanics_min": 6.0, "phenotype_min": 6.0},
        cell_types={"tumour": {"cycle_rate_per_min": 10.0, "repulsion_um_per_min": 0.0,
                               "adhesion_um_per_min": 0.0,
                               "attributes": {"kept": constant(8.0, True),
                                              "plain": constant(8.0)}}},
        initial_cells=[{"kind": "list", "organ": "box", "type": "tumour",
                        "positions_um": [[60.0, 60.0, 60.0]]}],
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "split"), "cpu", seed=2)
    for step, count, each in ((1, 2, 4.0), (1, 4, 2.0)):
        sim.step(step)
        cells = sim.organs["box"].cells
        assert cells.n == count
        assert cells.kept.tolist() == [each] * count
        assert cells.plain.tolist() == [8.0] * count


def test_a_changed_cell_takes_its_new_types_attributes_but_the_conserved_ones() -> None:
    """PhysiCell's conversion to another definition: cells of "a" (x 5, y 7, z 3) that all
    change to "b" (x 1; y 2 conserved; no z) hold x 1 (b's, as a new cell), y 7 (kept:
    b conserves it) and z NaN (b has none)."""
    data = box_scenario(
        time_steps={"diffusion_min": 6.0, "mechanics_min": 6.0, "phenotype_min": 6.0},
        cell_types={
            "a": {**STILL, "transitions": {"b": 100.0},
                  "attributes": {"x": constant(5.0), "y": constant(7.0), "z": constant(3.0)}},
            "b": {**STILL, "attributes": {"x": constant(1.0), "y": constant(2.0, True)}},
        },
        initial_cells=[{"kind": "list", "organ": "box", "type": "a",
                        "positions_um": [[30.0, 30.0, 30.0], [90.0, 90.0, 90.0]]}],
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "convert"), "cpu", seed=2)
    sim.step(1)
    cells = sim.organs["box"].cells
    assert (cells.type == sim.types.names.index("b")).all()
    assert cells.x.tolist() == [1.0, 1.0]
    assert cells.y.tolist() == [7.0, 7.0]
    assert np.isnan(cells.z).all()
