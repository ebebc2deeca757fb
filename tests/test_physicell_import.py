"""`tissue import-physicell`: PhysiCell projects (settings XML, rules CSV, cells CSV) as
scenarios. The fixture project in tests/data/physicell was written for these tests in the
layout PhysiCell Studio writes; PhysiCell's own sample projects are imported too where the
side-by-side harness has built PhysiCell (benchmarks/physicell/build, not in CI)."""

from __future__ import annotations

import json
import math
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pcdl
import pytest
from click.testing import CliRunner

from tissue.cli import main
from tissue.config.scenario import scenario_from_dict
from tissue.errors import InputError
from tissue.io.physicell import UnsupportedModel, import_physicell
from tissue.simulation import Simulation

pytestmark = pytest.mark.filterwarnings("ignore:::pcdl")  # pandas deprecations in pcdl

FIXTURE = Path(__file__).parent / "data" / "physicell" / "tumour_immune"
SAMPLES = Path(__file__).parents[1] / "benchmarks" / "physicell" / "build" / "PhysiCell"
SAMPLES = SAMPLES / "sample_projects"


def radius(volume_um3: float) -> float:
    return (3.0 * volume_um3 / (4.0 * math.pi)) ** (1.0 / 3.0)


def project_copy(tmp_path: Path, **edits: tuple[str, str]) -> Path:
    """The fixture project copied to ``tmp_path``, with ``file=(old, new)`` text edits
    (file: ``settings``, ``rules`` or ``cells``); each ``old`` must occur."""
    out = tmp_path / "project"
    shutil.copytree(FIXTURE, out)
    names = {"settings": "PhysiCell_settings.xml", "rules": "cell_rules.csv", "cells": "cells.csv"}
    for key, (old, new) in edits.items():
        path = out / "config" / names[key.rstrip("0123456789")]
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))
    return out


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first occurrence of ``text`` in ``path``."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_every_value_of_the_fixture_maps_to_its_scenario_key() -> None:
    imported = import_physicell(FIXTURE)
    s = imported.scenario
    assert imported.dropped == []
    organ = s.organs["domain"]
    assert organ.shape == (10, 10, 6)
    assert organ.origin_um == (-100.0, -100.0, -60.0)
    assert organ.spacing_um == 20.0
    assert s.run.days == pytest.approx(120.0 / 1440.0)
    assert (s.run.seed, s.run.output_interval_min, s.run.snapshot_interval_min) == (7, 60.0, 60.0)
    assert (s.time_steps.diffusion_min, s.time_steps.mechanics_min) == (0.5, 0.5)
    assert s.time_steps.phenotype_min == 6.0

    oxygen, chemokine = s.fields["oxygen"], s.fields["chemokine"]
    assert (oxygen.diffusion_um2_per_min, oxygen.decay_per_min, oxygen.initial) == (1e5, 0.1, 38.0)
    assert oxygen.boundary == "dirichlet"
    # y faces switched off, x+ at its own value; the rest at the substrate's value
    assert oxygen.boundary_values == {"x-": 38.0, "x+": 20.0, "z-": 38.0, "z+": 38.0}
    assert set(oxygen.boundary_faces) == {"x-", "x+", "z-", "z+"}
    # not enabled for the chemokine: no Dirichlet faces although oxygen's turn them on
    assert chemokine.boundary == "no_flux"
    assert (chemokine.diffusion_um2_per_min, chemokine.decay_per_min) == (1000.0, 0.016)

    tumour, immune, exhausted = (s.cell_types[t] for t in ("tumour", "immune", "exhausted"))
    assert tumour.radius_um == pytest.approx(radius(2494.0))
    assert tumour.cycle_rate_per_min == 0.00072
    assert tumour.oxygen_field is None  # PhysiCell's rules move the cycle, not a built-in ramp
    assert tumour.apoptosis_rate_per_min == 5.31667e-05
    # PhysiCell keeps one apoptosis model for all definitions: immune's phase, written after
    # tumour's 516 min, is tumour's too (see test_phases_are_physicells_shared_models)
    assert tumour.apoptotic_clearance_min == pytest.approx(1.0 / 0.016667)
    assert tumour.apoptotic_volume.cytoplasmic_biomass_change_rate_per_min == 1.66667e-02
    assert tumour.apoptotic_volume.nuclear_fraction == pytest.approx(540.0 / 2494.0)
    assert tumour.division_volume.nuclear_biomass_change_rate_per_min == 0.0055
    assert tumour.speed_um_per_min == 0.0  # motility disabled
    assert tumour.secretion["oxygen"].uptake_rate_per_min == 10.0
    assert tumour.secretion["chemokine"].secretion_rate_per_min == 0.1
    assert tumour.attributes["oncoprotein"].value == 1.0
    assert (tumour.repulsion_um_per_min, tumour.adhesion_um_per_min) == (10.0, 0.4)

    assert immune.radius_um == pytest.approx(radius(1500.0))
    assert immune.cycle_rate_per_min == pytest.approx(1e-5)  # a 100,000 min phase duration
    assert immune.apoptotic_clearance_min == pytest.approx(1.0 / 0.016667)
    assert (immune.speed_um_per_min, immune.persistence_min) == (2.0, 5.0)
    assert (immune.chemotaxis_field, immune.chemotaxis_bias) == ("chemokine", 0.7)
    assert immune.transitions == {"exhausted": 0.0001}
    # no parent_type: PhysiCell copies the defaults but not their secretion
    assert immune.secretion == {}
    assert immune.attributes["oncoprotein"].value == 0.0
    # parent_type="immune": the parent's values, then its own
    assert exhausted.speed_um_per_min == 0.5
    assert exhausted.radius_um == immune.radius_um
    assert exhausted.chemotaxis_field == "chemokine"
    assert exhausted.transitions == {}

    rules = {(r.cell_type, r.behaviour): r for r in s.rules.values()}
    assert len(rules) == 4
    hypoxia = rules[("tumour", "apoptosis")]
    # "oxygen decreases apoptosis to 0": the rate falls toward 0 as oxygen rises
    assert (hypoxia.signal, hypoxia.to_value, hypoxia.half_max) == ("oxygen", 0.0, 10.0)
    assert (hypoxia.hill_coefficient, hypoxia.as_signal) == (4.0, "rises")
    # "oxygen decreases chemokine secretion to 0.02" (the type's rate is 0.1)
    assert rules[("tumour", "secretion_rate.chemokine")].to_value == pytest.approx(0.02)
    assert rules[("immune", "transition.exhausted")].to_value == 0.001
    assert rules[("immune", "apoptosis")].to_value == 0.002

    placed = {c.type: c.positions_um for c in s.initial_cells}
    assert len(placed["tumour"]) == 7  # by name and by ID 0, "s" skipping a value
    assert (0.0, 17.0, 0.0) in placed["tumour"]
    assert placed["immune"] == [(80.0, 80.0, 40.0), (-80.0, 80.0, -40.0), (80.0, -80.0, 0.0)]

    # the commented TOML loads back to the same scenario, each value with its source line
    again = scenario_from_dict(tomllib.loads(imported.toml), "again")
    assert again.to_dict() == s.to_dict()
    settings = FIXTURE / "config" / "PhysiCell_settings.xml"
    assert f"config/PhysiCell_settings.xml:{line_of(settings, '<max_time')}" in imported.toml


