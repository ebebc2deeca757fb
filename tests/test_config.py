"""Scenario loading and validation: typed models, one-line errors, overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import box_scenario
from tissue.config import (
    Scenario,
    builtin_scenarios,
    load_scenario,
    parse_override,
    scenario_from_dict,
)
from tissue.errors import InputError


def tumour_scenario() -> dict[str, Any]:
    return box_scenario(
        fields={"oxygen": {"diffusion_um2_per_min": 1e5, "decay_per_min": 0.1}},
        cell_types={"tumour": {"oxygen_field": "oxygen", "cycle_rate_per_min": 7.2e-4}},
        initial_cells=[{"kind": "list", "organ": "box", "type": "tumour",
                        "positions_um": [[60.0, 60.0, 60.0]]}],
    )  # fmt: skip


@pytest.mark.parametrize("name", list(builtin_scenarios()))
def test_builtins_load_and_roundtrip_through_toml(name: str) -> None:
    scenario = load_scenario(name)
    again = scenario_from_dict(tomllib.loads(scenario.to_toml()), "roundtrip")
    assert again.model_dump() == scenario.model_dump()
    assert scenario.description


def test_load_from_file_and_relative_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[organs.box]\nshape = [4, 4, 4]\n[run]\ndays = -1\n")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: run.days: Input should be greater than 0 (got -1)"


def test_a_folder_named_like_a_built_in_does_not_hide_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tissue run spheroid -o spheroid`, run again from the same folder: the output folder
    is not taken for a scenario file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spheroid").mkdir()
    assert load_scenario("spheroid").name == "spheroid"


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[organs\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_scenario(path)
    with pytest.raises(InputError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.toml")
    with pytest.raises(InputError, match=r"built-ins: .*spheroid"):
        load_scenario("no_such_builtin")


@pytest.mark.parametrize(
    ("patch", "key", "fragment"),
    [
        ({"organs": {}}, "organs", "at least 1"),
        ({"run": {"dayz": 1}}, "run.dayz", "unknown key; allowed: days, output_interval_min"),
        ({"fields": {"o": {"decay_per_min": 1}}}, "fields.o.diffusion_um2_per_min", "missing"),
        ({"fields": {"o": {"diffusion_um2_per_min": float("nan")}}},
         "fields.o.diffusion_um2_per_min", "finite"),
        ({"cell_types": {"t": {"chemotaxis_bias": 1.5}}}, "cell_types.t.chemotaxis_bias",
         "less than or equal to 1"),
        ({"cell_types": {"t": {"chemotaxis_field": "vegf"}}}, "cell_types.t.chemotaxis_field",
         "unknown field 'vegf'"),
        ({"cell_types": {"t": {"allowed_labels": ["air"]}}}, "cell_types.t.allowed_labels",
         "unknown label 'air'"),
        ({"initial_cells": [{"kind": "blob"}]}, "initial_cells.0", "does not match"),
        ({"initial_cells": [{"kind": "sphere", "organ": "lung", "type": "t",
                             "center_um": [0, 0, 0], "radius_um": 5}],
          "cell_types": {"t": {}}}, "initial_cells.0.organ", "unknown organ 'lung'"),
        ({"time_steps": {"diffusion_min": 0.25, "mechanics_min": 0.1, "phenotype_min": 6.0}},
         "time_steps.diffusion_min", "whole multiple"),
        ({"time_steps": {"mechanics_min": 1.0, "diffusion_min": 1.0, "phenotype_min": 6.0},
          "cell_types": {"t": {"repulsion_um_per_min": 10.0}}}, "time_steps.mechanics_min",
         "overshoot"),
        ({"organs": {"box": {"spacing_um": 10.0}}}, "organs.box.shape", "required for a box"),
        ({"organs": {"box": {"shape": [4, 4, 4], "regions": [{"shape": "sphere",
                                                               "label": "x"}]}}},
         "organs.box.regions.0.center_um", "required"),
        ({"organs": {"box": {"shape": [8, 8, 3], "two_d": True}}}, "organs.box.shape.2",
         "3: a two_d organ is one voxel layer; allowed: 1"),
        ({"organs": {"box": {"shape": [8, 8, 1]}}}, "organs.box.shape.2",
         "1: allowed: >= 3 (or 1 with two_d = true, a 2-D organ)"),
        ({"organs": {"box": {"shape": [8, 8, 2]}}}, "organs.box.shape.2", "2: allowed: >= 3"),
        ({"organs": {"box": {"shape": [8, 2, 1], "two_d": True}}}, "organs.box.shape.1",
         "greater than or equal to 3"),
        ({"organs": {"box": {"shape": [8, 8, 1], "two_d": True,
                             "geometry": {"kind": "lung"}}}}, "organs.box.geometry.kind",
         "'lung' generates 3-D tissue; allowed in a two_d organ: box, file"),
        ({"organs": {"box": {"shape": [8, 8, 1], "two_d": True}},
          "fields": {"o": {"diffusion_um2_per_min": 1.0, "boundary": "dirichlet",
                           "boundary_values": {"x-": 1.0, "z+": 2.0}}}},
         "fields.o.boundary_values.z+", "the z faces of a two_d organ (box) have no flux"),
    ],
)  # fmt: skip
def test_bad_input_names_the_key(patch: dict[str, Any], key: str, fragment: str) -> None:
    data = box_scenario()
    data.update(patch)
    with pytest.raises(InputError) as info:
        scenario_from_dict(data, "s.toml")
    error = info.value
    assert error.source == "s.toml"
    assert error.key == key
    assert fragment in error.message
    assert "\n" not in str(error)


def test_overrides_replace_existing_values_only() -> None:
    scenario = scenario_from_dict(tumour_scenario(), "s.toml")
    changed = scenario.with_overrides(
        {
            "cell_types.tumour.speed_um_per_min": 0.5,
            "initial_cells.0.positions_um": [[1.0, 2.0, 3.0]],
        }
    )
    assert changed.cell_types["tumour"].speed_um_per_min == 0.5
    assert changed.initial_cells[0].positions_um == [(1.0, 2.0, 3.0)]
    assert scenario.cell_types["tumour"].speed_um_per_min == 0.0  # frozen original
    # a default that was None can be set
    assert changed.with_overrides({"cell_types.tumour.chemotaxis_field": "oxygen"})
    for key, fragment in [
        ("cell_types.tumor.speed_um_per_min", "no key 'tumor' in cell_types; allowed: tumour"),
        ("initial_cells.4.type", "not an index"),
        ("run.days.x", "is a value, not a table"),
    ]:
        with pytest.raises(InputError, match=fragment) as info:
            scenario.with_overrides({key: 1})
        assert info.value.source == "--set"
    with pytest.raises(InputError) as info:
        scenario.with_overrides({"cell_types.tumour.speed_um_per_min": -1})
    assert info.value.source == "--set"
    assert info.value.key == "cell_types.tumour.speed_um_per_min"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a.b=0.5", ("a.b", 0.5)), ("a=3", ("a", 3)), ("a=true", ("a", True)),
     ("a=oxygen", ("a", "oxygen")), ("a=[1, 2]", ("a", [1, 2])), (" a = 'x y' ", ("a", "x y"))],
)  # fmt: skip
def test_parse_override(text: str, expected: tuple[str, Any]) -> None:
    assert parse_override(text) == expected


def test_parse_override_needs_equals() -> None:
    with pytest.raises(InputError, match=r"dotted\.key=value"):
        parse_override("a.b")


# --- property-based ------------------------------------------------------------------

NUMERIC_KEYS = [
    "run.days", "run.output_interval_min", "fields.oxygen.diffusion_um2_per_min",
    "fields.oxygen.decay_per_min", "cell_types.tumour.radius_um",
    "cell_types.tumour.speed_um_per_min", "cell_types.tumour.chemotaxis_bias",
    "cell_types.tumour.cycle_rate_per_min", "cell_types.tumour.persistence_min",
    "cell_types.tumour.adhesion_range", "time_steps.phenotype_min",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=st.sampled_from(NUMERIC_KEYS),
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**6), max_value=10**6),
        st.text(max_size=5),
        st.booleans(),
        st.lists(st.integers(), max_size=3),
    ),
)
def test_any_override_is_accepted_or_refused_cleanly(key: str, value: Any) -> None:
    """Every value either validates into a scenario holding it, or raises one InputError
    line naming the key; a negative or non-finite number is always refused."""
    scenario = scenario_from_dict(tumour_scenario(), "s.toml")
    try:
        changed, error = scenario.with_overrides({key: value}), None
    except InputError as caught:
        changed, error = None, caught
    if error is not None:
        assert "\n" not in str(error)
        assert error.key in (
            key,
            "time_steps.mechanics_min",
            "time_steps.diffusion_min",
            "run.output_interval_min",
            "time_steps.phenotype_min",
            "cell_types.tumour.cycle_oxygen_saturation",
        )
        return
    section, *rest = key.split(".")
    node: Any = changed
    for part in [section, *rest]:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    assert isinstance(value, int | float)
    assert not isinstance(value, bool)
    assert float(node) == float(value)
    assert np.isfinite(float(node))
    assert float(node) >= 0


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4))
json_tree = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "organs",
                "fields",
                "cell_types",
                "run",
                "time_steps",
                "initial_cells",
                "name",
                "extra",
            ]
        ),
        json_tree,
    )
)
def test_arbitrary_documents_never_crash(data: dict[str, Any]) -> None:
    """Random documents raise InputError (one line) or validate; nothing else escapes."""
    try:
        scenario, error = scenario_from_dict(data, "fuzz.toml"), None
    except InputError as caught:
        scenario, error = None, caught
    if error is not None:
        assert "\n" not in str(error)
    else:
        assert isinstance(scenario, Scenario)
