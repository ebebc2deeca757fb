"""Initial distributions of behaviours (PhysiCell's initial parameter distributions): each
placed cell draws its own value, truncated as PhysiCell redraws, and its daughters keep it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from tests.conftest import box_scenario
from tissue.config import InitialDistribution, scenario_from_dict
from tissue.errors import InputError
from tissue.placement import initial_values
from tissue.rng import CellRandom, Purpose
from tissue.simulation import Simulation

N = 20_000
KS_1_PERCENT = 1.63 / math.sqrt(N)  # the KS statistic's 1% critical value at N

# distribution, the law its values (or their ln / log10) follow, that transform
LAWS: list[tuple[dict[str, Any], Any, Any]] = [
    ({"distribution": "uniform", "low": 0.5, "high": 2.0}, stats.uniform(0.5, 1.5), None),
    ({"distribution": "log_uniform", "low": 1e-6, "high": 1e-2}, stats.loguniform(1e-6, 1e-2),
     None),
    ({"distribution": "normal", "mu": 1.0, "sigma": 1.0, "lower": 0.0},
     stats.truncnorm(-1.0, np.inf, loc=1.0, scale=1.0), None),
    # an interval in the upper tail (drawn as its mirror image) and a narrow window
    ({"distribution": "normal", "mu": 0.0, "sigma": 1.0, "lower": 3.0},
     stats.truncnorm(3.0, np.inf), None),
    ({"distribution": "normal", "mu": 2.0, "sigma": 1.0, "lower": 2.5, "upper": 2.6},
     stats.truncnorm(0.5, 0.6, loc=2.0), None),
    ({"distribution": "lognormal", "mu": -5.0, "sigma": 0.5, "upper": math.exp(-5.0)},
     stats.truncnorm(-np.inf, 0.0, loc=-5.0, scale=0.5), np.log),
    ({"distribution": "log10_normal", "mu": -3.0, "sigma": 1.0, "upper": 1e-2},
     stats.truncnorm(-np.inf, 1.0, loc=-3.0, scale=1.0), np.log10),
    ({"distribution": "log10_normal", "mu": -3.0, "sigma": 0.5},
     stats.norm(-3.0, 0.5), np.log10),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "law", "transform"), LAWS)
def test_each_distribution_draws_its_law(entry: dict[str, Any], law: Any, transform: Any) -> None:
    """N values (one uniform each) against the law with scipy's Kolmogorov-Smirnov
    statistic, below its 1% critical value (fixed draws: this cannot flake); all inside the
    open bounds. Clipping at a bound instead of truncating, or ln for log10, fails by far."""
    drawn = InitialDistribution(**entry)
    u = CellRandom(11).uniform(np.arange(N), 0, Purpose.INITIAL_VALUE, 0)[:, 0]
    values = initial_values(drawn, u).astype(np.float64)
    lower, upper = drawn.value_range()
    assert ((values >= lower) & (values <= upper)).all()
    x = values if transform is None else transform(values)
    assert stats.kstest(x, law.cdf).statistic < KS_1_PERCENT


def grower(**distributions: dict[str, Any]) -> dict[str, Any]:
    """Tumour cells that neither move nor push, 200 at random in a 400 um box, with the
    ``initial_distributions`` given."""
    return box_scenario(
        organs={"box": {"shape": [8, 8, 8], "spacing_um": 50.0}},
        time_steps={"diffusion_min": 6.0, "mechanics_min": 6.0, "phenotype_min": 6.0},
        cell_types={"tumour": {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0,
                               "radius_um": 2.0, "initial_distributions": distributions}},
        initial_cells=[{"kind": "random", "organ": "box", "type": "tumour", "count": 200}],
    )  # fmt: skip


def own(sim: Simulation, behaviour: str) -> np.ndarray:
    return np.asarray(getattr(sim.organs["box"].cells, f"own.{behaviour}"), dtype=np.float64)


def test_each_cell_divides_at_its_own_drawn_rate_and_its_daughters_keep_it() -> None:
    """200 cells draw division rates log-uniform in [1e-4, 1e-2]/min: the same seed draws
    the same rates, another seed others. Daughters keep their founder's rate, so a rate's
    cells are its lineage: over 300 min the faster and the slower half of the lineages
    each grow to sum (2 - exp(-r dt))^50 of their own rates within 4 sd (Yule variance
    e^(2rt) - e^(rt) a lineage), where one rate shared by all would be > 3.5 sd off."""
    data = grower(cycle={"distribution": "log_uniform", "low": 1e-4, "high": 1e-2})
    sim = Simulation(scenario_from_dict(data, "drawn"), backend="cpu", seed=5)
    rates = own(sim, "cycle")
    assert np.unique(rates).size == rates.size == 200
    assert stats.kstest(rates, stats.loguniform(1e-4, 1e-2).cdf).pvalue > 1e-3
    again = Simulation(scenario_from_dict(data, "drawn"), backend="cpu", seed=5)
    np.testing.assert_array_equal(own(again, "cycle"), rates)
    other = Simulation(scenario_from_dict(data, "drawn"), backend="cpu", seed=6)
    assert not np.array_equal(own(other, "cycle"), rates)

    sim.step(50)
    t, dt = 300.0, 6.0
    now = own(sim, "cycle")
    assert set(np.unique(now)) == set(rates)  # every lineage is there, and nothing else
    shared = (2.0 - math.exp(-rates.mean() * dt)) ** 50 * 100  # a half's, at one rate
    apart = []
    for half in (rates < np.median(rates), rates >= np.median(rates)):
        mine = rates[half]
        expected = ((2.0 - np.exp(-mine * dt)) ** 50).sum()
        sd = math.sqrt((np.exp(2 * mine * t) - np.exp(mine * t)).sum())
        assert abs(np.isin(now, mine).sum() - expected) < 4 * sd
        apart.append(abs(shared - expected) / sd)
    assert min(apart) > 3.5  # 3.8 sd for the faster half, 18 for the slower


BAD = [
    ({"apoptosis": {"distribution": "normal", "mu": 1.0}}, {}, "sigma: required"),
    ({"apoptosis": {"distribution": "uniform", "low": 0.0, "high": 1.0, "mu": 1.0}}, {},
     "not used by a uniform"),
    ({"apoptosis": {"distribution": "log_uniform", "low": 0.0, "high": 1.0}}, {}, "must be > 0"),
    ({"apoptosis": {"distribution": "lognormal", "mu": 0.0, "sigma": 1.0, "lower": -1.0}}, {},
     "bounds the value, not its log"),
    ({"apoptosis": {"distribution": "normal", "mu": 0.0, "sigma": 1.0, "lower": 10.0,
                    "upper": 11.0}}, {}, "too little to draw from"),
    ({"apoptosis": {"distribution": "normal", "mu": 1.0, "sigma": 1.0}}, {},
     "may draw values below 0"),
    ({"speed": {"distribution": "uniform", "low": 0.0, "high": 1.0}}, {}, "allowed: cycle"),
    ({"apoptosis": {"distribution": "uniform", "low": 0.0, "high": 1.0}},
     {"r": {"cell_type": "tumour", "behaviour": "apoptosis", "signal": "time",
            "to_value": 1.0, "half_max": 1.0}}, "rules of 'tumour' move this behaviour"),
]  # fmt: skip


@pytest.mark.parametrize(("distributions", "rules", "message"), BAD)
def test_distributions_that_cannot_draw_or_act_are_refused(
    distributions: dict[str, Any], rules: dict[str, Any], message: str
) -> None:
    data = grower(**distributions)
    data["rules"] = rules
    with pytest.raises(InputError, match=message):
        scenario_from_dict(data, "bad")


def test_listed_values_and_a_distribution_of_one_behaviour_are_refused() -> None:
    data = grower(apoptosis={"distribution": "uniform", "low": 0.0, "high": 1.0})
    data["initial_cells"] = [{"kind": "list", "organ": "box", "type": "tumour",
                              "positions_um": [[100.0, 100.0, 100.0]],
                              "behaviours": {"apoptosis": [0.5]}}]  # fmt: skip
    with pytest.raises(InputError, match="not both"):
        scenario_from_dict(data, "bad")
