"""The README's results tables, made from runs so that they cannot drift from the code.

    python -m benchmarks.model_results run [--names metastasis,niche] [--jobs 2]
    python -m benchmarks.model_results tables     # rewrite the README's tables from the JSON
    python -m benchmarks.model_results check      # exit 1 when the README differs from it

``run`` runs each built-in scenario with ``tissue run NAME --seed 1`` for its own length
(``make results`` runs them all: about 1.5 h on 2 cores), reads the final observables and the
row at ``CHECK_DAY`` of each ``run.h5`` and merges them into ``RESULTS`` with the commit, the
versions of Python, NumPy, h5py and pydantic, the lock file's digest, the wall time and the
host's load. ``tables`` writes the README's tables
between their ``<!-- model-results:NAME -->`` markers from that file; ``check`` (a test runs it)
fails when the README's tables are not what the file gives. A test also re-runs ``metastasis``
to ``CHECK_DAY`` and compares every observable with the recorded row, tolerance 0: a change
of the engine that changes the model's results fails it until the runs are made again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from benchmarks.calibration.parameters import parameter_table
from benchmarks.common import REPO_ROOT, RESULTS_DIR, Column, Table, git_info, load_average

RESULTS = RESULTS_DIR / "model-results-cpu.json"
README = REPO_ROOT / "README.md"
LOCK = REPO_ROOT / "requirements.lock"
SEED = 1
CHECK_DAY = 1.0  # the row a test re-computes
INJECTION_DAYS = (3.0, 13.0)  # Luzzi 1998's time points, for the injection assay's ledger

# name -> (what it is, what it shows), in the README's order
SCENARIOS: dict[str, tuple[str, str]] = {
    "metastasis": (
        "breast 400 um block of a primary growing from 1e6 cells + lung 300 um block + blood, "
        "both mechanisms on, 14 days",
        "the niche forms at day ~9, before most cells arrive; nearly all stay dormant",
    ),
    "niche": ("restraint off (no IL-1beta+ cells)", "the niche alone: seeded cells grow out"),
    "dormancy": (
        "niche off (no S100A8/A9 induction, resident myeloid cells only)",
        "the restraint alone: seeded cells stay dormant",
    ),
    "anti_s100": (
        "metastasis + anti-S100A8/A9 (95% block) from day 0",
        "the niche blocked: fewer myeloid cells (Hiratsuka 2006)",
    ),
    "resection": (
        "metastasis + the primary removed at day 10",
        "the restraint lifts: proliferating disseminated cells rise (Castano 2018)",
    ),
    "il1r_blockade": (
        "metastasis + IL-1R blocked (95%) from day 10",
        "MICs wake although the primary stays (Castano 2018)",
    ),
    "injection_assay": (
        "1e6 cells into a vein, no primary, lung block 400 um, 13 days",
        "the Luzzi-style ledger at days 3 and 13",
    ),
    "cancer_immune": (
        "PhysiCell's cancer-immune model, reduced (the side-by-side set-up): 60 um "
        "tumour, 100 immune cells added at day 0.5, 3 days",
        "immune cells kill the high-oncoprotein cells; the tumour regresses partly while "
        "the cells they cannot kill multiply (regrowth before day 3 in some seeds)",
    ),
    "spheroid": ("a tumour spheroid in oxygen, 2 days", "oxygen-limited growth"),
}
METASTASIS_ROWS = {
    "metastasis": "`metastasis`",
    "anti_s100": "`anti_s100`",
    "dormancy": "`dormancy` (niche off)",
    "niche": "`niche` (restraint off)",
    "resection": "`resection` (day 10)",
    "il1r_blockade": "`il1r_blockade` (day 10)",
}


def lock_digest() -> str:
    """SHA-256 (first 16 hex digits) of requirements.lock: the installed versions."""
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16] if LOCK.is_file() else "none"


def runtime_versions() -> dict[str, str]:
    """Python and the packages a run's numbers depend on."""
    found = {"python": platform.python_version()}
    for package in ("numpy", "h5py", "pydantic"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def run_one(name: str, out: Path, days: float | None = None) -> dict[str, Any]:
    """Run scenario ``name`` into ``out/name`` (seed ``SEED``, for ``days`` or its own length)
    and return its record: final observables, the rows at ``CHECK_DAY`` and
    ``INJECTION_DAYS``, timing."""
    folder = out / name
    command = [sys.executable, "-m", "tissue.cli", "run", name, "-o", str(folder),
               "--seed", str(SEED), "--backend", "cpu", "--quiet", "--overwrite"]  # fmt: skip
    if days is not None:
        command += ["--days", str(days)]
    load = load_average()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name}: tissue run failed ({done.returncode}): {done.stderr[-2000:]}")
    from tissue.io import RunReader

    reader = RunReader(folder / "run.h5")
    series = reader.timeseries()
    days = [t / 1440.0 for t in series["time_min"].tolist()]

    def row_at(day: float) -> dict[str, float] | None:
        if day not in days:
            return None
        index = days.index(day)
        return {key: float(values[index]) for key, values in series.items()}

    return {
        "scenario": name,
        "seed": SEED,
        "days": days[-1],
        "wall_s": round(wall_s, 1),
        "host_load_average_at_start": load,
        "host_load_average_at_end": load_average(),
        "final": reader.final(),
        "check_row": row_at(CHECK_DAY),
        "rows": {str(day): row_at(day) for day in INJECTION_DAYS if name == "injection_assay"},
    }


