"""py-pde comparison: one diffusion-decay problem solved to steady state by tissue and py-pde.

Problem (the same for both codes): dc/dt = D lap(c) - lambda c on a box of N^3 voxels of
spacing h = 20 um, D = 1e5 um^2/min, lambda = 0.1 /min (oxygen-like; diffusion length
ell = sqrt(D / lambda) = 1000 um), c = c0 = 38 (Dirichlet) on the two x faces, no flux on
the four others, c = 0 at t = 0. The solution depends on x only; its steady state is

    c(x) = c0 cosh((x - m) / ell) / cosh(w / ell),

m the midpoint and w the half-width between the two places the code puts the boundary value:

- tissue holds c0 in the outer voxel layer, so the boundary lies at the centres of the outer
  voxels (x = h/2 and L - h/2, w = (L - h)/2); its error is measured over the other voxels;
- py-pde imposes c0 on the cell face at the domain edge (x = 0 and L, w = L/2, through a
  ghost cell 2 c0 - c_0); its error is measured over all voxels.

Both are compared at their own voxel centres (x_i = (i + 1/2) h). Each code's fully discrete
steady state has a closed form (:func:`discrete_steady_tissue`, :func:`discrete_steady_pypde`),
whose distance from the analytic one is the discretisation floor of that code.

Runs: tissue (float32, the chosen backend) with the schema's default solver and with the LOD
split step (``solver_passes = 0``) at several dt; py-pde (float64, CPU only) with its explicit
Euler solver on the numba backend at 0.9 of the stability limit, on one numba thread unless
``--pypde-threads`` says otherwise (its numba compilation is not timed). Every run starts from
c = 0 and is checked every ``CHECK_INTERVAL_MIN`` simulated minutes (each step when dt is
longer): relative max and L2 errors against the analytic steady state. A tolerance is reached
at the first check from which the max error stays below it for the rest of the run. Runs stop
when steady (the field changed by less than ``STEADY_CHANGE_PER_MIN`` c0 per simulated minute
over at least one minute), at ``MAX_SIM_MIN``, or when their stepping time exceeds the wall
budget.
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
    Timer,
    finish,
    make_parser,
    open_backend,
    result_header,
    run_cases,
)
from tissue.backend import Backend
from tissue.config import scenario_from_dict
from tissue.simulation import Simulation

FIELD = "oxygen"
ORGAN = "box"
SPACING_UM = 20.0
DIFFUSION_UM2_PER_MIN = 1.0e5
DECAY_PER_MIN = 0.1
BOUNDARY_VALUE = 38.0
DIFFUSION_LENGTH_UM = math.sqrt(DIFFUSION_UM2_PER_MIN / DECAY_PER_MIN)
TOLERANCES = (1e-2, 1e-3)  # max error relative to c0; both codes' floors are far below
CHECK_INTERVAL_MIN = 0.05  # simulated minutes between error checks (or one step if longer)
STEADY_WINDOW_MIN = 1.0  # steady: compared with the field at least this long ago ...
STEADY_CHANGE_PER_MIN = 1e-6  # ... the largest change, relative to c0, per simulated minute
MAX_SIM_MIN = 500.0  # simulated minutes a run may take at most
DEFAULT_SIZES = {"cpu": [64], "gpu": [64]}
DEFAULT_DTS = "0.1,1,10"  # min, tissue's default solver
DEFAULT_LOD_DTS = "0.01,0.1,1,10"  # min, tissue's LOD split step
DEFAULT_BUDGET_S = 30.0  # stepping seconds per run at most
DEFAULT_PYPDE_THREADS = 1  # numba threads: one core, as tissue's NumPy (0: numba's default)
PYPDE_DT_FRACTION = 0.9  # py-pde's explicit dt as a fraction of its stability limit
HISTORY_POINTS = 60  # checks kept in the JSON per run (thinned evenly; first and last kept)
BYTES_PER_GPU_VOXEL = 64  # tissue's device memory per voxel (solver arrays and copies)
MISSING_PYPDE = "py-pde is not installed: pip install -e '.[bench]'"


# --- the problem ----------------------------------------------------------------------


def voxel_centres_um(n: int, spacing_um: float = SPACING_UM) -> np.ndarray:
    """(n,) float64 voxel-centre coordinates x_i = (i + 1/2) h (um)."""
    return (np.arange(n, dtype=np.float64) + 0.5) * spacing_um


def analytic_steady(
    x_um: np.ndarray,
    low_um: float,
    high_um: float,
    c0: float = BOUNDARY_VALUE,
    ell_um: float = DIFFUSION_LENGTH_UM,
) -> np.ndarray:
    """Steady state of D c'' = lambda c with c = c0 at ``low_um`` and ``high_um``:
    c0 cosh((x - m) / ell) / cosh(w / ell), m = (low + high)/2, w = (high - low)/2.

    Args:
        x_um: positions (um), any shape; ell_um: sqrt(D / lambda) (um).

    Returns:
        float64 concentrations, the shape of ``x_um``.
    """
    middle, half = (low_um + high_um) / 2, (high_um - low_um) / 2
    return (
        c0
        * np.cosh((np.asarray(x_um, dtype=np.float64) - middle) / ell_um)
        / math.cosh(half / ell_um)
    )


def boundary_positions_um(code: str, n: int, spacing_um: float = SPACING_UM) -> tuple[float, float]:
    """Where ``code`` ("tissue" or "py-pde") puts the Dirichlet value on an n-voxel axis (um):
    tissue at the centres of the outer voxels, py-pde on the outer cell faces."""
    length = n * spacing_um
    if code == "tissue":
        return spacing_um / 2, length - spacing_um / 2
    if code == "py-pde":
        return 0.0, length
    raise ValueError(f"unknown code {code!r}")


def solved_voxels(code: str, n: int) -> slice:
    """x indices whose values the code solves for (tissue holds the outer layers at c0)."""
    return slice(1, n - 1) if code == "tissue" else slice(0, n)


def discrete_wavenumber(
    spacing_um: float = SPACING_UM, ell_um: float = DIFFUSION_LENGTH_UM
) -> float:
    """kappa (1/um) of the 3-point scheme's exact solutions cosh(kappa x):
    2 (cosh(kappa h) - 1) / h^2 = 1 / ell^2, i.e. kappa = (2/h) asinh(h / (2 ell))."""
    return 2 / spacing_um * math.asinh(spacing_um / (2 * ell_um))


def discrete_steady_tissue(n: int, spacing_um: float = SPACING_UM) -> np.ndarray:
    """(n,) float64 steady state of tissue's scheme in closed form: outer voxels at c0,
    D (c_{i-1} - 2 c_i + c_{i+1}) / h^2 = lambda c_i inside, so
    c_i = c0 cosh(kappa (x_i - L/2)) / cosh(kappa (L - h)/2)."""
    kappa = discrete_wavenumber(spacing_um)
    x = voxel_centres_um(n, spacing_um)
    length = n * spacing_um
    return (
        BOUNDARY_VALUE
        * np.cosh(kappa * (x - length / 2))
        / math.cosh(kappa * (length - spacing_um) / 2)
    )


def discrete_steady_pypde(n: int, spacing_um: float = SPACING_UM) -> np.ndarray:
    """(n,) float64 steady state of py-pde's scheme in closed form: the same interior
    equation for every voxel, ghost cells c_{-1} = 2 c0 - c_0 (face value c0), so
    c_i = c0 cosh(kappa (x_i - L/2)) / (cosh(kappa L/2) cosh(kappa h/2))."""
    kappa = discrete_wavenumber(spacing_um)
    x = voxel_centres_um(n, spacing_um)
    length = n * spacing_um
    return (
        BOUNDARY_VALUE
        * np.cosh(kappa * (x - length / 2))
        / (math.cosh(kappa * length / 2) * math.cosh(kappa * spacing_um / 2))
    )


def direct_steady(code: str, n: int, spacing_um: float = SPACING_UM) -> np.ndarray:
    """(n,) float64 steady state of ``code``'s scheme by a direct solve of its equations
    (an independent check of the closed forms)."""
    a = DIFFUSION_UM2_PER_MIN / spacing_um**2
    matrix = np.zeros((n, n))
    rhs = np.zeros(n)
    for i in range(n):
        matrix[i, i] = 2 * a + DECAY_PER_MIN
        for j in (i - 1, i + 1):
            if 0 <= j < n:
                matrix[i, j] = -a
            else:  # py-pde's ghost cell 2 c0 - c_i
                matrix[i, i] += a
                rhs[i] += 2 * a * BOUNDARY_VALUE
    if code == "tissue":
        for i in (0, n - 1):
            matrix[i] = 0.0
            matrix[i, i] = 1.0
            rhs[i] = BOUNDARY_VALUE
    return np.linalg.solve(matrix, rhs)


def profile_errors(profile: np.ndarray, exact: np.ndarray, solved: slice) -> dict[str, float]:
    """Max and L2 error of a 1-D profile over ``solved`` voxels: max |c - c_a| / c0 and
    ||c - c_a||_2 / ||c_a||_2."""
    diff = profile[solved] - exact[solved]
    return {
        "max_rel_error": float(np.abs(diff).max() / BOUNDARY_VALUE),
        "l2_rel_error": float(np.linalg.norm(diff) / np.linalg.norm(exact[solved])),
    }


def field_errors(xp: Any, field_x_first: Any, exact: Any, solved: slice) -> tuple[float, float]:
    """Max |c - c_a| / c0 and ||c - c_a||_2 / ||c_a||_2 of a 3-D field over the solved voxels.

    Args:
        field_x_first: (nx, ny, nz) concentrations (any float dtype, backend array).
        exact: (nx,) float64 analytic profile on the same backend.
    """
    values = field_x_first[solved].astype(xp.float64)
    diff = values - exact[solved, None, None]
    per_x = values.shape[1] * values.shape[2]
    max_rel = float(xp.abs(diff).max()) / BOUNDARY_VALUE
    l2_rel = float(xp.sqrt((diff * diff).sum() / (per_x * (exact[solved] ** 2).sum())))
    return max_rel, l2_rel


def pypde_stable_dt(spacing_um: float = SPACING_UM) -> float:
    """Forward Euler's stability limit (min) for the 7-point Laplacian with decay:
    2 / (lambda + 12 D / h^2)."""
    return 2 / (DECAY_PER_MIN + 12 * DIFFUSION_UM2_PER_MIN / spacing_um**2)


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


def tissue_scenario(n: int, dt_min: float, passes: int | None = None) -> dict[str, Any]:
    """Scenario dict: an n^3 box of 20 um voxels, one field (D, decay, c = 0 at start,
    Dirichlet c0 on the x faces, no flux elsewhere); ``passes`` None: the schema's
    default solver, 0: the LOD split step."""
    field: dict[str, Any] = {
        "units": "mmHg",
        "diffusion_um2_per_min": DIFFUSION_UM2_PER_MIN,
        "decay_per_min": DECAY_PER_MIN,
        "initial": 0.0,
        "boundary": "dirichlet",
        "boundary_value": BOUNDARY_VALUE,
        "boundary_faces": ["x-", "x+"],
    }
    if passes is not None:
        field["solver_passes"] = passes
    return {
        "name": f"bench-pypde-{n}",
        "time_steps": {"diffusion_min": dt_min, "mechanics_min": 0.1, "phenotype_min": 6.0},
        "organs": {
            ORGAN: {
                "shape": [n, n, n],
                "spacing_um": SPACING_UM,
                "geometry": {"kind": "box", "label": "tissue"},
            }
        },
        "fields": {FIELD: field},
    }


def run_tissue(
    backend: Backend, n: int, dt_min: float, passes: int | None, budget_s: float
) -> dict[str, Any]:
    """One tissue run from c = 0 (see :func:`drive`); ``passes`` as in tissue_scenario."""
    xp = backend.xp
    start = time.perf_counter()
    scenario = scenario_from_dict(tissue_scenario(n, dt_min, passes), "benchmarks/bench_pypde.py")
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
    solver = "LOD split step" if cfg.solver_passes == 0 else "default (ADI + Jacobi)"
    return {
        "code": "tissue",
        "solver": solver,
        "solver_passes": cfg.solver_passes,
        "solver_smoothing_steps": cfg.solver_smoothing_steps,
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


def discretisation_floor(n: int) -> dict[str, Any]:
    """Each code's fully discrete steady state against the analytic one (float64)."""
    out = {}
    x = voxel_centres_um(n)
    for code, discrete in (("tissue", discrete_steady_tissue), ("py-pde", discrete_steady_pypde)):
        low, high = boundary_positions_um(code, n)
        exact = analytic_steady(x, low, high)
        out[code] = {
            "boundary_at_um": [low, high],
            **profile_errors(discrete(n), exact, solved_voxels(code, n)),
        }
    return out


