"""py-pde comparison: one diffusion-decay problem solved to steady state by tissue and py-pde.

The problem, the same for both codes (:mod:`benchmarks.steady_state`): dc/dt = D lap(c) -
lambda c on a box of N^3 voxels, c = c0 on the two x faces, no flux elsewhere, c = 0 at
t = 0; its analytic steady state c0 cosh((x - m) / ell) / cosh(w / ell) with the boundary
where each code puts it (tissue at the centres of its outer voxels, py-pde on the domain
faces), and each code's fully discrete steady state in closed form (its discretisation floor).

Runs: tissue (float32, the chosen backend) with the schema's default solver (multigrid-
preconditioned CG to its default tolerance) at several dt; py-pde (float64, CPU only) with
its explicit Euler solver on the numba backend at 0.9 of the stability limit, on one numba
thread unless ``--pypde-threads`` says otherwise (its numba compilation is not timed). Every
run starts from c = 0 and is checked every ``CHECK_INTERVAL_MIN`` simulated minutes (each
step when dt is longer): relative max and L2 errors against the analytic steady state. A
tolerance is reached at the first check from which the max error stays below it for the rest
of the run. Runs stop when steady (the field changed by less than ``STEADY_CHANGE_PER_MIN``
c0 per simulated minute over at least one minute), at ``MAX_SIM_MIN``, or when their
stepping time exceeds the wall budget.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.common import (
    Column,
    Table,
    Timer,
    failure,
    finish,
    format_value,
    make_parser,
    open_backend,
    result_header,
    run_cases,
)
from benchmarks.steady_state import (
    BOUNDARY_VALUE,
    DECAY_PER_MIN,
    DIFFUSION_LENGTH_UM,
    DIFFUSION_UM2_PER_MIN,
    FIELD,
    ORGAN,
    SPACING_UM,
    analytic_steady,
    boundary_positions_um,
    discretisation_floor,
    field_errors,
    solved_voxels,
    tissue_scenario,
    voxel_centres_um,
)
from tissue.backend import Backend
from tissue.config import scenario_from_dict
from tissue.simulation import Simulation

TOLERANCES = (1e-2, 1e-3)  # max error relative to c0; both codes' floors are far below
CHECK_INTERVAL_MIN = 0.05  # simulated minutes between error checks (or one step if longer)
STEADY_WINDOW_MIN = 1.0  # steady: compared with the field at least this long ago ...
STEADY_CHANGE_PER_MIN = 1e-6  # ... the largest change, relative to c0, per simulated minute
MAX_SIM_MIN = 500.0  # simulated minutes a run may take at most
DEFAULT_SIZES = {"cpu": [64], "gpu": [64]}
DEFAULT_DTS = "0.1,1,10"  # min, tissue's default solver
DEFAULT_BUDGET_S = 30.0  # stepping seconds per run at most
DEFAULT_PYPDE_THREADS = 1  # numba threads: one core, as tissue's NumPy (0: numba's default)
PYPDE_DT_FRACTION = 0.9  # py-pde's explicit dt as a fraction of its stability limit
HISTORY_POINTS = 60  # checks kept in the JSON per run (thinned evenly; first and last kept)
BYTES_PER_GPU_VOXEL = 64  # tissue's device memory per voxel (solver arrays and copies)
MISSING_PYPDE = "py-pde is not installed: pip install -e '.[bench]'"


# --- the run loop ---------------------------------------------------------------------


@dataclass
class Check:
    """One error check: steps and simulated minutes so far, stepping seconds so far
    (checks excluded), max and L2 relative errors."""

    steps: int
    sim_min: float
    wall_s: float
    max_rel_error: float
    l2_rel_error: float


def time_to_tolerance(checks: Sequence[Check], tolerance: float) -> dict[str, Any]:
    """The first check from which the max error stays below ``tolerance`` to the end of the
    run (None values if the last check is not below it), and the first check below it at all
    (``first_below_min``: earlier when the error dips below and rises again)."""
    last_above = -1
    for index, check in enumerate(checks):
        if not check.max_rel_error < tolerance:  # NaN counts as above
            last_above = index
    first_below = next((c.sim_min for c in checks if c.max_rel_error < tolerance), None)
    reached = last_above + 1 < len(checks)
    check = checks[last_above + 1] if reached else None
    return {
        "tolerance": tolerance,
        "steps": check.steps if check else None,
        "sim_min": check.sim_min if check else None,
        "wall_s": check.wall_s if check else None,
        "first_below_min": first_below,
    }


def drive(
    xp: Any,
    advance: Callable[[int], None],
    read: Callable[[], Any],
    synchronize: Callable[[], None],
    dt_min: float,
    exact: Any,
    solved: slice,
    budget_s: float,
) -> dict[str, Any]:
    """Advance a run check by check until steady, ``MAX_SIM_MIN`` or the wall budget.

    Args:
        advance: takes the given number of steps of ``dt_min``.
        read: the current (nx, ny, nz) field (a view is fine).
        synchronize: waits for the device (no-op on the CPU); called before each clock read.
        exact: (nx,) float64 analytic profile, same backend as the field.

    Returns:
        dict with the checks' summary (tolerances, final errors, why it stopped, check cost,
        thinned history); times in s, simulated times in min.
    """
    steps_per_check = max(1, round(CHECK_INTERVAL_MIN / dt_min))
    checks: list[Check] = []
    steps, wall, check_wall = 0, 0.0, 0.0
    reference, reference_min = read().copy(), 0.0
    stopped = None
    while stopped is None:
        start = time.perf_counter()
        advance(steps_per_check)
        synchronize()
        wall += time.perf_counter() - start
        steps += steps_per_check
        sim_min = steps * dt_min
        start = time.perf_counter()
        field = read()
        max_rel, l2_rel = field_errors(xp, field, exact, solved)
        checks.append(Check(steps, sim_min, wall, max_rel, l2_rel))
        if not math.isfinite(max_rel):
            stopped = "non-finite"
        elif sim_min - reference_min >= STEADY_WINDOW_MIN - 1e-9:
            change = float(xp.abs(field - reference).max()) / BOUNDARY_VALUE
            if change < STEADY_CHANGE_PER_MIN * (sim_min - reference_min):
                stopped = "steady"
            reference, reference_min = field.copy(), sim_min
        check_wall += time.perf_counter() - start
        if stopped is None and sim_min >= MAX_SIM_MIN - 1e-9:
            stopped = "max simulated time"
        if stopped is None and wall >= budget_s:
            stopped = "wall budget"
    last = checks[-1]
    stride = max(1, math.ceil(len(checks) / HISTORY_POINTS))
    kept = [*checks[:-1:stride], last]
    return {
        "dt_min": dt_min,
        "steps_per_check": steps_per_check,
        "to_tolerance": [time_to_tolerance(checks, tol) for tol in TOLERANCES],
        "final": {
            "steps": last.steps,
            "sim_min": last.sim_min,
            "wall_s": last.wall_s,
            "max_rel_error": finite_or_none(last.max_rel_error),
            "l2_rel_error": finite_or_none(last.l2_rel_error),
            "stopped": stopped,
            "steady": stopped == "steady",
        },
        "seconds_per_step": last.wall_s / last.steps,
        "checks": {"count": len(checks), "wall_s": check_wall},
        "history": {
            "steps": [c.steps for c in kept],
            "sim_min": [c.sim_min for c in kept],
            "wall_s": [c.wall_s for c in kept],
            "max_rel_error": [finite_or_none(c.max_rel_error) for c in kept],
        },
    }


def finite_or_none(value: float) -> float | None:
    """``value``, or None when it is NaN or infinite (the JSON allows no NaN)."""
    return value if math.isfinite(value) else None


# --- tissue ---------------------------------------------------------------------------


def run_tissue(backend: Backend, n: int, dt_min: float, budget_s: float) -> dict[str, Any]:
    """One tissue run from c = 0 (see :func:`drive`) with the default solver."""
    xp = backend.xp
    start = time.perf_counter()
    scenario = scenario_from_dict(tissue_scenario(n, dt_min), "benchmarks/steady_state.py")
    sim = Simulation(scenario, backend=backend, seed=0)
    fields = sim.organs[ORGAN].fields
    cfg = fields.configs[FIELD]
    setup_s = time.perf_counter() - start
    low, high = boundary_positions_um("tissue", n)
    exact = xp.asarray(analytic_steady(voxel_centres_um(n), low, high))

    def advance(count: int) -> None:
        for _ in range(count):
            fields.step(dt_min)

    run = drive(
        xp,
        advance,
        lambda: fields.values[FIELD].transpose(2, 1, 0),  # (nz, ny, nx) -> x first
        backend.synchronize,
        dt_min,
        exact,
        solved_voxels("tissue", n),
        budget_s,
    )
    return {
        "code": "tissue",
        "solver": "default (multigrid CG)",
        "solver_tolerance": cfg.solver_tolerance,
        "backend": backend.name,
        "dtype": "float32",
        "dt_D_over_h2": dt_min * DIFFUSION_UM2_PER_MIN / SPACING_UM**2,
        "setup_s": setup_s,
        **run,
    }


# --- py-pde ---------------------------------------------------------------------------


def pypde_versions() -> dict[str, str] | None:
    """Versions of py-pde, numba and scipy; None when py-pde does not import."""
    try:
        import numba
        import pde
        import scipy
    except ImportError:
        return None
    return {"py_pde": pde.__version__, "numba": numba.__version__, "scipy": scipy.__version__}


def pypde_stable_dt(spacing_um: float = SPACING_UM) -> float:
    """Forward Euler's stability limit (min) for the 7-point Laplacian with decay:
    2 / (lambda + 12 D / h^2)."""
    return 2 / (DECAY_PER_MIN + 12 * DIFFUSION_UM2_PER_MIN / spacing_um**2)


PYPDE_BC = {"x": {"value": BOUNDARY_VALUE}, "y": "neumann", "z": "neumann"}
PYPDE_SOLVER_BACKENDS = {"numba": "numba", "scipy": "numpy"}  # operators -> solver backend


def pypde_equation(operators: str = "numba") -> Any:
    """py-pde's ``DiffusionDecayPDE``, written as py-pde writes ``DiffusionPDE``:

        dc/dt = D laplace(c) - decay c,

    c0 on the x faces (the cell-face value), zero normal derivative on the y and z faces.
    ``make_evolution_rate`` gives the numba solver backend its compiled right-hand side;
    ``evolution_rate`` (the numpy solver backend's) applies the Laplacian of the
    ``operators`` backend ("scipy": a sparse matrix, no numba compilation; for tests).
    """
    import pde

    class DiffusionDecayPDE(pde.PDEBase):
        explicit_time_dependence = False

        def evolution_rate(self, state: Any, t: float = 0) -> Any:
            laplace = state.laplace(PYPDE_BC, backend=operators)
            return DIFFUSION_UM2_PER_MIN * laplace - DECAY_PER_MIN * state

        def make_evolution_rate(self, state: Any, backend: Any) -> Callable[..., Any]:
            laplace = state.grid.make_operator(
                operator="laplace", bc=PYPDE_BC, backend=backend, dtype=state.dtype
            )
            diffusion, decay = DIFFUSION_UM2_PER_MIN, DECAY_PER_MIN

            def pde_rhs(state_data: Any, t: float = 0) -> Any:
                return diffusion * laplace(state_data, args={"t": t}) - decay * state_data

            return pde_rhs

    return DiffusionDecayPDE()


def run_pypde(
    n: int,
    budget_s: float,
    dt_min: float | None = None,
    operators: str = "numba",
    threads: int | None = None,
) -> dict[str, Any]:
    """One py-pde run from c = 0 with its explicit Euler solver (see :func:`drive`).

    ``operators`` "numba": the numba solver backend (the benchmark); "scipy": the numpy
    solver backend with SciPy sparse operators (no compilation, slow per step; tests). The
    stepper is built once (``make_stepper``: numba compiles here) and called once on a
    scratch copy (``compile_s`` covers both), then called for each check interval as
    py-pde's Controller calls it between tracker interrupts. ``dt_min`` defaults to
    PYPDE_DT_FRACTION of the stability limit; ``threads`` sets numba's thread count for the
    run (None: numba's default, every usable core).
    """
    import numba

    default_threads = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        return _run_pypde(n, budget_s, dt_min, operators)
    finally:
        numba.set_num_threads(default_threads)


def _run_pypde(n: int, budget_s: float, dt_min: float | None, operators: str) -> dict[str, Any]:
    import numba
    import pde

    dt = PYPDE_DT_FRACTION * pypde_stable_dt() if dt_min is None else dt_min
    length = n * SPACING_UM
    grid = pde.CartesianGrid([[0.0, length]] * 3, [n] * 3)
    state = pde.ScalarField(grid, 0.0)
    solver = pde.EulerSolver(pypde_equation(operators), backend=PYPDE_SOLVER_BACKENDS[operators])
    start = time.perf_counter()
    stepper = solver.make_stepper(state, dt)
    stepper(state.copy(), 0.0, dt)  # first call on a scratch state, outside the timing
    compile_s = time.perf_counter() - start
    low, high = boundary_positions_um("py-pde", n)
    exact = analytic_steady(grid.axes_coords[0], low, high)
    clock = {"steps": 0}

    def advance(count: int) -> None:
        t_start = clock["steps"] * dt
        stepper(state, t_start, t_start + count * dt)
        clock["steps"] += count

    run = drive(
        np, advance, lambda: state.data, lambda: None, dt, exact, solved_voxels("py-pde", n),
        budget_s,
    )  # fmt: skip
    compiled = operators == "numba"
    threshold = pde.config["backend.numba.multithreading_threshold"]
    return {
        "code": "py-pde",
        "solver": "explicit Euler" + ("" if compiled else " (SciPy operators)"),
        "solver_backend": PYPDE_SOLVER_BACKENDS[operators],
        "dtype": str(state.data.dtype),
        "dt_fraction_of_stability_limit": dt / pypde_stable_dt(),
        "stability_limit_min": pypde_stable_dt(),
        "compile_s": compile_s,
        "steps_counted_by_pypde": int(solver.info["steps"]),
        "numba_threads": numba.get_num_threads(),
        "numba_multithreading": pde.config["backend.numba.multithreading"],
        "numba_parallel_grid": compiled and n**3 >= threshold,
        **run,
    }


# --- the benchmark --------------------------------------------------------------------


def run_case(
    backend: Backend,
    n: int,
    dts: Sequence[float],
    budget_s: float,
    pypde_operators: str = "numba",
    pypde_threads: int | None = None,
) -> dict[str, Any]:
    """All runs of one N^3 case: tissue's default solver at ``dts`` (min), then py-pde's
    explicit solver."""
    runs = []
    for dt in dts:
        runs.append(run_tissue(backend, n, dt, budget_s))
        print(f"  {progress(runs[-1])}", flush=True)
    runs.append(run_pypde(n, budget_s, operators=pypde_operators, threads=pypde_threads))
    print(f"  {progress(runs[-1])}", flush=True)
    return {
        "n": n,
        "voxels": n**3,
        "length_um": n * SPACING_UM,
        "discretisation_floor": discretisation_floor(n),
        "runs": runs,
    }


def progress(run: dict[str, Any]) -> str:
    """One line: code, solver, dt, time to the first tolerance, final error."""
    first, final = run["to_tolerance"][0], run["final"]
    reach = (
        f"{first['tolerance']:.0%} after {first['steps']} steps ({first['wall_s']:.2f} s)"
        if first["steps"] is not None
        else f"{first['tolerance']:.0%} not reached"
    )
    error = format_value(final["max_rel_error"], "{:.2e}", "non-finite")
    return (
        f"{run['code']} {run['solver']} dt={run['dt_min']:.3g}: {reach}; "
        f"max error {error} at {final['sim_min']:.4g} min ({final['stopped']})"
    )


def problem_record() -> dict[str, Any]:
    """The problem definition and the measurement rules, for the JSON."""
    return {
        "equation": "dc/dt = D laplace(c) - decay c",
        "diffusion_um2_per_min": DIFFUSION_UM2_PER_MIN,
        "decay_per_min": DECAY_PER_MIN,
        "diffusion_length_um": DIFFUSION_LENGTH_UM,
        "boundary_value": BOUNDARY_VALUE,
        "spacing_um": SPACING_UM,
        "initial": 0.0,
        "boundaries": "c = c0 on the x- and x+ faces, no flux on the y and z faces",
        "analytic_steady_state": "c0 cosh((x - m)/ell) / cosh(w/ell), m, w: midpoint and "
        "half-width between the boundary positions; evaluated at voxel centres (i + 1/2) h",
        "boundary_position": {
            "tissue": "centres of the outer voxel layers (x = h/2, L - h/2): they hold c0; "
            "errors over the other voxels",
            "py-pde": "the cell faces at the domain edge (x = 0, L), by a ghost cell "
            "2 c0 - c_0; errors over all voxels",
        },
        "errors": "max_rel_error = max |c - c_a| / c0; l2_rel_error = ||c - c_a||_2 / "
        "||c_a||_2, over the voxels the code solves for",
        "discretisation_floor": "each code's fully discrete steady state (closed form, "
        "float64) against the analytic one",
    }


def method_record(budget_s: float) -> dict[str, Any]:
    """How the runs are timed and stopped, for the JSON."""
    return {
        "tolerances": list(TOLERANCES),
        "tolerance_rule": "reached at the first check from which max_rel_error stays below "
        "the tolerance until the run ends; first_below_min is the first check below it at all",
        "check_interval_min": CHECK_INTERVAL_MIN,
        "check_rule": "checks every round(check_interval_min / dt) steps (at least 1)",
        "wall_s": "time.perf_counter around the stepping calls only (the device is "
        "synchronized before each clock read); error checks, setup and py-pde's numba "
        "compilation (compile_s, plus one untimed first call on a scratch state) excluded",
        "steady_rule": f"max |c(t) - c(t')| / c0 < {STEADY_CHANGE_PER_MIN:g} (t - t') with "
        f"t - t' >= {STEADY_WINDOW_MIN:g} min between checks",
        "max_sim_min": MAX_SIM_MIN,
        "budget_s_per_run": budget_s,
        "pypde_dt": f"{PYPDE_DT_FRACTION:g} x forward Euler's stability limit "
        "2 / (decay + 12 D / h^2)",
    }


def parse_dts(text: str) -> list[float]:
    """``"0.1,1,10"`` -> [0.1, 1.0, 10.0]; an empty string -> []."""
    dts = [float(part) for part in text.split(",") if part.strip()]
    if any(not dt > 0 for dt in dts):
        raise ValueError(f"time steps must be positive, got {text!r}")
    return dts


def reached(tolerance: dict[str, Any]) -> str:
    """``steps / sim. min / wall s`` to one tolerance (``-`` where not reached)."""
    steps, sim_min, wall_s = tolerance["steps"], tolerance["sim_min"], tolerance["wall_s"]
    return " / ".join(
        (format_value(steps), format_value(sim_min, "{:.3g}"), format_value(wall_s, "{:.3g}"))
    )


def end(final: dict[str, Any]) -> str:
    """Why and when a run ended."""
    why = "steady" if final["steady"] else final["stopped"]
    return f"{why} at {final['sim_min']:.4g} min"


def summary_tables(result: dict[str, Any]) -> list[Table]:
    """Time to tolerance and final errors per run; each code's discretisation floor."""
    first, second = (f"{t:.1%}".replace(".0%", "%") for t in result["method"]["tolerances"])
    run_columns = [
        Column("N", "n"),
        Column("code", "code"),
        Column("solver", "solver"),
        Column("dt (min)", "dt_min", "{:.3g}"),
        Column(f"steps to {first}", "to_tolerance.0.steps"),
        Column(f"sim. min to {first}", "to_tolerance.0.sim_min", "{:.3g}"),
        Column(f"wall s to {first}", "to_tolerance.0.wall_s", "{:.3g}"),
        Column(f"steps / sim. min / wall s to {second}", "to_tolerance.1", reached),
        Column("max rel. error at end", "final.max_rel_error", "{:.2e}", "non-finite"),
        Column("L2 rel. error at end", "final.l2_rel_error", "{:.2e}", "non-finite"),
        Column("end", "final", end),
    ]
    floor_columns = [
        Column("N", "n"),
        Column("code", "code"),
        Column("boundary value at", "boundary_at_um",
               lambda at: f"x = {at[0]:g} and {at[1]:g} um"),
        Column("max rel. error", "max_rel_error", "{:.2e}"),
        Column("L2 rel. error", "l2_rel_error", "{:.2e}"),
    ]  # fmt: skip
    runs, floors = [], []
    for case in result["cases"]:
        if failure(case):
            runs.append(case)
            continue
        runs += [{"n": case["n"], **run} for run in case["runs"]]
        floors += [
            {"n": case["n"], "code": code, **floor}
            for code, floor in case["discretisation_floor"].items()
        ]
    return [
        Table("Time to steady state (from c = 0) and error against the analytic steady state",
              run_columns, runs),
        Table("Discretisation floor: each code's exact discrete steady state vs analytic",
              floor_columns, floors),
    ]  # fmt: skip


def summary_notes(result: dict[str, Any]) -> list[str]:
    """Lines under the tables: the rules, py-pde's setup and compile times, what stopped."""
    method = result["method"]
    notes = [
        f"dc/dt = D lap(c) - lambda c, D = {DIFFUSION_UM2_PER_MIN:g} um^2/min, lambda = "
        f"{DECAY_PER_MIN:g}/min, c0 = {BOUNDARY_VALUE:g} on the x faces, no flux elsewhere, "
        f"h = {SPACING_UM:g} um, c = 0 at start. Errors against c0 cosh((x - m)/ell)/cosh(w/ell) "
        "at voxel centres, with the boundary where each code puts it: tissue at the centres "
        "of its outer voxels (which hold c0), py-pde on the domain faces. max error = "
        "max |c - c_a| / c0.",
        f"A tolerance is reached at the first check from which the max error stays below it "
        f"(checks every {method['check_interval_min']:g} simulated min or every step if dt "
        "is longer); wall s counts the stepping calls only (no checks, no setup, no numba "
        f"compilation). Runs end when steady, at {method['max_sim_min']:g} min or after "
        f"{method['budget_s_per_run']:g} s of stepping.",
    ]
    for case in result["cases"]:
        for run in case.get("runs", []):
            if run["code"] == "py-pde":
                notes.append(
                    f"N={case['n']}: py-pde dt = {run['dt_min']:.3g} min "
                    f"({run['dt_fraction_of_stability_limit']:.2g} of the explicit limit), "
                    f"{run['dtype']}, numba compilation {run['compile_s']:.3g} s (excluded), "
                    f"{run['numba_threads']} numba thread(s)"
                    + (
                        ", parallel loops"
                        if run["numba_parallel_grid"] and run["numba_threads"] > 1
                        else ""
                    )
                    + "; tissue float32, one NumPy thread on the CPU."
                )
            first_below = run["to_tolerance"][0]["first_below_min"]
            if run["to_tolerance"][0]["steps"] is None and first_below is not None:
                notes.append(
                    f"N={case['n']}: {run['code']} {run['solver']} dt={run['dt_min']:g}: the "
                    f"error dipped below {run['to_tolerance'][0]['tolerance']:.0%} at "
                    f"{first_below:.3g} min but settled above it."
                )
    notes.append(
        "py-pde's ImplicitSolver solves each backward-Euler step by fixed-point iteration, "
        "which converges only for dt below about 1/(12 D/h^2) (shorter than the explicit "
        "limit); its ScipySolver with BDF and a sparse Jacobian pattern took minutes at N=24. "
        "Neither is run."
    )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and write its JSON; returns the exit code."""
    parser = make_parser(__doc__.splitlines()[0], "grid sizes N (N^3 voxels), e.g. 32,64")
    parser.add_argument(
        "--dts",
        default=DEFAULT_DTS,
        help=f"tissue default-solver steps, min (default {DEFAULT_DTS})",
    )
    parser.add_argument(
        "--budget-s", type=float, default=DEFAULT_BUDGET_S, help="stepping seconds per run at most"
    )
    parser.add_argument(
        "--pypde-threads",
        type=int,
        default=DEFAULT_PYPDE_THREADS,
        help="numba threads for py-pde (default 1: one core, as tissue's NumPy; 0: numba's "
        "default, every core)",
    )
    args = parser.parse_args(argv)
    try:
        dts = parse_dts(args.dts)
    except ValueError as error:
        parser.error(str(error))
    if args.pypde_threads < 0:
        parser.error(f"--pypde-threads must be >= 0, got {args.pypde_threads}")
    library_versions = pypde_versions()
    if library_versions is None:
        print(MISSING_PYPDE, file=sys.stderr)
        return 2
    backend = open_backend(args.backend)
    sizes = args.sizes or DEFAULT_SIZES[backend.name]
    result = result_header("pypde", backend, Timer(backend, 0, 1))
    result["versions"].update(library_versions)
    result["timing"] = {"method": method_record(args.budget_s)["wall_s"]}
    result["problem"] = problem_record()
    result["method"] = method_record(args.budget_s)

    def run_one(n: int) -> dict[str, Any]:
        threads = args.pypde_threads or None
        return run_case(backend, n, dts, args.budget_s, pypde_threads=threads)

    result["cases"], all_ok = run_cases(
        backend, sizes, run_one, lambda n: BYTES_PER_GPU_VOXEL * n**3, "n"
    )
    return finish(result, args, all_ok)


if __name__ == "__main__":
    raise SystemExit(main())
