"""PhysiCell's death models (apoptosis and necrosis, with their volume changes) as tissue's
rates, clearance times and volume models, and the readers of phase lengths and volume models
that the cycle mapping shares (see :mod:`tissue.io.physicell.celltypes`).

A death model's phase lengths are PhysiCell's shared ones
(:func:`~tissue.io.physicell.definitions.shared_phases`): the last definition in the file
to write them decides them for every type, as PhysiCell runs it."""

from __future__ import annotations

import math
from typing import Any

from tissue.io.physicell.definitions import APOPTOSIS, NECROSIS, Definition, Phase, exit_rate
from tissue.io.physicell.report import Report
from tissue.io.physicell.xmltree import Node, truthy

DEATH_DEFAULTS = {  # PhysiCell 1.14's Death_Parameters, for those the XML leaves out
    "unlysed_fluid_change_rate": 3.0 / 60.0,
    "lysed_fluid_change_rate": 0.05 / 60.0,
    "cytoplasmic_biomass_change_rate": 1.0 / 60.0,
    "nuclear_biomass_change_rate": 0.35 / 60.0,
    "calcification_rate": 0.0,
    "relative_rupture_volume": 2.0,
}
MIN_DURATION = 1e-6  # min: a fixed phase of 0 min (left at the next phenotype step)
NEVER_MIN = 1e30  # min: the clearance time of a phase with exit rate 0


def volume_model(v: dict[str, float], fluid: float, cytoplasm: float, nucleus: float) -> dict:
    """A tissue volume model (division or apoptotic) of the volume ``v`` with these change
    rates (1/min): fluid, cytoplasmic and nuclear biomass."""
    return {
        "fluid_fraction": v["fluid_fraction"],
        "nuclear_fraction": v["nuclear"] / v["total"],
        "fluid_change_rate_per_min": fluid,
        "cytoplasmic_biomass_change_rate_per_min": cytoplasm,
        "nuclear_biomass_change_rate_per_min": nucleus,
    }


def rate_or_duration(
    d: Definition, prefix: str, start: int, end: int, report: Report
) -> tuple[float | None, bool, Node | None]:
    """The rate (1/min) of the transition ``start`` -> ``end`` of a cycle or death model,
    given as a rate or as the duration of phase ``start``, whether it is fixed, and its
    element; (None, False, None) when neither is given."""
    node = d.get(f"{prefix}/phase_transition_rates/rate[{start}-{end}]")
    if node is not None:
        rate = d.number(f"{prefix}/phase_transition_rates/rate[{start}-{end}]", 0.0, report)
        return rate, truthy(node.attrib.get("fixed_duration", "false")), node
    node = d.get(f"{prefix}/phase_durations/duration[{start}]")
    if node is not None:
        duration = d.number(f"{prefix}/phase_durations/duration[{start}]", math.inf, report)
        return exit_rate(duration), truthy(node.attrib.get("fixed_duration", "false")), node
    return None, False, None


def clearance(
    d: Definition,
    report: Report,
    entries: dict[str, Any],
    key: str,
    param: str,
    phase: Phase,
    own: tuple[float | None, bool, Node | None],
    model: Node,
    what: str,
) -> None:
    """``param`` (``apoptotic_clearance_min`` or ``necrotic_clearance_min``) and its kind
    from PhysiCell's shared ``phase``, noting where it was written and, where this
    definition wrote another (``own``: :func:`rate_or_duration`), that its own is not used."""
    rate = phase.rate
    entries[f"{param}_min"] = (
        NEVER_MIN if rate == 0 else MIN_DURATION if math.isinf(rate) else 1.0 / rate
    )
    if not phase.fixed:
        entries[param] = "random"
    text = what + ("" if phase.fixed else ", of random (exponential) length")
    if phase.by and phase.by != d.name:
        text += f", as '{phase.by}' wrote it into the one model PhysiCell keeps for every type"
        if own[2] is not None and (own[0], own[1]) != (rate, phase.fixed):
            text += f" (this type's own, line {own[2].line}, is overwritten)"
    elif not phase.by:
        text += ", PhysiCell's default"
    report.note(f"{key}.{param}_min", phase.node or own[2] or model, text)


