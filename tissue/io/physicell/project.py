"""A PhysiCell project (``config/PhysiCell_settings.xml``, its rules CSV and initial cells
CSV) as a tissue scenario."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tissue.config import CellTypeConfig, Scenario
from tissue.config.scenario import scenario_from_dict
from tissue.errors import InputError
from tissue.io.physicell import celltypes, definitions, distributions
from tissue.io.physicell.cells import Placed, initial_cells
from tissue.io.physicell.report import Finding, Report, UnsupportedModel
from tissue.io.physicell.rules import behaviour_name, read_rows, rules
from tissue.io.physicell.tomlout import commented_toml
from tissue.io.physicell.xmltree import Node, parse, truthy

ORGAN = "domain"  # the one organ of an imported model: PhysiCell's domain
LABEL = "tissue"
SETTINGS = Path("config") / "PhysiCell_settings.xml"
FACES = {"xmin": "x-", "xmax": "x+", "ymin": "y-", "ymax": "y+", "zmin": "z-", "zmax": "z+"}
SECTIONS = (
    "domain",
    "overall",
    "parallel",
    "save",
    "options",
    "microenvironment_setup",
    "cell_definitions",
    "initial_conditions",
    "cell_rules",
    "user_parameters",
)


@dataclass
class Imported:
    """An imported model: the scenario, its commented TOML, and what ``lenient`` dropped or
    approximated (empty in a strict import)."""

    scenario: Scenario
    toml: str
    dropped: list[Finding]


def import_physicell(project: str | Path, lenient: bool = False) -> Imported:
    """The tissue scenario of a PhysiCell project folder (or of its settings XML file).

    Strict (default): raises :class:`UnsupportedModel` listing every element and rule that
    tissue cannot express, with its file and line; ``lenient`` drops or approximates them
    (each in ``dropped``, as the message says). Bad files raise InputError.
    """
    path = Path(project)
    settings = path if path.is_file() else path / SETTINGS
    root_dir = settings.parent.parent if settings.parent.name == "config" else settings.parent
    shown = str(settings)
    report = Report(root_dir, shown)
    root = parse(settings, shown)
    if root.tag != "PhysiCell_settings":
        raise InputError(shown, root.tag, "not a PhysiCell settings file (root PhysiCell_settings)")
    for child in root.children:
        if child.tag not in SECTIONS:
            report.cannot(child, f"<{child.tag}>", "not a section tissue knows")
    name = root_dir.resolve().name or "physicell"
    data: dict[str, Any] = {
        "name": name,
        "description": f"Imported from the PhysiCell project {name}",
    }
    domain, box, plane_z = _domain(root, report)
    data["run"], data["time_steps"] = _times(root, report)
    data["organs"] = {ORGAN: domain}
    substrates, data["fields"] = _fields(root, report, two_d=plane_z is not None)

    nodes = _section(root, "cell_definitions").all("cell_definition")
    resolved = definitions.resolve(nodes, report)
    shared = definitions.shared_phases(resolved)
    type_names = [d.name for d in resolved]
    rows = []
    for path_, file_shown in _rule_files(root, report, root_dir):
        rows += read_rows(path_, file_shown, report)
    ruled = {(r.cell_type, r.behaviour) for r in rows}
    ids = {d.node.attrib.get("ID", str(i)): d.name for i, d in enumerate(resolved)}

    def tissue_name(text: str) -> str:
        return behaviour_name(text, substrates, type_names)[0]

    custom = {d.name: {k.split("/")[1] for k in d.elements if k.startswith("custom_data/")}
              for d in resolved}  # fmt: skip
    placed = _placements(root, report, root_dir, ids, box, plane_z, tissue_name, ruled, custom)
    drawn = {
        (d.name, distributions.behaviour(n)) for d in resolved for n in distributions.enabled(d)
    }
    _drop_drawn(placed, drawn, tissue_name, report)
    present = ruled | placed.behaviours | drawn  # processes that may raise a rate from 0
    types: dict[str, Any] = {}
    secretion: dict[str, dict[str, dict[str, float]]] = {}
    elastic: dict[str, float] = {}
    advanced: set[str] = set()  # the types that move by advanced chemotaxis
    for d in resolved:
        parts = celltypes.cell_type(
            d,
            report,
            substrates,
            type_names,
            {b for t, b in present if t == d.name},
            two_d=plane_z is not None,
            shared=shared,
        )
        types[d.name] = parts.entries
        secretion[d.name] = parts.base_secretion
        elastic[d.name] = parts.elastic_per_min
        if parts.advanced_chemotaxis:
            advanced.add(d.name)
        for key, node in d.unread():
            if node.text or node.children or node.attrib:  # an empty element says nothing
                report.cannot(
                    node, f"<{node.tag}> of '{d.name}'", f"{key}: not known to the importer"
                )
    _springs(root, report, types, elastic)
    data["cell_types"] = types
    configs = {t: CellTypeConfig.model_construct(**entries) for t, entries in types.items()}
    data["rules"] = rules(rows, report, substrates, type_names, configs, secretion, advanced)
    for d in resolved:
        drawn_values = distributions.convert(d, report, configs[d.name], tissue_name, ruled)
        if drawn_values:
            types[d.name]["initial_distributions"] = drawn_values
    data["initial_cells"] = placed.placements

    # an element inherited by several types is reported once, for the first (its writer)
    findings, seen = [], set()
    for finding in report.findings:
        if (finding.file, finding.line, finding.reason) not in seen:
            seen.add((finding.file, finding.line, finding.reason))
            findings.append(finding)
    if findings and not lenient:
        raise UnsupportedModel(shown, findings)
    header = [
        f"{name}: imported from the PhysiCell project {root_dir} by `tissue import-physicell`"
        + (" --lenient" if lenient else ""),
        "Comments give each value's source line; see README.md, 'PhysiCell models'.",
    ]
    if findings:
        header += ["", "Dropped or approximated (--lenient):"] + [f"  {f}" for f in findings]
    if report.remarks:
        header += ["", "Left out (they change nothing):"] + [f"  {r}" for r in report.remarks]
    text = commented_toml(data, report.comments, header)
    scenario = scenario_from_dict(tomllib.loads(text), f"{shown} (imported)")
    return Imported(scenario, text, findings)


def _springs(root: Node, report: Report, types: dict[str, Any], elastic: dict[str, float]) -> None:
    """The spring of each damage attack: PhysiCell holds an attacking pair with
    sqrt(k_attacker k_target) (affinities 1; others are reported) unless the options disable
    automated spring adhesions; one attacker's targets must agree on it."""
    option = _section(root, "options").child("disable_automated_spring_adhesions")
    if option is not None and truthy(option.text):
        return
    for name, entries in types.items():
        attack = entries.get("damage_attack")
        if attack is None:
            continue
        springs = {math.sqrt(elastic[name] * elastic[t]) for t in attack["rates_per_min"]}
        if len(springs) == 1:
            attack["spring_per_min"] = springs.pop()
        else:
            report.cannot(
                option or root,
                f"the springs of '{name}''s attacks",
                "targets with different attachment_elastic_constant give different springs; "
                "tissue has one per attacker",
            )


