"""PhysiCell's cancer-immune sample: build it, write the reduced settings, run seeds, read
the curves back.

Build: PhysiCell's sources come from ``PHYSICELL_DIR`` (a checkout, copied) or from a git
mirror (``git archive HEAD``) into ``build/PhysiCell/`` here (git-ignored; nothing of
PhysiCell is kept in this repository); ``make cancer-immune-sample`` then ``make`` build it
with PhysiCell's own Makefile and flags, and ``build/build-info.json`` records the compiler,
the compile command, the version and where the sources came from.

Settings: :func:`reduced_settings` edits the sample's ``config/PhysiCell_settings.xml`` with
``xml.etree`` (every changed element is listed in :data:`SETTINGS_CHANGED` and returned), so
everything not named there stays as PhysiCell ships it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.physicell.quantities import compute_quantities, curves
from tissue.io.multicellds import read_output

HERE = Path(__file__).resolve().parent
BUILD_DIR = HERE / "build"
SOURCE_DIR = BUILD_DIR / "PhysiCell"
BINARY = SOURCE_DIR / "cancer_immune_3D"
BUILD_INFO = BUILD_DIR / "build-info.json"
RUNS_DIR = BUILD_DIR / "runs"
RUN_RECORD = "run.json"  # written into a run folder when the run has finished
DEFAULT_MIRROR = Path("/work/.mirror/MathCancer+PhysiCell/repo")
SAMPLE_SETTINGS = Path("sample_projects/cancer_immune/config/PhysiCell_settings.xml")
DOMAIN_HALF_WIDTH_UM = 180.0
CENTRE_UM = (0.0, 0.0, 0.0)  # PhysiCell's domain is centred on the origin
DEAD_PHASE_CODES = (100, 101, 102, 103, 104)  # PhysiCell_constants.cpp: apoptotic .. debris

# element path (under the root) -> value, for a run of `days` on `threads` with `seed`;
# functions of those three are filled in by reduced_settings
SETTINGS_CHANGED: dict[str, str] = {
    "domain/x_min": "-180",
    "domain/x_max": "180",
    "domain/y_min": "-180",
    "domain/y_max": "180",
    "domain/z_min": "-180",
    "domain/z_max": "180",
    "domain/dx": "20",
    "domain/dy": "20",
    "domain/dz": "20",
    "overall/max_time": "{max_time}",
    "parallel/omp_num_threads": "{threads}",
    "save/folder": "output",
    "save/full_data/interval": "60",
    "save/full_data/enable": "true",
    "save/SVG/enable": "false",
    "options/random_seed": "{seed}",  # 1.14's place for the seed (added where absent)
    "user_parameters/random_seed": "{seed}",  # the sample re-seeds from this one
    "user_parameters/tumor_radius": "60",
    "user_parameters/immune_activation_time": "720",
    "user_parameters/number_of_immune_cells": "100",
    "user_parameters/save_interval_after_therapy_start": "60",
    "user_parameters/SVG_interval_after_therapy_start": "1000000",
}


def reduced_settings(
    source: str | Path,
    days: float,
    threads: int,
    seed: int,
    extra: dict[str, str] | None = None,
) -> ET.ElementTree:
    """The sample's settings with :data:`SETTINGS_CHANGED` and then ``extra`` (element path
    -> value, e.g. a shorter ``overall/dt_diffusion``) applied (missing elements are added
    under their existing parent; a missing parent is an error)."""
    tree = ET.parse(source)
    root = tree.getroot()
    values = {"max_time": f"{days * 1440.0:g}", "threads": str(threads), "seed": str(seed)}
    for path, template in {**SETTINGS_CHANGED, **(extra or {})}.items():
        node = root.find(path)
        if node is None:
            parent_path, _, leaf = path.rpartition("/")
            parent = root.find(parent_path)
            if parent is None:
                raise ValueError(f"{source}: no <{parent_path}> to hold <{leaf}>")
            node = ET.SubElement(parent, leaf)
            if parent_path == "user_parameters":
                node.set("type", "int" if leaf == "random_seed" else "double")
        node.text = template.format(**values)
    return tree


def settings_values(tree: ET.ElementTree, paths: Sequence[str]) -> dict[str, str | None]:
    """The text of each element path of a settings tree (None where absent)."""
    root = tree.getroot()
    return {path: root.findtext(path) for path in paths}


def time_steps_min(tree: ET.ElementTree) -> dict[str, float]:
    """PhysiCell's diffusion, mechanics and phenotype steps (min) from a settings tree."""
    root = tree.getroot()
    return {
        key: float(root.findtext(f"overall/dt_{key}") or "nan")
        for key in ("diffusion", "mechanics", "phenotype")
    }


