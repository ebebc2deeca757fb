"""The other side of the sign (issue 16): with the restraint off (the `niche` scenario),
removing the primary at day 10 lowers the lung's outgrowth 8 days later (no more cells
arrive, and none were held back), against the same scenario untouched, same seed; with the
restraint on it raises it (`tests/test_metastasis_release.py`)."""

from __future__ import annotations

import pytest

from tests.test_metastasis import RELEASE_DAYS, run_series

pytestmark = pytest.mark.slow


def test_without_the_restraint_resection_lowers_outgrowth() -> None:
    kept = run_series("niche", {}, RELEASE_DAYS)["lung.dtc.live"][-1]
    removed = run_series("niche", {"interventions.resection.start_day": 10.0}, RELEASE_DAYS)
    assert removed["breast.whole_tumour.cells"][-1] == 0
    assert kept >= 5, "without the restraint the seeded cells must grow out"
    assert removed["lung.dtc.live"][-1] < kept, (removed["lung.dtc.live"][-1], kept)
