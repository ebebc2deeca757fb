"""Organs: the geometry of each voxel grid (a box, a label file, generated lung or breast),
the regions painted over it, the label names and codes these give, and the whole tumour a
primary's block stands for (its growth law).

The label codes of the generated tissues are defined once, here: :data:`LUNG_LABELS` and
:data:`BREAST_LABELS` (each geometry's ``LABELS``), reported by
:meth:`OrganConfig.label_names`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal, Self, Union

from pydantic import Field, model_validator

from tissue.config.base import (
    MAX_LABELS,
    Model,
    Positive,
    Shape3,
    Spacing3,
    Vector3,
    require,
)

LUNG_LABELS = {"septum": 0, "air": 1, "capillary": 2}
BREAST_LABELS = {"stroma": 0, "adipocyte": 1, "lumen": 2, "epithelium": 3, "vessel": 4}


class BoxGeometry(Model):
    """A box filled with one label."""

    kind: Literal["box"] = "box"
    label: str = "tissue"


class FileGeometry(Model):
    """A 3-D label image, shape (nz, ny, nx), with named label values: a .npy file, an HDF5
    file (.h5, .hdf5; ``dataset`` names the array) or a TIFF stack (.tif, .tiff; one page
    per z-slice), e.g. a segmented micro-CT or histology stack."""

    kind: Literal["file"]
    path: str
    labels: dict[str, Annotated[int, Field(ge=0, lt=MAX_LABELS)]]
    dataset: str | None = None


class LungGeometry(Model):
    """Generated lung parenchyma: alveolar air spaces as a Voronoi foam, septal walls between
    them, capillaries inside the walls where three alveoli meet. Labels: septum, air,
    capillary. Defaults are mouse scale (use spacing_um <= 10). Walls are made at least one
    voxel thick so that they stay closed on coarse grids."""

    LABELS: ClassVar[dict[str, int]] = LUNG_LABELS

    kind: Literal["lung"]
    alveolus_diameter_um: Positive = 47.0  # mouse, Hoang 2018 J Anat (human ~200)
    septum_thickness_um: Positive = 6.0  # estimate: mouse interalveolar septum 5-10 um
    capillary_diameter_um: Positive = 8.0  # brief: 6-15 um
    jitter: Annotated[float, Field(ge=0.0, le=1.0)] = 0.7  # estimate: irregularity of alveoli
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0  # the tissue's own seed


class BreastGeometry(Model):
    """Generated breast: ducts (lumen lined by epithelium) in fibroglandular stroma with
    microvessels, and fat (adipocytes with thin stroma and capillaries between them)
    elsewhere. Labels: stroma, adipocyte, lumen, epithelium, vessel."""

    LABELS: ClassVar[dict[str, int]] = BREAST_LABELS

    kind: Literal["breast"]
    fibroglandular_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.19  # Yaffe 2009
    adipocyte_diameter_um: Positive = 100.0  # brief: adipocytes 50-160 um across
    fat_septum_um: Positive = 6.0  # estimate: stroma between adipocytes
    duct_count: Annotated[int, Field(ge=0, le=64)] = 1
    duct_lumen_radius_um: Positive = 100.0  # brief: 80-160 um (a DCIS model: 158.75)
    epithelium_thickness_um: Positive = 20.0  # estimate: one to two cell layers
    vessel_diameter_um: Positive = 10.0  # estimate: microvessels 5-15 um
    vessel_spacing_um: Positive = 150.0  # estimate: oxygen reaches 100-200 um from a vessel
    jitter: Annotated[float, Field(ge=0.0, le=1.0)] = 0.7  # estimate
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0  # the tissue's own seed


class Region(Model):
    """A shape painted with a label over the geometry, in the order given.

    ``sphere`` and ``cylinder`` use ``center_um`` and ``radius_um`` (a cylinder runs
    along ``axis`` through the whole organ); ``box`` uses ``min_um`` and ``max_um``.
    ``outside = true`` paints everything not inside the shape.
    """

    shape: Literal["sphere", "cylinder", "box"]
    label: str
    center_um: Vector3 | None = None
    radius_um: Positive | None = None
    axis: Literal["x", "y", "z"] = "z"
    min_um: Vector3 | None = None
    max_um: Vector3 | None = None
    outside: bool = False

    @model_validator(mode="after")
    def check_shape_keys(self) -> Self:
        """A sphere or cylinder needs its centre and radius, a box its corners."""
        if self.shape in ("sphere", "cylinder"):
            require(
                self.center_um is not None,
                "center_um",
                f"required for a {self.shape}: [x, y, z] in um",
            )
            require(self.radius_um is not None, "radius_um", f"required for a {self.shape}")
        else:
            require(
                self.min_um is not None and self.max_um is not None,
                "min_um",
                "a box region needs min_um and max_um: [x, y, z] in um",
            )
        return self


class GompertzGrowth(Model):
    """The whole primary tumour that a block stands for, growing by Gompertz's law.

    N(t) = K exp(ln(N0 / K) exp(-beta t)) cells, t in days from the run's start, with N0 =
    ``initial_cells``, K = ``carrying_cells`` and beta = ``rate_per_day`` (the specific
    growth rate at N0 is beta ln(K / N0) per day). The block's live cells of ``cell_types``
    stand for the N(t) cells of the whole tumour: what the block sends into the blood
    (systemic factors, shed cells) is multiplied by N(t) / (those cells), and by 0 when the
    block has none left (a resected tumour).
    """

    kind: Literal["gompertz"] = "gompertz"
    initial_cells: Positive
    carrying_cells: Positive
    rate_per_day: Positive
    cell_types: Annotated[list[str], Field(min_length=1)]

    @model_validator(mode="after")
    def check_sizes(self) -> Self:
        """The tumour grows: K > N0."""
        require(
            self.carrying_cells > self.initial_cells,
            "carrying_cells",
            f"{self.carrying_cells:g}: allowed: more than initial_cells ({self.initial_cells:g})",
        )
        return self

    def cells(self, day: float) -> float:
        """N(day): the whole tumour's cells ``day`` days after the run's start."""
        k = self.carrying_cells
        return k * math.exp(math.log(self.initial_cells / k) * math.exp(-self.rate_per_day * day))


class OrganConfig(Model):
    """One voxel grid with its own spacing and label volume.

    ``whole_organ_fraction`` is the part of the whole organ (or of the whole primary
    tumour) this block stands for: what it sends into the blood (systemic factors, shed
    cells) is divided by it, and it receives that fraction of the cells arresting in its
    organ. A primary's block may give ``growth`` instead, the whole tumour's size over time
    (:class:`GompertzGrowth`), which then sets what the block stands for at each step.

    ``two_d`` makes the organ one voxel layer (``shape = [nx, ny, 1]``), as PhysiCell's
    ``use_2D``: its cells live in the mid-plane z = origin_z + dz/2 and move in it, its
    fields have no flux through the z faces (Dirichlet boundaries leave those out), and a
    voxel's volume stays dx dy dz. A box or a label file can be 2-D; the lung and breast
    generators build 3-D tissue and are refused.
    """

    shape: Shape3 | None = None
    spacing_um: Positive | Spacing3 = 20.0
    origin_um: Vector3 = (0.0, 0.0, 0.0)
    geometry: Annotated[
        Union[BoxGeometry, FileGeometry, LungGeometry, BreastGeometry],  # noqa: UP007
        Field(discriminator="kind"),
    ] = BoxGeometry()
    regions: list[Region] = []
    barrier_labels: list[str] = []
    whole_organ_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    growth: GompertzGrowth | None = None
    two_d: bool = False

    @model_validator(mode="after")
    def check_shape_and_labels(self) -> Self:
        """Only a label file brings its own shape; a 2-D organ is one layer of a box or a
        label file, and only a 2-D organ is; an organ has at most MAX_LABELS labels."""
        if not isinstance(self.geometry, FileGeometry):
            require(
                self.shape is not None,
                "shape",
                f"required for a {self.geometry.kind}: [nx, ny, nz]",
            )
        if self.shape is not None:
            nz = self.shape[2]
            if self.two_d:
                require(nz == 1, "shape.2", f"{nz}: a two_d organ is one voxel layer; "
                        "allowed: 1 (or two_d = false for a 3-D organ)")  # fmt: skip
            else:
                require(nz >= 3, "shape.2", f"{nz}: allowed: >= 3 (or 1 with two_d = true, "
                        "a 2-D organ)")  # fmt: skip
        if self.two_d:
            require(
                isinstance(self.geometry, BoxGeometry | FileGeometry),
                "geometry.kind",
                f"'{self.geometry.kind}' generates 3-D tissue; allowed in a two_d organ: box, file",
            )
        names = set(self._geometry_labels()) | {region.label for region in self.regions}
        require(len(names) <= MAX_LABELS, "", f"at most {MAX_LABELS} labels")
        require(
            self.growth is None or self.whole_organ_fraction == 1.0,
            "growth",
            "a block with a growth law stands for the whole tumour it gives; "
            "allowed: growth or whole_organ_fraction, not both",
        )
        return self

    @property
    def spacing_xyz_um(self) -> tuple[float, float, float]:
        s = self.spacing_um
        return (s, s, s) if isinstance(s, float | int) else tuple(s)  # type: ignore[return-value]

    def label_names(self) -> dict[str, int]:
        """Label name -> uint8 code of this organ."""
        names = self._geometry_labels()
        for region in self.regions:
            if region.label not in names:
                names[region.label] = _first_free_code(names)
        return names

    def _geometry_labels(self) -> dict[str, int]:
        """Label name -> code of the geometry, before regions add theirs."""
        if isinstance(self.geometry, FileGeometry):
            return dict(self.geometry.labels)
        if isinstance(self.geometry, LungGeometry | BreastGeometry):
            return dict(self.geometry.LABELS)
        return {self.geometry.label: 0}


def _first_free_code(names: Mapping[str, int]) -> int:
    used = set(names.values())
    return next(code for code in range(MAX_LABELS) if code not in used)
