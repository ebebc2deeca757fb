"""PhysiCell's sample projects run in both codes: PhysiCell as built from its sources, and
tissue on the scenario `tissue import-physicell` makes of the same project files (without
--lenient), several seeds each; the population curves compared against PhysiCell's seed
spread.

```sh
python -m benchmarks.physicell.samples build template           # PhysiCell's binary (~1 min)
python -m benchmarks.physicell.samples physicell template --seeds 1 2 3 4 5 6 7 8 9 10 --jobs 2
python -m benchmarks.physicell.samples tissue template --seeds 1 2 3 4 5 6 7 8 9 10 --jobs 2
python -m benchmarks.physicell.samples compare template          # results/template-2d.json
python -m benchmarks.physicell.samples field-steps rules_sample  # a field at two steps each
python -m benchmarks.physicell.samples field-steps rules_sample --physicell-steps 0.001 0.0005
```

``--diffusion-min`` and ``--run-minutes`` run either code at another diffusion step or for
less time; the results file is then named by them (``rules_sample-2d-tissue-dt0.1.json``),
and ``compare --physicell-file -dt0.002 --tissue-file -dt0.1`` picks such files
(``--reference tissue`` compares two tissue files), and ``pairs --tissue-file A --second-file B``
the same tissue seeds run two ways, seed by seed (a step's effect without the draws' spread).

``--3d`` runs the project's 3-D variant instead: ``use_2D`` off, the domain a cube of
``VARIANT_SIDE_UM[sample]`` that holds the shipped cells (PhysiCell solves its fields at dt
0.01 min on every voxel, so the shipped 1,000 um square as a cube would take hours a seed;
the cells start in the plane z = 0 as shipped; tissue's draws are keyed by seed, cell id and
step, so a seed's 2-D and 3-D runs share their draws cell for cell, and a rare draw in one
recurs in the other). Sources come from the side-by-side harness's build
(``build/PhysiCell``, see README.md); each sample is built in its own copy,
``build/samples/<sample>/PhysiCell``, so the cancer-immune binary stays.

What is changed from the shipped files, in both codes alike: ``random_seed`` (per run),
``omp_num_threads`` (1), SVG output (off). In tissue, ``time_steps.diffusion_min`` is the
mechanics step where the project's fields have no source, sink or boundary value and start
at 0 (they stay exactly 0 at any step; PhysiCell's 0.01 min step would only cost time) or
where no cell reads a field (no rule's signal, chemotaxis or oxygen ramp: the cells' numbers
cannot depend on the fields' step), and is the project's own otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build"
SOURCE = BUILD / "PhysiCell"
RESULTS = HERE / "results"
TARGETS = {  # sample -> PhysiCell's make target
    "template": "template",
    "rules_sample": "rules-sample",
    "immune_function": "immune-function-sample",
    "asymmetric_division": "asymmetric-division-sample",
}
VARIANT_SIDE_UM = {  # the 3-D variants' cube (um): the shipped cells fit inside
    "template": 400.0,
    "immune_function": 400.0,  # cells within 115 um of the centre
    "rules_sample": 800.0,  # cells within 350 um of the centre
    "asymmetric_division": 400.0,  # one stem cell at the centre, ~17 cells after a day
}


def sample_dir(sample: str) -> Path:
    return BUILD / "samples" / sample


def variant(three_d: bool) -> str:
    return "3d" if three_d else "2d"


def build(sample: str) -> Path:
    """PhysiCell's binary of ``sample``, built in a copy of the harness's sources."""
    if not SOURCE.is_dir():
        sys.exit(
            f"no PhysiCell sources at {SOURCE}: run `python -m benchmarks.physicell."
            "side_by_side build` first"
        )
    tree = sample_dir(sample) / "PhysiCell"
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(SOURCE, tree, ignore=shutil.ignore_patterns("output*", "*.o", "runs"))
    log = tree.parent / "build.log"
    with log.open("w") as out:
        for command in (["make", "reset"], ["make", TARGETS[sample]], ["make", "-j2"]):
            done = subprocess.run(command, cwd=tree, stdout=out, stderr=subprocess.STDOUT)
            if done.returncode != 0 and command[1] != "reset":
                sys.exit(f"{' '.join(command)} failed; see {log}")
    return tree / "project"


def suffix(diffusion_min: float | None, minutes: float | None) -> str:
    """A results file's suffix for runs at another diffusion step or run length."""
    return (f"-dt{diffusion_min:g}" if diffusion_min else "") + (
        f"-{minutes:g}min" if minutes else ""
    )


