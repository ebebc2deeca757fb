"""The body around the organs: the blood (systemic species, circulating tumour cells),
recruitment of cells from it, behaviour rules moved by signals, and interventions (blocking
antibodies, resection, depletion, injection, added cells)."""

from __future__ import annotations

from typing import Annotated, Literal, Self, Union

from pydantic import Field, model_validator

from tissue.config.base import Finite, Model, NonNegative, Positive, require
from tissue.config.cells import InitialCells
from tissue.signals import parse_behaviour


class SystemicSpecies(Model):
    """A factor carried by the blood, in the units of the fields that exchange with it."""

    clearance_per_min: NonNegative = 0.0
    initial: NonNegative = 0.0


class CirculationConfig(Model):
    """The blood: a well-mixed compartment of systemic factors and circulating tumour
    cells (CTCs), counted whole-body.

    Each CTC leaves the blood at ``arrest_rate_per_min + death_rate_per_min``: it arrests
    in organ ``arrest_organ`` or dies, in proportion to the two rates. Of the cells
    arresting, the organ block's ``whole_organ_fraction`` land in it, in a random voxel of
    ``arrest_label``, as cells of type ``arrest_type``; the rest lodge in the part of the
    organ not simulated.
    """

    blood_volume_ul: Positive = 2000.0
    species: dict[str, SystemicSpecies] = {}
    arrest_organ: str | None = None
    arrest_label: str | None = None
    arrest_type: str | None = None
    arrest_rate_per_min: NonNegative = 0.0
    death_rate_per_min: NonNegative = 0.0

    @property
    def blood_volume_um3(self) -> float:
        return self.blood_volume_ul * 1e9


class Recruitment(Model):
    """Cells of ``type`` entering organ ``organ`` through the voxels of ``label``, per mm^3
    of those voxels: basal_per_mm3_per_min + max_per_mm3_per_min * H(signal), with
    H(s) = s^n / (half_max^n + s^n) and ``signal`` as in :class:`Rule`."""

    organ: str
    type: str
    label: str
    basal_per_mm3_per_min: NonNegative = 0.0
    max_per_mm3_per_min: NonNegative = 0.0
    signal: str | None = None
    half_max: Positive = 1.0
    hill_coefficient: Positive = 1.0


class Rule(Model):
    """A behaviour of a cell type moved by a signal (PhysiCell-style rules).

    value -> value + (to_value - value) * H, with H = s^n / (half_max^n + s^n) when
    ``as_signal = "rises"`` and half_max^n / (half_max^n + s^n) when it ``"falls"``; rules
    on one behaviour apply in the order written.

    behaviour and signal: the names of :mod:`tissue.signals` (rates in 1/min, secretion
    factors or rates, motility, chemotactic sensitivities, damage, attack rates; a field at
    the cell's voxel, ``blood.<species>``, ``contact.<type>``: the live cells of that type
    touching the cell, and the per-cell signals such as ``volume``, ``damage`` or
    ``apoptotic``). Only ``chemotaxis.<field>`` (a signed sensitivity) may move toward a
    negative ``to_value``.
    Dead cells: a rule acts on them only with ``applies_to_dead`` (PhysiCell's last column);
    on a dead cell the others read no signal. A dead cell's secretion follows the rules on
    ``secretion_rate.<field>`` of its type when one of them applies to dead cells (from the
    type's live rate, as in PhysiCell), else its ``dead_secretion``.
    """

    cell_type: str
    behaviour: str
    signal: str
    to_value: Finite
    half_max: Positive
    hill_coefficient: Positive = 1.0
    as_signal: Literal["rises", "falls"] = "rises"
    applies_to_dead: bool = False

    @model_validator(mode="after")
    def check_sign(self) -> Self:
        """Rates and factors are not negative; a chemotactic sensitivity may be."""
        require(
            self.to_value >= 0 or parse_behaviour(self.behaviour).kind == "chemotaxis",
            "to_value",
            f"{self.to_value:g}: allowed: >= 0 (only a chemotaxis.<field> sensitivity may be "
            "negative)",
        )
        return self


class BlockSignal(Model):
    """An antibody or receptor blocker: from ``start_day`` (to ``end_day``) every rule,
    recruitment, reaction and chemotaxis reading ``signal`` sees (1 - efficacy) of it."""

    kind: Literal["block"]
    signal: str
    efficacy: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    start_day: NonNegative = 0.0
    end_day: Positive | None = None

    @model_validator(mode="after")
    def check_window(self) -> Self:
        """It ends after it starts."""
        require(
            self.end_day is None or self.end_day > self.start_day,
            "end_day",
            "must be after start_day",
        )
        return self


class Resection(Model):
    """Surgery at ``start_day``: every cell of ``cell_types`` (all types if omitted) is
    removed from ``organ``."""

    kind: Literal["resection"]
    organ: str
    cell_types: list[str] | None = None
    start_day: NonNegative = 0.0


class Depletion(Model):
    """Immune depletion: at ``start_day`` the cells of ``cell_types`` are removed from every
    organ, and none are recruited until ``end_day`` (for good if omitted)."""

    kind: Literal["deplete"]
    cell_types: list[str] = Field(min_length=1)
    start_day: NonNegative = 0.0
    end_day: Positive | None = None

    @model_validator(mode="after")
    def check_window(self) -> Self:
        """It ends after it starts."""
        require(
            self.end_day is None or self.end_day > self.start_day,
            "end_day",
            "must be after start_day",
        )
        return self


class Injection(Model):
    """Intravenous injection of ``count`` tumour cells into the blood at ``start_day``."""

    kind: Literal["inject"]
    count: Annotated[int, Field(ge=0, lt=2**53)]
    start_day: NonNegative = 0.0


class AddCells(Model):
    """Cells placed at ``start_day`` as ``initial_cells`` entries are at the start (e.g.
    immune cells injected around a tumour)."""

    kind: Literal["add"]
    cells: list[InitialCells] = Field(min_length=1)
    start_day: NonNegative = 0.0


Intervention = Annotated[
    Union[BlockSignal, Resection, Depletion, Injection, AddCells],  # noqa: UP007
    Field(discriminator="kind"),
]
