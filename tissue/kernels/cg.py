"""The conjugate-gradient loop's per-field scalars, one thread per field of the batch on a
GPU (the kernels of ``gpu_kernels/multigrid.cu`` that take (k,) arrays, k the fields still
iterating): :func:`cg_record`, an iteration's relative bound, the stopping test and what
the solver records of it (:class:`CgState`); :func:`cg_alpha` and :func:`cg_beta`, the step
and direction scalars. Each is a NumPy reference and a CUDA launcher with the same float32
and float64 operations in the same order, so the two give the same bits (NaN included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tissue.grid import F32
from tissue.kernels import on_device


@dataclass
class CgState:
    """What the solver records per field over a solve, on one backend: ``converged`` (F,)
    bool, ``history`` (max_iterations + 1, F) float32 (row i: the bound after iteration i),
    ``bound`` (F,) float32 and ``iterations`` (F,) int64 (the bound and iteration at which the
    field converged, or the last), and the stopping test's constants: a bound is capped at
    ``bound_max``, the target is ``reduction`` times the first bound but not below
    ``floor``."""

    converged: Any
    history: Any
    bound: Any
    iterations: Any
    bound_max: float
    reduction: float
    floor: float


def cg_record_numpy(
    error: np.ndarray,
    scale: np.ndarray,
    limit: np.ndarray,
    target: np.ndarray,
    index: np.ndarray,
    state: CgState,
    iteration: int,
    first: bool,
) -> np.ndarray:
    """One iteration's record of the k fields in the batch (fields ``index``, (k,) int64).

    The relative bound found: ``error / scale`` ((k,) float32 maxima of
    :func:`error_bounds`), where a field that is 0 everywhere (scale 0) has scale ``error``
    (bound 1, or 0 with no residual) and a bound above ``state.bound_max`` is that instead of
    an overflow. At the ``first`` iteration, ``target`` ((k,) float64, in place) becomes
    max(floor, min(``limit``, reduction x bound)). A field that had not converged records the
    bound in its ``state.history`` row and ``state.bound``, and the iteration in
    ``state.iterations``; ``state.converged`` becomes whether it has now (bound <= target),
    which is returned for the batch ((k,) bool)."""
    scale = np.where(scale > 0, scale, error)
    scale = np.maximum(scale, error * F32(1 / state.bound_max))
    found = error / np.where(scale > 0, scale, F32(1))
    if first:
        target[...] = np.maximum(
            state.floor, np.minimum(limit, state.reduction * found.astype(np.float64))
        )
    before = state.converged[index]
    now = before | (found.astype(np.float64) <= target)
    state.history[iteration, index] = np.where(before, state.history[iteration, index], found)
    state.bound[index] = np.where(before, state.bound[index], found)
    state.iterations[index] = np.where(before, state.iterations[index], iteration)
    state.converged[index] = now
    return now


def cg_alpha_numpy(now: np.ndarray, pq: np.ndarray, rz: np.ndarray) -> np.ndarray:
    """(k,) float32 step lengths: r.z / p.Ap (float64 each), 0 where ``now`` (converged) or
    where p.Ap is not positive."""
    return np.where(now, 0.0, np.where(pq > 0, rz / np.where(pq > 0, pq, 1.0), 0.0)).astype(
        np.float32
    )


def cg_beta_numpy(rz_new: np.ndarray, rz: np.ndarray) -> np.ndarray:
    """(k,) float32 direction weights: r.z new over old (float64 each), 0 where the old is
    not positive."""
    return np.where(rz > 0, rz_new / np.where(rz > 0, rz, 1.0), 0.0).astype(np.float32)


# --- CUDA launchers ------------------------------------------------------------------


def cg_record_cuda(
    error: Any,
    scale: Any,
    limit: Any,
    target: Any,
    index: Any,
    state: CgState,
    iteration: int,
    first: bool,
) -> Any:
    """CUDA twin of :func:`cg_record_numpy` (one thread per field in the batch)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    k = error.shape[0]
    n_fields = state.bound.shape[0]
    check_array("error", error, cupy.float32, shape=(k,))
    check_array("scale", scale, cupy.float32, shape=(k,))
    check_array("limit", limit, cupy.float64, shape=(k,))
    check_array("target", target, cupy.float64, shape=(k,))
    check_array("index", index, cupy.int64, shape=(k,))
    check_array("converged", state.converged, cupy.bool_, shape=(n_fields,))
    check_array("history", state.history, cupy.float32, ndim=2)
    check_array("bound", state.bound, cupy.float32, shape=(n_fields,))
    check_array("iterations", state.iterations, cupy.int64, shape=(n_fields,))
    now = cupy.empty(k, dtype=cupy.bool_)
    launch_1d(
        "multigrid.cu",
        "cg_record",
        k,
        (error, scale, limit, target, index, state.converged, state.history, state.bound,
         state.iterations, now, np.int64(iteration), np.int32(first), np.int32(n_fields),
         F32(1 / state.bound_max), np.float64(state.reduction), np.float64(state.floor),
         np.int32(k)),
    )  # fmt: skip
    return now


def cg_alpha_cuda(now: Any, pq: Any, rz: Any) -> Any:
    """CUDA twin of :func:`cg_alpha_numpy`."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    k = now.shape[0]
    check_array("now", now, cupy.bool_, shape=(k,))
    check_array("pq", pq, cupy.float64, shape=(k,))
    check_array("rz", rz, cupy.float64, shape=(k,))
    alpha = cupy.empty(k, dtype=cupy.float32)
    launch_1d("multigrid.cu", "cg_alpha", k, (now, pq, rz, alpha, np.int32(k)))
    return alpha


def cg_beta_cuda(rz_new: Any, rz: Any) -> Any:
    """CUDA twin of :func:`cg_beta_numpy`."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    k = rz.shape[0]
    check_array("rz_new", rz_new, cupy.float64, shape=(k,))
    check_array("rz", rz, cupy.float64, shape=(k,))
    beta = cupy.empty(k, dtype=cupy.float32)
    launch_1d("multigrid.cu", "cg_beta", k, (rz_new, rz, beta, np.int32(k)))
    return beta


# --- dispatch ------------------------------------------------------------------------


def cg_record(
    error: Any,
    scale: Any,
    limit: Any,
    target: Any,
    index: Any,
    state: CgState,
    iteration: int,
    first: bool,
) -> Any:
    """One iteration's record on the arrays' backend (see :func:`cg_record_numpy`)."""
    kernel = cg_record_cuda if on_device(error) else cg_record_numpy
    return kernel(error, scale, limit, target, index, state, iteration, first)


def cg_alpha(now: Any, pq: Any, rz: Any) -> Any:
    """Step lengths on the arrays' backend (see :func:`cg_alpha_numpy`)."""
    return (cg_alpha_cuda if on_device(pq) else cg_alpha_numpy)(now, pq, rz)


def cg_beta(rz_new: Any, rz: Any) -> Any:
    """Direction weights on the arrays' backend (see :func:`cg_beta_numpy`)."""
    return (cg_beta_cuda if on_device(rz) else cg_beta_numpy)(rz_new, rz)
