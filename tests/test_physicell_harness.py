"""The PhysiCell side-by-side harness without PhysiCell: its output reader on fixtures this
test writes, the quantities on cells with known answers, the comparison's verdicts and the
settings it edits."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.physicell import compare, eating, physicell, side_by_side, tissue_runs
from benchmarks.physicell.quantities import QUANTITIES, compute_quantities
from tissue.io.multicellds import read_mat4, read_output, write_mat4, write_output


def test_mat4_round_trip_and_physicells_unterminated_name(tmp_path: Path) -> None:
    values = np.arange(12, dtype=np.float64).reshape(3, 4) * 0.5
    write_mat4(tmp_path / "a.mat", "cells", values)
    name, back = read_mat4(tmp_path / "a.mat")
    assert name == "cells"
    np.testing.assert_array_equal(back, values)
    # PhysiCell counts the name without its NUL; the data are column-major
    raw = struct.pack("<5i", 0, 2, 3, 0, 5) + b"cells" + np.arange(6.0).tobytes()
    (tmp_path / "b.mat").write_bytes(raw)
    name, back = read_mat4(tmp_path / "b.mat")
    assert name == "cells"
    np.testing.assert_array_equal(back, [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]])
    (tmp_path / "c.mat").write_bytes(raw[:-8])
    with pytest.raises(ValueError, match="data bytes"):
        read_mat4(tmp_path / "c.mat")


def physicell_like_cells() -> dict[str, np.ndarray]:
    """Five cells: three cancer (one dead), two immune (one dead); columns as PhysiCell names
    them, with a vector (position) between scalars."""
    return {
        "ID": np.arange(5.0),
        "position": np.array(
            [[10.0, 0, 0], [0, 20.0, 0], [0, 0, -30.0], [100.0, 0, 0], [0, 100.0, 0]]
        ),
        "cell_type": np.array([0.0, 0, 0, 1, 1]),
        "current_phase": np.array([14.0, 14, 100, 14, 103]),
        "dead": np.array([0.0, 0, 1, 0, 1]),
        "oncoprotein": np.array([0.3, 1.2, 0.9, 0.0, 0.0]),
    }


def test_multicellds_output_is_read_back_by_label(tmp_path: Path) -> None:
    cells = physicell_like_cells()
    write_output(
        tmp_path / "output00000003.xml", 180.0, {0: "cancer cell", 1: "immune cell"}, cells
    )
    output = read_output(tmp_path / "output00000003.xml")
    assert output.time_min == 180.0
    assert output.cell_types == {0: "cancer cell", 1: "immune cell"}
    assert output.count == 5
    for name, values in cells.items():
        np.testing.assert_array_equal(output.columns[name], values)
    tumour, immune, dead = physicell.cell_masks(output)
    assert tumour.tolist() == [True, True, True, False, False]
    assert immune.tolist() == [False, False, False, True, True]
    assert dead.tolist() == [False, False, True, False, True]


def test_a_run_folder_gives_curves_and_checks_initial(tmp_path: Path) -> None:
    cells = physicell_like_cells()
    types = {0: "cancer cell", 1: "immune cell"}
    write_output(tmp_path / "initial.xml", 0.0, types, cells)
    write_output(tmp_path / "output00000000.xml", 0.0, types, cells)
    moved = {**cells, "dead": np.zeros(5)}
    write_output(tmp_path / "output00000001.xml", 60.0, types, moved)
    run = physicell.read_run(tmp_path)
    assert run["time_min"] == [0.0, 60.0]
    assert run["tumour_live"] == [2, 3]
    assert run["immune"] == [1, 2]
    assert run["initial_equals_first_output"] is True


def test_quantities_on_cells_with_known_answers() -> None:
    cells = physicell_like_cells()
    dead = cells["dead"] > 0.5
    out = compute_quantities(
        cells["position"] + 250.0, cells["cell_type"] == 0, cells["cell_type"] == 1, dead,
        (250.0, 250.0, 250.0), cells["oncoprotein"],
    )  # fmt: skip
    assert set(out) == set(QUANTITIES)
    assert (out["tumour_live"], out["tumour_dead"], out["immune"]) == (2, 1, 1)
    # live tumour cells at 10 and 20 um: the 95th percentile interpolates to 19.5
    assert out["tumour_radius_um"] == pytest.approx(19.5)
    assert out["low_onco_fraction"] == pytest.approx(0.5)
    assert out["mean_onco_live"] == pytest.approx(0.75)
    no_onco = compute_quantities(cells["position"], cells["cell_type"] == 0,
                                 cells["cell_type"] == 1, dead, (0, 0, 0))  # fmt: skip
    assert no_onco["low_onco_fraction"] is None
    assert no_onco["mean_onco_live"] is None
    all_dead = np.ones(5, dtype=bool)
    none_live = compute_quantities(cells["position"], cells["cell_type"] == 0,
                                   cells["cell_type"] == 1, all_dead, (0, 0, 0))  # fmt: skip
    assert none_live["tumour_live"] == 0
    assert none_live["tumour_radius_um"] is None


def result(code: str, seeds: dict[int, list[float | None]], times: list[float]) -> dict:
    """A result file's contents with one quantity (``tumour_live``) given per seed, the
    others constant."""
    return {
        "code": code,
        "time_steps_min": {"diffusion": 1.0},
        "seeds": [
            {
                "seed": seed,
                "time_min": times,
                "wall_s_per_sim_min": 0.5 if code == "physicell" else 0.25,
                **{q: [1.0] * len(times) for q in QUANTITIES},
                "tumour_live": values,
            }
            for seed, values in seeds.items()
        ],
    }


def test_compare_flags_a_curve_outside_the_spread() -> None:
    times = [0.0, 60.0, 119.99]  # PhysiCell's clock drifts off the minute
    physicell_result = result(
        "physicell", {1: [100, 110, 120], 2: [100, 112, 124], 3: [100, 114, 128]}, times
    )
    inside = result("tissue", {1: [100, 111, 125], 2: [100, 113, 127]}, [0.0, 60.0, 120.0])
    outside = result("tissue", {1: [100, 150, 130], 2: [100, 150, 132]}, [0.0, 60.0, 120.0])
    good = compare.compare(physicell_result, inside)["quantities"]["tumour_live"]
    assert good["outputs"] == 3
    assert good["fraction_inside_range"] == 1.0
    assert good["fraction_inside_2sd"] == 1.0
    bad = compare.compare(physicell_result, outside)
    entry = bad["quantities"]["tumour_live"]
    assert [v["inside_range"] for v in entry["values"]] == [True, False, False]
    assert entry["fraction_inside_range"] == pytest.approx(1 / 3)
    assert entry["worst"]["time_min"] == 60
    assert entry["worst"]["tissue_mean"] == 150.0
    assert bad["speed"]["ratio_physicell_over_tissue"] == pytest.approx(2.0)
    # a quantity tissue does not record is not compared
    missing = result("tissue", {1: [None, None, None]}, [0.0, 60.0, 120.0])
    assert compare.compare(physicell_result, missing)["quantities"]["tumour_live"] == {
        "compared": False,
        "why": "no values from tissue",
    }


def test_compare_command_writes_json_and_plot(tmp_path: Path) -> None:
    times = [0.0, 60.0]
    (tmp_path / "p.json").write_text(
        json.dumps(result("physicell", {1: [10, 12], 2: [10, 14]}, times))
    )
    (tmp_path / "t.json").write_text(json.dumps(result("tissue", {1: [10, 20]}, times)))
    argv = ["compare", "--physicell", str(tmp_path / "p.json"), "--tissue",
            str(tmp_path / "t.json"), "--out", str(tmp_path / "c.json"), "--plot",
            str(tmp_path / "c.png")]  # fmt: skip
    assert side_by_side.main(argv) == 0
    written = json.loads((tmp_path / "c.json").read_text())
    assert written["quantities"]["tumour_live"]["fraction_inside_range"] == 0.5
    assert (tmp_path / "c.png").stat().st_size > 10_000


SAMPLE_LIKE = """<?xml version="1.0" encoding="UTF-8"?>
<PhysiCell_settings version="devel-version">
  <domain><x_min>-750</x_min><x_max>750</x_max><y_min>-750</y_min><y_max>750</y_max>
    <z_min>-750</z_min><z_max>750</z_max><dx>20</dx><dy>20</dy><dz>20</dz></domain>
  <overall><max_time units="min">30240</max_time><dt_diffusion units="min">0.01</dt_diffusion>
    <dt_mechanics units="min">0.1</dt_mechanics><dt_phenotype units="min">6</dt_phenotype>
  </overall>
  <parallel><omp_num_threads>12</omp_num_threads></parallel>
  <save><folder>output</folder>
    <full_data><interval units="min">60</interval><enable>true</enable></full_data>
    <SVG><interval units="min">60</interval><enable>true</enable></SVG></save>
  <options><virtual_wall_at_domain_edge>true</virtual_wall_at_domain_edge></options>
  <user_parameters>
    <random_seed type="int" units="dimensionless">0</random_seed>
    <immune_activation_time type="double" units="min">20160</immune_activation_time>
    <save_interval_after_therapy_start type="double">15.0</save_interval_after_therapy_start>
    <SVG_interval_after_therapy_start type="double">3.0</SVG_interval_after_therapy_start>
    <number_of_immune_cells type="int">7500</number_of_immune_cells>
    <tumor_radius type="double" units="micron">250</tumor_radius>
    <tumor_mean_immunogenicity type="double">1.0</tumor_mean_immunogenicity>
  </user_parameters>
