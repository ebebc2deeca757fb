"""Scenario files: TOML loaded into frozen, validated pydantic models.

Conventions: vectors a user writes are (x, y, z) in micrometres (``shape`` too:
``[nx, ny, nz]``); arrays inside are indexed (z, y, x). Times are in minutes, rates
per minute, diffusion coefficients in um^2/min; every name carries its unit.
Concentrations are in each field's own ``units``; an *amount* is concentration x um^3.

Bad input raises :class:`tissue.errors.InputError` with one line naming the file,
the dotted key and what is allowed.
"""

from __future__ import annotations

import math
import tomllib
import types
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import tomli_w
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

from tissue.errors import InputError


def _list_to_tuple(value: Any) -> Any:
    """TOML arrays arrive as lists; fixed-length vectors are tuples."""
    return tuple(value) if isinstance(value, list) else value


NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Vector3 = Annotated[tuple[Finite, Finite, Finite], BeforeValidator(_list_to_tuple)]
VoxelCount = Annotated[int, Field(ge=3)]
Shape3 = Annotated[tuple[VoxelCount, VoxelCount, VoxelCount], BeforeValidator(_list_to_tuple)]
Spacing3 = Annotated[tuple[Positive, Positive, Positive], BeforeValidator(_list_to_tuple)]
FACES = ("x-", "x+", "y-", "y+", "z-", "z+")
Face = Literal["x-", "x+", "y-", "y+", "z-", "z+"]
MAX_LABELS = 256
STIFF_STEP = 1000  # dt * D / dx^2 above which the field solver lags fast changes


class Model(BaseModel):
    """Base of all scenario models: unknown keys are errors, values are frozen, and types are
    strict (a quoted "1" or a boolean is not a number)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- organs --------------------------------------------------------------------------


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


class OrganConfig(Model):
    """One voxel grid with its own spacing and label volume.

    ``whole_organ_fraction`` is the part of the whole organ (or of the whole primary
    tumour) this block stands for: what it sends into the blood (systemic factors, shed
    cells) is divided by it, and it receives that fraction of the cells arresting in its
    organ.
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

    @property
    def spacing_xyz_um(self) -> tuple[float, float, float]:
        s = self.spacing_um
        return (s, s, s) if isinstance(s, float | int) else tuple(s)  # type: ignore[return-value]

    def label_names(self) -> dict[str, int]:
        """Label name -> uint8 code of this organ."""
        if isinstance(self.geometry, FileGeometry):
            names = dict(self.geometry.labels)
        elif isinstance(self.geometry, LungGeometry):
            names = {"septum": 0, "air": 1, "capillary": 2}
        elif isinstance(self.geometry, BreastGeometry):
            names = {"stroma": 0, "adipocyte": 1, "lumen": 2, "epithelium": 3, "vessel": 4}
        else:
            names = {self.geometry.label: 0}
        for region in self.regions:
            if region.label not in names:
                names[region.label] = _first_free_code(names)
        return names


def _first_free_code(names: Mapping[str, int]) -> int:
    used = set(names.values())
    return next(code for code in range(MAX_LABELS) if code not in used)


