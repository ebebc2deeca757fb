"""Diffusion benchmark: one field on a box of N^3 voxels through the real solver path.

Each case builds a scenario with :func:`tissue.config.scenario_from_dict` (a box organ of
20 um voxels, one oxygen-like field with D = 1e5 um^2/min, decay 0.1 /min, Dirichlet faces at
38 and a point source in the middle) and a :class:`tissue.Simulation`, runs a few settling
steps, then times

- ``organ.fields.step(dt)`` (FieldSolver.step with the schema's default ADI passes and
  Jacobi steps, or ``--passes`` / ``--smoothing``), each sample from the same state;
- each kernel of tissue/kernels/diffusion.py called directly on the same arrays: the
  backward-Euler residual (plain and Jacobi), one Thomas sweep per axis (z, y, x) and the
  finishing write.

Rates: voxel-updates/s = N^3 / seconds per step. Bytes moved per voxel-update are an
estimate (see ``BYTES_PER_VOXEL``); with the measured copy ceiling they give each case's
effective bandwidth and its fraction of the ceiling.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.common import (
    Column,
    Table,
    Timer,
    copy_ceiling,
    failure,
    finish,
    free_device_memory,
    make_parser,
    make_timer,
    ms,
    open_backend,
    result_header,
    run_cases,
    si,
    spread_ms,
)
from tissue.backend import Backend, get_backend, to_numpy
from tissue.config import scenario_from_dict
from tissue.kernels.diffusion import be_residual, finish_step, thomas_sweep
from tissue.simulation import Simulation

FIELD = "oxygen"
ORGAN = "box"
SPACING_UM = 20.0
DT_MIN = 1.0
SETTLE_STEPS = 3  # untimed steps before timing, so the field is not the flat initial value
DEFAULT_SIZES = {"cpu": [32, 64, 96], "gpu": [64, 128, 256, 384, 512]}
DEFAULT_WARMUP = {"cpu": 2, "gpu": 3}
DEFAULT_REPEATS = {"cpu": 20, "gpu": 30}
PARITY_MAX_SIZE = 128  # GPU cases up to this size are also stepped on the CPU and compared
PARITY_STEPS = 3
COPY_CEILING_BYTES = {"cpu": 256 << 20, "gpu": 1 << 30}
BYTES_PER_GPU_VOXEL = 64  # device memory per voxel for the solver and the kernel copies

# Estimated bytes moved through memory per voxel by each part of a step (float32 = 4 B,
# uint8 labels = 1 B): every array element the part touches is read or written once;
# neighbour values, the previous line element and the 256-entry label tables are assumed to
# come from cache.
BYTES_PER_VOXEL = {
    "copy_iterate": 8,  # x[...] = c: read c, write x
    "be_residual": 21,  # read c, c_old, source, uptake, labels; write delta
    "thomas_sweep": 25,  # forward: read delta, labels; write scratch, delta.
    #                      backward: read delta, scratch; write delta
    "add_delta": 12,  # x += delta: read x, delta; write x
    "be_residual_jacobi": 21,  # as be_residual
    "jacobi_update": 20,  # t = omega * delta (read 4, write 4); x += t (read 8, write 4)
    "finish_step": 9,  # read x, labels; write c
    "pointwise": 16,  # (c + dt S) / (1 + dt (decay + uptake)): read c, S, uptake; write
    "bounds_check": 9,  # the maximum-principle check: read labels' class, x and pointwise
}
BYTES_COUNTED = (
    "Estimate: every array element a kernel or array expression touches is read or written "
    "once from memory (float32 4 B, uint8 labels 1 B); neighbour values, the previous element "
    "of a Thomas line and the 256-entry label tables are assumed to hit cache. The kernel "
    "calls of one step are counted by wrapping tissue.fields' kernel functions for one "
    "untimed step (kernel_calls_per_step); each plain residual is followed by x += delta "
    "(add_delta), each Jacobi residual by x += omega * delta (jacobi_update), and the step "
    "starts with x = c (copy_iterate). No cell source or uptake is added and the field has "
    "no reactions, so those terms move nothing."
)
# BioFVM (Ghaffarizadeh et al. 2016), as quoted in the issue: not measured here.
BIOFVM_REFERENCE = {
    "label": "reference, not a measurement of ours",
    "source": "the issue's figure for BioFVM 2.2e7-2.6e7 voxel-updates/s",
    "voxel_updates_per_s_low": 2.2e7,
    "voxel_updates_per_s_high": 2.6e7,
    "threads": 2,
    "substrates": 1,
    "grid_sizes": "64^3 to 200^3",
    "note": (
        "BioFVM's step is one LOD pass (three Thomas sweeps); the default step here runs the "
        "scenario's ADI passes (residual + three sweeps each) and Jacobi steps between them "
        "(kernel_calls_per_step); the split step (split_step) is one symmetric LOD step "
        "(six half-step sweeps), the like-for-like comparison; both on one NumPy thread"
    ),
}


def diffusion_scenario(
    n: int, passes: int | None = None, smoothing: int | None = None
) -> dict[str, Any]:
    """Scenario dict: an n^3 box of 20 um voxels with one field (D, decay, Dirichlet faces,
    a point source at the centre); solver passes and smoothing steps default to the
    schema's defaults."""
    solver = {"solver_passes": passes, "solver_smoothing_steps": smoothing}
    centre = n * SPACING_UM / 2 + SPACING_UM / 4  # off the voxel faces
    return {
        "name": f"bench-diffusion-{n}",
        "time_steps": {"diffusion_min": DT_MIN, "mechanics_min": 0.1, "phenotype_min": 6.0},
        "organs": {
            ORGAN: {
                "shape": [n, n, n],
                "spacing_um": SPACING_UM,
                "geometry": {"kind": "box", "label": "tissue"},
            }
        },
        "fields": {
            FIELD: {
                "units": "mmHg",
                "diffusion_um2_per_min": 1.0e5,
                "decay_per_min": 0.1,
                "initial": 10.0,
                "boundary": "dirichlet",
                "boundary_value": 38.0,
                **{key: value for key, value in solver.items() if value is not None},
                "sources": [
                    {
                        "kind": "point",
                        "organ": ORGAN,
                        "position_um": [centre, centre, centre],
                        "rate": 1.0e6,  # amount/min: 125 mmHg/min in its 8000 um^3 voxel
                    }
                ],
            }
        },
    }


