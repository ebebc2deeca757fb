"""Diffusion-decay-source step on a labelled grid: backward Euler, solved by ADI + Jacobi.

For a field c with linear operator A c = div(D grad c) - (decay + uptake) c and source S,
a step of length dt solves the backward-Euler system

    M x = c_old + dt S,    M = I - dt A,

by a stationary iteration started at x = c_old. Each *pass* applies

    x += P^-1 r,   P = (I - dt A_p)(I - dt A_z)(I - dt A_y)(I - dt A_x),   r = c_old + dt S - M x

(Douglas-Rachford ADI; A_p is the pointwise loss, A_z, A_y, A_x the 1-D diffusion operators,
each inverted by a Thomas sweep); between consecutive passes, ``smoothing_steps`` damped-Jacobi
steps x += omega r / diag(M). One pass is the classic Douglas scheme. Every factor is implicit,
so any dt is stable, and the iteration's fixed point is the discrete steady state at any dt.
ADI handles smooth error, Jacobi the error that varies voxel to voxel in several directions,
which ADI damps slowly when dt D / dx^2 is large. Starting with ADI keeps a uniform field
uniform; ending with ADI keeps the total exact in a closed domain without losses (the sweeps
preserve sums).

Voxels are *free*, *fixed* (Dirichlet: a label's fixed value, or the outer layer of a
Dirichlet domain face) or *barrier* (no flux, hold 0). The face diffusivity between two
voxels is the harmonic mean of theirs, 0 next to a barrier or outside the grid.

The CUDA kernels (``gpu_kernels/diffusion.cu``) compute classes and coefficients on the fly
from the uint8 labels and 256-entry tables; the NumPy versions cache the same per-voxel
values once per operator. Both evaluate the same float32 expressions in the same order (the
kernels are compiled without FMA contraction), so they give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tissue.grid import F32
from tissue.kernels import array_module, on_device

FREE, FIXED, BARRIER = 0, 1, 2


@dataclass
class DiffusionOperator:
    """The discretisation of one field on one organ.

    Attributes:
        labels: (nz, ny, nx) uint8 label volume (backend array).
        diffusivity: (256,) float32 um^2/min per label.
        kind: (256,) uint8 FREE, FIXED or BARRIER per label.
        fixed: (256,) float32 fixed value per label.
        face_value: (6,) float32 Dirichlet values of the faces z-, z+, y-, y+, x-, x+ (NaN:
            no-flux), on the backend; ``face_value_host`` is the NumPy copy.
        decay_per_min: first-order decay (1/min).
        inv_spacing2_zyx: (3,) float32 1/spacing^2 (1/um^2) per array axis.
    """

    labels: Any
    diffusivity: Any
    kind: Any
    fixed: Any
    face_value: Any
    face_value_host: np.ndarray
    decay_per_min: float
    inv_spacing2_zyx: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def classes(self) -> tuple[Any, Any]:
        """Per-voxel class (uint8) and fixed value (float32), computed once."""
        if "classes" not in self._cache:
            self._cache["classes"] = voxel_classes(
                self.labels, self.kind, self.fixed, self.face_value_host
            )
        return self._cache["classes"]

    def face_diffusivity(self, axis: int) -> Any:
        """Diffusivity of the faces between neighbours along ``axis``: shape of the grid
        with that axis one shorter (face i joins voxels i and i + 1), computed once."""
        key = f"faces{axis}"
        if key not in self._cache:
            cls, _ = self.classes()
            diff = self.diffusivity[self.labels]
            lo, hi = _neighbour_slices(axis)
            dface = _face_diffusivity(diff[lo], diff[hi])
            dface[(cls[lo] == BARRIER) | (cls[hi] == BARRIER)] = F32(0)
            self._cache[key] = dface
        return self._cache[key]


def voxel_classes(
    labels: Any, kind_table: Any, fixed_table: Any, face_value_host: np.ndarray
) -> tuple[Any, Any]:
    """Per-voxel class (uint8: FREE, FIXED, BARRIER) and fixed value (float32), any backend.

    Barrier labels stay barriers; free voxels in the outer layer of a Dirichlet face become
    fixed at the face's value (z faces first, then y, then x).
    """
    xp = array_module(labels)
    cls = kind_table[labels]
    value = fixed_table[labels]
    for face in range(6):
        v = face_value_host[face]
        if np.isnan(v):
            continue
        axis, upper = face // 2, face % 2  # table order z-, z+, y-, y+, x-, x+
        index: list[Any] = [slice(None)] * 3
        index[axis] = -1 if upper else 0
        slab = tuple(index)
        free = cls[slab] == FREE
        value[slab] = xp.where(free, xp.float32(v), value[slab])
        cls[slab] = xp.where(free, xp.uint8(FIXED), cls[slab])
    return cls, value


def _face_diffusivity(dp: Any, dq: Any) -> Any:
    """Harmonic mean 2 dp dq / (dp + dq), 0 where both are 0 (float32, kernel order)."""
    xp = array_module(dp)
    s = dp + dq
    positive = s > F32(0)
    return xp.where(positive, (F32(2) * dp * dq) / xp.where(positive, s, F32(1)), F32(0))


def _neighbour_slices(axis: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    lo: list[slice] = [slice(None)] * 3
    hi: list[slice] = [slice(None)] * 3
    lo[axis] = slice(None, -1)
    hi[axis] = slice(1, None)
    return tuple(lo), tuple(hi)


# --- NumPy references ----------------------------------------------------------------


def be_residual_numpy(
    op: DiffusionOperator,
    c: np.ndarray,
    c_old: np.ndarray,
    source: np.ndarray,
    uptake: np.ndarray,
    dt: np.float32,
    delta: np.ndarray,
    jacobi: bool,
) -> None:
    """Scaled backward-Euler defect of iterate ``c`` at free voxels, 0 elsewhere:

    delta = [(c_old - c) + dt (A c + S)] / (1 + dt (decay + uptake) [+ dt sum_faces K]),

    the bracketed term only when ``jacobi`` (then delta is a Jacobi correction).

    Args:
        c, c_old, source, uptake, delta: (nz, ny, nx) float32; source units/min, uptake 1/min.
        dt: step (min).
    """
    cls, _ = op.classes()
    flux = np.zeros_like(c)
    conductance = np.zeros_like(c) if jacobi else None
    for axis in range(3):
        lo, hi = _neighbour_slices(axis)
        k = op.face_diffusivity(axis) * op.inv_spacing2_zyx[axis]
        # per voxel: minus neighbour first, then plus neighbour (the kernel's order)
        term = np.zeros_like(c)
        term[hi] = k * (c[lo] - c[hi])
        flux += term
        term = np.zeros_like(c)
        term[lo] = k * (c[hi] - c[lo])
        flux += term
        if conductance is not None:
            conductance[hi] += k
            conductance[lo] += k
    loss = F32(op.decay_per_min) + uptake
    residual = (c_old - c) + dt * ((flux + source) - loss * c)
    if conductance is not None:
        loss = loss + conductance
    np.divide(residual, F32(1) + dt * loss, out=delta)
    delta[cls != FREE] = F32(0)


def thomas_sweep_numpy(
    op: DiffusionOperator, delta: np.ndarray, dt: np.float32, axis: int, scratch: np.ndarray
) -> None:
    """Solve (I - dt A_axis) x = delta in place along array ``axis`` (0 = z, 1 = y, 2 = x).

    Rows of fixed and barrier voxels are the identity. ``scratch`` (float32, C-contiguous,
    delta's size) holds the lines axis-first for the y and x sweeps, so that each step along
    a line is one contiguous plane (a view along y or x would stride through memory); the
    elimination factors are cached per operator and dt. Each element gets the CUDA twin's
    expressions, (d + kl d_prev) / m forward and d - c' x_next backward, in float32.
    """
    kl_all, m_all, cp_all = _thomas_factors(op, dt, axis)
    lines = _lines_axis_first(delta, axis, scratch)
    plane = np.zeros(lines.shape[1:], dtype=np.float32)  # d_prev, then x_next: 0 at the ends
    t = np.empty_like(plane)
    for i in range(lines.shape[0]):
        np.multiply(kl_all[i], plane, out=t)
        np.add(lines[i], t, out=t)
        np.divide(t, m_all[i], out=lines[i])
        plane = lines[i]
    plane = np.zeros_like(t)
    for i in range(lines.shape[0] - 1, -1, -1):
        np.multiply(cp_all[i], plane, out=t)
        np.subtract(lines[i], t, out=lines[i])
        plane = lines[i]
    if lines is not delta:
        for z in _z_chunks(delta.shape[0]):
            np.copyto(np.moveaxis(delta[z], axis, 0), lines[:, z])


def _z_chunks(nz: int, planes: int = 4) -> list[slice]:
    """Slices of a few z-planes: a transposing copy chunk by chunk stays in cache."""
    return [slice(z, min(z + planes, nz)) for z in range(0, nz, planes)]


def _lines_axis_first(delta: np.ndarray, axis: int, scratch: np.ndarray) -> np.ndarray:
    """delta itself along z; along y or x, a copy in ``scratch`` with ``axis`` first and
    the other axes in their order (shape ``np.moveaxis(delta, axis, 0).shape``)."""
    if axis == 0:
        return delta
    moved = np.moveaxis(delta, axis, 0)
    lines = scratch.reshape(-1)[: delta.size].reshape(moved.shape)
    for z in _z_chunks(delta.shape[0]):
        np.copyto(lines[:, z], moved[:, z])
    return lines


def _thomas_factors(
    op: DiffusionOperator, dt: np.float32, axis: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The forward-elimination factors of the Thomas sweep along ``axis`` (they depend on
    the operator and dt only, not on the right-hand side): lower coupling kl, pivot m and
    c' per voxel, axis first, computed once per dt with the kernel's expressions."""
    key = f"thomas{axis}:{float(dt)!r}"
    if key not in op._cache:
        cls, _ = op.classes()
        coef = F32(dt * op.inv_spacing2_zyx[axis])
        lo, hi = _neighbour_slices(axis)
        k_face = op.face_diffusivity(axis) * coef
        free = cls == FREE
        k_upper = np.zeros(cls.shape, dtype=np.float32)  # conductance to the + neighbour
        k_upper[lo] = k_face
        k_upper[~free] = F32(0)
        k_lower = np.zeros(cls.shape, dtype=np.float32)
        k_lower[hi] = k_face
        k_lower[~free] = F32(0)
        kl_all = np.ascontiguousarray(np.moveaxis(k_lower, axis, 0))
        ku_all = np.moveaxis(k_upper, axis, 0)
        m_all = np.empty_like(kl_all)
        cp_all = np.empty_like(kl_all)
        c_prev = np.zeros(kl_all.shape[1:], dtype=np.float32)
        for i in range(kl_all.shape[0]):
            kl, ku = kl_all[i], ku_all[i]
            m = ((F32(1) + kl) + ku) + kl * c_prev
            c_prev = -ku / m
            m_all[i] = m
            cp_all[i] = c_prev
        op._cache[key] = (kl_all, m_all, cp_all)
    return op._cache[key]


def finish_step_numpy(op: DiffusionOperator, c: np.ndarray, x: np.ndarray) -> None:
    """c = max(x, 0) at free voxels (0 where x is NaN), the fixed value at fixed ones, 0 at
    barriers. c may be x. Masked copies, with the pinned voxels cached per operator."""
    positive = x > F32(0)
    np.copyto(c, x, where=positive)
    np.copyto(c, F32(0), where=~positive)
    pinned, pinned_value = _pinned(op)
    np.copyto(c, pinned_value, where=pinned)


def _pinned(op: DiffusionOperator) -> tuple[np.ndarray, np.ndarray]:
    """Voxels a step does not solve (fixed or barrier) and the value each holds (the fixed
    value, 0 at barriers), computed once per operator."""
    if "pinned" not in op._cache:
        cls, value = op.classes()
        op._cache["pinned"] = (cls != FREE, np.where(cls == FIXED, value, F32(0)))
    return op._cache["pinned"]


# --- CUDA launchers ------------------------------------------------------------------


def _check_operator(op: DiffusionOperator, shape: tuple[int, ...]) -> None:
    import cupy

    from gpu_kernels.loader import check_array

    check_array("labels", op.labels, cupy.uint8, shape=shape)
    check_array("diffusivity", op.diffusivity, cupy.float32, shape=(256,))
    check_array("kind", op.kind, cupy.uint8, shape=(256,))
    check_array("fixed", op.fixed, cupy.float32, shape=(256,))
    check_array("face_value", op.face_value, cupy.float32, shape=(6,))


def be_residual_cuda(
    op: DiffusionOperator,
    c: Any,
    c_old: Any,
    source: Any,
    uptake: Any,
    dt: np.float32,
    delta: Any,
    jacobi: bool,
) -> None:
    """CUDA twin of :func:`be_residual_numpy` (one thread per voxel)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("c", c, cupy.float32, ndim=3)
    _check_operator(op, c.shape)
    for name, array in (("c_old", c_old), ("source", source), ("uptake", uptake),
                        ("delta", delta)):  # fmt: skip
        check_array(name, array, cupy.float32, shape=c.shape)
    nz, ny, nx = c.shape
    inv = np.asarray(op.inv_spacing2_zyx, dtype=np.float32)
    launch_1d(
        "diffusion.cu",
        "be_residual",
        c.size,
        (
            c, c_old, op.labels, op.diffusivity, op.kind, op.face_value, source, uptake, delta,
            np.int32(nz), np.int32(ny), np.int32(nx), np.float32(op.decay_per_min),
            np.float32(dt), inv[0], inv[1], inv[2], np.int32(1 if jacobi else 0),
        ),
    )  # fmt: skip


def thomas_sweep_cuda(
    op: DiffusionOperator, delta: Any, dt: np.float32, axis: int, scratch: Any
) -> None:
    """CUDA twin of :func:`thomas_sweep_numpy` (one thread per grid line)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("delta", delta, cupy.float32, ndim=3)
    _check_operator(op, delta.shape)
    check_array("scratch", scratch, cupy.float32, shape=delta.shape)
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis}")
    nz, ny, nx = delta.shape
    coef = np.float32(dt * op.inv_spacing2_zyx[axis])
    launch_1d(
        "diffusion.cu",
        "thomas_sweep",
        delta.size // delta.shape[axis],
        (
            delta, op.labels, op.diffusivity, op.kind, op.face_value, scratch,
            np.int32(nz), np.int32(ny), np.int32(nx), np.int32(axis), coef,
        ),
    )  # fmt: skip


