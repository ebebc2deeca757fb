"""The restraint's release (issue 16, Castano 2018): with the primary's IL-1beta restraint on,
removing the primary or blocking IL-1R at day 10 raises the lung's outgrowth (proliferating
disseminated cells) 8 days later against the same scenario untouched, same seed. Its mirror,
resection lowering outgrowth when the restraint is off, is `tests/test_niche_release.py` (a
file of its own so that CI runs the two on separate workers). One seed (CI's time);
`benchmarks.replicates` gives seeds."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_metastasis import RELEASE_DAYS, run_series

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kept() -> dict[str, np.ndarray]:
    return run_series("metastasis", {}, RELEASE_DAYS)


@pytest.mark.parametrize("release", ["resection", "il1r_blockade"])
def test_lifting_the_restraint_raises_outgrowth(kept, release: str) -> None:
    """>= 3x the untouched run's proliferating cells (at least 1); the untouched run keeps
    >= 90% of its disseminated cells dormant."""
    released = run_series(release, {}, RELEASE_DAYS)
    assert released["lung.dtc.live"][-1] >= 3 * max(1.0, kept["lung.dtc.live"][-1])
    mic, dtc = kept["lung.mic.live"][-1], kept["lung.dtc.live"][-1]
    assert mic >= 20
    assert mic / (mic + dtc) >= 0.9
    primary = released["breast.whole_tumour.cells"][-1]
    assert (primary == 0) if release == "resection" else (primary > 0)
