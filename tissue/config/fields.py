"""Fields: diffusing species with their diffusion, decay, boundaries, sources, reactions and
exchange with the blood."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from tissue.config.base import FACES, Face, Model, NonNegative, Positive, Vector3

LEGACY_SOLVER_KEYS = {"solver_passes", "solver_smoothing_steps"}  # ignored when loading


class LabelSource(Model):
    """Production, uptake or a fixed (Dirichlet) value in every voxel of a label.

    d(c)/dt += rate_per_min - uptake_per_min * c; ``fixed_value`` pins c instead.
    """

    kind: Literal["label"] = "label"
    label: str
    rate_per_min: NonNegative = 0.0
    uptake_per_min: NonNegative = 0.0
    fixed_value: NonNegative | None = None


class PointSource(Model):
    """A point releasing ``rate`` (amount/min, i.e. concentration x um^3 / min)."""

    kind: Literal["point"]
    organ: str
    position_um: Vector3
    rate: NonNegative


class LogisticReaction(Model):
    """Logistic growth d(c)/dt = rate * c * (1 - c / capacity), integrated exactly."""

    kind: Literal["logistic"]
    rate_per_min: NonNegative
    capacity: Positive = 1.0


class HillProduction(Model):
    """Production rate_per_min * a^n / (half_max^n + a^n) of this field by activator a: a
    field of the same organ or ``blood.<species>``, a systemic concentration."""

    kind: Literal["hill_production"]
    activator: str
    rate_per_min: NonNegative
    half_max: Positive
    hill_coefficient: Positive = 1.0
    labels: list[str] | None = None


class BloodExchange(Model):
    """Exchange with the systemic species ``species`` through the voxels of ``labels``:
    d(c)/dt += permeability_per_min * (c_blood - c) there; the blood gains what the organ
    loses, divided by the organ's ``whole_organ_fraction``."""

    species: str
    labels: list[str] = Field(min_length=1)
    permeability_per_min: NonNegative


class FieldConfig(Model):
    """A diffusing species: diffusion per label, decay, boundaries, sources, reactions.

    Domain faces listed in ``boundary_faces`` hold ``boundary_value`` in their outer
    voxel layer when ``boundary = "dirichlet"`` (a face named in ``boundary_values`` holds its
    own value, as PhysiCell's per-face Dirichlet options do); otherwise they are no-flux.
    Barrier labels of an organ are always no-flux and hold 0.

    Each diffusion step solves its backward-Euler system (see tissue.solver) until the
    bound on the step's error, max |residual| / (1 + dt (decay + uptake)), is at most
    ``solver_tolerance`` times the field's largest value, within ``solver_max_iterations``
    iterations; at any dt. Reactions enter each step linearised at its start: production
    as a source, logistic growth as a source r c and its saturation as an uptake r c / K.
    Files written before the solver (with ``solver_passes`` and ``solver_smoothing_steps``)
    still load; those two keys are ignored.
    """

    units: str = "a.u."
    organs: list[str] | None = None
    diffusion_um2_per_min: NonNegative
    diffusion_by_label: dict[str, NonNegative] = {}
    decay_per_min: NonNegative = 0.0
    initial: NonNegative = 0.0
    boundary: Literal["no_flux", "dirichlet"] = "no_flux"
    boundary_value: NonNegative = 0.0
    boundary_values: dict[Face, NonNegative] = {}
    boundary_faces: list[Face] = list(FACES)
    solver_tolerance: Annotated[float, Field(gt=0.0, le=0.1, allow_inf_nan=False)] = 1e-4
    solver_max_iterations: Annotated[int, Field(ge=1, le=1000)] = 100
    sources: list[
        Annotated[Union[LabelSource, PointSource], Field(discriminator="kind")]  # noqa: UP007
    ] = []
    reactions: list[
        Annotated[Union[LogisticReaction, HillProduction], Field(discriminator="kind")]  # noqa: UP007
    ] = []
    blood_exchange: BloodExchange | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_replaced_solver_keys(cls, data: Any) -> Any:
        """Scenarios saved before the multigrid solver name the ADI solver's settings."""
        if isinstance(data, dict) and LEGACY_SOLVER_KEYS & data.keys():
            data = {k: v for k, v in data.items() if k not in LEGACY_SOLVER_KEYS}
        return data