def run_case(
    backend: Backend,
    n: int,
    dts: Sequence[float],
    lod_dts: Sequence[float],
    budget_s: float,
    pypde_operators: str = "numba",
    pypde_threads: int | None = None,
) -> dict[str, Any]:
    """All runs of one N^3 case: tissue's default solver at ``dts``, its LOD split step at
    ``lod_dts`` (min), then py-pde's explicit solver."""
    runs = []
    settings = [(dt, None) for dt in dts] + [(dt, 0) for dt in lod_dts]
    for dt, passes in settings:
        runs.append(run_tissue(backend, n, dt, passes, budget_s))
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
    return (
        f"{run['code']} {run['solver']} dt={run['dt_min']:.3g}: {reach}; "
        f"max error {_error(final['max_rel_error'])} at {final['sim_min']:.4g} min "
        f"({final['stopped']})"
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


def summary_tables(result: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, columns, rows): time to tolerance and final errors per run; the floors."""
    first, second = (f"{t:.1%}".replace(".0%", "%") for t in result["method"]["tolerances"])
    columns = ["N", "code", "solver", "dt (min)", f"steps to {first}", f"sim. min to {first}",
               f"wall s to {first}", f"steps / sim. min / wall s to {second}",
               "max rel. error at end", "L2 rel. error at end", "end"]  # fmt: skip
    rows, floor_rows = [], []
    for case in result["cases"]:
        if "runs" not in case:
            why = case.get("skipped") or case.get("error")
            rows.append([str(case["n"]), why or "?", *[""] * (len(columns) - 2)])
            continue
        for run in case["runs"]:
            tol1, tol2 = run["to_tolerance"]
            final = run["final"]
            end = "steady" if final["steady"] else final["stopped"]
            rows.append([
                str(case["n"]), run["code"], run["solver"], f"{run['dt_min']:.3g}",
                _int(tol1["steps"]), _num(tol1["sim_min"]), _num(tol1["wall_s"]),
                " / ".join((_int(tol2["steps"]), _num(tol2["sim_min"]), _num(tol2["wall_s"]))),
                _error(final["max_rel_error"]), _error(final["l2_rel_error"]),
                f"{end} at {final['sim_min']:.4g} min",
            ])  # fmt: skip
        for code, floor in case["discretisation_floor"].items():
            low, high = floor["boundary_at_um"]
            floor_rows.append(
                [
                    str(case["n"]),
                    code,
                    f"x = {low:g} and {high:g} um",
                    f"{floor['max_rel_error']:.2e}",
                    f"{floor['l2_rel_error']:.2e}",
                ]
            )
    return [
        ("Time to steady state (from c = 0) and error against the analytic steady state",
         columns, rows),
        ("Discretisation floor: each code's exact discrete steady state vs analytic",
         ["N", "code", "boundary value at", "max rel. error", "L2 rel. error"], floor_rows),
    ]  # fmt: skip


def _int(value: int | None) -> str:
    return "-" if value is None else str(value)


def _error(value: float | None) -> str:
    return "non-finite" if value is None else f"{value:.2e}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


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
        "--lod-dts",
        default=DEFAULT_LOD_DTS,
        help=f"tissue LOD split-step steps, min (default {DEFAULT_LOD_DTS})",
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
        dts, lod_dts = parse_dts(args.dts), parse_dts(args.lod_dts)
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
        return run_case(backend, n, dts, lod_dts, args.budget_s, pypde_threads=threads)

    result["cases"], all_ok = run_cases(
        backend, sizes, run_one, lambda n: BYTES_PER_GPU_VOXEL * n**3, "n"
    )
    return finish(result, args, all_ok)


if __name__ == "__main__":
    raise SystemExit(main())
