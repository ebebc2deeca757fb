"""PhysiCell's rules CSV (version 3, as PhysiCell Studio writes it) as tissue rules.

A row reads ``cell type, signal, increases|decreases, behaviour, value, half-max, Hill
power, applies to dead``; lines starting with ``//`` are comments. PhysiCell moves the
behaviour from the type's value by the multivariate Hill responses of its signals, raising
rules first, toward the two ends of one range per behaviour: the highest value of its
increasing rules and the lowest of its decreasing ones (PhysiCell 1.14; each end also takes
in the type's own value when rules of the other direction exist, so a rule whose end is the
own value changes nothing and is left out). tissue's rules combine the same way
(:mod:`tissue.behaviours`), so a row maps to one tissue rule when tissue knows its signal and
behaviour. Signals: a substrate, ``time``, ``volume``, ``custom:<name>`` (an attribute),
``dead``, ``apoptotic``, ``necrotic``, ``damage``, ``damage delivered``, ``attacking``,
``total attack time``, ``pressure``, ``contact with live cell``, ``contact with dead
cell``, ``contact with <type>`` (``contact_any.<type>``: PhysiCell counts dead
neighbours too) and ``<substrate> gradient`` (or ``grad(<substrate>)``, ``gradient of
<substrate>``); behaviours: ``cycle entry``, ``apoptosis``, ``necrosis``, ``transform to
<type>``, ``<substrate> secretion`` (the secretion rate), ``<substrate> secretion
target``, ``<substrate> uptake``,
``<substrate> export``, ``damage rate``, ``damage repair rate``, ``attack <type>``,
``attack damage rate``, ``attack duration``, ``phagocytose apoptotic cell``, ``phagocytose
necrotic cell`` and ``phagocytose <type>`` (of live cells; ``phagocytose other dead cell``
changes nothing: tissue's dead cells are apoptotic or necrotic, as the model's death models
make them), ``cell-cell adhesion``, ``cell-cell repulsion``, ``migration speed``,
``migration persistence time``,
``migration bias`` and ``chemotactic response to <substrate>`` (``chemotaxis.<substrate>``;
left out where they change nothing: a type that does not move, the bias of one without
chemotaxis, a sensitivity of one without advanced chemotaxis). A rule that applies to dead
cells (the last column) is one with ``applies_to_dead``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tissue.config import CellTypeConfig
from tissue.config.cells import DamageAttack
from tissue.io.physicell.phagocytosis import OTHER_DEAD, PHAGOCYTOSE
from tissue.io.physicell.report import Report
from tissue.signals import ATTACK_PARAMS, EXCHANGE_RATES, MIGRATION, base_value

COLUMNS = 8
MOTILITY = {
    "migration speed": "migration_speed",
    "migration persistence time": "migration_persistence",
    "migration bias": "migration_bias",
    "cell-cell adhesion": "adhesion",
    "cell-cell repulsion": "repulsion",
}
DAMAGE = {
    "damage rate": "damage_rate",
    "damage repair rate": "damage_repair_rate",
    "attack damage rate": "attack_damage_rate",
    "attack duration": "attack_duration",
}
EXCHANGE = {  # PhysiCell's "<substrate> ..." behaviours -> tissue's kind of behaviour
    " secretion": "secretion_rate",
    " secretion target": "secretion_target",
    " secretion saturation density": "secretion_target",
    " uptake": "uptake_rate",
    " export": "export_rate",
}
CELL_SIGNALS = {  # PhysiCell's per-cell signals tissue reads under another name or the same
    "time": "time", "volume": "volume", "dead": "dead", "apoptotic": "apoptotic",
    "necrotic": "necrotic", "damage": "damage", "damage delivered": "damage_delivered",
    "attacking": "attacking", "pressure": "pressure", "contact with live cell": "contact_live",
    "contact with dead cell": "contact_dead", "total attack time": "attack_time",
}  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One rule as written: its line in ``file`` and its eight fields."""

    file: str
    line: int
    cell_type: str
    signal: str
    direction: str
    behaviour: str
    value: float
    half_max: float
    hill: float
    dead: bool


def read_rows(path: Path, shown: str, report: Report) -> list[Row]:
    """The rules of one v3 CSV file (malformed lines are reported)."""
    rows = []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("//"):
            continue
        fields = [f.strip() for f in next(csv.reader([stripped]))]
        if len(fields) != COLUMNS:
            report.cannot(
                number, "rule", f"{len(fields)} columns: a version 3 rule has {COLUMNS}", file=shown
            )
            continue
        try:
            value, half_max, hill = (float(x) for x in fields[4:7])
        except ValueError:
            report.cannot(
                number, "rule", "value, half-max and Hill power must be numbers", file=shown
            )
            continue
        direction = fields[2].lower()
        if direction not in ("increases", "decreases"):
            report.cannot(
                number,
                "rule",
                f"direction '{fields[2]}': allowed: increases, decreases",
                file=shown,
            )
            continue
        rows.append(
            Row(
                shown,
                number,
                fields[0],
                fields[1],
                direction,
                fields[3],
                value,
                half_max,
                hill,
                fields[7] not in ("", "0", "0.0"),
            )
        )
    return rows