def kernel_calls(fields: Any) -> dict[str, int]:
    """Kernel calls of one ``fields.step(DT_MIN)`` (the step is taken), counted by wrapping
    the kernel functions tissue.fields calls: be_residual (plain / Jacobi), thomas_sweep per
    axis, finish_step."""
    import tissue.fields as module

    counts: Counter[str] = Counter()
    originals = {name: getattr(module, name) for name in ("be_residual", "thomas_sweep",
                                                          "finish_step")}  # fmt: skip

    def counted(name: str) -> Any:
        def call(*args: Any) -> Any:
            key = name
            if name == "be_residual":
                key = "be_residual_jacobi" if args[7] else "be_residual"
            elif name == "thomas_sweep":
                key = f"thomas_sweep_{'zyx'[args[3]]}"
            counts[key] += 1
            return originals[name](*args)

        return call

    try:
        for name in originals:
            setattr(module, name, counted(name))
        fields.step(DT_MIN)
    finally:
        for name, function in originals.items():
            setattr(module, name, function)
    return dict(sorted(counts.items()))


def bytes_per_step(calls: dict[str, int]) -> int:
    """Estimated bytes per voxel of one FieldSolver.step with these kernel calls: the ADI
    step (residuals; the pointwise step and the maximum-principle check follow the passes)
    or the split step (no residuals: the pointwise step, then the sweeps)."""
    b = BYTES_PER_VOXEL
    residuals = calls.get("be_residual", 0)
    jacobi = calls.get("be_residual_jacobi", 0)
    sweeps = sum(calls.get(f"thomas_sweep_{a}", 0) for a in "zyx")
    return (
        b["copy_iterate"]
        + residuals * (b["be_residual"] + b["add_delta"])
        + jacobi * (b["be_residual_jacobi"] + b["jacobi_update"])
        + sweeps * b["thomas_sweep"]
        + calls.get("finish_step", 0) * b["finish_step"]
        + b["pointwise"]
        + (b["bounds_check"] if residuals else 0)
    )


def build(
    backend: Backend, n: int, passes: int | None = None, smoothing: int | None = None
) -> Simulation:
    """A simulation of the case on ``backend`` after the settling steps."""
    scenario = scenario_from_dict(
        diffusion_scenario(n, passes, smoothing), "benchmarks/bench_diffusion.py"
    )
    sim = Simulation(scenario, backend=backend, seed=0)
    for _ in range(SETTLE_STEPS):
        sim.organs[ORGAN].fields.step(DT_MIN)
    return sim


