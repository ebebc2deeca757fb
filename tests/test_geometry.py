"""Organ geometry: boxes, painted regions and label images from files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.geometry import build_labels
from tissue.grid import Grid


def organ_of(**organ):
    return scenario_from_dict({"organs": {"o": organ}}, "test").organs["o"]


def test_regions_paint_in_order() -> None:
    organ = organ_of(shape=[10, 8, 6], spacing_um=[1.0, 2.0, 3.0], regions=[
        {"shape": "sphere", "label": "ball", "center_um": [5, 8, 9], "radius_um": 3},
        {"shape": "cylinder", "label": "tube", "axis": "x", "center_um": [0, 8, 9],
         "radius_um": 1.5},
        {"shape": "box", "label": "air", "min_um": [0, 0, 0], "max_um": [10, 16, 3],
         "outside": True},
    ])  # fmt: skip
    grid, labels = build_labels(np, "o", organ, "test")
    names = organ.label_names()
    assert names == {"tissue": 0, "ball": 1, "tube": 2, "air": 3}
    assert grid.shape_zyx == (6, 8, 10)
    assert labels.dtype == np.uint8
    assert (labels[1:] == names["air"]).all()  # z >= 3 um painted last, from outside
    _x, _y, z = grid.centres(np)
    assert z.ravel()[0] == pytest.approx(1.5)
    assert (labels[0] != names["ball"]).all()  # the ball lies in z in [6, 12]


def test_grid_indexing() -> None:
    grid = Grid((4, 5, 6), (2.0, 3.0, 4.0), (10.0, 0.0, 0.0))
    positions = np.array([[10.0, 0.0, 0.0], [21.9, 14.9, 15.9], [5.0, 100.0, 3.0]], np.float32)
    np.testing.assert_array_equal(grid.voxel_ijk(np, positions), [[0, 0, 0], [5, 4, 3], [0, 4, 0]])
    assert grid.flat_index(np, positions).tolist() == [0, 3 * 30 + 4 * 6 + 5, 4 * 6]
    assert grid.contains(np, positions).tolist() == [True, True, False]
    assert grid.voxel_volume_um3 == 24.0
    assert grid.extent_xyz_um == (12.0, 15.0, 16.0)


@pytest.mark.parametrize("distance", [0.0, 3.5, 7.9, 40.0, 1e4])
def test_near_is_every_voxel_within_the_distance(distance: float) -> None:
    """Voxel centres within ``distance`` of a marked centre, against brute force, also for
    distances longer than the block."""
    grid = Grid((4, 5, 6), (2.0, 3.0, 4.0), (0.0, 0.0, 0.0))
    mask = np.zeros((6, 5, 4), dtype=bool)
    mask[1, 3, 0] = mask[5, 0, 2] = True
    z, y, x = np.meshgrid(*(np.arange(n) for n in mask.shape), indexing="ij")
    centres = np.stack([z * 4.0, y * 3.0, x * 2.0], axis=-1).reshape(-1, 3)
    marked = centres[mask.reshape(-1)]
    gaps = np.linalg.norm(centres[:, None, :] - marked[None, :, :], axis=-1).min(axis=1)
    np.testing.assert_array_equal(
        grid.near(np, mask, distance), (gaps <= distance).reshape(6, 5, 4)
    )


def test_label_image_from_file(tmp_path: Path) -> None:
    volume = np.zeros((3, 4, 5), dtype=np.int32)
    volume[1] = 7
    np.save(tmp_path / "lung.npy", volume)
    scenario_file = tmp_path / "s.toml"
    scenario_file.write_text("")
    organ = scenario_from_dict({"organs": {"lung": {"geometry": {
        "kind": "file", "path": "lung.npy", "labels": {"air": 0, "septum": 7}}}}},
        str(scenario_file)).organs["lung"]  # fmt: skip
    grid, labels = build_labels(np, "lung", organ, str(scenario_file))
    assert grid.shape_zyx == (3, 4, 5)
    assert labels.dtype == np.uint8
    assert (labels[1] == 7).all()
    assert (labels[0] == 0).all()


@pytest.mark.parametrize(
    ("array", "labels", "fragment"),
    [
        (np.zeros((3, 3, 3), np.int32) + 2, {"air": 0}, r"values \[2\] in the image have no name"),
        (np.zeros((3, 3), np.int32), {"air": 0}, "3-D integer array"),
        (np.zeros((3, 3, 3), np.float32), {"air": 0}, "3-D integer array"),
    ],
)
def test_bad_label_images(tmp_path: Path, array, labels, fragment: str) -> None:
    np.save(tmp_path / "v.npy", array)
    organ = organ_of(geometry={"kind": "file", "path": str(tmp_path / "v.npy"), "labels": labels})
    with pytest.raises(InputError, match=fragment) as info:
        build_labels(np, "o", organ, "test")
    assert "organs.o" in info.value.key


def test_missing_or_wrong_type_file(tmp_path: Path) -> None:
    organ = organ_of(geometry={"kind": "file", "path": str(tmp_path / "none.npy"),
                               "labels": {"a": 0}})  # fmt: skip
    with pytest.raises(InputError, match="no such label image"):
        build_labels(np, "o", organ, "test")
    (tmp_path / "bad.npy").write_text("not an array")
    organ = organ_of(geometry={"kind": "file", "path": str(tmp_path / "bad.npy"),
                               "labels": {"a": 0}})  # fmt: skip
    with pytest.raises(InputError, match="cannot read label image"):
        build_labels(np, "o", organ, "test")
    organ = organ_of(geometry={"kind": "file", "path": "x.png", "labels": {"a": 0}})
    with pytest.raises(InputError, match=r"allowed label images: \.npy"):
        build_labels(np, "o", organ, "test")
