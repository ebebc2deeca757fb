"""Label volumes of organs: an organ's grid and the uint8 label of each voxel, built from its
geometry (a box of one label, a generated lung or breast, or a label image file) and the
regions painted over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tissue.config import BreastGeometry, FileGeometry, LungGeometry, OrganConfig, Region
from tissue.errors import InputError
from tissue.generators import breast_labels, lung_labels
from tissue.grid import Grid


def build_labels(
    xp: Any, organ_name: str, organ: OrganConfig, scenario_source: str
) -> tuple[Grid, Any]:
    """The organ's grid and its label volume (nz, ny, nx) uint8 on the backend ``xp``."""
    names = organ.label_names()
    spacing = organ.spacing_xyz_um
    if isinstance(organ.geometry, FileGeometry):
        volume = _load_label_file(organ_name, organ, scenario_source)
        grid = Grid(tuple(volume.shape), spacing, organ.origin_um, organ.two_d)  # type: ignore[arg-type]
        labels = xp.asarray(volume)
    elif isinstance(organ.geometry, LungGeometry | BreastGeometry):
        nx, ny, nz = organ.shape  # type: ignore[misc]
        grid = Grid((nz, ny, nx), spacing, organ.origin_um)  # never two_d (a config check)
        generate = lung_labels if isinstance(organ.geometry, LungGeometry) else breast_labels
        labels = generate(xp, grid, organ.geometry)
    else:
        nx, ny, nz = organ.shape  # type: ignore[misc]
        grid = Grid((nz, ny, nx), spacing, organ.origin_um, organ.two_d)
        labels = xp.full(grid.shape_zyx, names[organ.geometry.label], dtype=xp.uint8)
    for region in organ.regions:
        mask = _region_mask(xp, grid, region)
        labels[mask] = names[region.label]
    return grid, labels


def _region_mask(xp: Any, grid: Grid, region: Region) -> Any:
    x, y, z = grid.centres(xp)
    if region.shape == "sphere":
        cx, cy, cz = region.center_um  # type: ignore[misc]
        r = region.radius_um
        inside = (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= r * r  # type: ignore[operator]
    elif region.shape == "cylinder":
        cx, cy, cz = region.center_um  # type: ignore[misc]
        r = region.radius_um
        a, b = {"x": ((y, cy), (z, cz)), "y": ((x, cx), (z, cz)), "z": ((x, cx), (y, cy))}[
            region.axis
        ]
        inside = (a[0] - a[1]) ** 2 + (b[0] - b[1]) ** 2 <= r * r  # type: ignore[operator]
    else:
        lo, hi = region.min_um, region.max_um
        inside = (
            (x >= lo[0]) & (x < hi[0]) & (y >= lo[1]) & (y < hi[1]) & (z >= lo[2]) & (z < hi[2])  # type: ignore[index]
        )
    inside = xp.broadcast_to(inside, grid.shape_zyx)
    return ~inside if region.outside else inside


def _load_label_file(organ_name: str, organ: OrganConfig, scenario_source: str) -> np.ndarray:
    geometry = organ.geometry
    assert isinstance(geometry, FileGeometry)
    key = f"organs.{organ_name}.geometry.path"
    path = Path(geometry.path)
    if not path.is_absolute() and Path(scenario_source).is_file():
        path = Path(scenario_source).parent / path
    volume = read_label_image(path, geometry.dataset, scenario_source, key)
    if volume.ndim != 3 or not np.issubdtype(volume.dtype, np.integer):
        raise InputError(
            str(path),
            key,
            f"label image must be a 3-D integer array (z, y, x), "
            f"got {volume.ndim}-D {volume.dtype}",
        )
    if organ.shape is not None and tuple(organ.shape) != volume.shape[::-1]:
        raise InputError(
            str(path),
            f"organs.{organ_name}.shape",
            f"{list(organ.shape)} does "
            f"not match the image's [nx, ny, nz] = {list(volume.shape[::-1])}",
        )
    layers = volume.shape[0]
    if organ.two_d != (layers == 1):
        raise InputError(
            str(path),
            f"organs.{organ_name}.two_d",
            f"{str(organ.two_d).lower()}, but the image has {layers} z-layer(s); allowed: "
            "two_d = true with one layer (a 2-D organ), or false with more",
        )
    present = {int(v) for v in np.unique(volume)}
    named = set(geometry.labels.values())
    unnamed = sorted(present - named)
    if unnamed:
        raise InputError(
            str(path),
            f"organs.{organ_name}.geometry.labels",
            f"values {unnamed} in the image have no name; named: {sorted(named)}",
        )
    return volume.astype(np.uint8)


LABEL_IMAGE_SUFFIXES = (".npy", ".h5", ".hdf5", ".tif", ".tiff")


def read_label_image(path: Path, dataset: str | None, source: str, key: str) -> np.ndarray:
    """The array of a label image file: .npy, HDF5 (``dataset`` names the array) or a
    multi-page TIFF (pages are z-slices). Errors name the file and what is allowed."""
    suffix = path.suffix.lower()
    if suffix not in LABEL_IMAGE_SUFFIXES:
        raise InputError(
            source, key, f"'{path}': allowed label images: {', '.join(LABEL_IMAGE_SUFFIXES)}"
        )
    if not path.is_file():
        raise InputError(str(path), key, "no such label image")
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix in (".h5", ".hdf5"):
            return _read_hdf5_labels(path, dataset, key)
        import tifffile

        return np.asarray(tifffile.imread(path))
    except InputError:
        raise
    except Exception as error:  # each reader has its own errors; all mean "unreadable"
        reason = " ".join(str(error).split()) or type(error).__name__
        raise InputError(str(path), key, f"cannot read label image ({reason})") from None


def _read_hdf5_labels(path: Path, dataset: str | None, key: str) -> np.ndarray:
    import h5py

    with h5py.File(path, "r", locking=False) as handle:
        names: list[str] = []
        handle.visititems(
            lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None
        )
        if dataset is None:
            raise InputError(
                str(path),
                key.replace(".path", ".dataset"),
                f"required for an HDF5 label image; datasets: {', '.join(names) or '(none)'}",
            )
        if dataset.strip("/") not in names:
            raise InputError(
                str(path),
                key.replace(".path", ".dataset"),
                f"no dataset '{dataset}'; datasets: {', '.join(names) or '(none)'}",
            )
        return handle[dataset][()]
