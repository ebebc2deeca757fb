"""Oracles for the field solver that share no code with it: the backward-Euler step of a
field's discrete system assembled as a SciPy sparse matrix in float64, solved directly
(``exact_step``) or by PyAMG (``amg_step``), and the exact solution of the semi-discrete
equation dc/dt = S - loss c + div(D grad c) over a span (``exact_evolution``).

The tests (tests/validation/test_solver.py) and the diffusion benchmark use them. SciPy and
PyAMG are imported where used, so importing this module needs neither (the GPU machine has
no SciPy); :func:`scipy_missing` says why a reference cannot be computed."""

from __future__ import annotations

from typing import Any

import numpy as np

from tissue.backend import to_numpy
from tissue.kernels.diffusion import FIXED, FREE, DiffusionOperator


def scipy_missing() -> str | None:
    """None when SciPy imports, else the reason (for a benchmark result's ``skipped``)."""
    try:
        import scipy.sparse.linalg  # noqa: F401
    except ImportError as error:
        return f"SciPy is not installed ({error})"
    return None


def step_system(
    op: DiffusionOperator, c_old: Any, source: Any, loss: Any, dt: float
) -> tuple[Any, np.ndarray]:
    """The matrix (SciPy CSR) and right-hand side of [(1 + dt loss) - dt div(D grad)] c =
    c_old + dt S at free voxels, with identity rows holding fixed values (and 0 at
    barriers), float64; ``source`` (units/min) and ``loss`` (1/min) are (nz, ny, nx)."""
    import scipy.sparse as sp

    cls, value = (to_numpy(a) for a in op.classes())
    shape, n = cls.shape, cls.size
    index = np.arange(n).reshape(shape)
    free = (cls == FREE).ravel()
    diagonal = 1 + dt * to_numpy(loss).astype(np.float64).ravel()
    rows, cols, values = [], [], []
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        k = to_numpy(op.face_diffusivity(axis)).astype(np.float64) * float(
            op.inv_spacing2_zyx[axis]
        )
        p, q = index[tuple(lo)].ravel(), index[tuple(hi)].ravel()
        for a, b in ((p, q), (q, p)):
            rows.append(a)
            cols.append(b)
            values.append(-dt * k.ravel())
            np.add.at(diagonal, a, dt * k.ravel())
    coupling = sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    matrix = sp.diags(free.astype(float)) @ (coupling + sp.diags(diagonal))
    matrix = matrix + sp.diags((~free).astype(float))
    rhs = (
        to_numpy(c_old).astype(np.float64).ravel()
        + dt * to_numpy(source).astype(np.float64).ravel()
    )
    pinned = np.where(cls.ravel() == FIXED, value.ravel().astype(np.float64), 0.0)
    return matrix.tocsr(), np.where(free, rhs, pinned)


def exact_step(op: DiffusionOperator, c_old: Any, source: Any, loss: Any, dt: float) -> Any:
    """The exact backward-Euler step (a direct sparse solve), (nz, ny, nx) float64."""
    import scipy.sparse.linalg as spl

    matrix, rhs = step_system(op, c_old, source, loss, dt)
    return spl.spsolve(matrix.tocsc(), rhs).reshape(op.labels.shape)


def amg_step(op: DiffusionOperator, c_old: Any, source: Any, loss: Any, dt: float) -> Any:
    """The backward-Euler step solved by PyAMG (smoothed aggregation with CG, relative
    residual 1e-12), (nz, ny, nx) float64."""
    import pyamg
    import scipy.sparse as sp

    matrix, rhs = step_system(op, c_old, source, loss, dt)
    cls = to_numpy(op.classes()[0]).ravel()
    pinned = (cls != FREE).astype(float)
    # a symmetric system: the couplings to fixed values moved to the right-hand side
    moved = np.where(pinned > 0, rhs, rhs - matrix @ (rhs * pinned))
    keep = sp.diags(1 - pinned)
    symmetric = keep @ matrix @ keep + sp.diags(pinned)
    solver = pyamg.smoothed_aggregation_solver(symmetric.tocsr())
    x = solver.solve(moved, tol=1e-12, accel="cg", maxiter=500)
    return x.reshape(op.labels.shape)


def exact_evolution(
    op: DiffusionOperator, c_start: Any, source: Any, loss: Any, span: float
) -> Any:
    """The exact solution of the semi-discrete equation dc/dt = load - K c at free voxels
    after ``span`` min from ``c_start`` with source and loss held, (nz, ny, nx) float64.

    SciPy's ``expm_multiply`` of the augmented system d/dt [c, tau] = [-K c + load tau / s,
    0] from [c_start, s] (tau = s throughout), which needs no solve of K (a direct solve of
    a 3-D grid fills in: minutes at 48^3). The scale s = ||load||_1 / ||K||_1 keeps the
    load column's norm near K's, so the step count does not grow with the load.
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spl

    # the step system at dt = 1 is I + K on free rows: K is its free block minus I
    matrix, rhs = step_system(op, np.zeros(op.labels.shape), source, loss, 1.0)
    cls = to_numpy(op.classes()[0]).ravel()
    free = np.flatnonzero(cls == FREE)
    pinned = rhs.copy()
    pinned[free] = 0.0
    block = matrix[free][:, free] - sp.identity(free.size, format="csr")
    load = rhs[free] - (matrix[free] @ pinned)  # source plus fixed neighbours' values
    start = to_numpy(c_start).astype(np.float64).ravel()[free]
    scale = float(np.abs(load).sum()) / float(spl.onenormest(block)) or 1.0
    augmented = sp.bmat(
        [[-block, sp.csr_matrix(load[:, None] / scale)], [None, sp.csr_matrix((1, 1))]]
    )
    out = pinned
    out[free] = spl.expm_multiply(span * augmented.tocsc(), np.append(start, scale))[:-1]
    return out.reshape(op.labels.shape)
