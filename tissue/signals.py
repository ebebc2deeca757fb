"""What cells sense and what rules change: the one parser of signal and behaviour names, the
Hill response, and the `Sensing` protocol through which the body tells the rest of the model
about the moment.

A *signal* is written as

- ``<field>``: a field of the cell's organ, read at the cell's voxel;
  ``gradient.<field>``: the length of its gradient there (units/um, central differences;
  PhysiCell's "<substrate> gradient"), in rules only;
- ``blood.<species>``: a systemic concentration;
- ``contact.<type>``: the number of live cells of a type touching the cell;
  ``contact_any.<type>``: of cells of the type in any state (PhysiCell's "contact with");
  ``contact_live`` and ``contact_dead``: the live and the dead cells of any type touching it
  (PhysiCell's "contact with live cell" and "contact with dead cell"), in rules only;
- ``time``: the simulated time (min since day 0), ``volume``: the cell's volume (um^3, from
  its volume model), ``pressure``: PhysiCell's simple pressure (1 for twelve neighbours at
  close packing) and ``attribute.<name>``: the cell's value of one of its type's
  attributes (PhysiCell's ``time``, ``volume`` and ``custom:<name>``), for rules only;
- ``dead``, ``apoptotic``, ``necrotic``: 1 for a cell in that state, else 0; ``damage``: the
  damage the cell has taken (attacks and its damage rate, less repair); ``damage_delivered``:
  the damage it has dealt by attacks; ``attacking``: 1 while it attacks a cell (PhysiCell's
  signals of those names); ``attack_time``: the minutes it has been under attack, summed
  over its attackers, since it was born (PhysiCell's "total attack time"), for rules only.

A *behaviour* is ``cycle``, ``apoptosis``, ``necrosis`` (rates, 1/min; necrosis after its
oxygen ramp), ``transition.<type>`` (a rate, 1/min), ``asymmetric_division.<type>`` (the probability
that a daughter becomes that type), ``secretion.<field>`` (a factor on the
type's secretion, 1 before rules), ``secretion_rate.<field>`` (the secretion rate itself,
1/min, PhysiCell's "<substrate> secretion"), ``migration_speed`` (um/min),
``migration_persistence`` (min), ``migration_bias`` (0 to 1, the chemotactic bias),
``adhesion`` and ``repulsion`` (um/min, the cell-cell adhesion and repulsion strengths),
``secretion_target.<field>`` (the concentration secretion approaches),
``uptake_rate.<field>`` (1/min) and ``export_rate.<field>`` (amount/min), a live cell's
target, uptake and net export (PhysiCell's "<substrate> secretion target", "<substrate>
uptake" and "<substrate> export"),
``chemotaxis.<field>`` (the signed chemotactic sensitivity to a field, PhysiCell's
"chemotactic response to"), ``damage_rate`` and ``damage_repair_rate`` (1/min),
``attack.<type>`` (the rate of starting an attack on a cell of the type, 1/min,
:class:`~tissue.config.cells.DamageAttack`), ``immunogenicity.<type>`` (the factor on
attacks on the cell by that type, PhysiCell's "immunogenicity to <type>"),
``attack_damage_rate`` (damage/min), ``attack_duration`` (min), or
``phagocytosis.apoptotic`` or ``phagocytosis.necrotic`` (the rate of eating a touching dead
cell of that kind, 1/min) or ``phagocytosis.<type>`` (of eating a touching live cell of the
type, 1/min; PhysiCell's "phagocytose <type>").
Behaviours in :data:`HELD` (and the chemotactic sensitivities) are set per cell once a
phenotype step and held until the next, as PhysiCell's phenotype is (the mechanics steps
between read them).

Every module that reads these names goes through :func:`parse_signal` and
:func:`parse_behaviour`, so the syntax lives here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

# motility behaviours -> the cell-type parameter each starts from (set per cell each
# phenotype step, read by the mechanics steps between, as PhysiCell's phenotype is)
MIGRATION = {
    "migration_speed": "speed_um_per_min",
    "migration_persistence": "persistence_min",
    "migration_bias": "chemotaxis_bias",
}
# cell-cell mechanics behaviours -> the cell-type parameter each starts from (held)
MECHANICS = {"adhesion": "adhesion_um_per_min", "repulsion": "repulsion_um_per_min"}
# phagocytosis behaviours -> the cell-type parameter each starts from
PHAGOCYTOSIS = {
    "phagocytosis.apoptotic": "apoptotic_phagocytosis_rate_per_min",
    "phagocytosis.necrotic": "necrotic_phagocytosis_rate_per_min",
}
DEAD_KINDS = ("apoptotic", "necrotic")  # phagocytosis.<kind>: of dead cells, not a type
STATE_SIGNALS = ("dead", "apoptotic", "necrotic")  # 1 for a cell in the state, else 0
DAMAGE_SIGNALS = ("damage", "damage_delivered", "attacking", "attack_time")
SignalKind = Literal[
    "field", "blood", "contact", "contact_any", "contact_live", "contact_dead", "time",
    "volume", "pressure", "attribute", "gradient",
    "dead", "apoptotic", "necrotic", "damage", "damage_delivered", "attacking", "attack_time",
]  # fmt: skip
RESERVED_SIGNALS = (  # read per cell; no field may take these names
    "time", "volume", "pressure", "contact_live", "contact_dead", *STATE_SIGNALS,
    *DAMAGE_SIGNALS,
)  # fmt: skip
CELL_SIGNALS = (*RESERVED_SIGNALS, "attribute", "gradient")  # read per cell: in rules only
ATTACK_PARAMS = {"attack_damage_rate": "damage_rate_per_min", "attack_duration": "duration_min"}
# kinds set once a phenotype step, held per cell
HELD = (*MIGRATION, *MECHANICS, "attack", *ATTACK_PARAMS, "phagocytosis", "immunogenicity")
OWN = "own."  # prefix of the cell columns of per-cell values of behaviours
CHEMOTAXIS_COLUMN = "chemotaxis_sensitivity"  # (K,): a cell's sensitivities after rules
EXCHANGE = ("secretion", "secretion_rate", "secretion_target", "uptake_rate", "export_rate")
EXCHANGE_RATES = {  # the behaviours on a field's exchange -> the Secretion value each moves
    "secretion_rate": "secretion_rate_per_min",
    "secretion_target": "secretion_target",
    "uptake_rate": "uptake_rate_per_min",
    "export_rate": "export_rate",
}
TARGETED = (  # <kind>.<x>
    "transition", "asymmetric_division", *EXCHANGE, "attack", "immunogenicity", "chemotaxis",
    "phagocytosis",
)  # fmt: skip
UNTARGETED = ("cycle", "apoptosis", "necrosis", "damage_rate", "damage_repair_rate",
              *MIGRATION, *MECHANICS, *ATTACK_PARAMS)  # fmt: skip
BEHAVIOUR_KINDS = (*UNTARGETED, *TARGETED)
BEHAVIOURS_ALLOWED = (
    "cycle, apoptosis, necrosis, transition.<type>, asymmetric_division.<type>, "
    "secretion.<field>, "
    "secretion_rate.<field>, secretion_target.<field>, uptake_rate.<field>, "
    "export_rate.<field>, migration_speed, "
    "migration_persistence, migration_bias, adhesion, repulsion, chemotaxis.<field>, "
    "damage_rate, "
    "damage_repair_rate, attack.<type>, immunogenicity.<type>, attack_damage_rate, "
    "attack_duration, "
    "phagocytosis.apoptotic, phagocytosis.necrotic, phagocytosis.<type>"
)


@dataclass(frozen=True)
class Signal:
    """A parsed signal name.

    Attributes:
        text: the name as written. kind: ``field``, ``blood``, ``contact``, ``attribute``
            or one of :data:`RESERVED_SIGNALS` (then the text itself).
        name: the field, the systemic species, the cell type or the attribute (empty for
            the reserved signals).
    """

    text: str
    kind: SignalKind
    name: str


def parse_signal(text: str) -> Signal:
    """The kind and target of a signal name (any text parses; whether the target exists is
    for the scenario's checks to say)."""
    kind, _, name = text.partition(".")
    if kind in ("blood", "contact", "contact_any", "attribute", "gradient") and name:
        return Signal(text, kind, name)  # type: ignore[arg-type]
    if text in RESERVED_SIGNALS:
        return Signal(text, text, "")  # type: ignore[arg-type]
    return Signal(text, "field", text)


@dataclass(frozen=True)
class Behaviour:
    """A parsed behaviour name: ``kind`` (one of :data:`BEHAVIOUR_KINDS`, or the text when
    it is none of them) and ``target`` (the type of a transition, the field of a secretion
    or a chemotactic sensitivity, else empty)."""

    text: str
    kind: str
    target: str


def parse_behaviour(text: str) -> Behaviour:
    """The kind and target of a behaviour name."""
    kind, _, target = text.partition(".")
    if kind in TARGETED and target:
        return Behaviour(text, kind, target)
    return Behaviour(text, text, "")


def signal_problem(
    text: str,
    fields: list[str],
    species: list[str],
    cell_types: list[str],
    attributes: list[str] | None = None,
) -> str | None:
    """Why ``text`` names nothing among the given fields, systemic species and cell types,
    or None when it names one. ``attributes``: those of the cell type of a rule, whose
    per-cell signals (:data:`CELL_SIGNALS`) are allowed; None where a signal is read for a
    voxel or the body, not a cell."""
    signal = parse_signal(text)
    if signal.kind in CELL_SIGNALS:
        if attributes is None:
            return (
                f"'{text}' is read per cell, in rules only; allowed here: a field or "
                "blood.<species>"
            )
        if signal.kind == "gradient" and signal.name not in fields:
            return f"no field '{signal.name}'; fields: {', '.join(fields) or '(none)'}"
        if signal.kind == "attribute" and signal.name not in attributes:
            return (
                f"'{signal.name}' is not an attribute of the rule's cell type; attributes: "
                f"{', '.join(attributes) or '(none)'}"
            )
        return None
    if signal.kind == "blood":
        if signal.name not in species:
            return f"no systemic species '{signal.name}'; species: {', '.join(species) or '(none)'}"
        return None
    if signal.kind in ("contact", "contact_any"):
        if signal.name not in cell_types:
            return f"no cell type '{signal.name}'; types: {', '.join(cell_types)}"
        return None
    if signal.name not in fields:
        return (
            f"unknown signal '{text}'; allowed: a field ({', '.join(fields) or 'none'}),"
            " blood.<species>, contact.<type>, contact_any.<type>"
            + (
                f" or, in rules, {', '.join(RESERVED_SIGNALS)}, attribute.<name>"
                if attributes is not None
                else ""
            )
        )
    return None


def behaviour_problem(text: str, fields: list[str], cell_types: list[str]) -> str | None:
    """Why ``text`` is not a behaviour of these fields and cell types, or None."""
    behaviour = parse_behaviour(text)
    ok = (
        (behaviour.kind in UNTARGETED and not behaviour.target and "." not in text)
        or (
            behaviour.kind
            in ("transition", "asymmetric_division", "attack", "immunogenicity", "phagocytosis")
            and behaviour.target in cell_types
        )
        or (behaviour.kind in (*EXCHANGE, "chemotaxis") and behaviour.target in fields)
        or text in PHAGOCYTOSIS
    )
    return None if ok else f"'{text}': allowed: {BEHAVIOURS_ALLOWED}"


def base_value(cell_type: Any, behaviour: str) -> float:
    """A cell type's (a :class:`~tissue.config.CellTypeConfig`) own value of ``behaviour``,
    before rules: its rate, speed, persistence, bias or sensitivity (0 to a field it does
    not list), or 1 for a secretion factor."""
    parsed = parse_behaviour(behaviour)
    if parsed.kind == "cycle":
        return float(cell_type.cycle_rate_per_min)
    if parsed.kind == "apoptosis":
        return float(cell_type.apoptosis_rate_per_min)
    if parsed.kind == "necrosis":
        return float(cell_type.necrosis_rate_per_min)
    if parsed.kind == "transition":
        return float(cell_type.transitions.get(parsed.target, 0.0))
    if parsed.kind == "asymmetric_division":
        return float(cell_type.asymmetric_division.get(parsed.target, 0.0))
    if parsed.kind == "immunogenicity":
        return float(cell_type.immunogenicity.get(parsed.target, 1.0))
    if parsed.kind in MIGRATION:
        return float(getattr(cell_type, MIGRATION[parsed.kind]))
    if parsed.kind in MECHANICS:
        return float(getattr(cell_type, MECHANICS[parsed.kind]))
    if parsed.kind == "chemotaxis":
        return float(cell_type.sensitivities.get(parsed.target, 0.0))
    if parsed.kind in ("damage_rate", "damage_repair_rate"):
        return float(getattr(cell_type, f"{parsed.kind}_per_min"))
    if behaviour in PHAGOCYTOSIS:
        return float(getattr(cell_type, PHAGOCYTOSIS[behaviour]))
    if parsed.kind == "phagocytosis":
        return float(cell_type.live_phagocytosis_rates_per_min.get(parsed.target, 0.0))
    if parsed.kind in EXCHANGE_RATES:
        exchange = cell_type.secretion.get(parsed.target)
        name = EXCHANGE_RATES[parsed.kind]
        return float(getattr(exchange, name)) if exchange is not None else 0.0
    attack = cell_type.damage_attack
    if parsed.kind == "attack":
        return float(attack.rates_per_min.get(parsed.target, 0.0)) if attack is not None else 0.0
    if parsed.kind in ATTACK_PARAMS:
        return float(getattr(attack, ATTACK_PARAMS[parsed.kind])) if attack is not None else 0.0
    return 1.0


def rising_ramp(xp: Any, value: Any, zero_at: Any, full_at: Any) -> Any:
    """0 at or below ``zero_at``, 1 at or above ``full_at`` (>= zero_at), linear between; a
    step at ``full_at`` when the two are equal."""
    span = full_at - zero_at
    linear = xp.clip(
        (value - zero_at) / xp.where(span > 0, span, np.float32(1)), np.float32(0), np.float32(1)
    )
    return xp.where(span > 0, linear, (value >= full_at).astype(xp.float32))


def falling_ramp(xp: Any, value: Any, zero_at: Any, full_at: Any) -> Any:
    """0 at or above ``zero_at``, 1 at or below ``full_at`` (<= zero_at), linear between; a
    step at ``full_at`` when the two are equal."""
    return rising_ramp(xp, -value, -zero_at, -full_at)


def hill_sum(xp: Any, terms: list[tuple[Any, float, float, bool]]) -> Any:
    """PhysiCell's multivariate Hill response X / (1 + X), X = sum of (s/h)^n over the
    ``terms`` (signal, half_max h, n, rises), with (h/s)^n for a term whose behaviour moves
    as its signal falls; float32 in [0, 1]. One rising term is s^n / (h^n + s^n)."""
    total = None
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # s = 0 when falling
        for signal, half_max, n, rises in terms:
            ratio = xp.maximum(xp.asarray(signal, dtype=xp.float32), np.float32(0))
            ratio = ratio / np.float32(half_max) if rises else np.float32(half_max) / ratio
            power = ratio ** np.float32(n)
            total = power if total is None else total + power
        assert total is not None, "hill_sum needs a term"
        return xp.where(xp.isinf(total), np.float32(1), total / (np.float32(1) + total))


class Sensing(Protocol):
    """What the body tells fields and rules about the moment: active blocks and systemic
    concentrations."""

    def factor(self, signal: str) -> float:
        """1 - efficacy of the blocks on ``signal`` active now (1 when none)."""

    def blood(self, species: str) -> Any:
        """Systemic concentration of ``species`` now (blocks not applied): a 0-d float64
        array on the backend, or 0.0."""

    @property
    def time_min(self) -> float:
        """The simulated time now (min since day 0)."""

    def signal_value(self, signal: str) -> Any:
        """A ``blood.<species>`` signal as rules see it (blocks applied), as ``blood``."""