def behaviour_name(text: str, substrates: list[str], types: list[str]) -> tuple[str, str | None]:
    """tissue's name of PhysiCell behaviour ``text`` and, for a secretion, its substrate;
    ("", None) when tissue has no such behaviour."""
    if text in ("cycle entry", "exit from cycle phase 0"):
        return "cycle", None
    if text in ("apoptosis", "necrosis"):
        return text, None
    if text in MOTILITY:
        return MOTILITY[text], None
    if text in DAMAGE:
        return DAMAGE[text], None
    if text.startswith("attack ") and text[len("attack ") :] in types:
        return f"attack.{text[len('attack ') :]}", None
    for prefix in ("chemotactic response to ", "chemotactic sensitivity to "):
        if text.startswith(prefix) and text[len(prefix) :] in substrates:
            return f"chemotaxis.{text[len(prefix) :]}", None
    if text in PHAGOCYTOSE:
        return PHAGOCYTOSE[text], None
    if text.startswith("phagocytose ") and text[len("phagocytose ") :] in types:
        return f"phagocytosis.{text[len('phagocytose ') :]}", None  # of live cells
    for prefix in ("transform to ", "transition to "):
        if text.startswith(prefix) and text[len(prefix) :] in types:
            return f"transition.{text[len(prefix) :]}", None
    prefix = "immunogenicity to "
    if text.startswith(prefix) and text[len(prefix) :] in types:
        return f"immunogenicity.{text[len(prefix) :]}", None
    prefix = "asymmetric division to "
    if text.startswith(prefix) and text[len(prefix) :] in types:
        return f"asymmetric_division.{text[len(prefix) :]}", None
    for suffix, kind in EXCHANGE.items():
        substrate = text.removesuffix(suffix)
        if substrate != text and substrate in substrates:
            return f"{kind}.{substrate}", substrate
    return "", None


def rules(
    rows: list[Row],
    report: Report,
    substrates: list[str],
    types: list[str],
    configs: dict[str, CellTypeConfig],
    secretion: dict[str, dict[str, dict[str, float]]],
    advanced: set[str],
) -> dict[str, dict[str, Any]]:
    """Scenario ``rules`` entries from ``rows``. ``configs``: the imported cell types (their
    own values of the behaviours, :func:`tissue.signals.base_value`, and attributes);
    ``secretion``: type -> substrate -> PhysiCell's secretion, uptake and export rates (by
    tissue's names), the own values of rules on them; ``advanced``: the types that move by
    advanced chemotaxis (whose sensitivities rules change)."""
    out: dict[str, dict[str, Any]] = {}
    responses: dict[tuple[str, str, str], list[float]] = {}
    for row in rows:
        responses.setdefault((row.cell_type, row.behaviour, row.direction), []).append(row.value)
    for row in rows:
        where = f"rule '{row.cell_type}, {row.signal}, {row.direction}, {row.behaviour}'"
        if row.cell_type not in types:
            report.cannot(row.line, where, f"unknown cell type '{row.cell_type}'", file=row.file)
            continue
        behaviour, substrate = behaviour_name(row.behaviour, substrates, types)
        if row.behaviour in OTHER_DEAD:
            report.remark(
                f"{report.short(row.file)}:{row.line}: {where} left out: no cell is 'other "
                "dead' here (tissue's dead cells are apoptotic or necrotic)"
            )
            continue
        if not behaviour:
            report.cannot(
                row.line, where, f"the behaviour '{row.behaviour}' is not modelled", file=row.file
            )
            continue
        attributes = list(configs[row.cell_type].attributes)
        signal = _signal(row, report, where, substrates, types, attributes)
        if signal is None:
            continue
        if row.half_max <= 0 or row.hill <= 0:
            report.cannot(row.line, where, "half-max and Hill power must be > 0", file=row.file)
            continue
        config = configs[row.cell_type]
        kind = behaviour.split(".")[0]
        if row.dead and kind in ("secretion_target", "uptake_rate", "export_rate"):
            report.cannot(row.line, where, "rules on dead cells' target, uptake or export are "
                          "not modelled (a dead cell takes up a tenth); --lenient: left out",
                          file=row.file)  # fmt: skip
            continue
        if substrate is not None:
            own = secretion[row.cell_type].get(substrate, {}).get(EXCHANGE_RATES[kind], 0.0)
        elif behaviour.startswith("attack"):
            own = _attack_value(config.damage_attack or {}, behaviour)
        elif (behaviour in MIGRATION or behaviour.startswith("chemotaxis.")) and (
            config.speed_um_per_min == 0
            or (behaviour == "migration_bias" and not config.sensitivities)
            or (behaviour.startswith("chemotaxis.") and row.cell_type not in advanced)
        ):
            continue  # changes nothing: the type does not move, has no gradient to weigh, or
            # its sensitivities act only in advanced chemotaxis (PhysiCell)
        elif behaviour.startswith("phagocytosis.") and config.division_volume is None:
            continue  # the type cannot eat (its volume does not relax): reported with it
        else:
            own = base_value(config, behaviour)
        value = _range_end(responses, row, own)
        if value == own:
            report.remark(
                f"{report.short(row.file)}:{row.line}: {where} left out: "
                "PhysiCell's range for it ends at the type's own value"
            )
            continue
        to_value = value
        if (row.direction == "increases") != (to_value >= own):
            report.cannot(
                row.line,
                where,
                f"it {row.direction} the behaviour to {value:g}, "
                f"but the type's own value is {own:g}",
                file=row.file,
            )
            continue
        name = _unique(out, f"{row.cell_type} {behaviour} {row.signal}")
        out[name] = {
            "cell_type": row.cell_type,
            "behaviour": behaviour,
            "signal": signal,
            "to_value": to_value,
            "half_max": row.half_max,
            "hill_coefficient": row.hill,
            **({"applies_to_dead": True} if row.dead else {}),
        }
        report.note(
            f"rules.{name}",
            row.line,
            f"{row.signal} {row.direction} {row.behaviour}",
            file=row.file,
        )
    return out