def test_physicells_cycle_models_become_phases(tmp_path: Path) -> None:
    """Flow cytometry (separated): G0/G1 left at its rate, then S, G2 and M, each fixed
    or at a rate as written, dividing on leaving M."""
    imported = import_physicell(project_copy(tmp_path, settings=FLOW_CYTOMETRY))
    tumour = imported.scenario.cell_types["tumour"]
    assert tumour.cycle_rate_per_min == pytest.approx(1.0 / 300.0)
    phases = [(p.name, p.duration_min, p.rate_per_min, p.divides) for p in tumour.cycle_phases]
    assert phases == [
        ("S", 480.0, None, False),
        ("G2", None, pytest.approx(1.0 / 240.0), False),
        ("M", 60.0, None, True),
    ]


def test_phases_are_physicells_shared_models(tmp_path: Path) -> None:
    """PhysiCell keeps one object per death model and per cycle model, and each definition
    writes its phases' exit rates (death) and fixed_duration flags (both) into it: the last
    definition in the file to write a phase decides it for every type."""
    fixture = import_physicell(FIXTURE)
    for name in ("tumour", "immune", "exhausted"):
        ctype = fixture.scenario.cell_types[name]
        assert ctype.apoptotic_clearance_min == pytest.approx(1.0 / 0.016667)
        assert ctype.apoptotic_clearance == "fixed"
    settings = FIXTURE / "config" / "PhysiCell_settings.xml"
    note = next(line for line in fixture.toml.splitlines() if "apoptotic_clearance_min" in line)
    assert f"PhysiCell_settings.xml:{line_of(settings, '>0.016667<')}" in note
    assert "'immune'" in note
    # immune's apoptotic phase of random length: every type's apoptotic cells go at random
    random_phase = ('end_index="1" fixed_duration="true">0.016667', 'end_index="1">0.016667')
    s = import_physicell(project_copy(tmp_path / "a", settings=random_phase)).scenario
    assert {c.apoptotic_clearance for c in s.cell_types.values()} == {"random"}
    # immune's "live" phase of fixed length (written after tumour's): tumour's is fixed too
    fixed_cycle = ('<duration index="0" fixed_duration="false">100000', '<duration index="0" '
                   'fixed_duration="true">100000')  # fmt: skip
    imported = import_physicell(project_copy(tmp_path / "b", settings=fixed_cycle))
    first = {t: c.cycle_first_phase for t, c in imported.scenario.cell_types.items()}
    # tumour divides at its rate, so its phase is fixed; immune's and exhausted's rate is
    # 1e-5/min (100000 min), also fixed
    assert first == {"tumour": "fixed", "immune": "fixed", "exhausted": "fixed"}
    note = next(line for line in imported.toml.splitlines() if "cycle_first_phase" in line)
    assert "of fixed duration, 1 / its rate (the flag 'immune' wrote at line" in note


@pytest.mark.parametrize("order", ["up first", "down first"])
def test_a_behaviours_range_spans_its_rules_as_in_physicell(tmp_path: Path, order: str) -> None:
    """PhysiCell 1.14 (parse_csv_rule_v3 and set_behavior_min/max_value, which only widen
    the range): a behaviour's rules share one range, from the lowest value of its decreasing
    rules to the highest of its increasing ones, whatever their order; the base joins the
    range's other end, so a decreasing rule above the others' minimum still goes to it."""
    rows = [
        "tumour,oxygen,increases,cycle entry,0.002,10,4,0",
        "tumour,chemokine,decreases,cycle entry,0.0001,0.5,2,0",
        "tumour,oxygen,increases,cycle entry,0.001,20,1,0",
        "tumour,chemokine,decreases,cycle entry,0.0003,2,1,0",
    ]
    rows = rows if order == "up first" else rows[::-1]
    text = "\n".join(rows) + "\n// immune cells"
    s = import_physicell(project_copy(tmp_path, rules=("// immune cells", text))).scenario
    cycle = sorted((r.signal, r.half_max, r.to_value) for r in s.rules.values()
                   if r.behaviour == "cycle")  # fmt: skip
    assert cycle == [("chemokine", 0.5, 0.0001), ("chemokine", 2.0, 0.0001),
                     ("oxygen", 10.0, 0.002), ("oxygen", 20.0, 0.002)]  # fmt: skip
    # a rule whose end is the type's own value (0.00072 here) changes nothing: left out
    alone = "tumour,oxygen,decreases,cycle entry,0.00072,10,4,0\n// immune cells"
    imported = import_physicell(project_copy(tmp_path / "b", rules=("// immune cells", alone)))
    assert not any(r.behaviour == "cycle" for r in imported.scenario.rules.values())
    assert "left out: PhysiCell's range for it ends at the type's own value" in imported.toml


