"""Many runs of one scenario: parameter sweeps, replicate seeds and virtual cohorts on Dask.

``tissue sweep SWEEP.toml -o OUT`` (see docs/sweeps.md): a sweep file (:mod:`.spec`) expands
into members, each validated against its base scenario; each runs as ``tissue run`` does,
into ``OUT/members/<id>/`` (:mod:`.member`), on a Dask cluster (:mod:`.cluster`); their final
observables gather into ``OUT/results.csv`` (:mod:`.results`). Only :mod:`.cluster` needs
Dask, and imports it when a sweep runs.
"""

from tissue.sweep.cluster import SweepReport, run_sweep
from tissue.sweep.results import SweepTable, read_results
from tissue.sweep.spec import SweepPlan, builtin_sweeps, load_sweep

__all__ = [
    "SweepPlan",
    "SweepReport",
    "SweepTable",
    "builtin_sweeps",
    "load_sweep",
    "read_results",
    "run_sweep",
]
