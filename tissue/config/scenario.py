"""The scenario as a whole: time steps, run length and outputs, what the observables count,
and :class:`Scenario`, which holds every entry and writes itself back as TOML."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self

import tomli_w
from pydantic import Field, PrivateAttr, ValidationError, model_validator

from tissue.config.base import Model, Positive, require
from tissue.config.body import AddCells, CirculationConfig, Intervention, Recruitment, Rule
from tissue.config.cells import CellTypeConfig, InitialCells
from tissue.config.checks import check_references
from tissue.config.fields import FieldConfig
from tissue.config.organs import OrganConfig
from tissue.config.overrides import drop_none, set_dotted
from tissue.config.translate import describe, error_key
from tissue.errors import InputError
from tissue.signals import (
    DAMAGE_SIGNALS,
    DEAD_KINDS,
    PHAGOCYTOSIS,
    parse_behaviour,
    parse_signal,
)


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

    @model_validator(mode="after")
    def check_size_classes(self) -> Self:
        """Size classes are increasing lower bounds from 1."""
        classes = self.size_classes
        require(
            classes == sorted(set(classes)) and classes[:1] == [1],
            "size_classes",
            f"{classes}: allowed: increasing lower bounds starting at 1, e.g. [1, 2, 10, 100]",
        )
        return self


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

    def placements(self) -> list[tuple[str, InitialCells]]:
        """Every placement entry with its key: the initial cells, then those that
        interventions add."""
        out = [(f"initial_cells.{i}", e) for i, e in enumerate(self.initial_cells)]
        for name, action in self.interventions.items():
            if isinstance(action, AddCells):
                out += [(f"interventions.{name}.cells.{i}", e) for i, e in enumerate(action.cells)]
        return out

    def own_values(self) -> list[str]:
        """The behaviours that placed cells set per cell (``ListCells.behaviours`` and the
        types' ``initial_distributions``), sorted."""
        return sorted({b for _, b in self.own_value_pairs()})

    def own_value_pairs(self) -> set[tuple[str, str]]:
        """The (cell type, behaviour) pairs that placed cells set per cell."""
        pairs = {(e.type, b) for _, e in self.placements() for b in getattr(e, "behaviours", {})}
        drawn = self.cell_types.items()
        return pairs | {(t, b) for t, c in drawn for b in c.initial_distributions}

    def takes_damage(self) -> bool:
        """Whether cells carry damage: some type deals it (a damage attack), takes it at a
        rate, or has rules that read or move it."""
        types = self.cell_types.values()
        rules = self.rules.values()
        return (
            any(c.damage_attack or c.damage_rate_per_min > 0 for c in types)
            or any(parse_signal(r.signal).kind in DAMAGE_SIGNALS for r in rules)
            or any(r.behaviour == "damage_rate" for r in rules)
        )

    def times_attacks(self) -> bool:
        """Whether cells keep the time they have been under attack: a rule reads it."""
        return any(parse_signal(r.signal).kind == "attack_time" for r in self.rules.values())

    def _phagocytosis_moved(self) -> set[tuple[str, str]]:
        """The (cell type, phagocytosis behaviour) pairs that rules or per-cell values move
        (which can raise a rate of 0)."""
        pairs = {(r.cell_type, r.behaviour) for r in self.rules.values()}
        pairs |= self.own_value_pairs()
        return {(t, b) for t, b in pairs if parse_behaviour(b).kind == "phagocytosis"}

    def phagocytes(self) -> list[str]:
        """The cell types that eat cells, dead or live: a phagocytosis rate above 0, a rule
        on one (which can raise it) or cells placed with their own value of one."""
        moved = {t for t, _ in self._phagocytosis_moved()}
        return [
            name
            for name, c in self.cell_types.items()
            if name in moved
            or any(getattr(c, rate) > 0 for rate in PHAGOCYTOSIS.values())
            or any(r > 0 for r in c.live_phagocytosis_rates_per_min.values())
        ]

    def eaten_alive(self) -> list[str]:
        """The cell types whose live cells some type may eat (a live phagocytosis rate above
        0 on them, a rule on one or per-cell values of one), in the scenario's order."""
        moved = {parse_behaviour(b).target for _, b in self._phagocytosis_moved()}
        eaten = moved - set(DEAD_KINDS)
        for c in self.cell_types.values():
            eaten |= {t for t, r in c.live_phagocytosis_rates_per_min.items() if r > 0}
        return [name for name in self.cell_types if name in eaten]

    def transition_table(self, names: list[str]) -> dict[int, dict[int, float]]:
        """from type -> to type -> base rate (1/min), types by their index in ``names``,
        with 0 where only a rule sets the rate or only a ``transition_split`` leads."""
        table = {
            names.index(t): {names.index(to): rate for to, rate in c.transitions.items()}
            for t, c in self.cell_types.items()
        }
        for rule in self.rules.values():
            behaviour = parse_behaviour(rule.behaviour)
            if behaviour.kind == "transition":
                table[names.index(rule.cell_type)].setdefault(names.index(behaviour.target), 0.0)
        for t, c in self.cell_types.items():
            for instead in (u for shares in c.transition_split.values() for u in shares):
                table[names.index(t)].setdefault(names.index(instead), 0.0)
        return table

    def asymmetric_table(self, names: list[str]) -> dict[int, list[float]]:
        """Daughter type -> each type's probability that its dividing cells' daughters take
        it (types by their index in ``names``), for the types that asymmetric divisions or
        rules on them lead to (0 where only a rule does)."""
        ruled = [parse_behaviour(r.behaviour) for r in self.rules.values()]
        targets = {t for c in self.cell_types.values() for t in c.asymmetric_division}
        targets |= {b.target for b in ruled if b.kind == "asymmetric_division"}
        return {
            names.index(to): [c.asymmetric_division.get(to, 0.0) for c in self.cell_types.values()]
            for to in sorted(targets, key=names.index)
        }

    def field_organs(self, field: str) -> list[str]:
        """Organs that carry ``field``."""
        organs = self.fields[field].organs
        return list(self.organs) if organs is None else list(organs)

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
            set_dotted(data, key, value, source)
        return scenario_from_dict(
            drop_none(data), self.source, overridden=overrides, override_source=source
        )

    def with_source(self, source: str) -> Scenario:
        """The same scenario, saying it came from ``source`` (a file, a built-in name)."""
        copy = self.model_copy()
        copy._source = source
        return copy


def _under(found: str, key: str) -> str:
    """The part of an error's key below ``key``, as a prefix ("2: " for item 2)."""
    return f"{found[len(key) + 1 :]}: " if found != key else ""


def scenario_from_dict(
    data: Mapping[str, Any],
    source: str,
    overridden: Mapping[str, Any] | None = None,
    override_source: str = "--set",
) -> Scenario:
    """Validate ``data`` into a Scenario and cross-check it; errors name ``source`` (or
    ``override_source`` for keys in ``overridden``)."""

    def where(key: str) -> str:
        for okey in overridden or {}:
            if key == okey or key.startswith(okey + ".") or okey.startswith(key + "."):
                return override_source
        return source

    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        errors = error.errors()
        key = error_key(errors[0], data)
        # a value that fits no member of a union fails once per member: say each
        messages = list(
            dict.fromkeys(
                _under(error_key(e, data), key) + describe(e, Scenario)
                for e in errors
                if error_key(e, data) == key or error_key(e, data).startswith(f"{key}.")
            )
        )
        raise InputError(where(key), key or "<top>", "; or ".join(messages)) from None
    scenario._source = source
    try:
        check_references(scenario)
    except InputError as error:
        raise InputError(where(error.key), error.key, error.message) from None
    return scenario
