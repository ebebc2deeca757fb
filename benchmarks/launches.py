"""Array operations per step: the kernel launches (and copies to the device) a GPU would
make, counted on the CPU.

A scenario runs on the instrumented array module of :mod:`tests.syncguard`, which counts
every array operation (see its docstring: a ufunc, a reduction, a module function, a
gather or an assignment, a CUDA kernel's NumPy reference) by phase and by the ``tissue``
function that made it. At small sizes a GPU step costs about one launch latency (a few
microseconds of host time each) per operation, so these counts are the host's cost of a
tick where the device is idle, before any measurement on a device. The counts are exact for
the code; as launch counts they are estimates (CuPy's sorts and scans are a few launches
each, counted as one).

    python -m benchmarks.launches                 # every case, benchmarks/results/launches-cpu.json
    python -m benchmarks.launches --cases busy --out /tmp/l.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from benchmarks.common import RESULTS_DIR, git_info
from tests.test_host_syncs import CASES, guarded

# phase -> the step it runs at: each phase's launches are divided by that step's count
STEP_OF = {
    "mechanics": "mechanics",
    "attack": "mechanics",
    "phagocytosis": "mechanics",
    "fields": "diffusion",
    "secretion": "diffusion",
    "phenotype": "phenotype",
    "interventions": "tick",
    "outputs": "output",
}
TOP_SITES = 8  # the functions named per phase


def measure(case: str) -> dict[str, Any]:
    """Launches of ``case`` (a case of tests/test_host_syncs.py) over its ticks: per phase
    the total, the mean per step of the phase's kind and the functions that make most."""
    make, ticks, _ = CASES[case]
    with pytest.MonkeyPatch.context() as monkeypatch:
        sim, guard = guarded(monkeypatch, make())
        start = sim.tick
        guard.launches.clear()
        with guard.active():
            sim.step(ticks)
        schedule = sim.schedule
        steps = {
            "tick": ticks,
            "mechanics": _multiples(start, ticks, schedule.mechanics),
            "diffusion": _multiples(start, ticks, schedule.diffusion),
            "phenotype": _multiples(start, ticks, schedule.phenotype),
            "output": _multiples(start + 1, ticks, schedule.output),
        }
        totals: Counter[str] = Counter()
        for (phase, _, _), n in guard.launches.items():
            totals[phase] += n
        phases = {}
        for phase, total in sorted(totals.items()):
            kind = STEP_OF.get(phase, "tick")
            phases[phase] = {
                "launches": total,
                "per": kind,
                "per_step": round(total / max(steps[kind], 1), 1),
                "sites": dict(guard.launch_counts(phase).most_common(TOP_SITES)),
            }
        per_tick = sum(p["launches"] for p in phases.values()) / ticks
        cells = {name: int(organ.cells.count) for name, organ in sim.organs.items()}
    return {"ticks": ticks, "steps": steps, "cells_at_end": cells,
            "launches_per_tick": round(per_tick, 1), "phases": phases}  # fmt: skip


def _multiples(start: int, ticks: int, every: int) -> int:
    """Ticks k in [start, start + ticks) with k % every == 0."""
    return sum(1 for k in range(start, start + ticks) if k % every == 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "launches-cpu.json")
    args = parser.parse_args(argv)
    result = {
        "benchmark": "launches",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_info(),
        "method": "array operations counted by tests/syncguard.py on NumPy (see module doc)",
        "cases": {case: measure(case) for case in args.cases},
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for case, row in result["cases"].items():
        per = {p: v["per_step"] for p, v in row["phases"].items()}
        print(f"{case}: {row['launches_per_tick']} a tick; per step {per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