def run(
    names: Sequence[str], jobs: int, out: Path, days: float | None = None, results: Path = RESULTS
) -> None:
    """Run ``names`` (``jobs`` at a time; each for ``days`` or its own length) and merge
    their records into ``results``."""
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"--names: unknown {', '.join(unknown)}; allowed: {', '.join(SCENARIOS)}")
    header = {
        "git": git_info(),
        "lock_sha256": lock_digest(),
        "versions": runtime_versions(),
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "jobs": jobs,
        "command": " ".join(sys.argv),
    }
    with ThreadPoolExecutor(jobs) as pool:
        for record in pool.map(lambda name: run_one(name, out, days), names):
            print(f"{record['scenario']}: {record['days']:g} days in {record['wall_s']:.0f} s")
            stored = json.loads(results.read_text()) if results.is_file() else {"runs": {}}
            stored["runs"][record["scenario"]] = header | record
            results.parent.mkdir(parents=True, exist_ok=True)
            results.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")


# --- tables ---------------------------------------------------------------------------


def count(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row["final"].get(key)


def pair(first: str, second: str, final: bool = True) -> Callable[[dict[str, Any]], str]:
    """``"a / b"`` of two values of a run's final row (or of the row itself)."""

    def text(row: dict[str, Any]) -> str:
        values = row["final"] if final else row
        return f"{values[first]:,.0f} / {values[second]:,.0f}"

    return text


def provenance(runs: Sequence[dict[str, Any]]) -> str:
    """One line: commits, dates, jobs and lock digest of the runs behind a table."""
    commits = sorted({r["git"]["commit"][:10] + (" (dirty)" if r["git"]["dirty"] else "")
                      for r in runs})  # fmt: skip
    dates = sorted({r["date_utc"][:10] for r in runs})
    versions = sorted({", ".join(f"{k} {v}" for k, v in r["versions"].items()) for r in runs})
    return (
        f"*Generated by `python -m benchmarks.model_results` from runs (seed {SEED}, CPU) of "
        f"commit {', '.join(commits)} on {', '.join(dates)} ({'; '.join(versions)}).*"
    )


def metastasis_table(runs: dict[str, dict[str, Any]]) -> str:
    rows = [runs[name] | {"label": label} for name, label in METASTASIS_ROWS.items()
            if name in runs]  # fmt: skip
    number = "{:,.0f}"
    table = Table(
        "",
        [
            Column("scenario", "label"),
            Column("arrested", count("ledger.arrested"), number),
            Column("extravasated", count("ledger.extravasated"), number),
            Column("MICs (dormant cells)", count("lung.mic.live"), number),
            Column("proliferating cells", count("lung.dtc.live"), number),
            Column(
                "micro- / macrometastases (lineages)",
                pair("ledger.micrometastases", "ledger.macrometastases"),
            ),
            Column("myeloid / IL-1beta+ cells", pair("lung.myeloid.live", "lung.innate.live")),
        ],
        rows,
    )
    return table.markdown().lstrip() + "\n\n" + provenance(rows)


# the metastasis table's columns over seeds: header, observable (mean [95% CI] of each)
SEED_COLUMNS = (
    ("arrested", "ledger.arrested"),
    ("extravasated", "ledger.extravasated"),
    ("MICs (dormant cells)", "lung.mic.live"),
    ("proliferating cells", "lung.dtc.live"),
    ("micrometastases", "ledger.micrometastases"),
    ("macrometastases", "ledger.macrometastases"),
    ("myeloid cells", "lung.myeloid.live"),
    ("IL-1beta+ cells", "lung.innate.live"),
)


def seeds_table(runs: dict[str, dict[str, Any]]) -> str:
    """The metastasis table over seeds (``benchmarks.replicates``; ``runs`` unused): each
    scenario's final counts as mean [95% t-interval] over its recorded seeds, from the
    record of the most seeds among its ``run`` record and the paired designs that ran it
    whole (the ``run`` record on a tie)."""
    from benchmarks import replicates

    def ci(stats: dict[str, Any]) -> str:
        return f"{stats['mean']:.1f} [{stats['low']:.1f}, {stats['high']:.1f}]"

    rows, used = [], []
    for name, label in METASTASIS_ROWS.items():
        record = replicates.scenario_record(name)
        if record is None:
            continue
        used.append(record)
        row = {"label": label, "seeds": len(record["seeds"]), "source": record["source"]}
        rows.append(row | {"ci": [ci(record["observables"][key]) for _, key in SEED_COLUMNS]})
    if not rows:
        return "(no replicates recorded: python -m benchmarks.replicates run)"
    columns = [Column("scenario", "label"), Column("seeds", "seeds")]
    columns += [
        Column(header, lambda row, i=i: row["ci"][i]) for i, (header, _) in enumerate(SEED_COLUMNS)
    ]
    columns.append(Column("from `benchmarks.replicates`", "source"))
    commits = sorted({r["git"]["commit"][:10] for r in used})
    dates = sorted({r["date_utc"][:10] for r in used})
    days = sorted({f"{r['observables']['time_days']['mean']:g}" for r in used})
    note = (
        f"*Generated by `python -m benchmarks.model_results` from `benchmarks.replicates` "
        f"(CPU; at day {', '.join(days)}; means with 95% t-intervals over the seeds) of "
        f"commit {', '.join(commits)} on {', '.join(dates)}.*"
    )
    return Table("", columns, rows).markdown().lstrip() + "\n\n" + note


def injection_table(runs: dict[str, dict[str, Any]]) -> str:
    if "injection_assay" not in runs:
        return "(no injection_assay run recorded)"
    record = runs["injection_assay"]
    rows = sorted(
        ({"day": float(day), **values} for day, values in record["rows"].items() if values),
        key=lambda row: row["day"],
    )

    def n(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda row: f"{row[key]:,.0f}"

    def share(part: Callable[[dict[str, Any]], float], whole: str) -> Callable[[Any], str]:
        return lambda row: f"{100 * part(row) / row[whole]:.1f}%" if row[whole] else "-"

    def arrested(row: dict[str, Any]) -> float:
        return row["ledger.lodged_elsewhere"] + row["ledger.arrested"]

    columns = [
        Column("day", lambda row: f"{row['day']:g}"),
        Column("injected", n("ledger.injected")),
        Column("died in blood", n("ledger.died_in_blood")),
        Column("arrested (all organs)", share(arrested, "ledger.injected")),
        Column("arrested in the block", n("ledger.arrested")),
        Column("extravasated", n("ledger.extravasated")),
        Column("died in the lung", n("ledger.died_in_organ")),
        Column("solitary dormant", n("ledger.solitary_dormant")),
        Column("solitary dormant, of those arrested in the block",
               share(lambda row: row["ledger.solitary_dormant"], "ledger.arrested")),
        Column("micro- / macrometastases",
               pair("ledger.micrometastases", "ledger.macrometastases", final=False)),
    ]  # fmt: skip
    return Table("", columns, rows).markdown().lstrip() + "\n\n" + provenance([record])


def scenarios_table(runs: dict[str, dict[str, Any]]) -> str:
    rows = [
        {"name": f"`{name}`" + (" (default)" if name == "metastasis" else ""),
         "what": what, "shows": shows, "run": runs.get(name)}
        for name, (what, shows) in SCENARIOS.items()
    ]  # fmt: skip
    recorded = [row["run"] for row in rows if row["run"]]
    jobs = sorted({r["jobs"] for r in recorded})

    def minutes(row: dict[str, Any]) -> str:
        return "not run" if row["run"] is None else f"{row['run']['wall_s'] / 60:.1f} min"

    table = Table(
        "",
        [
            Column("scenario", "name"),
            Column("what it is", "what"),
            Column("what it shows", "shows"),
            Column(f"CPU wall time ({', '.join(map(str, jobs))} runs at a time)", minutes),
        ],
        rows,
    )
    return table.markdown().lstrip() + "\n\n" + provenance(recorded)


def replicate_table(runs: dict[str, dict[str, Any]]) -> str:
    """The paired replicates of ``benchmarks.replicates`` (its own file; ``runs`` unused):
    per branch, its mean and the trunk's with 95% t-intervals over seeds, and the paired
    effect (branch minus trunk, seed by seed)."""
    from benchmarks import replicates

    records = replicates.recorded()["paired"]
    if not records:
        return "(no replicates recorded: python -m benchmarks.replicates paired)"

    def ci(stats: dict[str, Any]) -> str:
        return f"{stats['mean']:.1f} [{stats['low']:.1f}, {stats['high']:.1f}]"

    def percent(stats: dict[str, Any]) -> dict[str, Any]:
        return {key: 100 * stats[key] for key in ("mean", "low", "high")}

    rows = []
    for record in records.values():
        design, base = record["design"], record["design"]["base"]
        for label, effects in record["effects"].items():
            scenario, overrides = design["branches"][label]
            what = f"`{scenario}`" + "".join(f" {k} = {v}" for k, v in overrides.items())
            rows.append({
                "what": f"{what} vs `{base}`, branched at day {design['at_day']:g}",
                "seeds": len(record["seeds"]),
                "day": f"{design['days']:g}",
                "trunk": record["observables"][base]["lung.dtc.live"],
                "branch": record["observables"][label]["lung.dtc.live"],
                "effect": effects,
                "share": percent(replicates.share_effect(record, label)),
            })  # fmt: skip
    columns = [
        Column("branch vs trunk", "what"),
        Column("seeds", "seeds"),
        Column("day", "day"),
        Column("proliferating cells, trunk", lambda row: ci(row["trunk"])),
        Column("proliferating cells, branch", lambda row: ci(row["branch"])),
        Column("effect: proliferating cells", lambda row: ci(row["effect"]["lung.dtc.live"])),
        Column("effect: proliferating share (%)", lambda row: ci(row["share"])),
        Column("effect: MICs", lambda row: ci(row["effect"]["lung.mic.live"])),
        Column("effect: arrivals", lambda row: ci(row["effect"]["ledger.arrested"])),
    ]
    commits = sorted({r["git"]["commit"][:10] for r in records.values()})
    dates = sorted({r["date_utc"][:10] for r in records.values()})
    note = (
        f"*Generated by `python -m benchmarks.model_results` from `benchmarks.replicates "
        f"paired` (CPU; means with 95% t-intervals over seeds; an effect is each seed's "
        f"branch minus its own trunk) of commit {', '.join(commits)} on {', '.join(dates)}.*"
    )
    return Table("", columns, rows).markdown().lstrip() + "\n\n" + note


# the injection assay's day-13 ledger over seeds: ledger key, the exact model's name, label
LUZZI_ROWS = (
    ("ledger.extravasated", "extravasated", "extravasated (ever)"),
    ("ledger.died_in_organ", "died", "died in the lung"),
    ("ledger.solitary_dormant", "solitary_dormant", "solitary dormant (MICs)"),
    ("ledger.micrometastases", "micrometastases", "in micrometastases"),
    ("ledger.macrometastases", "macrometastases", "in macrometastases"),
)


def luzzi_table(runs: dict[str, dict[str, Any]]) -> str:
    """``injection_assay`` over seeds (``benchmarks.replicates run``; ``runs`` unused): at
    its last day, each lineage outcome as a fraction of the cells arrested in the block,
    pooled over seeds and per seed (mean, 95% t-interval), beside the calibrated exact
    model's probability (with the binomial sd of the pooled count) and Luzzi 1998's."""
    from benchmarks import replicates
    from benchmarks.calibration import cascade

    record = replicates.recorded()["scenarios"].get("injection_assay")
    if record is None:
        return "(not recorded: python -m benchmarks.replicates run --names injection_assay)"
    observed = record["observables"]
    arrested = observed["ledger.arrested"]["values"]
    n = sum(arrested)
    day = observed["time_days"]["mean"]
    exact = cascade.ledger(cascade.scenario_rates("injection_assay"), day)
    luzzi = {k: f for k, (d, f) in cascade.read_targets().items() if d == day}
    rows = []
    for key, model, label in LUZZI_ROWS:
        values = observed[key]["values"]
        p = exact[model]
        per_seed = replicates.interval([v / a for v, a in zip(values, arrested, strict=True)])
        rows.append({
            "what": label,
            "pooled": f"{sum(values):,.0f} ({100 * sum(values) / n:.3g}%)",
            "per_seed": "{:.1f}% [{:.1f}, {:.1f}]".format(
                *(100 * per_seed[k] for k in ("mean", "low", "high"))
            ),
            "exact": f"{100 * p:.3g}% +- {100 * math.sqrt(p * (1 - p) / n):.2g}",
            "luzzi": f"{100 * luzzi[model]:.3g}%" if model in luzzi else "-",
        })  # fmt: skip
    columns = [
        Column(f"day {day:g}, of the {n:,.0f} cells arrested in the block", "what"),
        Column(f"{len(record['seeds'])} seeds pooled", "pooled"),
        Column("per seed, mean [95% CI]", "per_seed"),
        Column("exact model (+- binomial sd)", "exact"),
        Column("Luzzi 1998", "luzzi"),
    ]
    note = (
        f"*Generated by `python -m benchmarks.model_results` from `benchmarks.replicates run "
        f"--names injection_assay` (CPU, seeds {record['seeds'][0]}-{record['seeds'][-1]}) "
        f"of commit {record['git']['commit'][:10]} on {record['date_utc'][:10]}.*"
    )
    return Table("", columns, rows).markdown().lstrip() + "\n\n" + note


TABLES = {
    "parameters": lambda runs: parameter_table(),
    "metastasis": metastasis_table,
    "seeds": seeds_table,
    "injection": injection_table,
    "scenarios": scenarios_table,
    "replicates": replicate_table,
    "luzzi": luzzi_table,
}


def rendered(readme_text: str, runs: dict[str, dict[str, Any]]) -> str:
    """``readme_text`` with every ``<!-- model-results:NAME -->`` ... ``<!-- /model-results -->``
    block replaced by table NAME made from ``runs``."""
    out = readme_text
    for name, make in TABLES.items():
        begin, end = f"<!-- model-results:{name} -->", "<!-- /model-results -->"
        start = out.find(begin)
        if start < 0:
            raise SystemExit(f"{README}: no marker {begin}")
        stop = out.find(end, start)
        if stop < 0:
            raise SystemExit(f"{README}: {begin} has no {end} after it")
        out = out[: start + len(begin)] + "\n" + make(runs) + "\n" + out[stop:]
    return out


def recorded_runs(path: Path = RESULTS) -> dict[str, dict[str, Any]]:
    """The run records in ``path`` by scenario name."""
    return json.loads(path.read_text())["runs"] if path.is_file() else {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The README's results tables, from runs")
    parser.add_argument("action", choices=("run", "tables", "check"))
    parser.add_argument("--names", default=",".join(SCENARIOS),
                        help="scenarios to run (comma-separated; default all)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "results")
    parser.add_argument(
        "--days",
        type=float,
        default=None,
        help="run each this long (trials; the README's runs use their own)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.action == "run":
        names = [n for n in args.names.split(",") if n]
        run(names, max(1, args.jobs), args.out, args.days, args.results)
        return 0
    text = README.read_text()
    new = rendered(text, recorded_runs(args.results))
    if args.action == "tables":
        README.write_text(new)
        return 0
    if new != text:
        print(f"{README}: the results tables differ from {args.results}; run "
              "python -m benchmarks.model_results tables")  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