def settings(
    sample: str,
    three_d: bool,
    seed: int,
    diffusion_min: float | None = None,
    minutes: float | None = None,
) -> ET.ElementTree:
    """The project's settings as shipped, with the seed, one thread and no SVG; for the
    3-D variant ``use_2D`` off and a cube of VARIANT_SIDE_UM; where given, another
    diffusion step and run length (min)."""
    tree = ET.parse(
        sample_dir(sample)
        / "PhysiCell"
        / "sample_projects"
        / sample
        / "config"
        / "PhysiCell_settings.xml"
    )
    root = tree.getroot()
    seeds = [root.find(f"{where}/random_seed") for where in ("options", "user_parameters")]
    for node in seeds:  # 1.14 reads options/; older projects seed from user_parameters/
        if node is not None:
            node.text = str(seed)
    if all(node is None for node in seeds):
        raise ValueError(f"{sample}: its settings have no random_seed to set")
    root.find("parallel/omp_num_threads").text = "1"  # type: ignore[union-attr]
    root.find("save/SVG/enable").text = "false"  # type: ignore[union-attr]
    root.find("save/folder").text = "output"  # type: ignore[union-attr]
    if diffusion_min:
        root.find("overall/dt_diffusion").text = str(diffusion_min)  # type: ignore[union-attr]
    if minutes:
        root.find("overall/max_time").text = str(minutes)  # type: ignore[union-attr]
    if three_d:
        half = VARIANT_SIDE_UM[sample] / 2
        for axis in "xyz":
            root.find(f"domain/{axis}_min").text = str(-half)  # type: ignore[union-attr]
            root.find(f"domain/{axis}_max").text = str(half)  # type: ignore[union-attr]
        root.find("domain/use_2D").text = "false"  # type: ignore[union-attr]
        for node in root.iter("use_2D"):
            node.text = "false"
    return tree


def project(
    sample: str,
    three_d: bool,
    seed: int,
    folder: Path,
    diffusion_min: float | None = None,
    minutes: float | None = None,
) -> Path:
    """A run folder laid out as a PhysiCell project: config/ with the settings (see
    :func:`settings`) and the sample's other config files."""
    config = folder / "config"
    shipped = sample_dir(sample) / "PhysiCell" / "sample_projects" / sample / "config"
    shutil.copytree(shipped, config, dirs_exist_ok=True)
    settings(sample, three_d, seed, diffusion_min, minutes).write(
        config / "PhysiCell_settings.xml", encoding="utf-8", xml_declaration=True
    )
    (folder / "output").mkdir(exist_ok=True)
    return config / "PhysiCell_settings.xml"


