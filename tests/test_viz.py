"""Pictures, headless: each command writes a non-blank image of the asked size, snapshots of a
growing tumour differ, the front is where the cells are, the dashboard plots the file's data."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("pyvista")
pytest.importorskip("matplotlib")

from PIL import Image

from tissue.cli import main
from tissue.io.runfile import RunReader
from viz.dashboard import dashboard, panel_series
from viz.scene import RenderOptions, render, stride_for

GOLDEN = Path(__file__).parent / "data" / "run-v1.h5"  # a tumour growing 39 -> 48 cells


@pytest.fixture(autouse=True)
def headless(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a cluster node: no display."""
    monkeypatch.delenv("DISPLAY", raising=False)


def is_picture(image: np.ndarray) -> bool:
    """Not blank: many distinct colours and a good share of non-background pixels."""
    background = image[0, 0]
    drawn = np.any(image != background, axis=-1).mean()
    return drawn > 0.05 and len(np.unique(image.reshape(-1, 3), axis=0)) > 50


def test_render_writes_a_picture_of_the_asked_size(tmp_path: Path) -> None:
    out = tmp_path / "view.png"
    result = CliRunner().invoke(
        main, ["render", str(GOLDEN), "-o", str(out), "--size", "320x240", "--last"]
    )
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape == (240, 320, 3)
    assert is_picture(image)


def test_snapshots_of_a_growing_tumour_render_differently() -> None:
    reader = RunReader(GOLDEN)
    options = RenderOptions(size=(320, 240), clim=(36.0, 38.0))
    first = render(reader, 0, options).astype(np.int32)
    last = render(reader, -1, options).astype(np.int32)
    changed = np.any(first != last, axis=-1).mean()
    assert changed > 0.01


def test_every_view_and_no_cut_render(tmp_path: Path) -> None:
    reader = RunReader(GOLDEN)
    images = [render(reader, -1, RenderOptions(size=(160, 120), view=v, cut=False))
              for v in ("iso", "front", "side", "top")]  # fmt: skip
    assert all(is_picture(i) for i in images)
    assert not np.array_equal(images[0], images[3])


def test_movie_has_one_frame_per_snapshot(tmp_path: Path) -> None:
    import imageio.v2 as imageio

    gif = tmp_path / "invasion.gif"
    result = CliRunner().invoke(main, ["movie", str(GOLDEN), "-o", str(gif), "--size", "160x120"])
    assert result.exit_code == 0, result.output
    frames = imageio.mimread(gif)
    assert len(frames) == 3
    assert frames[0].shape[:2] == (120, 160)
    assert all(is_picture(np.asarray(f)[..., :3]) for f in frames)
    mp4 = tmp_path / "invasion.mp4"
    result = CliRunner().invoke(main, ["movie", str(GOLDEN), "-o", str(mp4), "--size", "160x128"])
    assert result.exit_code == 0, result.output
    reader = imageio.get_reader(mp4)
    assert reader.count_frames() == 3
    reader.close()


def test_picture_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    for args, expected in [
        (["render", str(GOLDEN), "-o", "x.png", "--field", "vegf"], "fields: oxygen"),
        (["render", str(GOLDEN), "-o", "x.png", "--organ", "lung"], "organs: box"),
        (["render", str(GOLDEN), "-o", "x.png", "--snapshot", "9"], "allowed: 0..2 or -1"),
        (["render", str(GOLDEN), "-o", "x.png", "--size", "big"], "WIDTHxHEIGHT"),
        (["movie", str(GOLDEN), "-o", "x.avi"], "a .mp4 or .gif file"),
        (["plot", str(tmp_path / "none.h5"), "-o", "x.png"], "no such file"),
    ]:
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.count("\n") == 1
        assert expected in result.output


