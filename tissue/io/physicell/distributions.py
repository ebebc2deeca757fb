"""PhysiCell's initial parameter distributions (a cell definition's
``initial_parameter_distributions``) as the cell type's ``initial_distributions``.

PhysiCell (``set_parameters_from_distributions``, once, after the initial cells are placed)
draws for every cell of the definition, for each enabled ``distribution`` of an enabled
block, a value of its ``behavior`` from ``Uniform`` or ``LogUniform`` (``min``, ``max``),
``Normal``, ``LogNormal`` or ``Log10Normal`` (``mu`` and ``sigma`` of the value, its ln or
its log10; ``lower_bound`` and ``upper_bound`` on the value, redrawn outside), and sets the
behaviour (or the cell's volume) to it; with ``check_base`` (the default) it exits when the
definition's own value lies outside the range. A definition reads its own block, not its
parent's. Daughters copy the value (their phenotype), as tissue's own values pass on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from tissue.config import InitialDistribution
from tissue.io.physicell.definitions import Definition
from tissue.io.physicell.report import Report
from tissue.io.physicell.xmltree import Node
from tissue.signals import base_value

KINDS = {  # PhysiCell's type (any case) -> tissue's distribution
    "uniform": "uniform",
    "loguniform": "log_uniform",
    "normal": "normal",
    "lognormal": "lognormal",
    "log10normal": "log10_normal",
}
MOTILITY_XML = {  # PhysiCell's motility behaviours -> their elements
    "migration speed": "phenotype/motility/speed",
    "migration bias": "phenotype/motility/migration_bias",
    "migration persistence time": "phenotype/motility/persistence_time",
}
PARAMETERS = {  # PhysiCell's element -> tissue's parameter
    "min": "low",
    "max": "high",
    "mu": "mu",
    "sigma": "sigma",
    "lower_bound": "lower",
    "upper_bound": "upper",
}


def enabled(d: Definition) -> list[Node]:
    """The definition's enabled distributions (none where its block is disabled)."""
    block = d.node.child("initial_parameter_distributions")
    if block is None or not block.enabled(default=True):
        return []
    return [node for node in block.all("distribution") if node.enabled(default=True)]


def behaviour(node: Node) -> str:
    """A distribution's PhysiCell behaviour ("" when it names none)."""
    found = node.child("behavior")
    return found.text if found is not None else ""


def convert(
    d: Definition,
    report: Report,
    config: Any,
    tissue_name: Callable[[str], str],
    ruled: set[tuple[str, str]],
) -> dict[str, dict[str, Any]]:
    """The type's ``initial_distributions`` entries, by tissue's behaviour name. ``config``:
    the imported type (its base values); ``tissue_name``: tissue's name of a PhysiCell
    behaviour ("" when it has none); ``ruled``: the (type, behaviour) pairs rules move."""
    out: dict[str, dict[str, Any]] = {}
    for node in enabled(d):
        text = behaviour(node)
        what = f"initial distribution of '{text}' of '{d.name}'"
        kind = KINDS.get(node.attrib.get("type", "").lower())
        name = tissue_name(text)
        if kind is None:
            report.cannot(node, what, f"type '{node.attrib.get('type', '')}': PhysiCell knows "
                          "Uniform, LogUniform, Normal, LogNormal and Log10Normal")  # fmt: skip
            continue
        if text.lower() == "volume" or not name:
            why = "per-cell volumes are not modelled" if text.lower() == "volume" else (
                "tissue holds no per-cell value of it")  # fmt: skip
            report.cannot(node, what, f"{why}; --lenient: the type's value")
            continue
        if any(t == d.name and tissue_name(b) == name for t, b in ruled):
            report.remark(f"{report.short(report.settings)}:{node.line}: {what} left out: the "
                          "type's rules set it at PhysiCell's first phenotype step")  # fmt: skip
            continue
        entry: dict[str, Any] = {"distribution": kind}
        for tag, key in PARAMETERS.items():
            child = node.child(tag)
            if child is not None and child.text != "":
                entry[key] = float(child.text)
        try:
            drawn = InitialDistribution(**entry)
        except ValidationError as error:
            problem = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'distribution'}: {e['msg']}"
                for e in error.errors()
            )
            report.cannot(node, what, f"{problem} (PhysiCell needs these too)")
            continue
        if not name.startswith("chemotaxis.") and not drawn.nonnegative():
            report.cannot(node, what, "it may draw values below 0 (a Normal without a "
                          "lower_bound >= 0), which tissue's rates refuse")  # fmt: skip
            continue
        check = node.attrib.get("check_base", "true").strip().lower() not in ("false", "0")
        base = _base(d, config, text, name)
        low, high = drawn.value_range()
        if check and not low <= base <= high:
            report.cannot(node, what, f"the type's own value {base:g} lies outside "
                          f"[{low:g}, {high:g}], so PhysiCell exits (check_base); --lenient: "
                          "drawn anyway, as with check_base = false")  # fmt: skip
        out[name] = entry
        report.note(f"cell_types.{d.name}.initial_distributions.{name}", node,
                    f"initial parameter distribution of '{text}'")  # fmt: skip
    return out


def _base(d: Definition, config: Any, text: str, name: str) -> float:
    """The definition's own value of a behaviour, as check_base reads it: the imported
    type's, but motility's as written (a type that does not move is imported with 0s)."""
    written = d.elements.get(MOTILITY_XML.get(text, ""))
    if written is not None and written.text != "":
        return float(written.text)
    return base_value(config, name)
