"""PhysiCell cell definitions as PhysiCell reads them (inheritance).

A definition is read as PhysiCell 1.14 reads it: the one named ``default`` or with ID 0 is
the cell defaults; a definition with ``parent_type`` starts as a copy of that parent; any
other starts as a copy of the defaults with motility, secretion, interactions and
transformations off (PhysiCell's inheritance fix of 2022), and then takes what it writes
itself (a cycle it writes replaces the inherited one whole). Values it leaves out take
PhysiCell's defaults. Every element is either mapped, known to make no difference here, or
reported (:class:`~tissue.io.physicell.report.Report`).
"""

from __future__ import annotations

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
    "phenotype/cycle/asymmetric_division",
)
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
    """One cell definition after inheritance: its elements by path, and which were read."""

    name: str
    node: Node
    elements: dict[str, Node]
    read: set[str] = field(default_factory=set)

    def get(self, key: str) -> Node | None:
        """The element at ``key`` (marked read), or None."""
        self.read.add(key)
        return self.elements.get(key)

    def number(self, key: str, default: float, report: Report) -> float:
        """The number at ``key``, or ``default`` when absent."""
        node = self.get(key)
        if node is None or node.text == "":
            return default
        try:
            return float(node.text)
        except ValueError:
            report.cannot(node, f"<{node.tag}> of '{self.name}'", f"'{node.text}' is not a number")
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
        elif is_default or defaults is None:
            inherited = {}
        else:
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
        definition = Definition(name, node, {**inherited, **own})
        out[name] = definition
        if is_default:
            defaults = definition
    return list(out.values())
