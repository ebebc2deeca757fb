"""PhysiCell's simple pressure, its "contact with" count (dead neighbours included) and a
field's gradient as rule signals: twelve neighbours at close packing press 1, a pair
presses by (1 - d/R)^2 / 0.0273, dead cells press and are counted by ``contact_any`` but
not by ``contact``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario
from tissue.behaviours import Behaviours
from tissue.cells import APOPTOTIC
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.organ import Contacts
from tissue.simulation import Simulation

R = 8.4  # um, the cells' radius
SCALE = 0.027288820670331  # PhysiCell's 12 (1 - sqrt(pi / (2 sqrt 3)))^2
FCC = [(a, b, 0) for a in (1, -1) for b in (1, -1)] + [(a, 0, b) for a in (1, -1) for b in (1, -1)]
FCC += [(0, a, b) for a in (1, -1) for b in (1, -1)]  # the 12 neighbours of face-centred cubic


def placed(positions: list[list[float]], rules: dict[str, Any] | None = None) -> Simulation:
    data = box_scenario(
        cell_types={"a": {"radius_um": R}, "b": {"radius_um": R}},
        initial_cells=[{"kind": "list", "organ": "box", "type": "a", "positions_um": positions}],
        rules=rules or {},
    )
    return Simulation(scenario_from_dict(data, "pressure"), backend="cpu", seed=1)


def test_twelve_neighbours_at_close_packing_press_one() -> None:
    """PhysiCell's scale: twelve neighbours at d / (2r) = sqrt(pi / (2 sqrt 3)) give 1."""
    d = 2 * R * math.sqrt(math.pi / (2 * math.sqrt(3)))
    centre = np.array([60.0, 60.0, 60.0])
    around = [centre + d * np.array(v) / math.sqrt(2) for v in FCC]
    sim = placed([centre.tolist()] + [p.tolist() for p in around])
    organ = sim.organs["box"]
    pressure = Contacts(organ, sim.types).pressure()
    assert pressure[0] == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("d", [4.0, 10.0, 16.0, 16.9])
def test_a_pair_presses_by_the_square_of_its_overlap(d: float) -> None:
    """Two cells d apart: each (1 - d/(2r))^2 / scale, 0 from 2r on; a dead cell presses."""
    sim = placed([[50.0, 60.0, 60.0], [50.0 + d, 60.0, 60.0]])
    organ = sim.organs["box"]
    organ.cells.state[1] = APOPTOTIC
    pressure = Contacts(organ, sim.types).pressure()
    expected = max(0.0, 1 - d / (2 * R)) ** 2 / SCALE
    np.testing.assert_allclose(pressure, expected, rtol=1e-5)


def test_contact_any_counts_dead_neighbours_and_contact_does_not() -> None:
    """A cell touching two others, one dead: ``contact.a`` reads 1, ``contact_any.a`` 2
    (PhysiCell's "contact with a"), ``contact_live`` and ``contact_dead`` 1 each, through
    rules whose Hill term is the signal (h = n = 1)."""
    sim = placed([[60.0, 60.0, 60.0], [70.0, 60.0, 60.0], [50.0, 60.0, 60.0]])
    organ = sim.organs["box"]
    organ.cells.state[2] = APOPTOTIC
    for signal, count in (("contact.a", 1.0), ("contact_any.a", 2.0), ("contact_live", 1.0),
                          ("contact_dead", 1.0), ("pressure", None)):  # fmt: skip
        rules = {"r": {"cell_type": "a", "behaviour": "cycle", "signal": signal,
                       "to_value": 1.0, "half_max": 1.0}}  # fmt: skip
        scenario = scenario_from_dict({**sim.scenario.model_dump(), "rules": rules}, "x")
        contacts = Contacts(organ, sim.types)
        behave = Behaviours(scenario, sim.types).bind(organ, sim.body, contacts)
        got = behave("cycle", np.zeros(3, dtype=np.float32))
        s = contacts.pressure()[0] if count is None else count
        assert got[0] == pytest.approx(s / (1 + s), rel=1e-6)
    assert contacts.pressure()[0] > 0


def test_a_fields_gradient_is_read_at_the_cells_voxel() -> None:
    """``gradient.o`` (PhysiCell's "o gradient"): with o = 3x + 4y (per um, 10 um voxels) a
    cell inside reads 5 (central differences), one on the box's x edge the one-sided 5
    too; through a rule whose Hill term is s / (1 + s) (h = n = 1); an unknown field is
    refused."""
    rules = {"r": {"cell_type": "a", "behaviour": "cycle", "signal": "gradient.o",
                   "to_value": 1.0, "half_max": 1.0}}  # fmt: skip
    data = box_scenario(
        cell_types={"a": {"radius_um": R}},
        fields={"o": {"diffusion_um2_per_min": 100.0}},
        initial_cells=[{"kind": "list", "organ": "box", "type": "a",
                        "positions_um": [[55.0, 45.0, 35.0], [5.0, 45.0, 35.0]]}],
        rules=rules,
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "gradient"), backend="cpu", seed=1)
    organ = sim.organs["box"]
    _, y, x = np.mgrid[0:12, 0:12, 0:12].astype(np.float32) * 10.0 + 5.0
    organ.fields["o"][...] = 3.0 * x + 4.0 * y
    behave = Behaviours(sim.scenario, sim.types).bind(organ, sim.body, Contacts(organ, sim.types))
    np.testing.assert_allclose(behave("cycle", np.zeros(2, dtype=np.float32)), 5.0 / 6.0,
                               rtol=1e-6)  # fmt: skip
    bad = {"r": {**rules["r"], "signal": "gradient.p"}}
    with pytest.raises(InputError, match="no field 'p'"):
        scenario_from_dict({**data, "rules": bad}, "bad")