def rates(seconds: float, voxels: int, bytes_per_voxel: int, ceiling: float) -> dict[str, Any]:
    """Voxel-updates/s, effective bandwidth (B/s) and its fraction of the copy ceiling."""
    bandwidth = bytes_per_voxel * voxels / seconds
    return {
        "voxel_updates_per_s": voxels / seconds,
        "bytes_per_voxel_update": bytes_per_voxel,
        "effective_bytes_per_s": bandwidth,
        "fraction_of_copy_ceiling": bandwidth / ceiling,
    }


def run_case(
    backend: Backend,
    timer: Timer,
    n: int,
    ceiling: float,
    passes: int | None = None,
    smoothing: int | None = None,
) -> dict[str, Any]:
    """Time one N^3 case: the full step and each kernel. Times in s, rates per s."""
    xp = backend.xp
    sim = build(backend, n, passes, smoothing)
    fields = sim.organs[ORGAN].fields
    cfg = fields.configs[FIELD]
    voxels = n**3
    state = fields.values[FIELD].copy()

    def restore() -> None:
        fields.values[FIELD][...] = state

    calls = kernel_calls(fields)
    restore()
    per_step = bytes_per_step(calls)

    step = timer.time(lambda: fields.step(DT_MIN), setup=restore)
    stepped = to_numpy(fields.values[FIELD])  # the state one step after ``state``
    check = {
        "finite": bool(np.isfinite(stepped).all()),
        "min": float(stepped.min()),
        "max": float(stepped.max()),
        "changed_voxels": int((stepped != to_numpy(state)).sum()),
    }
    if not check["finite"] or check["changed_voxels"] == 0:
        raise RuntimeError(f"n={n}: a step gave a non-finite or unchanged field: {check}")
    restore()
    case: dict[str, Any] = {
        "n": n,
        "voxels": voxels,
        "solver_passes": cfg.solver_passes,
        "solver_smoothing_steps": cfg.solver_smoothing_steps,
        "kernel_calls_per_step": calls,
        "dt_min": DT_MIN,
        "step": {**step.to_dict(), **rates(step.median_s, voxels, per_step, ceiling)},
    }
    case["step"]["seconds_per_step"] = step.median_s

    # the kernels, on copies of the solver's inputs (x = c_old starts a step, as in step())
    op = fields.operators[FIELD]
    source, uptake = fields.static_source[FIELD], fields.static_uptake[FIELD]
    c_old = state.copy()
    x = state.copy()
    c = state.copy()
    delta = xp.empty_like(state)
    scratch = xp.empty_like(state)
    dt = np.float32(DT_MIN)
    be_residual(op, x, c_old, source, uptake, dt, delta, False)
    residual = delta.copy()  # a real right-hand side for the sweeps, restored before each

    def reset_delta() -> None:
        delta[...] = residual

    kernels: dict[str, Any] = {}
    for name, fn, setup, nbytes in (
        ("be_residual",
         lambda: be_residual(op, x, c_old, source, uptake, dt, delta, False), None,
         BYTES_PER_VOXEL["be_residual"]),
        ("be_residual_jacobi",
         lambda: be_residual(op, x, c_old, source, uptake, dt, delta, True), None,
         BYTES_PER_VOXEL["be_residual_jacobi"]),
        ("thomas_sweep_z", lambda: thomas_sweep(op, delta, dt, 0, scratch), reset_delta,
         BYTES_PER_VOXEL["thomas_sweep"]),
        ("thomas_sweep_y", lambda: thomas_sweep(op, delta, dt, 1, scratch), reset_delta,
         BYTES_PER_VOXEL["thomas_sweep"]),
        ("thomas_sweep_x", lambda: thomas_sweep(op, delta, dt, 2, scratch), reset_delta,
         BYTES_PER_VOXEL["thomas_sweep"]),
        ("finish_step", lambda: finish_step(op, c, x), None, BYTES_PER_VOXEL["finish_step"]),
    ):  # fmt: skip
        timing = timer.time(fn, setup=setup)
        kernels[name] = {**timing.to_dict(), **rates(timing.median_s, voxels, nbytes, ceiling)}
    case["kernels"] = kernels
    kernel_sum = sum(kernels[name]["median_s"] * count for name, count in calls.items())
    case["kernels_sum_s"] = kernel_sum
    case["rest_of_step_s"] = step.median_s - kernel_sum  # array updates, launch overhead

    case["check"] = check
    if cfg.solver_passes:
        case["split_step"] = time_split_step(backend, timer, n, ceiling)
    return case


