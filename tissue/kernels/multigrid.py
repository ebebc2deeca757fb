"""Multigrid hot paths of the implicit diffusion step, batched over the fields of an organ.

Every array is (F, nz, ny, nx) float32 C-contiguous, one slab per field, on one level of the
hierarchy of :mod:`tissue.solver`. On a level, the backward-Euler operator of free voxel p is

    (A e)_p = mass_p e_p + dt (s_p + fixedw_p e_p),   s_p = sum over faces of w (e_p - e_q),

in flux form (differences of neighbours: accurate in float32 when e is smooth, however large
dt w is), with ``w`` the conductances of faces between free voxels (1/min, stored at the
face's lower voxel along each axis: ``wz[p]`` joins p and its z+ neighbour), ``fixedw`` the
conductances to fixed neighbours (where e = 0) and e = 0 at voxels that are not free. The six
terms are added in the order z-, z+, y-, y+, x-, x+: the minus neighbour's as
s + w (e_p - e_q), the plus neighbour's as s - w (e_q - e_p), in both implementations.
``diag = mass + dt diagw`` (diagw: fixedw and every face's w) divides Jacobi steps.

Kernels (each a NumPy reference and a CUDA launcher with the same float32 expressions in the
same order, so the two give the same bits; ``gpu_kernels/multigrid.cu``):

- :func:`defect`: the residual of a step's system at the field's state c, in flux form,
  dt ((flux + S) - loss c) with flux = sum over faces of k (c_neighbour - c) (neighbours at
  fixed voxels hold their values; ``k`` the finest level's conductances to every neighbour):
  differences of nearby values, so that it is accurate when the step changes c little;
- :func:`operator`: out = A e;
- :func:`jacobi`: out = e + omega (r - A e) / diag (one damped Jacobi step), and
  :func:`jacobi_first`: out = omega (r / diag), the same step from e = 0;
- :func:`residual`: out = r - A e;
- :func:`restrict`: the sum of each 2x2x2 block (children in z-major order);
- :func:`prolong_add`: e += scale e_coarse[parent] at free voxels;
- :func:`cg_step` (x += a p; r -= a q), :func:`cg_direction` (p = p b + z) and
  :func:`error_bounds` (per field, max |r| / mass over free voxels and max |offset + x|):
  the conjugate-gradient loop's glue, each one kernel on a GPU (its per-field scalars are
  :mod:`tissue.kernels.cg`'s);
- :func:`dot_partials`: per field, :func:`dot_lanes` partial sums of a b in float64, lane t
  summing elements t, t + lanes, ... in order (the caller adds the lanes). A lane is a GPU
  thread: 256 of them for a field of up to 256 x DOT_RUN elements, and more for larger
  fields, so that none sums more than DOT_RUN (a 512^3 field has 32,768 lanes, enough to keep
  a device's memory busy; 256 threads would read it from one multiprocessor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tissue.grid import F32
from tissue.kernels import on_device

DOT_LANES = 256  # partial sums per field in dot_partials, at least ...
DOT_RUN = 4096  # ... and enough that no lane sums more elements than this


def dot_lanes(n: int) -> int:
    """Partial sums (lanes) of a field of ``n`` elements in :func:`dot_partials`."""
    return max(DOT_LANES, -(-n // DOT_RUN))


@dataclass
class Level:
    """One level of the hierarchy: (F, nz, ny, nx) arrays on one backend.

    Attributes:
        free: bool, the voxels solved on this level (a coarse voxel is free when any of its
            children is). wz, wy, wx: float32 face conductances (1/min), 0 at faces with a
            side that is not free and at the grid's upper faces. fixedw: float32, the sum of
            a voxel's conductances to fixed neighbours. diagw: float32, fixedw plus the
            voxel's face conductances. mass, diag: float32, set per step: 1 + dt (decay +
            uptake) summed over the children, and mass + dt diagw (1 where not free).
    """

    free: Any
    wz: Any
    wy: Any
    wx: Any
    fixedw: Any
    diagw: Any
    mass: Any
    diag: Any
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(self.free.shape)  # type: ignore[return-value]

    def host_scratch(self) -> tuple[np.ndarray, np.ndarray]:
        """The NumPy kernels' scratch array and the mask of voxels that are not free."""
        if "scratch" not in self._cache:
            self._cache["scratch"] = (np.empty(self.shape, dtype=np.float32), ~self.free)
        return self._cache["scratch"]


