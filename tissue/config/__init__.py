"""Scenario files: TOML loaded into frozen, validated pydantic models.

Conventions: vectors a user writes are (x, y, z) in micrometres (``shape`` too:
``[nx, ny, nz]``); arrays inside are indexed (z, y, x). Times are in minutes, rates
per minute, diffusion coefficients in um^2/min; every name carries its unit.
Concentrations are in each field's own ``units``; an *amount* is concentration x um^3.

Bad input raises :class:`tissue.errors.InputError` with one line naming the file,
the dotted key and what is allowed.

The schema is split by topic (``base``, ``organs``, ``fields``, ``cells`` with ``initial``,
``body``, ``scenario``, which also validates a whole document); ``checks`` holds the cross-checks
between entries, ``translate`` turns pydantic's errors into one line, ``overrides`` parses and
applies ``--set``, and ``loading`` reads built-ins, files and ``extends`` chains. Every public
name is importable from here.
"""

from tissue.config.base import (
    FACES,
    MAX_LABELS,
    Z_FACES,
    Face,
    Finite,
    Model,
    NonNegative,
    Positive,
    Shape3,
    Spacing3,
    Vector3,
    VoxelCount,
)
from tissue.config.body import (
    AddCells,
    BlockSignal,
    CirculationConfig,
    Depletion,
    Injection,
    Intervention,
    Recruitment,
    Resection,
    Rule,
    SystemicSpecies,
)
from tissue.config.cells import (
    Attack,
    CellTypeConfig,
    InitialCells,
    InitialDistribution,
    ListCells,
    RandomCells,
    Secretion,
    SphereCells,
)
from tissue.config.checks import check_references
from tissue.config.fields import (
    BloodExchange,
    FieldConfig,
    HillProduction,
    LabelSource,
    LogisticReaction,
    PointSource,
)
from tissue.config.loading import (
    BUILTIN_PACKAGE,
    builtin_descriptions,
    builtin_scenarios,
    load_scenario,
    names_a_file,
)
from tissue.config.organs import (
    BREAST_LABELS,
    LUNG_LABELS,
    BoxGeometry,
    BreastGeometry,
    FileGeometry,
    GompertzGrowth,
    LungGeometry,
    OrganConfig,
    Region,
)
from tissue.config.overrides import parse_override
from tissue.config.scenario import (
    ObservablesConfig,
    RunConfig,
    Scenario,
    TimeSteps,
    scenario_from_dict,
)

__all__ = [
    "BREAST_LABELS",
    "BUILTIN_PACKAGE",
    "FACES",
    "LUNG_LABELS",
    "MAX_LABELS",
    "Z_FACES",
    "AddCells",
    "Attack",
    "BlockSignal",
    "BloodExchange",
    "BoxGeometry",
    "BreastGeometry",
    "CellTypeConfig",
    "CirculationConfig",
    "Depletion",
    "Face",
    "FieldConfig",
    "FileGeometry",
    "Finite",
    "GompertzGrowth",
    "HillProduction",
    "InitialCells",
    "InitialDistribution",
    "Injection",
    "Intervention",
    "LabelSource",
    "ListCells",
    "LogisticReaction",
    "LungGeometry",
    "Model",
    "NonNegative",
    "ObservablesConfig",
    "OrganConfig",
    "PointSource",
    "Positive",
    "RandomCells",
    "Recruitment",
    "Region",
    "Resection",
    "Rule",
    "RunConfig",
    "Scenario",
    "Secretion",
    "Shape3",
    "Spacing3",
    "SphereCells",
    "SystemicSpecies",
    "TimeSteps",
    "Vector3",
    "VoxelCount",
    "builtin_descriptions",
    "builtin_scenarios",
    "check_references",
    "load_scenario",
    "names_a_file",
    "parse_override",
    "scenario_from_dict",
]
