"""Sweep files: a base scenario, the parameters to vary and the replicate seeds, expanded into
members (one run each), every member validated against the base scenario before any runs.

A sweep file (TOML; dotted keys may be quoted or written as TOML dotted keys)::

    name = "niche_vs_restraint"
    scenario = "metastasis"         # a built-in name, or a .toml path relative to this file
    seed = 0                        # the sweep's own seed: the samples and the replicate seeds
    replicates = 3                  # seeds seed, seed + 1, ... at every parameter point
    checkpoint_every_min = 1440.0   # simulated minutes between member checkpoints; 0: at the end
    branch_day = 10.0               # optional: members of a seed that differ only in
                                    # interventions from this day on share one run to it

    [set]                           # the same for every member
    "run.days" = 21.0

    [grid]                          # every combination of these values
    "interventions.anti_s100.start_day" = [0.0, 7.0, 14.0]

    [sample]                        # and, crossed with the grid, `count` points in ranges
    method = "latin_hypercube"      # or "random"
    count = 8
    [sample.ranges]
    "rules.mic_awakening.half_max" = { min = 0.5, max = 8.0, scale = "log" }

Members are the grid points x the sample points x the replicates, in that order (replicates
innermost); replicate ``r`` of every point runs with seed ``seed + r`` (common random numbers
across points). With ``branch_day``, the members of one seed whose scenarios differ only in
interventions that start on or after that day (:func:`tissue.simulation.branch_conflict`)
share a trunk: one run to ``branch_day`` from which each is branched
(:meth:`tissue.Simulation.branch`), giving each member's own results at less cost.
A member's id is a hash of what it runs (its resolved scenario and seed), so
a sweep re-run after an edit finds the members it already finished.

Bad input raises :class:`tissue.errors.InputError` (one line: file, dotted key, what is
allowed). A member whose values the scenario refuses is kept with its error, so that the
others still run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tissue.config import Scenario, builtin_descriptions, load_scenario, names_a_file
from tissue.errors import InputError

BUILTIN_PACKAGE = "tissue.sweeps"
MAX_MEMBERS = 100_000
Finite = Annotated[float, Field(allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=0, lt=2**63)]


class Model(BaseModel):
    """Strict, frozen, and no unknown keys (as scenario files)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Range(Model):
    """A parameter drawn between ``min`` and ``max`` (uniformly, or uniformly in the log for
    ``scale = "log"``); ``integer = true`` draws whole numbers from min to max inclusive."""

    min: Finite
    max: Finite
    scale: Literal["linear", "log"] = "linear"
    integer: bool = False

    @model_validator(mode="after")
    def _check(self) -> Range:
        if not self.max > self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        if self.scale == "log" and not self.min > 0:
            raise ValueError(f"a log scale needs min > 0 (got {self.min})")
        if self.integer and not (float(self.min).is_integer() and float(self.max).is_integer()):
            raise ValueError("integer = true needs whole-number min and max")
        return self

    def value(self, unit: float) -> float | int:
        """The parameter at ``unit`` in [0, 1) of the range."""
        if self.integer:
            low, high = int(self.min), int(self.max)
            return min(high, low + math.floor(unit * (high - low + 1)))
        if self.scale == "log":
            return float(self.min * (self.max / self.min) ** unit)
        return float(self.min + unit * (self.max - self.min))


class Sampling(Model):
    """``count`` points in the ``ranges``: independent uniform draws (``random``) or a Latin
    hypercube (each range cut into ``count`` equal strata, one point in each)."""

    method: Literal["random", "latin_hypercube"] = "latin_hypercube"
    count: Annotated[int, Field(ge=1)]
    ranges: Annotated[dict[str, Range], Field(min_length=1)]

    def units(self, seed: int) -> np.ndarray:
        """(count, parameters) float64 points in the unit cube, from ``seed``."""
        rng = np.random.default_rng(seed)
        shape = (self.count, len(self.ranges))
        if self.method == "random":
            return rng.random(shape)
        strata = np.stack([rng.permutation(self.count) for _ in self.ranges], axis=1)
        return (strata + rng.random(shape)) / self.count