def test_necrosis_becomes_a_rate_that_rules_move_with_physicells_necrotic_volume(
    tmp_path: Path,
) -> None:
    """Necrosis at its rate, moved by rules; its volume PhysiCell's (the fixture writes no
    parameters: Death_Parameters' defaults) and cleared the lysed phase's length after the
    rupture; a swelling phase with a length of its own and calcification are findings."""
    project = project_copy(
        tmp_path,
        settings=('<death_rate units="1/min">0.0</death_rate>',
                  '<death_rate units="1/min">0.001</death_rate>'),
        rules=("// immune cells", "tumour,oxygen,decreases,necrosis,0,3.75,8,0\n// immune cells"),
    )  # fmt: skip
    s = import_physicell(project).scenario
    tumour = s.cell_types["tumour"]
    assert (tumour.necrosis_model, tumour.necrosis_rate_per_min) == ("rate", 0.001)
    assert tumour.necrotic_clearance_min == 86400.0  # the lysed phase
    volume = tumour.necrotic_volume
    assert volume is not None
    assert volume.unlysed_fluid_change_rate_per_min == pytest.approx(3.0 / 60.0)
    assert volume.lysed_fluid_change_rate_per_min == pytest.approx(0.05 / 60.0)
    assert volume.relative_rupture_volume == 2.0
    (rule,) = [r for r in s.rules.values() if r.behaviour == "necrosis"]
    assert (rule.signal, rule.to_value, rule.half_max) == ("oxygen", 0.0, 3.75)
    swelling = project_copy(
        tmp_path / "s",
        settings=('<death_rate units="1/min">0.0</death_rate>',
                  '<death_rate units="1/min">0.001</death_rate>'),
        settings2=('<duration index="0" fixed_duration="true">0</duration>\n'
                   '                            <duration index="1" fixed_duration="true">86400',
                   '<duration index="0" fixed_duration="true">60</duration>\n'
                   '                            <duration index="1" fixed_duration="true">86400'),
    )  # fmt: skip
    with pytest.raises(UnsupportedModel) as raised:
        import_physicell(swelling)
    assert [f.item for f in raised.value.findings] == ["necrotic swelling phase of 'tumour'"]


def test_time_volume_custom_data_and_motility_rules_map(tmp_path: Path) -> None:
    rows = (
        "tumour,time,increases,apoptosis,0.001,1000,4,0\n"
        "tumour,total attack time,increases,necrosis,0.01,30,4,0\n"
        "tumour,grad(oxygen),increases,cycle entry,0.01,0.1,4,0\n"
        "tumour,custom:oncoprotein,decreases,cycle entry,0,0.5,2,0\n"
        "tumour,volume,decreases,cycle entry,0,2000,8,0\n"
        "// immune cells"
    )
    s = import_physicell(project_copy(tmp_path, rules=("// immune cells", rows))).scenario
    mapped = {(r.cell_type, r.behaviour, r.signal, r.to_value) for r in s.rules.values()}
    assert ("tumour", "apoptosis", "time", 0.001) in mapped
    assert ("tumour", "necrosis", "attack_time", 0.01) in mapped
    assert ("tumour", "cycle", "gradient.oxygen", 0.01) in mapped
    assert ("tumour", "cycle", "attribute.oncoprotein", 0.0) in mapped
    assert ("tumour", "cycle", "volume", 0.0) in mapped
    motility = (
        "immune,chemokine,decreases,migration speed,0.5,0.5,4,0\n"
        "immune,oxygen,increases,migration bias,0.9,10,2,0\n"
        "tumour,oxygen,decreases,migration speed,0,5,4,0\n"  # tumour cells do not move
        "// immune cells"
    )
    s = import_physicell(project_copy(tmp_path / "m", rules=("// immune cells", motility))).scenario
    moved = {(r.cell_type, r.behaviour, r.to_value) for r in s.rules.values()}
    assert ("immune", "migration_speed", 0.5) in moved
    assert ("immune", "migration_bias", 0.9) in moved
    assert not any(t == "tumour" and b.startswith("migration") for t, b, _ in moved)
    with pytest.raises(UnsupportedModel, match="1 part") as raised:
        import_physicell(project_copy(tmp_path / "b", rules=("// immune cells",
                         "immune,custom:oncogene,increases,apoptosis,0.01,1,1,0")))  # fmt: skip
    assert "'oncogene' is not custom data of 'immune'" in raised.value.findings[0].reason


ATTACK = (
    """                <cell_transformations>
                    <transformation_rates>
                        <transformation_rate name="exhausted" units="1/min">0.0001</transf""",
    """                <cell_interactions>
                    <attack_rates>
                        <attack_rate name="tumour" units="1/min">0.05</attack_rate>
                        <attack_rate name="immune" units="1/min">0</attack_rate>
                    </attack_rates>
                    <attack_damage_rate units="1/min">2</attack_damage_rate>
                    <attack_duration units="min">3</attack_duration>
                </cell_interactions>
                <mechanics>
                    <attachment_elastic_constant units="1/min">0.04</attachment_elastic_constant>
                </mechanics>
                <cell_transformations>
                    <transformation_rates>
                        <transformation_rate name="exhausted" units="1/min">0.0001</transf""",
)


def test_damage_attacks_dead_cell_rules_and_per_cell_values_map(tmp_path: Path) -> None:
    """PhysiCell 1.14's attack (rates, damage rate, duration; the spring of the two types'
    elastic constants, sqrt(0.04 x 0.01)), damage and its repair, rules on damage, attack,
    pressure and contacts (dead cells counted), rules on dead cells (debris from apoptotic
    cells, a substrate the type does not secrete alive), dead cells' uptake at a tenth, and
    cells.csv's per-cell values: kept where no rule of the type moves the behaviour, left out
    (and listed) where one does."""
    rows = (
        "tumour,damage,increases,apoptosis,0.5,10,4,0\n"
        "tumour,apoptotic,increases,chemokine secretion,0.3,0.5,10,1\n"
        "immune,damage delivered,decreases,attack tumour,0,50,2,0\n"
        "tumour,pressure,decreases,cycle entry,0,1,4,0\n"
        "immune,contact with tumour,decreases,migration speed,0,2,4,0\n"
        "immune,contact with dead cell,increases,migration bias,0.9,1,4,0\n"
        "immune,contact with live cell,decreases,cycle entry,0,3,4,0\n"
        "tumour,damage,decreases,immunogenicity to immune,0,20,4,0\n"
        "// immune cells"
    )
    project = project_copy(
        tmp_path,
        settings=ATTACK,
        settings2=('<damage_repair_rate units="1/min">0</damage_repair_rate>',
                   '<damage_repair_rate units="1/min">0.02</damage_repair_rate>'),
        rules=("// immune cells", rows),
        cells=("x,y,z,type,volume,cycle entry,custom:oncoprotein",
               "x,y,z,type,apoptosis,damage rate,custom:oncoprotein"),
        cells2=("0,0,0,tumour", "0,0,0,tumour,0.01,0.5"),
    )  # fmt: skip
    imported = import_physicell(project)
    s = imported.scenario
    tumour, immune = s.cell_types["tumour"], s.cell_types["immune"]
    attack = immune.damage_attack
    assert attack is not None
    assert attack.rates_per_min == {"tumour": 0.05}
    assert (attack.damage_rate_per_min, attack.duration_min) == (2.0, 3.0)
    assert attack.spring_per_min == pytest.approx(math.sqrt(0.04 * 0.01))
    assert tumour.damage_repair_rate_per_min == 0.02
    assert tumour.dead_secretion["oxygen"].uptake_rate_per_min == pytest.approx(1.0)
    rules = {(r.cell_type, r.behaviour): r for r in s.rules.values()}
    assert rules[("tumour", "apoptosis")].signal == "damage"
    debris = rules[("tumour", "secretion_rate.chemokine")]
    assert (debris.signal, debris.to_value, debris.applies_to_dead) == ("apoptotic", 0.3, True)
    assert not rules[("tumour", "apoptosis")].applies_to_dead
    tired = rules[("immune", "attack.tumour")]
    assert (tired.signal, tired.to_value) == ("damage_delivered", 0.0)
    assert rules[("tumour", "cycle")].signal == "pressure"
    # PhysiCell's "contact with" counts dead cells of the type too
    assert rules[("immune", "migration_speed")].signal == "contact_any.tumour"
    assert rules[("immune", "migration_bias")].signal == "contact_dead"
    assert rules[("immune", "cycle")].signal == "contact_live"
    assert rules[("tumour", "immunogenicity.immune")].to_value == 0.0
    # per-cell values: damage rate kept; apoptosis left out (a rule moves it)
    placed = next(e for e in s.initial_cells if e.type == "tumour")
    assert list(placed.behaviours) == ["damage_rate"]
    assert placed.behaviours["damage_rate"][0] == 0.5
    assert all(math.isnan(v) for v in placed.behaviours["damage_rate"][1:])
    assert "column 'apoptosis' of 'tumour' left out" in imported.toml
    # the TOML reloads to the same scenario (nan for a cell's "skip" included), which runs
    again = scenario_from_dict(tomllib.loads(imported.toml), "again")
    assert json.dumps(again.to_dict()) == json.dumps(s.to_dict())
    sim = Simulation(s, backend="cpu", seed=1)
    sim.step(20)
    assert sim.organs["domain"].cells.damage.max() > 0