def _section(root: Node, tag: str) -> Node:
    return root.child(tag) or Node(tag, {}, root.line)


def _number(node: Node | None, report: Report, what: str, default: float | None = None) -> float:
    """The number in ``node``'s text (``default`` when absent; reported when neither)."""
    if node is None or node.text == "":
        if default is None:
            raise InputError(report.settings, what, "required")
        return default
    try:
        return float(node.text)
    except ValueError:
        raise InputError(
            report.settings, f"line {node.line}", f"<{node.tag}> '{node.text}' is not a number"
        ) from None


def _domain(
    root: Node, report: Report
) -> tuple[dict[str, Any], tuple[tuple[float, float], ...], float | None]:
    """The organ, the domain's (min, max) per axis, and the z of the cells' plane in 2-D."""
    node = _section(root, "domain")
    lo = [_number(node.child(f"{a}_min"), report, f"domain/{a}_min") for a in "xyz"]
    hi = [_number(node.child(f"{a}_max"), report, f"domain/{a}_max") for a in "xyz"]
    step = [_number(node.child(f"d{a}"), report, f"domain/d{a}") for a in "xyz"]
    two_d = node.child("use_2D") is not None and truthy(node.child("use_2D").text)  # type: ignore[union-attr]
    counts = []
    for axis, a, b, d in zip("xyz", lo, hi, step, strict=True):
        if two_d and axis == "z":
            counts.append(1)
            continue
        n = (b - a) / d
        if abs(n - round(n)) > 1e-6 or round(n) < 3:
            report.cannot(
                node.child(f"{axis}_max") or node,
                f"domain {axis}",
                f"({b:g} - {a:g}) / {d:g} = {n:g} voxels: tissue needs a whole number "
                f">= 3; --lenient: {max(3, round(n))}",
            )
        counts.append(max(3, round(n)))
    origin = list(lo)
    plane_z = None
    if two_d:
        origin[2], plane_z = -step[2] / 2.0, 0.0  # BioFVM's one layer, centred on z = 0
        lo[2], hi[2] = -step[2] / 2.0, step[2] / 2.0
    organ: dict[str, Any] = {
        "shape": counts,
        "spacing_um": step[0] if step[0] == step[1] == step[2] else step,
        "origin_um": origin,
        "geometry": {"kind": "box", "label": LABEL},
    }
    if two_d:
        organ["two_d"] = True
    report.note(f"organs.{ORGAN}.shape", node, "PhysiCell's domain" + (" (2-D)" if two_d else ""))
    box = tuple(zip(lo, [a + n * d for a, n, d in zip(lo, counts, step, strict=True)], strict=True))
    return organ, box, plane_z


