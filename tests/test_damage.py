"""PhysiCell 1.14's damage and its attack: damage at a rate with repair (PhysiCell's step),
attacks started per touching candidate, damage dealt while attached, attacks that end at
PhysiCell's per-step probability or with the target, rules that read damage and move attack
rates, and rules on dead cells (debris secretion). Statistical checks use 1,000 independent
pairs and a 5-sigma binomial tolerance."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario
from tests.test_checkpoint import assert_same_state
from tissue.behaviours import Behaviours
from tissue.cells import APOPTOTIC, LIVE, NECROTIC
from tissue.config import scenario_from_dict
from tissue.errors import InputError
from tissue.organ import Contacts
from tissue.rules import cell_exchange
from tissue.simulation import Simulation

SIDE = 10  # groups on a SIDE^3 lattice, 100 um apart
DT = 0.1  # mechanics step (min)
STILL = {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0}


def lattice() -> list[tuple[float, float, float]]:
    return [(50.0 + 100 * i, 50.0 + 100 * j, 50.0 + 100 * k)
            for i in range(SIDE) for j in range(SIDE) for k in range(SIDE)]  # fmt: skip


def groups(
    targets_at: tuple[float, ...] = (12.0,),
    attackers_at: tuple[float, ...] = (0.0,),
    attack: dict[str, Any] | None = None,
    tumour: dict[str, Any] | None = None,
    tcell: dict[str, Any] | None = None,
    others: dict[str, Any] | None = None,
    **extra: Any,
) -> Simulation:
    """SIDE^3 isolated groups: tumour cells and T cells at the given x offsets from each
    lattice point (12 um apart touch: the reaches are 10.5 um each); no forces, no motion."""
    spec = {"rates_per_min": {"tumour": 3.0}, "damage_rate_per_min": 1.0,
            "duration_min": 1e6, **(attack or {})}  # fmt: skip
    data = box_scenario(
        organs={"box": {"shape": [20, 20, 20], "spacing_um": 50.0}},
        cell_types={
            "tumour": {**STILL, **(tumour or {})},
            "tcell": {**STILL, "damage_attack": spec, **(tcell or {})},
            **(others or {}),
        },
        initial_cells=extra.pop("initial_cells", [
            {"kind": "list", "organ": "box", "type": kind,
             "positions_um": [[x + dx, y, z] for x, y, z in lattice() for dx in offsets]}
            for kind, offsets in (("tumour", targets_at), ("tcell", attackers_at))
        ]),
        **extra,
    )  # fmt: skip
    return Simulation(scenario_from_dict(data, "damage"), backend="cpu", seed=11)


def of_type(sim: Simulation, name: str, column: str) -> np.ndarray:
    cells = sim.organs["box"].cells
    return getattr(cells, column)[cells.type == sim.types.names.index(name)]


def binomial_ok(observed: float, p: float, n: int = SIDE**3) -> bool:
    return abs(observed - p) <= 5 * math.sqrt(max(p * (1 - p), 1e-4) / n)


@pytest.mark.parametrize(
    ("targets_at", "immunogenicity", "expected"),
    [((12.0,), 1.0, 0.3), ((12.0, -12.0), 1.0, 1 - 0.7**2), ((12.0,), 0.5, 0.15)],
)
def test_an_attack_starts_with_physicells_probability(
    targets_at: tuple[float, ...], immunogenicity: float, expected: float
) -> None:
    """PhysiCell draws each touching candidate with p = rate x immunogenicity x dt (0.3
    here): one step starts an attack with probability 1 - (1 - p)^k for k candidates."""
    sim = groups(targets_at, tumour={"immunogenicity": {"tcell": immunogenicity}})
    sim.step(1)
    started = float((of_type(sim, "tcell", "partner") >= 0).mean())
    assert binomial_ok(started, expected)


def test_an_attacker_deals_damage_each_step_and_targets_sum_their_attackers() -> None:
    """Attacks that start at once (p = 1) and do not end: after m steps each target has
    taken m x damage_rate x dt from each of its two attackers, and each attacker has
    delivered its share; attackers touch no other target (groups 100 um apart)."""
    sim = groups(attackers_at=(0.0, 24.0), attack={"rates_per_min": {"tumour": 50.0},
                                                   "damage_rate_per_min": 2.0})  # fmt: skip
    steps = 37
    sim.step(steps)
    per_attacker = 2.0 * DT * steps
    assert (of_type(sim, "tcell", "partner") >= 0).all()
    np.testing.assert_allclose(of_type(sim, "tcell", "damage_delivered"), per_attacker, rtol=1e-5)
    np.testing.assert_allclose(of_type(sim, "tumour", "damage"), 2 * per_attacker, rtol=1e-5)


def test_the_time_under_attack_sums_the_attackers_and_restarts_at_division() -> None:
    """PhysiCell's "total attack time": two attackers that hold on add 2 dt a step to their
    target's (37 steps: 7.4 min), and a rule reads it: apoptosis to 1000/min past 15 min
    (Hill 100) spares every target at the phenotype step at 6 min (61 steps: 12.2) and
    kills them at 12 min (24.2). Targets that divide restart it, the daughters too."""
    attack = {"rates_per_min": {"tumour": 50.0}}
    rule = {"cell_type": "tumour", "behaviour": "apoptosis", "signal": "attack_time",
            "to_value": 1000.0, "half_max": 15.0, "hill_coefficient": 100.0}  # fmt: skip
    sim = groups(attackers_at=(0.0, 24.0), attack=attack, rules={"die": rule})
    sim.step(37)
    np.testing.assert_allclose(of_type(sim, "tumour", "attack_time_min"), 2 * DT * 37,
                               rtol=1e-5)  # fmt: skip
    sim.step(61 - 37)  # through the phenotype step at 6 min
    assert (of_type(sim, "tumour", "state") == LIVE).all()
    sim.step(60)  # through the one at 12 min
    assert (of_type(sim, "tumour", "state") == APOPTOTIC).all()
    growing = groups(attackers_at=(0.0,), attack=attack, rules={"die": rule},
                     tumour={"cycle_rate_per_min": 10.0})  # fmt: skip
    growing.step(61)  # attacked for 6 min, then every cell divides at the step at 6 min
    times = of_type(growing, "tumour", "attack_time_min")
    assert times.size > SIDE**3
    assert (times == 0).all()
    growing.step(1)
    assert of_type(growing, "tumour", "attack_time_min").max() == np.float32(DT)


def test_a_rule_on_a_targets_immunogenicity_arms_its_attackers() -> None:
    """PhysiCell's "immunogenicity to T": tumour cells of immunogenicity 0 to the T cells
    are never attacked until their rule raises it (time, half-max 0.001 min: set to ~1 at
    the phenotype step at 6 min and held); then every attack starts at once (p = 1)."""
    rule = {"cell_type": "tumour", "behaviour": "immunogenicity.tcell", "signal": "time",
            "to_value": 1.0, "half_max": 1e-3}  # fmt: skip
    sim = groups(attack={"rates_per_min": {"tumour": 50.0}},
                 tumour={"immunogenicity": {"tcell": 0.0}}, rules={"arm": rule})  # fmt: skip
    sim.step(61)  # through the phenotype step at 6 min (tick 60)
    assert (of_type(sim, "tcell", "partner") < 0).all()
    sim.step(1)
    assert (of_type(sim, "tcell", "partner") >= 0).all()
    bad = {**rule, "cell_type": "tcell", "behaviour": "immunogenicity.tumour"}
    with pytest.raises(InputError, match="'tumour' has no damage_attack"):
        groups(rules={"bad": bad})


@pytest.mark.parametrize(("duration", "p_end"), [(2.0, 0.05), (0.05, 1.0)])
def test_an_attack_ends_with_physicells_per_step_probability(duration: float, p_end: float) -> None:
    """An attack ends with probability min(dt / duration, 1) each step, its first included
    (so one shorter than a step lasts exactly one step, as in PhysiCell)."""
    sim = groups(attack={"rates_per_min": {"tumour": 50.0}, "duration_min": duration})
    sim.step(1)
    ended = float((of_type(sim, "tcell", "partner") < 0).mean())
    assert binomial_ok(ended, p_end)
    assert (of_type(sim, "tcell", "damage_delivered") > 0).all()  # each dealt its step


def test_a_dead_target_is_let_go_and_takes_no_more_damage() -> None:
    """Targets die at the first phenotype step (tick 0, after the attack started): at the
    next mechanics step the attackers let go, deal nothing, and start on no dead cell."""
    sim = groups(attack={"rates_per_min": {"tumour": 50.0}},
                 tumour={"apoptosis_rate_per_min": 100.0})  # fmt: skip
    sim.step(1)
    assert (of_type(sim, "tumour", "state") == APOPTOTIC).all()
    assert (of_type(sim, "tcell", "partner") >= 0).all()
    sim.step(5)
    assert (of_type(sim, "tcell", "partner") < 0).all()
    np.testing.assert_allclose(of_type(sim, "tcell", "damage_delivered"), DT, rtol=1e-6)


def test_attackers_keep_migrating_while_attached() -> None:
    """Unlike the cancer-immune attack, a damage attacker moves at its speed while attached
    (PhysiCell's standard attack holds no cell still): each step by speed x dt."""
    sim = groups(attack={"rates_per_min": {"tumour": 50.0}},
                 tcell={"speed_um_per_min": 1.0, "persistence_min": 0.01})  # fmt: skip
    sim.step(2)
    for _ in range(5):
        start = of_type(sim, "tcell", "position_um").copy()
        sim.step(1)
        assert (of_type(sim, "tcell", "partner") >= 0).all()
        moved = np.linalg.norm(of_type(sim, "tcell", "position_um") - start, axis=1)
        np.testing.assert_allclose(moved, DT * 1.0, rtol=1e-3)


def test_damage_accumulates_and_is_repaired_by_physicells_step() -> None:
    """damage -> (damage + r dt) / (1 + k dt) each phenotype step: after n steps
    D = (r / k) (1 - (1 + k dt)^-n) (at dt = 6 min this is far from the ODE's
    (r / k)(1 - e^(-k t)), which a wrong model would give)."""
    r, k, dt_p = 1.0, 0.1, 6.0
    sim = groups(attackers_at=(), tumour={"damage_rate_per_min": r,
                                          "damage_repair_rate_per_min": k})  # fmt: skip
    sim.step(3 * 60)  # ticks of 0.1 min: 3 phenotype steps
    expected = r / k * (1 - (1 + k * dt_p) ** -3)
    np.testing.assert_allclose(of_type(sim, "tumour", "damage"), expected, rtol=1e-5)
    assert abs(expected - r / k * (1 - math.exp(-k * 18.0))) > 0.5


def test_a_damage_rule_kills_after_the_damage_it_reads() -> None:
    """Damage at 1/min and apoptosis to 1000/min past 30 damage (Hill 100): the rule reads
    the damage before the step adds to it (PhysiCell's order), so the cells live through
    the step at 24 min (damage 24 read) and die at the step at 30 min (damage 30)."""
    rule = {"cell_type": "tumour", "behaviour": "apoptosis", "signal": "damage",
            "to_value": 1000.0, "half_max": 30.0, "hill_coefficient": 100.0}  # fmt: skip
    sim = groups(attackers_at=(), tumour={"damage_rate_per_min": 1.0}, rules={"die": rule})
    sim.step(25 * 10)  # steps at 0, 6, ..., 24 min
    assert (of_type(sim, "tumour", "state") == LIVE).all()
    sim.step(6 * 10)  # the step at 30 min
    assert (of_type(sim, "tumour", "state") == APOPTOTIC).all()


def test_a_rule_moves_the_attack_rate_held_between_phenotype_steps() -> None:
    """A rate of 0 raised by the time (Hill 50 about 60 min) to 50/min: no attack before
    about 50 min, every attacker at one after the phenotype step at 72 min sets it."""
    rule = {"cell_type": "tcell", "behaviour": "attack.tumour", "signal": "time",
            "to_value": 50.0, "half_max": 60.0, "hill_coefficient": 50.0}  # fmt: skip
    sim = groups(attack={"rates_per_min": {"tumour": 0.0}}, rules={"arm": rule})
    sim.step(48 * 10)
    assert (of_type(sim, "tcell", "partner") < 0).all()
    sim.step(25 * 10)
    assert (of_type(sim, "tcell", "partner") >= 0).all()


def debris_exchange(applies_to_dead: bool) -> tuple[Simulation, np.ndarray]:
    """Tumour cells that die at the first step, with a debris rule on apoptotic cells; the
    per-voxel debris source (1/min x units) of their exchange after it."""
    rule = {"cell_type": "tumour", "behaviour": "secretion_rate.debris", "signal": "apoptotic",
            "to_value": 2.0, "half_max": 0.5, "hill_coefficient": 10.0,
            "applies_to_dead": applies_to_dead}  # fmt: skip
    sim = groups(
        attackers_at=(),
        tumour={"apoptosis_rate_per_min": 100.0,
                "secretion": {"debris": {"secretion_target": 1.0}},
                "dead_secretion": {"debris": {"uptake_rate_per_min": 0.5}}},
        fields={"debris": {"diffusion_um2_per_min": 100.0}},
        rules={"debris": rule},
    )  # fmt: skip
    sim.step(1)
    organ = sim.organs["box"]
    behave = Behaviours(sim.scenario, sim.types).bind(organ, sim.body, Contacts(organ, sim.types))
    source, uptake = cell_exchange(organ, sim.types, behave)
    shape = organ.grid.shape_zyx
    return sim, np.stack([source["debris"].dense(shape), uptake["debris"].dense(shape)])


def test_rules_on_dead_cells_make_debris_and_the_others_do_not() -> None:
    """An apoptotic cell secretes at the rate its dead-cell rule gives (2 x 1 / (1 +
    0.5^10)), toward its live target 1, and takes up at its dead rate; without
    ``applies_to_dead`` the rule reads no signal on it, and it only takes up."""
    sim, (source, uptake) = debris_exchange(True)
    assert (of_type(sim, "tumour", "state") == APOPTOTIC).all()
    organ = sim.organs["box"]
    volume = 4.0 / 3.0 * math.pi * 8.4**3 / organ.grid.voxel_volume_um3
    rate = 2.0 / (1.0 + 0.5**10)
    occupied = source > 0
    assert occupied.sum() == SIDE**3  # one cell per voxel
    np.testing.assert_allclose(source[occupied], rate * 1.0 * volume, rtol=1e-5)
    np.testing.assert_allclose(uptake[occupied], (rate + 0.5) * volume, rtol=1e-5)
    _, (source, uptake) = debris_exchange(False)
    assert not source.any()
    np.testing.assert_allclose(uptake[uptake > 0], 0.5 * volume, rtol=1e-5)
    assert (uptake > 0).sum() == SIDE**3


def test_state_and_damage_signals_read_per_cell() -> None:
    """``dead``, ``apoptotic``, ``necrotic`` and ``damage`` of tumour cells (a third of them
    set apoptotic and a third necrotic; the rules apply to dead cells, so they read them),
    ``attacking`` and ``damage_delivered`` of T cells, through a rule whose Hill term is the
    signal itself (h = 1, n = 1: s / (1 + s)); each signal takes both values somewhere."""
    sim = groups(attack={"rates_per_min": {"tumour": 3.0}, "damage_rate_per_min": 3.0})
    sim.step(1)
    organ = sim.organs["box"]
    cells = organ.cells
    rows = np.arange(cells.n)
    tumour = cells.type == 0
    cells.state[tumour & (rows % 3 == 1)] = APOPTOTIC
    cells.state[tumour & (rows % 3 == 2)] = NECROTIC
    apoptotic, necrotic = cells.state == APOPTOTIC, cells.state == NECROTIC
    expectations = {
        "dead": ("tumour", apoptotic | necrotic), "apoptotic": ("tumour", apoptotic),
        "necrotic": ("tumour", necrotic), "damage": ("tumour", cells.damage),
        "attacking": ("tcell", cells.partner >= 0),
        "damage_delivered": ("tcell", cells.damage_delivered),
    }  # fmt: skip
    for signal, (kind, expected) in expectations.items():
        rules = {"r": {"cell_type": kind, "behaviour": "cycle", "signal": signal,
                       "to_value": 1.0, "half_max": 1.0, "applies_to_dead": True}}  # fmt: skip
        scenario = scenario_from_dict({**sim.scenario.model_dump(), "rules": rules}, "x")
        behave = Behaviours(scenario, sim.types).bind(organ, sim.body, Contacts(organ, sim.types))
        got = behave("cycle", np.zeros(cells.n, dtype=np.float32))
        mine = cells.type == sim.types.names.index(kind)
        s = np.asarray(expected, dtype=np.float32)[mine]
        assert s.min() == 0, signal  # the check can tell the states apart
        assert s.max() > 0, signal
        np.testing.assert_allclose(got[mine], s / (1 + s), rtol=1e-6, atol=1e-7)


def test_same_seed_and_restart_are_bit_identical(tmp_path: Path) -> None:
    def run() -> Simulation:
        return groups(targets_at=(12.0, -12.0), attack={"duration_min": 1.0},
                      tumour={"damage_repair_rate_per_min": 0.05})  # fmt: skip

    straight = run()
    straight.step(180)
    again = run()
    again.step(180)
    assert_same_state(straight.state(), again.state())
    first = run()
    first.step(90)
    path = tmp_path / "checkpoint.h5"
    first.save_checkpoint(path, target_days=1.0)
    restored = Simulation.from_checkpoint(path, backend="cpu")
    restored.step(90)
    assert_same_state(straight.state(), restored.state())
    assert (of_type(straight, "tumour", "damage") > 0).any()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rules": {"r": {"cell_type": "tumour", "behaviour": "attack.tcell", "signal": "time",
                          "to_value": 1.0, "half_max": 1.0}}}, "has no damage_attack"),
        ({"rules": {"r": {"cell_type": "tumour", "behaviour": "secretion_rate.o2",
                          "signal": "time", "to_value": 1.0, "half_max": 1.0}}},
         "has no secretion.o2"),
        ({"fields": {"damage": {"diffusion_um2_per_min": 1.0}}}, "names a rule signal"),
    ],
)  # fmt: skip
def test_rules_and_fields_that_cannot_work_are_refused(
    change: dict[str, Any], message: str
) -> None:
    data = box_scenario(
        cell_types={"tumour": {}, "tcell": {"damage_attack": {"rates_per_min": {"tumour": 1.0}}}},
        fields={"o2": {"diffusion_um2_per_min": 1.0}},
    )
    data.update(change)
    with pytest.raises(InputError, match=message):
        scenario_from_dict(data, "bad")


