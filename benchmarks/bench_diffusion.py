"""Diffusion benchmark: the implicit field step's error and time against the exact step,
and one simulated minute against BioFVM's LOD solver at equal accuracy.

Sections (``--sections``; one JSON result, each section a list of rows):

- ``accuracy``: the built-in ``spheroid`` (its organ, 0.1 day in, so that cells consume) and
  the ``metastasis`` breast and lung blocks (a quarter of a day in, so that cells and blood
  act). For dt = 0.1, 1, 6 and 30 min: one step of every field of the organ from the same
  state (restored before each sample), seconds per step, CG iterations per field,
  voxel-updates/s (voxels x fields / s) and each field's error against the exact step
  (``benchmarks.oracles.exact_step``, a direct solve of the same discrete system).
- ``convergence``: cold-start iterations to 1e-6 and the mean reduction of the error bound
  per iteration on the metastasis lung and breast and on a plain box, at two sizes each.
- ``biofvm``: one simulated minute of oxygen with the cells' uptake held, against
  ``exact_evolution`` (the exact solution of the semi-discrete equation over the minute).
  Ours: the fewest equal steps (1, 2, 4, ...) within ``TOLERANCE`` of the range, timed.
  BioFVM: its LOD step (diffusion_decay_solver__constant_coefficients_LOD_3D, then each
  agent's uptake) at 0.01 min, 100 steps; its error from :func:`lod_run` (a float64 NumPy
  reimplementation of that algorithm, checked against BioFVM's own output), its time
  measured by running BioFVM itself (``benchmarks/biofvm/lod_driver.cpp``, built against a
  PhysiCell checkout named by ``PHYSICELL_DIR``). Cases: the spheroid's organ and a bigger
  box with a ball of consuming cells, each from a settled state and from a switch-on
  (uniform 38 mmHg when the cells start consuming).
- ``kernels``: each kernel of :mod:`tissue.kernels.multigrid`, one W-cycle and one step on a
  box of N^3 voxels, with estimated bytes per voxel and the fraction of the measured copy
  ceiling.
- ``gpu_box``: one field on a large box with a ball of consuming cells (512^3 on the GPU):
  seconds per step at dt = 1 and 6 min, iterations, voxel-updates/s, estimated bytes per
  step and the fraction of the copy ceiling.

The error of a field is max |ours - exact| beyond the float32 rounding of the values (4 ulp
of |exact|), over the exact field's range (its largest |value| where the range is 0).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    Column,
    Table,
    Timer,
    copy_ceiling,
    device_memory_free,
    device_slug,
    failure_of,
    finish,
    free_device_memory,
    load_average,
    make_parser,
    make_timer,
    ms,
    open_backend,
    parse_sizes,
    result_header,
    si,
    spread_ms,
    write_result,
)
from benchmarks.oracles import exact_evolution, exact_step, scipy_missing
from tissue.backend import Backend, get_backend, to_numpy
from tissue.cells import LIVE
from tissue.config import load_scenario, scenario_from_dict
from tissue.fields import FieldSolver
from tissue.kernels.diffusion import BARRIER, FIXED
from tissue.kernels.multigrid import (
    cg_direction,
    cg_step,
    defect,
    dot,
    error_bounds,
    jacobi,
    jacobi_first,
    operator,
    prolong_add,
    residual,
    restrict,
)
from tissue.organ import Contacts
from tissue.rules import cell_exchange
from tissue.simulation import Simulation
from tissue.solver import COARSE_SCALE, JACOBI_OMEGA, Hierarchy

FIELD = "oxygen"
ORGAN = "box"
SPACING_UM = 20.0
SECTIONS = ("accuracy", "convergence", "biofvm", "kernels", "gpu_box")
DEFAULT_SECTIONS = {
    "cpu": ("accuracy", "convergence", "biofvm", "kernels"),
    "gpu": ("gpu_box", "kernels", "convergence", "accuracy"),  # by priority: --budget-s
}
CASES = ("spheroid", "breast", "lung")
DTS_MIN = (0.1, 1.0, 6.0, 30.0)
SPHEROID_DAYS = 0.1  # cells consume by then
METASTASIS_DAYS = 0.25  # cells and blood act by then
FLOAT32_ROUNDING = 4 * 2.0**-24  # 4 ulp of a float32 value
DEFAULT_SIZES = {"cpu": [32, 64, 96], "gpu": [128, 256, 512]}  # the kernels' boxes
CONVERGENCE_SIZES = {"cpu": [24, 48], "gpu": [48, 96]}
CONVERGENCE_TOLERANCE = 1e-6
CONVERGENCE_DT_MIN = 6.0
BIOFVM_BOXES = {"cpu": [64], "gpu": []}  # sides of the bigger box of the BioFVM comparison
GPU_BOX_SIZES = {"cpu": [], "gpu": [512]}
GPU_BOX_DTS_MIN = (1.0, 6.0)
GPU_BALL_RADIUS_UM = 400.0  # ~8e4 consuming cells at any box size
BALL_FRACTION = 0.2  # the BioFVM box's ball radius, as a fraction of the box side
SETTLE_STEPS = 10  # a settled box: this many steps of SETTLE_DT_MIN from the initial value
SETTLE_DT_MIN = 6.0
GPU_BOX_SETTLE_STEPS = 3  # fewer on the large box (its first step also compiles the kernels)
PARITY_SIZE = 48  # the GPU runs also step a box of this side on the CPU and compare
PARITY_RADIUS_UM = 150.0
DEFAULT_WARMUP = {"cpu": 2, "gpu": 2}
DEFAULT_REPEATS = {"cpu": 20, "gpu": 10}
COPY_CEILING_BYTES = {"cpu": 256 << 20, "gpu": 1 << 30}
BYTES_PER_GPU_VOXEL = 400  # bytes per voxel of a one-field box case (NumPy's peak: 290)
MAX_STEP_REPEATS_VOXELS = 128**3 * 30  # fewer samples on large grids: voxels x repeats

# BioFVM comparison
TOLERANCE = 1e-3  # of the range: the accuracy at which one minute is compared
LOD_DT_MIN = 0.01  # BioFVM's (PhysiCell's) diffusion step
LOD_STEPS = 100  # one minute
LOD_CONVERGENCE_DTS_MIN = (0.01, 0.005, 0.0025)
MAX_STEPS_PER_MINUTE = 256  # ours: 1, 2, 4, ... steps, at most this many
BIOFVM_REPEATS = 5
BIOFVM_DIR = Path(__file__).resolve().parent / "biofvm"
DRIVER = BIOFVM_DIR / "build" / "lod_driver"
DRIVER_SOURCE = BIOFVM_DIR / "lod_driver.cpp"
BUILD_SCRIPT = BIOFVM_DIR / "build.sh"
DRIVER_AGREEMENT = 1e-9  # BioFVM's field vs lod_run's, relative to the largest value

# Estimated bytes per voxel each kernel moves through memory (float32 4 B, bool 1 B): every
# array element it reads or writes once; neighbour values come from cache. Kernels run per
# call on the voxels of the arrays they get (a level's or the finest).
KERNEL_BYTES = {
    "defect": 29,  # read free, kz, ky, kx, c, source, loss; write out
    "operator": 29,  # read free, wz, wy, wx, fixedw, mass, e; write out
    "residual": 33,  # operator + read r
    "jacobi": 37,  # residual + read diag
    "jacobi_first": 13,  # read free, diag, r; write out
    "restrict": 4.5,  # per fine voxel: read it, write 1/8 of a coarse voxel
    "prolong_add": 9.5,  # read e, free, 1/8 of a coarse voxel; write e
    "dot": 8,  # read a, b (the partial sums are few)
    "cg_step": 24,  # read x, r, p, q; write x, r
    "cg_direction": 12,  # read p, z; write p
    "error_bounds": 17,  # read r, mass, free, offset, x (the per-lane maxima are few)
    "finish_step": 9,  # read x, labels; write c
}
# Array expressions of a step outside the kernels, per voxel of the finest level and field
# (estimates, same rule). Per CG iteration (tissue.solver.solve): r copied into the cycle
# (8 B; the error bound and the x, r and p updates are kernels). Per step: the linear terms
# (stacking source and uptake 16, decay + uptake 12: 28; the cells' terms are added only in
# the voxels that hold cells, by the sparse deposit, so not per voxel), the masses (1 + dt
# loss 16, the masked copy 17), the finest diagonal (41), the zeroed change (4), field +
# change (12): 118 B. Copies on coarse levels are left out (under 1/8 of these).
ARRAY_BYTES_PER_ITERATION = 8
ARRAY_BYTES_PER_STEP = 118
BYTES_COUNTED = (
    "Estimate: every array element a kernel or array expression touches is read or written "
    "once from memory (float32 4 B, bool 1 B); neighbour values and coarse parents are "
    "assumed to hit cache. Kernel calls of a step or W-cycle are counted by wrapping the "
    "kernel functions tissue.solver and tissue.fields call, each with the voxels of its "
    "level (kernel_calls); array expressions outside the kernels add "
    f"{ARRAY_BYTES_PER_ITERATION} B per finest voxel per field and CG iteration and "
    f"{ARRAY_BYTES_PER_STEP} B per step (see ARRAY_BYTES_PER_ITERATION / _STEP). On the CPU "
    "the NumPy references pass over their temporaries several times, so their effective "
    "bandwidth understates the memory traffic."
)
# The kernels a step calls, by the module that calls them, and which argument's size is
# the call's voxels (all fields of the level together).
COUNTED = {
    "tissue.solver": {"jacobi": 1, "jacobi_first": 1, "residual": 1, "restrict": 0,
                      "prolong_add": 0, "operator": 1, "dot": 0, "cg_step": 0,
                      "cg_direction": 0, "error_bounds": 0},
    "tissue.fields": {"defect": 2, "finish_step": 1},
}  # fmt: skip
KERNELS = ("defect", "operator", "residual", "jacobi", "jacobi_first", "restrict",
           "prolong_add", "dot", "cg_step", "cg_direction", "error_bounds")  # fmt: skip


# --- scenarios ------------------------------------------------------------------------


def diffusion_scenario(n: int) -> dict[str, Any]:
    """Scenario dict: an n^3 box of 20 um voxels with one field (oxygen-like: D = 1e5
    um^2/min, decay 0.1/min, Dirichlet 38 on the faces, initial 10) and a point source of
    1e6 amount/min near the centre; the solver at the schema's default tolerance."""
    centre = n * SPACING_UM / 2 + SPACING_UM / 4  # off the voxel faces
    return {
        "name": f"bench-diffusion-{n}",
        "time_steps": {"diffusion_min": 1.0, "mechanics_min": 0.1, "phenotype_min": 6.0},
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


def ball_scenario(n: int, radius_um: float) -> dict[str, Any]:
    """Scenario dict: the spheroid's oxygen (D = 1e5 um^2/min, decay 0.1/min, 38 mmHg initial
    and on the faces) in an n^3 box of 20 um voxels, with a ball of still tumour cells
    (radius 8.4 um, uptake 10/min: the spheroid's) of ``radius_um`` at the centre."""
    centre = n * SPACING_UM / 2
    return {
        "name": f"bench-diffusion-ball-{n}",
        "time_steps": {"diffusion_min": 1.0, "mechanics_min": 0.1, "phenotype_min": 6.0},
        "organs": {
            ORGAN: {
                "shape": [n, n, n],
                "spacing_um": SPACING_UM,
                "geometry": {"kind": "box", "label": "stroma"},
            }
        },
        "fields": {
            FIELD: {
                "units": "mmHg",
                "diffusion_um2_per_min": 1.0e5,
                "decay_per_min": 0.1,
                "initial": 38.0,
                "boundary": "dirichlet",
                "boundary_value": 38.0,
            }
        },
        "cell_types": {
            "tumour": {
                "radius_um": 8.4,
                "repulsion_um_per_min": 0.0,
                "adhesion_um_per_min": 0.0,
                "secretion": {FIELD: {"uptake_rate_per_min": 10.0}},
            }
        },
        "initial_cells": [
            {
                "kind": "sphere",
                "organ": ORGAN,
                "type": "tumour",
                "center_um": [centre, centre, centre],
                "radius_um": radius_um,
            },
        ],
    }


def build(backend: Backend, data: dict[str, Any], seed: int = 0) -> Simulation:
    """A simulation of a scenario dict on ``backend``."""
    return Simulation(scenario_from_dict(data, "benchmarks/bench_diffusion.py"), backend, seed)


# --- states, errors, counting ---------------------------------------------------------


@dataclass
class OrganFields:
    """One organ of a simulation, as a diffusion step sees it: its fields and the cells'
    source and uptake (field -> :class:`~tissue.rules.CellDeposit`), held for every step
    here."""

    sim: Simulation
    name: str
    source: dict[str, Any] = field(init=False)
    uptake: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        organ = self.sim.organs[self.name]
        behave = self.sim.behaviours.bind(organ, self.sim.body, Contacts(organ, self.sim.types))
        self.source, self.uptake = cell_exchange(organ, self.sim.types, behave)

    @property
    def fields(self) -> FieldSolver:
        return self.sim.organs[self.name].fields

    @property
    def voxels(self) -> int:
        return self.sim.organs[self.name].grid.n_voxels

    def save(self) -> dict[str, Any]:
        """Copies of every field's values."""
        return {name: self.fields.values[name].copy() for name in self.fields.names}

    def restore(self, state: dict[str, Any]) -> None:
        """Put ``state`` (from :meth:`save`) back."""
        for name, values in state.items():
            self.fields.values[name][...] = values

    def step(self, dt_min: float) -> None:
        """One diffusion step of every field, as Simulation.step takes it."""
        self.fields.step(dt_min, self.source, self.uptake, self.sim.body)

    def terms(self, dt_min: float) -> tuple[Any, Any]:
        """The step's source S and loss (F, nz, ny, nx) float32 at the present state."""
        source, loss, _ = self.fields.linear_terms(
            np.float32(dt_min), self.source, self.uptake, self.sim.body
        )
        return source, loss


def error_of(ours: Any, exact: np.ndarray) -> float:
    """max |ours - exact| beyond FLOAT32_ROUNDING x |exact|, over the range of ``exact``
    (its largest |value| where the range is 0, 1 where it is 0 everywhere)."""
    span = float(exact.max() - exact.min()) or float(np.abs(exact).max()) or 1.0
    excess = np.abs(to_numpy(ours).astype(np.float64) - exact) - FLOAT32_ROUNDING * np.abs(exact)
    return max(float(excess.max()), 0.0) / span


@contextmanager
def counting() -> Iterator[Counter[tuple[str, int]]]:
    """Within the block, count the kernel calls tissue.solver and tissue.fields make, keyed
    by (kernel, voxels of the call)."""
    calls: Counter[tuple[str, int]] = Counter()
    patched = []
    for module_name, kernels in COUNTED.items():
        module = sys.modules[module_name]
        for name, argument in kernels.items():
            original = getattr(module, name)

            def counted(
                *args: Any, _name: str = name, _at: int = argument, _fn: Any = original
            ) -> Any:
                calls[(_name, int(args[_at].size))] += 1
                return _fn(*args)

            patched.append((module, name, original))
            setattr(module, name, counted)
    try:
        yield calls
    finally:
        for module, name, original in patched:
            setattr(module, name, original)


def kernel_bytes(calls: Counter[tuple[str, int]]) -> float:
    """Estimated bytes the counted kernel calls move (KERNEL_BYTES x voxels per call)."""
    return float(sum(KERNEL_BYTES[name] * voxels * n for (name, voxels), n in calls.items()))


def call_summary(calls: Counter[tuple[str, int]]) -> dict[str, int]:
    """Calls per kernel (all levels together)."""
    out: Counter[str] = Counter()
    for (name, _), n in calls.items():
        out[name] += n
    return dict(sorted(out.items()))


def step_bytes(
    calls: Counter[tuple[str, int]], iterations: Sequence[int], voxels: int
) -> dict[str, float]:
    """Estimated bytes of one step: its counted kernels, and the array expressions of each
    field's CG iterations and of the step (ARRAY_BYTES_PER_ITERATION / _STEP)."""
    kernels = kernel_bytes(calls)
    arrays = voxels * (
        ARRAY_BYTES_PER_ITERATION * sum(iterations) + ARRAY_BYTES_PER_STEP * len(iterations)
    )
    return {"kernels": kernels, "array_expressions": float(arrays), "total": kernels + arrays}


def rates(seconds: float, updates: int, nbytes: float, ceiling: float) -> dict[str, Any]:
    """Updates/s, effective bandwidth (B/s) and its fraction of the copy ceiling."""
    return {
        "voxel_updates_per_s": updates / seconds,
        "bytes_estimated": nbytes,
        "effective_bytes_per_s": nbytes / seconds,
        "fraction_of_copy_ceiling": nbytes / seconds / ceiling,
    }


def step_repeats(timer: Timer, voxels: int) -> int:
    """The timer's repeats, fewer on large grids (at least 3)."""
    return max(3, min(timer.repeats, MAX_STEP_REPEATS_VOXELS // max(voxels, 1)))


class Budget:
    """Wall seconds left to the run (None: no limit)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    def left(self) -> float:
        if self.seconds is None:
            return math.inf
        return self.seconds - (time.perf_counter() - self.start)

    def spent(self) -> bool:
        return self.left() <= 0


# --- the cases' simulations -----------------------------------------------------------


class Workbench:
    """The simulations the sections share, built once: the spheroid 0.1 day in, and the
    metastasis scenario a quarter of a day in (its lung ``lung_side``^3 if given)."""

    def __init__(self, backend: Backend, lung_side: int | None) -> None:
        self.backend = backend
        self.lung_side = lung_side
        self._sims: dict[str, Simulation] = {}

    def organ(self, case: str) -> OrganFields:
        """The organ of ``case`` (spheroid, breast, lung)."""
        if case == "spheroid":
            return OrganFields(self._sim("spheroid"), "tissue")
        return OrganFields(self._sim("metastasis"), case)

    def _sim(self, name: str) -> Simulation:
        if name not in self._sims:
            if name == "spheroid":
                sim = Simulation(load_scenario("spheroid"), self.backend, seed=1)
                sim.step(sim.ticks_for(SPHEROID_DAYS))
            else:
                changes = (
                    {} if self.lung_side is None else {"organs.lung.shape": [self.lung_side] * 3}
                )
                sim = Simulation(load_scenario("metastasis", changes), self.backend, seed=2)
                sim.step(sim.ticks_for(METASTASIS_DAYS))
            self._sims[name] = sim
        return self._sims[name]


# --- section: accuracy ----------------------------------------------------------------


def accuracy_rows(
    timer: Timer, organ: OrganFields, case: str, dts: Sequence[float]
) -> list[dict[str, Any]]:
    """One row per dt: the step of every field from the organ's state, timed, and each
    field's error against the exact step (SciPy; skipped without it)."""
    fields = organ.fields
    names = list(fields.names)
    state = organ.save()
    missing = scipy_missing()
    rows = []
    for dt in dts:
        exact: dict[str, np.ndarray] = {}
        if missing is None:
            source, loss = organ.terms(dt)
            exact = {
                name: exact_step(fields.operators[name], state[name], source[i], loss[i], dt)
                for i, name in enumerate(names)
            }
        timing = timer.time(
            lambda dt=dt: organ.step(dt),
            setup=lambda: organ.restore(state),
            repeats=step_repeats(timer, organ.voxels),
        )
        report = fields.report  # of the last sample: one step from ``state``
        assert report is not None
        stepped = {name: to_numpy(fields.values[name]).copy() for name in names}
        organ.restore(state)
        if not all(np.isfinite(v).all() for v in stepped.values()):
            raise RuntimeError(f"{case}, dt {dt}: a step gave a non-finite field")
        row: dict[str, Any] = {
            "case": case,
            "organ": organ.name,
            "dt_min": dt,
            "shape_zyx": list(fields.grid.shape_zyx),
            "voxels": organ.voxels,
            "fields": names,
            "step": {
                **timing.to_dict(),
                "voxel_updates_per_s": organ.voxels * len(names) / timing.median_s,
            },
            "iterations": dict(zip(names, report.iterations, strict=True)),
            "converged": dict(zip(names, report.converged, strict=True)),
        }
        if exact:
            errors = {name: error_of(stepped[name], exact[name]) for name in names}
            worst = max(errors, key=errors.__getitem__)
            row["exact"] = {"errors": errors, "max_error": errors[worst], "max_error_field": worst}
        else:
            row["exact"] = {"skipped": missing}
        rows.append(row)
        print(
            f"accuracy {case} dt={dt:g}: {timing.median_s * 1e3:.3g} ms/step, "
            f"max error {row['exact'].get('max_error', '-')}",
            flush=True,
        )
    return rows


# --- section: convergence -------------------------------------------------------------


def cold_start(organ: OrganFields) -> dict[str, Any]:
    """Zero every field of ``organ`` and solve one CONVERGENCE_DT_MIN step without cells
    (the sources switched on from nothing: no warm start): iterations and the mean reduction
    of the error bound per iteration of each field the step changed."""
    fields = organ.fields
    for name in fields.names:
        fields.values[name][...] = 0.0
    fields.step(CONVERGENCE_DT_MIN, None, None, organ.sim.body)
    report = fields.report
    assert report is not None
    out = {}
    for i, name in enumerate(fields.names):
        history = report.history[i]
        if history[0] <= 0:  # nothing to solve
            continue
        n = report.iterations[i]
        out[name] = {
            "iterations": n,
            "converged": report.converged[i],
            "start_bound": history[0],
            "final_bound": history[-1],
            "reduction_per_iteration": (history[-1] / history[0]) ** (1 / n) if n else None,
        }
    return out


def convergence_row(backend: Backend, case: str, side: int) -> dict[str, Any]:
    """Cold-start iterations on ``case`` (lung, breast: the metastasis scenario's block at
    side^3, a quarter of a day in, every field's tolerance 1e-6; box: the kernels' box)."""
    if case == "box":
        data = diffusion_scenario(side)
        data["fields"][FIELD]["solver_tolerance"] = CONVERGENCE_TOLERANCE
        organ = OrganFields(build(backend, data), ORGAN)
    else:
        scenario = load_scenario("metastasis")
        names = [n for n, f in scenario.fields.items() if f.organs is None or case in f.organs]
        changes: dict[str, Any] = {
            f"fields.{n}.solver_tolerance": CONVERGENCE_TOLERANCE for n in names
        }
        changes[f"organs.{case}.shape"] = [side] * 3
        sim = Simulation(load_scenario("metastasis", changes), backend, seed=4)
        sim.step(sim.ticks_for(METASTASIS_DAYS))
        organ = OrganFields(sim, case)
    t0 = time.perf_counter()
    fields = cold_start(organ)
    seconds = time.perf_counter() - t0
    if not fields:
        raise RuntimeError(f"{case} {side}^3: no field had anything to solve")
    rates_ = [f["reduction_per_iteration"] for f in fields.values() if f["reduction_per_iteration"]]
    return {
        "case": case,
        "side": side,
        "voxels": side**3,
        "dt_min": CONVERGENCE_DT_MIN,
        "tolerance": CONVERGENCE_TOLERANCE,
        "fields": fields,
        "max_iterations": max(f["iterations"] for f in fields.values()),
        "all_converged": all(f["converged"] for f in fields.values()),
        "worst_reduction_per_iteration": max(rates_) if rates_ else None,
        "host_seconds": seconds,
    }


# --- section: biofvm ------------------------------------------------------------------


def thomas_coefficients(n: int, c1: float, c2: float) -> tuple[np.ndarray, np.ndarray]:
    """BioFVM's precomputed Thomas factors of one axis: the denominators and the
    normalised upper diagonal of tridiag(-c1, 1 + 2 c1 + c2, -c1) with the end rows
    1 + c1 + c2 (no flux at the ends), c1 = dt D / dx^2, c2 = dt decay / 3."""
    denom = np.full(n, 1 + 2 * c1 + c2)
    denom[[0, -1]] = 1 + c1 + c2
    if n == 1:
        denom[0] = 1 + c2
    upper = np.full(n, -c1)
    upper[0] /= denom[0]
    for i in range(1, n):
        denom[i] += c1 * upper[i - 1]
        upper[i] /= denom[i]
    return denom, upper


def thomas_sweep(c: np.ndarray, axis: int, c1: float, denom: np.ndarray, upper: np.ndarray) -> None:
    """Solve every line of ``c`` (float64, in place) along ``axis`` with BioFVM's factors:
    forward c_i = (c_i + c1 c_{i-1}) / denom_i, back c_i -= upper_i c_{i+1}."""
    lines = np.moveaxis(c, axis, 0)
    lines[0] /= denom[0]
    for i in range(1, lines.shape[0]):
        lines[i] += c1 * lines[i - 1]
        lines[i] /= denom[i]
    for i in range(lines.shape[0] - 2, -1, -1):
        lines[i] -= upper[i] * lines[i + 1]


def lod_run(
    c_start: np.ndarray,
    steps: int,
    dt: float,
    diffusion: float,
    decay: float,
    spacing: float,
    fixed: np.ndarray,
    fixed_value: np.ndarray,
    agent_voxel: np.ndarray,
    agent_rate: np.ndarray,
) -> np.ndarray:
    """BioFVM's step, ``steps`` times, in float64: diffusion_decay_solver__constant_
    coefficients_LOD_3D (Dirichlet values written, Thomas sweep along x; written, along y;
    written, along z; written), then each agent's uptake in agent order, c_voxel /= 1 + dt
    (V_cell / V_voxel) U (BioFVM's simulate_cell_sources_and_sinks with no secretion).

    Args:
        c_start: (nz, ny, nx) start values.
        fixed, fixed_value: (nz, ny, nx) Dirichlet nodes and their values.
        agent_voxel: (A,) flat C-order voxel of each agent.
        agent_rate: (A,) (V_cell / V_voxel) U of each agent, 1/min.
    """
    c = np.array(c_start, dtype=np.float64)
    c1, c2 = dt * diffusion / spacing**2, dt * decay / 3
    factors = [thomas_coefficients(n, c1, c2) for n in c.shape]
    divisor = 1 + dt * np.asarray(agent_rate, dtype=np.float64)
    flat = c.reshape(-1)
    for _ in range(steps):
        for axis in (2, 1, 0):  # x, y, z
            np.copyto(c, fixed_value, where=fixed)
            thomas_sweep(c, axis, c1, *factors[axis])
        np.copyto(c, fixed_value, where=fixed)
        np.divide.at(flat, agent_voxel, divisor)
    return c


@dataclass
class Agents:
    """The live cells of an organ as BioFVM agents: position (A, 3) um, volume (A,) um^3,
    uptake rate (A,) 1/min, voxel (A,) flat index."""

    position_um: np.ndarray
    volume_um3: np.ndarray
    uptake_per_min: np.ndarray
    voxel: np.ndarray

    @classmethod
    def of(cls, organ: OrganFields) -> Agents:
        """The agents of the organ's live cells; checks that their uptake, deposited as
        the solver sees it, is the organ's cell uptake and that they secrete nothing."""
        o = organ.sim.organs[organ.name]
        types, cells = organ.sim.types, o.cells
        live = to_numpy(cells.state) == LIVE
        t = to_numpy(cells.type)[live]
        radius = to_numpy(types.of("radius_um", cells.type))[live].astype(np.float64)
        table = {k: to_numpy(v).astype(np.float64) for k, v in types.secretion[FIELD].items()}
        agents = cls(
            position_um=to_numpy(cells.position_um)[live].astype(np.float64),
            volume_um3=4.0 / 3.0 * math.pi * radius**3,
            uptake_per_min=table["S"][t] + table["U"][t],
            voxel=to_numpy(o.grid.flat_index(o.xp, cells.position_um))[live],
        )
        vox = o.grid.voxel_volume_um3
        deposited = np.bincount(agents.voxel, agents.rate(vox), o.grid.n_voxels)
        shape = o.grid.shape_zyx
        uptake = to_numpy(organ.uptake[FIELD].dense(shape)).astype(np.float64).ravel()
        if np.abs(deposited - uptake).max() > 1e-5 * max(uptake.max(), 1.0):
            raise RuntimeError("the agents' uptake differs from the cells' uptake")
        if FIELD in organ.source and to_numpy(organ.source[FIELD].dense(shape)).any():
            raise RuntimeError("the comparison takes cells that only take up oxygen")
        return agents

    def rate(self, voxel_volume_um3: float) -> np.ndarray:
        """(V_cell / V_voxel) U per agent, 1/min."""
        return self.volume_um3 / voxel_volume_um3 * self.uptake_per_min


@dataclass(frozen=True)
class LodProblem:
    """A field as BioFVM's LOD solver takes it: one diffusivity (um^2/min) and decay (1/min)
    on a uniform grid of ``spacing_um``, Dirichlet nodes ``fixed`` holding ``fixed_value``
    ((nz, ny, nx) bool and float64), no barriers, and uptake-only agents."""

    diffusion_um2_per_min: float
    decay_per_min: float
    spacing_um: float
    fixed: np.ndarray
    fixed_value: np.ndarray
    agents: Agents
    voxel_volume_um3: float

    @classmethod
    def of(cls, organ: OrganFields) -> LodProblem:
        """The organ's oxygen and live cells (raises where BioFVM's solver does not apply)."""
        fields = organ.fields
        cfg = fields.configs[FIELD]
        kind, value = (to_numpy(a) for a in fields.operators[FIELD].classes())
        spacing = set(fields.grid.spacing_xyz_um)
        if len(spacing) != 1 or (kind == BARRIER).any() or cfg.diffusion_by_label:
            raise RuntimeError("BioFVM's LOD solver takes one D on a uniform grid, no barriers")
        return cls(
            diffusion_um2_per_min=cfg.diffusion_um2_per_min,
            decay_per_min=cfg.decay_per_min,
            spacing_um=spacing.pop(),
            fixed=kind == FIXED,
            fixed_value=value.astype(np.float64),
            agents=Agents.of(organ),
            voxel_volume_um3=fields.grid.voxel_volume_um3,
        )

    def run(self, c_start: np.ndarray, steps: int, dt: float) -> np.ndarray:
        """:func:`lod_run` of this problem from ``c_start``."""
        return lod_run(
            c_start, steps, dt, self.diffusion_um2_per_min, self.decay_per_min,
            self.spacing_um, self.fixed, self.fixed_value, self.agents.voxel,
            self.agents.rate(self.voxel_volume_um3),
        )  # fmt: skip


def biofvm_driver() -> tuple[Path | None, str | None, str | None]:
    """The built BioFVM driver (built first when ``PHYSICELL_DIR`` is set and it is missing
    or older than its source), its build information, or why there is none."""
    physicell = os.environ.get("PHYSICELL_DIR")
    stale = not DRIVER.exists() or DRIVER.stat().st_mtime < DRIVER_SOURCE.stat().st_mtime
    if physicell and stale:
        print(f"building the BioFVM driver against {physicell} ...", flush=True)
        done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True)
        if done.returncode != 0:
            return None, None, f"build.sh failed: {done.stderr.strip()[-500:]}"
    if not DRIVER.exists():
        why = "no BioFVM driver: set PHYSICELL_DIR to a PhysiCell checkout (benchmarks/biofvm)"
        return None, None, why
    info = DRIVER.parent / "build-info.txt"
    return DRIVER, info.read_text().strip() if info.exists() else None, None


def run_driver(
    driver: Path,
    problem: LodProblem,
    c_start: np.ndarray,
    threads: int,
    repeats: int,
    warmup: int,
    field_out: bool = False,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """BioFVM's LOD_STEPS steps of LOD_DT_MIN from ``c_start`` (nz, ny, nx) on ``threads``
    OpenMP threads, timed by the driver (its JSON), and the field after them (float64,
    (nz, ny, nx)) if ``field_out``."""
    nz, ny, nx = c_start.shape
    outer = np.ones(c_start.shape, dtype=bool)
    outer[1:-1, 1:-1, 1:-1] = False
    values = problem.fixed_value[problem.fixed]
    if not (problem.fixed == outer).all() or np.ptp(values) != 0:
        raise RuntimeError("the driver takes Dirichlet nodes at one value on the outer faces")
    agents = problem.agents
    header = (nx, ny, nz, problem.spacing_um, problem.diffusion_um2_per_min,
              problem.decay_per_min, values[0])  # fmt: skip
    lines = [" ".join(f"{float(x):.17g}" for x in header)]
    for p, v, u in zip(agents.position_um, agents.volume_um3, agents.uptake_per_min, strict=True):
        lines.append(" ".join(f"{float(x):.17g}" for x in (*p, v, u)))
    with tempfile.TemporaryDirectory() as tmp:
        setup, initial, final = (Path(tmp) / f for f in ("setup.txt", "initial.f64", "final.f64"))
        setup.write_text("\n".join(lines) + "\n")
        np.ascontiguousarray(c_start, dtype="<f8").tofile(initial)
        options = {"--steps": LOD_STEPS, "--dt": LOD_DT_MIN, "--repeats": repeats,
                   "--warmup": warmup}  # fmt: skip
        command = [str(driver), str(setup), str(initial)]
        command += [str(x) for item in options.items() for x in item]
        if field_out:
            command += ["--field-out", str(final)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200)
        if done.returncode != 0:
            raise RuntimeError(f"lod_driver failed: {done.stderr.strip()[-500:]}")
        out = json.loads([x for x in done.stdout.splitlines() if x.startswith("{")][-1])
        field_values = np.fromfile(final, dtype="<f8").reshape(c_start.shape) if field_out else None
    return out, field_values


def minute_ours(
    timer: Timer, organ: OrganFields, state: dict[str, Any], reference: np.ndarray
) -> dict[str, Any]:
    """Ours over one minute: 1, 2, 4, ... equal steps until the error is within TOLERANCE
    (each count's error from one untimed run), then that count timed."""
    tried = []
    steps = 1
    while True:
        organ.restore(state)
        for _ in range(steps):
            organ.step(1.0 / steps)
        error = error_of(organ.fields.values[FIELD], reference)
        tried.append({"steps": steps, "dt_min": 1.0 / steps, "error": error})
        if error <= TOLERANCE or steps >= MAX_STEPS_PER_MINUTE:
            break
        steps *= 2

    def minute() -> None:
        for _ in range(steps):
            organ.step(1.0 / steps)

    timing = timer.time(
        minute,
        setup=lambda: organ.restore(state),
        repeats=min(timer.repeats, BIOFVM_REPEATS),
        warmup=min(timer.warmup, 1),  # the search above ran it already
    )
    organ.restore(state)
    return {
        "tried": tried,
        "steps": steps,
        "dt_min": 1.0 / steps,
        "error": tried[-1]["error"],
        "within_tolerance": tried[-1]["error"] <= TOLERANCE,
        "minute": timing.to_dict(),
    }


def lod_numpy(
    timer: Timer, problem: LodProblem, c_start: np.ndarray, reference: np.ndarray
) -> dict[str, Any]:
    """The NumPy reimplementation's error at LOD_DT_MIN (timed) and at the
    LOD_CONVERGENCE_DTS_MIN; its observed order and the dt it would need for TOLERANCE
    (extrapolated, not run). ``final``: its field after one minute at LOD_DT_MIN."""
    runs = {dt: problem.run(c_start, round(1 / dt), dt) for dt in LOD_CONVERGENCE_DTS_MIN}
    errors = [{"dt_min": dt, "steps": round(1 / dt), "error": error_of(values, reference)}
              for dt, values in runs.items()]  # fmt: skip
    timing = timer.time(lambda: problem.run(c_start, LOD_STEPS, LOD_DT_MIN),
                        repeats=min(timer.repeats, 3), warmup=0)  # fmt: skip
    a, b = errors[-2:]
    order = math.log(a["error"] / b["error"]) / math.log(a["dt_min"] / b["dt_min"])
    dt_needed = b["dt_min"] * (TOLERANCE / b["error"]) ** (1 / order) if order > 0 else None
    return {
        "label": "NumPy reimplementation of BioFVM's LOD (float64, one thread), not BioFVM",
        "final": runs[LOD_DT_MIN],
        "error": errors[0]["error"],
        "convergence": errors,
        "observed_order": order,
        "extrapolated_dt_for_tolerance_min": dt_needed,
        "extrapolated_steps_for_tolerance": math.ceil(1 / dt_needed) if dt_needed else None,
        "timing_100_steps": timing.to_dict(),
    }


def measure_biofvm(
    driver: Path,
    info: str | None,
    problem: LodProblem,
    c_start: np.ndarray,
    final: np.ndarray,
    threads: int,
    repeats: int,
) -> dict[str, Any]:
    """BioFVM's 100 LOD steps timed by the driver on 1 and on ``threads`` OpenMP threads
    (the faster is the figure compared: OpenMP threads that wait on busy cores can be much
    slower than one), and the driver's field on one thread against ``final`` (lod_run's)."""
    runs = [run_driver(driver, problem, c_start, n, repeats, 1)[0] for n in sorted({1, threads})]
    _, check = run_driver(driver, problem, c_start, 1, 1, 0, field_out=True)
    assert check is not None
    agreement = float(np.abs(check - final).max()) / float(np.abs(final).max())
    if agreement > DRIVER_AGREEMENT:
        raise RuntimeError(f"BioFVM and lod_run differ by {agreement:.3g} of the maximum")
    fastest = min(runs, key=lambda r: r["median_s"])
    return {
        "label": "BioFVM itself (benchmarks/biofvm/lod_driver.cpp), measured",
        "median_s": fastest["median_s"],
        "min_s": fastest["min_s"],
        "max_s": fastest["max_s"],
        "omp_threads": fastest["omp_threads"],
        "runs": runs,
        "build": info,
        "max_diff_vs_numpy_lod": agreement,
        "host_load_average": load_average(),
        "max_diff_measured_with": "OMP_NUM_THREADS=1 (uptake in agent order)",
    }


def biofvm_row(
    timer: Timer,
    organ: OrganFields,
    case: str,
    state_name: str,
    driver: tuple[Path | None, str | None, str | None],
    threads: int,
) -> dict[str, Any]:
    """One simulated minute from the organ's present state: the exact reference, ours at
    TOLERANCE, BioFVM's LOD (error from lod_run, time from the driver)."""
    fields = organ.fields
    state = organ.save()
    c_start = to_numpy(state[FIELD]).astype(np.float64)
    source, loss = organ.terms(1.0)
    index = fields.names.index(FIELD)
    t0 = time.perf_counter()
    reference = exact_evolution(fields.operators[FIELD], c_start, source[index], loss[index], 1.0)
    reference_s = time.perf_counter() - t0
    problem = LodProblem.of(organ)
    row: dict[str, Any] = {
        "case": case,
        "state": state_name,
        "shape_zyx": list(fields.grid.shape_zyx),
        "voxels": organ.voxels,
        "agents": len(problem.agents.voxel),
        "tolerance": TOLERANCE,
        "reference": {
            "method": "benchmarks.oracles.exact_evolution over 1 min, source and loss held",
            "min": float(reference.min()),
            "max": float(reference.max()),
            "host_seconds": reference_s,
        },
        "ours": minute_ours(timer, organ, state, reference),
    }
    lod = lod_numpy(timer, problem, c_start, reference)
    final = lod.pop("final")
    row["lod_numpy"] = lod
    path, info, why = driver
    if path is None:
        row["biofvm_measured"] = None
        row["biofvm_missing"] = why
    else:
        row["biofvm_measured"] = measure_biofvm(
            path, info, problem, c_start, final, threads, min(timer.repeats, BIOFVM_REPEATS)
        )
        ours_s = row["ours"]["minute"]["median_s"]
        biofvm_s = row["biofvm_measured"]["median_s"]
        row["ratio_biofvm_100_steps_to_ours"] = biofvm_s / ours_s
        steps = lod["extrapolated_steps_for_tolerance"]
        if steps is not None:
            row["extrapolated_ratio_at_tolerance"] = biofvm_s / LOD_STEPS * steps / ours_s
    organ.restore(state)
    print(
        f"biofvm {case} {state_name}: ours {row['ours']['steps']} step(s), error "
        f"{row['ours']['error']:.3g}, {row['ours']['minute']['median_s'] * 1e3:.3g} ms; "
        f"LOD error {lod['error']:.3g}; BioFVM "
        + (
            f"{row['biofvm_measured']['median_s'] * 1e3:.3g} ms"
            if row["biofvm_measured"]
            else "not measured"
        ),
        flush=True,
    )
    return row


def switch_on(organ: OrganFields) -> None:
    """Set the organ's oxygen to its boundary value at free voxels: the cells start
    consuming from a uniform field."""
    fields = organ.fields
    value = np.float32(fields.configs[FIELD].boundary_value)
    cls, _ = fields.operators[FIELD].classes()
    fields.values[FIELD][...] = fields.xp.where(cls == FIXED, fields.values[FIELD], value)


def settle(organ: OrganFields, steps: int = SETTLE_STEPS) -> None:
    """``steps`` steps of SETTLE_DT_MIN with the cells' uptake (a settled field)."""
    for _ in range(steps):
        organ.step(SETTLE_DT_MIN)


# --- section: kernels -----------------------------------------------------------------


def kernel_row(backend: Backend, timer: Timer, n: int, ceiling: float) -> dict[str, Any]:
    """Each multigrid kernel, one W-cycle and one step on the n^3 box (after 3 steps of
    1 min, so the field is not flat), at dt = 1 min."""
    xp = backend.xp
    organ = OrganFields(build(backend, diffusion_scenario(n)), ORGAN)
    for _ in range(3):
        organ.step(1.0)
    fields = organ.fields
    dt = np.float32(1.0)
    source, loss = organ.terms(1.0)
    hierarchy = Hierarchy([fields.operators[name] for name in fields.names])
    hierarchy.set_step(dt, np.float32(1) + dt * loss)
    level = hierarchy.levels[0]
    c = xp.stack([fields.values[name] for name in fields.names])
    r = xp.empty_like(c)
    defect(hierarchy.conductances, level.free, c, source, loss, dt, r)
    e = hierarchy.precondition(r, dt).copy()
    out = xp.empty_like(c)
    scratch = xp.empty_like(c)
    coarse = xp.empty(hierarchy.levels[1].shape, dtype=xp.float32)
    restrict(r, coarse)
    voxels = n**3

    def reset_scratch() -> None:
        scratch[...] = e

    x, residual_copy, direction = c.copy(), r.copy(), e.copy()
    half = xp.full(c.shape[0], 0.5, dtype=xp.float32)  # bounded under repeats: p = p/2 + r

    timed = {
        "defect": (
            lambda: defect(hierarchy.conductances, level.free, c, source, loss, dt, out),
            None,
        ),
        "operator": (lambda: operator(level, e, dt, out), None),
        "residual": (lambda: residual(level, r, e, dt, out), None),
        "jacobi": (lambda: jacobi(level, r, e, dt, JACOBI_OMEGA, out), None),
        "jacobi_first": (lambda: jacobi_first(level, r, JACOBI_OMEGA, out), None),
        "restrict": (lambda: restrict(r, coarse), None),
        "prolong_add": (
            lambda: prolong_add(scratch, coarse, level.free, COARSE_SCALE),
            reset_scratch,
        ),
        "dot": (lambda: dot(r, e), None),
        "cg_step": (lambda: cg_step(x, residual_copy, e, out, half), None),
        "cg_direction": (lambda: cg_direction(direction, r, half), None),
        "error_bounds": (lambda: error_bounds(r, level.mass, level.free, c, e), None),
    }
    kernels = {}
    for name, (fn, setup) in timed.items():
        timing = timer.time(fn, setup=setup, repeats=step_repeats(timer, voxels))
        kernels[name] = {
            **timing.to_dict(),
            **rates(timing.median_s, voxels, KERNEL_BYTES[name] * voxels, ceiling),
        }
    with counting() as cycle_calls:
        hierarchy.precondition(r, dt)
    cycle = timer.time(lambda: hierarchy.precondition(r, dt), repeats=step_repeats(timer, voxels))
    state = organ.save()
    with counting() as calls:
        organ.step(1.0)
    report = fields.report
    assert report is not None
    step = timer.time(
        lambda: organ.step(1.0),
        setup=lambda: organ.restore(state),
        repeats=step_repeats(timer, voxels),
    )
    organ.restore(state)
    nbytes = step_bytes(calls, report.iterations, voxels)
    return {
        "n": n,
        "voxels": voxels,
        "levels": len(hierarchy.levels),
        "kernels": kernels,
        "w_cycle": {
            **cycle.to_dict(),
            **rates(cycle.median_s, voxels, kernel_bytes(cycle_calls), ceiling),
            "kernel_calls": call_summary(cycle_calls),
        },
        "step": {
            **step.to_dict(),
            **rates(step.median_s, voxels, nbytes["total"], ceiling),
            "iterations": report.iterations,
            "bytes": nbytes,
            "kernel_calls": call_summary(calls),
        },
    }


# --- section: gpu box -----------------------------------------------------------------


def gpu_box_rows(
    backend: Backend, timer: Timer, n: int, ceiling: float, budget: Budget, emit: Callable
) -> list[dict[str, Any]]:
    """One field on the n^3 box with a ball of consuming cells (GPU_BALL_RADIUS_UM) after
    GPU_BOX_SETTLE_STEPS steps of SETTLE_DT_MIN, one row per dt of GPU_BOX_DTS_MIN: seconds
    per step, iterations, voxel-updates/s and estimated bytes per step. Each row goes to
    ``emit`` as soon as it is measured; returns [] (nothing more to add)."""
    organ = OrganFields(build(backend, ball_scenario(n, GPU_BALL_RADIUS_UM)), ORGAN)
    settle(organ, GPU_BOX_SETTLE_STEPS)
    state = organ.save()
    for dt in GPU_BOX_DTS_MIN:
        if budget.spent():
            emit({"n": n, "dt_min": dt, "skipped": "time budget spent"})
            continue
        with counting() as calls:
            backend.synchronize()
            t0 = time.perf_counter()
            organ.step(dt)
            backend.synchronize()
            once = time.perf_counter() - t0
        report = organ.fields.report
        assert report is not None
        stepped = to_numpy(organ.fields.values[FIELD]).copy()
        organ.restore(state)
        if not np.isfinite(stepped).all() or not report.converged[0]:
            raise RuntimeError(f"n={n}, dt {dt}: the step did not converge to a finite field")
        repeats = int(max(1, min(timer.repeats, 3, budget.left() * 0.8 // max(once, 1e-9))))
        timing = timer.time(
            lambda dt=dt: organ.step(dt),
            setup=lambda: organ.restore(state),
            repeats=repeats,
            warmup=0,
        )
        organ.restore(state)
        nbytes = step_bytes(calls, report.iterations, n**3)
        iterations = report.iterations[0]
        row = {
            "n": n,
            "voxels": n**3,
            "cells": organ.sim.organs[ORGAN].cells.n,
            "dt_min": dt,
            "step": {**timing.to_dict(), **rates(timing.median_s, n**3, nbytes["total"], ceiling)},
            "iterations": iterations,
            "seconds_per_iteration": timing.median_s / max(iterations, 1),
            "bytes_per_step": nbytes,
            "bytes_per_iteration": nbytes["total"] / max(iterations, 1),
            "kernel_calls": call_summary(calls),
            "check": {"min": float(stepped.min()), "max": float(stepped.max())},
        }
        emit(row)
        print(
            f"gpu_box n={n} dt={dt:g}: {timing.median_s * 1e3:.3g} ms/step, {iterations} "
            "iterations",
            flush=True,
        )
    return []


def parity_vs_cpu(backend: Backend, n: int = PARITY_SIZE) -> dict[str, Any]:
    """The n^3 ball box stepped GPU_BOX_SETTLE_STEPS times on ``backend`` and on the CPU
    from the same start: max |difference| (the kernels are written to give the same bits)."""
    fields = []
    for b in (backend, get_backend("cpu")):
        organ = OrganFields(build(b, ball_scenario(n, PARITY_RADIUS_UM)), ORGAN)
        settle(organ, GPU_BOX_SETTLE_STEPS)
        fields.append(to_numpy(organ.fields.values[FIELD]).astype(np.float64))
        del organ
    free_device_memory(backend)
    diff = np.abs(fields[0] - fields[1])
    return {
        "n": n,
        "steps": GPU_BOX_SETTLE_STEPS,
        "dt_min": SETTLE_DT_MIN,
        "max_abs_diff": float(diff.max()),
        "bit_identical": bool((diff == 0).all()),
    }


# --- the run --------------------------------------------------------------------------


@dataclass
class Run:
    """A run's settings, result and writer."""

    backend: Backend
    timer: Timer
    args: Any
    result: dict[str, Any]
    budget: Budget
    ok: bool = True

    def write(self) -> None:
        """Write the result so far (unless --no-write)."""
        if not self.args.no_write:
            write_result(self.result, self.args.out_dir)

    def case(self, section: str, label: str, fn: Callable[[], Any], need_bytes: int = 0) -> None:
        """Run ``fn`` (a row or list of rows) into ``section``; skips (budget, memory, out
        of memory) and errors become rows; the result is written after each case."""
        rows = self.result.setdefault(section, [])
        failure: tuple[str, str] | None = None
        free = device_memory_free(self.backend)
        if self.budget.spent():
            failure = ("skipped", "time budget spent")
        elif free is not None and need_bytes > 0.8 * free:
            failure = ("skipped", f"needs ~{need_bytes / 1e9:.1f} GB, {free / 1e9:.1f} GB free")
        else:
            try:
                out = fn()
                rows.extend(out if isinstance(out, list) else [out])
            except Exception as error:
                failure = failure_of(error)
        free_device_memory(self.backend)
        if failure is not None:
            print(f"{section} {label}: {failure[0]}: {failure[1]}", flush=True)
            rows.append({"case": label, failure[0]: failure[1]})
            self.ok = self.ok and failure[0] == "skipped"
        self.write()


def run_accuracy(run: Run, bench: Workbench) -> None:
    for case in run.args.cases:
        run.case(
            "accuracy",
            case,
            lambda case=case: accuracy_rows(run.timer, bench.organ(case), case, run.args.dts),
        )


def run_convergence(run: Run) -> None:
    for case in ("lung", "breast", "box"):
        for side in run.args.convergence_sizes:
            run.case(
                "convergence",
                f"{case}-{side}",
                lambda case=case, side=side: convergence_row(run.backend, case, side),
            )


def run_biofvm(run: Run, bench: Workbench) -> None:
    if run.backend.is_gpu:
        run.result["biofvm"] = [{"case": "all", "skipped": "CPU only (BioFVM runs on the CPU)"}]
        return
    missing = scipy_missing()
    if missing:
        run.result["biofvm"] = [{"case": "all", "skipped": missing}]
        return
    driver = biofvm_driver()
    threads = int(os.environ.get("OMP_NUM_THREADS") or run.result["device"]["usable_cores"] or 1)
    run.result["biofvm_settings"] = {
        "tolerance": TOLERANCE,
        "lod_dt_min": LOD_DT_MIN,
        "lod_steps": LOD_STEPS,
        "omp_threads": threads,
        "driver": str(DRIVER.relative_to(BIOFVM_DIR.parent.parent)) if driver[0] else None,
        "driver_missing": driver[2],
    }

    def spheroid(state: str) -> dict[str, Any]:
        organ = bench.organ("spheroid")
        saved = organ.save()
        try:
            if state == "switch-on":
                switch_on(organ)
            return biofvm_row(run.timer, organ, "spheroid", state, driver, threads)
        finally:
            organ.restore(saved)

    def box(n: int, state: str) -> dict[str, Any]:
        organ = OrganFields(
            build(run.backend, ball_scenario(n, BALL_FRACTION * n * SPACING_UM)), ORGAN
        )
        if state == "settled":
            settle(organ)
        return biofvm_row(run.timer, organ, f"box-{n}", state, driver, threads)

    for state in ("settled", "switch-on"):
        run.case("biofvm", f"spheroid {state}", lambda state=state: spheroid(state))
    for n in run.args.biofvm_boxes:
        for state in ("settled", "switch-on"):
            run.case("biofvm", f"box-{n} {state}", lambda n=n, state=state: box(n, state))
    measured = [
        {key: row.get(key) for key in ("case", "state", "shape_zyx", "agents", "biofvm_measured",
                                       "lod_numpy", "ours", "ratio_biofvm_100_steps_to_ours")}
        for row in run.result["biofvm"]
        if row.get("biofvm_measured")
    ]  # fmt: skip
    if measured and not run.args.no_write:  # BioFVM's own numbers, for the README to quote
        out = {key: run.result[key] for key in ("device", "git", "date_utc")}
        out.update(benchmark="biofvm-lod", settings=run.result["biofvm_settings"], cases=measured)
        folder = run.args.out_dir / "biofvm"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"lod-{device_slug(run.result['device'])}.json"
        path.write_text(json.dumps(out, indent=2, allow_nan=False) + "\n")


def run_kernels(run: Run, ceiling: float) -> None:
    for n in run.args.sizes:
        run.case(
            "kernels",
            f"n={n}",
            lambda n=n: kernel_row(run.backend, run.timer, n, ceiling),
            need_bytes=3 * BYTES_PER_GPU_VOXEL * n**3 // 2,  # a second hierarchy
        )


def run_gpu_box(run: Run, ceiling: float) -> None:
    rows = run.result.setdefault("gpu_box", [])

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        run.write()

    for n in run.args.gpu_box_sizes:
        run.case(
            "gpu_box",
            f"n={n}",
            lambda n=n: gpu_box_rows(run.backend, run.timer, n, ceiling, run.budget, emit),
            need_bytes=BYTES_PER_GPU_VOXEL * n**3,
        )


# --- tables ---------------------------------------------------------------------------


def error_cell(row: dict[str, Any]) -> str:
    """``max error (field)`` or why there is none."""
    exact = row.get("exact", {})
    if "skipped" in exact:
        return "(no SciPy)"
    return f"{exact['max_error']:.2g} ({exact['max_error_field']})"


def summary_tables(result: dict[str, Any]) -> list[Table]:
    """One table per section that ran."""
    tables = []
    if result.get("accuracy"):
        columns = [
            Column("case", "case"),
            Column("dt (min)", "dt_min", "{:g}"),
            Column("voxels x fields", lambda r: f"{r['voxels']:,} x {len(r['fields'])}"),
            Column("ms/step [min-max]", "step", spread_ms),
            Column("voxel-updates/s", "step.voxel_updates_per_s", si),
            Column("CG iterations (max)", lambda r: max(r["iterations"].values())),
            Column("max error vs exact step (field)", error_cell),
        ]
        tables.append(
            Table(
                "One step of every field of the organ, against the exact step",
                columns,
                result["accuracy"],
            )
        )
    if result.get("convergence"):
        columns = [
            Column("case", "case"),
            Column("side", "side"),
            Column("fields solved", lambda r: len(r["fields"])),
            Column("iterations to 1e-6 (max)", "max_iterations"),
            Column("worst reduction / iteration", "worst_reduction_per_iteration", "{:.3f}"),
            Column("all converged", "all_converged"),
        ]
        tables.append(Table("Cold start, one 6-min step", columns, result["convergence"]))
    if result.get("biofvm"):
        columns = [
            Column("case", "case"),
            Column("state", "state"),
            Column("voxels / agents", lambda r: f"{r['voxels']:,} / {r['agents']:,}"),
            Column(
                "ours: steps, error", lambda r: f"{r['ours']['steps']}, {r['ours']['error']:.2g}"
            ),
            Column("ours ms / sim. min", "ours.minute", spread_ms),
            Column(
                "BioFVM 100 LOD steps ms (measured)",
                "biofvm_measured",
                lambda m: f"{ms(m['median_s'])} [{ms(m['min_s'])}-{ms(m['max_s'])}]",
                "not run",
            ),
            Column("LOD error at 0.01 min", "lod_numpy.error", "{:.2g}"),
            Column("BioFVM / ours", "ratio_biofvm_100_steps_to_ours", "{:.3g}"),
            Column(
                "LOD steps for 1e-3 (extrap.)", "lod_numpy.extrapolated_steps_for_tolerance", "{:,}"
            ),
            Column("NumPy LOD ms (not BioFVM)", "lod_numpy.timing_100_steps.median_s", ms),
        ]
        tables.append(
            Table(
                "One simulated minute of oxygen, against its exact evolution",
                columns,
                result["biofvm"],
                lead=2,
            )
        )
    if result.get("kernels"):

        def share(kernel: dict[str, Any]) -> str:
            return f"{ms(kernel['median_s'])} ({100 * kernel['fraction_of_copy_ceiling']:.0f}%)"

        columns = [
            Column("N", lambda r: r.get("n", r.get("case"))),
            *(Column(f"{name} ms (% ceil.)", f"kernels.{name}", share) for name in KERNELS),
            Column("W-cycle ms (% ceil.)", "w_cycle", share),
            Column("step ms (% ceil.)", "step", share),
            Column("step iterations", "step.iterations", lambda v: ",".join(map(str, v))),
            Column("step voxel-updates/s", "step.voxel_updates_per_s", si),
        ]
        tables.append(
            Table(
                "Kernels on an N^3 box (dt 1 min), median ms per call", columns, result["kernels"]
            )
        )
    if result.get("gpu_box"):
        columns = [
            Column("N", lambda r: r.get("n", r.get("case"))),
            Column("dt (min)", "dt_min", "{:g}"),
            Column("cells", "cells", "{:,}"),
            Column("ms/step [min-max]", "step", spread_ms),
            Column("iterations", "iterations"),
            Column("voxel-updates/s", "step.voxel_updates_per_s", si),
            Column(
                "B/voxel/iteration (est.)",
                lambda r: r["bytes_per_iteration"] / r["voxels"],
                "{:.0f}",
            ),
            Column(
                "% of copy ceiling", lambda r: 100 * r["step"]["fraction_of_copy_ceiling"], "{:.1f}"
            ),
        ]
        tables.append(
            Table(
                "One field on a large box with a ball of consuming cells",
                columns,
                result["gpu_box"],
                lead=2,
            )
        )
    return tables


def summary_notes(result: dict[str, Any]) -> list[str]:
    """Lines under the tables: how errors are measured, the BioFVM labels, the ceiling."""
    notes = [
        "Error: max |ours - exact| beyond 4 float32 ulp of |exact|, over the exact field's "
        "range. Accuracy cases: spheroid 0.1 day in; breast and lung (metastasis) a quarter "
        "day in; each step from the same state."
    ]
    settings = result.get("biofvm_settings")
    if settings:
        notes.append(
            f"BioFVM: ours = the fewest equal steps within {settings['tolerance']:g} of the "
            "range over one minute; BioFVM = 100 LOD steps of 0.01 min (its diffusion solver "
            "then its agents' uptake), timed by running BioFVM on 1 and "
            f"{settings['omp_threads']} OpenMP threads, the faster shown; its error from a "
            "float64 NumPy "
            "reimplementation that matches BioFVM's output (max_diff_vs_numpy_lod in the "
            "JSON). 'LOD steps for 1e-3' extrapolates the reimplementation's observed order; "
            "not run. Settled: the spheroid 0.1 day in, the box after 60 min of 6-min steps; "
            "switch-on: uniform 38 mmHg when the cells start consuming."
        )
        if settings.get("driver_missing"):
            notes.append(f"BioFVM not measured: {settings['driver_missing']}.")
    parity = result.get("parity_vs_cpu")
    if parity and "error" in parity:
        notes.append(f"GPU vs CPU check failed: {parity['error']}")
    elif parity:
        notes.append(
            f"GPU vs CPU, {parity['n']}^3 ball box after {parity['steps']} steps: max |diff| "
            f"{parity['max_abs_diff']:.3g} (bit-identical: {parity['bit_identical']})."
        )
    kernels = [(name, k) for row in result.get("kernels", []) for name, k in
               row.get("kernels", {}).items()]  # fmt: skip
    cached = sorted({name for name, k in kernels if k["fraction_of_copy_ceiling"] > 1})
    if cached:
        notes.append(
            f"Over 100% of the ceiling ({', '.join(cached)}): the arrays it reads fit in the "
            "cache at these sizes; the ceiling is a copy far larger than the cache."
        )
    ceiling = result.get("copy_ceiling")
    if ceiling:
        notes.append(
            f"Copy ceiling {ceiling['bytes_per_s'] / 1e9:.3g} GB/s (read + write, "
            f"{ceiling['bytes_copied'] >> 20} MiB copy, {result['backend']}); bytes per "
            "voxel are estimates (JSON `bytes_per_voxel`)."
        )
    return notes


def parse_floats(text: str) -> list[float]:
    """``"0.1,1,6"`` -> [0.1, 1.0, 6.0]."""
    return [float(part) for part in text.split(",") if part.strip()]


def parse_names(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    """A parser of comma-separated names out of ``allowed``."""

    def parse(text: str) -> list[str]:
        names = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(allowed)}")
        return names

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its JSON; returns the exit code."""
    parser = make_parser(__doc__.splitlines()[0], "kernel box sizes N (N^3 voxels), e.g. 64,128")
    parser.add_argument(
        "--sections",
        type=parse_names(SECTIONS),
        default=None,
        help=f"comma-separated, of {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--cases",
        type=parse_names(CASES),
        default=list(CASES),
        help="accuracy cases (spheroid,breast,lung)",
    )
    parser.add_argument(
        "--dts", type=parse_floats, default=list(DTS_MIN), help="accuracy steps in min (0.1,1,6,30)"
    )
    parser.add_argument(
        "--lung-side",
        type=int,
        default=None,
        help="metastasis lung block side in voxels (default: the scenario's)",
    )
    parser.add_argument("--convergence-sizes", type=parse_sizes, default=None)
    parser.add_argument(
        "--biofvm-boxes",
        type=lambda t: parse_sizes(t) if t.strip() else [],
        default=None,
        help="sides of the bigger BioFVM boxes ('' for none)",
    )
    parser.add_argument(
        "--gpu-box-sizes",
        type=lambda t: parse_sizes(t) if t.strip() else [],
        default=None,
        help="gpu_box sides (default 512 on the GPU, none on the CPU)",
    )
    parser.add_argument(
        "--budget-s", type=float, default=None, help="stop starting cases after this many seconds"
    )
    args = parser.parse_args(argv)
    backend = open_backend(args.backend)
    name = backend.name
    args.sizes = args.sizes or DEFAULT_SIZES[name]
    args.convergence_sizes = args.convergence_sizes or CONVERGENCE_SIZES[name]
    if args.biofvm_boxes is None:
        args.biofvm_boxes = BIOFVM_BOXES[name]
    if args.gpu_box_sizes is None:
        args.gpu_box_sizes = GPU_BOX_SIZES[name]
    sections = args.sections or list(DEFAULT_SECTIONS[name])
    if "gpu_box" in sections and not args.gpu_box_sizes:
        sections.remove("gpu_box")
    timer = make_timer(backend, args, DEFAULT_WARMUP, DEFAULT_REPEATS)
    result = result_header("diffusion", backend, timer)
    result["settings"] = {
        "sections": sections,
        "cases": args.cases,
        "dts_min": args.dts,
        "lung_side": args.lung_side,
        "kernel_sizes": args.sizes,
        "convergence_sizes": args.convergence_sizes,
        "biofvm_boxes": args.biofvm_boxes,
        "gpu_box_sizes": args.gpu_box_sizes,
        "budget_s": args.budget_s,
        "scenario_example": diffusion_scenario(args.sizes[0]),
    }
    result["bytes_per_voxel"] = {
        "kernels": KERNEL_BYTES,
        "array_expressions_per_iteration": ARRAY_BYTES_PER_ITERATION,
        "array_expressions_per_step": ARRAY_BYTES_PER_STEP,
        "counted": BYTES_COUNTED,
    }
    run = Run(backend, timer, args, result, Budget(args.budget_s))
    ceiling = 0.0
    if {"kernels", "gpu_box"} & set(sections):
        result["copy_ceiling"] = copy_ceiling(backend, timer, COPY_CEILING_BYTES[name])
        ceiling = result["copy_ceiling"]["bytes_per_s"]
    bench = Workbench(backend, args.lung_side)
    for section in sections:
        print(f"== {section}", flush=True)
        if section == "accuracy":
            run_accuracy(run, bench)
        elif section == "convergence":
            run_convergence(run)
        elif section == "biofvm":
            run_biofvm(run, bench)
        elif section == "kernels":
            run_kernels(run, ceiling)
        else:
            run_gpu_box(run, ceiling)
    if backend.is_gpu and not run.budget.spent():
        try:
            result["parity_vs_cpu"] = parity_vs_cpu(backend)
        except Exception as error:  # keep the timings; report the failed check
            traceback.print_exc()
            result["parity_vs_cpu"] = {"error": f"{type(error).__name__}: {error}"}
            run.ok = False
    return finish(result, args, run.ok)


if __name__ == "__main__":
    sys.exit(main())