def test_cells_coloured_by_an_attribute(tmp_path: Path) -> None:
    """The same snapshot coloured by type and by oncoprotein differ; cells with low and high
    values get different colours; an unknown attribute is a one-line error."""
    from tissue.config import scenario_from_dict
    from tissue.runner import Runner, RunSettings
    from tissue.simulation import Simulation
    from viz.scene import cell_colours

    data = {
        "organs": {"box": {"shape": [10, 10, 10], "spacing_um": 10.0}},
        "time_steps": {"diffusion_min": 0.5, "mechanics_min": 0.5, "phenotype_min": 6.0},
        "run": {"output_interval_min": 6.0},
        "fields": {"oxygen": {"diffusion_um2_per_min": 1e3, "initial": 38.0}},
        "cell_types": {"tumour": {"attributes": {"oncoprotein": {
            "distribution": "uniform", "low": 0.0, "high": 2.0}}}},
        "initial_cells": [{"kind": "sphere", "organ": "box", "type": "tumour",
                           "center_um": [50, 50, 50], "radius_um": 30.0}],
    }  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "coloured"), backend="cpu", seed=1)
    Runner(sim, tmp_path, RunSettings(target_days=6 / 1440, snapshot_every_min=6.0)).run()
    reader = RunReader(tmp_path / "run.h5")
    options = {"size": (320, 240), "field": ""}
    by_type = render(reader, -1, RenderOptions(**options)).astype(np.int32)
    by_value = render(reader, -1, RenderOptions(**options, color_by="oncoprotein"))
    assert is_picture(by_value)
    assert np.any(by_type != by_value.astype(np.int32), axis=-1).mean() > 0.01
    colours = cell_colours(np.zeros(3), np.zeros(3), np.array([0.0, 2.0, np.nan]), (0.0, 2.0))
    assert not np.allclose(colours[0], colours[1])
    np.testing.assert_allclose(colours[2], cell_colours(np.zeros(1), np.zeros(1))[0])
    result = CliRunner().invoke(main, ["render", str(tmp_path), "-o", "x.png", "--color-by", "p53"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "allowed: a per-cell attribute (oncoprotein)" in result.output


def test_stride_bounds_the_voxels_read() -> None:
    assert stride_for((64, 64, 64), 2_000_000) == 1
    k = stride_for((512, 512, 512), 2_000_000)
    assert k == 5
    assert math.prod(-(-512 // k) for _ in range(3)) <= 2_000_000


def test_dashboard_plots_the_values_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    shutil.copy(GOLDEN, path)
    ledger = {"ledger.shed": 40.0, "ledger.arrested": 12.0, "ledger.micrometastases": 2.0}
    with h5py.File(path, "a") as handle:  # as the metastasis model will record them
        group = handle["timeseries"]
        rows = group["tick"].shape[0]
        columns = list(group.attrs["columns"])
        for key, last in {**ledger, "circulation.ctc": 3.0, "lung.s100a8a9.mean": 0.5}.items():
            group.create_dataset(key, data=np.linspace(0, last, rows))
            columns.append(key)
        group.attrs["columns"] = columns
    reader = RunReader(path)
    series = reader.timeseries()
    data = panel_series(reader)
    assert set(data["populations"]) == {"box.tumour.live"}
    assert {k: float(v[0]) for k, v in data["ledger"].items()} == {
        "body:shed": 40.0, "arrested": 12.0, "micrometastases": 2.0
    }  # fmt: skip
    assert list(data["circulation"]) == ["circulation.ctc"]
    assert list(data["niche"]) == ["lung.s100a8a9.mean"]
    assert list(data["front"]) == ["box.tumour.radius_um"]

    figure = dashboard(reader, (800, 500))
    axes = {ax.get_title().split("\n")[0]: ax for ax in figure.axes}
    lines = {line.get_label(): line for line in axes["live cells by organ and type"].lines}
    assert np.array_equal(lines["box.tumour.live"].get_ydata(), series["box.tumour.live"])
    assert np.array_equal(lines["box.tumour.live"].get_xdata(), series["time_days"])
    ledger_axes = axes["cascade ledger in the block (last output)"]
    assert [b.get_height() for b in ledger_axes.patches] == [12.0, 2.0]
    assert "shed 40" in ledger_axes.get_title()
    front = axes["primary tumour front"].lines[0]
    assert np.array_equal(front.get_ydata(), series["box.tumour.radius_um"])

    out = tmp_path / "dashboard.png"
    result = CliRunner().invoke(main, ["plot", str(path), "-o", str(out), "--size", "800x500"])
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape == (500, 800, 3)
    assert is_picture(image)


def test_labelled_structures_become_surfaces_and_big_organs_are_strided(tmp_path: Path) -> None:
    from tests.conftest import busy_scenario
    from tissue.config import scenario_from_dict
    from tissue.runner import Runner, RunSettings
    from tissue.simulation import Simulation
    from viz.scene import SnapshotScene

    sim = Simulation(scenario_from_dict(busy_scenario(), "walled"), backend="cpu", seed=1)
    Runner(sim, tmp_path, RunSettings(6 / 1440, snapshot_every_min=6.0)).run()
    reader = RunReader(tmp_path / "run.h5")
    scene = SnapshotScene(reader, RenderOptions(size=(200, 150), max_voxels=600))
    try:
        assert scene.stride == 2  # 16^3 voxels read as 8^3
        assert scene.labels.values.shape == (8, 8, 8)
        assert [name for _surface, _colour, name in scene.tissue] == ["wall"]
        surface = scene.tissue[0][0]
        z_low, z_high = surface.bounds[4], surface.bounds[5]
        assert 60 <= z_low < z_high <= 100  # the wall spans z = 70..90 um
        assert is_picture(scene.draw(-1))
    finally:
        scene.close()
