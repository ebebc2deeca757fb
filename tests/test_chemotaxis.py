"""Chemotaxis over several fields (PhysiCell's advanced chemotaxis): the bias direction is
normalise(sum s g), or normalise(sum s g/|g|) with ``chemotaxis_normalize_each``, with
signed sensitivities s; ``chemotaxis_field`` is the one-field case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario, busy_scenario
from tissue.backend import Backend, to_numpy
from tissue.chemotaxis import bias_direction
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.organ import Contacts
from tissue.rules import move_cells, update_held, update_motility
from tissue.simulation import Simulation

SPACING = 10.0
GRAD_A = np.array([0.5, 0.0, 0.0])  # units/um: field a rises along x
GRAD_B = np.array([0.0, 0.1, 0.2])  # and b along y and z (its z part is lost in 2-D)


def walkers(
    backend: Backend | str, two_d: bool = False, rules: dict | None = None, **mover: Any
) -> Any:
    """200 cells of type ``mover`` (speed 2 um/min, turning every step, no contact forces)
    in a ball in a 20^3 box (one layer when ``two_d``), fields a and b linear with
    gradients GRAD_A and GRAD_B, a uniform field c, and ``rules``."""
    nz = 1 if two_d else 20
    scenario = box_scenario(
        organs={"box": {"shape": [20, 20, nz], "spacing_um": SPACING, "two_d": two_d}},
        fields={name: {"diffusion_um2_per_min": 100.0} for name in ("a", "b", "c")},
        cell_types={"mover": {"speed_um_per_min": 2.0, "persistence_min": 1e-3,
                              "repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0,
                              **mover}},
        rules=rules or {},
        initial_cells=[{"kind": "sphere", "organ": "box", "type": "mover", "count": 200,
                        "center_um": [100.0, 100.0, 5.0 if two_d else 100.0],
                        "radius_um": 60.0}],
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(scenario, "walkers"), backend=backend, seed=3)
    organ = sim.organs["box"]
    z, y, x = (SPACING * (np.arange(n) + 0.5) for n in organ.grid.shape_zyx)
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    xp = organ.xp
    organ.fields["a"][...] = xp.asarray(GRAD_A[0] * xx, dtype=xp.float32)
    organ.fields["b"][...] = xp.asarray(GRAD_B[1] * yy + GRAD_B[2] * zz, dtype=xp.float32)
    organ.fields["c"][...] = 7.0
    return sim


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("two_d", [False, True], ids=["3-D", "2-D"])
@pytest.mark.parametrize("normalize_each", [False, True], ids=["sum", "normalised each"])
def test_two_fields_steer_along_the_signed_sum_of_their_gradients(
    backend: Backend, normalize_each: bool, two_d: bool
) -> None:
    """Bias 1: every cell turns to normalise(s_a g_a + s_b g_b) (or of the unit gradients
    with normalize_each) and moves speed x dt along it. A model that takes one field, adds
    unit gradients where it should add gradients (or the reverse), or drops a sign fails:
    the four candidates differ by more than 0.1 in each case."""
    s_a, s_b = 1.0, -3.0
    sim = walkers(backend, two_d, chemotaxis_bias=1.0, chemotaxis_normalize_each=normalize_each,
                  chemotaxis_sensitivities={"a": s_a, "b": s_b})  # fmt: skip
    organ = sim.organs["box"]
    g_b = GRAD_B * ([1, 1, 0] if two_d else 1)
    if normalize_each:
        expected = unit(s_a * unit(GRAD_A) + s_b * unit(g_b))
    else:
        expected = unit(s_a * GRAD_A + s_b * g_b)
    others = [unit(s_a * GRAD_A - s_b * g_b), unit(GRAD_A)]
    others.append(unit(s_a * GRAD_A + s_b * g_b) if normalize_each else unit(s_a * unit(GRAD_A)
                  + s_b * unit(g_b)))  # fmt: skip
    assert min(np.abs(expected - other).max() for other in others) > 0.1
    before = to_numpy(organ.cells.position_um).copy()
    update_motility(organ, sim.types, sim.rng, 0, 0.5)
    direction = to_numpy(organ.cells.direction)
    np.testing.assert_allclose(direction, np.broadcast_to(expected, direction.shape), atol=2e-6)
    move_cells(organ, sim.types, 0.5)
    moved = to_numpy(organ.cells.position_um) - before
    np.testing.assert_allclose(moved, np.broadcast_to(expected, moved.shape), atol=2e-5)


def test_a_negative_sensitivity_moves_down_the_gradient() -> None:
    """PhysiCell's chemotaxis with direction -1: s = -1 turns every cell against the
    gradient, and they move down it."""
    sim = walkers("cpu", chemotaxis_bias=1.0, chemotaxis_sensitivities={"a": -1.0})
    organ = sim.organs["box"]
    x = organ.cells.position_um[:, 0].copy()
    update_motility(organ, sim.types, sim.rng, 0, 0.5)
    np.testing.assert_allclose(organ.cells.direction, np.broadcast_to([-1, 0, 0], (200, 3)))
    move_cells(organ, sim.types, 0.5)
    np.testing.assert_allclose(organ.cells.position_um[:, 0], x - 1.0, rtol=1e-6)


def test_one_field_is_the_plain_rule_bit_for_bit() -> None:
    """``chemotaxis_field = "a"`` and ``chemotaxis_sensitivities = { a = 1 }`` (and any
    other positive s) give the same directions to the bit, at a partial bias."""
    out = []
    for chemotaxis in ({"chemotaxis_field": "a"}, {"chemotaxis_sensitivities": {"a": 1.0}},
                       {"chemotaxis_sensitivities": {"a": 2.5}}):  # fmt: skip
        sim = walkers("cpu", chemotaxis_bias=0.6, **chemotaxis)
        update_motility(sim.organs["box"], sim.types, sim.rng, 0, 0.5)
        out.append(sim.organs["box"].cells.direction.copy())
    assert np.array_equal(out[0], out[1])
    assert np.array_equal(out[0], out[2])
    assert np.all(out[0][:, 0] > -0.8)  # biased: no direction points far down the gradient


def test_a_zero_gradient_sum_leaves_the_random_part_as_in_physicell() -> None:
    """A uniform field has no gradient, so d = 0: at bias 0.5 the direction is the random
    unit vector; at bias 1 it is 0 and the cells stand still until their next turn
    (PhysiCell's normalize leaves a zero vector zero)."""
    half = walkers("cpu", chemotaxis_bias=0.5, chemotaxis_sensitivities={"c": 1.0})
    update_motility(half.organs["box"], half.types, half.rng, 0, 0.5)
    np.testing.assert_allclose(np.linalg.norm(half.organs["box"].cells.direction, axis=1), 1.0,
                               rtol=1e-6)  # fmt: skip
    full = walkers("cpu", chemotaxis_bias=1.0, chemotaxis_sensitivities={"c": 1.0})
    organ = full.organs["box"]
    before = organ.cells.position_um.copy()
    update_motility(organ, full.types, full.rng, 0, 0.5)
    assert np.all(organ.cells.direction == 0.0)
    move_cells(organ, full.types, 0.5)
    assert np.array_equal(organ.cells.position_um, before)


def test_a_block_weighs_its_fields_term_and_the_bias() -> None:
    """A block on a (factor f) scales a's term in the sum and the bias by
    (|s_a| f + |s_b|) / (|s_a| + |s_b|); a field alone keeps its direction and has its
    bias scaled by f, as before several fields."""
    sim = walkers("cpu", chemotaxis_bias=1.0, chemotaxis_sensitivities={"a": 2.0, "b": 1.0})
    organ, chemotaxis = sim.organs["box"], sim.types.chemotaxis
    assert chemotaxis is not None
    for f in (1.0, 0.25, 0.0):
        factors = {"a": f, "b": 1.0}
        direction, senses, weight = bias_direction(organ, chemotaxis, factors.__getitem__)
        expected = unit(2.0 * f * GRAD_A + GRAD_B)
        np.testing.assert_allclose(direction, np.broadcast_to(expected, (200, 3)), atol=2e-6)
        np.testing.assert_allclose(weight, (2.0 * f + 1.0) / 3.0, rtol=1e-6)
        assert senses.all()
    one = walkers("cpu", chemotaxis_bias=1.0, chemotaxis_field="a")
    assert one.types.chemotaxis is not None
    direction, _, weight = bias_direction(one.organs["box"], one.types.chemotaxis,
                                          lambda field: 0.3)  # fmt: skip
    np.testing.assert_allclose(direction, np.broadcast_to([1, 0, 0], (200, 3)))
    assert np.all(weight == np.float32(0.3))


def test_a_rule_on_a_sensitivity_turns_each_cell_by_its_signal() -> None:
    """``chemotaxis.b`` moved toward -4 by field a (half-max 20, read at each cell's voxel)
    gives each cell s_b = -4 a / (20 + a) at the phenotype step, and its direction is then
    normalise(g_a + s_b g_b): cells at different x turn differently. Before that step the
    type's s_b = 0 holds."""
    rule = {"cell_type": "mover", "behaviour": "chemotaxis.b", "signal": "a", "to_value": -4.0,
            "half_max": 20.0}  # fmt: skip
    sim = walkers("cpu", chemotaxis_bias=1.0, chemotaxis_sensitivities={"a": 1.0, "b": 0.0},
                  rules={"steer": rule})  # fmt: skip
    organ, types = sim.organs["box"], sim.types
    update_motility(organ, types, sim.rng, 0, 0.5)
    np.testing.assert_allclose(organ.cells.direction, np.broadcast_to([1, 0, 0], (200, 3)))
    update_held(organ, types, sim.behaviours.bind(organ, sim.body, Contacts(organ, types)))
    update_motility(organ, types, sim.rng, 1, 0.5)
    x = SPACING * (np.floor(organ.cells.position_um[:, 0] / SPACING) + 0.5)
    a = GRAD_A[0] * x
    s_b = -4.0 * a / (20.0 + a)
    expected = GRAD_A + s_b[:, None] * GRAD_B
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(organ.cells.direction, expected, atol=2e-6)
    assert np.ptp(expected[:, 1]) > 0.05  # the cells' directions differ


def test_an_attribute_scales_a_sensitivity() -> None:
    """``scale_by."chemotaxis.a"`` multiplies each cell's s_a by its attribute: cells of
    value -1 turn down the gradient, those of value 1 up it."""
    sim = walkers("cpu", chemotaxis_bias=1.0, chemotaxis_sensitivities={"a": 1.0},
                  attributes={"taste": {"distribution": "uniform", "low": -1.0, "high": 1.0}},
                  scale_by={"chemotaxis.a": {"attribute": "taste"}})  # fmt: skip
    organ, types = sim.organs["box"], sim.types
    update_held(organ, types, sim.behaviours.bind(organ, sim.body, Contacts(organ, types)))
    update_motility(organ, types, sim.rng, 0, 0.5)
    sign = np.sign(organ.cells.taste)
    assert (sign < 0).any()
    assert (sign > 0).any()
    np.testing.assert_array_equal(organ.cells.direction[:, 0], sign)


def test_a_restart_keeps_the_sensitivities_rules_set(tmp_path: Path) -> None:
    """The busy scenario's scouts sense two fields, one sensitivity moved by a rule: a run
    checkpointed after a phenotype step (tick 65) and resumed ends bit for bit as one that
    never stopped (the per-cell sensitivities travel with the cells)."""
    data = busy_scenario(rules={"repelled": {
        "cell_type": "scout", "behaviour": "chemotaxis.oxygen", "signal": "signal",
        "to_value": -2.0, "half_max": 0.01}})  # fmt: skip
    scout = data["cell_types"]["scout"]
    del scout["chemotaxis_field"]
    scout |= {"chemotaxis_sensitivities": {"signal": 1.0, "oxygen": -0.5},
              "chemotaxis_normalize_each": True}  # fmt: skip
    scenario = scenario_from_dict(data, "busy")
    straight = Simulation(scenario, backend="cpu", seed=2)
    straight.step(130)
    first = Simulation(scenario, backend="cpu", seed=2)
    first.step(65)
    assert np.isfinite(first.organs["box"].cells.chemotaxis_sensitivity).all()
    first.save_checkpoint(tmp_path / "checkpoint.h5", target_days=1.0)
    restored = Simulation.from_checkpoint(tmp_path / "checkpoint.h5", backend="cpu")
    restored.step(65)
    a, b = straight.state(), restored.state()
    assert a.arrays.keys() == b.arrays.keys()
    for key, value in a.arrays.items():
        assert value.tobytes() == b.arrays[key].tobytes(), key


@pytest.mark.parametrize(
    ("rule", "key", "fragment"),
    [
        ({"behaviour": "chemotaxis.vegf"}, "rules.r.behaviour", "chemotaxis.<field>"),
        ({"behaviour": "cycle"}, "rules.r.to_value", "-1: allowed: >= 0 (only a chemotaxis"),
        ({"cell_type": "still"}, "rules.r.behaviour", "'still' has no chemotaxis"),
    ],
)
def test_bad_sensitivity_rules_are_one_line_errors(rule: dict, key: str, fragment: str) -> None:
    """A rule may take a sensitivity below 0, and only a sensitivity; it needs a field and
    a type with chemotaxis."""
    base = {"cell_type": "mover", "behaviour": "chemotaxis.b", "signal": "a", "to_value": -1.0,
            "half_max": 1.0}  # fmt: skip
    scenario = box_scenario(
        fields={"a": {"diffusion_um2_per_min": 1.0}, "b": {"diffusion_um2_per_min": 1.0}},
        cell_types={"mover": {"chemotaxis_sensitivities": {"a": 1.0}}, "still": {}},
    )
    scenario_from_dict({**scenario, "rules": {"r": base}}, "good")
    with pytest.raises(InputError) as raised:
        scenario_from_dict({**scenario, "rules": {"r": {**base, **rule}}}, "bad")
    assert raised.value.key == key
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("mover", "key", "fragment"),
    [
        ({"chemotaxis_field": "a", "chemotaxis_sensitivities": {"b": 1.0}},
         "cell_types.mover.chemotaxis_sensitivities", "not both"),
        ({"chemotaxis_field": "a", "chemotaxis_normalize_each": True},
         "cell_types.mover.chemotaxis_normalize_each", "only with chemotaxis_sensitivities"),
        ({"chemotaxis_sensitivities": {"vegf": 1.0}},
         "cell_types.mover.chemotaxis_sensitivities.vegf", "unknown field; fields: a, b, c"),
        ({"chemotaxis_sensitivities": {"a": float("inf")}},
         "cell_types.mover.chemotaxis_sensitivities.a", "finite"),
    ],
)  # fmt: skip
def test_bad_chemotaxis_is_a_one_line_error(mover: dict, key: str, fragment: str) -> None:
    with pytest.raises(InputError) as raised:
        walkers("cpu", **mover)
    assert raised.value.key == key
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)
