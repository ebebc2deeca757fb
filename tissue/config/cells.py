"""Cells: cell types (cycle, death, motility, secretion, transitions, intravasation, attack)
and the initial placements (a ball or shell, random positions in a label, a list)."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal, Self, Union

from pydantic import Field, model_validator

from tissue.config.base import Finite, Model, NonNegative, Positive, Vector3, require
from tissue.config.initial import InitialDistribution


class Secretion(Model):
    """A cell's exchange with one field (BioFVM's model), per cell:

    d(c)/dt += [secretion_rate_per_min * (secretion_target - c) - uptake_rate_per_min * c]
    * V_cell / V_voxel + export_rate / V_voxel, with ``export_rate`` in amount/min.
    """

    secretion_rate_per_min: NonNegative = 0.0
    secretion_target: NonNegative = 0.0
    uptake_rate_per_min: NonNegative = 0.0
    export_rate: NonNegative = 0.0


class Attribute(Model):
    """A per-cell attribute (PhysiCell's custom data): each new cell of the type draws its
    value from ``distribution``, clipped to [``min``, ``max``] where given; daughters keep
    their parent's value, plus a normal ``mutation_sd`` where it is > 0 (then clipped). A
    cell that changes to this type takes its value as a new cell would, unless it is
    ``conserved`` (PhysiCell's conserved quantity): then the cell keeps its value through the
    change, division splits it in half between the two cells, and an eater gains the value
    of the dead cell it eats.

    Distributions: ``constant`` (``value``), ``normal`` (``mean``, ``sd``), ``lognormal``
    (``mean`` and ``sd`` of the value itself, > 0), ``uniform`` (``low`` to ``high``).
    """

    units: str = "dimensionless"
    distribution: Literal["constant", "normal", "lognormal", "uniform"] = "constant"
    value: Finite | None = None
    mean: Finite | None = None
    sd: NonNegative | None = None
    low: Finite | None = None
    high: Finite | None = None
    min: Finite | None = None
    max: Finite | None = None
    mutation_sd: NonNegative = 0.0
    conserved: bool = False

    NEEDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "constant": ("value",),
        "normal": ("mean", "sd"),
        "lognormal": ("mean", "sd"),
        "uniform": ("low", "high"),
    }

    @model_validator(mode="after")
    def check_parameters(self) -> Self:
        """The distribution has its parameters and no others; the ranges run upward."""
        needed = self.NEEDS[self.distribution]
        for name in ("value", "mean", "sd", "low", "high"):
            given = getattr(self, name) is not None
            require(
                given == (name in needed),
                name,
                f"{'required' if name in needed else 'not used'} for a {self.distribution} "
                f"distribution (it takes {', '.join(needed)})",
            )
        if self.distribution == "lognormal":
            require(self.mean is not None and self.mean > 0, "mean", "must be > 0 (lognormal)")
        if self.distribution == "uniform":
            require(self.low is not None and self.high is not None and self.low < self.high,
                    "high", "must be greater than low")  # fmt: skip
        require(self.min is None or self.max is None or self.min <= self.max,
                "max", "must be >= min")  # fmt: skip
        return self


class AttributeScale(Model):
    """A behaviour of the type scaled by one of its attributes, after the rules: by the
    attribute's value (``kind = "multiply"``, PhysiCell's oncoprotein on the cycle) or by a
    linear ramp from 0 at ``zero_at`` to 1 at and above ``full_at`` (``kind = "ramp"``)."""

    attribute: str
    kind: Literal["multiply", "ramp"] = "multiply"
    zero_at: Finite | None = None
    full_at: Finite | None = None

    @model_validator(mode="after")
    def check_ramp(self) -> Self:
        """A ramp has both ends, in order; a multiplication has neither."""
        ramp = self.kind == "ramp"
        for name in ("zero_at", "full_at"):
            require((getattr(self, name) is not None) == ramp, name,
                    "required for a ramp" if ramp else "only for kind = \"ramp\"")  # fmt: skip
        require(not ramp or self.zero_at < self.full_at, "full_at", "must be > zero_at")  # type: ignore[operator]
        return self


class Attack(Model):
    """A cytotoxic cell's attack (PhysiCell's cancer-immune rules), checked every mechanics
    step. A free live attacker picks one live cell of ``targets`` within
    ``attach_distance_um`` uniformly and attaches with probability
    1 - exp(-attach_rate * s * g * dt); while attached its kill draw succeeds with
    probability 1 - exp(-kill_rate * s * dt), which starts the target's apoptosis if it is
    still live (a dead one's s counts too, as in PhysiCell), and it lets go after
    ``attachment_min`` (``release = "fixed"``) or at rate 1/``attachment_min`` (``"random"``,
    PhysiCell), when its kill draw succeeds, and when its target is gone or farther than the
    reach.

    s: 1, or with ``target_attribute`` a ramp of the target's attribute from 0 at
    ``attribute_zero_at`` to 1 at ``attribute_full_at`` (targets at or below the zero are
    never attacked). g: 1, or with ``attach_full_within_um`` a ramp of the distance d, 1 at
    and below it, 0 at ``attach_distance_um``. An attacker that has a target in reach does
    not migrate that step (attached or not, as in PhysiCell); ``spring_per_min`` pulls an
    attached pair together (each cell's velocity gains k (x_other - x_self)). With
    ``search_voxel_um`` an attacker only looks at cells in its own cube of that side (a grid
    from the organ's origin), as PhysiCell's cancer-immune attacker searches only its
    mechanics voxel (30 um).
    """

    targets: list[str] = Field(min_length=1)
    attach_rate_per_min: NonNegative = 0.2  # PhysiCell cancer-immune sample
    kill_rate_per_min: NonNegative = 0.06667  # PhysiCell cancer-immune sample
    attachment_min: Positive = 60.0  # PhysiCell cancer-immune sample
    release: Literal["fixed", "random"] = "fixed"
    attach_distance_um: Positive | None = None
    attach_full_within_um: NonNegative | None = None
    search_voxel_um: Positive | None = None
    target_attribute: str | None = None
    attribute_zero_at: Finite = 0.0
    attribute_full_at: Finite = 1.0
    spring_per_min: NonNegative = 0.0

    @model_validator(mode="after")
    def check_ramps(self) -> Self:
        """The distance and attribute ramps run upward."""
        require(
            self.attach_full_within_um is None
            or (
                self.attach_distance_um is not None
                and self.attach_full_within_um < self.attach_distance_um
            ),
            "attach_full_within_um",
            "needs attach_distance_um, and must be less than it",
        )
        require(self.attribute_zero_at < self.attribute_full_at, "attribute_full_at",
                "must be > attribute_zero_at")  # fmt: skip
        return self


class DamageAttack(Model):
    """PhysiCell 1.14's attack (its standard cell-cell interactions), checked every mechanics
    step: damage dealt while attached, death left to the target's rules on ``damage``.

    A live attacker that attacks no cell may start on a live cell touching it (centres closer
    than the sum of their adhesion reaches) of a type T it attacks: PhysiCell draws each such
    neighbour in turn with probability p = r_T i dt (r_T: ``rates_per_min[T]`` or the rules'
    ``attack.<T>``; i: the target type's ``immunogenicity`` to the attacker's type, 1 by
    default). tissue picks one of the k candidates uniformly and starts with probability
    1 - (1 - min(p, 1))^k for the picked one's p: the same law when the candidates' p are
    equal. While attacking, the attacker deals ``damage_rate_per_min`` dt damage to its live
    target each step (the first step included) and adds it to its own damage delivered; the
    attack ends with probability min(dt / ``duration_min``, 1) a step (PhysiCell's: its mean
    length is ``duration_min``, and at least one step), or when the target is dead or gone.
    Attackers keep migrating; ``spring_per_min`` pulls an attacking pair together as for
    :class:`Attack` (PhysiCell's spring between attached cells, there from the step after the
    start, here from the step of it). Defaults: PhysiCell 1.14.2's cell defaults.
    """

    rates_per_min: dict[str, NonNegative] = {}
    damage_rate_per_min: NonNegative = 1.0
    duration_min: Positive = 0.1
    spring_per_min: NonNegative = 0.0


class ApoptoticVolume(Model):
    """PhysiCell's volume loss of an apoptotic cell (its standard apoptosis model): the fluid
    (``fluid_fraction`` of the volume) drains at ``fluid_change_rate_per_min`` and the
    cytoplasmic and nuclear solids (the nucleus is ``nuclear_fraction`` of the solid) at their
    biomass change rates, all toward 0, so

    V(t) / V0 = f e^(-r_f t) + (1 - f) [n e^(-r_n t) + (1 - n) e^(-r_c t)]

    t after death. The cell's radius (mechanics, contacts) and exchange volume follow V.
    Defaults: PhysiCell 1.14.2's cell defaults (2,494 um^3 with a 540 um^3 nucleus)."""

    fluid_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.75
    nuclear_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 540.0 / 2494.0
    fluid_change_rate_per_min: NonNegative = 0.05
    cytoplasmic_biomass_change_rate_per_min: NonNegative = 1.0 / 60.0
    nuclear_biomass_change_rate_per_min: NonNegative = 0.35 / 60.0


class NecroticVolume(Model):
    """PhysiCell's volume of a necrotic cell (its standard necrosis model): the solids (the
    nucleus ``nuclear_fraction`` of them) are lost at their biomass change rates while the
    cell swells, its fluid growing at ``unlysed_fluid_change_rate_per_min`` toward the whole
    volume, until it reaches ``relative_rupture_volume`` times its volume at death; it then
    lyses: the fluid drains at ``lysed_fluid_change_rate_per_min`` (and the solids go on).
    With f = ``fluid_fraction`` at death, S(t) the solids and t after death,

        V(t) / V0 = f + r_u int_0^t S + S(t) while swelling,
        V(t) / V0 = F(t_r) e^(-r_l (t - t_r)) + S(t) after the rupture at t_r,

    S(t) = (1 - f) [n e^(-r_n t) + (1 - n) e^(-r_c t)]. The radius (mechanics, contacts) and
    exchange volume follow V; ``necrotic_clearance_min`` then counts from the rupture (a
    cell that never ruptures stays), as PhysiCell's lysed phase starts there. Defaults:
    PhysiCell 1.14.2's necrosis parameters and cell defaults (its calcification is not
    modelled)."""

    fluid_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.75
    nuclear_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 540.0 / 2494.0
    unlysed_fluid_change_rate_per_min: NonNegative = 0.67 / 60.0
    lysed_fluid_change_rate_per_min: NonNegative = 0.05 / 60.0
    cytoplasmic_biomass_change_rate_per_min: NonNegative = 0.0032 / 60.0
    nuclear_biomass_change_rate_per_min: NonNegative = 0.013 / 60.0
    relative_rupture_volume: Annotated[float, Field(gt=1.0)] = 2.0


class DivisionVolume(Model):
    """PhysiCell's standard volume model for live cells, solved exactly once a phenotype
    step (PhysiCell updates volumes then): the nuclear and cytoplasmic solids relax to
    their targets (``nuclear_fraction`` and the rest of 1 - ``fluid_fraction`` of the
    type's volume V0, times 2 while the targets are doubled) at their biomass change
    rates, and the fluid toward ``fluid_fraction`` of the total at
    ``fluid_change_rate_per_min``. A division halves every part of the volume and the
    targets. The targets double when the cell enters a phase that ``grows`` (PhysiCell's S
    phase: a cell grows toward 2 V0 and its daughters start near V0); a type without such a
    phase doubles them as its daughters start its cycle again (PhysiCell's live cycle:
    each daughter starts at half its parent's volume and grows back to V0). Cells placed
    or added whole are at their targets. A cell that dies keeps the volume it had (an
    apoptotic one shrinks from it by :class:`ApoptoticVolume`). Defaults: PhysiCell
    1.14.2's cell defaults."""

    fluid_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.75
    nuclear_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 540.0 / 2494.0
    fluid_change_rate_per_min: Positive = 0.05
    cytoplasmic_biomass_change_rate_per_min: Positive = 0.0045
    nuclear_biomass_change_rate_per_min: Positive = 0.0055


class CyclePhase(Model):
    """A phase of a cell cycle after its first (PhysiCell's cycle models): left after
    ``duration_min`` (fixed: at the first phenotype step when the time in the phase exceeds
    the duration less half a step, as PhysiCell does) or at ``rate_per_min`` (exponential);
    the cell moves to the next phase (from the last back to the first) and, if ``divides``,
    divides as it leaves (both cells start the next phase). ``grows``: entering the phase
    doubles the cell's volume targets, which its division halves (PhysiCell's S, Ki67+ and
    cycling phases; see :class:`DivisionVolume`)."""

    name: str = ""
    duration_min: Positive | None = None
    rate_per_min: NonNegative | None = None
    divides: bool = False
    grows: bool = False

    @model_validator(mode="after")
    def check_exit(self) -> Self:
        """A phase is left after a duration or at a rate, not both."""
        require((self.duration_min is None) != (self.rate_per_min is None), "duration_min",
                "give duration_min (fixed) or rate_per_min (exponential), one of them")  # fmt: skip
        return self


class CellTypeConfig(Model):
    """One cell type. Defaults: PhysiCell 1.14.2 tumour cell (Ghaffarizadeh 2018).

    Motility: persistent random walk with chemotactic bias (PhysiCell's rule), up the
    gradient of ``chemotaxis_field`` or along the signed sum of several fields' gradients
    (``chemotaxis_sensitivities``, field -> s; PhysiCell's advanced chemotaxis: the bias
    direction is normalise(sum s g), or normalise(sum s g/|g|) with
    ``chemotaxis_normalize_each``; a negative s moves down that gradient).
    ``chemotaxis_field = "F"`` is ``chemotaxis_sensitivities = { F = 1.0 }``.
    Cycle: rate ramps linearly from 0 at ``cycle_oxygen_threshold`` to full at
    ``cycle_oxygen_saturation``. Necrosis: rate ramps from 0 at
    ``necrosis_oxygen_threshold`` to full at and below ``necrosis_oxygen_max``, or with
    ``necrosis_model = "rate"`` is ``necrosis_rate_per_min`` wherever the cell is (PhysiCell's
    rule-based models, where rules on ``necrosis`` move it).
    Apoptotic cells keep their volume until cleared, or shrink by ``apoptotic_volume``;
    necrotic ones keep it, or swell, rupture and lyse by ``necrotic_volume``. Clearance:
    ``apoptotic_clearance_min`` after death (``necrotic_clearance_min`` after the rupture),
    or with ``apoptotic_clearance = "random"`` (``necrotic_clearance``) at that mean, with
    probability 1 - exp(-dt / mean) each phenotype step (PhysiCell's phase that is not of
    fixed duration).
    Cycle phases: without ``cycle_phases`` a live cell divides at ``cycle_rate_per_min``
    (probability exp(rate dt) - 1 per step: exponential growth at exactly that rate); with
    them, ``cycle_rate_per_min`` is the rate of leaving the first phase (PhysiCell's "cycle
    entry", probability 1 - exp(-rate dt)), and the cell then passes through the listed
    phases (see :class:`CyclePhase`), dividing on leaving those that divide. With
    ``cycle_first_phase = "fixed"`` the first phase instead lasts 1 / ``cycle_rate_per_min``
    (the rate after rules; PhysiCell's first phase of fixed duration), and a type without
    ``cycle_phases`` divides on leaving it.
    Adhesion between cells i and j: sqrt(a_i f_i(j) a_j f_j(i)) for a the
    ``adhesion_um_per_min`` and f a type's ``adhesion_affinities`` to the other's type (1
    unless given; PhysiCell's ``cell_adhesion_affinities``).
    Division: the two cells sit half a radius either side of the parent's centre
    (``division_placement = "symmetric"``) or, as PhysiCell 1.14 places them, one a radius
    out and the other half a radius back (``"physicell"``); both keep the type's volume, or
    take half the parent's and grow by ``division_volume``.
    Secretion: live cells exchange by ``secretion``, dead ones by ``dead_secretion`` (none
    by default; PhysiCell's dead cells take up a tenth of their oxygen, and its cancer-immune
    tumour cells keep secreting the immunostimulatory factor).
    Attributes: per-cell values (see :class:`Attribute`); ``scale_by`` maps a behaviour
    (``cycle``, ``apoptosis``, ``transition.<type>``, ``secretion.<field>``,
    ``chemotaxis.<field>``) to the attribute that scales it (see :class:`AttributeScale`).
    ``initial_distributions`` maps a behaviour (names as rules give them) to the
    distribution each placed cell draws its own value from (see
    :class:`InitialDistribution`).
    Transitions: a live cell becomes type T at ``transitions[T]`` per minute (before rules);
    ``transition_split[T][U]`` is the share of those changes that make the cell type U
    instead (e.g. the extravasated cells that proliferate at once rather than become MICs);
    the rules move the rate toward T, the shares stay.
    Asymmetric division (PhysiCell's): at division the daughter becomes type T with
    probability ``asymmetric_division[T]`` (moved by rules on ``asymmetric_division.T``; at
    most 1 in all, else scaled to 1), taking T's phenotype as a changed cell does; the
    parent stays.
    Intravasation: a live cell within ``intravasation_distance_um`` of a voxel of
    ``intravasation_label`` enters the blood at ``intravasation_rate_per_min``.
    Attack: ``attack`` (PhysiCell's cancer-immune sample: attach, then kill) or
    ``damage_attack`` (PhysiCell 1.14's: damage, see :class:`DamageAttack`), not both;
    ``immunogenicity`` scales a damage attack on this type by the attacker's type (1 for a
    type not listed).
    Damage: each phenotype step of dt, damage -> (damage + ``damage_rate_per_min`` dt) /
    (1 + ``damage_repair_rate_per_min`` dt) (PhysiCell's step), besides the attacks' damage.
    Phagocytosis (PhysiCell 1.14's, of dead cells): every mechanics step dt a live cell eats
    each touching apoptotic cell with probability ``apoptotic_phagocytosis_rate_per_min`` dt
    and each necrotic one with ``necrotic_phagocytosis_rate_per_min`` dt (rates after
    rules), at most one a step; the eaten cell is removed and its volume joins the eater's,
    which relaxes back by the type's ``division_volume`` (required for a type that eats; see
    :func:`tissue.rules.phagocytosis_step`). Dead cells are apoptotic or necrotic here, so
    PhysiCell's "other dead" cells have no counterpart. ``live_phagocytosis_rates_per_min``
    (type -> 1/min) eats touching live cells of each type the same way (PhysiCell's live
    phagocytosis): the kinds are competing chances, and a cell picked by an eater eats
    nothing in that step.
    """

    radius_um: Positive = 8.4
    allowed_labels: list[str] | None = None
    speed_um_per_min: NonNegative = 0.0
    persistence_min: NonNegative = 5.0  # 0: a new direction every mechanics step
    chemotaxis_bias: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    chemotaxis_field: str | None = None
    chemotaxis_sensitivities: dict[str, Finite] = {}
    chemotaxis_normalize_each: bool = False
    cycle_rate_per_min: NonNegative = 0.0
    cycle_phases: list[CyclePhase] = []
    cycle_first_phase: Literal["random", "fixed"] = "random"
    oxygen_field: str | None = None
    cycle_oxygen_threshold: NonNegative = 5.0
    cycle_oxygen_saturation: NonNegative = 38.0
    apoptosis_rate_per_min: NonNegative = 0.0
    apoptotic_clearance_min: Positive = 516.0
    apoptotic_clearance: Literal["fixed", "random"] = "fixed"
    apoptotic_volume: ApoptoticVolume | None = None
    necrotic_volume: NecroticVolume | None = None
    division_volume: DivisionVolume | None = None
    division_placement: Literal["symmetric", "physicell"] = "symmetric"
    necrosis_rate_per_min: NonNegative = 0.0
    necrosis_model: Literal["oxygen_ramp", "rate"] = "oxygen_ramp"
    necrosis_oxygen_threshold: NonNegative = 5.0
    necrosis_oxygen_max: NonNegative = 2.5
    necrotic_clearance_min: Positive = 86400.0
    necrotic_clearance: Literal["fixed", "random"] = "fixed"
    apoptotic_phagocytosis_rate_per_min: NonNegative = 0.0
    necrotic_phagocytosis_rate_per_min: NonNegative = 0.0
    live_phagocytosis_rates_per_min: dict[str, NonNegative] = {}
    repulsion_um_per_min: NonNegative = 10.0
    adhesion_um_per_min: NonNegative = 0.4
    adhesion_affinities: dict[str, NonNegative] = {}
    adhesion_range: Annotated[float, Field(ge=1.0, le=3.0)] = 1.25
    secretion: dict[str, Secretion] = {}
    dead_secretion: dict[str, Secretion] = {}
    attributes: dict[str, Attribute] = {}
    scale_by: dict[str, AttributeScale] = {}
    initial_distributions: dict[str, InitialDistribution] = {}
    transitions: dict[str, NonNegative] = {}
    transition_split: dict[str, dict[str, Annotated[float, Field(ge=0.0, le=1.0)]]] = {}
    asymmetric_division: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = {}
    intravasation_rate_per_min: NonNegative = 0.0
    intravasation_label: str | None = None
    intravasation_distance_um: NonNegative = 10.0
    attack: Attack | None = None
    damage_attack: DamageAttack | None = None
    immunogenicity: dict[str, NonNegative] = {}
    damage_rate_per_min: NonNegative = 0.0
    damage_repair_rate_per_min: NonNegative = 0.0

    @property
    def sensitivities(self) -> dict[str, float]:
        """The chemotactic sensitivity to each field the type senses (field -> s, signed;
        empty without chemotaxis)."""
        if self.chemotaxis_field is not None:
            return {self.chemotaxis_field: 1.0}
        return dict(self.chemotaxis_sensitivities)

    @model_validator(mode="after")
    def check_ranges(self) -> Self:
        """The oxygen ramps run the right way; chemotaxis is given one way; intravasation
        says where."""
        require(
            self.necrosis_oxygen_max <= self.necrosis_oxygen_threshold,
            "necrosis_oxygen_max",
            "must be <= necrosis_oxygen_threshold",
        )
        require(
            self.cycle_oxygen_threshold < self.cycle_oxygen_saturation or self.oxygen_field is None,
            "cycle_oxygen_saturation",
            "must be > cycle_oxygen_threshold",
        )
        require(
            self.chemotaxis_field is None or not self.chemotaxis_sensitivities,
            "chemotaxis_sensitivities",
            "give chemotaxis_field (up one field) or chemotaxis_sensitivities, not both",
        )
        require(
            not self.chemotaxis_normalize_each or bool(self.chemotaxis_sensitivities),
            "chemotaxis_normalize_each",
            "only with chemotaxis_sensitivities",
        )
        require(sum(self.asymmetric_division.values()) <= 1.0, "asymmetric_division",
                "the probabilities add up to more than 1")  # fmt: skip
        for behaviour, drawn in self.initial_distributions.items():
            require(behaviour.startswith("chemotaxis.") or drawn.nonnegative(),
                    f"initial_distributions.{behaviour}",
                    "may draw values below 0 (only a chemotaxis.<field> sensitivity may be "
                    "negative): give low >= 0, or lower >= 0 for a normal")  # fmt: skip
        for behaviour, scale in self.scale_by.items():
            require(scale.attribute in self.attributes, f"scale_by.{behaviour}.attribute",
                    f"'{scale.attribute}' is not an attribute of this type; attributes: "
                    f"{', '.join(self.attributes) or '(none)'}")  # fmt: skip
        require(
            not self.cycle_phases or any(phase.divides for phase in self.cycle_phases),
            "cycle_phases",
            "one phase at least divides (divides = true)",
        )
        require(
            self.attack is None or self.damage_attack is None,
            "damage_attack",
            "a type attacks one way: attack (attach and kill) or damage_attack, not both",
        )
        require(
            self.intravasation_rate_per_min == 0 or self.intravasation_label is not None,
            "intravasation_label",
            "required when intravasation_rate_per_min > 0",
        )
        return self


class SphereCells(Model):
    """Cells filling a ball (or the shell between ``inner_radius_um`` and ``radius_um``):
    ``count`` uniform random positions, or when ``count`` is omitted a lattice: hexagonal
    close packing at one cell diameter, or PhysiCell's cancer-immune sphere (``packing =
    "physicell"``, its ``create_cell_sphere_positions``). Positions outside the organ or in
    voxels the type may not enter are left empty (the ball is clipped to the tissue). In a
    2-D organ the cells fill the disc (or ring) where the ball meets the organ's plane: a
    hexagonal lattice, PhysiCell's ``create_cell_circle_positions``, or ``count`` uniform."""

    kind: Literal["sphere"]
    organ: str
    type: str
    center_um: Vector3
    radius_um: Positive
    inner_radius_um: NonNegative = 0.0
    count: Annotated[int, Field(ge=0)] | None = None
    packing: Literal["hexagonal", "physicell"] = "hexagonal"

    @model_validator(mode="after")
    def check_shell(self) -> Self:
        """The inner radius of a shell is inside the outer one."""
        require(
            self.inner_radius_um < self.radius_um, "inner_radius_um", "must be less than radius_um"
        )
        return self


class RandomCells(Model):
    """Exactly ``count`` cells at uniform random positions in the voxels of ``label`` (or
    of the whole organ) that the type may enter."""

    kind: Literal["random"]
    organ: str
    type: str
    count: Annotated[int, Field(ge=0)]
    label: str | None = None


class ListCells(Model):
    """Cells at explicit positions, each inside the organ in a voxel the type may enter (in
    a 2-D organ, inside its layer: the cell is put on the plane).

    ``behaviours``: per-cell values of behaviours (names as rules give them, e.g.
    ``apoptosis`` or ``attack.<type>``), one per position, ``nan`` for the type's: a cell's
    value replaces its type's for that cell and its daughters (PhysiCell's cells.csv). The
    type's rules may not move a behaviour set so (PhysiCell's rules overwrite it at once).
    ``attributes``: per-cell values of the type's attributes, one per position, ``nan`` for
    one drawn as the type's (PhysiCell's ``custom:`` columns); daughters keep them.
    """

    kind: Literal["list"]
    organ: str
    type: str
    positions_um: list[Vector3]
    behaviours: dict[str, list[float]] = {}
    attributes: dict[str, list[float]] = {}

    @model_validator(mode="after")
    def check_values(self) -> Self:
        """One value per position: a behaviour's >= 0 or nan, an attribute's finite or nan."""
        count = len(self.positions_um)
        for what, table in (("behaviours", self.behaviours), ("attributes", self.attributes)):
            for name, values in table.items():
                require(len(values) == count, f"{what}.{name}",
                        f"{len(values)} values for {count} positions")  # fmt: skip
        for name, values in self.behaviours.items():
            require(all(v >= 0 or v != v for v in values), f"behaviours.{name}",
                    "values are >= 0, or nan for the type's")  # fmt: skip
        for name, values in self.attributes.items():
            require(all(math.isfinite(v) or v != v for v in values), f"attributes.{name}",
                    "values are finite, or nan for one drawn as the type's")  # fmt: skip
        return self


InitialCells = Annotated[
    Union[SphereCells, RandomCells, ListCells],  # noqa: UP007
    Field(discriminator="kind"),
]