# --- fields --------------------------------------------------------------------------


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
    voxel layer when ``boundary = "dirichlet"``; otherwise they are no-flux. Barrier
    labels of an organ are always no-flux and hold 0.

    Each diffusion step runs ``solver_passes`` ADI passes with ``solver_smoothing_steps``
    Jacobi steps between consecutive passes (see tissue.kernels.diffusion). Transients are
    accurate while dt * D / dx^2 stays below about 25; steady states at any dt. A step whose
    passes break the maximum principle (possible where stiff terms vary in space) is redone
    as one locally one-dimensional split step (BioFVM's scheme: stable and positive at any
    dt, with a splitting error of order dt) refined by passes that keep it so;
    ``solver_passes = 0`` always takes the bare split step (fastest, least accurate at
    large dt D / dx^2).
    """

    units: str = "a.u."
    organs: list[str] | None = None
    diffusion_um2_per_min: NonNegative
    diffusion_by_label: dict[str, NonNegative] = {}
    decay_per_min: NonNegative = 0.0
    initial: NonNegative = 0.0
    boundary: Literal["no_flux", "dirichlet"] = "no_flux"
    boundary_value: NonNegative = 0.0
    boundary_faces: list[Face] = list(FACES)
    solver_passes: Annotated[int, Field(ge=0, le=50)] = 2
    solver_smoothing_steps: Annotated[int, Field(ge=0, le=50)] = 1
    sources: list[
        Annotated[Union[LabelSource, PointSource], Field(discriminator="kind")]  # noqa: UP007
    ] = []
    reactions: list[
        Annotated[Union[LogisticReaction, HillProduction], Field(discriminator="kind")]  # noqa: UP007
    ] = []
    blood_exchange: BloodExchange | None = None


# --- cells ---------------------------------------------------------------------------


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


# --- body: blood, recruitment, behaviour rules, interventions -----------------------


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

    behaviour: ``cycle`` or ``apoptosis`` (rates, 1/min), ``transition.<type>`` (rate,
    1/min) or ``secretion.<field>`` (a factor on the type's secretion of the field, 1 before
    rules). signal: a field of the cell's organ (its value at the cell's voxel),
    ``blood.<species>`` (a systemic concentration) or ``contact.<type>`` (the number of live
    cells of that type touching the cell: centres closer than the adhesion range).
    """

    cell_type: str
    behaviour: str
    signal: str
    to_value: NonNegative
    half_max: Positive
    hill_coefficient: Positive = 1.0
    as_signal: Literal["rises", "falls"] = "rises"


class BlockSignal(Model):
    """An antibody or receptor blocker: from ``start_day`` (to ``end_day``) every rule,
    recruitment, reaction and chemotaxis reading ``signal`` sees (1 - efficacy) of it."""

    kind: Literal["block"]
    signal: str
    efficacy: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    start_day: NonNegative = 0.0
    end_day: Positive | None = None


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


# --- time ----------------------------------------------------------------------------


class TimeSteps(Model):
    """Time step of each process (min). Each must be a whole multiple of the shortest."""

    diffusion_min: Positive = 1.0
    mechanics_min: Positive = 0.1
    phenotype_min: Positive = 6.0


class RunConfig(Model):
    """Run length, output intervals (time series and snapshots) and default seed."""

    days: Positive = 1.0
    output_interval_min: Positive = 60.0
    snapshot_interval_min: Positive = 1440.0
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0


class ObservablesConfig(Model):
    """What the tumour observables count: the metastasis census (connected clusters of
    tumour cells, two cells linked when their centres are at most ``cluster_link_um``
    apart, counted by size class) and the invasion front (the surface where the smoothed
    volume fraction of live tumour cells equals ``front_level``).

    The cascade ledger follows every cell that enters the blood (shed or injected) to one
    end: in the blood, died there, lodged outside the simulated block, arrested in a
    vessel of the block, died in the organ, solitary (of which dormant: a live cell of
    ``dormant_types``), or in a micrometastasis (a lineage of 2 to
    ``macrometastasis_cells`` - 1 live cells) or a macrometastasis (more).
    """

    tumour_types: list[str] = []
    dormant_types: list[str] = []
    macrometastasis_cells: Annotated[int, Field(ge=2)] = 50
    cluster_link_um: Positive = 21.0  # 1.25 x (2 x 8.4 um): PhysiCell's adhesion range
    size_classes: list[Annotated[int, Field(ge=1)]] = [1, 2, 10, 100, 1000]
    front_level: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2