def _attack_value(attack: dict[str, Any], behaviour: str) -> float:
    """An imported damage attack's (its scenario entries) own value of an attack
    behaviour: ``attack.<type>``, ``attack_damage_rate`` or ``attack_duration``."""
    if behaviour.startswith("attack."):
        return attack.get("rates_per_min", {}).get(behaviour[len("attack.") :], 0.0)
    field = ATTACK_PARAMS[behaviour]
    return attack.get(field, getattr(DamageAttack(), field))


def _range_end(responses: dict[tuple[str, str, str], list[float]], row: Row, own: float) -> float:
    """The value ``row``'s rule moves its behaviour toward, as PhysiCell 1.14 sets it
    (``set_behavior_min_value`` and ``_max_value``, which only widen the range): the
    highest response of the behaviour's increasing rules, or the lowest of its decreasing
    ones, each range also reaching the type's own value when rules of the other direction
    exist. ``responses``: (type, behaviour, direction) -> every rule's value."""
    ups = responses.get((row.cell_type, row.behaviour, "increases"), [])
    downs = responses.get((row.cell_type, row.behaviour, "decreases"), [])
    if row.direction == "increases":
        return max(ups + ([own] if downs else []))
    return min(downs + ([own] if ups else []))


def _signal(
    row: Row,
    report: Report,
    where: str,
    substrates: list[str],
    types: list[str],
    attributes: list[str],
) -> str | None:
    """tissue's name of the row's signal, or None (reported) when it has none."""
    if row.signal in substrates:
        return row.signal
    if row.signal in CELL_SIGNALS:
        return CELL_SIGNALS[row.signal]
    if row.signal.startswith("custom:"):
        name = row.signal[len("custom:") :]
        if name in attributes:
            return f"attribute.{name}"
        report.cannot(
            row.line, where, f"'{name}' is not custom data of '{row.cell_type}'", file=row.file
        )
        return None
    prefix = "contact with "
    if row.signal.startswith(prefix) and row.signal[len(prefix) :] in types:
        return f"contact_any.{row.signal[len(prefix) :]}"  # PhysiCell counts dead ones too
    for substrate in substrates:  # PhysiCell's three names of a substrate's gradient
        if row.signal in (
            f"{substrate} gradient",
            f"grad({substrate})",
            f"gradient of {substrate}",
        ):
            return f"gradient.{substrate}"
    report.cannot(row.line, where, f"the signal '{row.signal}' is not modelled", file=row.file)
    return None


def _unique(taken: dict[str, Any], text: str) -> str:
    """A rule name from ``text`` (lower case, words joined by _) not in ``taken``."""
    stem = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "rule"
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}_{k}", k + 1
    return name
