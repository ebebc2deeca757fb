"""PhysiCell cell definitions as PhysiCell reads them (inheritance).

A definition is read as PhysiCell 1.14 reads it: the one named ``default`` or with ID 0 is
the cell defaults; a definition with ``parent_type`` starts as a copy of that parent; any
other starts as a copy of the defaults with motility, secretion, interactions and
transformations off (PhysiCell's inheritance fix of 2022), and then takes what it writes
itself (a cycle it writes replaces the inherited one whole). Values it leaves out take
PhysiCell's defaults. Every element is either mapped, known to make no difference here, or
reported (:class:`~tissue.io.physicell.report.Report`).

Phases are the exception (:func:`shared_phases`): PhysiCell keeps one object per cycle
model and per death model, which every definition using it shares, and reading a
definition writes its phases' ``fixed_duration`` flags (and a death model's exit rates)
into that object, so the last definition in the file to write a phase decides it for all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tissue.io.physicell.report import Report
from tissue.io.physicell.xmltree import Node, truthy

# inherited from the defaults only through parent_type (PhysiCell resets them otherwise)
RESET_WITHOUT_PARENT = (
    "phenotype/secretion",
    "phenotype/cell_interactions",
    "phenotype/cell_transformations",
    "phenotype/motility/options/enabled",
    "phenotype/motility/options/chemotaxis",
    "phenotype/motility/options/advanced_chemotaxis",
    "phenotype/cycle/standard_asymmetric_division",
)
APOPTOSIS, NECROSIS = 100, 101  # PhysiCell's codes of its death models
LIVE_CYCLE = 5  # PhysiCell's code of its "live" cycle model (a cycle's code by default)
# elements that change nothing a tissue run computes (output, bookkeeping of PhysiCell)
INERT = (
    "phenotype/mechanics/maximum_number_of_attachments",
    "phenotype/mechanics/attachment_elastic_constant",
    "phenotype/mechanics/detachment_rate",
    "phenotype/mechanics/cell_BM_adhesion_strength",
    "phenotype/mechanics/cell_BM_repulsion_strength",
    "phenotype/volume/relative_rupture_volume",
    "phenotype/cell_interactions/attack_damage_rate",
    "phenotype/cell_interactions/attack_duration",
    "phenotype/cell_integrity/damage_repair_rate",
)


def _ident(node: Node) -> str:
    """What tells a node from its siblings of the same tag, as a key suffix: a death
    model's code, a transition's phases, an index or a name (a cycle has none: one each)."""
    if node.tag == "model":
        return f"[{node.attrib.get('code', '')}]"
    if "start_index" in node.attrib:
        return f"[{node.attrib['start_index']}-{node.attrib.get('end_index', '')}]"
    for name in ("index", "name", "substrate"):
        if name in node.attrib and node.tag != "cycle":
            return f"[{node.attrib[name]}]"
    return ""


def flatten(node: Node, prefix: str = "") -> dict[str, Node]:
    """Every element below ``node`` by its path of tags (siblings told apart by their
    name, index, code or substrate attribute, e.g. ``phenotype/death/model[100]``)."""
    out: dict[str, Node] = {}
    for child in node.children:
        key = prefix + child.tag + _ident(child)
        out[key] = child
        out.update(flatten(child, key + "/"))
    return out


@dataclass
class Definition:
    """One cell definition after inheritance: its elements by path, and which were read;
    ``own``: the paths it writes itself; ``copied``: the definition it starts as a copy of
    (its parent, the defaults, or None for the defaults), for the values PhysiCell computes
    while reading a definition (:func:`~tissue.io.physicell.celltypes.adhesion_strength`)."""

    name: str
    node: Node
    elements: dict[str, Node]
    read: set[str] = field(default_factory=set)
    own: frozenset[str] = frozenset()
    copied: Definition | None = None

    def get(self, key: str) -> Node | None:
        """The element at ``key`` (marked read), or None."""
        self.read.add(key)
        return self.elements.get(key)

    def number(self, key: str, default: float, report: Report | None) -> float:
        """The number at ``key``, or ``default`` when absent. With a ``report``: the key is
        marked read and text that is not a number reported; without: only looked at."""
        node = self.get(key) if report is not None else self.elements.get(key)
        if node is None or node.text == "":
            return default
        try:
            return float(node.text)
        except ValueError:
            if report is not None:
                report.cannot(
                    node, f"<{node.tag}> of '{self.name}'", f"'{node.text}' is not a number"
                )
            return default

    def flag(self, key: str, default: bool) -> bool:
        """The boolean at ``key`` (an element's text), or ``default`` when absent."""
        node = self.get(key)
        return default if node is None or node.text == "" else truthy(node.text)

    def under(self, prefix: str) -> dict[str, Node]:
        """The elements whose path starts with ``prefix``, all marked read."""
        found = {k: v for k, v in self.elements.items() if k.startswith(prefix)}
        self.read.update(found)
        return found

    def unread(self) -> list[tuple[str, Node]]:
        """Leaf elements nothing read (and not known to be inert)."""
        return [
            (key, node)
            for key, node in self.elements.items()
            if not node.children and key not in self.read and not key.startswith(INERT)
        ]


def resolve(definitions: list[Node], report: Report) -> list[Definition]:
    """The definitions in file order, each after PhysiCell's inheritance."""
    out: dict[str, Definition] = {}
    defaults: Definition | None = None
    for node in definitions:
        name = node.attrib.get("name", "")
        if name in out or not name:
            report.cannot(
                node,
                f"cell_definition '{name}'",
                "a second definition of that name" if name else "a definition needs a name",
            )
            continue
        own = {
            k: v for k, v in flatten(node).items() if k.startswith(("phenotype/", "custom_data/"))
        }
        parent_name = node.attrib.get("parent_type")
        is_default = name == "default" or node.attrib.get("ID") == "0"
        if parent_name is not None:
            parent = out.get(parent_name)
            if parent is None:
                report.cannot(
                    node,
                    f"cell_definition '{name}'",
                    f"parent_type '{parent_name}' is not a definition above it",
                )
                inherited: dict[str, Node] = {}
            else:
                inherited = dict(parent.elements)
            copied = parent
        elif is_default or defaults is None:
            inherited, copied = {}, None
        else:
            copied = defaults
            inherited = {
                k: v for k, v in defaults.elements.items() if not k.startswith(RESET_WITHOUT_PARENT)
            }
        # a cycle, or a death model's phases, written here replace the inherited ones whole
        replaced = ["phenotype/cycle"] if any(k.startswith("phenotype/cycle") for k in own) else []
        replaced += [
            k[: k.index("/phase_")] + "/phase_"
            for k in own
            if "/death/model[" in k and "/phase_" in k
        ]
        inherited = {k: v for k, v in inherited.items() if not k.startswith(tuple(replaced))}
        definition = Definition(name, node, {**inherited, **own}, own=frozenset(own), copied=copied)
        out[name] = definition
        if is_default:
            defaults = definition
    return list(out.values())


@dataclass(frozen=True)
class Phase:
    """How a phase of a shared model is left: its exit rate (1/min; inf for a phase of 0
    min), whether that is a fixed duration, and the definition and element that wrote it
    (``by`` empty and ``node`` None: PhysiCell's default)."""

    rate: float
    fixed: bool
    by: str = ""
    node: Node | None = None


def exit_rate(duration_min: float) -> float:
    """The exit rate (1/min) of a phase of ``duration_min``: 0 for an endless one, inf for
    one of 0 min."""
    if duration_min == math.inf:
        return 0.0
    return math.inf if duration_min == 0 else 1.0 / duration_min


def _exit(node: Node, duration: bool) -> float:
    """The exit rate (1/min) a ``rate`` or ``duration`` element writes (text that is not a
    number reads as absent here; the definition's own reading reports it)."""
    try:
        value = float(node.text)
    except ValueError:
        value = math.inf if duration else 0.0
    return exit_rate(value) if duration else value


def shared_phases(definitions: list[Definition]) -> dict[tuple[str, int], dict[int, Phase]]:
    """PhysiCell's shared cycle and death models after it has read ``definitions`` (in
    file order): ("cycle" or "death", code) -> phase index -> :class:`Phase`. Every
    definition that uses a model has these flags; for death models the rates too (a dying
    cell copies the shared object's rates). Death models start from PhysiCell 1.14's
    defaults (apoptosis: 516 min, fixed; necrosis: 9e9/min, then 86,400 min fixed); a cycle
    phase no definition writes is absent."""
    shared: dict[tuple[str, int], dict[int, Phase]] = {
        ("death", APOPTOSIS): {0: Phase(1.0 / 516.0, True)},
        ("death", NECROSIS): {0: Phase(9e9, False), 1: Phase(1.0 / 86400.0, True)},
    }
    for d in definitions:
        for phenotype in (c for c in d.node.children if c.tag == "phenotype"):
            for group in phenotype.children:
                models = [("cycle", group)] if group.tag == "cycle" else []
                if group.tag == "death":
                    models = [("death", m) for m in group.children if m.tag == "model"]
                for kind, model in models:
                    code = int(model.attrib.get("code", LIVE_CYCLE if kind == "cycle" else -1))
                    phases = shared.setdefault((kind, code), {})
                    for tag, item, duration in (  # PhysiCell reads rates, then durations
                        ("phase_transition_rates", "rate", False),
                        ("phase_durations", "duration", True),
                    ):
                        for written in (c for c in model.children if c.tag == tag):
                            for node in (c for c in written.children if c.tag == item):
                                at = "start_index" if item == "rate" else "index"
                                phases[int(node.attrib.get(at, 0))] = Phase(
                                    _exit(node, duration),
                                    truthy(node.attrib.get("fixed_duration", "false")),
                                    d.name,
                                    node,
                                )
    return shared