class Scenario(Model):
    """A complete model: organs, fields, cell types, initial cells and time steps."""

    name: str = "scenario"
    description: str = ""
    run: RunConfig = RunConfig()
    time_steps: TimeSteps = TimeSteps()
    organs: dict[str, OrganConfig] = Field(min_length=1)
    fields: dict[str, FieldConfig] = {}
    cell_types: dict[str, CellTypeConfig] = {}
    initial_cells: list[InitialCells] = []
    observables: ObservablesConfig = ObservablesConfig()
    circulation: CirculationConfig | None = None
    recruitment: dict[str, Recruitment] = {}
    rules: dict[str, Rule] = {}
    interventions: dict[str, Intervention] = {}

    _source: str = PrivateAttr(default="<scenario>")

    @property
    def source(self) -> str:
        """Where the scenario came from (file path or built-in name), for messages."""
        return self._source

    def field_organs(self, field: str) -> list[str]:
        """Organs that carry ``field``."""
        organs = self.fields[field].organs
        return list(self.organs) if organs is None else list(organs)

    def warnings(self) -> list[str]:
        """Advice that does not stop a run: fields stepped far beyond where the solver tracks
        fast changes (dt * D / dx^2 > STIFF_STEP)."""
        out = []
        dt = self.time_steps.diffusion_min
        for fname, field in self.fields.items():
            for oname in self.field_organs(fname):
                organ = self.organs[oname]
                labels = organ.label_names()
                diffusivity = max(
                    [field.diffusion_um2_per_min]
                    + [v for k, v in field.diffusion_by_label.items() if k in labels]
                )
                k = dt * diffusivity / min(organ.spacing_xyz_um) ** 2
                if k > STIFF_STEP:
                    if field.solver_passes == 0:
                        effect = (
                            "the split step smooths sharp sources over more voxels as "
                            "dt*D/dx^2 grows; shorten time_steps.diffusion_min or set "
                            f"fields.{fname}.solver_passes >= 1 where that matters"
                        )
                    else:
                        effect = (
                            "steady states stay exact, but changes in sources take many "
                            "steps to settle; shorten time_steps.diffusion_min or raise "
                            f"fields.{fname}.solver_passes"
                        )
                    out.append(
                        f"field '{fname}' in organ '{oname}': dt*D/dx^2 = {k:.0f} > "
                        f"{STIFF_STEP}: {effect}"
                    )
        return out

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_toml(self) -> str:
        """The resolved scenario as TOML (loads back to an equal scenario)."""
        return tomli_w.dumps(self.to_dict())

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "--set") -> Scenario:
        """A new scenario with existing dotted keys replaced, e.g. ``{"run.days": 3}``.

        Overrides change values that exist (defaults included); new entries belong in a
        scenario file, so a misspelt name is an error rather than a new cell type.
        """
        data = self.model_dump(mode="json")
        for key, value in overrides.items():
            _set_dotted(data, key, value, source)
        return scenario_from_dict(
            _drop_none(data), self.source, overridden=overrides, override_source=source
        )


def _drop_none(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_drop_none(v) for v in data]
    return data


# --- loading -------------------------------------------------------------------------

BUILTIN_PACKAGE = "tissue.scenarios"


def builtin_scenarios() -> dict[str, str]:
    """Built-in scenario name -> its description."""
    return builtin_descriptions(BUILTIN_PACKAGE)


def builtin_descriptions(package: str) -> dict[str, str]:
    """Name -> ``description`` of each TOML file shipped in ``package``, by name."""
    out = {}
    for entry in sorted(resources.files(package).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text())
            out[entry.name.removesuffix(".toml")] = str(data.get("description", ""))
    return out


