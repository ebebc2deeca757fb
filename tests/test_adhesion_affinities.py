"""Type-specific adhesion (PhysiCell's ``cell_adhesion_affinities``): the adhesion between
cells i and j is sqrt(a_i f_i(j) a_j f_j(i)); the kernels against an all-pairs reference are
in :mod:`tests.test_neighbours` and :mod:`tests.test_kernels_emulated`. Here: two cells'
motion over one mechanics step against the formula, the scenario's checks, the import; and
rules on a cell's adhesion and repulsion strengths (PhysiCell's "cell-cell adhesion" and
"cell-cell repulsion")."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import box_scenario
from tests.test_physicell_import import project_copy
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.io.physicell import UnsupportedModel, import_physicell
from tissue.simulation import Simulation

RADIUS, STRENGTH, GAP = 8.0, 10.0, 19.0  # adhesion reaches 2 x 1.25 x 8 = 20 um


def pair_scenario(a_to_b: float | None, b_to_a: float | None) -> dict:
    """Types a and b (radius 8 um, adhesion 10 um/min, no repulsion, still) with the given
    affinities to each other (None: not written, 1)."""

    def kind(other: str, value: float | None) -> dict:
        plain = {"radius_um": RADIUS, "adhesion_um_per_min": STRENGTH,
                 "repulsion_um_per_min": 0.0}  # fmt: skip
        return plain if value is None else {**plain, "adhesion_affinities": {other: value}}

    return box_scenario(
        time_steps={"diffusion_min": 1.0, "mechanics_min": 1.0, "phenotype_min": 6.0},
        cell_types={"a": kind("b", a_to_b), "b": kind("a", b_to_a)},
    )


def approach(a_to_b: float | None, b_to_a: float | None, **data: dict) -> float:
    """How far (um) an a cell and a b cell 19 um apart each move toward the other in one
    1-min mechanics step; ``data``: more of the scenario."""
    scenario = scenario_from_dict({**pair_scenario(a_to_b, b_to_a), **data}, "pair")
    sim = Simulation(scenario, "cpu", seed=1)
    organ = sim.organs["box"]
    organ.add_cells(0, [[50.0, 60.0, 60.0]], sim.rng)
    organ.add_cells(1, [[50.0 + GAP, 60.0, 60.0]], sim.rng)
    sim.step(1)
    x = organ.cells.position_um[:, 0].astype(np.float64)
    assert x[0] - 50.0 == pytest.approx(50.0 + GAP - x[1], rel=1e-4)  # equal and opposite
    return float(x[0] - 50.0)


@pytest.mark.parametrize(
    ("a_to_b", "b_to_a", "factor"),
    [(None, None, 1.0), (4.0, None, 2.0), (4.0, 0.25, 1.0), (0.0, 3.0, 0.0), (2.0, 2.0, 2.0)],
)
def test_two_cells_attract_by_the_geometric_mean_of_their_affinities(
    a_to_b: float | None, b_to_a: float | None, factor: float
) -> None:
    """Beyond repulsion's reach (16 um) and inside adhesion's (20 um), each cell moves dt
    sqrt(a f_ab a f_ba) (1 - d/20)^2 toward the other (PhysiCell's potential). Excludes the
    arithmetic mean of the affinities (2.5 for 4 and 1) and one direction alone (4)."""
    expected = factor * STRENGTH * (1 - GAP / 20.0) ** 2
    assert approach(a_to_b, b_to_a) == pytest.approx(expected, rel=1e-3, abs=1e-6)


def test_affinities_of_one_change_no_bit() -> None:
    """A table of ones written out gives the very run the scenario without it gives."""
    assert approach(1.0, 1.0) == approach(None, None)
    plain = Simulation(scenario_from_dict(pair_scenario(None, None), "p"), "cpu")
    assert plain.types.affinity is None


@pytest.mark.parametrize(
    ("affinities", "message"),
    [({"c": 1.0}, "unknown cell type"), ({"b": -1.0}, "greater than or equal to 0")],
)
def test_bad_affinities_are_refused_with_their_key(affinities: dict, message: str) -> None:
    data = pair_scenario(None, None)
    data["cell_types"]["a"]["adhesion_affinities"] = affinities
    with pytest.raises(InputError, match=rf"cell_types\.a\.adhesion_affinities.*{message}"):
        scenario_from_dict(data, "bad")


def test_physicells_affinities_import(tmp_path: Path) -> None:
    """The fixture's tumour writes affinities 0.25 to immune cells and 1 to its own: the
    first maps, the second (PhysiCell's default) is left out; an unknown type is
    reported."""
    edit = ('<cell_adhesion_affinity name="immune">1<',
            '<cell_adhesion_affinity name="immune">0.25<')  # fmt: skip
    imported = import_physicell(project_copy(tmp_path / "ok", settings=edit))
    tumour = imported.scenario.cell_types["tumour"]
    assert tumour.adhesion_affinities == {"immune": 0.25}
    assert "adhesion_affinities" in imported.toml
    # immune has no parent type: it copies the defaults (the first definition, tumour),
    # affinities included, as PhysiCell does
    assert imported.scenario.cell_types["immune"].adhesion_affinities == {"immune": 0.25}
    bad = ('<cell_adhesion_affinity name="immune">1<', '<cell_adhesion_affinity name="nk">2<')
    with pytest.raises(UnsupportedModel) as raised:
        import_physicell(project_copy(tmp_path / "bad", settings=bad))
    [finding] = raised.value.findings
    assert (finding.item, finding.reason) == ("adhesion affinity of 'tumour'", "unknown type 'nk'")


def test_a_rule_on_adhesion_moves_the_strength_of_each_cell() -> None:
    """A rule lowering a's adhesion to 1 um/min when it touches a b cell (half-max 0.01,
    Hill 4: about fully): the pair's adhesion becomes sqrt(1 x 10), so the cells move
    sqrt(1/10) as far as without the rule (excludes the rule ignored, 1, and applied to
    both cells, 0.1). The rule acts from the first phenotype step, which ends the first
    tick, so the phenotype step here is the mechanics step's (1 min)."""
    rule = {"cell_type": "a", "behaviour": "adhesion", "signal": "contact.b",
            "to_value": 1.0, "half_max": 0.01, "hill_coefficient": 4.0}  # fmt: skip
    steps = {"diffusion_min": 1.0, "mechanics_min": 1.0, "phenotype_min": 1.0}
    plain = two_steps(time_steps=steps)
    ruled = two_steps(time_steps=steps, rules={"loose": rule})
    assert ruled[0] == plain[0]  # the first mechanics step: the types' strengths
    assert ruled[1] / plain[1] == pytest.approx(math.sqrt(0.1), rel=2e-3)


def two_steps(**data: dict) -> tuple[float, float]:
    """How far the a cell moves toward the b cell in each of two mechanics steps."""
    scenario = scenario_from_dict({**pair_scenario(None, None), **data}, "pair")
    sim = Simulation(scenario, "cpu", seed=1)
    organ = sim.organs["box"]
    organ.add_cells(0, [[50.0, 60.0, 60.0]], sim.rng)
    organ.add_cells(1, [[50.0 + GAP, 60.0, 60.0]], sim.rng)
    moved = []
    for _ in range(2):
        before = float(organ.cells.position_um[0, 0])
        sim.step(1)
        moved.append(float(organ.cells.position_um[0, 0]) - before)
    return moved[0], moved[1]


def test_a_rule_that_could_raise_repulsion_past_stability_is_refused() -> None:
    """The mechanics step's stability check takes the highest repulsion a rule can reach:
    radius 8 um at 1 min allows 8 um/min; a rule raising it to 20 is refused."""
    rule = {"cell_type": "a", "behaviour": "repulsion", "signal": "contact.b",
            "to_value": 20.0, "half_max": 1.0}  # fmt: skip
    data = pair_scenario(None, None)
    data["rules"] = {"push": rule}
    with pytest.raises(InputError, match=r"mechanics_min.*'a' \(repulsion 20.0"):
        scenario_from_dict(data, "pushy")
    data["rules"]["push"]["to_value"] = 5.0
    scenario_from_dict(data, "fine")


def test_physicells_adhesion_and_repulsion_rules_import(tmp_path: Path) -> None:
    rules = ("// immune cells",
             "tumour,chemokine,decreases,cell-cell adhesion,0.1,0.5,4,0\n"
             "tumour,chemokine,increases,cell-cell repulsion,12,0.5,4,0\n"
             "// immune cells")  # fmt: skip
    imported = import_physicell(project_copy(tmp_path, rules=rules))
    moved = {r.behaviour: r for r in imported.scenario.rules.values() if r.cell_type == "tumour"}
    assert (moved["adhesion"].to_value, moved["repulsion"].to_value) == (0.1, 12.0)


EQUILIBRIUM_EDIT = {
    "relative": ('<set_relative_equilibrium_distance enabled="false"',
                 '<set_relative_equilibrium_distance enabled="true"'),
    "absolute": ('<set_absolute_equilibrium_distance enabled="false"',
                 '<set_absolute_equilibrium_distance enabled="true"'),
}  # fmt: skip


def rest_push(kind: dict, gap_um: float) -> float:
    """How far (um) two cells of ``kind`` (a cell type's mechanics) ``gap_um`` apart move
    apart in one 0.1-min mechanics step (negative: toward each other)."""
    still = {k: kind[k] for k in ("radius_um", "adhesion_um_per_min", "repulsion_um_per_min",
                                  "adhesion_range")}  # fmt: skip
    scenario = scenario_from_dict(box_scenario(cell_types={"a": still}), "pair")
    sim = Simulation(scenario, "cpu", seed=1)
    organ = sim.organs["box"]
    organ.add_cells(0, [[40.0, 60.0, 60.0], [40.0 + gap_um, 60.0, 60.0]], sim.rng)
    sim.step(1)
    x = organ.cells.position_um[:, 0].astype(np.float64)
    return float((x[1] - x[0]) - gap_um)


@pytest.mark.parametrize("option", ["relative", "absolute"])
def test_an_equilibrium_distance_sets_the_adhesion_so_that_cells_rest_there(
    tmp_path: Path, option: str
) -> None:
    """The fixture's tumour enables PhysiCell's equilibrium distance (relative 1.8 radii,
    or absolute 15.12 um over its radius): its adhesion becomes repulsion ((1 - s/2) /
    (1 - s/(2 m)))^2, and two tumour cells s radii apart stay put while closer ones part
    and farther ones close in (excludes the written 0.4 and a formula without the
    maximum adhesion distance m). The immune type copies the tumour (the defaults) without
    writing mechanics: it takes the tumour's computed strength, not one recomputed for its
    own radius, as PhysiCell copies it."""
    imported = import_physicell(project_copy(tmp_path, settings=EQUILIBRIUM_EDIT[option]))
    tumour = imported.scenario.cell_types["tumour"].model_dump()
    radius = tumour["radius_um"]
    s = 1.8 if option == "relative" else 15.12 / radius
    expected = 10.0 * ((1.0 - s / 2.0) / (1.0 - s / (2.0 * 1.25))) ** 2
    assert tumour["adhesion_um_per_min"] == pytest.approx(expected, rel=1e-12)
    assert imported.scenario.cell_types["immune"].adhesion_um_per_min == pytest.approx(expected)
    assert imported.scenario.cell_types["exhausted"].adhesion_um_per_min == pytest.approx(expected)
    assert f"cells rest {s:g} radii apart" in imported.toml
    rest = s * radius
    assert abs(rest_push(tumour, rest)) < 1e-4
    assert rest_push(tumour, 0.97 * rest) > 1e-3
    assert rest_push(tumour, 1.03 * rest) < -1e-3


def test_an_equilibrium_distance_is_read_as_physicell_reads_a_definition(tmp_path: Path) -> None:
    """A definition that writes its own adhesion keeps it when the option it copies is
    enabled (PhysiCell applies an option only while reading the definition that writes
    it); beyond 2 radii PhysiCell caps the distance at 2, where adhesion vanishes; with a
    maximum adhesion distance of 1 that cap makes PhysiCell's strength 0/0, a finding."""
    own = ("<speed units=\"micron/min\">0.5</speed>\n                </motility>",
           "<speed units=\"micron/min\">0.5</speed>\n                </motility>\n"
           "                <mechanics><cell_cell_adhesion_strength>3</cell_cell_adhesion_strength>"
           "</mechanics>")  # fmt: skip
    imported = import_physicell(
        project_copy(tmp_path / "own", settings=EQUILIBRIUM_EDIT["relative"], settings2=own)
    )
    assert imported.scenario.cell_types["exhausted"].adhesion_um_per_min == 3.0
    assert imported.scenario.cell_types["immune"].adhesion_um_per_min != 3.0
    far = (">1.8</set_relative_equilibrium_distance>", ">2.5</set_relative_equilibrium_distance>")
    imported = import_physicell(
        project_copy(tmp_path / "far", settings=EQUILIBRIUM_EDIT["relative"], settings2=far)
    )
    assert imported.scenario.cell_types["tumour"].adhesion_um_per_min == 0.0
    assert "cells rest 2 radii apart (PhysiCell caps the 2.5 written at 2)" in imported.toml
    touching = (">1.25</relative_maximum_adhesion_distance>",
                ">1</relative_maximum_adhesion_distance>")  # fmt: skip
    with pytest.raises(UnsupportedModel) as raised:
        import_physicell(project_copy(tmp_path / "nan", settings=EQUILIBRIUM_EDIT["relative"],
                                      settings2=far, settings3=touching))  # fmt: skip
    [finding] = raised.value.findings
    assert finding.item == "<set_relative_equilibrium_distance> of 'tumour'"
    assert "not a number" in finding.reason
