"""benchmarks.replicates: the t-interval, the branch specification and the paired design
(each seed's branch minus its own trunk; resumed from the seeds on disk)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import replicates


def test_the_interval_is_students() -> None:
    stats = replicates.interval([1.0, 2.0, 3.0])
    assert stats["mean"] == 2.0
    half = 4.302652729749464 / math.sqrt(3)  # t(0.975, 2) x sd 1 / sqrt(3)
    assert stats["low"] == pytest.approx(2.0 - half, rel=1e-9)
    assert stats["high"] == pytest.approx(2.0 + half, rel=1e-9)
    assert replicates.interval([5.0])["low"] == 5.0


def test_a_branch_is_a_scenario_and_its_settings() -> None:
    label, (scenario, overrides) = replicates.parse_branch(
        "removed=niche;interventions.resection.start_day=10;run.days=14.5"
    )
    assert (label, scenario) == ("removed", "niche")
    assert overrides == {"interventions.resection.start_day": 10, "run.days": 14.5}
    assert replicates.parse_branch("resection=resection")[1] == ("resection", {})
    with pytest.raises(SystemExit, match="LABEL=SCENARIO"):
        replicates.parse_branch("resection")


def test_paired_effects_are_each_seeds_branch_minus_its_trunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two seeds of metastasis to day 0.3, branched at 0.2 into a resection: the record's
    effects are the per-seed differences, the resected branch has no primary, and a second
    call reads the seeds from disk instead of running them."""
    monkeypatch.setattr(replicates, "RESULTS", tmp_path / "replicates.json")
    branches = {"cut": ("metastasis", {"interventions.resection.start_day": 0.2})}
    record = replicates.paired("metastasis", branches, 0.2, 0.3, 2, 1, tmp_path)
    assert record["seeds"] == [1, 2]
    finals = {
        int(path.stem.split("-")[1]): json.loads(path.read_text())["finals"]
        for path in (tmp_path / "paired" / "metastasis@0.2-d0.3").glob("seed-*.json")
    }
    for key, stats in record["effects"]["cut"].items():
        assert stats["values"] == [finals[s]["cut"][key] - finals[s]["metastasis"][key]
                                   for s in (1, 2)]  # fmt: skip
    whole = record["observables"]
    assert whole["cut"]["breast.whole_tumour.cells"]["values"] == [0.0, 0.0]
    assert min(whole["metastasis"]["breast.whole_tumour.cells"]["values"]) > 0
    assert finals[1]["metastasis"] != finals[2]["metastasis"], "the seeds must differ"

    def not_again(*args: object) -> None:
        raise AssertionError("the seeds on disk must be reused")

    monkeypatch.setattr(replicates, "paired_seed", not_again)
    again = replicates.paired("metastasis", branches, 0.2, 0.3, 2, 1, tmp_path)
    assert again["effects"] == record["effects"]
    stored = json.loads((tmp_path / "replicates.json").read_text())
    assert stored["paired"]["metastasis@0.2-d0.3"]["design"]["branches"]["cut"][0] == "metastasis"


# --- the recorded replicates -------------------------------------------------------------

# The paired designs the README reports, and the sign of each treatment's effect that the
# model exists to show (Castano 2018: with the primary's restraint, IL-1R blockade releases
# disseminated cells from dormancy; without it, resection only ends the arrivals and lowers
# outgrowth): the readout ("share": the share of the lung's disseminated cells that
# proliferate, a release where the arrivals are unchanged; or an observable) and its sign.
# Resection with the restraint is held by its contrast with the niche design (below) and by
# its own count effect at day 18; at day 14 that is not resolved, and its share effect is
# the arrivals' end.
SIGNS = {
    ("metastasis@10", "il1r_blockade", "share"): +1,
    ("metastasis@10", "il1r_blockade", "lung.dtc.live"): +1,
    ("niche@10", "removed", "lung.dtc.live"): -1,
    # with the restraint, resection raises outgrowth once the released cells have had 8
    # days (day 18), although it ends ~95% of the arrivals
    ("metastasis@10-d18", "resection", "lung.dtc.live"): +1,
}
MIN_SEEDS = 10