# --- build ----------------------------------------------------------------------------

SAMPLE_MODULE = Path("sample_projects/cancer_immune/custom_modules/cancer_immune_3D.cpp")
_STATIC_DETACH = (
    "\tstatic double max_elastic_displacement = pao.geometry.radius * "
    "pao.mechanics.relative_detachment_distance; \n"
    "\tstatic double max_displacement_squared = "
    "max_elastic_displacement*max_elastic_displacement; \n"
)
_PER_CALL_DETACH = (
    "\tstatic int max_attachment_i = pActingOn->custom_data.find_variable_index( "
    '"max_attachment_distance" ); \n'
    "\tdouble max_elastic_displacement = pActingOn->custom_data[max_attachment_i]; \n"
    "\tdouble max_displacement_squared = max_elastic_displacement*max_elastic_displacement; \n"
)
# Two patches to the sample's custom module; 1.14.2's shipped sample is unchanged by the first
# and runs as its authors meant by the second:
# - introduce_immune_cells() seeds the immune shell from max(tumour radius, 250 um) + 30 um
#   outwards: in the reduced [-180, 180]^3 domain that shell (280-355 um from the centre) lies
#   outside the domain, where PhysiCell freezes the cells. The floor becomes the user parameter
#   tumor_radius (250 as shipped, 60 here).
# - adhesion_contact_function() fixes its detachment distance in a function-static on its first
#   call, as the radius of whichever cell comes first times max_attachment_distance (18 um) over
#   the default radius: 18 um if that cell has its initial volume, ~14 um for a fresh daughter,
#   less for a shrinking apoptotic cell (measured 18, 11.7 and 16.0 um in seeds 1-3 of
#   benchmarks/results/physicell-cancer-immune-static-detach.json; at 11.7 um attached pairs
#   part before a kill and seed 2's tumour grows unchecked). The patch reads
#   max_attachment_distance (18 um) on every call, the distance attachment itself uses.
PATCHES: dict[str, tuple[str, str]] = {
    "immune shell floor = user parameter tumor_radius (shipped: the constant 250)": (
        "if( tumor_radius < 250.0 )\n\t{ tumor_radius = 250.0; }",
        'if( tumor_radius < parameters.doubles("tumor_radius") )\n'
        '\t{ tumor_radius = parameters.doubles("tumor_radius"); }',
    ),
    "detachment distance = max_attachment_distance on every call (shipped: a function-static "
    "set from the first cell's radius)": (_STATIC_DETACH, _PER_CALL_DETACH),
}


def patch_sample(source_dir: Path) -> list[str]:
    """Apply :data:`PATCHES` to the sample's custom module (each must match once)."""
    path = source_dir / SAMPLE_MODULE
    text = path.read_text()
    for what, (old, new) in PATCHES.items():
        if text.count(old) != 1:
            raise RuntimeError(f"{path}: patch '{what}' matches {text.count(old)} times, not 1")
        text = text.replace(old, new)
    path.write_text(text)
    return list(PATCHES)


