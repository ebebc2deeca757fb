"""Rules on a cell's secretion target, uptake and export of a field (PhysiCell's "<substrate>
secretion target", "uptake" and "export"): each moves its own term of the cell's exchange,
on live cells."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario
from tissue.behaviours import Behaviours
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.organ import Contacts
from tissue.rules import cell_exchange
from tissue.simulation import Simulation


def rule(behaviour: str, to_value: float, **extra: Any) -> dict[str, Any]:
    """``behaviour`` of "c" moved toward ``to_value`` as time rises (half-max 10 min)."""
    return {"cell_type": "c", "behaviour": behaviour, "signal": "time", "to_value": to_value,
            "half_max": 10.0, **extra}  # fmt: skip


def exchanging(rules: dict[str, Any]) -> dict[str, Any]:
    """Eight still cells of type "c", one a voxel, secreting "o" toward 1 at 0.2/min, taking
    it up at 0.5/min and exporting 3 amount/min, with ``rules``."""
    positions = [[25.0 + 50 * i, 25.0 + 50 * j, 25.0] for i in range(4) for j in range(2)]
    return box_scenario(
        organs={"box": {"shape": [4, 3, 3], "spacing_um": 50.0}},
        time_steps={"diffusion_min": 6.0, "mechanics_min": 6.0, "phenotype_min": 6.0},
        fields={"o": {"diffusion_um2_per_min": 10.0}},
        cell_types={"c": {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0,
                          "secretion": {"o": {"secretion_rate_per_min": 0.2,
                                              "secretion_target": 1.0,
                                              "uptake_rate_per_min": 0.5, "export_rate": 3.0}}}},
        initial_cells=[{"kind": "list", "organ": "box", "type": "c", "positions_um": positions}],
        rules=rules,
    )  # fmt: skip


def exchange_at(rules: dict[str, Any], minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells' per-voxel source and uptake of "o" after ``minutes`` (a multiple of 6), as
    the last tick's rules give them."""
    sim = Simulation(scenario_from_dict(exchanging(rules), "x"), backend="cpu", seed=1)
    sim.step(minutes // 6)
    organ = sim.organs["box"]
    behave = Behaviours(sim.scenario, sim.types).bind(organ, sim.body, Contacts(organ, sim.types))
    source, uptake = cell_exchange(organ, sim.types, behave)
    shape = organ.grid.shape_zyx
    return source["o"].dense(shape).ravel(), uptake["o"].dense(shape).ravel()


def test_uptake_and_export_rules_move_their_own_terms() -> None:
    """At 30 min (the body's time in the last tick of six) the rules' Hill factor is
    30 / (10 + 30) = 0.75: uptake 0.5 -> 2 gives U = 1.625/min, export 3 -> 11 gives
    E = 9 and the target 1 -> 5 gives T = 4; the source is (S T V + E) / V_vox and the
    uptake (S + U) V / V_vox in each cell's voxel, the secretion S = 0.2 untouched.
    Without the rules the same cells exchange at the type's rates."""
    fraction = 4.0 / 3.0 * math.pi * 8.4**3 / 50.0**3  # V_cell / V_voxel
    ruled = {"u": rule("uptake_rate.o", 2.0), "e": rule("export_rate.o", 11.0),
             "t": rule("secretion_target.o", 5.0)}  # fmt: skip
    for rules, t, u, e in (
        ({}, 1.0, 0.5, 3.0),
        (ruled, 1.0 + 4.0 * 0.75, 0.5 + 1.5 * 0.75, 3.0 + 8.0 * 0.75),
    ):
        source, uptake = exchange_at(rules, 36)  # the last tick began at 30 min
        occupied = uptake > 0
        assert occupied.sum() == 8
        np.testing.assert_allclose(source[occupied], 0.2 * t * fraction + e / 50.0**3, rtol=1e-5)
        np.testing.assert_allclose(uptake[occupied], (0.2 + u) * fraction, rtol=1e-5)
        assert (source[~occupied] == 0).all()


@pytest.mark.parametrize(
    ("rules", "message"),
    [({"u": rule("uptake_rate.o", 2.0, applies_to_dead=True)}, "rules on them move live"),
     ({"u": rule("uptake_rate.p", 2.0)}, "allowed: cycle"),
     ({"u": rule("export_rate.o", -1.0)}, "allowed: >= 0")],
)  # fmt: skip
def test_rules_on_exchange_that_cannot_act_are_refused(rules: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        scenario_from_dict(exchanging(rules), "bad")