def _times(root: Node, report: Report) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run length, outputs and seed; the three time steps."""
    overall = _section(root, "overall")
    for tag, allowed in (("time_units", "min"), ("space_units", "micron")):
        node = overall.child(tag)
        if node is not None and node.text not in (allowed, ""):
            report.cannot(node, f"<{tag}>", f"'{node.text}': tissue reads PhysiCell's {allowed}")
    max_time = _number(overall.child("max_time"), report, "overall/max_time")
    steps = {
        f"{k}_min": _number(overall.child(f"dt_{k}"), report, f"overall/dt_{k}", default)
        for k, default in (("diffusion", 0.01), ("mechanics", 0.1), ("phenotype", 6.0))
    }
    shortest = min(steps.values())
    for k, v in steps.items():
        ratio = v / shortest
        if abs(ratio - round(ratio)) > 1e-6:
            report.cannot(
                overall.child("dt_" + k[:-4]) or overall,
                f"dt_{k[:-4]}",
                f"{v:g} min is not a whole multiple of {shortest:g} min (tissue needs that)",
            )
    save = _section(root, "save")
    full = save.child("full_data")
    interval = max_time
    if full is not None and truthy((full.child("enable") or Node("", {}, 0, "true")).text):
        interval = _number(full.child("interval"), report, "save/full_data/interval", max_time)
    run: dict[str, Any] = {
        "days": max_time / 1440.0,
        "output_interval_min": interval,
        "snapshot_interval_min": interval,
    }
    report.note("run.days", overall.child("max_time"), f"max_time {max_time:g} min")
    report.note("run.snapshot_interval_min", full, "full_data interval")
    options = _section(root, "options")
    seed_node = options.child("random_seed")
    if seed_node is None:
        seed_node = _section(root, "user_parameters").child("random_seed")
    seed_text = seed_node.text if seed_node is not None else ""
    if seed_text.isdigit():
        run["seed"] = int(seed_text)
        report.note("run.seed", seed_node)
    else:
        report.cannot(
            seed_node or options,
            "random_seed",
            f"'{seed_text or 'system clock'}': a "
            "run needs a fixed seed to be reproduced; --lenient: 0",
        )
    for tag, bad, why in (
        ("virtual_wall_at_domain_edge", False, "tissue keeps cells inside the domain"),
        (
            "legacy_random_points_on_sphere_in_divide",
            True,
            "tissue divides along a uniform direction",
        ),
        ("legacy_cell_defaults_copy", True, "definitions inherit as PhysiCell's fix has it"),
    ):
        node = options.child(tag)
        if node is not None and truthy(node.text) == bad:
            report.cannot(node, f"<{tag}>", why)
    return run, steps


def _fields(root: Node, report: Report, two_d: bool) -> tuple[list[str], dict[str, Any]]:
    """The substrates (BioFVM's variables) as fields, with PhysiCell's Dirichlet rules:
    the outer voxels hold a substrate's value only when some substrate enables the overall
    condition; each face then follows its own option where one is given."""
    setup = _section(root, "microenvironment_setup")
    variables = setup.all("variable")
    outer = any(
        v.child("Dirichlet_boundary_condition") is not None
        and v.child("Dirichlet_boundary_condition").enabled(default=False)  # type: ignore[union-attr]
        for v in variables
    )
    fields: dict[str, Any] = {}
    for v in variables:
        name = v.attrib.get("name", "")
        params = v.child("physical_parameter_set") or Node("", {}, v.line)
        entry: dict[str, Any] = {
            "units": v.attrib.get("units") or "dimensionless",
            "diffusion_um2_per_min": _number(
                params.child("diffusion_coefficient"), report, f"{name} diffusion_coefficient"
            ),
            "decay_per_min": _number(params.child("decay_rate"), report, f"{name} decay_rate", 0.0),
            "initial": _number(
                v.child("initial_condition"), report, f"{name} initial_condition", 0.0
            ),
        }
        if entry["initial"] < 0:
            report.cannot(
                v.child("initial_condition") or v, f"initial condition of '{name}'", "must be >= 0"
            )
            entry["initial"] = 0.0
        report.note(f"fields.{name}", v, "BioFVM variable")
        boundary = v.child("Dirichlet_boundary_condition")
        value = _number(boundary, report, f"{name} Dirichlet value", 0.0)
        enabled = boundary is not None and boundary.enabled(default=False)
        faces = dict.fromkeys(FACES.values(), value) if enabled else {}
        options = v.child("Dirichlet_options")
        for option in options.all("boundary_value") if options is not None else []:
            face = FACES.get(option.attrib.get("ID", ""))
            if face is None:
                report.cannot(option, "Dirichlet option", f"ID '{option.attrib.get('ID')}'")
            elif option.enabled(default=False):
                faces[face] = _number(option, report, f"{name} {face} value", 0.0)
            else:
                faces.pop(face, None)
        if two_d:
            faces = {f: x for f, x in faces.items() if f[0] != "z"}
        if outer and faces:
            if min(faces.values()) < 0:
                report.cannot(
                    boundary or v, f"Dirichlet values of '{name}'", "must be >= 0; --lenient: 0"
                )
                faces = {f: max(x, 0.0) for f, x in faces.items()}
            entry.update(boundary="dirichlet", boundary_faces=list(faces), boundary_values=faces)
            report.note(f"fields.{name}.boundary_values", boundary, "Dirichlet condition")
        fields[name] = entry
    for tag, node in (
        ("initial_condition", setup.find("options/initial_condition")),
        ("dirichlet_nodes", setup.find("options/dirichlet_nodes")),
    ):
        if node is not None and node.enabled(default=False):
            report.cannot(node, f"<{tag}> from a file", "not imported")
    return list(fields), fields


def _rule_files(root: Node, report: Report, root_dir: Path) -> list[tuple[Path, str]]:
    """The enabled rules CSV files (version 3)."""
    out = []
    rulesets = root.find("cell_rules/rulesets")
    for ruleset in rulesets.all("ruleset") if rulesets is not None else []:
        if not ruleset.enabled(default=True):
            continue
        version = ruleset.attrib.get("version", "3")
        if ruleset.attrib.get("format", "csv") != "csv" or not version.startswith("3"):
            report.cannot(
                ruleset,
                "ruleset",
                f"format {ruleset.attrib.get('format')} version "
                f"{version}: tissue reads version 3 CSV",
            )
            continue
        path = _file(ruleset, root_dir)
        if not path.is_file():
            raise InputError(
                report.settings, f"line {ruleset.line}", f"rules file {path} not found"
            )
        out.append((path, str(path)))
    return out


def _file(node: Node, root_dir: Path) -> Path:
    """The file a ``folder``/``filename`` pair names, from the project folder."""
    folder = node.child("folder")
    filename = node.child("filename")
    return (
        root_dir
        / (folder.text if folder is not None else ".")
        / (filename.text if filename is not None else "")
    )


def _drop_drawn(
    placed: Placed,
    drawn: set[tuple[str, str]],
    tissue_name: Callable[[str], str],
    report: Report,
) -> None:
    """Leave out the cells CSV's values of behaviours that the type's initial distributions
    draw: PhysiCell draws them after reading the cells, over the file's values."""
    for entry in placed.placements:
        values = entry.get("behaviours", {})
        for text in sorted({b for t, b in drawn if t == entry["type"]}):
            if values.pop(tissue_name(text), None) is not None:
                report.remark(f"cells CSV column '{text}' of '{entry['type']}' left out: its "
                              "initial distribution is drawn over it")  # fmt: skip
        if "behaviours" in entry and not values:
            del entry["behaviours"]


def _placements(
    root: Node,
    report: Report,
    root_dir: Path,
    ids: dict[str, str],
    box: tuple[tuple[float, float], ...],
    plane_z: float | None,
    tissue_name: Callable[[str], str],
    ruled: set[tuple[str, str]],
    custom: dict[str, set[str]],
) -> Placed:
    """Initial cells: the template's ``number_of_cells`` of each type at random, then the
    cells CSV (see :func:`initial_cells` for ``tissue_name``, ``ruled`` and ``custom``)."""
    out: list[dict[str, Any]] = []
    count_node = _section(root, "user_parameters").child("number_of_cells")
    count = int(_number(count_node, report, "number_of_cells", 0.0))
    if count > 0:
        out += [
            {"kind": "random", "organ": ORGAN, "type": t, "count": count} for t in custom
        ]  # each type
        report.note("initial_cells.0", count_node, "number_of_cells of each type at random")
    positions = root.find("initial_conditions/cell_positions")
    if positions is not None and positions.enabled(default=False):
        if positions.attrib.get("type", "csv") != "csv":
            report.cannot(
                positions,
                "cell_positions",
                f"type '{positions.attrib.get('type')}': tissue reads csv",
            )
        else:
            path = _file(positions, root_dir)
            if not path.is_file():
                raise InputError(
                    report.settings, f"line {positions.line}", f"cells file {path} not found"
                )
            placed = initial_cells(
                path, str(path), report, ORGAN, ids, box, plane_z, tissue_name, ruled, custom
            )
            return Placed(out + placed.placements, placed.behaviours)
    return Placed(out, set())