class SweepFile(Model):
    """The contents of a sweep file (see the module docstring)."""

    name: str = ""
    description: str = ""
    scenario: str
    seed: Seed = 0
    replicates: Annotated[int, Field(ge=1)] = 1
    checkpoint_every_min: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 1440.0
    branch_day: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    fixed: dict[str, Any] = Field(default={}, alias="set")
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = {}
    sample: Sampling | None = None


@dataclass(frozen=True)
class Member:
    """One run of a sweep.

    Attributes:
        index: position in the sweep (grid point, then sample, then replicate).
        member_id: hash of the resolved scenario and seed; the name of its folder.
        parameters: the varied keys and this member's values.
        seed: the run's random seed.
        scenario: the validated scenario, or None when the values were refused.
        error: why the values were refused (None when valid).
    """

    index: int
    member_id: str
    parameters: dict[str, Any]
    seed: int
    scenario: Scenario | None
    error: InputError | None = None


@dataclass(frozen=True)
class SweepPlan:
    """A loaded sweep: where it came from, the varied keys and every member."""

    name: str
    description: str
    source: str
    scenario_source: str
    parameters: list[str]
    checkpoint_every_min: float
    members: list[Member]
    branch_day: float | None = None

    @property
    def valid(self) -> list[Member]:
        """The members whose values the scenario accepts."""
        return [m for m in self.members if m.error is None]


def builtin_sweeps() -> dict[str, str]:
    """Built-in sweep name -> its description."""
    return builtin_descriptions(BUILTIN_PACKAGE)


