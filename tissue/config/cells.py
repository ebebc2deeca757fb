"""Cells: cell types (cycle, death, motility, secretion, transitions, intravasation, attack)
and the initial placements (a ball or shell, random positions in a label, a list)."""

from __future__ import annotations

from typing import Annotated, Literal, Self, Union

from pydantic import Field, model_validator

from tissue.config.base import Model, NonNegative, Positive, Vector3, require


class Secretion(Model):
    """A cell's exchange with one field (BioFVM's model), per cell:

    d(c)/dt += [secretion_rate_per_min * (secretion_target - c) - uptake_rate_per_min * c]
    * V_cell / V_voxel + export_rate / V_voxel, with ``export_rate`` in amount/min.
    """

    secretion_rate_per_min: NonNegative = 0.0
    secretion_target: NonNegative = 0.0
    uptake_rate_per_min: NonNegative = 0.0
    export_rate: NonNegative = 0.0


class Attack(Model):
    """A cytotoxic cell's attack (PhysiCell's cancer-immune rules): a free attacker in
    contact with a live cell of ``targets`` attaches at ``attach_rate_per_min``, then, while
    attached, kills it (apoptosis) at ``kill_rate_per_min`` and lets go after
    ``attachment_min``; an attached cell does not migrate."""

    targets: list[str] = Field(min_length=1)
    attach_rate_per_min: NonNegative = 0.2  # PhysiCell cancer-immune sample
    kill_rate_per_min: NonNegative = 0.06667  # PhysiCell cancer-immune sample
    attachment_min: Positive = 60.0  # PhysiCell cancer-immune sample


class CellTypeConfig(Model):
    """One cell type. Defaults: PhysiCell 1.14.2 tumour cell (Ghaffarizadeh 2018).

    Motility: persistent random walk with chemotactic bias (PhysiCell's rule).
    Cycle: rate ramps linearly from 0 at ``cycle_oxygen_threshold`` to full at
    ``cycle_oxygen_saturation``. Necrosis: rate ramps from 0 at
    ``necrosis_oxygen_threshold`` to full at and below ``necrosis_oxygen_max``.
    Transitions: a live cell becomes type T at ``transitions[T]`` per minute (before rules).
    Intravasation: a live cell within ``intravasation_distance_um`` of a voxel of
    ``intravasation_label`` enters the blood at ``intravasation_rate_per_min``.
    """

    radius_um: Positive = 8.4
    allowed_labels: list[str] | None = None
    speed_um_per_min: NonNegative = 0.0
    persistence_min: Positive = 5.0
    chemotaxis_bias: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    chemotaxis_field: str | None = None
    cycle_rate_per_min: NonNegative = 0.0
    oxygen_field: str | None = None
    cycle_oxygen_threshold: NonNegative = 5.0
    cycle_oxygen_saturation: NonNegative = 38.0
    apoptosis_rate_per_min: NonNegative = 0.0
    apoptotic_clearance_min: Positive = 516.0
    necrosis_rate_per_min: NonNegative = 0.0
    necrosis_oxygen_threshold: NonNegative = 5.0
    necrosis_oxygen_max: NonNegative = 2.5
    necrotic_clearance_min: Positive = 86400.0
    repulsion_um_per_min: NonNegative = 10.0
    adhesion_um_per_min: NonNegative = 0.4
    adhesion_range: Annotated[float, Field(ge=1.0, le=3.0)] = 1.25
    secretion: dict[str, Secretion] = {}
    transitions: dict[str, NonNegative] = {}
    intravasation_rate_per_min: NonNegative = 0.0
    intravasation_label: str | None = None
    intravasation_distance_um: NonNegative = 10.0
    attack: Attack | None = None

    @model_validator(mode="after")
    def check_ranges(self) -> Self:
        """The oxygen ramps run the right way; intravasation says where."""
        require(
            self.necrosis_oxygen_max <= self.necrosis_oxygen_threshold,
            "necrosis_oxygen_max",
            "must be <= necrosis_oxygen_threshold",
        )
        require(
            self.cycle_oxygen_threshold < self.cycle_oxygen_saturation or self.oxygen_field is None,
            "cycle_oxygen_saturation",
            "must be > cycle_oxygen_threshold",
        )
        require(
            self.intravasation_rate_per_min == 0 or self.intravasation_label is not None,
            "intravasation_label",
            "required when intravasation_rate_per_min > 0",
        )
        return self


class SphereCells(Model):
    """Cells filling a ball (or the shell between ``inner_radius_um`` and ``radius_um``):
    ``count`` uniform random positions, or hexagonal close packing at one cell diameter
    when ``count`` is omitted. Positions outside the organ or in voxels the type may not
    enter are left empty (the ball is clipped to the tissue)."""

    kind: Literal["sphere"]
    organ: str
    type: str
    center_um: Vector3
    radius_um: Positive
    inner_radius_um: NonNegative = 0.0
    count: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def check_shell(self) -> Self:
        """The inner radius of a shell is inside the outer one."""
        require(
            self.inner_radius_um < self.radius_um, "inner_radius_um", "must be less than radius_um"
        )
        return self


class RandomCells(Model):
    """Exactly ``count`` cells at uniform random positions in the voxels of ``label`` (or
    of the whole organ) that the type may enter."""

    kind: Literal["random"]
    organ: str
    type: str
    count: Annotated[int, Field(ge=0)]
    label: str | None = None


class ListCells(Model):
    """Cells at explicit positions, each inside the organ in a voxel the type may enter."""

    kind: Literal["list"]
    organ: str
    type: str
    positions_um: list[Vector3]


InitialCells = Annotated[
    Union[SphereCells, RandomCells, ListCells],  # noqa: UP007
    Field(discriminator="kind"),
]
