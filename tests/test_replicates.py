"""benchmarks.replicates: the t-interval, the branch specification and the paired design
(each seed's branch minus its own trunk; resumed from the seeds on disk)."""

from __future__ import annotations

import json
import math
from pathlib import Path

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
        for path in (tmp_path / "paired" / "metastasis@0.2").glob("seed-*.json")
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
    assert stored["paired"]["metastasis@0.2"]["design"]["branches"]["cut"][0] == "metastasis"