def _unpack(physicell_dir: Path | None, mirror: Path) -> str:
    if SOURCE_DIR.exists():
        shutil.rmtree(SOURCE_DIR)
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    if physicell_dir is not None:
        shutil.copytree(physicell_dir, SOURCE_DIR, ignore=shutil.ignore_patterns(".git", "*.o"))
        return f"copy of {physicell_dir}"
    commit = subprocess.run(
        ["git", "-C", str(mirror), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    SOURCE_DIR.mkdir()
    archive = subprocess.Popen(
        ["git", "-C", str(mirror), "archive", "HEAD"], stdout=subprocess.PIPE
    )
    subprocess.run(["tar", "-x", "-C", str(SOURCE_DIR)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive of {mirror} failed")
    return f"git archive of {mirror} at {commit}"


def _make_variable(name: str) -> str:
    """A variable of the sample's Makefile as make expands it (the compile command)."""
    rule = f"print-variable:\n\t@echo $({name})\n"
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-", "print-variable"],
        cwd=SOURCE_DIR, input=rule, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return " ".join(done.stdout.split())


def build(
    physicell_dir: Path | None, mirror: Path, jobs: int, patch: bool = True
) -> dict[str, Any]:
    """Unpack PhysiCell into ``build/PhysiCell``, patch (see :data:`PATCHES`) and build the
    cancer-immune sample, write and return the build info."""
    source = _unpack(physicell_dir, mirror)
    patches = patch_sample(SOURCE_DIR) if patch else []
    start = time.perf_counter()
    log = BUILD_DIR / "build.log"
    with log.open("w") as out:
        for command in (["make", "cancer-immune-sample"], ["make", f"-j{jobs}"]):
            done = subprocess.run(command, cwd=SOURCE_DIR, stdout=out, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed; see {log}")
    if not BINARY.exists():
        raise RuntimeError(f"no {BINARY} after the build; see {log}")
    compiler = _make_variable("CC")
    info = {
        "physicell_version": (SOURCE_DIR / "VERSION.txt").read_text().strip(),
        "source": source,
        "patches": patches,
        "compiler": subprocess.run(
            [compiler, "--version"], capture_output=True, text=True
        ).stdout.splitlines()[0],
        "compile_command": _make_variable("COMPILE_COMMAND"),
        "make": "make cancer-immune-sample && make (the sample's own Makefile)",
        "binary": str(BINARY.relative_to(HERE)),
        "build_seconds": round(time.perf_counter() - start, 1),
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
    }
    BUILD_INFO.write_text(json.dumps(info, indent=2) + "\n")
    return info


# --- runs -----------------------------------------------------------------------------


def run_seed(
    seed: int,
    days: float,
    threads: int,
    runs_dir: Path = RUNS_DIR,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the sample once in ``runs_dir/seed<seed>`` (settings: see
    :func:`reduced_settings`); its wall time and curves."""
    folder = runs_dir / f"seed{seed}"
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "output").mkdir(parents=True)
    tree = reduced_settings(SOURCE_DIR / SAMPLE_SETTINGS, days, threads, seed, extra)
    tree.write(folder / "PhysiCell_settings.xml", encoding="utf-8", xml_declaration=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    with (folder / "stdout.txt").open("w") as out:
        done = subprocess.run(
            [str(BINARY), "PhysiCell_settings.xml"],
            cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    wall_s = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"seed {seed}: PhysiCell exited {done.returncode}; see {folder}")
    record = {
        "seed": seed,
        "days": days,
        "threads": threads,
        "wall_s": round(wall_s, 2),
        "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host_load_average_at_end": list(os.getloadavg()),
    }
    (folder / RUN_RECORD).write_text(json.dumps(record) + "\n")
    return read_seed(folder)


def read_seed(folder: Path, partial: bool = False) -> dict[str, Any]:
    """The curves, wall time and threads of a finished run folder (its ``run.json`` record
    and outputs). ``partial``: a folder without the record (a run stopped or still going) is
    read as far as its outputs go, timed by PhysiCell's own clock, and marked ``partial``."""
    record_path = folder / RUN_RECORD
    if not record_path.exists() and partial:
        settings = ET.parse(folder / "PhysiCell_settings.xml").getroot()
        result = read_run(folder / "output", skip_unreadable_last=True)
        simulated = result["time_min"][-1] - result["time_min"][0]
        loop = result.pop("loop_wall_s")
        rate = loop / simulated if simulated and loop is not None else None
        result.update(
            partial=True,
            seed=int(settings.findtext("user_parameters/random_seed") or -1),
            wall_s=None,
            wall_s_per_sim_min=rate,
            loop_wall_s_per_sim_min=rate,
            threads=int(settings.findtext("parallel/omp_num_threads") or 0),
        )
        return result
    record = json.loads(record_path.read_text())
    result = read_run(folder / "output")
    simulated = result["time_min"][-1] - result["time_min"][0]
    loop = result.pop("loop_wall_s")
    result.update(
        finished_utc=record.get("finished_utc"),
        host_load_average_at_end=record.get("host_load_average_at_end"),
        seed=record["seed"],
        wall_s=record["wall_s"],
        wall_s_per_sim_min=record["wall_s"] / (record["days"] * 1440.0),
        loop_wall_s_per_sim_min=loop / simulated if simulated and loop is not None else None,
        threads=record["threads"],
    )
    return result


def in_domain(position: np.ndarray) -> np.ndarray:
    """(n,) bool: inside the reduced domain. PhysiCell keeps cells placed or pushed outside
    it in its output but freezes them (``is_out_of_domain``): they are not counted."""
    return np.all(np.abs(np.asarray(position).reshape(-1, 3)) <= DOMAIN_HALF_WIDTH_UM, axis=1)


def cell_masks(output: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tumour, immune, dead) masks of a :class:`~tissue.io.multicellds.Output` of the sample:
    types by name ("cancer cell", "immune cell"; IDs 0 and 1 without a legend) among the cells
    inside the domain (:func:`in_domain`), dead from the ``dead`` column or, in older outputs,
    from the death phase codes."""
    names = {name: type_id for type_id, name in output.cell_types.items()}
    cell_type = output.columns["cell_type"]
    inside = in_domain(output.columns["position"])
    tumour = (cell_type == names.get("cancer cell", 0)) & inside
    immune = (cell_type == names.get("immune cell", 1)) & inside
    if "dead" in output.columns:
        dead = output.columns["dead"] > 0.5
    else:
        dead = np.isin(output.columns["current_phase"], DEAD_PHASE_CODES)
    return tumour, immune, dead


def read_run(output_dir: Path, skip_unreadable_last: bool = False) -> dict[str, Any]:
    """Curves of one run from its ``output*.xml`` (``initial.xml`` is checked to equal
    ``output00000000.xml``'s cells); ``loop_wall_s`` is PhysiCell's own wall clock from the
    first to the last output. ``skip_unreadable_last``: drop a last output that does not read
    (a run stopped while writing it)."""
    paths = sorted(output_dir.glob("output[0-9]*.xml"))
    if not paths:
        raise FileNotFoundError(f"no output*.xml in {output_dir}")
    if skip_unreadable_last:
        try:
            read_output(paths[-1])
        except (ValueError, OSError, ET.ParseError):
            paths = paths[:-1]
    rows, times, runtimes, outside = [], [], [], []
    for path in paths:
        output = read_output(path)
        tumour, immune, dead = cell_masks(output)
        rows.append(
            compute_quantities(
                output.columns["position"], tumour, immune, dead, CENTRE_UM,
                output.columns.get("oncoprotein"),
            )
        )  # fmt: skip
        outside.append(int((~in_domain(output.columns["position"])).sum()))
        times.append(output.time_min)
        runtime = _runtime_s(path)
        runtimes.append(runtime if runtime is not None else float("nan"))
    initial_path = output_dir / "initial.xml"
    initial_matches = None
    if initial_path.exists():
        initial, first = read_output(initial_path), read_output(paths[0])
        initial_matches = initial.count == first.count and bool(
            np.array_equal(initial.columns["position"], first.columns["position"])
        )
    loop = runtimes[-1] - runtimes[0]
    return {
        "time_min": [round(t, 4) for t in times],
        **curves(rows),
        "cells_out_of_domain": outside,
        "outputs": len(paths),
        "initial_equals_first_output": initial_matches,
        "loop_wall_s": loop if np.isfinite(loop) else None,
    }


def _runtime_s(path: Path) -> float | None:
    """PhysiCell's ``metadata/current_runtime`` (wall seconds since its timer started)."""
    text = ET.parse(path).getroot().findtext("metadata/current_runtime")
    return float(text) if text else None


def run_seeds(
    seeds: Sequence[int],
    days: float,
    jobs: int,
    runs_dir: Path = RUNS_DIR,
    run: bool = True,
    extra: dict[str, str] | None = None,
    partial: bool = False,
) -> list[dict[str, Any]]:
    """Run every seed, ``jobs`` at a time, each on ``max(1, cores // jobs)`` OpenMP threads
    (``run=False``: read the run folders instead, unfinished ones too if ``partial``)."""
    if not run:
        return [read_seed(runs_dir / f"seed{seed}", partial) for seed in seeds]
    if not BINARY.exists():
        raise SystemExit(f"no {BINARY}: run the build subcommand first")
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_seed, seed, days, threads, runs_dir, extra) for seed in seeds]
        return [future.result() for future in futures]


def build_info() -> dict[str, Any] | None:
    """The recorded build info, or None before a build."""
    return json.loads(BUILD_INFO.read_text()) if BUILD_INFO.exists() else None