def load_sweep(name_or_path: str | Path) -> SweepPlan:
    """Load a sweep file (or a built-in sweep by name), load its base scenario and validate
    every member against it.

    Raises:
        InputError: the sweep file, its scenario or its fixed values are bad (members with
            bad varied values are returned with their error instead).
    """
    text, source, folder = _read_sweep_text(str(name_or_path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(source, "", f"not valid TOML ({error})") from None
    data = _flatten_tables(data)
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise InputError(source, _dotted(first["loc"]), _describe(first)) from None
    _check_keys_once(spec, source)
    base = load_scenario(_resolve_scenario(spec.scenario, folder))
    if spec.fixed:
        base = base.with_overrides(spec.fixed, source=f"{source} [set]")
    return SweepPlan(
        name=spec.name or Path(source.removesuffix(" (built-in)")).stem,
        description=spec.description,
        source=source,
        scenario_source=base.source,
        parameters=[*spec.grid, *(spec.sample.ranges if spec.sample else {})],
        checkpoint_every_min=spec.checkpoint_every_min,
        members=_members(spec, base, source),
        branch_day=spec.branch_day,
    )


def _read_sweep_text(name_or_path: str) -> tuple[str, str, Path | None]:
    """(text, source for messages, folder that relative scenario paths start from)."""
    path = Path(name_or_path)
    if names_a_file(path):
        if not path.is_file():
            raise InputError(str(path), "", "no such sweep file")
        try:
            return path.read_text(), str(path), path.resolve().parent
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(str(path), "", f"cannot read ({error})") from None
    builtins = builtin_sweeps()
    if name_or_path not in builtins:
        allowed = ", ".join(builtins) or "(none)"
        raise InputError(name_or_path, "", f"no such built-in sweep or file; built-ins: {allowed}")
    entry = resources.files(BUILTIN_PACKAGE).joinpath(f"{name_or_path}.toml")
    return entry.read_text(), f"{name_or_path} (built-in)", None


def _resolve_scenario(scenario: str, folder: Path | None) -> str:
    """A path (ends in .toml or names a file) relative to the sweep file's folder, made
    absolute so that workers elsewhere find it; otherwise a built-in name."""
    if folder is None:
        return scenario
    path = folder / scenario
    if names_a_file(path):
        return str(path)
    return scenario


def _flatten_tables(data: dict[str, Any]) -> dict[str, Any]:
    """TOML dotted keys (``a.b = 1``) arrive as nested tables; make them one dotted key, as
    quoted keys (``"a.b" = 1``) are. A range is a table with a ``min`` key."""

    def flatten(table: Any, is_leaf: Callable[[Any], bool]) -> Any:
        if not isinstance(table, dict):
            return table
        out: dict[str, Any] = {}

        def walk(prefix: str, node: Any) -> None:
            if isinstance(node, dict) and not is_leaf(node):
                for key, value in node.items():
                    walk(f"{prefix}.{key}" if prefix else key, value)
            else:
                out[prefix] = node

        walk("", table)
        return out

    data = dict(data)
    for name in ("set", "grid"):
        if name in data:
            data[name] = flatten(data[name], lambda node: False)
    sample = data.get("sample")
    if isinstance(sample, dict) and "ranges" in sample:
        data["sample"] = {**sample, "ranges": flatten(sample["ranges"], lambda n: "min" in n)}
    return data


def _check_keys_once(spec: SweepFile, source: str) -> None:
    seen: dict[str, str] = {}
    tables = {"set": spec.fixed, "grid": spec.grid}
    if spec.sample is not None:
        tables["sample.ranges"] = spec.sample.ranges
    for table, keys in tables.items():
        for key in keys:
            if key in seen:
                raise InputError(
                    source, f"{table}.{key}", f"also in [{seen[key]}]; allowed: one place"
                )
            seen[key] = table
    count = math.prod(len(v) for v in spec.grid.values()) * spec.replicates
    count *= spec.sample.count if spec.sample is not None else 1
    if count > MAX_MEMBERS:
        raise InputError(source, "grid", f"{count} members; allowed: at most {MAX_MEMBERS}")
    if spec.seed + spec.replicates > 2**63:
        raise InputError(source, "seed", "seed + replicates must stay below 2**63")


def _members(spec: SweepFile, base: Scenario, source: str) -> list[Member]:
    grid_points = [
        dict(zip(spec.grid, values, strict=True))
        for values in itertools.product(*spec.grid.values())
    ]
    sample_points: list[dict[str, Any]] = [{}]
    if spec.sample is not None:
        ranges = spec.sample.ranges
        sample_points = [
            {key: ranges[key].value(float(u)) for key, u in zip(ranges, row, strict=True)}
            for row in spec.sample.units(spec.seed)
        ]
    members = []
    for point in ({**g, **s} for g in grid_points for s in sample_points):
        for replicate in range(spec.replicates):
            seed = spec.seed + replicate
            members.append(_member(len(members), point, seed, base, source))
    return members


def _member(index: int, point: dict[str, Any], seed: int, base: Scenario, source: str) -> Member:
    try:
        scenario = base.with_overrides(point, source=source)
    except InputError as error:
        where = f"{source} member {index} ({_describe_point(point)})"
        text = json.dumps({"base": base.to_toml(), "point": point, "seed": seed}, sort_keys=True)
        refused = InputError(where, error.key, error.message)
        return Member(index, _digest(text), point, seed, None, refused)
    return Member(index, member_id(scenario, seed), point, seed, scenario)


def member_id(scenario: Scenario, seed: int) -> str:
    """12 hex digits naming exactly what a member runs: its resolved scenario and seed (the
    backend is not part of it)."""
    return _digest(f"{scenario.to_toml()}\nseed = {seed}\n")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _describe_point(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={json.dumps(value)}" for key, value in point.items()) or "no values"


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "<top>"


def _describe(error: Mapping[str, Any]) -> str:
    """One line for a pydantic error on a sweep file."""
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    given = error.get("input")
    if kind != "value_error" and not isinstance(given, Mapping | list):
        message += f" (got {given!r})"
    return message


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the table of a sweep file at ``loc`` may hold."""
    if loc == ():
        model: type[BaseModel] = SweepFile
    elif loc == ("sample",):
        model = Sampling
    elif len(loc) == 3 and loc[:2] == ("sample", "ranges"):
        model = Range
    else:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]
