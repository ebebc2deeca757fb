"""PhysiCell 1.14's phagocytosis of dead cells as tissue cell-type rates and rule behaviours.

A definition's ``dead_phagocytosis_rate`` sets its apoptotic, necrotic and "other dead"
rates; a specific rate written replaces its own; a definition that writes
<cell_interactions> takes only what it writes there (PhysiCell's reading of a child), one
that does not inherits. The apoptotic and necrotic rates become the type's
``apoptotic_phagocytosis_rate_per_min`` and ``necrotic_phagocytosis_rate_per_min`` where
above 0 or moved by a rule or the cells CSV, and the behaviours ``phagocytose apoptotic
cell`` and ``phagocytose necrotic cell`` (with PhysiCell's synonyms) the rule behaviours
``phagocytosis.apoptotic`` and ``phagocytosis.necrotic``. tissue's dead cells are apoptotic
or necrotic (as the model's death models make them), so "other dead" rates and rules change
nothing and are remarked. Live phagocytosis: each ``live_phagocytosis_rates/phagocytosis_rate``
of a type, above 0 or moved by ``phagocytose <type>``, becomes the type's
``live_phagocytosis_rates_per_min`` entry (rule behaviour ``phagocytosis.<type>``).
"""

from __future__ import annotations

from typing import Any

from tissue.io.physicell.definitions import Definition
from tissue.io.physicell.report import Report
from tissue.io.physicell.xmltree import Node
from tissue.signals import DEAD_KINDS, PHAGOCYTOSIS

PHAGOCYTOSE = {  # PhysiCell 1.14's behaviours of eating dead cells, with their synonyms
    "phagocytose apoptotic cell": "phagocytosis.apoptotic",
    "phagocytosis of apoptotic cell": "phagocytosis.apoptotic",
    "phagocytosis of apoptotic cells": "phagocytosis.apoptotic",
    "phagocytose necrotic cell": "phagocytosis.necrotic",
    "phagocytosis of necrotic cell": "phagocytosis.necrotic",
    "phagocytosis of necrotic cells": "phagocytosis.necrotic",
}
OTHER_DEAD = (
    "phagocytose other dead cell",
    "phagocytosis of other dead cell",
    "phagocytosis of other dead cells",
)


def phagocytosis_rates(
    d: Definition,
    report: Report,
    entries: dict[str, Any],
    key: str,
    ruled: set[str],
    type_names: list[str],
) -> bool:
    """Put definition ``d``'s rates of eating cells into its type's ``entries`` (scenario
    key ``key``), as the module doc says; ``ruled``: the PhysiCell behaviours that its rules
    or the cells CSV move. Returns whether the type eats."""
    tags = "phenotype/cell_interactions"
    own = d.node.find(tags)

    def rate(tag: str, default: float, fallback: Node | None) -> tuple[float, Node | None]:
        if own is not None and own.child(tag) is None:
            return default, fallback
        node = d.get(f"{tags}/{tag}")
        if node is None:
            return default, fallback
        return d.number(f"{tags}/{tag}", default, report), node

    dead, dead_node = rate("dead_phagocytosis_rate", 0.0, None)
    eats = False
    for behaviour, param in PHAGOCYTOSIS.items():
        kind = behaviour.split(".")[1]
        value, node = rate(f"{kind}_phagocytosis_rate", dead, dead_node)
        if value > 0 or any(PHAGOCYTOSE.get(b) == behaviour for b in ruled):
            entries[param] = value
            inherited = node is not None and node is dead_node
            note = "from <dead_phagocytosis_rate>, as PhysiCell 1.14 reads it" if inherited else ""
            report.note(f"{key}.{param}", node, note)
            eats = True
    live = {}
    for node in d.under(f"{tags}/live_phagocytosis_rates/").values():
        if node.tag != "phagocytosis_rate" or not node.text:
            continue
        target, value = node.attrib.get("name", ""), float(node.text)
        if target not in type_names:
            report.cannot(node, f"live phagocytosis of '{d.name}'", f"unknown type '{target}'")
        elif target in DEAD_KINDS:
            report.cannot(node, f"live phagocytosis of '{d.name}'", f"a type named '{target}' "
                          "(a dead state here) cannot be eaten alive")  # fmt: skip
        elif value > 0 or f"phagocytose {target}" in ruled:
            live[target] = value
    for behaviour in sorted(ruled):  # a rule may raise a rate the XML does not write
        target = behaviour.removeprefix("phagocytose ")
        if target != behaviour and target in type_names and target not in DEAD_KINDS:
            live.setdefault(target, 0.0)
    if live:
        entries["live_phagocytosis_rates_per_min"] = live
        report.note(
            f"{key}.live_phagocytosis_rates_per_min", d.get(f"{tags}/live_phagocytosis_rates")
        )
        eats = True
    other, node = rate("other_dead_phagocytosis_rate", dead, dead_node)
    if other > 0 and node is not None:
        report.remark(
            f"{report.short(report.settings)}:{node.line}: 'other dead' phagocytosis of "
            f"'{d.name}' ({other:g}/min) left out: no cell is 'other dead' here (tissue's "
            "dead cells are apoptotic or necrotic)"
        )
    return eats
