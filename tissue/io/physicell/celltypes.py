"""PhysiCell cell definitions (after inheritance, :mod:`definitions`) as tissue cell
types: volume, cycle, death, mechanics, motility, secretion, interactions, custom data.

Each element is mapped, known to change nothing tissue computes, or reported where the
process it sets can happen (a rate above 0, or a rule that can raise it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tissue.io.physicell.death import MIN_DURATION, death, rate_or_duration, volume_model
from tissue.io.physicell.definitions import LIVE_CYCLE, Definition, Phase
from tissue.io.physicell.phagocytosis import phagocytosis_rates
from tissue.io.physicell.report import Report
from tissue.io.physicell.xmltree import Node, truthy
from tissue.signals import PHAGOCYTOSIS

ASYMMETRIC = "phenotype/cycle/standard_asymmetric_division"  # PhysiCell 1.14's element
# PhysiCell 1.14.2's phenotype defaults (core/PhysiCell_phenotype.cpp), for what a file omits
VOLUME_DEFAULTS = {
    "total": 2494.0,
    "fluid_fraction": 0.75,
    "nuclear": 540.0,
    "fluid_change_rate": 0.05,
    "cytoplasmic_biomass_change_rate": 0.0045,
    "nuclear_biomass_change_rate": 0.0055,
}
CYCLE_MODELS = {  # code -> name, phases, the phase a cell divides on leaving (PhysiCell 1.14)
    0: ("Ki67 (advanced)", ("Ki67-", "Ki67+ premitotic", "Ki67+ postmitotic"), 1),
    1: ("Ki67 (basic)", ("Ki67-", "Ki67+"), 1),
    2: ("flow cytometry", ("G0/G1", "S", "G2/M"), 2),
    5: ("live", ("live",), 0),
    6: ("flow cytometry (separated)", ("G0/G1", "S", "G2", "M"), 3),
    7: ("cycling-quiescent", ("quiescent", "cycling"), 1),
}
# the phase whose entry doubles a cell's volume targets in every model with several phases
# (S, Ki67+, Ki67+ premitotic, cycling); the live model's one phase doubles them as the
# daughters start it, which is tissue's default for a type without such a phase
GROWING_PHASE = 1


@dataclass
class TypeParts:
    """A definition mapped: the cell type's scenario entries, its secretion, uptake and
    export rates per substrate (by tissue's names; the own values of rules on them), its
    spring constant and whether it uses advanced chemotaxis (where rules on its
    sensitivities act)."""

    entries: dict[str, Any]
    base_secretion: dict[str, dict[str, float]]
    elastic_per_min: float  # attachment_elastic_constant: the springs of attached pairs
    advanced_chemotaxis: bool


def cell_type(
    d: Definition,
    report: Report,
    substrates: list[str],
    type_names: list[str],
    ruled: set[str],
    two_d: bool,
    shared: dict[tuple[str, int], dict[int, Phase]],
) -> TypeParts:
    """The tissue cell type of definition ``d``. ``ruled``: the behaviours rules move for
    this type (PhysiCell names), so that a process with rate 0 that a rule can raise counts
    as present; ``shared``: PhysiCell's shared cycle and death phases
    (:func:`~tissue.io.physicell.definitions.shared_phases`)."""
    key = f"cell_types.{d.name}"
    entries: dict[str, Any] = {}
    who = f"'{d.name}'"

    # volume: radius from the total; division halves it and it grows back
    v = {
        k: d.number(f"phenotype/volume/{k}", default, report)
        for k, default in VOLUME_DEFAULTS.items()
    }
    for extra in ("calcified_fraction", "calcification_rate"):
        node = d.get(f"phenotype/volume/{extra}")
        if node is not None and d.number(f"phenotype/volume/{extra}", 0.0, report) != 0:
            report.cannot(node, f"<{extra}> of {who}", "calcification is not modelled")
    entries["radius_um"] = (3.0 * v["total"] / (4.0 * math.pi)) ** (1.0 / 3.0)
    report.note(
        f"{key}.radius_um",
        d.get("phenotype/volume/total"),
        f"from the total volume {v['total']:g} um^3",
    )

    _cycle(d, report, entries, key, ruled, shared)
    eats = phagocytosis_rates(d, report, entries, key, ruled, type_names)
    divides = entries.get("cycle_rate_per_min", 0.0) > 0 or "cycle entry" in ruled
    if divides:
        entries["division_placement"] = "physicell"
        report.note(f"{key}.division_placement", d.get("phenotype/cycle") or d.node,
                    "PhysiCell's division: the daughter a radius out, the parent half a radius "
                    "back")  # fmt: skip
    # PhysiCell's volume model acts on every live cell: on a type that neither divides nor
    # eats it moves only cells that arrive off their targets (an asymmetric division's
    # daughters, converted at half their parent's volume)
    rates = [
        v["fluid_change_rate"],
        v["cytoplasmic_biomass_change_rate"],
        v["nuclear_biomass_change_rate"],
    ]
    if min(rates) > 0 and v["fluid_fraction"] < 1:
        entries["division_volume"] = volume_model(v, *rates)
        report.note(
            f"{key}.division_volume",
            d.get("phenotype/volume"),
            "PhysiCell's volume model of live cells" + (" and phagocytosis" if eats else ""),
        )
    elif divides or eats:
        report.cannot(
            d.get("phenotype/volume") or d.node,
            f"volume of {who}",
            "a volume that does not relax (a change rate of 0 or fluid fraction 1) is "
            "not modelled: "
            + ("a phagocyte's; --lenient: no phagocytosis" if eats else "a daughter's"),
        )
        for rate in (*PHAGOCYTOSIS.values(), "live_phagocytosis_rates_per_min"):
            entries.pop(rate, None)

    death(d, report, entries, key, v, ruled, shared)
    _mechanics(d, report, entries, type_names)
    advanced = _motility(d, report, entries, key, substrates, two_d)
    base_secretion = _secretion(d, report, entries, substrates, ruled)
    _interactions(d, report, entries, type_names, ruled)
    _custom_data(d, report, entries, key)
    for child in d.node.children:
        if child.tag == "intracellular":
            report.cannot(
                child, f"<intracellular> of {who}", "intracellular models are not imported"
            )
    elastic = d.number("phenotype/mechanics/attachment_elastic_constant", 0.01, report)
    return TypeParts(entries, base_secretion, elastic, advanced)


def _cycle(
    d: Definition,
    report: Report,
    entries: dict[str, Any],
    key: str,
    ruled: set[str],
    shared: dict[tuple[str, int], dict[int, Phase]],
) -> None:
    """The cycle: phase 0 left at tissue's cycle rate (after 1 / the rate where it is of
    fixed duration), the model's later phases as ``cycle_phases`` (fixed durations or
    rates, dividing where PhysiCell divides, growing where its entry function doubles the
    volume targets). The rates are the definition's; whether a
    phase is of fixed duration is PhysiCell's shared flag (the last definition in the file
    using the model to write it)."""
    node = d.get("phenotype/cycle")
    d.under("phenotype/cycle/")
    if node is None:
        return
    code = int(node.attrib.get("code", LIVE_CYCLE))
    if code not in CYCLE_MODELS:
        report.cannot(
            node,
            f"cycle model {code} of '{d.name}'",
            "a cycle model tissue does "
            f"not know (known: {', '.join(map(str, sorted(CYCLE_MODELS)))})",
        )
        return
    title, phases, dividing = CYCLE_MODELS[code]
    n = len(phases)
    exits = [rate_or_duration(d, "phenotype/cycle", k, (k + 1) % n, report) for k in range(n)]
    flags = shared.get(("cycle", code), {})
    exits = [(r, flags[k].fixed if k in flags else f, w) for k, (r, f, w) in enumerate(exits)]
    rate, fixed, where = exits[0]
    rate = rate or 0.0
    what = f"cycle model {code} ({title}) of '{d.name}'"
    if not math.isfinite(rate):
        report.cannot(
            where or node,
            what,
            "a first phase of 0 min (a division every step) is "
            "not modelled; --lenient: no division",
        )
        rate = 0.0
    if fixed and (rate > 0 or "cycle entry" in ruled):
        first = flags.get(0)
        by = (
            f" (the flag '{first.by}' wrote at line {first.node.line}, which PhysiCell's "
            "one model for every type keeps)"
            if first and first.node is not None and first.node is not where
            else ""
        )
        entries["cycle_first_phase"] = "fixed"
        report.note(f"{key}.cycle_first_phase", where or node,
                    f"{phases[0]} of fixed duration, 1 / its rate{by}")  # fmt: skip
    entries["cycle_rate_per_min"] = rate
    report.note(f"{key}.cycle_rate_per_min", where or node, f"{title} cycle: leaving {phases[0]}")
    later = []
    for k in range(1, n):
        rate_k, fixed_k, _ = exits[k]
        phase: dict[str, Any] = {"name": phases[k]}
        if rate_k is None:
            report.cannot(node, what, f"no rate or duration for phase {k} ({phases[k]})")
            rate_k = 0.0
        if fixed_k and rate_k > 0:
            phase["duration_min"] = 1.0 / rate_k if math.isfinite(rate_k) else MIN_DURATION
        else:
            phase["rate_per_min"] = rate_k
        if k == dividing:
            phase["divides"] = True
        if k == GROWING_PHASE:  # its entry function doubles the volume targets
            phase["grows"] = True
        later.append(phase)
    if later:
        entries["cycle_phases"] = later
        report.note(f"{key}.cycle_phases", node, f"{title} cycle model (code {code})")


def _mechanics(
    d: Definition, report: Report, entries: dict[str, Any], type_names: list[str]
) -> None:
    """Adhesion (as PhysiCell computes it, with equilibrium distances:
    :func:`adhesion_strength`), repulsion and the adhesion affinities other than 1;
    attachments are reported."""
    m = "phenotype/mechanics"
    d.number(f"{m}/cell_cell_adhesion_strength", 0.4, report)  # read: bad text reported
    adhesion, option, s = adhesion_strength(d)
    if math.isfinite(adhesion):
        entries["adhesion_um_per_min"] = adhesion
    entries["repulsion_um_per_min"] = d.number(f"{m}/cell_cell_repulsion_strength", 10.0, report)
    reach = d.number(f"{m}/relative_maximum_adhesion_distance", 1.25, report)
    if 1.0 <= reach <= 3.0:
        entries["adhesion_range"] = reach
    else:
        report.cannot(
            d.get(f"{m}/relative_maximum_adhesion_distance") or d.node,
            f"relative_maximum_adhesion_distance of '{d.name}'",
            f"{reach:g}: tissue allows 1 to 3",
        )
    for name in EQUILIBRIUM:
        d.get(f"{m}/options/{name}")
    if option is not None and math.isfinite(adhesion):
        capped = f" (PhysiCell caps the {s:g} written at 2)" if s > 2.0 else ""
        rest = min(s, 2.0)
        report.note(f"cell_types.{d.name}.adhesion_um_per_min", option,
                    f"from <{option.tag}>: cells rest {rest:g} radii apart{capped}")  # fmt: skip
    elif option is not None:
        report.cannot(option, f"<{option.tag}> of '{d.name}'",
                      f"{s:g} radii with relative_maximum_adhesion_distance {reach:g}: "
                      "PhysiCell's adhesion is not a number")  # fmt: skip
    affinities = {}
    for _k, node in d.under(f"{m}/cell_adhesion_affinities/").items():
        other = node.attrib.get("name", "")
        if node.tag != "cell_adhesion_affinity" or not node.text or float(node.text) == 1.0:
            continue
        if other in type_names:
            affinities[other] = float(node.text)
        else:
            report.cannot(node, f"adhesion affinity of '{d.name}'", f"unknown type '{other}'")
    if affinities:
        entries["adhesion_affinities"] = affinities
        report.note(
            f"cell_types.{d.name}.adhesion_affinities", d.get(f"{m}/cell_adhesion_affinities")
        )
    rate = d.number(f"{m}/attachment_rate", 0.0, report)
    if rate > 0:
        report.cannot(
            d.get(f"{m}/attachment_rate") or d.node,
            f"attachment_rate of '{d.name}'",
            "spring attachments between cells are not modelled",
        )


EQUILIBRIUM = ("set_relative_equilibrium_distance", "set_absolute_equilibrium_distance")


def adhesion_strength(d: Definition) -> tuple[float, Node | None, float]:
    """PhysiCell's ``cell_cell_adhesion_strength`` (um/min) once it has read ``d``: the value
    of the definition ``d`` copies (0.4 for the defaults) or the one ``d`` writes; then, for
    each equilibrium distance ``d`` itself enables (relative, then absolute: s = distance /
    radius, the radius from the total volume), s capped at 2, repulsion ((1 - s/2) / (1 -
    s/(2 m)))^2, m the relative maximum adhesion distance, so that two such cells rest s
    radii apart (PhysiCell's ``Mechanics::set_relative_equilibrium_distance``; an inherited
    option is not applied again: the copied value stands). Also the option element that set
    it and s as written (None and nan without one); the strength is nan where 1 - s/(2 m)
    is 0."""
    m = "phenotype/mechanics"
    key = f"{m}/cell_cell_adhesion_strength"
    adhesion = adhesion_strength(d.copied)[0] if d.copied is not None else 0.4
    if key in d.own:
        adhesion = d.number(key, adhesion, None)
    option, s = None, math.nan
    for name in EQUILIBRIUM:
        node = d.elements.get(f"{m}/options/{name}")
        if f"{m}/options/{name}" not in d.own or node is None or not node.enabled(default=False):
            continue
        s = d.number(f"{m}/options/{name}", 0.0, None)
        if name == EQUILIBRIUM[1]:
            volume = d.number("phenotype/volume/total", VOLUME_DEFAULTS["total"], None)
            s /= (3.0 * volume / (4.0 * math.pi)) ** (1.0 / 3.0)
        reach = d.number(f"{m}/relative_maximum_adhesion_distance", 1.25, None)
        free = 1.0 - min(s, 2.0) / (2.0 * reach)
        ratio = (1.0 - min(s, 2.0) / 2.0) / free if free != 0 else math.nan
        adhesion = d.number(f"{m}/cell_cell_repulsion_strength", 10.0, None) * ratio**2
        option = node
    return adhesion, option, s


def _motility(
    d: Definition,
    report: Report,
    entries: dict[str, Any],
    key: str,
    substrates: list[str],
    two_d: bool,
) -> bool:
    """Speed, persistence and chemotaxis (bias = migration bias): up or down one substrate,
    or advanced chemotaxis over several (signed sensitivities, normalize_each_gradient);
    returns whether the type moves by advanced chemotaxis."""
    m = "phenotype/motility"
    speed = d.number(f"{m}/speed", 1.0, report)
    persistence = d.number(f"{m}/persistence_time", 1.0, report)
    bias = d.number(f"{m}/migration_bias", 0.5, report)
    enabled = d.flag(f"{m}/options/enabled", False)
    planar = d.flag(f"{m}/options/use_2D", two_d)
    if not enabled or speed == 0:
        d.under(f"{m}/options/")
        entries["speed_um_per_min"] = 0.0
        return False
    if planar and not two_d:
        report.cannot(
            d.get(f"{m}/options/use_2D") or d.node,
            f"2-D motility of '{d.name}'",
            "cells moving in a plane of a 3-D domain are not modelled",
        )
    entries["speed_um_per_min"] = speed
    if persistence >= 0:
        entries["persistence_min"] = persistence
    else:
        report.cannot(
            d.get(f"{m}/persistence_time") or d.node,
            f"persistence_time of '{d.name}'",
            "must be >= 0",
        )
    report.note(f"{key}.speed_um_per_min", d.get(f"{m}/speed"))
    chemotaxis, advanced = f"{m}/options/chemotaxis", f"{m}/options/advanced_chemotaxis"
    if d.flag(f"{advanced}/enabled", False):  # it overrides plain chemotaxis (PhysiCell)
        d.under(f"{chemotaxis}/")
        listed = d.under(f"{advanced}/chemotactic_sensitivities/")
        given = {n.attrib.get("substrate", ""): (k, n) for k, n in listed.items()}
        for substrate, (_, node) in given.items():
            if substrate not in substrates:
                report.remark(
                    f"{report.short(report.settings)}:{node.line}: the chemotactic "
                    f"sensitivity of '{d.name}' to '{substrate}' left out: PhysiCell ignores "
                    "an unknown substrate"
                )
        # PhysiCell's vector over every substrate (0 where none is written)
        entries["chemotaxis_sensitivities"] = {
            s: d.number(given[s][0], 0.0, report) if s in given else 0.0 for s in substrates
        }
        if d.flag(f"{advanced}/normalize_each_gradient", False):
            entries["chemotaxis_normalize_each"] = True
        entries["chemotaxis_bias"] = min(max(bias, 0.0), 1.0)
        report.note(
            f"{key}.chemotaxis_sensitivities", d.get(advanced), "PhysiCell's advanced chemotaxis"
        )
        return True
    if d.flag(f"{chemotaxis}/enabled", False):
        d.under(f"{advanced}/")
        substrate = d.get(f"{chemotaxis}/substrate")
        field_name = substrate.text if substrate is not None else ""
        direction = d.number(f"{chemotaxis}/direction", 1.0, report)
        if field_name not in substrates:
            report.cannot(
                substrate or d.node,
                f"chemotaxis of '{d.name}'",
                f"unknown substrate '{field_name}'",
            )
        elif direction > 0:
            entries["chemotaxis_field"] = field_name
            entries["chemotaxis_bias"] = min(max(bias, 0.0), 1.0)
        else:  # down the gradient (direction -1), or no bias direction (0)
            entries["chemotaxis_sensitivities"] = {field_name: direction}
            entries["chemotaxis_bias"] = min(max(bias, 0.0), 1.0)
            report.note(
                f"{key}.chemotaxis_sensitivities",
                d.get(f"{chemotaxis}/direction"),
                f"chemotaxis with direction {direction:g}",
            )
    else:
        d.under(f"{chemotaxis}/")
        d.under(f"{advanced}/")
    return False


def _secretion(
    d: Definition, report: Report, entries: dict[str, Any], substrates: list[str], ruled: set[str]
) -> dict[str, dict[str, float]]:
    """Secretion, uptake and export per substrate (also of a substrate whose rates only
    rules raise: its target); returns them. Dead cells take up a tenth (PhysiCell's death)
    and secrete nothing, unless rules on dead cells say so."""
    out: dict[str, dict[str, float]] = {}
    table: dict[str, dict[str, float]] = {}
    names = {
        "secretion_rate": "secretion_rate_per_min",
        "secretion_target": "secretion_target",
        "uptake_rate": "uptake_rate_per_min",
        "net_export_rate": "export_rate",
    }
    for _k, node in d.under("phenotype/secretion/").items():
        if node.tag != "substrate":
            continue
        substrate = node.attrib.get("name", "")
        values = {}
        for child in node.children:
            if child.tag in names and child.text:
                values[names[child.tag]] = float(child.text)
            elif child.text:
                report.cannot(child, f"<{child.tag}> of '{d.name}'", "not modelled")
        out[substrate] = values
        if substrate not in substrates:
            report.cannot(node, f"secretion of '{d.name}'", f"unknown substrate '{substrate}'")
            continue
        moved = (f"{substrate} {what}" for what in ("secretion", "uptake", "export"))
        if any(m in ruled for m in moved) or any(
            values.get(n, 0.0) != 0
            for n in ("secretion_rate_per_min", "uptake_rate_per_min", "export_rate")
        ):
            if values.get("export_rate", 0.0) < 0:
                report.cannot(node, f"net_export_rate of '{d.name}'", "must be >= 0 in tissue")
                values.pop("export_rate")
            table[substrate] = values
    for substrate in substrates:  # rates that only rules raise, of a substrate not written
        raised = any(f"{substrate} {what}" in ruled for what in ("uptake", "export"))
        if raised and substrate not in table:
            table[substrate] = {}
    if table:
        entries["secretion"] = table
    dead = {
        substrate: {"uptake_rate_per_min": 0.1 * values["uptake_rate_per_min"]}
        for substrate, values in table.items()
        if values.get("uptake_rate_per_min", 0.0) > 0
    }
    if dead:
        entries["dead_secretion"] = dead
    return out


def _interactions(
    d: Definition,
    report: Report,
    entries: dict[str, Any],
    type_names: list[str],
    ruled: set[str],
) -> None:
    """Transformations become transitions, attack rates a damage attack (with the damage
    rate and duration of its attacks), the cell's damage and repair rates its own;
    fusion is reported where its rates are not 0; asymmetric division (phagocytosis:
    :mod:`tissue.io.physicell.phagocytosis`)."""
    who = f"'{d.name}'"
    transitions = {}
    for node in d.under("phenotype/cell_transformations/").values():
        if node.tag != "transformation_rate" or not node.text:
            continue
        target, rate = node.attrib.get("name", ""), float(node.text)
        if rate > 0 and target != d.name:
            if target in type_names:
                transitions[target] = rate
            else:
                report.cannot(node, f"transformation of {who}", f"unknown cell type '{target}'")
    if transitions:
        entries["transitions"] = transitions
    attacks = {}
    i = "phenotype/cell_interactions"
    for node in d.under(f"{i}/attack_rates/").values():
        if node.tag != "attack_rate" or not node.text:
            continue
        target, rate = node.attrib.get("name", ""), float(node.text)
        if rate > 0 or f"attack {target}" in ruled:
            if target in type_names:
                attacks[target] = rate
            else:
                report.cannot(node, f"attack of {who}", f"unknown cell type '{target}'")
    if attacks:
        entries["damage_attack"] = {
            "rates_per_min": attacks,
            "damage_rate_per_min": d.number(f"{i}/attack_damage_rate", 1.0, report),
            "duration_min": max(d.number(f"{i}/attack_duration", 0.1, report), MIN_DURATION),
        }
        report.note(f"cell_types.{d.name}.damage_attack", d.get(f"{i}/attack_rates"))
    for tag in ("damage_rate", "damage_repair_rate"):
        value = d.number(f"phenotype/cell_integrity/{tag}", 0.0, report)
        if value > 0:
            entries[f"{tag}_per_min"] = value
            report.note(
                f"cell_types.{d.name}.{tag}_per_min", d.get(f"phenotype/cell_integrity/{tag}")
            )
    for node in d.under(f"{i}/").values():
        if node.tag == "fusion_rate" and node.text and float(node.text) != 0:
            target = node.attrib.get("name")
            item = "<fusion_rate>" + (f" for '{target}'" if target else "") + f" of {who}"
            report.cannot(node, item, "fusion is not modelled")
    _asymmetric_division(d, report, entries, type_names, ruled)


def _asymmetric_division(
    d: Definition, report: Report, entries: dict[str, Any], type_names: list[str], ruled: set[str]
) -> None:
    """PhysiCell 1.14's standard asymmetric division (where enabled): the daughter takes
    each other type with its probability (the type's own, and what is left below 1, keep
    it; past 1 in all PhysiCell stops with an error, reported here)."""
    block = d.get(ASYMMETRIC)
    nodes = d.under(f"{ASYMMETRIC}/").values()
    if block is None or not truthy(block.attrib.get("enabled", "false")):
        return
    table = {}
    for node in nodes:
        if node.tag != "asymmetric_division_probability" or not node.text:
            continue
        target, p = node.attrib.get("name", ""), float(node.text)
        if target not in type_names:
            report.cannot(node, f"asymmetric division of '{d.name}'", f"unknown type '{target}'")
        elif target != d.name and (p > 0 or f"asymmetric division to {target}" in ruled):
            table[target] = p
    if sum(table.values()) > 1.0:
        report.cannot(block, f"asymmetric division of '{d.name}'", "the probabilities to "
                      "other types add up past 1 (PhysiCell stops with an error)")  # fmt: skip
    elif table:
        entries["asymmetric_division"] = table
        report.note(f"cell_types.{d.name}.asymmetric_division", block)


def _custom_data(d: Definition, report: Report, entries: dict[str, Any], key: str) -> None:
    """Custom data as constant attributes (daughters keep them; a conserved one is halved
    at division, kept through a change of type and gained by an eater, as PhysiCell does)."""
    attributes = {}
    for node in d.under("custom_data/").values():
        if node.children:
            continue
        try:
            value = float(node.text)
        except ValueError:
            report.cannot(
                node, f"custom_data '{node.tag}' of '{d.name}'", f"'{node.text}' is not a number"
            )
            continue
        if not node.tag.isidentifier():
            report.cannot(
                node,
                f"custom_data '{node.tag}' of '{d.name}'",
                "tissue's attribute names are identifiers",
            )
            continue
        attributes[node.tag] = {
            "distribution": "constant",
            "value": value,
            "units": node.attrib.get("units") or "dimensionless",
            **({"conserved": True} if truthy(node.attrib.get("conserved", "false")) else {}),
        }
        report.note(f"{key}.attributes.{node.tag}", node, "custom_data")
    if attributes:
        entries["attributes"] = attributes
