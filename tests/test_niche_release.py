"""The other side of the sign (issue 16), with the restraint off (the `niche` scenario), one
seed: removing the primary at day 10 lowers the lung's outgrowth 8 days later (no more cells
arrive, and none were held back), against the same scenario untouched (a branch at day 10:
same history); with the restraint on it raises it (`tests/test_metastasis_release.py`).
And anti-S100A8/A9 from day 0 cuts the niche (Hiratsuka 2006)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_metastasis import RELEASE_DAY, RELEASE_DAYS, TEST_DAYS, run_branches, run_series

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, np.ndarray]]:
    removed = ("niche", {"interventions.resection.start_day": RELEASE_DAY})
    return run_branches("niche", RELEASE_DAYS, RELEASE_DAY, {"removed": removed})


def test_without_the_restraint_resection_lowers_outgrowth(runs) -> None:
    kept, removed = runs["niche"]["lung.dtc.live"][-1], runs["removed"]["lung.dtc.live"][-1]
    assert runs["removed"]["breast.whole_tumour.cells"][-1] == 0
    assert kept >= 5, "without the restraint the seeded cells must grow out"
    assert removed < kept, (removed, kept)


def test_anti_s100_cuts_the_niche_and_its_myeloid_cells(runs) -> None:
    """Anti-S100A8/A9 from day 0: lung S100A8/A9 and Mac1+ cells >= 3x lower at TEST_DAYS."""
    control = runs["niche"]
    end = int(np.searchsorted(control["time_days"], TEST_DAYS, side="right")) - 1
    treated = run_series("niche", {"interventions.anti_s100.start_day": 0.0}, TEST_DAYS)
    assert control["time_days"][end] == treated["time_days"][-1]
    myeloid = control["lung.myeloid.live"][end]
    assert myeloid >= 3 * max(1.0, treated["lung.myeloid.live"][-1])
    assert control["lung.s100a8a9.mean"][end] >= 3 * treated["lung.s100a8a9.mean"][-1]
