"""Asymmetric division (PhysiCell's standard asymmetric division): a dividing cell's
daughter takes another type with its probability (moved by rules), converted as a cell
that changes type is; the parent stays."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.simulation import Simulation

N = 1000
STILL = {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0}


def stem(rules: dict[str, Any] | None = None, **stem_type: Any) -> Simulation:
    """N stem cells that each divide at the first phenotype step (rate 10/min, then
    never: the cycle stops after 1 min); their daughters become "prog" or "other" with
    ``asymmetric_division``."""
    data = box_scenario(
        organs={"box": {"shape": [20, 20, 20], "spacing_um": 50.0}},
        time_steps={"diffusion_min": 6.0, "mechanics_min": 6.0, "phenotype_min": 6.0},
        cell_types={
            "stem": {**STILL, "cycle_rate_per_min": 10.0,
                     "attributes": {"mark": {"distribution": "constant", "value": 1.0},
                                    "load": {"distribution": "constant", "value": 6.0,
                                             "conserved": True}},
                     **stem_type},
            "prog": {**STILL, "attributes": {
                "mark": {"distribution": "constant", "value": 2.0},
                "load": {"distribution": "constant", "value": 0.0, "conserved": True}}},
            "other": STILL,
        },
        initial_cells=[{"kind": "random", "organ": "box", "type": "stem", "count": N}],
        rules={"stop": {"cell_type": "stem", "behaviour": "cycle", "signal": "time",
                        "to_value": 0.0, "half_max": 1.0, "hill_coefficient": 50.0},
               **(rules or {})},
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "asymmetric"), backend="cpu", seed=3)
    sim.step(1)
    return sim


def counts(sim: Simulation) -> dict[str, int]:
    cells = sim.organs["box"].cells
    return {name: int((cells.type == i).sum()) for i, name in enumerate(sim.types.names)}


def within_4_sd(count: int, trials: int, p: float) -> None:
    assert abs(count - trials * p) <= 4 * math.sqrt(trials * p * (1 - p)), (count, p)


def test_a_daughter_takes_another_type_with_its_probability() -> None:
    """p(prog) 0.3, p(other) 0.2: of N daughters ~0.3 N become prog and ~0.2 N other, the
    N parents stay stem. A converted daughter takes its new type's attributes (prog's mark
    2) but keeps the conserved ones it had (load: 6 halved at division to 3); the
    unconverted keep their parent's."""
    sim = stem(asymmetric_division={"prog": 0.3, "other": 0.2})
    n = counts(sim)
    assert n["stem"] + n["prog"] + n["other"] == 2 * N
    within_4_sd(n["prog"], N, 0.3)
    within_4_sd(n["other"], N, 0.2)
    cells = sim.organs["box"].cells
    prog = cells.type == sim.types.names.index("prog")
    assert (cells.mark[prog] == 2.0).all()
    assert (cells.load[prog] == 3.0).all()
    other = cells.type == sim.types.names.index("other")
    assert np.isnan(cells.mark[other]).all()  # other declares no attributes
    assert (cells.mark[~prog & ~other] == 1.0).all()


def test_rules_move_the_probabilities_and_a_sum_past_one_is_scaled() -> None:
    """A rule on the stem cells' attribute (1; half-max 0.001, so H = 0.999) raises
    p(prog) from 0 to 0.6: ~0.6 N daughters become prog. Rules taking p(prog) and
    p(other) to 0.9 each (1.8 in all) scale them to 0.5 each (PhysiCell would stop)."""

    def rule(to: str, value: float) -> dict[str, Any]:
        return {"cell_type": "stem", "behaviour": f"asymmetric_division.{to}",
                "signal": "attribute.mark", "to_value": value, "half_max": 1e-3}  # fmt: skip

    h = 1.0 / (1.0 + 1e-3)
    within_4_sd(counts(stem({"rise": rule("prog", 0.6)}))["prog"], N, 0.6 * h)
    both = counts(stem({"p": rule("prog", 0.9), "o": rule("other", 0.9)}))
    within_4_sd(both["prog"], N, 0.5)
    within_4_sd(both["other"], N, 0.5)
    assert both["stem"] == N


@pytest.mark.parametrize(
    ("table", "message"),
    [({"prog": 0.7, "other": 0.4}, "add up to more than 1"),
     ({"stem": 0.5}, "a type other than stem"),
     ({"nobody": 0.5}, "a type other than stem")],
)  # fmt: skip
def test_impossible_asymmetric_divisions_are_refused(table: dict[str, float], message: str) -> None:
    with pytest.raises(InputError, match=message):
        stem(asymmetric_division=table)
