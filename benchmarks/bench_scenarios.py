"""Scenario benchmark: whole runs, in wall seconds per simulated day (or minute).

Each case is a built-in scenario (with ``--set``-style overrides) or a generated one, run
through :class:`tissue.simulation.Simulation` exactly as ``tissue run`` steps it (no output
written): built (timed once: ``setup_s``), warmed up for ``WARMUP_TICKS`` ticks (the solver's
caches, kernel compilation), then a window of simulated time cut into ``chunks`` equal parts,
each timed with the host clock after the backend has finished its queued work. The rate is
the median over the chunks with min-max; the cell counts at the window's start and end say
how much work the engine had.

Cases (``--cases``):

- ``metastasis-small``, ``-medium``, ``-large``: the default scenario at its small size, at
  2.7x the blocks' width, and at its GPU size (the ``--set`` lines in its header);
- ``whole-lung``: a whole mouse lung, 800^3 voxels of 10 um (5.1e8), three fields and 1e6
  cells (the issue's GPU target: fits one 80 GB GPU, >= 1 simulated day per wall minute);
- ``cancer-immune-tumour`` and ``cancer-immune``: the cancer_immune scenario at PhysiCell's
  set-up (75^3 voxels of 20 um, a 250 um tumour of 18,317 cells), without and with its
  7,500 immune cells (added at the start here, where PhysiCell adds them at day 14),
  in wall seconds per simulated minute against PhysiCell's measured figures.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from benchmarks.common import (
    Column,
    Table,
    Timer,
    Timing,
    failure,
    failure_of,
    free_device_memory,
    make_parser,
    open_backend,
    print_result,
    result_header,
    si,
    spread_s,
    write_result,
)
from tissue.backend import Backend
from tissue.config import Scenario, load_scenario, parse_override, scenario_from_dict
from tissue.simulation import Simulation

WARMUP_TICKS = 20
CHUNKS = {"cpu": 4, "gpu": 5}
BUDGET_S: dict[str, float | None] = {"cpu": None, "gpu": 25.0}  # timed s per case, at most
MINUTES_PER_DAY = 1440.0

# PhysiCell 1.14.2 cancer-immune 3-D sample on a 2-core x86 machine (the figures,
# not measured here): 75^3 voxels, ~18,500 tumour cells; ~26,000 agents with immune cells.
PHYSICELL_S_PER_MIN = {"cancer-immune-tumour": 4.5, "cancer-immune": 5.4}
PHYSICELL_NOTE = (
    "PhysiCell 1.14.2 cancer-immune 3-D sample, 2 threads (the issue's figure, not measured "
    "here): 4.5 s per simulated minute with ~18,500 tumour cells, 5.4 s with its immune cells "
    "(~26,000 agents); diffusion steps of 0.01 min, mechanics 0.1 min, phenotype 6 min"
)
TARGETS = {
    "cpu": {"cancer-immune": "faster than PhysiCell (ratio > 1)"},
    "gpu": {
        "cancer-immune": ">= 1000x PhysiCell's 5.4 s per simulated minute",
        "whole-lung": ">= 1 simulated day per wall minute (<= 60 s per day) on one 80 GB GPU",
    },
}

METASTASIS_MEDIUM = {  # blocks 2.7x as wide as the small size's; the lung's fraction scaled
    "organs.lung.shape": [80, 80, 80],
    "organs.lung.whole_organ_fraction": 2.7e-5 * (80 / 30) ** 3,
    "organs.breast.shape": [40, 40, 40],  # the primary's growth law sets what it stands for
    "initial_cells.0.center_um": [400, 400, 400],
    "initial_cells.0.radius_um": 150,
}
IMMUNE_FROM_START = {"interventions.immune_arrival.start_day": 0.0}


def header_sizes(name: str) -> dict[str, Any]:
    """The ``--set`` lines in the header of built-in scenario ``name`` (its GPU size, e.g.
    PhysiCell's set-up for cancer_immune) as overrides: the header is the one place they
    are written."""
    path = files("tissue.scenarios") / f"{name}.toml"
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    return dict(parse_override(m) for line in header for m in re.findall(r"--set\s+(\S+)", line))


@dataclass(frozen=True)
class Case:
    """One benchmark case: its scenario and how long a window to time.

    Attributes:
        scenario: a built-in scenario's name, or a function returning a scenario dict.
        overrides: dotted keys set on a built-in scenario (as ``--set``).
        window_min: simulated minutes timed, per backend.
        unit: ``"day"`` (rates in s per simulated day) or ``"minute"``.
        description: one line for the tables.
    """

    scenario: str | Callable[[], dict[str, Any]]
    window_min: dict[str, float]
    unit: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Scenario:
        """The validated scenario."""
        if isinstance(self.scenario, str):
            return load_scenario(self.scenario, self.overrides)
        return scenario_from_dict(self.scenario(), "benchmarks/bench_scenarios.py")

    def settings(self) -> dict[str, Any]:
        """What the JSON records of the scenario."""
        if isinstance(self.scenario, str):
            return {"scenario": self.scenario, "overrides": self.overrides}
        return {"scenario": f"{self.scenario.__name__}()"}


def whole_lung_scenario(n: int = 800, cells: int = 1_000_000) -> dict[str, Any]:
    """Scenario dict: an n^3 block of generated mouse lung (10 um voxels), three fields
    (S100A8/A9 made by capillaries and myeloid cells, IL-1beta by innate cells, a chemokine
    by tumour cells) and ``cells`` cells in the septa: 60% myeloid, 30% innate and 10%
    proliferating tumour cells, all secreting, the immune cells chemotactic."""
    fields = {
        "s100a8a9": (3600.0, 0.02, "capillary"),
        "il1b": (3500.0, 0.01, None),
        "dtc_chemokine": (1000.0, 0.016, None),
    }
    walls = ["septum", "capillary"]

    def cell_type(speed: float, chemotaxis: str | None, secretes: str, **extra: Any) -> dict:
        return {
            "radius_um": 6.0,
            "allowed_labels": walls,
            "speed_um_per_min": speed,
            "persistence_min": 5.0,
            **({"chemotaxis_field": chemotaxis, "chemotaxis_bias": 0.5} if chemotaxis else {}),
            "repulsion_um_per_min": 1.0,
            "secretion": {secretes: {"secretion_rate_per_min": 0.05, "secretion_target": 1.0}},
            **extra,
        }

    shares = {"myeloid": 0.6, "innate": 0.3, "dtc": 0.1}
    counts = {name: round(cells * share) for name, share in shares.items()}
    counts["myeloid"] += cells - sum(counts.values())
    return {
        "name": f"bench-whole-lung-{n}",
        "run": {"days": 1.0, "output_interval_min": 360.0, "seed": 1},
        "time_steps": {"diffusion_min": 6.0, "mechanics_min": 3.0, "phenotype_min": 6.0},
        "organs": {
            "lung": {
                "shape": [n, n, n],
                "spacing_um": 10.0,
                "geometry": {"kind": "lung", "seed": 5},
                "barrier_labels": ["air"],
            }
        },
        "fields": {
            name: {
                "units": "a.u.",
                "diffusion_um2_per_min": d,
                "decay_per_min": decay,
                **(
                    {"sources": [{"kind": "label", "label": src, "rate_per_min": 0.004}]}
                    if src
                    else {}
                ),
            }
            for name, (d, decay, src) in fields.items()
        },
        "cell_types": {
            "myeloid": cell_type(2.0, "s100a8a9", "s100a8a9", apoptosis_rate_per_min=6.94e-4),
            "innate": cell_type(2.0, "dtc_chemokine", "il1b", apoptosis_rate_per_min=6.94e-4),
            "dtc": cell_type(0.5, None, "dtc_chemokine", cycle_rate_per_min=7.2e-4),
        },
        "initial_cells": [
            {"kind": "random", "organ": "lung", "type": name, "count": count, "label": "septum"}
            for name, count in counts.items()
        ],
    }


CASES: dict[str, Case] = {
    "metastasis-small": Case(
        "metastasis",
        {"cpu": 1440.0, "gpu": 1440.0},
        "day",
        "metastasis, small: breast 20^3 x 20 um + lung 30^3 x 10 um, 9 fields",
    ),
    "metastasis-medium": Case(
        "metastasis",
        {"cpu": 120.0, "gpu": 1440.0},
        "day",
        "metastasis, medium: breast 40^3 x 20 um + lung 80^3 x 10 um",
        METASTASIS_MEDIUM,
    ),
    "metastasis-large": Case(
        "metastasis",
        {"cpu": 36.0, "gpu": 720.0},
        "day",
        "metastasis, large (GPU size): breast 100^3 + lung 200^3, ~25,000 primary cells",
        header_sizes("metastasis"),
    ),
    "whole-lung": Case(
        whole_lung_scenario,
        {"cpu": 12.0, "gpu": 180.0},
        "day",
        "whole mouse lung: 800^3 x 10 um (5.1e8 voxels), 3 fields, 1e6 cells",
    ),
    "cancer-immune-tumour": Case(
        "cancer_immune",
        {"cpu": 60.0, "gpu": 360.0},
        "minute",
        "cancer_immune at PhysiCell's set-up, tumour only (75^3 x 20 um, 18,317 cells)",
        header_sizes("cancer_immune"),
    ),
    "cancer-immune": Case(
        "cancer_immune",
        {"cpu": 60.0, "gpu": 360.0},
        "minute",
        "cancer_immune at PhysiCell's set-up with 7,500 immune cells from the start",
        {**header_sizes("cancer_immune"), **IMMUNE_FROM_START},
    ),
}


DEFAULT_CASES = {
    "cpu": ["metastasis-small", "metastasis-medium", "cancer-immune-tumour", "cancer-immune"],
    "gpu": list(CASES),
}


def cell_counts(sim: Simulation) -> dict[str, int]:
    """Live cells per organ."""
    return {name: int(organ.cells.n) for name, organ in sim.organs.items()}


def run_case(
    backend: Backend,
    name: str,
    case: Case,
    window_min: float,
    chunks: int,
    budget_s: float | None = None,
) -> dict[str, Any]:
    """Build, warm up and time one case (see the module docstring); chunks stop early, after
    at least two, once the timed chunks have taken ``budget_s`` wall seconds."""
    t0 = time.perf_counter()
    sim = Simulation(case.build(), backend=backend)
    backend.synchronize()
    setup_s = time.perf_counter() - t0
    sim.step(WARMUP_TICKS)
    base = sim.schedule.base_min
    ticks_per_chunk = max(1, round(window_min / chunks / base))
    start = {"time_min": sim.time_min, "cells": cell_counts(sim)}
    samples = []
    backend.synchronize()
    for _ in range(chunks):
        if budget_s is not None and len(samples) >= 2 and sum(samples) >= budget_s:
            break
        t0 = time.perf_counter()
        sim.step(ticks_per_chunk)
        backend.synchronize()
        samples.append(time.perf_counter() - t0)
    chunk_min = ticks_per_chunk * base
    per_unit = MINUTES_PER_DAY / chunk_min if case.unit == "day" else 1.0 / chunk_min
    timing = Timing(tuple(samples)).to_dict()
    out = {
        "case": name,
        "description": case.description,
        "unit": case.unit,
        "settings": case.settings(),
        "voxels": {o: int(organ.grid.n_voxels) for o, organ in sim.organs.items()},
        "fields": {o: len(organ.fields) for o, organ in sim.organs.items()},
        "time_steps_min": {
            "base": base,
            "diffusion": sim.schedule.diffusion * base,
            "mechanics": sim.schedule.mechanics * base,
            "phenotype": sim.schedule.phenotype * base,
        },
        "setup_s": setup_s,
        "warmup_ticks": WARMUP_TICKS,
        "window": {"start": start, "end": {"time_min": sim.time_min, "cells": cell_counts(sim)}},
        "chunk_simulated_min": chunk_min,
        "chunks_planned": chunks,
        "chunk_wall": timing,
        f"wall_s_per_simulated_{case.unit}": {
            key: timing[key] * per_unit for key in ("median_s", "min_s", "max_s", "q1_s", "q3_s")
        },
    }
    if backend.is_gpu:
        pool = backend.xp.get_default_memory_pool()
        out["device_memory_held_bytes"] = int(pool.total_bytes())
    if name in PHYSICELL_S_PER_MIN:
        ours = out["wall_s_per_simulated_minute"]["median_s"]
        out["physicell_s_per_simulated_minute"] = PHYSICELL_S_PER_MIN[name]
        out["speedup_vs_physicell"] = PHYSICELL_S_PER_MIN[name] / ours
    return out


def cells_window(case: dict[str, Any]) -> str:
    """Cells at the start and end of the timed window, organ by organ."""
    start, end = case["window"]["start"]["cells"], case["window"]["end"]["cells"]
    return " + ".join(f"{start[organ]:,}-{end[organ]:,}" for organ in case["voxels"])


def summary_tables(result: dict[str, Any]) -> list[Table]:
    """Wall time per simulated day; cancer_immune per simulated minute against PhysiCell."""
    shared = [
        Column("case", "case"),
        Column("voxels", lambda case: sum(case["voxels"].values()), si),
        Column("cells (start - end)", cells_window),
        Column("timed (sim. min)",
               lambda case: case["chunk_wall"]["repeats"] * case["chunk_simulated_min"], "{:g}"),
        Column("setup s", "setup_s", "{:.1f}"),
    ]  # fmt: skip
    memory = Column("device GB", lambda case: case.get("device_memory_held_bytes") or None,
                    lambda held: f"{held / 1e9:.1f}")  # fmt: skip
    per_day = [
        *shared,
        Column("wall s per sim. day [min-max]", "wall_s_per_simulated_day", spread_s),
        Column("sim. days per wall min",
               lambda case: 60.0 / case["wall_s_per_simulated_day"]["median_s"], "{:.3g}"),
        memory,
    ]  # fmt: skip
    per_minute = [
        *shared,
        Column("wall s per sim. minute [min-max]", "wall_s_per_simulated_minute", spread_s),
        Column("PhysiCell s per sim. minute", "physicell_s_per_simulated_minute", "{:g}"),
        Column("speed-up", "speedup_vs_physicell", "{:.3g}x"),
        memory,
    ]
    days, minutes = [], []
    for case in result["cases"]:
        by_minute = case["case"] in PHYSICELL_S_PER_MIN if failure(case) else case["unit"] != "day"
        (minutes if by_minute else days).append(case)
    tables = [
        Table("Whole scenarios, wall seconds per simulated day", per_day, days),
        Table("cancer_immune at PhysiCell's set-up", per_minute, minutes),
    ]
    return [table for table in tables if table.rows]


def summary_notes(result: dict[str, Any]) -> list[str]:
    """Lines under the tables: descriptions, method, targets, the PhysiCell reference."""
    notes = []
    for case in result["cases"]:
        if "description" in case:
            steps = case["time_steps_min"]
            notes.append(
                f"- {case['case']}: {case['description']}; steps (min) diffusion "
                f"{steps['diffusion']:g}, mechanics {steps['mechanics']:g}, phenotype "
                f"{steps['phenotype']:g}."
            )
    notes += [
        "",
        f"Each case: built (setup s), {WARMUP_TICKS} ticks of warm-up, then the timed window "
        "in equal chunks (median and min-max over the chunks); no output written.",
        f"Reference: {PHYSICELL_NOTE}.",
    ]
    targets = TARGETS.get(result["backend"], {})
    if targets:
        notes.append(
            "Targets (issue 6): " + "; ".join(f"{c}: {t}" for c, t in targets.items()) + "."
        )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON; returns the exit code."""
    parser = make_parser(__doc__.splitlines()[0], "unused (cases are named: --cases)")
    parser.add_argument("--cases", default=None,
                        help=f"comma-separated, of: {', '.join(CASES)}")  # fmt: skip
    parser.add_argument("--window-scale", type=float, default=1.0,
                        help="multiply every case's timed window (simulated time)")  # fmt: skip
    parser.add_argument("--budget-s", type=float, default=None,
                        help="stop a case's chunks after this many wall seconds (at least "
                        "two chunks; default: none on the CPU, 25 s on the GPU)")  # fmt: skip
    args = parser.parse_args(argv)
    names = args.cases.split(",") if args.cases else None
    unknown = [n for n in names or [] if n not in CASES]
    if unknown:
        print(f"error: --cases: unknown {unknown}; allowed: {', '.join(CASES)}", file=sys.stderr)
        return 2
    backend = open_backend(args.backend)
    names = names or DEFAULT_CASES[backend.name]
    chunks = args.repeats or CHUNKS[backend.name]
    timer = Timer(backend, 0, chunks)
    result = result_header("scenarios", backend, timer)
    result["timing"]["method"] = (
        f"time.perf_counter around sim.step(ticks) per chunk after backend.synchronize(); "
        f"{WARMUP_TICKS} warm-up ticks"
    )
    budget = args.budget_s if args.budget_s is not None else BUDGET_S[backend.name]
    result["settings"] = {"window_scale": args.window_scale, "chunks": chunks,
                          "budget_s_per_case": budget}  # fmt: skip
    result["physicell_reference"] = {"s_per_simulated_minute": PHYSICELL_S_PER_MIN,
                                     "note": PHYSICELL_NOTE}  # fmt: skip
    result["cases"] = []
    path = None
    all_ok = True
    for name in names:
        case = CASES[name]
        window = case.window_min[backend.name] * args.window_scale
        print(f"{name}: {window:g} simulated min ...", flush=True)
        try:
            out = run_case(backend, name, case, window, chunks, budget)
        except Exception as error:
            kind, why = failure_of(error)
            out = {"case": name, kind: why}
            all_ok = all_ok and kind == "skipped"
        free_device_memory(backend)
        result["cases"].append(out)
        if not args.no_write:  # after every case: a run cut short keeps what it measured
            path = write_result(result, args.out_dir)
        rate = out.get(f"wall_s_per_simulated_{case.unit}")
        if rate:
            print(f"{name}: {rate['median_s']:.3g} s per simulated {case.unit}", flush=True)
    print_result(result, None if args.no_write else path)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
