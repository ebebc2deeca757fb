"""Generated lung and breast tissue, and label images from .npy, HDF5 and TIFF files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from tissue.backend import Backend, to_numpy
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.generators import BREAST_LABELS, LUNG_LABELS, Foam, voxel_centres
from tissue.geometry import build_labels
from tissue.grid import Grid


def organ(geometry: dict[str, Any], shape: list[int], spacing: float) -> Any:
    data = {"organs": {"o": {"shape": shape, "spacing_um": spacing, "geometry": geometry}}}
    return scenario_from_dict(data, "test").organs["o"]


def labels_of(config: Any, xp: Any = np) -> np.ndarray:
    return to_numpy(build_labels(xp, "o", config, "test")[1])


def fractions(labels: np.ndarray, codes: dict[str, int]) -> dict[str, float]:
    return {name: float((labels == code).mean()) for name, code in codes.items()}


LUNG = organ({"kind": "lung"}, [48, 40, 32], 5.0)
BREAST = organ({"kind": "breast"}, [50, 50, 40], 10.0)


def test_generators_are_seeded() -> None:
    for config in (LUNG, BREAST):
        first, again = labels_of(config), labels_of(config)
        assert np.array_equal(first, again)
        other = config.model_copy(
            update={"geometry": config.geometry.model_copy(update={"seed": 1})}
        )
        assert (labels_of(other) != first).mean() > 0.1


def test_generators_give_the_same_labels_on_every_backend(backend: Backend) -> None:
    """Integer arithmetic throughout: the GPU's labels equal the CPU's exactly."""
    for config in (LUNG, BREAST):
        assert np.array_equal(labels_of(config, backend.xp), labels_of(config))


def test_lung_walls_are_closed_and_alveoli_have_the_asked_size() -> None:
    """No two face-adjacent air voxels belong to different alveoli (nearest seeds found by
    brute force), and the air spaces are Voronoi cells of the asked diameter."""
    config = LUNG
    grid = Grid((32, 40, 48), (5.0,) * 3)
    labels = labels_of(config)
    air = labels == LUNG_LABELS["air"]
    foam = Foam(grid, config.geometry.alveolus_diameter_um, config.geometry.jitter, 0)
    seeds = foam.seeds.reshape(-1, 3)
    x, y, z = voxel_centres(grid)
    points = np.stack(np.meshgrid(x, y, z, indexing="ij"), axis=-1).transpose(2, 1, 0, 3)
    d2 = ((points[..., None, :] - seeds) ** 2).sum(axis=-1)
    nearest = np.argmin(d2, axis=-1)
    for axis in range(3):
        a = np.swapaxes(air, 0, axis)
        n = np.swapaxes(nearest, 0, axis)
        both = a[1:] & a[:-1]
        assert not np.any(both & (n[1:] != n[:-1])), f"air leaks between alveoli along {axis}"
    cells = np.unique(nearest[air])
    volume_um3 = air.sum() * 125.0 / cells.size
    # interior cells hold about a^3 times the air fraction of a cell; edge cells are cut off
    assert 0.2 * 47.0**3 < volume_um3 < 1.0 * 47.0**3
    share = fractions(labels, LUNG_LABELS)
    assert 0.55 < share["air"] < 0.8
    assert 0.05 < share["capillary"] < share["septum"]


def test_lung_capillaries_run_inside_the_walls() -> None:
    labels = labels_of(LUNG)
    capillary = labels == LUNG_LABELS["capillary"]
    inner = capillary[1:-1, 1:-1, 1:-1]
    tissue = labels != LUNG_LABELS["air"]
    neighbours = [
        tissue[2:, 1:-1, 1:-1], tissue[:-2, 1:-1, 1:-1], tissue[1:-1, 2:, 1:-1],
        tissue[1:-1, :-2, 1:-1], tissue[1:-1, 1:-1, 2:], tissue[1:-1, 1:-1, :-2],
    ]  # fmt: skip
    touching = np.sum(neighbours, axis=0)
    assert np.all(touching[inner] >= 2)  # part of a wall, never a floating voxel


def test_breast_has_ducts_fat_and_vessels_in_proportion() -> None:
    labels = labels_of(BREAST)
    share = fractions(labels, BREAST_LABELS)
    # fibroglandular (ducts and the stroma around them) is 19%: fat holds the rest
    assert 0.6 * 0.81 < share["adipocyte"] < 0.81
    assert share["lumen"] > 0.02
    assert share["epithelium"] > 0.01
    assert 0.005 < share["vessel"] < 0.1
    lumen = labels == BREAST_LABELS["lumen"]
    allowed = np.isin(labels, [BREAST_LABELS["lumen"], BREAST_LABELS["epithelium"]])
    for axis in range(3):
        a, b = np.swapaxes(lumen, 0, axis), np.swapaxes(allowed, 0, axis)
        assert np.all(b[1:][a[:-1]]), "lumen must be lined by epithelium"
        assert np.all(b[:-1][a[1:]]), "lumen must be lined by epithelium"


def test_generated_organs_need_a_shape() -> None:
    with pytest.raises(InputError, match="required for a lung"):
        scenario_from_dict({"organs": {"o": {"geometry": {"kind": "lung"}}}}, "test")


# --- label images ---------------------------------------------------------------------


@pytest.fixture
def image() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 3, size=(4, 5, 6)).astype(np.uint8)


def from_file(path: Path, **extra: Any) -> np.ndarray:
    geometry = {"kind": "file", "path": str(path), "labels": {"a": 0, "b": 1, "c": 2}, **extra}
    data = {"organs": {"o": {"spacing_um": 10.0, "geometry": geometry}}}
    config = scenario_from_dict(data, "test").organs["o"]
    return labels_of(config)


def test_label_images_load_from_npy_hdf5_and_tiff(tmp_path: Path, image: np.ndarray) -> None:
    import tifffile

    np.save(tmp_path / "labels.npy", image)
    with h5py.File(tmp_path / "labels.h5", "w") as handle:
        handle["segmentation/labels"] = image.astype(np.int32)
    tifffile.imwrite(tmp_path / "labels.tif", image, photometric="minisblack")
    assert np.array_equal(from_file(tmp_path / "labels.npy"), image)
    assert np.array_equal(from_file(tmp_path / "labels.h5", dataset="segmentation/labels"), image)
    assert np.array_equal(from_file(tmp_path / "labels.tif"), image)


def test_label_image_errors_name_the_file_and_what_is_allowed(
    tmp_path: Path, image: np.ndarray
) -> None:
    with h5py.File(tmp_path / "labels.h5", "w") as handle:
        handle["seg"] = image
    with pytest.raises(InputError, match="required for an HDF5 label image; datasets: seg"):
        from_file(tmp_path / "labels.h5")
    with pytest.raises(InputError, match="no dataset 'x'; datasets: seg"):
        from_file(tmp_path / "labels.h5", dataset="x")
    (tmp_path / "labels.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"allowed label images: \.npy, \.h5"):
        from_file(tmp_path / "labels.png")
    (tmp_path / "broken.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(InputError, match="cannot read label image"):
        from_file(tmp_path / "broken.tif")
    with pytest.raises(InputError, match="no such label image"):
        from_file(tmp_path / "missing.npy")