def load_scenario(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load a built-in scenario by name or a TOML file by path, then apply overrides.

    A file may start from another with ``extends = "NAME_OR_PATH"`` (a path relative to the
    file): its tables are merged key by key over the other's (values and arrays replace).
    """
    data, source = _scenario_data(str(name_or_path), ())
    scenario = scenario_from_dict(data, source)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    return scenario


def _scenario_data(name_or_path: str, chain: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """The TOML of a scenario with its ``extends`` chain merged in, and its source."""
    text, source = _read_scenario_text(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(source, "", f"not valid TOML ({error})") from None
    base = data.pop("extends", None)
    if base is None:
        return data, source
    if not isinstance(base, str):
        raise InputError(source, "extends", "must be a built-in scenario name or a .toml path")
    path = Path(name_or_path)
    if path.suffix == ".toml" and not Path(base).is_absolute() and base.endswith(".toml"):
        base = str(path.parent / base)
    if base in chain or base == name_or_path:
        raise InputError(source, "extends", f"'{base}' extends itself (through {list(chain)})")
    base_data, _ = _scenario_data(base, (*chain, name_or_path))
    return _merged(base_data, data), source


def _merged(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _read_scenario_text(name_or_path: str) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise InputError(str(path), "", "no such scenario file")
        try:
            return path.read_text(), str(path)
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(str(path), "", f"cannot read ({error})") from None
    builtins = builtin_scenarios()
    if name_or_path not in builtins:
        allowed = ", ".join(builtins)
        raise InputError(
            name_or_path, "", f"no such built-in scenario or file; built-ins: {allowed}"
        )
    entry = resources.files(BUILTIN_PACKAGE).joinpath(f"{name_or_path}.toml")
    return entry.read_text(), f"{name_or_path} (built-in)"


def scenario_from_dict(
    data: Mapping[str, Any],
    source: str,
    overridden: Mapping[str, Any] | None = None,
    override_source: str = "--set",
) -> Scenario:
    """Validate ``data`` into a Scenario; errors name ``source`` (or the override)."""

    def where(key: str) -> str:
        for okey in overridden or {}:
            if key == okey or key.startswith(okey + ".") or okey.startswith(key + "."):
                return override_source
        return source

    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = _dotted_loc(first["loc"], data)
        raise InputError(where(key), key or "<top>", _describe(first)) from None
    scenario._source = source
    try:
        check_references(scenario)
    except InputError as error:
        raise InputError(where(error.key), error.key, error.message) from None
    return scenario


def _dotted_loc(loc: tuple[Any, ...], data: Any) -> str:
    """Readable key path of a pydantic error, without discriminator tags."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(node, list) and isinstance(item, int):
            parts.append(str(item))
            node = node[item] if item < len(node) else None
        elif isinstance(node, Mapping) and item in node:
            parts.append(str(item))
            node = node[item]
        elif isinstance(node, Mapping) and node.get("kind") == item:
            continue  # discriminated-union tag, not a key the user wrote
        else:
            parts.append(str(item))
            node = None
    return ".".join(parts)


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(error["loc"][:-1])
        return "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    message = str(error["msg"])
    if kind == "missing":
        return "required key is missing"
    given = error.get("input")
    if not isinstance(given, Mapping | list):
        message += f" (got {given!r})"
    return message


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``loc`` inside a Scenario."""
    annotation: Any = Scenario
    for item in loc:
        annotation = _step_into(annotation, item)
        if annotation is None:
            return []
    annotation = _unwrap(annotation, None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any, tag: Any) -> Any:
    """Strip Annotated/Optional; pick a union member by its ``kind`` tag."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin is Union or origin is types.UnionType:
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            chosen = [
                m
                for m in models
                if m.model_fields.get("kind") and m.model_fields["kind"].default == tag
            ]
            annotation = chosen[0] if chosen else (models[0] if models else members[0])
        else:
            return annotation


def _step_into(annotation: Any, item: Any) -> Any:
    annotation = _unwrap(annotation, item)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if item in annotation.model_fields:
            return annotation.model_fields[item].annotation
        return annotation  # a discriminator tag: stay on the chosen model
    if origin in (dict, Mapping):
        return typing.get_args(annotation)[1]
    if origin is list:
        return typing.get_args(annotation)[0]
    return None


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=0.5"`` -> ("a.b", 0.5); values are TOML, bare words become strings."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError("--set", text, "expected dotted.key=value")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def _set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    node: Any = data
    parts = key.split(".")
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[:depth]) or "<top>"
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise InputError(
                    source,
                    key,
                    f"'{part}' is not an index of {prefix} (allowed: 0 to {len(node) - 1})",
                )
            index: Any = int(part)
        elif isinstance(node, dict):
            if part not in node:
                allowed = ", ".join(map(str, node)) or "(none)"
                raise InputError(source, key, f"no key '{part}' in {prefix}; allowed: {allowed}")
            index = part
        else:
            raise InputError(source, key, f"'{prefix}' is a value, not a table")
        if depth == len(parts) - 1:
            node[index] = value
        else:
            node = node[index]


# --- cross-references and stability --------------------------------------------------


