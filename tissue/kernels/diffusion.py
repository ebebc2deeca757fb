"""The discretisation of a field on a labelled grid, and the end of each diffusion step.

Voxels are *free*, *fixed* (Dirichlet: a label's fixed value, or the outer layer of a
Dirichlet domain face) or *barrier* (no flux, hold 0). The face diffusivity between two
voxels is the harmonic mean of theirs, 0 next to a barrier or outside the grid. A
:class:`DiffusionOperator` holds one field's tables and computes (once) each voxel's class and
the faces' diffusivities; :mod:`tissue.solver` builds the step's linear system from them.

:func:`finish_step` writes a step's result into the field: the solution at free voxels (negative
rounding residue clamped to 0), the fixed values, 0 at barriers. :func:`gradients` samples the
gradients of several fields at the cells' voxels (chemotaxis, rules on gradients). Each has a
NumPy reference and a CUDA twin (``gpu_kernels/diffusion.cu``) that give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
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


# --- NumPy reference ----------------------------------------------------------------


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


def finish_step(op: DiffusionOperator, c: Any, x: Any) -> None:
    """Write the step's result on the arrays' backend (see finish_step_numpy)."""
    (finish_step_cuda if on_device(c) else finish_step_numpy)(op, c, x)


def gradients_numpy(
    stack: np.ndarray,
    fields: list[int],
    mask: np.ndarray,
    ijk: np.ndarray,
    spacing_xyz_um: tuple[float, float, float],
) -> np.ndarray:
    """Gradients (K, N, 3) float32 (x, y, z, units/um) of fields ``stack[fields[k]]``
    ((F, nz, ny, nx) float32) at voxels ``ijk`` ((N, 3) int64, (ix, iy, iz)): central
    differences, one-sided next to a voxel outside ``mask`` ((nz, ny, nx) bool, the tissue)
    or the grid's edge, 0 along an axis where the voxel has neither neighbour."""
    nz, ny, nx = mask.shape
    upper = (nx, ny, nz)
    out = np.zeros((len(fields), ijk.shape[0], 3), dtype=np.float32)
    ix, iy, iz = ijk[:, 0], ijk[:, 1], ijk[:, 2]
    for axis in range(3):
        step = [0, 0, 0]
        step[axis] = 1
        lo_ok = ijk[:, axis] > 0
        hi_ok = ijk[:, axis] < upper[axis] - 1
        lo = [np.where(lo_ok, ijk[:, a] - step[a], ijk[:, a]) for a in range(3)]
        hi = [np.where(hi_ok, ijk[:, a] + step[a], ijk[:, a]) for a in range(3)]
        lo_ok &= mask[lo[2], lo[1], lo[0]]
        hi_ok &= mask[hi[2], hi[1], hi[0]]
        span = (lo_ok.astype(np.float32) + hi_ok.astype(np.float32)) * F32(spacing_xyz_um[axis])
        divisor = np.maximum(span, F32(1e-30))
        for k, f in enumerate(fields):
            c = stack[f]
            centre = c[iz, iy, ix]
            c_lo = np.where(lo_ok, c[lo[2], lo[1], lo[0]], centre)
            c_hi = np.where(hi_ok, c[hi[2], hi[1], hi[0]], centre)
            out[k, :, axis] = np.where(span > 0, (c_hi - c_lo) / divisor, F32(0))
    return out


def gradients_cuda(
    stack: Any,
    fields: list[int],
    mask: Any,
    ijk: Any,
    spacing_xyz_um: tuple[float, float, float],
) -> Any:
    """CUDA twin of :func:`gradients_numpy` (one launch for all the fields)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("stack", stack, cupy.float32, ndim=4)
    check_array("mask", mask, cupy.bool_, shape=stack.shape[1:])
    check_array("ijk", ijk, cupy.int64, ndim=2)
    nz, ny, nx = mask.shape
    n = ijk.shape[0]
    out = cupy.empty((len(fields), n, 3), dtype=cupy.float32)
    dx, dy, dz = (np.float32(s) for s in spacing_xyz_um)
    launch_1d(
        "diffusion.cu",
        "gradients",
        n,
        (stack, _field_indices(cupy, tuple(fields)), np.int32(len(fields)), mask, ijk, np.int64(n),
         np.int32(nz), np.int32(ny), np.int32(nx), dx, dy, dz, out),
    )  # fmt: skip
    return out


@cache
def _field_indices(xp: Any, fields: tuple[int, ...]) -> Any:
    """The (K,) int32 array of field indices on ``xp`` (copied once per set of fields)."""
    return xp.asarray(fields, dtype=xp.int32)


def gradients(
    stack: Any,
    fields: list[int],
    mask: Any,
    ijk: Any,
    spacing_xyz_um: tuple[float, float, float],
) -> Any:
    """The fields' gradients at the voxels on the arrays' backend (see gradients_numpy)."""
    run = gradients_cuda if on_device(stack) else gradients_numpy
    return run(stack, fields, mask, ijk, spacing_xyz_um)