def test_a_type_attacks_one_way_and_names_known_types() -> None:
    both = {"attack": {"targets": ["tumour"]}, "damage_attack": {}}
    with pytest.raises(InputError, match="not both"):
        scenario_from_dict(box_scenario(cell_types={"tumour": {}, "t": both}), "bad")
    unknown = {"damage_attack": {"rates_per_min": {"nobody": 1.0}}}
    with pytest.raises(InputError, match="unknown cell type"):
        scenario_from_dict(box_scenario(cell_types={"tumour": {}, "t": unknown}), "bad")


def own(values: dict[str, list[float]], kind: str = "tumour") -> dict[str, Any]:
    """A list placement of two cells 100 um apart with per-cell behaviour values."""
    return {"kind": "list", "organ": "box", "type": kind,
            "positions_um": [[100.0, 100.0, 100.0], [300.0, 300.0, 300.0]],
            "behaviours": values}  # fmt: skip


def test_a_cells_own_values_replace_its_types_and_pass_to_daughters() -> None:
    """PhysiCell's cells.csv: the first cell dies at once (its apoptosis 1000/min), the
    second keeps its type's 0; a cell with its own cycle rate divides, and its daughters
    keep the rate (exponential growth), while its sister of the type's rate 0 never does."""
    data = box_scenario(
        organs={"box": {"shape": [8, 8, 8], "spacing_um": 50.0}},
        time_steps={"diffusion_min": 6.0, "mechanics_min": 6.0, "phenotype_min": 6.0},
        cell_types={"tumour": STILL, "grower": {**STILL, "radius_um": 2.0}},
        initial_cells=[own({"apoptosis": [1000.0, math.nan]}),
                       own({"cycle": [math.nan, 0.02]}, "grower")],
    )  # fmt: skip
    sim = Simulation(scenario_from_dict(data, "own"), backend="cpu", seed=5)
    sim.step(1)
    states = of_type(sim, "tumour", "state")
    assert states.tolist() == [APOPTOTIC, LIVE]
    sim.step(50)  # 300 min: the grower's lineage grows as e^(0.02 t) (~400)
    growers = of_type(sim, "grower", "position_um")
    assert growers.shape[0] > 100
    lone = np.linalg.norm(growers - 100.0, axis=1) < 1.0
    assert lone.sum() == 1  # the cell of the type's rate 0 is still alone at its place