def check_references(scenario: Scenario) -> None:
    """Names that refer to other entries must exist; time steps must fit together."""
    src = scenario.source
    organs = scenario.organs
    labels = {name: organ.label_names() for name, organ in organs.items()}
    all_labels = set().union(*(set(v) for v in labels.values()))

    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            raise InputError(src, key, message)

    for i, tname in enumerate(scenario.observables.tumour_types):
        need(
            tname in scenario.cell_types,
            f"observables.tumour_types.{i}",
            f"unknown cell type '{tname}'; types: {', '.join(scenario.cell_types) or '(none)'}",
        )
    classes = scenario.observables.size_classes
    need(
        classes == sorted(set(classes)) and classes[:1] == [1],
        "observables.size_classes",
        f"{classes}: allowed: increasing lower bounds starting at 1, e.g. [1, 2, 10, 100]",
    )
    for name, organ in organs.items():
        key = f"organs.{name}"
        if not isinstance(organ.geometry, FileGeometry):
            need(
                organ.shape is not None,
                f"{key}.shape",
                f"required for a {organ.geometry.kind}: [nx, ny, nz]",
            )
        for i, region in enumerate(organ.regions):
            rkey = f"{key}.regions.{i}"
            if region.shape in ("sphere", "cylinder"):
                need(
                    region.center_um is not None,
                    f"{rkey}.center_um",
                    f"required for a {region.shape}: [x, y, z] in um",
                )
                need(
                    region.radius_um is not None,
                    f"{rkey}.radius_um",
                    f"required for a {region.shape}",
                )
            else:
                need(
                    region.min_um is not None and region.max_um is not None,
                    f"{rkey}.min_um",
                    "a box region needs min_um and max_um: [x, y, z] in um",
                )
        for label in organ.barrier_labels:
            need(
                label in labels[name],
                f"{key}.barrier_labels",
                f"unknown label '{label}'; labels: {', '.join(labels[name])}",
            )
        need(len(labels[name]) <= MAX_LABELS, f"{key}", f"at most {MAX_LABELS} labels")

    for fname, field in scenario.fields.items():
        key = f"fields.{fname}"
        for organ in field.organs or []:
            need(
                organ in organs,
                f"{key}.organs",
                f"unknown organ '{organ}'; organs: {', '.join(organs)}",
            )
        for label in field.diffusion_by_label:
            need(
                label in all_labels,
                f"{key}.diffusion_by_label.{label}",
                f"unknown label; labels: {', '.join(sorted(all_labels))}",
            )
        for i, source in enumerate(field.sources):
            skey = f"{key}.sources.{i}"
            if isinstance(source, LabelSource):
                need(
                    source.label in all_labels,
                    f"{skey}.label",
                    f"unknown label '{source.label}'; labels: {', '.join(sorted(all_labels))}",
                )
            else:
                need(
                    source.organ in scenario.field_organs(fname),
                    f"{skey}.organ",
                    f"field '{fname}' is not in organ '{source.organ}'",
                )
        for i, reaction in enumerate(field.reactions):
            if isinstance(reaction, HillProduction):
                rkey = f"{key}.reactions.{i}"
                need(
                    reaction.activator in scenario.fields
                    or reaction.activator.startswith("blood."),
                    f"{rkey}.activator",
                    f"unknown field; allowed: {', '.join(scenario.fields)} or blood.<species>",
                )
                for label in reaction.labels or []:
                    need(label in all_labels, f"{rkey}.labels", f"unknown label '{label}'")

    for tname, ctype in scenario.cell_types.items():
        key = f"cell_types.{tname}"
        for attr in ("chemotaxis_field", "oxygen_field"):
            value = getattr(ctype, attr)
            need(
                value is None or value in scenario.fields,
                f"{key}.{attr}",
                f"unknown field '{value}'; fields: {', '.join(scenario.fields) or '(none)'}",
            )
        for fname in ctype.secretion:
            need(
                fname in scenario.fields,
                f"{key}.secretion.{fname}",
                f"unknown field; fields: {', '.join(scenario.fields) or '(none)'}",
            )
        for label in ctype.allowed_labels or []:
            need(
                label in all_labels,
                f"{key}.allowed_labels",
                f"unknown label '{label}'; labels: {', '.join(sorted(all_labels))}",
            )
        need(
            ctype.necrosis_oxygen_max <= ctype.necrosis_oxygen_threshold,
            f"{key}.necrosis_oxygen_max",
            "must be <= necrosis_oxygen_threshold",
        )
        need(
            ctype.cycle_oxygen_threshold < ctype.cycle_oxygen_saturation
            or ctype.oxygen_field is None,
            f"{key}.cycle_oxygen_saturation",
            "must be > cycle_oxygen_threshold",
        )

    placements = [(f"initial_cells.{i}", e) for i, e in enumerate(scenario.initial_cells)]
    for name, action in scenario.interventions.items():
        if isinstance(action, AddCells):
            placements += [
                (f"interventions.{name}.cells.{i}", e) for i, e in enumerate(action.cells)
            ]
    for key, initial in placements:
        need(
            initial.organ in organs,
            f"{key}.organ",
            f"unknown organ '{initial.organ}'; organs: {', '.join(organs)}",
        )
        need(
            initial.type in scenario.cell_types,
            f"{key}.type",
            f"unknown cell type "
            f"'{initial.type}'; types: {', '.join(scenario.cell_types) or '(none)'}",
        )
        if isinstance(initial, SphereCells):
            need(
                initial.inner_radius_um < initial.radius_um,
                f"{key}.inner_radius_um",
                "must be less than radius_um",
            )
        if isinstance(initial, RandomCells) and initial.label is not None:
            need(
                initial.label in labels[initial.organ],
                f"{key}.label",
                f"unknown label; labels: {', '.join(labels[initial.organ])}",
            )

    _check_body(scenario, need, labels)
    _check_time_steps(scenario)