def death(
    d: Definition,
    report: Report,
    entries: dict[str, Any],
    key: str,
    v: dict[str, float],
    ruled: set[str],
    shared: dict[tuple[str, int], dict[int, Phase]],
) -> None:
    """Apoptosis (rate, clearance, shrinking) and necrosis (reported where it can occur);
    ``shared``: PhysiCell's shared phases (:func:`shared_phases`)."""
    who = f"'{d.name}'"
    models = {k for k in d.elements if k.startswith("phenotype/death/model[") and k.count("/") == 2}
    d.get("phenotype/death")
    for model_key in sorted(models):
        node = d.get(model_key)
        code = int(node.attrib.get("code", "-1"))
        prefix = model_key
        rate = d.number(f"{prefix}/death_rate", 0.0, report)
        params = d.under(f"{prefix}/parameters/")
        happens = (
            rate > 0
            or (code == APOPTOSIS and "apoptosis" in ruled)
            or (code == NECROSIS and "necrosis" in ruled)
        )
        if code == APOPTOSIS:
            entries["apoptosis_rate_per_min"] = rate
            report.note(f"{key}.apoptosis_rate_per_min", d.get(f"{prefix}/death_rate"))
            own = rate_or_duration(d, prefix, 0, 1, report)
            phase = shared[("death", APOPTOSIS)][0]
            clearance(d, report, entries, key, "apoptotic_clearance", phase, own, node, "apoptotic")
            number = {k.rsplit("/", 1)[1]: float(n.text) for k, n in params.items() if n.text}
            for name in ("lysed_fluid_change_rate", "calcification_rate"):
                if number.get(name, 0.0) != 0 and happens:
                    report.cannot(
                        params[f"{prefix}/parameters/{name}"],
                        f"<{name}> of {who}",
                        "not modelled for apoptotic cells",
                    )
            a = {k: number.get(k, default) for k, default in DEATH_DEFAULTS.items()}
            entries["apoptotic_volume"] = volume_model(
                v,
                a["unlysed_fluid_change_rate"],
                a["cytoplasmic_biomass_change_rate"],
                a["nuclear_biomass_change_rate"],
            )
            report.note(f"{key}.apoptotic_volume", node, "PhysiCell's apoptotic shrinking")
        elif code == NECROSIS:
            owns = [rate_or_duration(d, prefix, k, k + 1, report) for k in range(2)]
            swelling, lysed = (shared[("death", NECROSIS)][k] for k in range(2))
            d.under(f"{prefix}/phase_")
            if happens:
                # a rate that rules move, as PhysiCell's; swelling to rupture, then lysis
                entries["necrosis_model"] = "rate"
                entries["necrosis_rate_per_min"] = rate
                report.note(f"{key}.necrosis_rate_per_min", d.get(f"{prefix}/death_rate"))
                number = {k.rsplit("/", 1)[1]: float(n.text) for k, n in params.items() if n.text}
                x = {k: number.get(k, default) for k, default in DEATH_DEFAULTS.items()}
                entries["necrotic_volume"] = {
                    "fluid_fraction": v["fluid_fraction"],
                    "nuclear_fraction": v["nuclear"] / v["total"],
                    "unlysed_fluid_change_rate_per_min": x["unlysed_fluid_change_rate"],
                    "lysed_fluid_change_rate_per_min": x["lysed_fluid_change_rate"],
                    "cytoplasmic_biomass_change_rate_per_min": x["cytoplasmic_biomass_change_rate"],
                    "nuclear_biomass_change_rate_per_min": x["nuclear_biomass_change_rate"],
                    "relative_rupture_volume": x["relative_rupture_volume"],
                }
                report.note(f"{key}.necrotic_volume", node, "PhysiCell's necrotic swelling, lysis")
                if x["calcification_rate"] != 0:
                    report.cannot(
                        params[f"{prefix}/parameters/calcification_rate"],
                        f"<calcification_rate> of {who}",
                        "calcification is not modelled",
                    )
                # the lysed phase (the second) starts at the rupture; the swelling phase
                # is held until the rupture (PhysiCell's arrest), so its length adds nothing
                # unless it is longer, which tissue does not model
                clearance(
                    d, report, entries, key, "necrotic_clearance", lysed, owns[1], node, "lysed"
                )
                if 0 < swelling.rate < 1e6:
                    report.cannot(
                        swelling.node or node,
                        f"necrotic swelling phase of {who}",
                        "a swelling phase with a length of its own (beyond the time to "
                        "rupture) is not modelled; --lenient: it ends at the rupture",
                    )
        else:
            d.under(f"{prefix}/")
            if happens:
                report.cannot(
                    node,
                    f"death model {code} of {who}",
                    "only apoptosis (100) and necrosis (101) are known",
                )
