"""Phagocytosis of dead cells (PhysiCell 1.14's): how often a live cell eats its touching
dead neighbours, at most one a step; the eaten volume joins the eater's and relaxes back as
PhysiCell's volume model moves it; rules on the rates; runs that repeat and restart exactly.

Statistical tests compare counts over many independent eater groups with their binomial
expectation and allow 4 standard deviations (a false failure about once in 16,000 runs);
each names a wrong model the bound excludes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import box_scenario
from tests.test_checkpoint import assert_same_state
from tissue.cells import APOPTOTIC, LIVE, NECROTIC
from tissue.config import Scenario, scenario_from_dict
from tissue.config.cells import NecroticVolume
from tissue.errors import InputError
from tissue.organ import Organ
from tissue.phagocytosis import phagocytosis_step
from tissue.runner import Runner, RunSettings
from tissue.simulation import Simulation
from tissue.volume import rupture_min

RADIUS = 4.0  # um: contact reach 1.25 x 4 = 5 um, so cells touch closer than 10 um
SPACING = 20.0  # um between eaters: no cell touches another group's
VOLUME = 4.0 / 3.0 * math.pi * RADIUS**3


def scenario(
    side: int = 16,
    eater: dict[str, Any] | None = None,
    prey: dict[str, Any] | None = None,
    **extra: Any,
) -> Scenario:
    """A box of ``side``^3 groups (one per 20 um cube); ``eater`` and ``prey`` types of
    radius 4 um that do not move (no forces) and are never cleared; every step 1 min but
    the phenotype's (6 min)."""
    still = {"radius_um": RADIUS, "repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0}
    data = box_scenario(
        organs={"box": {"shape": [2 * side] * 3, "spacing_um": SPACING / 2}},
        time_steps={"diffusion_min": 1.0, "mechanics_min": 1.0, "phenotype_min": 6.0},
        cell_types={
            "eater": {**still, "division_volume": {}, **(eater or {})},
            "prey": {
                **still,
                "apoptotic_clearance_min": 1e6,
                "necrotic_clearance_min": 1e6,
                **(prey or {}),
            },
        },
        **extra,
    )
    return scenario_from_dict(data, "phagocytosis")


def groups(side: int) -> np.ndarray:
    """(side^3, 3) float32: the eaters' positions, one per 20 um cube, at its centre."""
    axis = SPACING * (np.arange(side) + 0.5)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid.astype(np.float32)


def place(sim: Simulation, offsets: list[tuple[float, float, float]], states: list[int],
          **prey: Any) -> Organ:  # fmt: skip
    """An eater at the centre of each group and a prey cell at each of ``offsets`` (um) from
    it, in the matching state of ``states``; ``prey``: other columns of the prey."""
    organ = sim.organs["box"]
    centres = groups(round(organ.grid.extent_xyz_um[0] / SPACING))
    organ.add_cells(0, centres, sim.rng)
    for offset, state in zip(offsets, states, strict=True):
        organ.add_cells(1, centres + np.float32(offset), sim.rng, state=state, **prey)
    return organ


def prey_left(organ: Organ, state: int | None = None) -> int:
    cells = organ.cells
    mine = cells.type == 1
    if state is not None:
        mine &= cells.state == state
    return int(mine.sum())


def within_4_sd(count: int, trials: int, p: float) -> None:
    mean, sd = trials * p, math.sqrt(trials * p * (1 - p))
    assert abs(count - mean) <= 4 * sd, (count, mean, sd)


def test_one_touching_dead_cell_is_eaten_with_probability_r_dt_a_step() -> None:
    """4,096 eaters, each touching one apoptotic cell, p = r dt = 0.25 a step: after n
    steps 1 - (1 - p)^n of them are eaten. Excludes 1 - exp(-r dt) a step (0.221, 0.393,
    0.632 after 1, 2 and 4 steps: off by 7-14 sd)."""
    sim = Simulation(scenario(eater={"apoptotic_phagocytosis_rate_per_min": 0.25}), "cpu", seed=1)
    organ = place(sim, [(6.0, 0.0, 0.0)], [APOPTOTIC])
    total = prey_left(organ)
    assert total == 4096
    done = 0
    for n in (1, 2, 4):
        sim.step(n - done)
        done = n
        within_4_sd(total - prey_left(organ), total, 1 - 0.75**n)
    eaters = organ.cells.type == 0
    assert int(eaters.sum()) == total  # the eaters stay


def test_of_several_dead_neighbours_one_is_eaten_as_their_chances_compete() -> None:
    """Eaters touching three apoptotic cells eat one with probability 1 - (1 - p)^3 (0.578
    at p = 0.25; excludes p alone, 0.25, and 1 - exp(-3p), 0.528); touching an apoptotic
    (p 0.3) and a necrotic one (p 0.1), they eat the apoptotic one in the proportion of
    its hazard, -ln 0.7 / (-ln 0.7 - ln 0.9) = 0.77 (excludes a uniform pick, 0.5), and
    never both in a step."""
    three = [(6.0, 0.0, 0.0), (-6.0, 0.0, 0.0), (0.0, 6.0, 0.0)]
    sim = Simulation(scenario(eater={"apoptotic_phagocytosis_rate_per_min": 0.25}), "cpu", seed=2)
    organ = place(sim, three, [APOPTOTIC] * 3)
    sim.step(1)
    eaten = 3 * 4096 - prey_left(organ)
    within_4_sd(eaten, 4096, 1 - 0.75**3)
    mixed = {"apoptotic_phagocytosis_rate_per_min": 0.3, "necrotic_phagocytosis_rate_per_min": 0.1}
    sim = Simulation(scenario(eater=mixed), "cpu", seed=3)
    organ = place(sim, [(6.0, 0.0, 0.0), (-6.0, 0.0, 0.0)], [APOPTOTIC, NECROTIC])
    sim.step(1)
    apoptotic, necrotic = (4096 - prey_left(organ, s) for s in (APOPTOTIC, NECROTIC))
    p_eat = 1 - 0.7 * 0.9
    share = math.log(0.7) / (math.log(0.7) + math.log(0.9))
    within_4_sd(apoptotic, 4096, p_eat * share)
    within_4_sd(necrotic, 4096, p_eat * (1 - share))
    assert 0.7 < apoptotic / (apoptotic + necrotic) < 0.85


def test_at_most_one_a_step_even_when_every_chance_is_sure() -> None:
    """r dt >= 1: each eater eats exactly one of its three dead neighbours a step."""
    sim = Simulation(scenario(side=4, eater={"necrotic_phagocytosis_rate_per_min": 2.0}), "cpu")
    organ = place(sim, [(6.0, 0.0, 0.0), (-6.0, 0.0, 0.0), (0.0, 0.0, 6.0)], [NECROTIC] * 3)
    for left in (2, 1, 0):
        sim.step(1)
        assert prey_left(organ) == left * 64


@pytest.mark.parametrize(
    ("eater", "distance", "state", "why"),
    [
        ({"apoptotic_phagocytosis_rate_per_min": 0.0}, 6.0, APOPTOTIC, "no rate"),
        ({"apoptotic_phagocytosis_rate_per_min": 5.0}, 6.0, NECROTIC, "no rate for the kind"),
        ({"necrotic_phagocytosis_rate_per_min": 5.0}, 6.0, LIVE, "a live neighbour"),
        ({"apoptotic_phagocytosis_rate_per_min": 5.0}, 10.01, APOPTOTIC, "out of reach"),
        ({"apoptotic_phagocytosis_rate_per_min": 5.0}, 9.99, APOPTOTIC, "in reach: eaten"),
    ],
)
def test_nothing_is_eaten_without_a_rate_a_dead_neighbour_or_contact(
    eater: dict[str, float], distance: float, state: int, why: str
) -> None:
    """Contact: closer than the sum of the two adhesion reaches (PhysiCell's neighbours),
    here 10 um; the prey sits diagonally, 14.7 um or more from every other eater."""
    sim = Simulation(scenario(side=4, eater=eater), "cpu")
    offset = distance / math.sqrt(2.0)
    organ = place(sim, [(offset, offset, 0.0)], [state])
    sim.step(12)
    if why.endswith("eaten"):
        assert prey_left(organ) == 0
        return
    assert prey_left(organ) == 64, why
    if "engulfed_fluid_um3" in organ.cells.columns:
        assert not organ.cells.engulfed_fluid_um3.any()


def test_a_dead_cell_two_eaters_want_goes_to_the_one_of_lowest_id() -> None:
    sim = Simulation(scenario(side=4, eater={"apoptotic_phagocytosis_rate_per_min": 5.0}), "cpu")
    organ = sim.organs["box"]
    organ.add_cells(0, [[40.0, 40.0, 40.0], [48.0, 40.0, 40.0]], sim.rng)
    organ.add_cells(1, [[44.0, 40.0, 40.0]], sim.rng, state=APOPTOTIC)
    phagocytosis_step(organ, sim.types, sim.rng, 0, 1.0)
    cells = organ.cells
    assert cells.n == 2
    engulfed = cells.engulfed_fluid_um3 + cells.engulfed_solid_um3
    assert engulfed[0] == pytest.approx(VOLUME, rel=1e-6)
    assert engulfed[1] == 0.0


def physicell_volume(engulfed_fluid: float, engulfed_solid: float, minutes: float,
                     **model: float) -> tuple[float, float]:  # fmt: skip
    """The engulfed fluid and solid of an eater of PhysiCell's volume model (its
    ``standard_volume_update_function``, fluid, nuclear and cytoplasmic solid toward their
    targets) ``minutes`` after eating, by RK4 at 0.01 min: the model's volumes less those
    of the same cell at rest."""
    f, n = model["fluid_fraction"], model["nuclear_fraction"]
    r_f, r_c, r_n = model["fluid"], model["cytoplasm"], model["nucleus"]
    target_n, target_c = n * (1 - f) * VOLUME, (1 - n) * (1 - f) * VOLUME

    def rate(y: np.ndarray) -> np.ndarray:
        fluid, nuclear, cytoplasm = y
        total = fluid + nuclear + cytoplasm
        return np.array([r_f * (f * total - fluid), r_n * (target_n - nuclear),
                         r_c * (target_c - cytoplasm)])  # fmt: skip

    y = np.array([f * VOLUME + engulfed_fluid, target_n, target_c + engulfed_solid])
    h = 0.01
    for _ in range(round(minutes / h)):
        k1 = rate(y)
        k2 = rate(y + h / 2 * k1)
        k3 = rate(y + h / 2 * k2)
        k4 = rate(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y[0] - f * VOLUME, y[2] - target_c


def test_the_eaten_volume_joins_the_eater_and_relaxes_as_physicells_volume_model() -> None:
    """A prey cell of the default fluid fraction (0.75) eaten whole: the eater's volume is
    its own plus the prey's (its radius, which the contacts and the ``volume`` rule signal
    read, sees it); then its engulfed fluid and solid follow a direct integration of
    PhysiCell's volume model (to float32 rounding; a model that relaxed the total at one
    rate, or the solid at the fluid rate, is off by far more)."""
    model = {"fluid_fraction": 0.7, "nuclear_fraction": 0.2, "fluid_change_rate_per_min": 0.03,
             "cytoplasmic_biomass_change_rate_per_min": 0.004,
             "nuclear_biomass_change_rate_per_min": 0.006}  # fmt: skip
    eater = {"apoptotic_phagocytosis_rate_per_min": 5.0, "division_volume": model}
    sim = Simulation(scenario(side=2, eater=eater), "cpu")
    organ = place(sim, [(6.0, 0.0, 0.0)], [APOPTOTIC])
    phagocytosis_step(organ, sim.types, sim.rng, 0, 1.0)  # the mechanics of tick 0 alone
    cells = organ.cells
    assert prey_left(organ) == 0
    np.testing.assert_allclose(cells.engulfed_fluid_um3, 0.75 * VOLUME, rtol=1e-6)
    np.testing.assert_allclose(cells.engulfed_solid_um3, 0.25 * VOLUME, rtol=1e-6)
    volume = 4.0 / 3.0 * math.pi * sim.types.radius(cells).astype(np.float64) ** 3
    np.testing.assert_allclose(volume, 2 * VOLUME, rtol=1e-5)
    rates = {"fluid_fraction": 0.7, "nuclear_fraction": 0.2, "fluid": 0.03, "cytoplasm": 0.004,
             "nucleus": 0.006}  # fmt: skip
    for minutes in (6.0, 60.0, 600.0):
        sim.step(round(minutes) - sim.tick)
        fluid, solid = physicell_volume(0.75 * VOLUME, 0.25 * VOLUME, minutes, **rates)
        np.testing.assert_allclose(cells.engulfed_fluid_um3, fluid, rtol=2e-5)
        np.testing.assert_allclose(cells.engulfed_solid_um3, solid, rtol=2e-5)
        radius = sim.types.radius(cells)
        volume = 4.0 / 3.0 * math.pi * radius.astype(np.float64) ** 3
        np.testing.assert_allclose(volume, VOLUME + fluid + solid, rtol=2e-5)


def test_an_apoptotic_cell_is_eaten_with_the_fluid_it_has_left() -> None:
    """An apoptotic cell that shrinks (PhysiCell's apoptotic volume) 30 min after its death:
    the eater takes its fluid f e^(-r_f t) V0 as fluid, the rest as solid."""
    sim = Simulation(scenario(side=2, eater={"apoptotic_phagocytosis_rate_per_min": 5.0}), "cpu")
    data = sim.scenario.model_dump()
    data["cell_types"]["prey"]["apoptotic_volume"] = {}
    sim = Simulation(scenario_from_dict(data, "shrinking"), "cpu")
    organ = place(sim, [(6.0, 0.0, 0.0)], [APOPTOTIC], state_time_min=30.0)
    phagocytosis_step(organ, sim.types, sim.rng, 0, 1.0)
    shrink = sim.scenario.cell_types["prey"].apoptotic_volume
    f, n = shrink.fluid_fraction, shrink.nuclear_fraction
    fluid = f * math.exp(-shrink.fluid_change_rate_per_min * 30.0) * VOLUME
    nucleus = n * math.exp(-shrink.nuclear_biomass_change_rate_per_min * 30.0)
    cytoplasm = (1 - n) * math.exp(-shrink.cytoplasmic_biomass_change_rate_per_min * 30.0)
    solid = (1 - f) * (nucleus + cytoplasm) * VOLUME
    assert prey_left(organ) == 0
    np.testing.assert_allclose(organ.cells.engulfed_fluid_um3, fluid, rtol=1e-5)
    np.testing.assert_allclose(organ.cells.engulfed_solid_um3, solid, rtol=1e-5)
    assert fluid < 0.6 * (fluid + solid)  # not the type's share of a whole cell (0.75)


def test_division_halves_the_engulfed_volume() -> None:
    """A dividing eater and its daughter each keep half of what it had engulfed (PhysiCell
    halves every part of the volume), exactly."""
    kept, split = [], []
    for cycle, out in ((0.0, kept), (1.0, split)):
        eater = {"cycle_rate_per_min": cycle, "apoptotic_phagocytosis_rate_per_min": 0.1}
        sim = Simulation(scenario(side=2, eater=eater), "cpu", seed=5)
        organ = place(sim, [], [])
        organ.cells.engulfed_fluid_um3[...] = np.float32(900.0)
        organ.cells.engulfed_solid_um3[...] = np.float32(300.0)
        sim.step(1)
        out.append((organ.cells.engulfed_fluid_um3.copy(), organ.cells.engulfed_solid_um3.copy()))
    assert split[0][0].size == 2 * kept[0][0].size == 16  # p = e^6 - 1 >= 1: all divide
    for had, halves in zip(kept[0], split[0], strict=True):
        np.testing.assert_array_equal(halves, np.float32(0.5) * had[0])


def test_a_rule_on_volume_lowers_the_rate_once_a_cell_has_eaten() -> None:
    """PhysiCell's rules_sample: "volume decreases phagocytose apoptotic cell". Eaters
    touching two apoptotic cells at rate 2/min (sure at dt 1 min) eat one at the first step;
    the phenotype step then sets the rate from the eater's new volume (about twice its
    own, against a half-max of 1.5 times it, Hill power 20: nearly 0), so hardly any eats
    the second within the next 5 steps; without the rule every one has."""
    rule = {"cell_type": "eater", "behaviour": "phagocytosis.apoptotic", "signal": "volume",
            "to_value": 0.0, "half_max": 1.5 * VOLUME, "hill_coefficient": 20.0,
            "as_signal": "rises"}  # fmt: skip
    eater = {"apoptotic_phagocytosis_rate_per_min": 2.0}
    pair = [(6.0, 0.0, 0.0), (-6.0, 0.0, 0.0)]
    left = {}
    for name, rules in (("plain", {}), ("ruled", {"full": rule})):
        sim = Simulation(scenario(side=8, eater=eater, rules=rules), "cpu", seed=6)
        organ = place(sim, pair, [APOPTOTIC] * 2)
        sim.step(1)
        assert prey_left(organ) == 512
        cells = organ.cells
        if name == "ruled":  # set from the volume before it relaxed: twice the eater's own
            hill = (2.0 / 1.5) ** 20
            rate = getattr(cells, "phagocytosis.apoptotic")[cells.type == 0]
            np.testing.assert_allclose(rate, 2.0 / (1 + hill), rtol=1e-4)
            assert rate.max() < 0.01
        sim.step(5)
        left[name] = prey_left(organ)
    assert left["plain"] == 0
    assert left["ruled"] > 0.9 * 512


def lively() -> Scenario:
    """Motile eaters (that divide, with a rule on their rate) among prey that divide, die,
    shrink and are cleared."""
    return scenario(
        side=4,
        eater={"apoptotic_phagocytosis_rate_per_min": 0.1,
               "necrotic_phagocytosis_rate_per_min": 0.05, "speed_um_per_min": 2.0,
               "cycle_rate_per_min": 0.002, "repulsion_um_per_min": 2.0},
        rules={"full": {"cell_type": "eater", "behaviour": "phagocytosis.apoptotic",
                        "signal": "volume", "to_value": 0.0, "half_max": 3 * VOLUME}},
        initial_cells=[{"kind": "random", "organ": "box", "type": "eater", "count": 40},
                       {"kind": "random", "organ": "box", "type": "prey", "count": 200}],
    ).with_overrides({
        "cell_types.prey.apoptosis_rate_per_min": 0.01,
        "cell_types.prey.necrosis_rate_per_min": 0.002,
        "cell_types.prey.necrosis_model": "rate",
        "cell_types.prey.apoptotic_clearance_min": 120.0,
        "cell_types.prey.cycle_rate_per_min": 0.003,
        "cell_types.prey.repulsion_um_per_min": 2.0,
    })  # fmt: skip


def test_the_same_seed_gives_the_same_bits_and_phagocytes_eat() -> None:
    runs = []
    for _ in range(2):
        sim = Simulation(lively(), "cpu", seed=7)
        sim.step(240)
        runs.append(sim.state())
    assert_same_state(*runs)
    engulfed = runs[0].arrays["organs/box/cells/engulfed_solid_um3"]
    assert (engulfed > 0).sum() >= 5


def test_restart_mid_run_is_bit_identical(tmp_path: Path) -> None:
    straight = Simulation(lively(), "cpu", seed=8)
    straight.step(240)
    first = Simulation(lively(), "cpu", seed=8)
    first.step(123)  # between phenotype steps
    path = tmp_path / "checkpoint.h5"
    first.save_checkpoint(path, target_days=1.0)
    restored = Simulation.from_checkpoint(path, backend="cpu")
    restored.step(117)
    assert_same_state(straight.state(), restored.state())
    rates = getattr(straight.organs["box"].cells, "phagocytosis.apoptotic")
    assert (rates > 0).any()


def test_only_a_scenario_with_phagocytes_has_their_columns() -> None:
    plain = Simulation(scenario(side=2), "cpu").organs["box"].cells.columns
    assert not {"engulfed_fluid_um3", "phagocytosis.apoptotic"} & set(plain)
    eats = scenario(side=2, eater={"necrotic_phagocytosis_rate_per_min": 0.1})
    columns = Simulation(eats, "cpu").organs["box"].cells.columns
    assert {"engulfed_fluid_um3", "engulfed_solid_um3"} <= set(columns)
    assert "phagocytosis.apoptotic" not in columns  # no rules on the rates


def test_a_cell_placed_with_its_own_rate_eats_and_its_daughters_too() -> None:
    """Per-cell values (PhysiCell's cells.csv): a cell placed with its own apoptotic rate
    (sure at dt 1 min) eats the dead cell it touches, while a cell of its type without one
    (the type's rate, 0) eats nothing; its type counts as a phagocyte."""
    own = {"kind": "list", "organ": "box", "type": "eater",
           "positions_um": [[30.0, 30.0, 30.0], [70.0, 70.0, 70.0]],
           "behaviours": {"phagocytosis.apoptotic": [2.0, math.nan]}}  # fmt: skip
    dead = {"kind": "list", "organ": "box", "type": "prey",
            "positions_um": [[36.0, 30.0, 30.0], [76.0, 70.0, 70.0]]}  # fmt: skip
    sim = Simulation(scenario(side=5, initial_cells=[own, dead]), "cpu", seed=9)
    assert sim.scenario.phagocytes() == ["eater"]
    organ = sim.organs["box"]
    organ.cells.state[organ.cells.type == 1] = APOPTOTIC
    sim.step(1)
    cells = organ.cells
    assert cells.position_um[cells.type == 1].tolist() == [[76.0, 70.0, 70.0]]
    engulfed = cells.engulfed_solid_um3[cells.type == 0]
    assert engulfed[0] > 0
    assert engulfed[1] == 0


def test_a_phagocyte_needs_a_volume_model() -> None:
    with pytest.raises(InputError, match=r"cell_types\.eater\.division_volume: required"):
        scenario(eater={"division_volume": None, "apoptotic_phagocytosis_rate_per_min": 0.1})


def swollen_pair(distance_um: float, meals: float = 1.0) -> tuple[Simulation, Organ]:
    """An eater holding ``meals`` prey volumes (engulfed, as fluid and solid at 0.75) and a
    necrotic prey at its rupture volume (twice its own, PhysiCell's default necrosis),
    ``distance_um`` apart along x: each reaches 1.25 x 4 x 2^(1/3) = 6.3 um at one meal."""
    prey = {"necrotic_volume": {}}
    data = scenario(side=2, eater={"necrotic_phagocytosis_rate_per_min": 5.0}).model_dump()
    data["cell_types"]["prey"].update(prey)
    sim = Simulation(scenario_from_dict(data, "swollen"), "cpu")
    organ = sim.organs["box"]
    held = {
        "engulfed_fluid_um3": 0.75 * meals * VOLUME,
        "engulfed_solid_um3": 0.25 * meals * VOLUME,
    }
    organ.add_cells(0, np.array([[19.5, 20.0, 20.0]], np.float32), sim.rng, **held)
    burst = rupture_min(NecroticVolume())
    organ.add_cells(
        1, np.array([[19.5 + distance_um, 20.0, 20.0]], np.float32), sim.rng,
        state=NECROTIC, state_time_min=burst,
    )  # fmt: skip
    return sim, organ


@pytest.mark.parametrize(("distance", "eaten"), [(12.0, True), (12.7, False)])
def test_cells_grown_past_their_types_volume_are_still_found_in_contact(
    distance: float, eaten: bool
) -> None:
    """A swollen necrotic cell and an eater holding a meal touch closer than 12.6 um, past
    the 10 um their types' volumes reach; 12 um apart they sit two bins apart at 10 um bins
    (x 19.5 and 31.5), so a contact search sized by the types' volumes misses them. The
    search is sized for the swelling and one meal: the sure eater eats its neighbour, and
    not one 12.7 um away (out of reach)."""
    sim, organ = swollen_pair(distance)
    volume = 4.0 / 3.0 * math.pi * sim.types.radius(organ.cells).astype(np.float64) ** 3
    np.testing.assert_allclose(volume, 2 * VOLUME, rtol=1e-4)
    phagocytosis_step(organ, sim.types, sim.rng, 0, 1.0)
    assert prey_left(organ) == (0 if eaten else 1)


def test_a_run_whose_cells_outgrow_the_contact_search_says_so(tmp_path: Path) -> None:
    """An eater holding four meals reaches past what the search allows for (one meal): the
    run reports that contacts beyond the search's bins were missed; one holding one meal
    does not."""
    for meals, warned in ((4.0, True), (1.0, False)):
        sim, _ = swollen_pair(-15.0, meals=meals)
        said: list[str] = []
        out = tmp_path / f"meals{meals:g}"
        Runner(sim, out, RunSettings(0.01, 6.0), report=said.append).run()
        assert any("contact search" in line for line in said) == warned, said


def test_an_eater_gains_the_conserved_attributes_of_what_it_eats() -> None:
    """PhysiCell's ingest_cell: an eater whose "load" is conserved (1) gains the eaten
    cell's (3); its plain "tag" (1) stays. Each eater touches one apoptotic cell and eats it
    at the first step (p = r dt = 1)."""
    attributes = {"load": {"distribution": "constant", "value": 1.0, "conserved": True},
                  "tag": {"distribution": "constant", "value": 1.0}}  # fmt: skip
    prey = {"attributes": {"load": {"distribution": "constant", "value": 3.0},
                           "tag": {"distribution": "constant", "value": 3.0}}}  # fmt: skip
    eater = {"apoptotic_phagocytosis_rate_per_min": 1.0, "attributes": attributes}
    sim = Simulation(scenario(side=4, eater=eater, prey=prey), "cpu", seed=1)
    organ = place(sim, [(6.0, 0.0, 0.0)], [APOPTOTIC])
    sim.step(1)
    assert prey_left(organ) == 0
    cells = organ.cells
    assert cells.load.tolist() == [4.0] * 64
    assert cells.tag.tolist() == [1.0] * 64
