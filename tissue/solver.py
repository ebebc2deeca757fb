"""The linear solve of an implicit diffusion step: conjugate gradients preconditioned by a
multigrid W-cycle with Galerkin coarsening, matrix-free, for all fields of an organ at once.

Each step of a field solves the backward-Euler system at its free voxels

    mass_p u_p + dt sum_faces w_f (u_p - u_q) = b_p,   mass = 1 + dt (decay + uptake),

with u_q the fixed value at fixed neighbours (moved to b), no flux into barriers and out of
the grid, and w_f = harmonic-mean diffusivity / spacing^2. The matrix is a symmetric
M-matrix at any dt, so CG applies, and by the discrete maximum principle the step's error is
at most max_p |r_p| / mass_p for a residual r. The solver stops when that bound, relative to
the field's largest value, is at most the field's ``tolerance`` and at most REDUCTION times
the bound the step started from: the first caps the error of one step, the second keeps a
slow change from being left unsolved step after step (it is carried into the next step's
residual instead), down to float32's resolution (FLOOR). The step is solved for the change
from the field's state, starting from the defect in flux form (see
:func:`tissue.kernels.multigrid.defect`), so float32 rounding scales with the change, not
with the field.

Coarse levels keep the geometry: a coarse voxel is a 2x2x2 block of free voxels (2x2x1 in a
2-D organ: an axis of one voxel stays one), and its operator is the Galerkin product P^T A P
with P piecewise constant over blocks, which is again a 7-point operator of the same form:
masses summed over the block, face conductances summed over the fine faces between two
blocks, and conductances to fixed voxels summed. Walls of
barriers (alveolar air, adipocytes) and fixed vessels therefore stay where they are on every
level. The cycle: two damped Jacobi steps before and after each coarse correction, the
correction scaled by 1.5 (piecewise-constant coarsening underestimates smooth corrections),
visited twice on every level but the last (a W-cycle, 4/3 of one level's work in 3-D), and
an exact dense solve on the coarsest level (at most COARSEST_VOXELS voxels). The cycle is a
symmetric positive definite operator, so it preconditions plain CG.

Everything runs against the backend's array module; the stencil, smoother, restriction,
prolongation and dot products are the kernels of :mod:`tissue.kernels.multigrid`. The host
reads the convergence test from a given iteration on (see :func:`solve`): on a GPU, from
the iteration the previous step stopped at, one read per step while that does not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tissue.backend import to_numpy
from tissue.grid import F32
from tissue.kernels import array_module
from tissue.kernels.cg import CgState, cg_alpha, cg_beta, cg_record
from tissue.kernels.diffusion import FREE, DiffusionOperator
from tissue.kernels.multigrid import (
    Level,
    cg_direction,
    cg_step,
    dot,
    error_bounds,
    jacobi,
    jacobi_first,
    operator,
    prolong_add,
    residual,
    restrict,
)

COARSEST_VOXELS = 64  # voxels per field at most on the coarsest level (solved exactly)
# A field's solve stops when its error bound is at most its tolerance ...
SMOOTHING_STEPS = 2  # damped Jacobi steps before and after each coarse correction
JACOBI_OMEGA = F32(0.8)
REDUCTION = 0.1  # ... or by this factor from the step's first bound, whichever is less
FLOOR = 1e-7  # ... but never below this (float32 resolution of the field's largest value)
BOUND_MAX = 1e30  # the largest relative bound reported (a field far from converged)
COARSE_SCALE = F32(1.5)  # over-correction of the piecewise-constant coarse correction


@dataclass
class SolveReport:
    """What one step's solve did, per field: CG iterations, the final error bound
    max |r| / mass relative to the field's largest value, whether it met its target, and
    the bound at the start and after each iteration (``history``), as host lists read when
    asked from the backend arrays ``counts``, ``bounds``, ``met`` ((F,)) and ``table``
    ((max_iterations + 1, F), row k the bounds after iteration k).
    ``last_iteration``: the iteration at which its last field converged (the cap when the
    solve stopped there); ``reads``: the times it read its convergence to the host."""

    counts: Any
    bounds: Any
    met: Any
    table: Any
    last_iteration: int
    reads: int

    @property
    def iterations(self) -> list[int]:
        return [int(i) for i in to_numpy(self.counts)]

    @property
    def error_bound(self) -> list[float]:
        return [float(b) for b in to_numpy(self.bounds)]

    @property
    def converged(self) -> list[bool]:
        return [bool(c) for c in to_numpy(self.met)]

    @property
    def history(self) -> list[list[float]]:
        table, counts = to_numpy(self.table), to_numpy(self.counts)
        return [[float(v) for v in table[: n + 1, f]] for f, n in enumerate(counts)]


@dataclass
class _Buffers:
    """Work arrays of one level: the right-hand side the level above restricts into, two
    smoothing iterates, the residual, and (below the finest) the first visit's correction
    and the right-hand side saved across the second visit."""

    rhs: Any
    sol: Any
    work: Any
    spare: Any
    keep: Any
    saved: Any


@dataclass
class Hierarchy:
    """The levels of the batched operator of an organ's fields.

    Args:
        operators: one per field (same grid).
    """

    operators: list[DiffusionOperator]
    levels: list[Level] = field(init=False)
    conductances: tuple[Any, Any, Any] = field(init=False)  # (F, ...) finest, every face
    _buffers: list[_Buffers] = field(init=False)
    _inverse: Any = field(init=False, default=None)
    _dt: float = field(init=False, default=np.nan)

    def __post_init__(self) -> None:
        xp = array_module(self.operators[0].labels)
        free, conductances, to_fixed, every = [], [], [], []
        for op in self.operators:
            f, w, g, k = _fine_terms(xp, op)
            free.append(f)
            conductances.append(w)
            to_fixed.append(g)
            every.append(k)
        w3 = [xp.stack([w[a] for w in conductances]) for a in range(3)]
        g = xp.stack(to_fixed)
        levels = [_level(xp, xp.stack(free), w3, g)]
        while _voxels(levels[-1]) > COARSEST_VOXELS:
            fine = levels[-1]
            coarse_free = _block_any(xp, fine.free)
            g = _restricted(xp, g)
            coarse_w = [_coarse_faces(xp, w, axis) for axis, w in enumerate(_faces(fine))]
            levels.append(_level(xp, coarse_free, coarse_w, g))
        self.levels = levels
        self.conductances = tuple(xp.stack([k[a] for k in every]) for a in range(3))
        self._buffers = _buffers(xp, levels)

    @property
    def xp(self) -> Any:
        return array_module(self.levels[0].diag)

    def subset(self, keep: Any) -> Hierarchy:
        """The hierarchy of the fields ``keep`` (host int array), set for the same step."""
        xp = self.xp
        index = xp.asarray(keep)
        out = object.__new__(Hierarchy)
        out.operators = [self.operators[int(i)] for i in keep]
        out.levels = [
            Level(*(getattr(level, name)[index] for name in _LEVEL_ARRAYS)) for level in self.levels
        ]
        out.conductances = tuple(k[index] for k in self.conductances)
        out._buffers = _buffers(xp, out.levels)
        out._inverse = None if self._inverse is None else self._inverse[index]
        out._dt = self._dt
        return out

    def set_step(self, dt: np.float32, mass: Any) -> None:
        """Set every level's masses and diagonals for a step of ``dt`` with the fine masses
        ``mass`` (F, ...) float32 (1 + dt (decay + uptake) at free voxels). On NumPy a
        call with the step and masses of the last one changes nothing and is skipped (the
        masses change only with the cells' uptake, where cells move or rules act: not at
        every diffusion step); on a device the comparison would be a host read, so every
        call sets the levels."""
        xp = self.xp
        fine = self.levels[0]
        masked = xp.where(fine.free, mass, F32(0))
        if xp is np and float(dt) == self._dt and np.array_equal(masked, fine.mass):
            return
        fine.mass[...] = masked
        for upper, lower in zip(self.levels, self.levels[1:], strict=False):
            restrict(upper.mass, lower.mass)
        for level in self.levels:
            level.diag[...] = xp.where(level.free, level.mass + dt * level.diagw, F32(1))
        self._inverse = _dense_inverse(xp, self.levels[-1], dt)
        self._dt = float(dt)

    def precondition(self, r: Any, dt: np.float32) -> Any:
        """z = B r, the W-cycle from z = 0 (a buffer of the finest level)."""
        self._buffers[0].rhs[...] = r
        return self._cycle(0, dt)

    def _cycle(self, k: int, dt: np.float32) -> Any:
        level, buf = self.levels[k], self._buffers[k]
        if k == len(self.levels) - 1:
            _dense_solve(self.xp, self._inverse, level, buf.rhs, buf.sol)
            return buf.sol
        a, b = buf.work, buf.sol
        jacobi_first(level, buf.rhs, JACOBI_OMEGA, a)
        for _ in range(SMOOTHING_STEPS - 1):
            jacobi(level, buf.rhs, a, dt, JACOBI_OMEGA, b)
            a, b = b, a
        residual(level, buf.rhs, a, dt, buf.spare)
        lower = self._buffers[k + 1]
        restrict(buf.spare, lower.rhs)
        correction = self._cycle(k + 1, dt)
        if k + 1 < len(self.levels) - 1:  # the second visit, on the first one's residual
            lower.keep[...] = correction
            lower.saved[...] = lower.rhs
            residual(self.levels[k + 1], lower.saved, lower.keep, dt, lower.rhs)
            lower.keep += self._cycle(k + 1, dt)
            correction = lower.keep
        prolong_add(a, correction, level.free, COARSE_SCALE)
        for _ in range(SMOOTHING_STEPS):
            jacobi(level, buf.rhs, a, dt, JACOBI_OMEGA, b)
            a, b = b, a
        return a


def solve(
    hierarchy: Hierarchy,
    u: Any,
    b: Any,
    offset: Any,
    dt: np.float32,
    tolerance: np.ndarray,
    max_iterations: int,
    first_read: int = 0,
) -> SolveReport:
    """Solve A u = b for every field by preconditioned CG, from ``u`` (updated in place).

    Convergence is decided on the backend each iteration and read by the host from iteration
    ``first_read`` on: there the fields found converged leave the batch, so the others
    iterate alone, and the solve ends when all have. Before it, a converged field's updates
    are multiplied by 0 (its iterate and residual stay exactly as they were), so the result
    is the same bits for any ``first_read``; on a GPU the caller passes the iteration the
    previous step stopped at, and a step that needs as many costs one read.

    Args:
        hierarchy: the fields' levels, set for this step (:meth:`Hierarchy.set_step`).
        u, b: (F, ...) float32, 0 at voxels that are not free.
        offset: (F, ...) float32: the field is offset + u (its scale for the tolerance).
        tolerance: (F,) relative tolerances: a field stops when its bound max |r| / mass,
            relative to its largest |offset + u|, is at most its tolerance and at most
            REDUCTION times the bound it started from (but not below FLOOR).
        max_iterations: iterations at most.
        first_read: the first iteration whose convergence the host reads (0: every one).
    """
    xp = hierarchy.xp
    n_fields = u.shape[0]
    state = CgState(
        converged=xp.zeros(n_fields, dtype=bool),
        history=xp.zeros((max_iterations + 1, n_fields), dtype=xp.float32),
        bound=xp.zeros(n_fields, dtype=xp.float32),
        iterations=xp.zeros(n_fields, dtype=xp.int64),
        bound_max=BOUND_MAX,
        reduction=REDUCTION,
        floor=FLOOR,
    )
    limit = xp.asarray(tolerance, dtype=xp.float64)
    target = xp.empty(n_fields, dtype=xp.float64)
    active = np.arange(n_fields)  # the fields in the batch (host)
    index = xp.asarray(active)
    level = hierarchy.levels[0]
    x = u
    r = xp.empty_like(u)
    residual(level, b, x, dt, r)
    p: Any = None
    rz: Any = None
    reads = 0
    stopped = max_iterations
    for iteration in range(max_iterations + 1):
        error, scale = error_bounds(r, level.mass, level.free, offset, x)
        now = cg_record(error, scale, limit, target, index, state, iteration, iteration == 0)
        if iteration == max_iterations:
            break
        if iteration >= first_read:
            done, counts = _read(now, state.iterations[index])
            reads += 1
            if done.all():
                stopped = int(counts.max())
                break
            if done.any():  # the converged fields leave the batch
                u[xp.asarray(active[done])] = x[xp.asarray(np.nonzero(done)[0])]
                keep = np.nonzero(~done)[0]
                kept = xp.asarray(keep)
                x, r, offset, target, now = x[kept], r[kept], offset[kept], target[kept], now[kept]
                limit = limit[kept]
                if p is not None:
                    p, rz = p[kept], rz[kept]
                hierarchy = hierarchy.subset(keep)
                level = hierarchy.levels[0]
                active = active[keep]
                index = xp.asarray(active)
        if p is None:
            p = hierarchy.precondition(r, dt).copy()
            rz = dot(r, p)
        q = xp.empty_like(p)
        operator(level, p, dt, q)
        cg_step(x, r, p, q, cg_alpha(now, dot(p, q), rz))
        z = hierarchy.precondition(r, dt)
        rz_new = dot(r, z)
        cg_direction(p, z, cg_beta(rz_new, rz))
        rz = rz_new
    if x is not u:
        u[index] = x
    return SolveReport(
        state.iterations, state.bound, state.converged, state.history, stopped, reads
    )


_LEVEL_ARRAYS = ("free", "wz", "wy", "wx", "fixedw", "diagw", "mass", "diag")


def _buffers(xp: Any, levels: list[Level]) -> list[_Buffers]:
    return [
        _Buffers(*(xp.zeros(level.shape, dtype=xp.float32) for _ in range(6))) for level in levels
    ]


def _read(flags: Any, counts: Any) -> tuple[np.ndarray, np.ndarray]:
    """The host's read (one device sync) of the batch's converged flags and iteration
    counts: (k,) bool and (k,) int host arrays."""
    both = counts * 2 + flags  # one array, one transfer
    both = np.asarray(both.get() if hasattr(both, "get") else both)
    return (both % 2).astype(bool), both // 2


# --- building the levels --------------------------------------------------------------


def _fine_terms(xp: Any, op: DiffusionOperator) -> tuple[Any, list[Any], Any, list[Any]]:
    """A field's free voxels, face conductances between free voxels ((nz, ny, nx) each, at
    the face's lower voxel), conductances to fixed neighbours, and the conductances of every
    face (0 only next to barriers and at the grid's upper faces)."""
    cls, _ = op.classes()
    free = cls == FREE
    shape = cls.shape
    faces, every, to_fixed = [], [], xp.zeros(shape, xp.float32)
    for axis in range(3):
        lo, hi = _sides(axis, 3)
        k = op.face_diffusivity(axis) * F32(op.inv_spacing2_zyx[axis])
        full = xp.zeros(shape, dtype=xp.float32)
        full[lo] = k
        every.append(full)
        w = xp.zeros(shape, dtype=xp.float32)
        w[lo] = xp.where(free[lo] & free[hi], k, F32(0))
        faces.append(w)
        to_fixed[lo] += xp.where(free[lo] & ~free[hi], k, F32(0))  # to a fixed voxel above
        to_fixed[hi] += xp.where(free[hi] & ~free[lo], k, F32(0))
    return free, faces, to_fixed, every


def _level(xp: Any, free: Any, w: list[Any], to_fixed: Any) -> Level:
    level = Level(
        free=free,
        wz=w[0],
        wy=w[1],
        wx=w[2],
        fixedw=to_fixed,
        diagw=xp.zeros(free.shape, xp.float32),
        mass=xp.zeros(free.shape, xp.float32),
        diag=xp.ones(free.shape, xp.float32),
    )
    level.diagw[...] = to_fixed + _face_sum(xp, level)
    return level


def _faces(level: Level) -> list[Any]:
    return [level.wz, level.wy, level.wx]


def _face_sum(xp: Any, level: Level) -> Any:
    """Sum of each voxel's face conductances to free neighbours, (F, ...) float32."""
    total = xp.zeros(level.shape, dtype=xp.float32)
    for axis, w in enumerate(_faces(level)):
        lo, hi = _sides(axis, 4)
        total += w
        total[hi] += w[lo]
    return total


def _sides(axis: int, ndim: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Index of the lower and upper voxels of each face along ``axis`` (the last ``3``
    dimensions are z, y, x)."""
    lo = [slice(None)] * ndim
    hi = [slice(None)] * ndim
    lo[ndim - 3 + axis] = slice(None, -1)
    hi[ndim - 3 + axis] = slice(1, None)
    return tuple(lo), tuple(hi)


def _voxels(level: Level) -> int:
    return int(np.prod(level.shape[1:]))


def _restricted(xp: Any, fine: Any) -> Any:
    f, nz, ny, nx = fine.shape
    out = xp.zeros((f, (nz + 1) // 2, (ny + 1) // 2, (nx + 1) // 2), dtype=fine.dtype)
    restrict(fine, out)
    return out


def _block_any(xp: Any, free: Any) -> Any:
    return _restricted(xp, free.astype(xp.float32)) > 0


def _coarse_faces(xp: Any, w: Any, axis: int) -> Any:
    """Conductances between neighbouring blocks along ``axis``: the sum of the fine faces
    between them (fine faces at odd indices along the axis), over each block's 2 x 2."""
    index = [slice(None)] * 4
    index[1 + axis] = slice(1, None, 2)
    crossing = w[tuple(index)]
    pad = [(0, 0)] * 4
    for a in range(3):
        size = crossing.shape[1 + a]
        target = (w.shape[1 + a] + 1) // 2 if a == axis else w.shape[1 + a]
        pad[1 + a] = (0, target - size)
    crossing = xp.pad(crossing, pad)
    return _restricted(xp, _spread(xp, crossing, axis))  # sum over the other two axes' 2 x 2


def _spread(xp: Any, crossing: Any, axis: int) -> Any:
    """``crossing`` with each entry along ``axis`` followed by a zero, so that the block sum
    of :func:`restrict` adds only the faces of the two other axes."""
    shape = list(crossing.shape)
    shape[1 + axis] *= 2
    out = xp.zeros(shape, dtype=crossing.dtype)
    index = [slice(None)] * 4
    index[1 + axis] = slice(0, None, 2)
    out[tuple(index)] = crossing
    return out


def _dense_inverse(xp: Any, level: Level, dt: np.float32) -> Any:
    """(F, n, n) float64 inverse of the coarsest level's operator (identity rows and columns
    at voxels that are not free)."""
    f = level.shape[0]
    n = _voxels(level)
    index = xp.arange(n).reshape(level.shape[1:])
    free = level.free.reshape(f, n)
    matrix = xp.zeros((f, n, n), dtype=xp.float64)
    diagonal = xp.where(free, level.diag.reshape(f, n).astype(xp.float64), 1.0)
    matrix[:, xp.arange(n), xp.arange(n)] = diagonal
    for axis, w in enumerate(_faces(level)):
        lo, hi = _sides(axis, 3)
        p, q = index[lo].ravel(), index[hi].ravel()
        coupling = -float(dt) * w[(slice(None), *lo)].reshape(f, -1).astype(xp.float64)
        matrix[:, p, q] = coupling
        matrix[:, q, p] = coupling
    return xp.linalg.inv(matrix)


def _dense_solve(xp: Any, inverse: Any, level: Level, rhs: Any, out: Any) -> None:
    f = level.shape[0]
    n = _voxels(level)
    solution = xp.matmul(inverse, rhs.reshape(f, n, 1).astype(xp.float64))
    out[...] = xp.where(level.free, solution.reshape(level.shape).astype(xp.float32), F32(0))
