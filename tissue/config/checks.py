"""Cross-checks of a validated scenario: every name that refers to another entry (an organ,
a field, a label, a cell type, a systemic species, a signal or behaviour) must exist, and the
time steps must fit together and keep cells from overshooting. Checks that concern one model
alone are that model's validators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tissue.config.base import Z_FACES
from tissue.config.body import BlockSignal, Injection, Resection
from tissue.config.cells import ListCells, RandomCells
from tissue.config.fields import HillProduction, LabelSource
from tissue.errors import InputError
from tissue.limits import is_whole_multiple
from tissue.signals import (
    DEAD_KINDS,
    EXCHANGE_RATES,
    RESERVED_SIGNALS,
    base_value,
    behaviour_problem,
    parse_behaviour,
    parse_signal,
    signal_problem,
)

Need = Callable[[bool, str, str], None]
ValidatedScenario = Any  # a tissue.config.scenario.Scenario (which imports these checks)


def check_references(scenario: ValidatedScenario) -> None:
    """Names that refer to other entries must exist; time steps must fit together."""
    src = scenario.source
    organs = scenario.organs
    labels = {name: organ.label_names() for name, organ in organs.items()}
    all_labels = set().union(*(set(v) for v in labels.values()))

    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            raise InputError(src, key, message)

    for i, tname in enumerate(scenario.observables.tumour_types):
        need(
            tname in scenario.cell_types,
            f"observables.tumour_types.{i}",
            f"unknown cell type '{tname}'; types: {', '.join(scenario.cell_types) or '(none)'}",
        )
    for name, organ in organs.items():
        for label in organ.barrier_labels:
            need(
                label in labels[name],
                f"organs.{name}.barrier_labels",
                f"unknown label '{label}'; labels: {', '.join(labels[name])}",
            )
        for i, tname in enumerate(organ.growth.cell_types if organ.growth else []):
            need(
                tname in scenario.cell_types,
                f"organs.{name}.growth.cell_types.{i}",
                f"unknown cell type '{tname}'; types: {', '.join(scenario.cell_types)}",
            )

    for fname, field in scenario.fields.items():
        key = f"fields.{fname}"
        need(
            fname not in RESERVED_SIGNALS,
            key,
            f"'{fname}' names a rule signal ({', '.join(RESERVED_SIGNALS)}); rename the field",
        )
        for organ in field.organs or []:
            need(
                organ in organs,
                f"{key}.organs",
                f"unknown organ '{organ}'; organs: {', '.join(organs)}",
            )
        for label in field.diffusion_by_label:
            need(
                label in all_labels,
                f"{key}.diffusion_by_label.{label}",
                f"unknown label; labels: {', '.join(sorted(all_labels))}",
            )
        two_d = [o for o in scenario.field_organs(fname) if organs[o].two_d]
        for face in field.boundary_values:
            need(
                field.boundary == "dirichlet" and face in field.boundary_faces,
                f"{key}.boundary_values.{face}",
                f"a value for a face that is not a Dirichlet face; Dirichlet faces: "
                f"{', '.join(field.boundary_faces) if field.boundary == 'dirichlet' else '(none)'}",
            )
            need(
                face not in Z_FACES or not two_d,
                f"{key}.boundary_values.{face}",
                f"the z faces of a two_d organ ({', '.join(two_d)}) have no flux (as PhysiCell's "
                "2-D domains); allowed faces: x-, x+, y-, y+",
            )
        for i, source in enumerate(field.sources):
            skey = f"{key}.sources.{i}"
            if isinstance(source, LabelSource):
                need(
                    source.label in all_labels,
                    f"{skey}.label",
                    f"unknown label '{source.label}'; labels: {', '.join(sorted(all_labels))}",
                )
            else:
                need(
                    source.organ in scenario.field_organs(fname),
                    f"{skey}.organ",
                    f"field '{fname}' is not in organ '{source.organ}'",
                )
        for i, reaction in enumerate(field.reactions):
            if isinstance(reaction, HillProduction):
                rkey = f"{key}.reactions.{i}"
                problem = _activator_problem(scenario, reaction.activator)
                need(problem is None, f"{rkey}.activator", str(problem))
                for label in reaction.labels or []:
                    need(label in all_labels, f"{rkey}.labels", f"unknown label '{label}'")

    for tname, ctype in scenario.cell_types.items():
        key = f"cell_types.{tname}"
        for attr in ("chemotaxis_field", "oxygen_field"):
            value = getattr(ctype, attr)
            need(
                value is None or value in scenario.fields,
                f"{key}.{attr}",
                f"unknown field '{value}'; fields: {', '.join(scenario.fields) or '(none)'}",
            )
        for fname in ctype.chemotaxis_sensitivities:
            need(
                fname in scenario.fields,
                f"{key}.chemotaxis_sensitivities.{fname}",
                f"unknown field; fields: {', '.join(scenario.fields) or '(none)'}",
            )
        for fname in ctype.secretion:
            need(
                fname in scenario.fields,
                f"{key}.secretion.{fname}",
                f"unknown field; fields: {', '.join(scenario.fields) or '(none)'}",
            )
        for label in ctype.allowed_labels or []:
            need(
                label in all_labels,
                f"{key}.allowed_labels",
                f"unknown label '{label}'; labels: {', '.join(sorted(all_labels))}",
            )
        for fname in ctype.dead_secretion:
            need(
                fname in scenario.fields,
                f"{key}.dead_secretion.{fname}",
                f"unknown field; fields: {', '.join(scenario.fields) or '(none)'}",
            )
        type_list = ", ".join(scenario.cell_types)
        attacks = ctype.damage_attack.rates_per_min if ctype.damage_attack else {}
        for what, names in (
            ("damage_attack.rates_per_min", attacks),
            ("immunogenicity", ctype.immunogenicity),
            ("live_phagocytosis_rates_per_min", ctype.live_phagocytosis_rates_per_min),
            ("adhesion_affinities", ctype.adhesion_affinities),
        ):
            for other in names:
                need(
                    other in scenario.cell_types,
                    f"{key}.{what}.{other}",
                    f"unknown cell type; types: {type_list}",
                )
        for other in ctype.live_phagocytosis_rates_per_min:
            need(other not in DEAD_KINDS, f"{key}.live_phagocytosis_rates_per_min.{other}",
                 "a type named as a dead cell's state cannot be eaten alive here (rules "
                 f"on phagocytosis.{other} eat {other} dead cells)")  # fmt: skip
        for behaviour in ctype.scale_by:
            problem = behaviour_problem(behaviour, list(scenario.fields), list(scenario.cell_types))
            need(problem is None, f"{key}.scale_by", str(problem))
            need(
                parse_behaviour(behaviour).kind != "chemotaxis" or bool(ctype.sensitivities),
                f"{key}.scale_by",
                f"'{behaviour}': the type has no chemotaxis; give it chemotaxis_field or "
                "chemotaxis_sensitivities",
            )
        for behaviour in ctype.initial_distributions:
            _check_own_value(scenario, tname, behaviour, f"{key}.initial_distributions", need)
        for aname, attribute in ctype.attributes.items():
            units = {
                other.attributes[aname].units
                for other in scenario.cell_types.values()
                if aname in other.attributes
            }
            need(
                units == {attribute.units},
                f"{key}.attributes.{aname}.units",
                f"types give '{aname}' different units ({', '.join(sorted(units))}); one "
                "attribute has one unit",
            )

    for key, initial in scenario.placements():
        need(
            initial.organ in organs,
            f"{key}.organ",
            f"unknown organ '{initial.organ}'; organs: {', '.join(organs)}",
        )
        need(
            initial.type in scenario.cell_types,
            f"{key}.type",
            f"unknown cell type "
            f"'{initial.type}'; types: {', '.join(scenario.cell_types) or '(none)'}",
        )
        if isinstance(initial, ListCells) and initial.type in scenario.cell_types:
            _check_own_values(scenario, key, initial, need)
        if isinstance(initial, RandomCells) and initial.label is not None:
            need(
                initial.label in labels[initial.organ],
                f"{key}.label",
                f"unknown label; labels: {', '.join(labels[initial.organ])}",
            )

    _check_body(scenario, need, labels)
    _check_phagocytes(scenario, need)
    _check_time_steps(scenario)


def _check_own_values(scenario: ValidatedScenario, key: str, entry: ListCells, need: Need) -> None:
    """Per-cell values name the type's attributes, and behaviours of the type that its rules
    do not move and that it does not draw from an initial distribution."""
    drawn = scenario.cell_types[entry.type].initial_distributions
    declared = scenario.cell_types[entry.type].attributes
    for name in entry.attributes:
        need(name in declared, f"{key}.attributes.{name}",
             f"not an attribute of '{entry.type}'; its attributes: "
             f"{', '.join(declared) or '(none)'}")  # fmt: skip
    for behaviour in entry.behaviours:
        _check_own_value(scenario, entry.type, behaviour, f"{key}.behaviours", need)
        need(
            behaviour not in drawn,
            f"{key}.behaviours.{behaviour}",
            f"'{entry.type}' draws this behaviour from initial_distributions; give the cells' "
            "values or the distribution, not both",
        )


def _check_own_value(
    scenario: ValidatedScenario, cell_type: str, behaviour: str, key: str, need: Need
) -> None:
    """A behaviour that cells of ``cell_type`` hold per cell (placed with it or drawn) is
    one tissue knows, that the type's rules do not move (as in PhysiCell, they would
    overwrite it at once) and, for an attack rate, of a type that attacks."""
    where = f"{key}.{behaviour}"
    problem = behaviour_problem(behaviour, list(scenario.fields), list(scenario.cell_types))
    need(problem is None, where, str(problem))
    moved = {r.behaviour for r in scenario.rules.values() if r.cell_type == cell_type}
    need(
        behaviour not in moved,
        where,
        f"rules of '{cell_type}' move this behaviour; a cell's own value would be "
        "overwritten by them at once (as in PhysiCell): leave it out",
    )
    parsed = parse_behaviour(behaviour)
    need(
        not parsed.kind.startswith("attack")
        or scenario.cell_types[cell_type].damage_attack is not None,
        where,
        f"'{cell_type}' has no damage_attack",
    )
    attacker = scenario.cell_types.get(parsed.target) if parsed.kind == "immunogenicity" else None
    need(parsed.kind != "immunogenicity" or (attacker is not None and attacker.damage_attack),
         where, f"'{parsed.target}' has no damage_attack")  # fmt: skip


def _signal_problem(
    scenario: ValidatedScenario, signal: str, attributes: list[str] | None = None
) -> str | None:
    """:func:`tissue.signals.signal_problem` against the fields, systemic species and cell
    types of ``scenario`` (and a rule's type's ``attributes``)."""
    species = scenario.circulation.species if scenario.circulation else {}
    return signal_problem(
        signal, list(scenario.fields), list(species), list(scenario.cell_types), attributes
    )


def _activator_problem(scenario: ValidatedScenario, activator: str) -> str | None:
    """Why a reaction's activator is neither a field of ``scenario`` nor a systemic species
    (``blood.<species>``), or None."""
    if parse_signal(activator).kind == "blood":
        return _signal_problem(scenario, activator)
    if activator in scenario.fields:
        return None
    return f"unknown field; allowed: {', '.join(scenario.fields)} or blood.<species>"


def _check_body(scenario: ValidatedScenario, need: Need, labels: dict[str, dict[str, int]]) -> None:
    """Cross-references of the blood, recruitment, rules and interventions."""
    types = scenario.cell_types
    type_list = ", ".join(types) or "(none)"
    blood = scenario.circulation
    for tname, ctype in types.items():
        key = f"cell_types.{tname}"
        for target in ctype.transitions:
            need(
                target in types, f"{key}.transitions.{target}", f"unknown type; types: {type_list}"
            )
        for target, shares in ctype.transition_split.items():
            where = f"{key}.transition_split.{target}"
            need(target in types, where, f"unknown type; types: {type_list}")
            ruled = any(r.cell_type == tname and r.behaviour == f"transition.{target}"
                        for r in scenario.rules.values())  # fmt: skip
            need(target in ctype.transitions or ruled, where,
                 f"{tname} has no transition toward {target} (transitions or a rule)")  # fmt: skip
            for other in shares:
                need(other in types and other != tname, f"{where}.{other}",
                     f"a type other than {tname}; types: {type_list}")  # fmt: skip
            need(sum(shares.values()) <= 1.0, where, f"shares sum to {sum(shares.values()):g} > 1")
        for target in ctype.asymmetric_division:
            need(target in types and target != tname, f"{key}.asymmetric_division.{target}",
                 f"a type other than {tname}; types: {type_list}")  # fmt: skip
        if ctype.intravasation_rate_per_min > 0:
            need(blood is not None, f"{key}.intravasation_rate_per_min", "needs [circulation]")
        for target in ctype.attack.targets if ctype.attack else []:
            need(target in types, f"{key}.attack.targets", f"unknown type '{target}'; {type_list}")
            wanted = ctype.attack.target_attribute if ctype.attack else None
            if wanted is not None and target in types:
                need(
                    wanted in types[target].attributes,
                    f"{key}.attack.target_attribute",
                    f"target type '{target}' has no attribute '{wanted}'",
                )
    for fname, field in scenario.fields.items():
        exchange = field.blood_exchange
        if exchange is None:
            continue
        key = f"fields.{fname}.blood_exchange"
        species = blood.species if blood else {}
        need(
            exchange.species in species,
            f"{key}.species",
            f"no systemic species '{exchange.species}' in [circulation.species]; "
            f"species: {', '.join(species) or '(none)'}",
        )
    if blood is not None and blood.arrest_rate_per_min > 0:
        need(
            blood.arrest_organ in scenario.organs,
            "circulation.arrest_organ",
            f"required: an organ ({', '.join(scenario.organs)})",
        )
        organ_labels = labels.get(str(blood.arrest_organ), {})
        need(
            blood.arrest_label in organ_labels,
            "circulation.arrest_label",
            f"required: a label of the arrest organ ({', '.join(organ_labels)})",
        )
        need(
            blood.arrest_type in types, "circulation.arrest_type", f"required: a type ({type_list})"
        )
    for rname, recruit in scenario.recruitment.items():
        key = f"recruitment.{rname}"
        need(recruit.organ in scenario.organs, f"{key}.organ", f"unknown organ '{recruit.organ}'")
        need(recruit.type in types, f"{key}.type", f"unknown type '{recruit.type}'; {type_list}")
        organ_labels = labels.get(recruit.organ, {})
        need(
            recruit.label in organ_labels,
            f"{key}.label",
            f"unknown label '{recruit.label}'; labels: {', '.join(organ_labels)}",
        )
        allowed = types[recruit.type].allowed_labels if recruit.type in types else None
        need(
            allowed is None or recruit.label in allowed,
            f"{key}.label",
            f"type '{recruit.type}' may not enter '{recruit.label}' (its allowed_labels)",
        )
        if recruit.signal is not None:
            problem = _signal_problem(scenario, recruit.signal)
            need(problem is None, f"{key}.signal", str(problem))
    saturation: dict[tuple[str, str, bool], tuple[str, float]] = {}
    for rname, rule in scenario.rules.items():
        key = f"rules.{rname}"
        need(rule.cell_type in types, f"{key}.cell_type", f"unknown type; types: {type_list}")
        problem = behaviour_problem(rule.behaviour, list(scenario.fields), list(types))
        need(problem is None, f"{key}.behaviour", str(problem))
        need(
            parse_behaviour(rule.behaviour).kind != "chemotaxis"
            or bool(types[rule.cell_type].sensitivities),
            f"{key}.behaviour",
            f"'{rule.cell_type}' has no chemotaxis for the rule to move; give it "
            "chemotaxis_field or chemotaxis_sensitivities (0 for a field only rules raise)",
        )
        attributes = list(types[rule.cell_type].attributes) if rule.cell_type in types else []
        problem = _signal_problem(scenario, rule.signal, attributes)
        need(problem is None, f"{key}.signal", str(problem))
        parsed = parse_behaviour(rule.behaviour)
        owner = types.get(rule.cell_type)
        if owner is not None and parsed.kind == "attack":
            need(
                owner.damage_attack is not None,
                f"{key}.behaviour",
                f"'{rule.cell_type}' has no damage_attack for attack rules to move",
            )
        if parsed.kind == "immunogenicity" and parsed.target in types:
            need(types[parsed.target].damage_attack is not None, f"{key}.behaviour",
                 f"'{parsed.target}' has no damage_attack for the immunogenicity")  # fmt: skip
        if owner is not None and parsed.kind in EXCHANGE_RATES:
            need(
                parsed.target in owner.secretion,
                f"{key}.behaviour",
                f"'{rule.cell_type}' has no secretion.{parsed.target} (its target and rates) "
                "for the rule to move the rate of",
            )
        need(
            not rule.applies_to_dead
            or parsed.kind not in ("secretion_target", "uptake_rate", "export_rate"),
            f"{key}.applies_to_dead",
            "a dead cell's target, uptake and export are its type's (dead_secretion, or the "
            "live target for rules on its secretion rate); rules on them move live cells' only",
        )
        rises = rule.to_value >= base_value(types[rule.cell_type], rule.behaviour)
        first = saturation.setdefault(
            (rule.cell_type, rule.behaviour, rises), (rname, rule.to_value)
        )
        need(
            first[1] == rule.to_value,
            f"{key}.to_value",
            f"rules '{first[0]}' and '{rname}' both {'raise' if rises else 'lower'} "
            f"{rule.cell_type}'s {rule.behaviour} but to different values ({first[1]} and "
            f"{rule.to_value}); the rules on one behaviour combine as PhysiCell's do, with one "
            "value for those that raise it and one for those that lower it",
        )
    for iname, action in scenario.interventions.items():
        key = f"interventions.{iname}"
        if isinstance(action, BlockSignal):
            problem = _signal_problem(scenario, action.signal)
            need(problem is None, f"{key}.signal", str(problem))
        elif isinstance(action, Resection):
            need(action.organ in scenario.organs, f"{key}.organ", f"unknown organ '{action.organ}'")
        elif isinstance(action, Injection):
            need(
                blood is not None and blood.arrest_type is not None,
                f"{key}",
                "an injection needs [circulation] with an arrest organ, label and type",
            )
        for tname in getattr(action, "cell_types", None) or []:
            need(tname in types, f"{key}.cell_types", f"unknown type '{tname}'; {type_list}")
    for i, tname in enumerate(scenario.observables.dormant_types):
        need(tname in types, f"observables.dormant_types.{i}", f"unknown type; {type_list}")


def _check_phagocytes(scenario: ValidatedScenario, need: Need) -> None:
    """A type that eats cells has a volume model, by whose rates the eaten volume relaxes
    back."""
    for tname in scenario.phagocytes():
        need(
            scenario.cell_types[tname].division_volume is not None,
            f"cell_types.{tname}.division_volume",
            "required for a type that eats cells (a phagocytosis rate above 0, a rule "
            "on one or cells placed with their own): the eaten volume relaxes back at its "
            f"rates; write [cell_types.{tname}.division_volume] for PhysiCell's defaults",
        )


def _check_time_steps(scenario: ValidatedScenario) -> None:
    src = scenario.source
    steps = scenario.time_steps
    base = min(steps.diffusion_min, steps.mechanics_min, steps.phenotype_min)
    for key, value in [
        ("time_steps.diffusion_min", steps.diffusion_min),
        ("time_steps.mechanics_min", steps.mechanics_min),
        ("time_steps.phenotype_min", steps.phenotype_min),
        ("run.output_interval_min", scenario.run.output_interval_min),
        ("run.snapshot_interval_min", scenario.run.snapshot_interval_min),
    ]:
        if not is_whole_multiple(value, base):
            raise InputError(
                src,
                key,
                f"{value} min is not a whole multiple of the shortest time step ({base} min)",
            )
    dt = steps.mechanics_min
    for tname, ctype in scenario.cell_types.items():
        ruled = [r.to_value for r in scenario.rules.values()
                 if r.cell_type == tname and r.behaviour == "repulsion"]  # fmt: skip
        repulsion = max([ctype.repulsion_um_per_min, *ruled])  # the most rules can make it
        limit = ctype.radius_um / max(repulsion, 1e-30)
        if dt > limit:
            raise InputError(
                src,
                "time_steps.mechanics_min",
                f"{dt} min is too long for "
                f"cell type '{tname}' (repulsion {repulsion} "
                f"um/min, radius {ctype.radius_um} um): cells would overshoot; "
                f"allowed: <= {limit:.3g} min",
            )
        for oname, organ in scenario.organs.items():
            spacing = min(organ.spacing_xyz_um)
            if ctype.speed_um_per_min * dt > spacing:
                raise InputError(
                    src,
                    "time_steps.mechanics_min",
                    f"{dt} min lets cell type "
                    f"'{tname}' move more than one voxel ({spacing} um in "
                    f"{oname}) per step; allowed: <= "
                    f"{spacing / ctype.speed_um_per_min:.3g} min",
                )