PLAIN_CHEMOTAXIS = (
    "<substrate>chemokine</substrate>\n                            <direction>1</direction>\n"
    "                        </chemotaxis>"
)
ADVANCED_CHEMOTAXIS = (
    PLAIN_CHEMOTAXIS,
    PLAIN_CHEMOTAXIS
    + """
                        <advanced_chemotaxis>
                            <enabled>true</enabled>
                            <normalize_each_gradient>true</normalize_each_gradient>
                            <chemotactic_sensitivities>
                <chemotactic_sensitivity substrate="chemokine">1</chemotactic_sensitivity>
                <chemotactic_sensitivity substrate="oxygen">-0.5</chemotactic_sensitivity>
                <chemotactic_sensitivity substrate="debris">3</chemotactic_sensitivity>
                            </chemotactic_sensitivities>
                        </advanced_chemotaxis>""",
)
SENSITIVITY_RULES = (
    "// immune cells",
    "immune,oxygen,increases,chemotactic response to chemokine,2,10,4,0\n"
    "immune,chemokine,decreases,chemotactic sensitivity to oxygen,-2,0.5,2,0\n// immune cells",
)


def test_advanced_chemotaxis_maps_to_signed_sensitivities(tmp_path: Path) -> None:
    """Advanced chemotaxis (it overrides the plain one, as in PhysiCell) becomes the
    sensitivities to every substrate (0 where none is written; one to an unknown substrate
    is left out, as PhysiCell ignores it) with normalize_each_gradient, inherited by
    parent_type; rules on "chemotactic response to" (and its synonym) become
    ``chemotaxis.<substrate>``, a negative value included. The TOML reloads to the same
    scenario, which runs."""
    project = project_copy(tmp_path, settings=ADVANCED_CHEMOTAXIS, rules=SENSITIVITY_RULES)
    imported = import_physicell(project)
    s = imported.scenario
    for name in ("immune", "exhausted"):
        cell_type = s.cell_types[name]
        assert cell_type.chemotaxis_field is None
        assert cell_type.chemotaxis_sensitivities == {"oxygen": -0.5, "chemokine": 1.0}
        assert cell_type.chemotaxis_normalize_each
        assert cell_type.chemotaxis_bias == 0.7
    moved = {(r.cell_type, r.behaviour, r.signal, r.to_value) for r in s.rules.values()}
    assert ("immune", "chemotaxis.chemokine", "oxygen", 2.0) in moved
    assert ("immune", "chemotaxis.oxygen", "chemokine", -2.0) in moved
    assert "to 'debris' left out: PhysiCell ignores an unknown substrate" in imported.toml
    again = scenario_from_dict(tomllib.loads(imported.toml), "again")
    assert again.to_dict() == s.to_dict()
    Simulation(again, backend="cpu", seed=1).step(13)  # a phenotype step sets the rules


def test_chemotaxis_down_a_gradient_is_a_negative_sensitivity(tmp_path: Path) -> None:
    """PhysiCell's chemotaxis with direction -1 is a sensitivity of -1 to its substrate. A
    rule on a sensitivity of a type without advanced chemotaxis changes nothing in PhysiCell
    and is left out."""
    down = (PLAIN_CHEMOTAXIS, PLAIN_CHEMOTAXIS.replace("<direction>1<", "<direction>-1<"))
    s = import_physicell(project_copy(tmp_path, settings=down, rules=SENSITIVITY_RULES)).scenario
    immune = s.cell_types["immune"]
    assert immune.chemotaxis_field is None
    assert immune.chemotaxis_sensitivities == {"chemokine": -1.0}
    assert not immune.chemotaxis_normalize_each
    assert not any(r.behaviour.startswith("chemotaxis.") for r in s.rules.values())


