"""Replicate seeds of the built-in metastasis scenarios, with the mean and 95% interval of
every final observable.

    python -m benchmarks.replicates run --names metastasis,niche --seeds 10 [--workers 2]
    python -m benchmarks.replicates paired --base metastasis --at-day 10 \
        --branch resection=resection --branch il1r_blockade=il1r_blockade --seeds 10
    python -m benchmarks.replicates show              # the recorded statistics

``run`` writes a sweep file per scenario (``scenario = NAME``, ``replicates = SEEDS`` from
seed 1, ``[set]`` with ``--days`` when given) under ``--out`` and runs ``tissue sweep`` on it
(members already finished are skipped, so an interrupted run resumes), then reads the sweep's
``results.csv`` and merges into ``RESULTS`` for each scenario: the seeds, the commit, and for
every final observable the values, their mean and the 95% t-interval of the mean.

``paired`` compares treatments that start after day 0 on a shared history: each seed runs
``--base`` to ``--at-day``, branches there into every ``--branch LABEL=SCENARIO[;KEY=VALUE]...``
(:meth:`tissue.Simulation.branch`: each branch is its scenario's own run from day 0, same
seed) and runs all of them to ``--days``. It records each label's statistics and, per seed,
the branch minus the base (the treatment's effect in that history) with its 95% t-interval:
paired differences, whose spread is the treatment's alone, at about half the CPU of separate
runs. Each seed's finals are written under ``--out`` as they finish (an interrupted run
resumes). :func:`share_effect` is the paired effect on the share of the lung's disseminated
cells that proliferate (a release from dormancy, where the branch leaves the arrivals as they
are); :func:`effect_contrast` compares a treatment's effects in two designs. The README's
replicate table (``benchmarks.model_results tables``) is made from
``RESULTS``. Needs the ``dask`` and ``dev`` extras (scipy for the t quantile).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
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


def recorded() -> dict[str, Any]:
    """``RESULTS`` as stored: ``scenarios`` (name -> record of :func:`run`) and ``paired``
    (``BASE@DAY`` -> record of :func:`paired`), each empty when none is recorded."""
    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    return {"scenarios": {}, "paired": {}} | stored


def scenario_records(name: str) -> list[dict[str, Any]]:
    """Every recorded set of seeds of built-in scenario ``name`` run to its own last day:
    its ``run`` record, the trunk of each paired design on it, and each paired branch that
    is ``name`` unchanged (a branch is its scenario's own run from day 0). Each as
    ``{"source", "seeds", "observables", "git", "date_utc"}``, the ``run`` record first."""
    from tissue import load_scenario

    stored = recorded()
    found = []
    run = stored["scenarios"].get(name)
    if run is not None and run["days"] is None:
        found.append(run | {"source": f"run --names {name}"})
    days = load_scenario(name).run.days
    for key, record in stored["paired"].items():
        design = record["design"]
        if design["days"] != days:
            continue
        labels = [design["base"]] if design["base"] == name else []
        labels += [label for label, (scenario, overrides) in design["branches"].items()
                   if scenario == name and not overrides]  # fmt: skip
        for label in labels:
            found.append({
                "source": f"paired {key}" + ("" if label == design["base"] else f" {label}"),
                "seeds": record["seeds"],
                "observables": record["observables"][label],
                "git": record["git"],
                "date_utc": record["date_utc"],
            })  # fmt: skip
    return found


def scenario_record(name: str) -> dict[str, Any] | None:
    """The one of :func:`scenario_records` with the most seeds (the first on a tie), or
    None when ``name`` was never recorded whole."""
    found = scenario_records(name)
    return max(found, key=lambda r: len(r["seeds"])) if found else None


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
        stored = recorded()
        stored["scenarios"][name] = record
        RESULTS.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        print(f"{name}: seeds {record['seeds']}")


Branches = dict[str, tuple[str, dict[str, Any]]]
# the observables whose paired effects are recorded (every label's finals are kept whole)
EFFECTS = (
    "ledger.arrested", "ledger.extravasated", "lung.mic.live", "lung.dtc.live",
    "ledger.micrometastases", "ledger.macrometastases", "lung.myeloid.live",
    "lung.innate.live", "lung.s100a8a9.mean", "lung.il1b.mean",
)  # fmt: skip


def parse_branch(text: str) -> tuple[str, tuple[str, dict[str, Any]]]:
    """``"removed=niche;interventions.resection.start_day=10"`` -> ("removed", ("niche",
    {"interventions.resection.start_day": 10.0}))."""
    from tissue.config.overrides import parse_override

    label, sep, rest = text.partition("=")
    if not sep or not label or not rest:
        raise SystemExit(f"--branch {text}: expected LABEL=SCENARIO[;KEY=VALUE]...")
    scenario, *sets = rest.split(";")
    return label, (scenario, dict(parse_override(item) for item in sets if item))


def paired_seed(
    base: str, days: float, at_day: float, branches: Branches, seed: int
) -> dict[str, dict[str, float]]:
    """One seed: label (``base`` for the trunk) -> final observables, every branch
    continued from the base at ``at_day``."""
    from tissue import Simulation, load_scenario

    sim = Simulation(load_scenario(base, {"run.days": days}), backend="cpu", seed=seed)
    sim.step(sim.ticks_for(at_day))
    finals = {}
    for label, (scenario, overrides) in branches.items():
        branch = sim.branch(load_scenario(scenario, {"run.days": days, **overrides}))
        branch.step(sim.ticks_for(days) - branch.tick)
        finals[label] = branch.observables()
    sim.step(sim.ticks_for(days) - sim.tick)
    finals[base] = sim.observables()
    return finals


def paired_record(base: str, per_seed: dict[int, dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Statistics over seeds: each label's finals, and each branch minus the base
    (EFFECTS) with its 95% t-interval."""
    seeds = sorted(per_seed)
    labels = list(per_seed[seeds[0]])
    observables = {
        label: {
            key: interval([per_seed[s][label][key] for s in seeds])
            for key in per_seed[seeds[0]][label]
        }
        for label in labels
    }
    effects = {
        label: {
            key: interval([per_seed[s][label][key] - per_seed[s][base][key] for s in seeds])
            for key in EFFECTS
            if key in per_seed[seeds[0]][label]
        }
        for label in labels
        if label != base
    }
    return {"seeds": seeds, "observables": observables, "effects": effects}


def share(dtc: float, mic: float) -> float:
    """The share of the lung's live disseminated cells that proliferate, dtc / (mic + dtc)
    (0 with none)."""
    return dtc / (dtc + mic) if dtc + mic > 0 else 0.0


def proliferating_share(record: dict[str, Any], label: str) -> list[float]:
    """Per seed (the record's order), :func:`share`. A branch that leaves the arrivals as
    they are moves it only by waking or holding cells; one that ends them (resection) also
    raises it by removing late arrivals that are still dormant."""
    stats = record["observables"][label]
    pairs = zip(stats["lung.dtc.live"]["values"], stats["lung.mic.live"]["values"], strict=True)
    return [share(dtc, mic) for dtc, mic in pairs]


def share_effect(record: dict[str, Any], label: str) -> dict[str, Any]:
    """The paired effect of branch ``label`` on :func:`proliferating_share`, with its 95%
    t-interval over seeds."""
    base = record["design"]["base"]
    branch, trunk = proliferating_share(record, label), proliferating_share(record, base)
    return interval([b - t for b, t in zip(branch, trunk, strict=True)])


def effect_contrast(
    first: dict[str, Any], first_label: str, second: dict[str, Any], second_label: str,
    key: str,
) -> dict[str, Any]:  # fmt: skip
    """How much a treatment's paired effect on ``key`` differs between two designs (the
    first's effect minus the second's), seed by seed over the seeds both recorded, with
    its 95% t-interval: e.g. what the restraint does to resection's effect, from designs
    with and without it."""
    effects = [
        dict(zip(r["seeds"], r["effects"][label][key]["values"], strict=True))
        for r, label in ((first, first_label), (second, second_label))
    ]
    seeds = sorted(effects[0].keys() & effects[1].keys())
    return interval([effects[0][s] - effects[1][s] for s in seeds]) | {"seeds": seeds}


def paired(
    base: str, branches: Branches, at_day: float, days: float, seeds: int, workers: int,
    out: Path,
) -> dict[str, Any]:  # fmt: skip
    """Run (or resume) seeds 1..``seeds`` of the paired design and merge its record into
    ``RESULTS`` under ``BASE@AT_DAY`` (``BASE@AT_DAY-dDAYS`` when ``days`` is not the
    base's own length, so that a longer design keeps its own record and seed files)."""
    from tissue import load_scenario

    key = f"{base}@{at_day:g}"
    if days != load_scenario(base).run.days:
        key += f"-d{days:g}"
    folder = out / "paired" / key
    folder.mkdir(parents=True, exist_ok=True)
    design = {"base": base, "at_day": at_day, "days": days,
              "branches": {k: [s, o] for k, (s, o) in branches.items()}}  # fmt: skip
    per_seed: dict[int, dict[str, dict[str, float]]] = {}
    for path in folder.glob("seed-*.json"):
        stored = json.loads(path.read_text())
        if stored["design"] == design:
            per_seed[int(stored["seed"])] = stored["finals"]
    todo = [s for s in range(1, seeds + 1) if s not in per_seed]
    with ProcessPoolExecutor(max(1, workers)) as pool:
        futures = {s: pool.submit(paired_seed, base, days, at_day, branches, s) for s in todo}
        for seed, future in futures.items():
            per_seed[seed] = future.result()
            path = folder / f"seed-{seed}.json"
            path.write_text(json.dumps({"design": design, "seed": seed, "finals": per_seed[seed]}))
            print(f"{key}: seed {seed} done", flush=True)
    record = paired_record(base, {s: per_seed[s] for s in range(1, seeds + 1)}) | {
        "design": design,
        "git": git_info(),
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    stored = recorded()
    stored["paired"][key] = record
    RESULTS.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replicate seeds of the built-in scenarios")
    parser.add_argument("action", choices=("run", "paired", "show"))
    parser.add_argument("--names", default="metastasis")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--days", type=float, default=None)
    parser.add_argument("--base", default="metastasis", help="paired: the trunk's scenario")
    parser.add_argument("--at-day", type=float, default=10.0, help="paired: the branch day")
    parser.add_argument("--branch", action="append", default=[],
                        help="paired: LABEL=SCENARIO[;KEY=VALUE]... (repeat)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "replicates")
    args = parser.parse_args(argv)
    if args.action == "run":
        run([n for n in args.names.split(",") if n], args.seeds, args.workers, args.days, args.out)
        return 0
    if args.action == "paired":
        if not args.branch:
            raise SystemExit("paired: give at least one --branch LABEL=SCENARIO")
        branches = dict(parse_branch(text) for text in args.branch)
        from tissue import load_scenario

        days = load_scenario(args.base).run.days if args.days is None else args.days
        paired(args.base, branches, args.at_day, days, args.seeds, args.workers, args.out)
        return 0
    stored = recorded()
    for name, record in stored["scenarios"].items():
        print(f"{name} (seeds {record['seeds']}):")
        for key, s in record["observables"].items():
            print(f"  {key}: {s['mean']:.4g} [{s['low']:.4g}, {s['high']:.4g}]")
    for key, record in stored["paired"].items():
        for label, effects in record["effects"].items():
            print(f"{key} -> {label} minus {record['design']['base']} (seeds {record['seeds']}):")
            for name, s in effects.items():
                print(f"  {name}: {s['mean']:.4g} [{s['low']:.4g}, {s['high']:.4g}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
