"""Replicate seeds of the built-in metastasis scenarios, run by the sweep machinery, with the
mean and 95% interval of every final observable.

    python -m benchmarks.replicates run --names metastasis,resection --seeds 10 [--workers 2]
    python -m benchmarks.replicates show              # the recorded statistics

``run`` writes a sweep file per scenario (``scenario = NAME``, ``replicates = SEEDS`` from
seed 1, ``[set]`` with ``--days`` when given) under ``--out`` and runs ``tissue sweep`` on it
(members already finished are skipped, so an interrupted run resumes), then reads the sweep's
``results.csv`` and merges into ``RESULTS`` for each scenario: the seeds, the commit, and for
every final observable the values, their mean and the 95% t-interval of the mean. The README's
replicate table (``benchmarks.model_results tables``) is made from that file. Needs the
``dask`` and ``dev`` extras (scipy for the t quantile).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, RESULTS_DIR, git_info

RESULTS = RESULTS_DIR / "model-replicates-cpu.json"


def interval(values: Sequence[float]) -> dict[str, Any]:
    """Mean and the 95% t-interval of the mean of ``values`` (the interval is the mean
    alone for one value)."""
    from scipy.stats import t

    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return {"n": n, "mean": mean, "low": mean, "high": mean, "values": list(values)}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "low": mean - half, "high": mean + half, "values": list(values)}


def sweep_file(name: str, seeds: int, days: float | None) -> str:
    """The TOML of a sweep of ``seeds`` replicates of scenario ``name``."""
    lines = [
        f'name = "replicates_{name}"',
        f'description = "{seeds} seeds of {name}"',
        f'scenario = "{name}"',
        "seed = 1",
        f"replicates = {seeds}",
        "checkpoint_every_min = 1440.0",
    ]
    if days is not None:
        lines += ["", "[set]", f'"run.days" = {days}']
    return "\n".join(lines) + "\n"


def summarise(out: Path) -> dict[str, Any]:
    """Statistics of the complete members of the sweep in ``out``."""
    from tissue.sweep.results import read_results

    table = read_results(out)
    rows = table.complete()
    if not rows:
        raise SystemExit(f"{out}: no complete member")
    keys = [k for k in rows[0] if isinstance(rows[0][k], float | int) and k not in ("seed",)]
    stats = {
        key: interval([float(r[key]) for r in rows])
        for key in keys
        if all(isinstance(r.get(key), float | int) for r in rows)
    }
    return {"seeds": sorted(int(r["seed"]) for r in rows), "observables": stats}


def run(names: Sequence[str], seeds: int, workers: int, days: float | None, out: Path) -> None:
    for name in names:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        spec = folder.parent / f"{name}.toml"
        spec.write_text(sweep_file(name, seeds, days))
        command = [sys.executable, "-m", "tissue.cli", "sweep", str(spec), "-o", str(folder),
                   "--workers", str(workers), "--backend", "cpu", "--quiet"]  # fmt: skip
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(
                f"{name}: tissue sweep failed ({done.returncode}): {done.stderr[-2000:]}"
            )
        record = summarise(folder) | {
            "git": git_info(),
            "days": days,
            "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"scenarios": {}}
        stored["scenarios"][name] = record
        RESULTS.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        print(f"{name}: seeds {record['seeds']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replicate seeds of the built-in scenarios")
    parser.add_argument("action", choices=("run", "show"))
    parser.add_argument("--names", default="metastasis")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--days", type=float, default=None)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "replicates")
    args = parser.parse_args(argv)
    if args.action == "run":
        run([n for n in args.names.split(",") if n], args.seeds, args.workers, args.days, args.out)
        return 0
    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"scenarios": {}}
    for name, record in stored["scenarios"].items():
        print(f"{name} (seeds {record['seeds']}):")
        for key, s in record["observables"].items():
            print(f"  {key}: {s['mean']:.4g} [{s['low']:.4g}, {s['high']:.4g}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