def test_the_share_is_per_seed_and_paired() -> None:
    """dtc / (mic + dtc) per seed (0 with neither), and the branch minus its own trunk."""
    values = {
        "base": {"lung.dtc.live": [0.0, 1.0, 0.0], "lung.mic.live": [10.0, 9.0, 0.0]},
        "cut": {"lung.dtc.live": [5.0, 1.0, 2.0], "lung.mic.live": [5.0, 3.0, 0.0]},
    }
    record = {
        "design": {"base": "base"},
        "observables": {
            label: {key: {"values": v} for key, v in series.items()}
            for label, series in values.items()
        },
    }
    assert replicates.proliferating_share(record, "base") == [0.0, 0.1, 0.0]
    assert replicates.proliferating_share(record, "cut") == [0.5, 0.25, 1.0]
    effect = replicates.share_effect(record, "cut")
    assert effect["values"] == pytest.approx([0.5, 0.15, 1.0])
    assert effect["low"] < effect["mean"] < effect["high"]


@pytest.mark.parametrize(("design", "label", "readout"), sorted(SIGNS))
def test_the_releases_sign_holds_over_seeds(design: str, label: str, readout: str) -> None:
    """The 95% interval of the paired effect (each seed's branch minus its own trunk)
    excludes 0 on the expected side, over >= MIN_SEEDS seeds recorded from a clean tree."""
    record = replicates.recorded()["paired"].get(design)
    assert record is not None, f"{design}: not recorded (python -m benchmarks.replicates paired)"
    assert len(record["seeds"]) >= MIN_SEEDS
    assert record["git"]["dirty"] is False
    if readout == "share":
        effect = replicates.share_effect(record, label)
    else:
        effect = record["effects"][label][readout]
    if SIGNS[design, label, readout] > 0:
        assert effect["low"] > 0, effect
    else:
        assert effect["high"] < 0, effect


def test_the_restraint_turns_resections_effect_on_outgrowth_up() -> None:
    """The sign flip the project exists for, seed by seed: resection's effect on the lung's
    proliferating cells with the primary's restraint (metastasis) minus its effect without
    it (niche: restraint off, resection alone) is above 0 over >= MIN_SEEDS seeds."""
    designs = replicates.recorded()["paired"]
    for key in ("metastasis@10", "niche@10"):
        assert key in designs, f"{key}: not recorded (python -m benchmarks.replicates paired)"
    contrast = replicates.effect_contrast(
        designs["metastasis@10"], "resection", designs["niche@10"], "removed", "lung.dtc.live"
    )
    assert len(contrast["seeds"]) >= MIN_SEEDS
    assert contrast["low"] > 0, contrast


# (scenario, observable, the other scenario, sign): seed by seed, the first minus the
# second, its 95% interval above (+1) or below (-1) 0
CONTRASTS = (
    ("anti_s100", "lung.myeloid.live", "metastasis", -1),  # Hiratsuka 2006: fewer Mac1+ cells
    ("dormancy", "lung.myeloid.live", "metastasis", -1),  # no niche, no recruitment
    ("anti_s100", "ledger.extravasated", "metastasis", -1),  # the niche helps cells out
    ("niche", "lung.dtc.live", "metastasis", +1),  # Castano 2018: the restraint holds them
    ("niche", "lung.dtc.live", "dormancy", +1),
)