PHAGOCYTES = {
    # immune: a dead-cell rate (PhysiCell 1.14 gives it to all three kinds), a necrotic one
    # of its own, and no cycle (a rate of 0)
    "settings": (
        "                </motility>\n                <cell_transformations>",
        "                </motility>\n                <cell_interactions>\n"
        '                    <dead_phagocytosis_rate units="1/min">0.02</dead_phagocytosis_rate>\n'
        '                    <necrotic_phagocytosis_rate units="1/min">0.005'
        "</necrotic_phagocytosis_rate>\n                </cell_interactions>\n"
        "                <cell_transformations>",
    ),
    # exhausted (parent immune) writes its own dead-cell rate: PhysiCell reads only that
    "settings2": (
        '<speed units="micron/min">0.5</speed>\n                </motility>',
        '<speed units="micron/min">0.5</speed>\n                </motility>\n'
        "                <cell_interactions>\n"
        '                    <dead_phagocytosis_rate units="1/min">0.001</dead_phagocytosis_rate>\n'
        "                </cell_interactions>",
    ),
    "settings3": (
        '<duration index="0" fixed_duration="false">100000</duration>',
        '<duration index="0" fixed_duration="false">inf</duration>',
    ),
    # a tumour cell of the cells CSV eats necrotic cells at its own rate
    "cells": (
        "x,y,z,type,volume,cycle entry,custom:oncoprotein",
        "x,y,z,type,phagocytose necrotic cell",
    ),
    "cells2": ("17,0,0,tumour", "17,0,0,tumour,0.3"),
    "rules": (
        "// immune cells",
        "immune,volume,decreases,phagocytose apoptotic cell,0,3000,4,0\n"
        "immune,oxygen,increases,phagocytosis of necrotic cells,0.05,10,2,0\n"
        "exhausted,time,increases,phagocytose other dead cell,0.1,100,1,0\n"
        "// immune cells",
    ),
}


def test_phagocytosis_of_dead_cells_maps_as_physicell_reads_it(tmp_path: Path) -> None:
    """PhysiCell 1.14's reading: ``dead_phagocytosis_rate`` sets the apoptotic, necrotic
    and other-dead rates, a specific rate written replaces its own, and a definition that
    writes <cell_interactions> takes only what it writes (not its parent's). The rules on
    them map (synonyms too); "other dead" cells do not occur in tissue, so that rate and its
    rules are left out with a remark, not a finding; the cells CSV's per-cell values map. A
    phagocyte that does not divide still gets its volume model (the eaten volume relaxes by
    it), and the TOML reloads."""
    imported = import_physicell(project_copy(tmp_path, **PHAGOCYTES))
    s = imported.scenario
    immune, exhausted, tumour = (s.cell_types[t] for t in ("immune", "exhausted", "tumour"))
    assert immune.apoptotic_phagocytosis_rate_per_min == 0.02
    assert immune.necrotic_phagocytosis_rate_per_min == 0.005
    assert (exhausted.apoptotic_phagocytosis_rate_per_min,
            exhausted.necrotic_phagocytosis_rate_per_min) == (0.001, 0.001)  # fmt: skip
    assert tumour.apoptotic_phagocytosis_rate_per_min == 0.0
    placed = next(e for e in s.initial_cells if e.type == "tumour")
    assert placed.behaviours["phagocytosis.necrotic"][1] == 0.3
    assert set(s.phagocytes()) == {"immune", "exhausted", "tumour"}
    assert immune.cycle_rate_per_min == 0.0
    assert immune.division_volume.fluid_change_rate_per_min == 0.05
    rules = {r.behaviour: r for r in s.rules.values() if r.cell_type == "immune"}
    apoptotic, necrotic = rules["phagocytosis.apoptotic"], rules["phagocytosis.necrotic"]
    assert (apoptotic.signal, apoptotic.to_value, apoptotic.half_max) == ("volume", 0.0, 3000.0)
    assert (necrotic.signal, necrotic.to_value) == ("oxygen", 0.05)
    assert not any(r.cell_type == "exhausted" for r in s.rules.values())
    toml = imported.toml
    assert "from <dead_phagocytosis_rate>, as PhysiCell 1.14 reads it" in toml
    assert "'other dead' phagocytosis of 'immune' (0.02/min) left out" in toml
    assert "phagocytose other dead cell' left out" in toml
    again = scenario_from_dict(tomllib.loads(toml), "again")
    assert json.dumps(again.to_dict()) == json.dumps(s.to_dict())  # nan for "skip" included
    Simulation(s, "cpu", seed=1).step(12)  # it runs

    # a phagocyte whose volume does not relax (a fluid change rate of 0) is reported;
    # --lenient: it does not eat
    still = project_copy(tmp_path / "still", **PHAGOCYTES, settings4=(
        '<total units="micron^3">1500</total>',
        '<total units="micron^3">1500</total>\n'
        '                    <fluid_change_rate units="1/min">0</fluid_change_rate>'))  # fmt: skip
    with pytest.raises(UnsupportedModel) as raised:
        import_physicell(still)
    assert [f.item for f in raised.value.findings] == ["volume of 'immune'"]
    assert "a phagocyte's; --lenient: no phagocytosis" in raised.value.findings[0].reason
    lenient = import_physicell(still, lenient=True).scenario
    assert lenient.cell_types["immune"].apoptotic_phagocytosis_rate_per_min == 0.0
    assert not any(r.cell_type == "immune" and r.behaviour.startswith("phagocytosis")
                   for r in lenient.rules.values())  # fmt: skip


LIVE_PHAGOCYTES = {
    # tumour eats immune cells alive at 0.01/min and exhausted ones at 0 (no rule: left
    # out); immune eats tumour cells alive only by a rule (no rate written)
    "settings": (
        '<phagocytosis_rate name="immune" units="1/min">0</phagocytosis_rate>',
        '<phagocytosis_rate name="immune" units="1/min">0.01</phagocytosis_rate>\n'
        '                        <phagocytosis_rate name="exhausted" units="1/min">0'
        "</phagocytosis_rate>",
    ),
    "rules": (
        "// immune cells",
        "immune,chemokine,increases,phagocytose tumour,0.1,0.5,4,0\n// immune cells",
    ),
}


def test_phagocytosis_of_live_cells_maps_rates_and_rules(tmp_path: Path) -> None:
    """A definition's ``live_phagocytosis_rates`` above 0 become its type's
    ``live_phagocytosis_rates_per_min``; a rule on "phagocytose <type>" maps to
    ``phagocytosis.<type>`` and makes its type a phagocyte with a rate of 0 to raise (and a
    volume model); the import is strict, the TOML reloads and runs."""
    imported = import_physicell(project_copy(tmp_path, **LIVE_PHAGOCYTES))
    s = imported.scenario
    tumour, immune = s.cell_types["tumour"], s.cell_types["immune"]
    assert tumour.live_phagocytosis_rates_per_min == {"immune": 0.01}
    assert immune.live_phagocytosis_rates_per_min == {"tumour": 0.0}
    assert tumour.division_volume is not None
    assert immune.division_volume is not None
    rule = next(r for r in s.rules.values() if r.behaviour == "phagocytosis.tumour")
    assert (rule.cell_type, rule.signal, rule.to_value) == ("immune", "chemokine", 0.1)
    assert s.eaten_alive() == ["tumour", "immune"]
    assert set(s.phagocytes()) >= {"tumour", "immune"}
    again = scenario_from_dict(tomllib.loads(imported.toml), "again")
    assert json.dumps(again.to_dict()) == json.dumps(s.to_dict())
    Simulation(s, "cpu", seed=1).step(12)  # it runs