def _check_signal(scenario: Scenario, signal: str) -> str | None:
    """Why ``signal`` names nothing, or None when it is a field, ``blood.<species>`` or
    ``contact.<type>``."""
    kind, _, name = signal.partition(".")
    if kind == "blood" and name:
        species = scenario.circulation.species if scenario.circulation else {}
        if name not in species:
            return f"no systemic species '{name}'; species: {', '.join(species) or '(none)'}"
        return None
    if kind == "contact" and name:
        if name not in scenario.cell_types:
            return f"no cell type '{name}'; types: {', '.join(scenario.cell_types)}"
        return None
    if signal not in scenario.fields:
        return (
            f"unknown signal '{signal}'; allowed: a field ({', '.join(scenario.fields) or 'none'}),"
            " blood.<species> or contact.<type>"
        )
    return None


def _check_body(scenario: Scenario, need: Any, labels: dict[str, dict[str, int]]) -> None:
    """Cross-references of the blood, recruitment, rules and interventions."""
    types = scenario.cell_types
    type_list = ", ".join(types) or "(none)"
    blood = scenario.circulation
    for tname, ctype in types.items():
        key = f"cell_types.{tname}"
        for target in ctype.transitions:
            need(
                target in types, f"{key}.transitions.{target}", f"unknown type; types: {type_list}"
            )
        if ctype.intravasation_rate_per_min > 0:
            need(blood is not None, f"{key}.intravasation_rate_per_min", "needs [circulation]")
            need(
                ctype.intravasation_label is not None,
                f"{key}.intravasation_label",
                "required when intravasation_rate_per_min > 0",
            )
        for target in ctype.attack.targets if ctype.attack else []:
            need(target in types, f"{key}.attack.targets", f"unknown type '{target}'; {type_list}")
    for fname, field in scenario.fields.items():
        exchange = field.blood_exchange
        if exchange is None:
            continue
        key = f"fields.{fname}.blood_exchange"
        species = blood.species if blood else {}
        need(
            exchange.species in species,
            f"{key}.species",
            f"no systemic species '{exchange.species}' in [circulation.species]; "
            f"species: {', '.join(species) or '(none)'}",
        )
    for fname, field in scenario.fields.items():
        for i, reaction in enumerate(field.reactions):
            if isinstance(reaction, HillProduction) and reaction.activator.startswith("blood."):
                problem = _check_signal(scenario, reaction.activator)
                need(problem is None, f"fields.{fname}.reactions.{i}.activator", str(problem))
    if blood is not None and blood.arrest_rate_per_min > 0:
        need(
            blood.arrest_organ in scenario.organs,
            "circulation.arrest_organ",
            f"required: an organ ({', '.join(scenario.organs)})",
        )
        organ_labels = labels.get(str(blood.arrest_organ), {})
        need(
            blood.arrest_label in organ_labels,
            "circulation.arrest_label",
            f"required: a label of the arrest organ ({', '.join(organ_labels)})",
        )
        need(
            blood.arrest_type in types, "circulation.arrest_type", f"required: a type ({type_list})"
        )
    for rname, recruit in scenario.recruitment.items():
        key = f"recruitment.{rname}"
        need(recruit.organ in scenario.organs, f"{key}.organ", f"unknown organ '{recruit.organ}'")
        need(recruit.type in types, f"{key}.type", f"unknown type '{recruit.type}'; {type_list}")
        organ_labels = labels.get(recruit.organ, {})
        need(
            recruit.label in organ_labels,
            f"{key}.label",
            f"unknown label '{recruit.label}'; labels: {', '.join(organ_labels)}",
        )
        allowed = types[recruit.type].allowed_labels if recruit.type in types else None
        need(
            allowed is None or recruit.label in allowed,
            f"{key}.label",
            f"type '{recruit.type}' may not enter '{recruit.label}' (its allowed_labels)",
        )
        if recruit.signal is not None:
            problem = _check_signal(scenario, recruit.signal)
            need(problem is None, f"{key}.signal", str(problem))
    for rname, rule in scenario.rules.items():
        key = f"rules.{rname}"
        need(rule.cell_type in types, f"{key}.cell_type", f"unknown type; types: {type_list}")
        kind, _, name = rule.behaviour.partition(".")
        ok = (
            rule.behaviour in ("cycle", "apoptosis")
            or (kind == "transition" and name in types)
            or (kind == "secretion" and name in scenario.fields)
        )
        need(
            ok,
            f"{key}.behaviour",
            f"'{rule.behaviour}': allowed: cycle, apoptosis, transition.<type>, secretion.<field>",
        )
        problem = _check_signal(scenario, rule.signal)
        need(problem is None, f"{key}.signal", str(problem))
    for iname, action in scenario.interventions.items():
        key = f"interventions.{iname}"
        if isinstance(action, BlockSignal):
            problem = _check_signal(scenario, action.signal)
            need(problem is None, f"{key}.signal", str(problem))
        elif isinstance(action, Resection):
            need(action.organ in scenario.organs, f"{key}.organ", f"unknown organ '{action.organ}'")
        elif isinstance(action, Injection):
            need(
                blood is not None and blood.arrest_type is not None,
                f"{key}",
                "an injection needs [circulation] with an arrest organ, label and type",
            )
        for tname in getattr(action, "cell_types", None) or []:
            need(tname in types, f"{key}.cell_types", f"unknown type '{tname}'; {type_list}")
        end = getattr(action, "end_day", None)
        need(
            end is None or end > action.start_day,
            f"{key}.end_day",
            "must be after start_day",
        )
    for i, tname in enumerate(scenario.observables.dormant_types):
        need(tname in types, f"observables.dormant_types.{i}", f"unknown type; {type_list}")