def _faces_4d(axis: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    lo = [slice(None)] * 4
    hi = [slice(None)] * 4
    lo[axis] = slice(None, -1)
    hi[axis] = slice(1, None)
    return tuple(lo), tuple(hi)


_FACES = [_faces_4d(axis) for axis in (1, 2, 3)]  # (lower, upper) voxels of z, y, x faces


# --- NumPy references ----------------------------------------------------------------


def _apply_numpy(level: Level, e: np.ndarray, dt: np.float32, out: np.ndarray) -> None:
    """out = mass e + dt (s + fixedw e), s = sum over faces of w (e_p - e_q) (everywhere;
    callers mask)."""
    t, _ = level.host_scratch()
    out.fill(0)
    for (lo, hi), w in zip(_FACES, (level.wz, level.wy, level.wx), strict=True):
        np.subtract(e[hi], e[lo], out=t[hi])
        np.multiply(w[lo], t[hi], out=t[hi])
        np.add(out[hi], t[hi], out=out[hi])  # the minus neighbour of the voxels above
        np.subtract(out[lo], t[hi], out=out[lo])  # the plus neighbour of the voxels below
    np.multiply(level.fixedw, e, out=t)
    np.add(out, t, out=out)
    np.multiply(dt, out, out=out)
    np.multiply(level.mass, e, out=t)
    np.add(t, out, out=out)


def defect_numpy(
    k: tuple[np.ndarray, np.ndarray, np.ndarray],
    free: np.ndarray,
    c: np.ndarray,
    source: np.ndarray,
    loss: np.ndarray,
    dt: np.float32,
    out: np.ndarray,
) -> None:
    """out = dt ((flux + source) - loss c) at free voxels, 0 elsewhere, with flux the sum of
    k (c_neighbour - c) over the faces, added z-, z+, y-, y+, x-, x+ (k: (kz, ky, kx), each
    at the face's lower voxel)."""
    flux = np.zeros_like(c)
    t = np.empty_like(c)
    for (lo, hi), w in zip(_FACES, k, strict=True):
        np.subtract(c[lo], c[hi], out=t[hi])  # the minus neighbour of the voxels above
        np.multiply(w[lo], t[hi], out=t[hi])
        np.add(flux[hi], t[hi], out=flux[hi])
        np.subtract(c[hi], c[lo], out=t[lo])  # the plus neighbour of the voxels below
        np.multiply(w[lo], t[lo], out=t[lo])
        np.add(flux[lo], t[lo], out=flux[lo])
    np.add(flux, source, out=out)
    np.multiply(loss, c, out=t)
    np.subtract(out, t, out=out)
    np.multiply(dt, out, out=out)
    np.copyto(out, F32(0), where=~free)


def operator_numpy(level: Level, e: np.ndarray, dt: np.float32, out: np.ndarray) -> None:
    """out = A e at free voxels, 0 elsewhere."""
    _apply_numpy(level, e, dt, out)
    np.copyto(out, F32(0), where=level.host_scratch()[1])


def residual_numpy(
    level: Level, r: np.ndarray, e: np.ndarray, dt: np.float32, out: np.ndarray
) -> None:
    """out = r - A e at free voxels, 0 elsewhere (out may not be r or e)."""
    _apply_numpy(level, e, dt, out)
    np.subtract(r, out, out=out)
    np.copyto(out, F32(0), where=level.host_scratch()[1])


def jacobi_numpy(
    level: Level,
    r: np.ndarray,
    e: np.ndarray,
    dt: np.float32,
    omega: np.float32,
    out: np.ndarray,
) -> None:
    """out = e + omega ((r - A e) / diag) at free voxels, 0 elsewhere (out may not be e)."""
    _apply_numpy(level, e, dt, out)
    np.subtract(r, out, out=out)
    np.divide(out, level.diag, out=out)
    np.multiply(omega, out, out=out)
    np.add(e, out, out=out)
    np.copyto(out, F32(0), where=level.host_scratch()[1])


def jacobi_first_numpy(level: Level, r: np.ndarray, omega: np.float32, out: np.ndarray) -> None:
    """out = omega (r / diag) at free voxels, 0 elsewhere: a Jacobi step from e = 0."""
    np.divide(r, level.diag, out=out)
    np.multiply(omega, out, out=out)
    np.copyto(out, F32(0), where=level.host_scratch()[1])


def restrict_numpy(fine: np.ndarray, out: np.ndarray) -> None:
    """out (F, ceil(nz/2), ceil(ny/2), ceil(nx/2)) = the sum of each block's children,
    added in z-major order of (dz, dy, dx)."""
    _, nz, ny, nx = fine.shape
    out.fill(0)
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                child = fine[:, dz::2, dy::2, dx::2]
                target = out[:, : (nz - dz + 1) // 2, : (ny - dy + 1) // 2, : (nx - dx + 1) // 2]
                np.add(target, child, out=target)


def prolong_add_numpy(
    e: np.ndarray, coarse: np.ndarray, free: np.ndarray, scale: np.float32
) -> None:
    """e += scale coarse[parent] at free voxels."""
    _, nz, ny, nx = e.shape
    parent = coarse.repeat(2, axis=1).repeat(2, axis=2).repeat(2, axis=3)[:, :nz, :ny, :nx]
    np.multiply(scale, parent, out=parent)
    np.add(e, parent, out=e, where=free)


def dot_partials_numpy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(F, lanes) float64 (``dot_lanes`` of a field's size): lane t of field f sums a b over
    elements t, t + lanes, ... of the field, in order."""
    n_fields = a.shape[0]
    n = a[0].size
    lanes = dot_lanes(n)
    rows = -(-n // lanes)
    products = np.zeros((n_fields, rows * lanes), dtype=np.float64)
    np.multiply(
        a.reshape(n_fields, n), b.reshape(n_fields, n), out=products[:, :n], dtype=np.float64
    )
    return products.reshape(n_fields, rows, lanes).sum(axis=1)


def cg_step_numpy(
    x: np.ndarray, r: np.ndarray, p: np.ndarray, q: np.ndarray, a: np.ndarray
) -> None:
    """x += a p and r -= a q in place, with ``a`` (F,) float32, one value per field."""
    a4 = a[:, None, None, None]
    x += a4 * p
    r -= a4 * q


def cg_direction_numpy(p: np.ndarray, z: np.ndarray, b: np.ndarray) -> None:
    """p = p b + z in place, with ``b`` (F,) float32."""
    p *= b[:, None, None, None]
    p += z


def error_bounds_numpy(
    r: np.ndarray, mass: np.ndarray, free: np.ndarray, offset: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(F,) float32 each: max |r| / m (m: ``mass`` at free voxels, 1 elsewhere) and
    max |offset + x|, per field."""
    n_fields = r.shape[0]
    m = np.where(free, mass, F32(1))
    error = (np.abs(r) / m).reshape(n_fields, -1).max(axis=1)
    scale = np.abs(offset + x).reshape(n_fields, -1).max(axis=1)
    return error, scale


# --- CUDA launchers ------------------------------------------------------------------


def _check_level(level: Level, *arrays: tuple[str, Any]) -> tuple[int, int, int, int]:
    import cupy

    from gpu_kernels.loader import check_array

    shape = level.shape
    check_array("free", level.free, cupy.bool_, shape=shape)
    for name, array in (
        ("wz", level.wz),
        ("wy", level.wy),
        ("wx", level.wx),
        ("fixedw", level.fixedw),
        ("mass", level.mass),
        ("diag", level.diag),
        *arrays,
    ):
        check_array(name, array, cupy.float32, shape=shape)
    return shape


def _launch_stencil(kernel: str, level: Level, arrays: tuple[Any, ...], scalars: tuple) -> None:
    from gpu_kernels.loader import launch_1d

    f, nz, ny, nx = level.shape
    launch_1d(
        "multigrid.cu",
        kernel,
        f * nz * ny * nx,
        (level.free, level.wz, level.wy, level.wx, level.fixedw, level.mass, level.diag, *arrays,
         np.int32(f), np.int32(nz), np.int32(ny), np.int32(nx), *scalars),
    )  # fmt: skip


def defect_cuda(
    k: tuple[Any, Any, Any],
    free: Any,
    c: Any,
    source: Any,
    loss: Any,
    dt: np.float32,
    out: Any,
) -> None:
    """CUDA twin of :func:`defect_numpy` (one thread per voxel)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("c", c, cupy.float32, ndim=4)
    check_array("free", free, cupy.bool_, shape=c.shape)
    for name, array in (("kz", k[0]), ("ky", k[1]), ("kx", k[2]), ("source", source),
                        ("loss", loss), ("out", out)):  # fmt: skip
        check_array(name, array, cupy.float32, shape=c.shape)
    f, nz, ny, nx = c.shape
    launch_1d(
        "multigrid.cu",
        "defect",
        c.size,
        (free, k[0], k[1], k[2], c, source, loss, out, np.int32(f), np.int32(nz),
         np.int32(ny), np.int32(nx), np.float32(dt)),
    )  # fmt: skip


def operator_cuda(level: Level, e: Any, dt: np.float32, out: Any) -> None:
    """CUDA twin of :func:`operator_numpy` (one thread per voxel)."""
    _check_level(level, ("e", e), ("out", out))
    _launch_stencil("apply_operator", level, (e, out), (np.float32(dt),))


def residual_cuda(level: Level, r: Any, e: Any, dt: np.float32, out: Any) -> None:
    """CUDA twin of :func:`residual_numpy`."""
    _check_level(level, ("r", r), ("e", e), ("out", out))
    _launch_stencil("residual", level, (r, e, out), (np.float32(dt),))


def jacobi_cuda(level: Level, r: Any, e: Any, dt: np.float32, omega: np.float32, out: Any) -> None:
    """CUDA twin of :func:`jacobi_numpy`."""
    _check_level(level, ("r", r), ("e", e), ("out", out))
    _launch_stencil("jacobi", level, (r, e, out), (np.float32(dt), np.float32(omega)))


def jacobi_first_cuda(level: Level, r: Any, omega: np.float32, out: Any) -> None:
    """CUDA twin of :func:`jacobi_first_numpy`."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    shape = level.shape
    check_array("free", level.free, cupy.bool_, shape=shape)
    for name, array in (("diag", level.diag), ("r", r), ("out", out)):
        check_array(name, array, cupy.float32, shape=shape)
    launch_1d(
        "multigrid.cu",
        "jacobi_first",
        out.size,
        (level.free, level.diag, r, out, np.int64(out.size), np.float32(omega)),
    )


def restrict_cuda(fine: Any, out: Any) -> None:
    """CUDA twin of :func:`restrict_numpy` (one thread per coarse voxel)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("fine", fine, cupy.float32, ndim=4)
    f, nz, ny, nx = fine.shape
    coarse = (f, (nz + 1) // 2, (ny + 1) // 2, (nx + 1) // 2)
    check_array("out", out, cupy.float32, shape=coarse)
    launch_1d(
        "multigrid.cu",
        "restrict_sum",
        out.size,
        (fine, out, np.int32(f), np.int32(nz), np.int32(ny), np.int32(nx)),
    )


def prolong_add_cuda(e: Any, coarse: Any, free: Any, scale: np.float32) -> None:
    """CUDA twin of :func:`prolong_add_numpy` (one thread per fine voxel)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("e", e, cupy.float32, ndim=4)
    f, nz, ny, nx = e.shape
    check_array("coarse", coarse, cupy.float32, shape=(f, (nz + 1) // 2, (ny + 1) // 2,
                                                       (nx + 1) // 2))  # fmt: skip
    check_array("free", free, cupy.bool_, shape=e.shape)
    launch_1d(
        "multigrid.cu",
        "prolong_add",
        e.size,
        (e, coarse, free, np.int32(f), np.int32(nz), np.int32(ny), np.int32(nx),
         np.float32(scale)),
    )  # fmt: skip


def dot_partials_cuda(a: Any, b: Any) -> Any:
    """CUDA twin of :func:`dot_partials_numpy` (one thread per field and lane)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("a", a, cupy.float32, ndim=4)
    check_array("b", b, cupy.float32, shape=a.shape)
    n_fields = a.shape[0]
    lanes = dot_lanes(a[0].size)
    out = cupy.empty((n_fields, lanes), dtype=cupy.float64)
    launch_1d(
        "multigrid.cu",
        "dot_partials",
        n_fields * lanes,
        (a, b, out, np.int32(n_fields), np.int64(a[0].size), np.int32(lanes)),
    )
    return out


def cg_step_cuda(x: Any, r: Any, p: Any, q: Any, a: Any) -> None:
    """CUDA twin of :func:`cg_step_numpy` (one thread per element)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    for name, array in (("x", x), ("r", r), ("p", p), ("q", q)):
        check_array(name, array, cupy.float32, shape=x.shape)
    check_array("a", a, cupy.float32, shape=(x.shape[0],))
    launch_1d("multigrid.cu", "cg_step", x.size,
              (x, r, p, q, a, np.int64(x[0].size), np.int64(x.size)))  # fmt: skip


def cg_direction_cuda(p: Any, z: Any, b: Any) -> None:
    """CUDA twin of :func:`cg_direction_numpy`."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("p", p, cupy.float32)
    check_array("z", z, cupy.float32, shape=p.shape)
    check_array("b", b, cupy.float32, shape=(p.shape[0],))
    launch_1d("multigrid.cu", "cg_direction", p.size,
              (p, z, b, np.int64(p[0].size), np.int64(p.size)))  # fmt: skip


def error_bounds_cuda(r: Any, mass: Any, free: Any, offset: Any, x: Any) -> tuple[Any, Any]:
    """CUDA twin of :func:`error_bounds_numpy`: per-lane maxima (:func:`dot_lanes` lanes,
    one thread each), then their maximum."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("r", r, cupy.float32, ndim=4)
    for name, array in (("mass", mass), ("offset", offset), ("x", x)):
        check_array(name, array, cupy.float32, shape=r.shape)
    check_array("free", free, cupy.bool_, shape=r.shape)
    n_fields, n = r.shape[0], r[0].size
    lanes = dot_lanes(n)
    error = cupy.empty((n_fields, lanes), dtype=cupy.float32)
    scale = cupy.empty((n_fields, lanes), dtype=cupy.float32)
    launch_1d("multigrid.cu", "error_partials", n_fields * lanes,
              (r, mass, free, offset, x, error, scale, np.int32(n_fields), np.int64(n),
               np.int32(lanes)))  # fmt: skip
    return error.max(axis=1), scale.max(axis=1)


# --- dispatch ------------------------------------------------------------------------


def defect(
    k: tuple[Any, Any, Any],
    free: Any,
    c: Any,
    source: Any,
    loss: Any,
    dt: np.float32,
    out: Any,
) -> None:
    """The step's residual at c in flux form on the arrays' backend (see
    :func:`defect_numpy`)."""
    (defect_cuda if on_device(c) else defect_numpy)(k, free, c, source, loss, dt, out)


def operator(level: Level, e: Any, dt: np.float32, out: Any) -> None:
    """out = A e on the arrays' backend (see :func:`operator_numpy`)."""
    (operator_cuda if on_device(e) else operator_numpy)(level, e, dt, out)


def residual(level: Level, r: Any, e: Any, dt: np.float32, out: Any) -> None:
    """out = r - A e on the arrays' backend (see :func:`residual_numpy`)."""
    (residual_cuda if on_device(e) else residual_numpy)(level, r, e, dt, out)


def jacobi(level: Level, r: Any, e: Any, dt: np.float32, omega: np.float32, out: Any) -> None:
    """One damped Jacobi step on the arrays' backend (see :func:`jacobi_numpy`)."""
    (jacobi_cuda if on_device(e) else jacobi_numpy)(level, r, e, dt, omega, out)


def jacobi_first(level: Level, r: Any, omega: np.float32, out: Any) -> None:
    """A Jacobi step from e = 0 on the arrays' backend (see :func:`jacobi_first_numpy`)."""
    (jacobi_first_cuda if on_device(r) else jacobi_first_numpy)(level, r, omega, out)


def restrict(fine: Any, out: Any) -> None:
    """Block sums on the arrays' backend (see :func:`restrict_numpy`)."""
    (restrict_cuda if on_device(fine) else restrict_numpy)(fine, out)


def prolong_add(e: Any, coarse: Any, free: Any, scale: np.float32) -> None:
    """e += scale coarse[parent] on the arrays' backend (see :func:`prolong_add_numpy`)."""
    (prolong_add_cuda if on_device(e) else prolong_add_numpy)(e, coarse, free, scale)


def dot(a: Any, b: Any) -> Any:
    """(F,) float64: the dot product of each field's a and b (lanes, then their sum)."""
    partials = dot_partials_cuda(a, b) if on_device(a) else dot_partials_numpy(a, b)
    return partials.sum(axis=1)


def cg_step(x: Any, r: Any, p: Any, q: Any, a: Any) -> None:
    """x += a p; r -= a q on the arrays' backend (see :func:`cg_step_numpy`)."""
    (cg_step_cuda if on_device(x) else cg_step_numpy)(x, r, p, q, a)


def cg_direction(p: Any, z: Any, b: Any) -> None:
    """p = p b + z on the arrays' backend (see :func:`cg_direction_numpy`)."""
    (cg_direction_cuda if on_device(p) else cg_direction_numpy)(p, z, b)


def error_bounds(r: Any, mass: Any, free: Any, offset: Any, x: Any) -> tuple[Any, Any]:
    """Per field, max |r| / mass over free voxels and max |offset + x| (see
    :func:`error_bounds_numpy`)."""
    kernel = error_bounds_cuda if on_device(r) else error_bounds_numpy
    return kernel(r, mass, free, offset, x)