def finish_step_cuda(op: DiffusionOperator, c: Any, x: Any) -> None:
    """CUDA twin of :func:`finish_step_numpy`."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("c", c, cupy.float32, ndim=3)
    check_array("x", x, cupy.float32, shape=c.shape)
    _check_operator(op, c.shape)
    nz, ny, nx = c.shape
    launch_1d(
        "diffusion.cu",
        "finish_step",
        c.size,
        (c, x, op.labels, op.kind, op.fixed, op.face_value,
         np.int32(nz), np.int32(ny), np.int32(nx)),
    )  # fmt: skip


def be_residual(op: DiffusionOperator, c: Any, *args: Any) -> None:
    """The scaled backward-Euler defect on the arrays' backend (see be_residual_numpy)."""
    (be_residual_cuda if on_device(c) else be_residual_numpy)(op, c, *args)


def thomas_sweep(op: DiffusionOperator, delta: Any, *args: Any) -> None:
    """The Thomas sweep on the arrays' backend (see thomas_sweep_numpy)."""
    (thomas_sweep_cuda if on_device(delta) else thomas_sweep_numpy)(op, delta, *args)


def finish_step(op: DiffusionOperator, c: Any, x: Any) -> None:
    """Write the step's result on the arrays' backend (see finish_step_numpy)."""
    (finish_step_cuda if on_device(c) else finish_step_numpy)(op, c, x)