def _check_time_steps(scenario: Scenario) -> None:
    src = scenario.source
    steps = scenario.time_steps
    base = min(steps.diffusion_min, steps.mechanics_min, steps.phenotype_min)
    for key, value in [
        ("time_steps.diffusion_min", steps.diffusion_min),
        ("time_steps.mechanics_min", steps.mechanics_min),
        ("time_steps.phenotype_min", steps.phenotype_min),
        ("run.output_interval_min", scenario.run.output_interval_min),
        ("run.snapshot_interval_min", scenario.run.snapshot_interval_min),
    ]:
        if not _is_multiple(value, base):
            raise InputError(
                src,
                key,
                f"{value} min is not a whole multiple of the shortest time step ({base} min)",
            )
    dt = steps.mechanics_min
    for tname, ctype in scenario.cell_types.items():
        limit = 0.5 * ctype.radius_um / max(ctype.repulsion_um_per_min, 1e-30)
        if dt > limit:
            raise InputError(
                src,
                "time_steps.mechanics_min",
                f"{dt} min is too long for "
                f"cell type '{tname}' (repulsion {ctype.repulsion_um_per_min} "
                f"um/min, radius {ctype.radius_um} um): cells would overshoot; "
                f"allowed: <= {limit:.3g} min",
            )
        for oname, organ in scenario.organs.items():
            spacing = min(organ.spacing_xyz_um)
            if ctype.speed_um_per_min * dt > spacing:
                raise InputError(
                    src,
                    "time_steps.mechanics_min",
                    f"{dt} min lets cell type "
                    f"'{tname}' move more than one voxel ({spacing} um in "
                    f"{oname}) per step; allowed: <= "
                    f"{spacing / ctype.speed_um_per_min:.3g} min",
                )


def _is_multiple(value: float, base: float) -> bool:
    ratio = value / base
    if not math.isfinite(ratio) or ratio > 2**53:
        return False
    return abs(ratio - round(ratio)) <= 1e-9 * max(1.0, ratio) and round(ratio) >= 1


def ticks(value_min: float, base_min: float) -> int:
    """Whole number of base steps in ``value_min`` (validated to be whole)."""
    return max(1, round(value_min / base_min))