def test_own_attack_values_arm_a_type_whose_rate_is_zero() -> None:
    """immune_function's T cells: their type attacks nothing, their cells.csv rows give
    each its attack rate, damage rate and duration: those attack and deal their damage."""
    n = SIDE**3
    sim = groups(
        attack={"rates_per_min": {"tumour": 0.0}},
        initial_cells=[
            {"kind": "list", "organ": "box", "type": "tumour",
             "positions_um": [[x + 12.0, y, z] for x, y, z in lattice()]},
            {"kind": "list", "organ": "box", "type": "tcell",
             "positions_um": [list(p) for p in lattice()],
             "behaviours": {"attack.tumour": [50.0] * (n // 2) + [math.nan] * (n - n // 2),
                            "attack_damage_rate": [3.0] * n, "attack_duration": [1e6] * n}},
        ],
    )  # fmt: skip
    sim.step(4)
    attacking = of_type(sim, "tcell", "partner") >= 0
    assert attacking[: n // 2].all()
    assert not attacking[n // 2 :].any()
    delivered = of_type(sim, "tcell", "damage_delivered")
    np.testing.assert_allclose(delivered[: n // 2], 4 * 3.0 * DT, rtol=1e-5)


def test_a_cell_that_changes_type_takes_its_new_types_phenotype() -> None:
    """PhysiCell's conversion to another definition keeps the volume and resets the rest of
    the phenotype: attackers turning "tired" (a type that neither attacks nor stands still)
    at 42 min let go of their targets, lose their own attack values and their damage
    dealt, and move; their targets keep the damage taken."""
    n = SIDE**3
    tired = {"cell_type": "tcell", "behaviour": "transition.tired", "signal": "time",
             "to_value": 10.0, "half_max": 39.0, "hill_coefficient": 200.0}  # fmt: skip
    sim = groups(
        attack={"rates_per_min": {"tumour": 0.0}},
        tcell={"transitions": {"tired": 0.0}},
        others={"tired": {**STILL, "speed_um_per_min": 2.0, "persistence_min": 0.2}},
        initial_cells=[
            {"kind": "list", "organ": "box", "type": "tumour",
             "positions_um": [[x + 12.0, y, z] for x, y, z in lattice()]},
            {"kind": "list", "organ": "box", "type": "tcell",
             "positions_um": [list(p) for p in lattice()],
             "behaviours": {"attack.tumour": [50.0] * n, "attack_damage_rate": [0.1] * n,
                            "attack_duration": [1e6] * n}},
        ],
        rules={"tired": tired},
    )  # fmt: skip
    sim.step(415)  # to 41.5 min: attacking since the first steps
    assert of_type(sim, "tcell", "id").size == n
    assert (of_type(sim, "tcell", "partner") >= 0).all()
    dealt = of_type(sim, "tcell", "damage_delivered")
    assert (dealt > 3.0).all()
    sim.step(6)  # the phenotype step at 42 min (tick 420) converts every T cell
    assert of_type(sim, "tcell", "id").size == 0
    assert (of_type(sim, "tired", "partner") == -1).all()
    assert (of_type(sim, "tired", "damage_delivered") == 0).all()
    assert np.isnan(of_type(sim, "tired", "own.attack.tumour")).all()
    taken = of_type(sim, "tumour", "damage")
    assert (taken >= dealt.min()).all()  # kept
    before = of_type(sim, "tired", "position_um").copy()
    sim.step(40)  # each turns within 4 min (a chance of 1 - 2.6e-9 at 0.39 a step)
    moved = np.linalg.norm(of_type(sim, "tired", "position_um") - before, axis=1)
    assert (moved > 0.01).all()  # free to migrate (attached, a tired cell would hold still)


@pytest.mark.parametrize(
    ("entry", "rules", "message"),
    [
        (own({"apoptosis": [1.0]}), {}, "1 values for 2 positions"),
        (own({"apoptosis": [1.0, -1.0]}), {}, "values are >= 0"),
        (own({"attack.tumour": [1.0, 1.0]}), {}, "has no damage_attack"),
        (own({"apoptosis": [1.0, 1.0]}),
         {"r": {"cell_type": "tumour", "behaviour": "apoptosis", "signal": "time",
                "to_value": 1.0, "half_max": 1.0}}, "rules of 'tumour' move this behaviour"),
        (own({"speed": [1.0, 1.0]}), {}, "allowed: cycle"),
    ],
)  # fmt: skip
def test_own_values_that_cannot_act_are_refused(
    entry: dict[str, Any], rules: dict[str, Any], message: str
) -> None:
    data = box_scenario(cell_types={"tumour": {}}, initial_cells=[entry], rules=rules)
    with pytest.raises(InputError, match=message):
        scenario_from_dict(data, "bad")


def test_a_checkpoint_keeps_nan_for_the_types_values(tmp_path: Path) -> None:
    """Per-cell values with ``nan`` (the type's) and held attack rates restore bit for bit
    from a checkpoint (NaN there is the type's value, not a corrupt number)."""
    n = SIDE**3

    def run() -> Simulation:
        rule = {"cell_type": "tcell", "behaviour": "attack.tumour", "signal": "time",
                "to_value": 50.0, "half_max": 3.0}  # fmt: skip
        return groups(
            rules={"arm": rule},
            initial_cells=[
                {"kind": "list", "organ": "box", "type": "tumour",
                 "positions_um": [[x + 12.0, y, z] for x, y, z in lattice()]},
                {"kind": "list", "organ": "box", "type": "tcell",
                 "positions_um": [list(p) for p in lattice()],
                 "behaviours": {"attack_duration": [2.0] * (n // 2) + [math.nan] * (n - n // 2)}},
            ],
        )  # fmt: skip

    straight = run()
    straight.step(130)
    first = run()
    first.step(65)
    path = tmp_path / "checkpoint.h5"
    first.save_checkpoint(path, target_days=1.0)
    restored = Simulation.from_checkpoint(path, backend="cpu")
    restored.step(65)
    assert_same_state(straight.state(), restored.state())
    assert np.isnan(of_type(straight, "tcell", "own.attack_duration")).any()
