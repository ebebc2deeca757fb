"""Type transitions with a split: of the cells bound for T, a share becomes U instead."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.simulation import Simulation

DT = 6.0  # min: every process steps at the phenotype step here
RATE = 0.02  # 1/min toward b, before the rule
N = 4000


def splitting(split: dict[str, Any] | None, seed: int = 5) -> Simulation:
    """N cells of type a in a box, changing toward b at RATE, a rule doubling that rate
    from the second step on (its signal, the time, is 0 at the first), b's cells splitting
    to c."""
    still = {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0}
    a = still | {"transitions": {"b": RATE}}
    if split is not None:
        a["transition_split"] = split
    scenario = box_scenario(
        time_steps={"diffusion_min": DT, "mechanics_min": DT, "phenotype_min": DT},
        cell_types={"a": a, "b": dict(still), "c": dict(still)},
        rules={"faster": {"cell_type": "a", "behaviour": "transition.b", "signal": "time",
                          "to_value": 2 * RATE, "half_max": 1e-3, "hill_coefficient": 1.0}},
        initial_cells=[{"kind": "random", "organ": "box", "type": "a", "count": N}],
    )  # fmt: skip
    return Simulation(scenario_from_dict(scenario, "split"), backend="cpu", seed=seed)


def types_after(sim: Simulation, steps: int) -> np.ndarray:
    sim.step(steps)
    cells = sim.organs["box"].cells
    return np.asarray(cells.type)[np.argsort(cells.id)]


def test_a_split_sends_its_share_of_the_changes_and_leaves_the_rate() -> None:
    """Over a step at RATE and two at twice it (the rule), 1 - exp(-5 RATE dt) of the
    cells change, and a quarter of those become c: each within 4 binomial sd."""
    kinds = types_after(splitting({"b": {"c": 0.25}}), 3)
    changed = int((kinds != 0).sum())
    p = 1.0 - math.exp(-5 * RATE * DT)
    assert abs(changed - N * p) < 4 * math.sqrt(N * p * (1 - p))
    to_c = int((kinds == 2).sum())
    assert abs(to_c - 0.25 * changed) < 4 * math.sqrt(changed * 0.25 * 0.75)


def test_the_split_redraws_nothing() -> None:
    """The split reads the pick's own draw: the same cells change as without it (only
    where to), and a zero share changes no bit."""
    plain = types_after(splitting(None), 3)
    split = types_after(splitting({"b": {"c": 0.4}}), 3)
    np.testing.assert_array_equal(plain != 0, split != 0)
    assert (split == 2).any()
    assert not (plain == 2).any()
    zero = types_after(splitting({"b": {"c": 0.0}}), 3)
    np.testing.assert_array_equal(plain, zero)


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ({"d": {"c": 0.1}}, "cell_types.a.transition_split.d: unknown type"),
        ({"c": {"b": 0.1}}, "cell_types.a.transition_split.c: a has no transition toward c"),
        ({"b": {"a": 0.1}}, "cell_types.a.transition_split.b.a: a type other than a"),
        ({"b": {"c": 0.7, "b": 0.6}}, "cell_types.a.transition_split.b: shares sum to 1.3 > 1"),
    ],
)
def test_a_split_names_its_key_when_wrong(split: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        splitting(split)