def run_folder(
    code: str,
    sample: str,
    three_d: bool,
    seed: int,
    diffusion_min: float | None,
    minutes: float | None,
) -> Path:
    """A fresh, empty folder for one run (an earlier run's is removed)."""
    tag = suffix(diffusion_min, minutes)
    folder = sample_dir(sample) / "runs" / variant(three_d) / f"{code}-seed{seed}{tag}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def run_physicell(
    sample: str,
    three_d: bool,
    seed: int,
    diffusion_min: float | None = None,
    minutes: float | None = None,
) -> dict[str, Any]:
    """One PhysiCell run; ``diffusion_min`` and ``minutes`` replace the shipped diffusion
    step and run length where given."""
    folder = run_folder("physicell", sample, three_d, seed, diffusion_min, minutes)
    xml = project(sample, three_d, seed, folder, diffusion_min, minutes)
    changes = {"dt_diffusion": diffusion_min} if diffusion_min else {}
    binary = sample_dir(sample) / "PhysiCell" / "project"
    start = time.perf_counter()
    with (folder / "stdout.txt").open("w") as out:
        done = subprocess.run(
            [str(binary), str(xml.relative_to(folder))],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    if done.returncode != 0:
        raise RuntimeError(f"PhysiCell seed {seed} exited {done.returncode}; see {folder}")
    return {
        "seed": seed,
        "wall_s": round(time.perf_counter() - start, 2),
        "changes": changes | ({"max_time": minutes} if minutes else {}),
        **physicell_curves(folder / "output"),
    }


def physicell_curves(output: Path) -> dict[str, Any]:
    """Live and dead cells of each type at every full output (its time rounded to 1e-4
    min: PhysiCell's clock sums its diffusion steps, 4320.000001 at 0.0005 min, and the
    comparisons match the codes' output times exactly)."""
    from tissue.io.multicellds import read_output

    times, live, dead = [], {}, {}
    for path in sorted(output.glob("output[0-9]*.xml")):
        out = read_output(path)
        times.append(round(out.time_min, 4))
        kinds = out.columns["cell_type"].astype(int)
        is_dead = out.columns["dead"] > 0
        for code, name in out.cell_types.items():
            live.setdefault(name, []).append(int(((kinds == code) & ~is_dead).sum()))
            dead.setdefault(name, []).append(int(((kinds == code) & is_dead).sum()))
    return {"time_min": times, "live": live, "dead": dead}


def run_tissue(
    sample: str,
    three_d: bool,
    seed: int,
    diffusion_min: float | None = None,
    minutes: float | None = None,
) -> dict[str, Any]:
    """One tissue run of the imported project; ``diffusion_min`` and ``minutes`` replace
    its diffusion step and run length where given."""
    import csv

    from tissue.io import RunReader
    from tissue.io.physicell import import_physicell

    folder = run_folder("tissue", sample, three_d, seed, diffusion_min, minutes)
    project(sample, three_d, seed, folder)
    imported = import_physicell(folder)
    (folder / "scenario.toml").write_text(imported.toml)
    scenario = imported.scenario
    changes = {}
    if all(_inert(scenario, f) for f in scenario.fields) or _unread(scenario):
        changes["time_steps.diffusion_min"] = scenario.time_steps.mechanics_min
    if diffusion_min is not None:  # asked for: a longer step than PhysiCell's (say so)
        changes["time_steps.diffusion_min"] = diffusion_min
    if minutes:
        changes["run.days"] = minutes / 1440
    command = [*tissue_command(), "run", "scenario.toml", "-o", "run", "--backend", "cpu",
               "--quiet"]  # fmt: skip
    for key, value in changes.items():
        command += ["--set", f"{key}={value}"]
    start = time.perf_counter()
    with (folder / "stdout.txt").open("w") as out:
        done = subprocess.run(
            command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=tissue_env()
        )
    if done.returncode != 0:
        raise RuntimeError(f"tissue seed {seed} exited {done.returncode}; see {folder}")
    wall = time.perf_counter() - start
    with (folder / "run" / "timeseries.csv").open() as f:
        rows = list(csv.DictReader(f))
    live = {t: [int(float(r[f"domain.{t}.live"])) for r in rows] for t in scenario.cell_types}
    dead = {
        t: [int(float(r[f"domain.{t}.apoptotic"]) + float(r[f"domain.{t}.necrotic"])) for r in rows]
        for t in scenario.cell_types
    }
    return {
        "seed": seed,
        "wall_s": round(wall, 2),
        "tissue_commit": RunReader(folder / "run" / "run.h5").tissue_commit or tissue_commit(),
        "changes": changes,
        "time_min": [float(r["time_min"]) for r in rows],
        "live": live,
        "dead": dead,
    }


def tissue_command() -> list[str]:
    """The command line of the tissue CLI of the code this process imports (with
    :func:`tissue_env`): not the installed script, which may import another checkout."""
    return [sys.executable, "-m", "tissue.cli"]


def tissue_env() -> dict[str, str]:
    """The environment in which :func:`tissue_command` imports this process's tissue (its
    checkout first on PYTHONPATH), so that :func:`tissue_commit` names the code that ran."""
    import tissue

    root = str(Path(tissue.__file__).resolve().parents[1])
    rest = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + rest if rest else "")}


