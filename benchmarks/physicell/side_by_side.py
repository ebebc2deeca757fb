"""PhysiCell's cancer-immune sample and tissue's ``cancer_immune`` scenario, side by side.

    python -m benchmarks.physicell.side_by_side build [--physicell-dir DIR] [--jobs 2]
    python -m benchmarks.physicell.side_by_side physicell --seeds 1 2 3 --days 3 --jobs 3
    python -m benchmarks.physicell.side_by_side tissue --seeds 1 2 3 --days 3 --jobs 2 \\
        [--scenario PATH] [--set KEY=VALUE ...]
    python -m benchmarks.physicell.side_by_side compare

``build`` unpacks PhysiCell (``PHYSICELL_DIR`` or ``--physicell-dir``, else the git mirror
``--mirror``) into ``build/`` here and compiles the sample; ``physicell`` and ``tissue`` run
the seeds and write ``benchmarks/results/physicell-cancer-immune.json`` and
``tissue-cancer-immune-cpu.json``; ``compare`` writes ``cancer-immune-side-by-side.json`` and
``.png`` from those two. See README.md here for the reduced set-up and the files' contents.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.common import RESULTS_DIR, cpu_model, git_info, load_average
from benchmarks.physicell import compare as comparison
from benchmarks.physicell import physicell, tissue_runs

PHYSICELL_RESULT = RESULTS_DIR / "physicell-cancer-immune.json"
TISSUE_RESULT = RESULTS_DIR / "tissue-cancer-immune-cpu.json"
SIDE_BY_SIDE = RESULTS_DIR / "cancer-immune-side-by-side.json"
SIDE_BY_SIDE_PLOT = RESULTS_DIR / "cancer-immune-side-by-side.png"


def host() -> dict[str, Any]:
    """Where the runs ran: CPU model, cores, load average."""
    return {
        "cpu_model": cpu_model(),
        "nproc": os.cpu_count(),
        "host": platform.node(),
        "load_average": load_average(),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON (NaN refused)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    print(f"wrote {path}")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run_physicell(args: argparse.Namespace) -> dict[str, Any]:
    """Run PhysiCell's seeds and return the result file's contents."""
    start_host = host()
    extra = dict(item.split("=", 1) for item in args.xml)
    seeds = physicell.run_seeds(
        args.seeds, args.days, args.jobs, args.runs_dir, not args.no_run, extra, args.partial
    )
    sample = physicell.SOURCE_DIR / physicell.SAMPLE_SETTINGS
    tree = physicell.reduced_settings(sample, args.days, seeds[0]["threads"], args.seeds[0], extra)
    changed = physicell.settings_values(tree, [*physicell.SETTINGS_CHANGED, *extra])
    changed["options/random_seed"] = changed["user_parameters/random_seed"] = "the run's seed"
    info = physicell.build_info() or {}
    return {
        "code": "physicell",
        "date_utc": _now(),
        "provenance": {
            "physicell_version": info.get("physicell_version"),
            "build": info,
            "host": start_host,
            "host_load_average_at_end": load_average(),
            "command": " ".join(sys.argv),
            "note": args.note,
            "runs": f"read back from {args.runs_dir} (--no-run; each seed's run.json holds its "
            "wall time)"
            if args.no_run
            else "made by this command",
        },
        "setup": {
            "sample": "sample_projects/cancer_immune (config/PhysiCell_settings.xml as shipped "
            "but for settings_changed)",
            "settings_changed": changed,
            "days": args.days,
            "jobs": args.jobs,
            "domain_centre_um": list(physicell.CENTRE_UM),
        },
        "time_steps_min": physicell.time_steps_min(tree),
        "seeds": seeds,
    }


def run_tissue(args: argparse.Namespace) -> dict[str, Any]:
    """Run tissue's seeds and return the result file's contents."""
    start_host = host()
    seeds = tissue_runs.run_seeds(
        args.scenario, args.seeds, args.days, args.jobs, args.set, args.runs_dir
    )
    first = seeds[0]
    snapshots = f"run.snapshot_interval_min={tissue_runs.SNAPSHOT_INTERVAL_MIN:g}"
    return {
        "code": "tissue",
        "date_utc": _now(),
        "provenance": {
            "git": git_info(),
            "host": start_host,
            "host_load_average_at_end": load_average(),
            "python": platform.python_version(),
            "command": " ".join(sys.argv),
            "note": args.note,
        },
        "setup": {
            "scenario": str(args.scenario),
            "overrides": [snapshots, *args.set],
            "days": args.days,
            "jobs": args.jobs,
            "backend": "cpu",
            "domain_centre_um": first.pop("centre_um"),
            "has_oncoprotein": first["has_oncoprotein"],
        },
        "time_steps_min": first["time_steps_min"],
        "seeds": seeds,
    }


def run_compare(args: argparse.Namespace) -> dict[str, Any]:
    """Compare the two result files, plot them; return the comparison."""
    physicell_result = json.loads(args.physicell.read_text())
    tissue_result = json.loads(args.tissue.read_text())
    result = {"date_utc": _now(), **comparison.compare(physicell_result, tissue_result)}
    comparison.plot(physicell_result, tissue_result, args.plot)
    print(f"wrote {args.plot}")
    print("\n".join(comparison.summary_lines(result)))
    return result


def parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    top = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="unpack and compile PhysiCell's cancer-immune sample")
    build.add_argument("--physicell-dir", type=Path, default=os.environ.get("PHYSICELL_DIR"))
    build.add_argument("--mirror", type=Path, default=physicell.DEFAULT_MIRROR)
    build.add_argument("--jobs", type=int, default=2, help="make -j")
    build.add_argument("--unpatched", action="store_true",
                       help="build the sample as shipped (see physicell.PATCHES)")  # fmt: skip
    for name, runs_dir, out in (
        ("physicell", physicell.RUNS_DIR, PHYSICELL_RESULT),
        ("tissue", tissue_runs.RUNS_DIR, TISSUE_RESULT),
    ):
        runs = sub.add_parser(name, help=f"run {name}'s seeds, write {out.name}")
        runs.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
        runs.add_argument("--days", type=float, default=3.0)
        runs.add_argument("--jobs", type=int, default=2, help="runs at a time")
        runs.add_argument("--runs-dir", type=Path, default=runs_dir)
        runs.add_argument("--out", type=Path, default=out)
        runs.add_argument("--note", default=None, help="a line for the provenance")
        if name == "physicell":
            runs.add_argument("--no-run", action="store_true",
                              help="read the finished run folders again, run nothing")  # fmt: skip
            runs.add_argument("--xml", action="append", default=[], metavar="PATH=VALUE",
                              help="a further setting: overall/dt_diffusion=0.002")  # fmt: skip
            runs.add_argument("--partial", action="store_true",
                              help="with --no-run: read unfinished run folders as far as "
                                   "they go")  # fmt: skip
        if name == "tissue":
            runs.add_argument("--scenario", type=Path, default=tissue_runs.DEFAULT_SCENARIO)
            runs.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    both = sub.add_parser("compare", help="compare the two result files, plot them")
    both.add_argument("--physicell", type=Path, default=PHYSICELL_RESULT)
    both.add_argument("--tissue", type=Path, default=TISSUE_RESULT)
    both.add_argument("--out", type=Path, default=SIDE_BY_SIDE)
    both.add_argument("--plot", type=Path, default=SIDE_BY_SIDE_PLOT)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; 0 on success."""
    args = parser().parse_args(argv)
    if args.command == "build":
        info = physicell.build(args.physicell_dir, args.mirror, args.jobs, not args.unpatched)
        print(json.dumps(info, indent=2))
        return 0
    run = {"physicell": run_physicell, "tissue": run_tissue, "compare": run_compare}
    write_json(args.out, run[args.command](args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