def time_split_step(backend: Backend, timer: Timer, n: int, ceiling: float) -> dict[str, Any]:
    """The same case with ``solver_passes = 0``: one symmetric LOD split step (the pointwise
    terms, then half-step Thomas sweeps along z, y, x, x, y, z): BioFVM's kind of step."""
    sim = build(backend, n, passes=0)
    fields = sim.organs[ORGAN].fields
    state = fields.values[FIELD].copy()

    def restore() -> None:
        fields.values[FIELD][...] = state

    calls = kernel_calls(fields)
    restore()
    timing = timer.time(lambda: fields.step(DT_MIN), setup=restore)
    out = {**timing.to_dict(), **rates(timing.median_s, n**3, bytes_per_step(calls), ceiling)}
    out["kernel_calls_per_step"] = calls
    del sim
    free_device_memory(backend)
    return out


def parity_vs_cpu(
    backend: Backend, n: int, passes: int | None = None, smoothing: int | None = None
) -> dict[str, Any]:
    """Fresh GPU and CPU runs of the case, SETTLE_STEPS + PARITY_STEPS steps each: max |diff|."""
    fields = []
    for b in (backend, get_backend("cpu")):
        sim = build(b, n, passes, smoothing)
        for _ in range(PARITY_STEPS):
            sim.organs[ORGAN].fields.step(DT_MIN)
        fields.append(to_numpy(sim.organs[ORGAN].fields.values[FIELD]).astype(np.float64))
        del sim
    free_device_memory(backend)
    diff = np.abs(fields[0] - fields[1])
    return {
        "steps": SETTLE_STEPS + PARITY_STEPS,
        "max_abs_diff": float(diff.max()),
        "max_rel_diff": float((diff / np.maximum(np.abs(fields[1]), 1e-30)).max()),
        "bit_identical": bool((diff == 0).all()),
    }


# the kernels run_case times one by one, in table order
KERNELS = ("be_residual", "be_residual_jacobi", "thomas_sweep_z", "thomas_sweep_y",
           "thomas_sweep_x", "finish_step")  # fmt: skip


def kernel_share(kernel: dict[str, Any]) -> str:
    """``ms (% of the copy ceiling)`` of one kernel's timing."""
    return f"{ms(kernel['median_s'])} ({100 * kernel['fraction_of_copy_ceiling']:.0f}%)"


def summary_tables(result: dict[str, Any]) -> list[Table]:
    """Each case's step (ADI and split step) and kernels; the BioFVM reference on the CPU."""
    step_columns = [
        Column("N", "n"),
        Column("voxels", lambda row: row["n"] ** 3, "{:,}"),
        Column("step", "kind"),
        Column("ms/step median [min-max]", "step", spread_ms),
        Column("voxel-updates/s", "step.voxel_updates_per_s", si),
        Column("B/voxel (est.)", "step.bytes_per_voxel_update"),
        Column("effective GB/s", lambda row: row["step"]["effective_bytes_per_s"] / 1e9, "{:.3g}"),
        Column("% of copy ceiling", lambda row: 100 * row["step"]["fraction_of_copy_ceiling"],
               "{:.1f}"),
    ]  # fmt: skip
    step_rows: list[dict[str, Any]] = []
    for case in result["cases"]:
        if failure(case):
            step_rows.append(case)
            continue
        step_rows.append({"n": case["n"], "kind": f"ADI x{case['solver_passes']}",
                          "step": case["step"]})  # fmt: skip
        if "split_step" in case:
            step_rows.append({"n": case["n"], "kind": "split (LOD)", "step": case["split_step"]})
    kernel_columns = [
        Column("N", "n"),
        *(Column(f"{name} ms (% ceil.)", f"kernels.{name}", kernel_share) for name in KERNELS),
        Column("rest of step ms", "rest_of_step_s", ms),
    ]
    ran = [case for case in result["cases"] if not failure(case)]
    tables = [
        Table("One FieldSolver.step (one field)", step_columns, step_rows, lead=2),
        Table("Kernels, median ms per call", kernel_columns, ran),
    ]
    if result["backend"] != "gpu" and "reference" in result:
        reference_columns = [
            Column("code", "code"),
            Column("voxel-updates/s", lambda ref: f"{si(ref['voxel_updates_per_s_low'])}-"
                   f"{si(ref['voxel_updates_per_s_high'])}"),
            Column("threads", "threads"),
            Column("grids", "grid_sizes"),
        ]  # fmt: skip
        reference = {"code": "BioFVM (issue)", **result["reference"]}
        tables.append(Table("Reference (not measured here)", reference_columns, [reference]))
    return tables