def tissue_commit() -> str:
    """The commit of the tissue code this process imports (``+dirty`` with local changes),
    recorded with each run so that results from different code are never mixed unseen."""
    import tissue
    from benchmarks.common import git

    where = Path(tissue.__file__).resolve().parent
    head = (git("rev-parse", "--short", "HEAD", cwd=where) or "").strip()
    dirty = (git("status", "--porcelain", "--", ".", cwd=where) or "").strip()
    return (head or "unknown") + ("+dirty" if dirty else "")


def _unread(scenario: Any) -> bool:
    """Whether no cell reads any field: no rule has a field as its signal and no type
    moves by chemotaxis or ramps its cycle or necrosis by an oxygen field, so the cells'
    numbers cannot depend on how the fields are stepped."""
    from tissue.signals import parse_signal

    if any(parse_signal(r.signal).kind == "field" for r in scenario.rules.values()):
        return False
    return not any(
        c.chemotaxis_field or c.chemotaxis_sensitivities or c.oxygen_field
        for c in scenario.cell_types.values()
    )


def _inert(scenario: Any, name: str) -> bool:
    """Whether field ``name`` stays 0: no initial value, boundary value, source or cell
    exchange."""
    f = scenario.fields[name]
    if (
        f.initial
        or f.sources
        or f.reactions
        or (f.boundary == "dirichlet" and (f.boundary_value or any(f.boundary_values.values())))
    ):
        return False
    for ctype in scenario.cell_types.values():
        for table in (ctype.secretion, ctype.dead_secretion):
            s = table.get(name)
            if s and (s.secretion_rate_per_min * s.secretion_target or s.export_rate):
                return False
    return True


def runs(
    code: str,
    sample: str,
    three_d: bool,
    seeds: list[int],
    jobs: int,
    diffusion_min: float | None = None,
    minutes: float | None = None,
) -> None:
    """Run ``seeds`` in ``code`` and write each to the results file as it finishes (named
    by :func:`suffix` where the diffusion step or run length is not the project's). Seeds
    already in the file are kept unless run again, so a batch can be extended; a kept run
    made with other settings (``changes``) is refused rather than mixed."""
    out = RESULTS / f"{sample}-{variant(three_d)}-{code}{suffix(diffusion_min, minutes)}.json"
    RESULTS.mkdir(exist_ok=True)
    kept = json.loads(out.read_text())["runs"] if out.exists() else []
    kept = [r for r in kept if r["seed"] not in seeds]
    results: list[dict[str, Any]] = []
    with ProcessPoolExecutor(jobs) as pool:
        run = run_physicell if code == "physicell" else run_tissue
        futures = [pool.submit(run, sample, three_d, s, diffusion_min, minutes) for s in seeds]
        for future in as_completed(futures):
            results.append(future.result())
            mixed = {json.dumps(r.get("changes", {}), sort_keys=True) for r in kept + results}
            if len(mixed) > 1:
                raise SystemExit(f"{out}: its runs would mix settings {sorted(mixed)}")
            _write_runs(out, sample, three_d, code, kept + results)
    total = sum(r["wall_s"] for r in results)
    print(f"{out}: {len(kept) + len(results)} runs ({len(results)} new, wall {total:.0f} s)")


def _write_runs(
    out: Path, sample: str, three_d: bool, code: str, results: list[dict[str, Any]]
) -> None:
    out.write_text(
        json.dumps(
            {
                "sample": sample,
                "variant": variant(three_d),
                "code": code,
                "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "runs": sorted(results, key=lambda r: r["seed"]),
            },
            indent=1,
        )
        + "\n"
    )