@pytest.mark.parametrize(("first", "readout", "second", "sign"), CONTRASTS)
def test_each_mechanism_moves_its_readout_over_seeds(
    first: str, readout: str, second: str, sign: int
) -> None:
    """Each mechanism's mark, scenario against scenario over the seeds both recorded (>=
    MIN_SEEDS, clean trees; the seed table's records): the same seed sheds the same cells
    into the blood in both (the primary is the same), so the difference seed by seed is
    the mechanism's, and its 95% interval excludes 0 on the side the source puts it."""
    values, arrivals = [], []
    for name in (first, second):
        record = replicates.scenario_record(name)
        assert record is not None, f"{name}: not recorded (python -m benchmarks.replicates run)"
        assert record["git"]["dirty"] is False
        for out, key in ((values, readout), (arrivals, "ledger.arrested")):
            out.append(dict(zip(record["seeds"], record["observables"][key]["values"],
                                strict=True)))  # fmt: skip
    seeds = sorted(values[0].keys() & values[1].keys())
    assert len(seeds) >= MIN_SEEDS
    assert all(arrivals[0][s] == arrivals[1][s] for s in seeds), "the pairing's premise"
    effect = replicates.interval([values[0][s] - values[1][s] for s in seeds])
    if sign > 0:
        assert effect["low"] > 0, effect
    else:
        assert effect["high"] < 0, effect


def test_a_contrast_pairs_the_seeds_both_designs_ran() -> None:
    def design(seeds: list[int], values: list[float]) -> dict[str, Any]:
        return {"seeds": seeds, "effects": {"cut": {"x": {"values": values}}}}

    contrast = replicates.effect_contrast(
        design([1, 2, 3], [5.0, 6.0, 7.0]), "cut", design([2, 3, 4], [1.0, 4.0, 9.0]), "cut", "x"
    )
    assert contrast["seeds"] == [2, 3]
    assert contrast["values"] == [5.0, 3.0]


def differences(final: dict[str, float], seed_1: dict[str, float]) -> dict[str, Any]:
    """Observable -> (README run's value, replicate's) where they differ (NaN equals NaN)."""
    return {
        k: (v, seed_1[k])
        for k, v in final.items()
        if not (seed_1[k] == v or (math.isnan(v) and math.isnan(seed_1[k])))
    }


def test_the_recorded_replicates_are_this_codes() -> None:
    """Seed 1 of every recorded design equals, observable by observable, the README's seed-1
    runs of the same scenarios (which the day-one drift test ties to this code): the trunk
    is its scenario's run, and a branch that is a built-in scenario unchanged is that
    scenario's run from day 0. When the model changes, record both again."""
    from benchmarks import model_results

    runs = model_results.recorded_runs()
    checked = 0
    for key, record in replicates.recorded()["paired"].items():
        design, first = record["design"], record["seeds"].index(1)
        if design["days"] != runs[design["base"]]["days"]:
            continue  # a longer design (BASE@DAY-dDAYS): no README run to compare
        named = {design["base"]: design["base"]} | {
            label: scenario
            for label, (scenario, overrides) in design["branches"].items()
            if not overrides
        }
        for label, scenario in named.items():
            final = runs[scenario]["final"]
            seed_1 = {
                k: stats["values"][first] for k, stats in record["observables"][label].items()
            }
            assert seed_1.keys() == final.keys(), (key, label)
            assert differences(final, seed_1) == {}, f"{key} {label}"
            checked += 1
    for name, record in replicates.recorded()["scenarios"].items():
        if record["days"] is None and 1 in record["seeds"]:
            first, final = record["seeds"].index(1), runs[name]["final"]
            seed_1 = {k: stats["values"][first] for k, stats in record["observables"].items()}
            assert final.keys() <= seed_1.keys(), name  # the sweep adds attempts, wall_s
            assert differences(final, seed_1) == {}, name
            checked += 1
    assert checked >= 3