def summary_notes(result: dict[str, Any]) -> list[str]:
    """Lines under the tables: the ceiling and the parity checks."""
    ceiling = result["copy_ceiling"]
    calls = next((c["kernel_calls_per_step"] for c in result["cases"] if "step" in c), None)
    notes = []
    if calls:
        first = next(c for c in result["cases"] if "step" in c)
        notes.append(
            f"A step: {first['solver_passes']} ADI passes, "
            f"{first['solver_smoothing_steps']} Jacobi step(s) between passes; kernel calls "
            + ", ".join(f"{name} x{count}" for name, count in calls.items())
            + ". The split step (solver_passes = 0, BioFVM's kind of step with six half-step "
            "sweeps where BioFVM has three) is the same case stepped that way."
        )
    notes += [
        f"Copy ceiling {ceiling['bytes_per_s'] / 1e9:.3g} GB/s (read + write, "
        f"{ceiling['bytes_copied'] >> 20} MiB copy, {result['backend']}); bytes per voxel are "
        "an estimate (see JSON `bytes_per_voxel_update`)."
    ]
    usage = [
        (case["n"], case["step"]["host_usage_per_call"], case["step"]["median_s"])
        for case in result["cases"]
        if "host_usage_per_call" in case.get("step", {})
    ]
    usage = [(n, u, t) for n, u, t in usage if u["system_s"] > 0.1 * t]
    if usage:
        shares = ", ".join(
            f"N={n}: {u['system_s'] * 1e3:.3g} of {t * 1e3:.3g} ms" for n, u, t in usage
        )
        notes.append(
            f"CPU system time per step is over 10% ({shares}): page faults on the NumPy "
            "references' temporaries (see `host_usage_per_call`)."
        )
    negative = [str(c["n"]) for c in result["cases"] if c.get("rest_of_step_s", 0) < 0]
    if negative:
        notes.append(
            f"N={', '.join(negative)}: the kernels timed alone add up to more than the step "
            "('rest of step' < 0): each runs on the same data over and over, with cache and "
            "allocator states unlike those inside a step, and timing noise adds up over the "
            "calls."
        )
    for case in result["cases"]:
        parity = case.get("parity_vs_cpu")
        if parity:
            notes.append(
                f"N={case['n']}: GPU vs CPU after {parity['steps']} steps: max |diff| "
                f"{parity['max_abs_diff']:.3g} (bit-identical: {parity['bit_identical']})."
            )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON; returns the exit code."""
    parser = make_parser(__doc__.splitlines()[0], "grid sizes N (N^3 voxels), e.g. 64,128")
    parser.add_argument("--passes", type=int, default=None, help="ADI passes (schema default)")
    parser.add_argument(
        "--smoothing", type=int, default=None, help="Jacobi steps between passes (default)"
    )
    args = parser.parse_args(argv)
    backend = open_backend(args.backend)
    name = backend.name
    sizes = args.sizes or DEFAULT_SIZES[name]
    timer = make_timer(backend, args, DEFAULT_WARMUP, DEFAULT_REPEATS)
    result = result_header("diffusion", backend, timer)
    ceiling = copy_ceiling(backend, timer, COPY_CEILING_BYTES[name])
    result["copy_ceiling"] = ceiling
    result["bytes_per_voxel_update"] = {
        "per_part": BYTES_PER_VOXEL,
        "counted": BYTES_COUNTED,
    }
    result["scenario_example"] = diffusion_scenario(sizes[0], args.passes, args.smoothing)
    if name == "cpu":
        result["reference"] = BIOFVM_REFERENCE

    def run_one(n: int) -> dict[str, Any]:
        case = run_case(backend, timer, n, ceiling["bytes_per_s"], args.passes, args.smoothing)
        if backend.is_gpu and n <= PARITY_MAX_SIZE:
            case["parity_vs_cpu"] = parity_vs_cpu(backend, n, args.passes, args.smoothing)
        step = case["step"]
        print(
            f"N={n}: {step['median_s'] * 1e3:.3g} ms/step, "
            f"{si(step['voxel_updates_per_s'])} voxel-updates/s",
            flush=True,
        )
        return case

    result["cases"], all_ok = run_cases(
        backend, sizes, run_one, lambda n: BYTES_PER_GPU_VOXEL * n**3, "n"
    )
    return finish(result, args, all_ok)


if __name__ == "__main__":
    sys.exit(main())