def compare(
    sample: str, three_d: bool, physicell: str = "", tissue: str = "", first: str = "physicell"
) -> dict[str, Any]:
    """Per type and output time: each code's mean and sd over seeds; whether tissue's mean
    lies within PhysiCell's mean +- 2 sd (its seed spread) and within PhysiCell's seed range
    (min to max), and whether the two means differ by less than 2 standard errors of their
    difference (Welch). The summary counts the outputs that pass each. ``physicell`` and
    ``tissue`` are the results files' suffixes (:func:`suffix`); ``first`` = "tissue"
    compares two tissue files instead (the first as the reference)."""
    name = f"{sample}-{variant(three_d)}"
    pc = json.loads((RESULTS / f"{name}-{first}{physicell}.json").read_text())["runs"]
    ti = json.loads((RESULTS / f"{name}-tissue{tissue}.json").read_text())["runs"]
    times = sorted(set(pc[0]["time_min"]) & set(ti[0]["time_min"]))
    table: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for kind in ("live", "dead"):
        for t in pc[0][kind]:
            rows = []
            for time_min in times:
                a = np.array([r[kind][t][r["time_min"].index(time_min)] for r in pc], float)
                b = np.array([r[kind][t][r["time_min"].index(time_min)] for r in ti], float)
                se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
                gap = abs(b.mean() - a.mean())
                rows.append(
                    {
                        "time_min": time_min,
                        "physicell_mean": a.mean(),
                        "physicell_sd": a.std(ddof=1),
                        "physicell_range": [a.min(), a.max()],
                        "tissue_mean": b.mean(),
                        "tissue_sd": b.std(ddof=1),
                        "within_seed_spread": bool(gap <= 2 * a.std(ddof=1)),
                        "within_seed_range": bool(a.min() <= b.mean() <= a.max()),
                        "means_within_2_se": bool(gap <= 2 * se),
                    }
                )
            table[f"{kind}.{t}"] = rows
            summary[f"{kind}.{t}"] = {
                test: f"{sum(r[test] for r in rows)}/{len(rows)}"
                for test in ("within_seed_spread", "within_seed_range", "means_within_2_se")
            }
    result = {
        "sample": sample,
        "variant": variant(three_d),
        "seeds": {"physicell": len(pc), "tissue": len(ti)},
        "wall_s_per_run": {
            "physicell": float(np.mean([r["wall_s"] for r in pc])),
            "tissue": float(np.mean([r["wall_s"] for r in ti])),
        },
        "changes": {"physicell": pc[0].get("changes", {}), "tissue": ti[0]["changes"]},
        "tissue_commits": sorted({r.get("tissue_commit", "unrecorded") for r in ti}),
        "outputs_passing": summary,
        "curves": table,
    }
    tags = (first, physicell, tissue) != ("physicell", "", "")
    out = f"{name}-{first}{physicell}-tissue{tissue}" if tags else name
    result["files"] = [f"{name}-{first}{physicell}.json", f"{name}-tissue{tissue}.json"]
    (RESULTS / f"{out}.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def pairs(sample: str, three_d: bool, first: str, second: str) -> dict[str, Any]:
    """The same tissue seeds run two ways (results files with suffixes ``first`` and
    ``second``, e.g. two diffusion steps): per type, kind and common output time, the
    difference of each seed's count (second - first), set against PhysiCell's seed sd at
    that time (its shipped results). Same seed, same random draws: what differs is what
    the change does, not the draws."""
    name = f"{sample}-{variant(three_d)}"
    a, b = (
        {r["seed"]: r for r in json.loads((RESULTS / f"{name}-tissue{s}.json").read_text())["runs"]}
        for s in (first, second)
    )
    pc = json.loads((RESULTS / f"{name}-physicell.json").read_text())["runs"]
    seeds = sorted(set(a) & set(b))
    times = sorted(set(a[seeds[0]]["time_min"]) & set(b[seeds[0]]["time_min"]))
    table: dict[str, Any] = {}
    for kind in ("live", "dead"):
        for t in a[seeds[0]][kind]:
            rows = []
            for time_min in times:
                diff = [
                    r2[kind][t][r2["time_min"].index(time_min)]
                    - r1[kind][t][r1["time_min"].index(time_min)]
                    for r1, r2 in ((a[s], b[s]) for s in seeds)
                ]
                ref = [r[kind][t][r["time_min"].index(time_min)] for r in pc]
                rows.append(
                    {
                        "time_min": time_min,
                        "differences": diff,
                        "physicell_sd": float(np.std(ref, ddof=1)),
                    }
                )
            worst = max(rows, key=lambda r: max(abs(d) for d in r["differences"]))
            table[f"{kind}.{t}"] = {
                "largest_difference": max(abs(d) for d in worst["differences"]),
                "at_min": worst["time_min"],
                "physicell_sd_there": worst["physicell_sd"],
                "rows": rows,
            }
    result = {
        "sample": sample,
        "variant": variant(three_d),
        "seeds": seeds,
        "files": [f"{name}-tissue{s}.json" for s in (first, second)],
        "curves": table,
    }
    (RESULTS / f"{name}-tissue{first}-vs{second}.json").write_text(
        json.dumps(result, indent=1) + "\n"
    )
    return result


def first_order_limit(runs: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """The values of ``keys`` as the step goes to 0, from the two runs (dicts with
    ``dt_min``) at the finest steps h2 < h1, for an error first order in the step:
    f(h2) + (f(h2) - f(h1)) h2 / (h1 - h2)."""
    fine, coarse = sorted(runs, key=lambda r: r["dt_min"])[:2]
    weight = fine["dt_min"] / (coarse["dt_min"] - fine["dt_min"])
    limit = {key: fine[key] + (fine[key] - coarse[key]) * weight for key in keys}
    return limit | {"from_dt_min": [coarse["dt_min"], fine["dt_min"]]}


def field_steps(
    sample: str,
    field: str,
    minutes: float,
    seed: int = 1,
    physicell_steps: Sequence[float] = (0.01, 0.001),
    three_d: bool = False,
) -> dict[str, Any]:
    """``field``'s mean and min (over the voxels) after ``minutes`` in both codes at several
    diffusion steps, from the shipped start (same cells, seed ``seed``; the 3-D variant's
    where ``three_d``, its results file named so): PhysiCell at each
    of ``physicell_steps`` (min), tissue at the mechanics step and PhysiCell's shipped one.
    PhysiCell's split step is first order, so its two finest steps give an estimate of
    its limit (``physicell_extrapolated``: f(h2) + (f(h2) - f(h1)) h2 / (h1 - h2)). Tells
    a discretisation difference from a model one."""
    import csv

    import scipy.io

    from tissue.io.physicell import import_physicell

    out: dict[str, Any] = {
        "sample": sample,
        "variant": variant(three_d),
        "field": field,
        "minutes": minutes,
        "runs": [],
    }
    folder = sample_dir(sample) / "runs" / ("field-steps-3d" if three_d else "field-steps")
    for dt_min in physicell_steps:
        run = folder / f"physicell-dt{dt_min:g}"
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        xml = project(sample, three_d, seed, run, dt_min, minutes)
        binary = sample_dir(sample) / "PhysiCell" / "project"
        subprocess.run([str(binary), str(xml)], cwd=run, capture_output=True, check=True)
        last = sorted((run / "output").glob("output[0-9]*_microenvironment0.mat"))[-1]
        index = [v.attrib["name"] for v in ET.parse(xml).getroot().iter("variable")].index(field)
        values = scipy.io.loadmat(last)["multiscale_microenvironment"][4 + index]
        out["runs"].append({"code": "physicell", "dt_min": dt_min, "mean": float(values.mean()),
                            "min": float(values.min())})  # fmt: skip
    run = folder / "tissue"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    project(sample, three_d, seed, run)
    imported = import_physicell(run)
    (run / "scenario.toml").write_text(imported.toml)
    for dt_min in (imported.scenario.time_steps.mechanics_min, 0.01):
        command = [*tissue_command(), "run", "scenario.toml", "-o", f"run-dt{dt_min}",
                   "--backend", "cpu", "--quiet", "--days", str(minutes / 1440), "--set",
                   f"time_steps.diffusion_min={dt_min}"]  # fmt: skip
        subprocess.run(command, cwd=run, capture_output=True, check=True, env=tissue_env())
        with (run / f"run-dt{dt_min}" / "timeseries.csv").open() as f:
            row = [r for r in csv.DictReader(f) if float(r["time_min"]) <= minutes + 1e-6][-1]
        out["runs"].append({"code": "tissue", "dt_min": dt_min,
                            "mean": float(row[f"domain.{field}.mean"]),
                            "min": float(row[f"domain.{field}.min"])})  # fmt: skip
    ours = [r for r in out["runs"] if r["code"] == "physicell"]
    if len(ours) >= 2:
        out["physicell_extrapolated"] = first_order_limit(ours, ("mean", "min"))
    name = f"{sample}-3d-{field}-steps" if three_d else f"{sample}-{field}-steps"
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "action", choices=["build", "physicell", "tissue", "compare", "pairs", "field-steps"]
    )
    parser.add_argument("sample", choices=sorted(TARGETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--3d", dest="three_d", action="store_true")
    parser.add_argument("--field", default="oxygen", help="field-steps: the field compared")
    parser.add_argument("--minutes", type=float, default=60.0, help="field-steps: run length")
    parser.add_argument(
        "--physicell-steps",
        type=float,
        nargs="+",
        default=[0.01, 0.001],
        help="field-steps: PhysiCell's diffusion steps (min)",
    )
    parser.add_argument(
        "--diffusion-min",
        type=float,
        help="the diffusion step (min) instead of the project's (names the results file)",
    )
    parser.add_argument(
        "--run-minutes", type=float, help="the run length (min) instead of the project's"
    )
    parser.add_argument("--physicell-file", default="", help="compare: PhysiCell's suffix")
    parser.add_argument("--tissue-file", default="", help="compare, pairs: tissue's suffix")
    parser.add_argument("--second-file", default="", help="pairs: the other tissue suffix")
    parser.add_argument(
        "--reference",
        default="physicell",
        choices=["physicell", "tissue"],
        help="compare: the reference's code (tissue: two tissue files, e.g. two steps)",
    )
    args = parser.parse_args(argv)
    if args.action == "build":
        print(build(args.sample))
    elif args.action == "pairs":
        result = pairs(args.sample, args.three_d, args.tissue_file, args.second_file)
        for key, row in result["curves"].items():
            print(f"{key:40s} largest {row['largest_difference']} at {row['at_min']:g} min "
                  f"(PhysiCell's sd there {row['physicell_sd_there']:.1f})")  # fmt: skip
    elif args.action == "field-steps":
        steps = args.physicell_steps
        result = field_steps(args.sample, args.field, args.minutes, 1, steps, args.three_d)
        print(json.dumps(result, indent=1))
    elif args.action == "compare":
        result = compare(
            args.sample, args.three_d, args.physicell_file, args.tissue_file, args.reference
        )
        for key, rows in result["curves"].items():
            last = rows[-1]
            print(
                f"{key:40s} day {last['time_min'] / 1440:g}: PhysiCell {last['physicell_mean']:.1f}"
                f" +- {last['physicell_sd']:.1f}, tissue {last['tissue_mean']:.1f} +- "
                f"{last['tissue_sd']:.1f}"
            )
        for key, passing in result["outputs_passing"].items():
            print(f"{key:40s} " + ", ".join(f"{k} {v}" for k, v in passing.items()))
    else:
        runs(
            args.action,
            args.sample,
            args.three_d,
            args.seeds,
            args.jobs,
            args.diffusion_min,
            args.run_minutes,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