def test_the_injection_assay_gives_the_exact_models_day_13_fractions_over_seeds() -> None:
    """Luzzi 1998's experiment over >= MIN_SEEDS seeds recorded from a clean tree: of the
    cells arrested in the lung block, pooled over seeds, those extravasated, died in the
    lung, solitary dormant and in micrometastases at day 13 lie within 4 binomial sd of the
    calibrated exact model's probabilities (benchmarks.calibration.cascade, fitted to
    Luzzi's fractions), although the agents add resident myeloid cells, a niche they seed,
    crowding and chemotaxis."""
    from benchmarks.calibration import cascade

    record = replicates.recorded()["scenarios"].get("injection_assay")
    assert record is not None, "python -m benchmarks.replicates run --names injection_assay"
    assert len(record["seeds"]) >= MIN_SEEDS
    assert record["git"]["dirty"] is False
    observed = record["observables"]
    assert observed["time_days"]["values"] == [13.0] * len(record["seeds"])
    arrested = sum(observed["ledger.arrested"]["values"])
    assert arrested >= 500
    expected = cascade.ledger(cascade.scenario_rates("injection_assay"), 13.0)
    for key, outcome in (
        ("ledger.extravasated", "extravasated"),
        ("ledger.died_in_organ", "died"),
        ("ledger.solitary_dormant", "solitary_dormant"),
        ("ledger.micrometastases", "micrometastases"),
    ):
        share, p = sum(observed[key]["values"]) / arrested, expected[outcome]
        assert abs(share - p) <= 4 * math.sqrt(p * (1 - p) / arrested), (key, share, p)


def _stats(values: dict[str, list[float]]) -> dict[str, Any]:
    return {k: replicates.interval(v) for k, v in values.items()}


def test_a_scenario_is_found_in_each_record_that_ran_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scenario's seeds come from its own sweep, a paired design's trunk on it and a
    branch that is it unchanged; not from a branch with settings, nor from a design run to
    another day, nor from a sweep with ``--days``."""
    one = _stats({"lung.dtc.live": [1.0, 2.0]})
    git = {"commit": "0123456789abcdef", "dirty": False}
    date = "2026-12-05T12:00:00+00:00"

    def design(base: str, days: float, branches: dict[str, list[Any]]) -> dict[str, Any]:
        labels = [base, *branches]
        return {"design": {"base": base, "at_day": 10.0, "days": days, "branches": branches},
                "seeds": [1, 2], "observables": dict.fromkeys(labels, one), "effects": {},
                "git": git, "date_utc": date}  # fmt: skip

    stored = {
        "scenarios": {
            "niche": {
                "days": None,
                "seeds": [1, 2],
                "observables": one,
                "git": git,
                "date_utc": date,
            },
            "dormancy": {
                "days": 3.0,
                "seeds": [1, 2],
                "observables": one,
                "git": git,
                "date_utc": date,
            },
        },
        "paired": {
            "metastasis@10": design("metastasis", 14.0, {"cut": ["resection", {}]}),
            "niche@10": design("niche", 14.0, {"removed": ["niche", {"x": 1}]}),
            "niche@10-d18": design("niche", 18.0, {}),
        },
    }
    path = tmp_path / "replicates.json"
    path.write_text(json.dumps(stored))
    monkeypatch.setattr(replicates, "RESULTS", path)
    sources = {name: [r["source"] for r in replicates.scenario_records(name)]
               for name in ("niche", "metastasis", "resection", "dormancy")}  # fmt: skip
    assert sources == {
        "niche": ["run --names niche", "paired niche@10"],
        "metastasis": ["paired metastasis@10"],
        "resection": ["paired metastasis@10 cut"],
        "dormancy": [],
    }


@pytest.mark.parametrize(
    ("design", "label"),
    [("metastasis@10-d18", "resection"), ("metastasis@10", "il1r_blockade")],
)
def test_the_release_tests_bar_holds_in_every_recorded_seed(design: str, label: str) -> None:
    """The single-seed release test (tests/test_metastasis_release.py) asks each release for
    RELEASE_RATIO times the untouched run's proliferating share: every recorded seed of its
    design (resection at day 18; IL-1R blockade's design ends at day 14, 4 days earlier)
    must clear that bar, or the test is a draw of the seed."""
    from tests.test_metastasis_release import released

    record = replicates.recorded()["paired"][design]
    assert record["design"]["base"] == "metastasis"
    assert len(record["seeds"]) >= 10
    ends = [
        record["observables"][run][f"lung.{kind}.live"]["values"]
        for run in (label, "metastasis")
        for kind in ("dtc", "mic")
    ]
    failing = [seed for seed, *cells in zip(record["seeds"], *ends, strict=True)
               if not released(*cells)]  # fmt: skip
    assert failing == [], f"{design} {label}: seeds {failing} fall short"