def test_an_imported_model_runs_and_exports_back_to_physicell(tmp_path: Path) -> None:
    scenario = tmp_path / "model.toml"
    runner = CliRunner()
    result = runner.invoke(main, ["import-physicell", str(FIXTURE), "-o", str(scenario)])
    assert result.exit_code == 0, result.output
    assert "3 cell types, 2 fields, 4 rules" in result.output
    again = runner.invoke(main, ["import-physicell", str(FIXTURE), "-o", str(scenario)])
    assert again.exit_code == 2
    assert "exists; pass --overwrite" in again.output
    run = tmp_path / "run"
    result = runner.invoke(main, ["run", str(scenario), "-o", str(run), "--backend", "cpu"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "physicell"
    result = runner.invoke(main, ["export-physicell", str(run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    last = pcdl.TimeStep(str(out / "output00000002.xml"), verbose=False)
    cells = last.get_cell_df()
    assert set(cells["cell_type"]) <= {"tumour", "immune", "exhausted"}
    assert (cells["cell_type"] == "tumour").sum() >= 7
    assert last.get_time() == pytest.approx(120.0)


FLOW_CYTOMETRY = (
    '<cycle code="5" name="live">\n                    <phase_transition_rates units="1/min">\n'
    '                        <rate start_index="0" end_index="0" fixed_duration="false">'
    "0.00072</rate>\n                    </phase_transition_rates>",
    '<cycle code="6" name="Flow cytometry model (separated)">\n'
    '                    <phase_durations units="min">\n'
    '                        <duration index="0" fixed_duration="false">300.0</duration>\n'
    '                        <duration index="1" fixed_duration="true">480.0</duration>\n'
    '                        <duration index="2" fixed_duration="false">240.0</duration>\n'
    '                        <duration index="3" fixed_duration="true">60.0</duration>\n'
    "                    </phase_durations>",
)
UNSUPPORTED = {
    "settings": (  # tumour's cells calcify
        '<calcification_rate units="1/min">0</calcification_rate>\n'
        "                    <relative_rupture_volume",
        '<calcification_rate units="1/min">0.001</calcification_rate>\n'
        "                    <relative_rupture_volume",
    ),
    "settings2": (
        '<fusion_rate name="immune" units="1/min">0</fusion_rate>',
        '<fusion_rate name="immune" units="1/min">0.01</fusion_rate>',
    ),
    "settings3": (
        "<maximum_number_of_attachments>12</maximum_number_of_attachments>",
        "<maximum_number_of_attachments>12</maximum_number_of_attachments>\n"
        "                    <cell_stiffness>3</cell_stiffness>",
    ),
    "rules": (
        "// immune cells",
        "tumour,intracellular oxygen,decreases,cycle entry,0,1,4,0\n"
        "immune,chemokine,increases,fuse to tumour,0.1,0.5,4,0\n"
        "immune,contact with basement membrane,increases,apoptosis,0.01,1,4,0\n"
        "// immune cells",
    ),
    "cells": ("0,0,-17,tumour", "0,0,-17,tumour,3000"),
}


def test_a_strict_import_lists_each_part_it_cannot_express_with_its_line(tmp_path: Path) -> None:
    project = project_copy(tmp_path, **UNSUPPORTED)
    config = project / "config"
    settings, rules, cells = (config / f for f in ("PhysiCell_settings.xml", "cell_rules.csv",
                                                   "cells.csv"))  # fmt: skip
    with pytest.raises(UnsupportedModel) as raised:
        import_physicell(project)
    found = {(Path(f.file).name, f.line, f.item.split(" of ")[0]) for f in raised.value.findings}
    xml, csv_rules = "PhysiCell_settings.xml", "cell_rules.csv"
    expected = {
        (xml, line_of(settings, ">0.001</calcification_rate"), "<calcification_rate>"),
        (xml, line_of(settings, ">0.01</fusion_rate"), "<fusion_rate> for 'immune'"),
        (xml, line_of(settings, "<cell_stiffness>"), "<cell_stiffness>"),
        (csv_rules, line_of(rules, "intracellular oxygen"),
         "rule 'tumour, intracellular oxygen, decreases, cycle entry'"),
        (csv_rules, line_of(rules, "fuse to"),
         "rule 'immune, chemokine, increases, fuse to tumour'"),
        (csv_rules, line_of(rules, "contact with"),
         "rule 'immune, contact with basement membrane, increases, apoptosis'"),
        ("cells.csv", line_of(cells, "3000"), "column 'volume'"),
    }  # fmt: skip
    assert found == expected
    # the command line: each finding on its own line, then one error line; nothing written
    out = tmp_path / "model.toml"
    result = CliRunner().invoke(main, ["import-physicell", str(project), "-o", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == len(expected) + 1
    assert lines[-1].startswith("error: ")
    assert "7 parts of the model cannot be imported" in lines[-1]
    assert not out.exists()


def test_a_lenient_import_drops_or_approximates_them_and_says_so(tmp_path: Path) -> None:
    project = project_copy(tmp_path, **UNSUPPORTED)
    imported = import_physicell(project, lenient=True)
    assert len(imported.dropped) == 7
    s = imported.scenario
    assert {r.signal for r in s.rules.values()} == {"oxygen", "chemokine"}  # the fixture's
    assert "Dropped or approximated (--lenient):" in imported.toml
    result = CliRunner().invoke(
        main, ["import-physicell", str(project), "-o", str(tmp_path / "m.toml"), "--lenient"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("warning: ") == 7


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("settings", ('parent_type="immune"', 'parent_type="macrophage"')),
         "parent_type 'macrophage' is not a definition above it"),
        (("settings", ("<random_seed>7</random_seed>", "<random_seed>system_clock</random_seed>")),
         "a run needs a fixed seed"),
        (("settings", ("<x_max>100</x_max>", "<x_max>110</x_max>")),
         "voxels: tissue needs a whole"),
        (("rules", ("0.02,5,2,0", "0.5,5,2,0")), "it decreases the behaviour to 0.5"),
        (("rules", ("tumour,oxygen,decreases,apoptosis,0,10,4,0", "tumour,oxygen,apoptosis,0")),
         "4 columns: a version 3 rule has 8"),
        (("cells", ("80,-80,0,immune", "80,-80,0,macrophage")), "unknown cell type 'macrophage'"),
        (("settings", ('name="exhausted" ID="2"', 'name="immune" ID="2"')),
         "a second definition of that name"),
        (("cells", ("80,-80,0,immune", "180,-80,0,immune")), "outside the domain"),
    ],
)  # fmt: skip
def test_each_mistake_is_a_finding(tmp_path: Path, edit: tuple, message: str) -> None:
    key, change = edit
    with pytest.raises(UnsupportedModel) as raised:
        import_physicell(project_copy(tmp_path, **{key: change}))
    assert [message in f.reason for f in raised.value.findings].count(True) == 1


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        import_physicell(tmp_path)
    broken = project_copy(tmp_path, settings=("</domain>", "</domian>"))
    with pytest.raises(InputError, match="not well-formed XML"):
        import_physicell(broken)
    result = CliRunner().invoke(main, ["import-physicell", str(tmp_path / "x"), "-o", "m.toml"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1


SHIPPED = {
    # each sample's findings that must be among the report (PhysiCell 1.14.2's files); none:
    # it imports strictly
    "template": [],
    "rules_sample": [],
    "immune_function": [],
    "asymmetric_division": [],
    "celltypes3": [],  # a set equilibrium distance (its behaviour is in its C++)
}
DEAD_PHAGOCYTOSIS = ("<apoptotic_phagocytosis_rate>", "<necrotic_phagocytosis_rate>",
                     "<other_dead_phagocytosis_rate>", "<dead_phagocytosis_rate>")  # fmt: skip
DEAD_PHAGOCYTOSIS_RULES = ("phagocytose apoptotic cell'", "phagocytose necrotic cell'",
                           "phagocytose other dead cell'")  # fmt: skip


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="PhysiCell not built (benchmarks/physicell)")
@pytest.mark.parametrize("sample", sorted(SHIPPED))
def test_physicells_samples_import_and_say_what_is_missing(sample: str) -> None:
    if not SHIPPED[sample]:
        imported = import_physicell(SAMPLES / sample)
    else:
        with pytest.raises(UnsupportedModel) as raised:
            import_physicell(SAMPLES / sample)
        items = [f.item for f in raised.value.findings]
        for expected in SHIPPED[sample]:
            assert any(item.startswith(expected) for item in items), (expected, items)
        assert not any("chemota" in f"{f.item} {f.reason}" for f in raised.value.findings)
        # phagocytosis of dead cells maps, and its rules
        assert not any(item.startswith(DEAD_PHAGOCYTOSIS) for item in items), items
        rules = [item for item in items if item.startswith("rule ")]
        assert not any(item.endswith(DEAD_PHAGOCYTOSIS_RULES) for item in rules), rules
        imported = import_physicell(SAMPLES / sample, lenient=True)
    if sample == "asymmetric_division":  # a stem cell's daughter, by its contacts
        assert imported.scenario.cell_types["stem"].asymmetric_division["progenitor_1"] == 1.0
        ruled = {r.behaviour for r in imported.scenario.rules.values()}
        assert "asymmetric_division.progenitor_2" in ruled
    if sample == "rules_sample":
        macrophage = imported.scenario.cell_types["M0 macrophage"]
        assert macrophage.apoptotic_phagocytosis_rate_per_min == 0.01
        assert macrophage.division_volume is not None
        ruled = {(r.cell_type, r.behaviour, r.signal) for r in imported.scenario.rules.values()}
        assert ("M2 macrophage", "phagocytosis.necrotic", "volume") in ruled
    assert imported.scenario.organs["domain"].two_d


DISTRIBUTIONS = (
    '<initial_parameter_distributions enabled="false">\n'
    "            </initial_parameter_distributions>",
    """<initial_parameter_distributions enabled="true">
                <distribution enabled="true" type="Log10Normal" check_base="true">
                    <behavior>cycle entry</behavior>
                    <mu>-3.2</mu>
                    <sigma>0.3</sigma>
                    <upper_bound>0.01</upper_bound>
                </distribution>
                <distribution enabled="true" type="LogUniform">
                    <behavior>apoptosis</behavior>
                    <min>1e-6</min>
                    <max>1e-2</max>
                </distribution>
                <distribution enabled="false" type="Uniform">
                    <behavior>migration speed</behavior>
                    <min>0</min>
                    <max>1</max>
                </distribution>
                <distribution enabled="true" type="Uniform" check_base="true">
                    <behavior>migration bias</behavior>
                    <min>0.6</min>
                    <max>0.9</max>
                </distribution>
                <distribution enabled="true" type="LogNormal">
                    <behavior>Volume</behavior>
                    <mu>8</mu>
                    <sigma>0.1</sigma>
                </distribution>
            </initial_parameter_distributions>""",
)


def test_initial_parameter_distributions_map_as_physicell_draws_them(tmp_path: Path) -> None:
    """The tumour's block: its cycle entry drawn (Log10Normal, bounded; drawn over the cells
    CSV's value, as PhysiCell draws after reading the cells), apoptosis left out (its rules
    set it), a disabled distribution ignored; a range that excludes the type's own value
    (PhysiCell's check_base exits) and a per-cell volume are findings, with their lines.
    Leniently the rest imports and each tumour cell holds its own drawn rate."""
    edits = {"settings": DISTRIBUTIONS, "cells": ("0,0,17,tumour", "0,0,17,tumour,,0.002")}
    project = project_copy(tmp_path, **edits)
    settings = project / "config" / "PhysiCell_settings.xml"
    with pytest.raises(UnsupportedModel) as raised:
        import_physicell(project)
    found = {(f.line, f.item, f.reason.split(";")[0]) for f in raised.value.findings}
    assert found == {
        (line_of(settings, '"Uniform" check_base="true"'),
         "initial distribution of 'migration bias' of 'tumour'",
         "the type's own value 0.5 lies outside [0.6, 0.9], so PhysiCell exits (check_base)"),
        (line_of(settings, '"LogNormal"'), "initial distribution of 'Volume' of 'tumour'",
         "per-cell volumes are not modelled"),
    }  # fmt: skip
    imported = import_physicell(project, lenient=True)
    drawn = imported.scenario.cell_types["tumour"].initial_distributions
    assert set(drawn) == {"cycle", "migration_bias"}
    cycle = drawn["cycle"]
    assert (cycle.distribution, cycle.mu, cycle.sigma, cycle.upper) == (
        "log10_normal",
        -3.2,
        0.3,
        0.01,
    )
    assert cycle.lower is None
    assert "apoptosis" not in drawn
    assert "behaviours" not in imported.toml.split("[[initial_cells]]", 1)[1]
    assert "left out: the type's rules set it" in imported.toml
    assert "initial distribution is drawn over it" in imported.toml
    sim = Simulation(imported.scenario, backend="cpu", seed=2)
    cells = sim.organs[next(iter(sim.organs))].cells
    tumour = cells.type == sim.types.names.index("tumour")
    rates = getattr(cells, "own.cycle")[tumour]
    assert np.unique(rates).size == int(tumour.sum()) == 7
    assert ((rates > 0) & (rates < 0.01)).all()


def test_a_custom_column_sets_the_cells_attribute(tmp_path: Path) -> None:
    """cells.csv's ``custom:oncoprotein`` column gives one tumour cell 2.5 where the type's
    custom data says 1.0; the others keep 1.0, and a column of custom data the types lack
    is a finding."""
    edits = {"cells": ("0,0,17,tumour", "0,0,17,tumour,,,2.5")}
    imported = import_physicell(project_copy(tmp_path, **edits))
    sim = Simulation(imported.scenario, backend="cpu", seed=1)
    cells = sim.organs[next(iter(sim.organs))].cells
    tumour = cells.type == sim.types.names.index("tumour")
    values = cells.oncoprotein[tumour]
    at = np.linalg.norm(cells.position_um[tumour] - [0.0, 0.0, 17.0], axis=1) < 1.0
    assert values[at].tolist() == [2.5]
    assert (values[~at] == 1.0).all()
    lacking = {"cells": ("custom:oncoprotein", "custom:oncogene"), "cells2": edits["cells"]}
    with pytest.raises(UnsupportedModel) as raised:
        import_physicell(project_copy(tmp_path / "b", **lacking))
    assert [f.item for f in raised.value.findings] == ["column 'custom:oncogene'"]


def test_uptake_and_export_rules_map(tmp_path: Path) -> None:
    """ "oxygen uptake" and "chemokine export" rules move the uptake and export rates (a type
    whose rates only rules raise gets the substrate's entry); a rule on dead cells' uptake
    is a finding (a dead cell takes up a tenth of its type's)."""
    rows = ("tumour,oxygen,decreases,oxygen uptake,1,5,4,0\n"
            "tumour,oxygen,increases,chemokine secretion target,3,5,4,0\n"
            "immune,chemokine,increases,chemokine export,5,0.5,4,0\n"
            "// immune cells")  # fmt: skip
    s = import_physicell(project_copy(tmp_path, rules=("// immune cells", rows))).scenario
    moved = {(r.cell_type, r.behaviour): r.to_value for r in s.rules.values()}
    assert moved[("tumour", "uptake_rate.oxygen")] == 1.0
    assert moved[("immune", "export_rate.chemokine")] == 5.0
    assert moved[("tumour", "secretion_target.chemokine")] == 3.0
    assert s.cell_types["immune"].secretion["chemokine"].export_rate == 0.0
    dead = "tumour,apoptotic,increases,oxygen uptake,20,0.5,4,1\n// immune cells"
    with pytest.raises(UnsupportedModel) as raised:
        import_physicell(project_copy(tmp_path / "d", rules=("// immune cells", dead)))
    assert "dead cells' target, uptake or export" in raised.value.findings[0].reason


def test_conserved_custom_data_is_a_conserved_attribute(tmp_path: Path) -> None:
    edit = ('<oncoprotein conserved="false"', '<oncoprotein conserved="true"')
    s = import_physicell(project_copy(tmp_path, settings=edit)).scenario
    assert s.cell_types["tumour"].attributes["oncoprotein"].conserved
    assert (
        not import_physicell(FIXTURE)
        .scenario.cell_types["tumour"]
        .attributes["oncoprotein"]
        .conserved
    )


ASYMMETRIC = (
    "</phase_transition_rates>\n                </cycle>",
    "</phase_transition_rates>\n"
    '<standard_asymmetric_division enabled="true">\n'
    '<asymmetric_division_probability name="tumour">0.5</asymmetric_division_probability>\n'
    '<asymmetric_division_probability name="immune">0.25</asymmetric_division_probability>\n'
    "</standard_asymmetric_division>\n</cycle>",
)


def test_asymmetric_division_and_its_rules_map(tmp_path: Path) -> None:
    """PhysiCell 1.14's standard asymmetric division of the tumour: the daughter becomes
    immune with 0.25 (the tumour's own 0.5 and the rest keep it); a rule on "asymmetric
    division to immune" maps; probabilities to other types past 1 are a finding."""
    rows = ("tumour,oxygen,decreases,asymmetric division to immune,0.0,5,4,0\n"
            "// immune cells")  # fmt: skip
    project = project_copy(tmp_path, settings=ASYMMETRIC, rules=("// immune cells", rows))
    s = import_physicell(project).scenario
    assert s.cell_types["tumour"].asymmetric_division == {"immune": 0.25}
    assert any(r.behaviour == "asymmetric_division.immune" for r in s.rules.values())
    over = (ASYMMETRIC[0], ASYMMETRIC[1].replace(">0.25<", ">1.5<"))
    with pytest.raises(UnsupportedModel) as raised:
        import_physicell(project_copy(tmp_path / "o", settings=over))
    assert "add up past 1" in raised.value.findings[0].reason


def test_an_empty_element_and_a_persistence_of_zero_import(tmp_path: Path) -> None:
    """An empty element the importer does not know (PhysiCell Studio writes
    ``<molecular />``) says nothing and is not reported. A persistence time of 0
    (PhysiCell: a new direction every mechanics step) imports as 0, and such cells turn at
    every step."""
    edits = {
        "settings": ('<cell_definition name="immune" ID="1">\n            <phenotype>',
                     '<cell_definition name="immune" ID="1">\n            <phenotype>\n'
                     "                <molecular />"),
        "settings2": ('<persistence_time units="min">5<', '<persistence_time units="min">0<'),
    }  # fmt: skip
    imported = import_physicell(project_copy(tmp_path, **edits))
    assert imported.dropped == []
    s = imported.scenario
    assert s.cell_types["immune"].persistence_min == 0.0
    sim = Simulation(s, "cpu", seed=1)
    organ = next(iter(sim.organs.values()))
    cells = organ.cells
    sim.step(1)
    immune = cells.type == sim.types.names.index("immune")
    before = cells.direction[immune].copy()
    assert (np.abs(before).sum(axis=1) > 0).all()
    sim.step(1)
    after = cells.direction[cells.type == sim.types.names.index("immune")]
    assert immune.sum() > 0
    assert not np.isclose(before, after).all(axis=1).any()  # every one turned