</PhysiCell_settings>
"""


def test_settings_edit_sets_every_changed_key(tmp_path: Path) -> None:
    (tmp_path / "sample.xml").write_text(SAMPLE_LIKE)
    tree = physicell.reduced_settings(tmp_path / "sample.xml", days=3, threads=1, seed=7)
    tree.write(tmp_path / "reduced.xml")
    back = physicell.settings_values(
        physicell.ET.parse(tmp_path / "reduced.xml"), list(physicell.SETTINGS_CHANGED)
    )
    assert back["domain/x_min"] == "-180"
    assert back["domain/z_max"] == "180"
    assert back["overall/max_time"] == "4320"
    assert back["parallel/omp_num_threads"] == "1"
    assert back["save/SVG/enable"] == "false"
    assert back["options/random_seed"] == back["user_parameters/random_seed"] == "7"
    assert back["user_parameters/tumor_radius"] == "60"
    assert back["user_parameters/immune_activation_time"] == "720"
    assert back["user_parameters/number_of_immune_cells"] == "100"
    assert back["user_parameters/save_interval_after_therapy_start"] == "60"
    for path, template in physicell.SETTINGS_CHANGED.items():
        expected = template.format(max_time="4320", threads="1", seed="7")
        assert back[path] == expected, path
    reread = physicell.ET.parse(tmp_path / "reduced.xml")
    unchanged = reread.getroot().findtext("user_parameters/tumor_mean_immunogenicity")
    assert unchanged == "1.0"
    assert physicell.time_steps_min(reread) == {
        "diffusion": 0.01,
        "mechanics": 0.1,
        "phenotype": 6.0,
    }


def test_the_patches_match_once_and_are_recorded(tmp_path: Path) -> None:
    module = tmp_path / physicell.SAMPLE_MODULE
    module.parent.mkdir(parents=True)
    shipped = "\t// if this goes wackadoodle, choose 250 \n\tif( tumor_radius < 250.0 )\n"
    contact = (  # adhesion_contact_function as 1.14.2 ships it
        "\tstd::vector<double> displacement = pAttachedTo->position - pActingOn->position; \n\t\n"
        "\tstatic double max_elastic_displacement = pao.geometry.radius * "
        "pao.mechanics.relative_detachment_distance; \n"
        "\tstatic double max_displacement_squared = "
        "max_elastic_displacement*max_elastic_displacement; \n"
    )
    module.write_text(shipped + "\t{ tumor_radius = 250.0; }\n" + contact)
    assert physicell.patch_sample(tmp_path) == list(physicell.PATCHES)
    text = module.read_text()
    assert "250.0" not in text
    assert text.count('parameters.doubles("tumor_radius")') == 2
    assert "static double" not in text
    assert "custom_data[max_attachment_i]" in text
    with pytest.raises(RuntimeError, match="matches 0 times"):
        physicell.patch_sample(tmp_path)


def test_cells_outside_the_domain_are_not_counted(tmp_path: Path) -> None:
    cells = physicell_like_cells()
    cells["position"][3] = [300.0, 0.0, 0.0]  # the live immune cell, frozen outside
    write_output(tmp_path / "output00000000.xml", 0.0, {0: "cancer cell", 1: "immune cell"}, cells)
    run = physicell.read_run(tmp_path)
    assert run["immune"] == [0]
    assert run["cells_out_of_domain"] == [1]


def test_tissue_runs_ask_for_hourly_snapshots_on_the_cpu() -> None:
    line = tissue_runs.command(Path("s.toml"), Path("out"), 3, 1.5, ["run.x=1"])
    assert line[line.index("--seed") + 1] == "3"
    assert line[line.index("--days") + 1] == "1.5"
    assert line[line.index("--backend") + 1] == "cpu"
    sets = [line[i + 1] for i, part in enumerate(line) if part == "--set"]
    assert sets == ["run.snapshot_interval_min=60", "run.x=1"]


def test_physicell_command_reads_finished_runs_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "PhysiCell" / physicell.SAMPLE_SETTINGS
    settings.parent.mkdir(parents=True)
    settings.write_text(SAMPLE_LIKE)
    monkeypatch.setattr(physicell, "SOURCE_DIR", tmp_path / "PhysiCell")
    monkeypatch.setattr(physicell, "BUILD_INFO", tmp_path / "none.json")
    types = {0: "cancer cell", 1: "immune cell"}
    for seed in (1, 2):
        output = tmp_path / "runs" / f"seed{seed}" / "output"
        output.mkdir(parents=True)
        for index, time_min in enumerate((0.0, 60.0)):
            write_output(output / f"output{index:08d}.xml", time_min, types, physicell_like_cells())
        record = {"seed": seed, "days": 1 / 24, "threads": 1, "wall_s": 6.0}
        (output.parent / physicell.RUN_RECORD).write_text(json.dumps(record))
    out = tmp_path / "physicell.json"
    argv = ["physicell", "--no-run", "--seeds", "1", "2", "--days", str(1 / 24),
            "--runs-dir", str(tmp_path / "runs"), "--out", str(out)]  # fmt: skip
    assert side_by_side.main(argv) == 0
    written = json.loads(out.read_text())
    assert [seed["seed"] for seed in written["seeds"]] == [1, 2]
    assert written["seeds"][0]["tumour_live"] == [2, 2]
    assert written["seeds"][0]["wall_s_per_sim_min"] == pytest.approx(0.1)
    assert written["time_steps_min"]["diffusion"] == 0.01
    assert written["setup"]["settings_changed"]["user_parameters/tumor_radius"] == "60"
    assert "--no-run" in written["provenance"]["runs"]


def test_an_unfinished_run_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    (tmp_path / "sample.xml").write_text(SAMPLE_LIKE)
    physicell.reduced_settings(tmp_path / "sample.xml", days=3, threads=1, seed=5).write(
        tmp_path / "PhysiCell_settings.xml"
    )
    output = tmp_path / "output"
    output.mkdir()
    types = {0: "cancer cell", 1: "immune cell"}
    for index in range(3):
        write_output(output / f"output{index:08d}.xml", 60.0 * index, types, physicell_like_cells())
    (output / "output00000002_cells.mat").write_bytes(b"\0" * 8)  # stopped while writing
    with pytest.raises(FileNotFoundError):
        physicell.read_seed(tmp_path)  # no run.json: not finished
    run = physicell.read_seed(tmp_path, partial=True)
    assert run["partial"] is True
    assert run["time_min"] == [0.0, 60.0]
    assert (run["seed"], run["threads"], run["wall_s"]) == (5, 1, None)


def test_further_settings_override_the_reduced_ones(tmp_path: Path) -> None:
    (tmp_path / "sample.xml").write_text(SAMPLE_LIKE)
    extra = {"overall/dt_diffusion": "0.002"}
    tree = physicell.reduced_settings(tmp_path / "sample.xml", 1, 1, 3, extra)
    assert physicell.settings_values(tree, ["overall/dt_diffusion"]) == extra
    assert physicell.time_steps_min(tree)["diffusion"] == 0.002


def test_the_sample_comparison_counts_outputs_inside_physicells_spread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks.physicell import samples

    monkeypatch.setattr(samples, "RESULTS", tmp_path)
    times = [0.0, 60.0]

    def runs(values: list[list[int]]) -> dict:
        return {"runs": [{"seed": k, "wall_s": 1.0, "changes": {}, "time_min": times,
                          "live": {"a": v}, "dead": {"a": [0, 0]}}
                         for k, v in enumerate(values)]}  # fmt: skip

    # PhysiCell at 60 min: 10, 12, 14 (mean 12, sd 2); tissue 11, 13 (mean 12) then 20, 22
    (tmp_path / "t-2d-physicell.json").write_text(json.dumps(runs([[5, 10], [5, 12], [5, 14]])))
    (tmp_path / "t-2d-tissue.json").write_text(json.dumps(runs([[5, 11], [5, 13]])))
    result = samples.compare("t", three_d=False)
    assert result["outputs_passing"]["live.a"]["within_seed_spread"] == "2/2"
    (tmp_path / "t-2d-tissue.json").write_text(json.dumps(runs([[5, 20], [5, 22]])))
    result = samples.compare("t", three_d=False)
    late = result["curves"]["live.a"][1]
    assert (late["within_seed_spread"], late["within_seed_range"]) == (False, False)
    assert late["means_within_2_se"] is False


def test_paired_runs_give_each_seeds_difference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks.physicell import samples

    monkeypatch.setattr(samples, "RESULTS", tmp_path)

    def runs(seeds: list[int], values: list[list[int]], times: list[float]) -> dict:
        return {"runs": [{"seed": s, "wall_s": 1.0, "changes": {}, "time_min": times,
                          "live": {"a": v}, "dead": {"a": [0] * len(times)}}
                         for s, v in zip(seeds, values, strict=True)]}  # fmt: skip

    write = lambda name, data: (tmp_path / name).write_text(json.dumps(data))  # noqa: E731
    write("t-2d-physicell.json", runs([1, 2, 3], [[5, 10], [5, 12], [5, 14]], [0.0, 60.0]))
    write("t-2d-tissue-dt0.1.json", runs([1, 2, 3], [[5, 11], [5, 13], [5, 9]], [0.0, 60.0]))
    # the shorter run of seeds 1 and 3 at the finer step: only those seeds and times pair
    write("t-2d-tissue-60min.json", runs([1, 3], [[5, 12], [5, 9]], [0.0, 60.0]))
    result = samples.pairs("t", False, "-60min", "-dt0.1")
    assert result["seeds"] == [1, 3]
    live = result["curves"]["live.a"]
    assert [r["differences"] for r in live["rows"]] == [[0, 0], [-1, 0]]
    assert (live["largest_difference"], live["at_min"], live["physicell_sd_there"]) == (1, 60, 2)
    assert (tmp_path / "t-2d-tissue-60min-vs-dt0.1.json").exists()


def test_fields_are_unread_only_where_no_rule_chemotaxis_or_ramp_reads_one() -> None:
    from benchmarks.physicell.samples import _unread
    from tests.conftest import box_scenario
    from tissue.config import scenario_from_dict

    def scenario(rule_signal: str | None = None, **ctype: Any) -> Any:
        rules = {"r": {"cell_type": "a", "behaviour": "cycle", "signal": rule_signal,
                       "to_value": 0.0, "half_max": 1.0}} if rule_signal else {}  # fmt: skip
        data = box_scenario(
            fields={"s": {"diffusion_um2_per_min": 1.0}},
            cell_types={"a": {"secretion": {"s": {"secretion_rate_per_min": 1.0,
                                                  "secretion_target": 1.0}}, **ctype}},
            rules=rules,
        )  # fmt: skip
        return scenario_from_dict(data, "t")

    assert _unread(scenario())  # secreted, never read
    assert _unread(scenario("time"))
    assert not _unread(scenario("s"))
    assert not _unread(scenario(chemotaxis_field="s", chemotaxis_bias=0.5))
    assert not _unread(scenario(oxygen_field="s"))


def test_a_field_is_inert_only_without_any_source() -> None:
    from benchmarks.physicell.samples import _inert
    from tests.conftest import box_scenario
    from tissue.config import scenario_from_dict

    data = box_scenario(
        fields={"s": {"diffusion_um2_per_min": 1.0}},
        cell_types={"a": {"secretion": {"s": {"uptake_rate_per_min": 1.0}}}},
    )
    assert _inert(scenario_from_dict(data, "t"), "s")  # uptake of nothing stays nothing
    data["cell_types"]["a"]["secretion"]["s"]["export_rate"] = 1.0
    assert not _inert(scenario_from_dict(data, "t"), "s")
    data["cell_types"] = {}
    data["fields"]["s"]["initial"] = 1.0
    assert not _inert(scenario_from_dict(data, "t"), "s")


def test_eating_counts_contacts_predicted_eating_and_dead_cells_gone(tmp_path: Path) -> None:
    """Two macrophages 20 and 30 um from a dead tumour cell (radii 8.4 um, reaches 1.5 x
    8.4 = 12.6 um: the first touches it by the adhesion reach alone, the second does not),
    a live tumour cell beside the dead one: over an hour in which the dead cell goes, one
    macrophage-hour in contact, predicted eating
    1 - exp(-0.01/(1 + (V/6000)^4) 60) at its volume V = 2494 um^3, one gone."""
    types = {0: "malignant epithelial cell", 1: "M0 macrophage"}
    volume = 2494.0
    first = {
        "ID": np.array([1.0, 2.0, 3.0, 4.0]),
        "position": np.array([[0, 0, 0], [20, 0, 0], [0, -30, 0], [0, 16, 0]], float),
        "total_volume": np.full(4, volume),
        "cell_type": np.array([0.0, 1.0, 1.0, 0.0]),
        "dead": np.array([1.0, 0.0, 0.0, 0.0]),
    }
    write_output(tmp_path / "output00000000.xml", 0.0, types, first)
    after = {k: v[1:] for k, v in first.items()}
    write_output(tmp_path / "output00000001.xml", 60.0, types, after)
    totals = eating.hourly("rules_sample", tmp_path, 0, 1)
    rate = 0.01 / (1 + (volume / 6000.0) ** 4)
    assert totals["eater_hours_touching"] == 1
    assert totals["predicted_eaten"] == pytest.approx(1 - np.exp(-rate * 60))
    assert totals["gone"] == 1


def test_exposure_reads_the_field_at_each_cells_voxel(tmp_path: Path) -> None:
    """A 2-D tissue run of M1 macrophages taking up oxygen fed from one edge (a gradient
    across them), turning M2 by rules_sample's oxygen rule, exported as PhysiCell output:
    hour by hour the tool's cell-hours, mean oxygen and predicted changes are those of the
    run file's own cells and fields (each cell's voxel by its position), and the changes it
    counts are the run's M1 cells that are M2 an hour later (by id)."""
    from benchmarks.physicell import exposure
    from tissue.config import scenario_from_dict
    from tissue.io import RunReader
    from tissue.runner import Runner, RunSettings
    from tissue.simulation import Simulation

    still = {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0}
    m1 = still | {"transitions": {"M2 macrophage": 1e-3},
                  "secretion": {"oxygen": {"uptake_rate_per_min": 10.0}}}  # fmt: skip
    data = {
        "organs": {"box": {"shape": [16, 8, 1], "spacing_um": 20.0, "two_d": True}},
        "time_steps": {"diffusion_min": 0.1, "mechanics_min": 0.1, "phenotype_min": 6.0},
        "run": {"days": 3 / 24, "output_interval_min": 60.0, "snapshot_interval_min": 60.0},
        "fields": {"oxygen": {"diffusion_um2_per_min": 1e3, "decay_per_min": 0.1,
                              "initial": 10.0, "boundary": "dirichlet",
                              "boundary_faces": ["x-"], "boundary_value": 20.0}},
        "cell_types": {"M1 macrophage": m1, "M2 macrophage": dict(still)},
        "rules": {"m2": {"cell_type": "M1 macrophage", "behaviour": "transition.M2 macrophage",
                         "signal": "oxygen", "to_value": 1e-4, "half_max": 5.0,
                         "hill_coefficient": 8.0, "as_signal": "rises"}},
        "initial_cells": [{"kind": "random", "organ": "box", "type": "M1 macrophage",
                           "count": 60}],
    }  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "exposure"), backend="cpu", seed=2)
    Runner(sim, tmp_path / "run", RunSettings(target_days=3 / 24, snapshot_every_min=60.0)).run()
    folder = eating.outputs(tmp_path / "run" / "run.h5", tmp_path / "export")
    reader = RunReader(tmp_path / "run" / "run.h5")
    grid = reader.organ_info("box").grid
    spec = exposure.SAMPLES["rules_sample"]
    hours = total = predicted = gained = 0.0
    for h in range(3):
        cells = reader.cells(h, "box")
        m1_live = (cells["type"] == 0) & (cells["state"] == 0)
        ijk = np.floor((cells["position_um"][m1_live] - grid.origin_xyz_um) / 20.0).astype(int)
        o2 = reader.field(h, "box", "oxygen")[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
        hours += m1_live.sum()
        total += o2.sum()
        predicted += (-np.expm1(-spec.rate(o2.astype(float)) * 60.0)).sum()
        later = reader.cells(h + 1, "box")
        became = later["id"][later["type"] == 1]
        gained += np.isin(cells["id"][m1_live], became).sum()
    totals = exposure.hourly("rules_sample", folder, 0, 3)
    assert totals["cell_hours"] == hours
    assert totals["mean_field"] == pytest.approx(total / hours, rel=1e-6)
    assert totals["predicted_changes"] == pytest.approx(predicted, rel=1e-5)
    assert totals["changes_counted"] == gained
    assert gained > 0
    assert 0.1 < totals["share_below"] < 0.9  # cells on both sides of the rule's half-max


def test_the_tissue_runs_import_the_code_whose_commit_they_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The harness runs tissue in a child process and records the commit of the tissue this
    process imports: the child must import that same checkout, not an installed script's or
    one earlier on PYTHONPATH (here a decoy package)."""
    import subprocess
    import sys

    import tissue
    from benchmarks.physicell.samples import tissue_command, tissue_env

    decoy = tmp_path / "decoy" / "tissue"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", str(decoy.parent))
    where = subprocess.run(
        [sys.executable, "-c", "import tissue; print(tissue.__file__)"],
        env=tissue_env(), capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout.strip()  # fmt: skip
    assert Path(where).resolve() == Path(tissue.__file__).resolve()
    assert tissue_command()[1:] == ["-m", "tissue.cli"]


def test_the_first_order_limit_takes_the_two_finest_steps() -> None:
    """f(h) = 5 + 3 h (+ a curvature felt only at the coarsest step): the limit is 5."""
    from benchmarks.physicell import samples

    runs = [{"dt_min": h, "mean": 5.0 + 3.0 * h + (9.0 if h > 0.005 else 0.0)}
            for h in (0.01, 0.001, 0.0005)]  # fmt: skip
    limit = samples.first_order_limit(runs, ("mean",))
    assert limit["mean"] == pytest.approx(5.0, abs=1e-12)
    assert limit["from_dt_min"] == [0.001, 0.0005]


def test_a_samples_curves_take_the_output_time_as_saved_not_as_summed(tmp_path: Path) -> None:
    """PhysiCell's clock sums its steps (60.000001 min at a 0.0005 min step): the curves
    keep the output time, so that they match tissue's outputs time for time."""
    from benchmarks.physicell import samples

    cells = physicell_like_cells()
    types = {0: "cancer cell", 1: "immune cell"}
    write_output(tmp_path / "output00000000.xml", 0.0, types, cells)
    write_output(tmp_path / "output00000001.xml", 60.000001, types, cells)
    curves = samples.physicell_curves(tmp_path)
    assert curves["time_min"] == [0.0, 60.0]
    assert curves["live"] == {"cancer cell": [2, 2], "immune cell": [1, 1]}
    assert curves["dead"] == {"cancer cell": [1, 1], "immune cell": [1, 1]}
