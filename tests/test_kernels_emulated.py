"""The CUDA kernels, run on the host through the real launchers, against the NumPy
references: bit for bit, kernel by kernel and over a whole simulation."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pytest

import gpu_kernels.loader
import tissue.kernels.cells
import tissue.kernels.cg
import tissue.kernels.contacts
import tissue.kernels.diffusion
import tissue.kernels.multigrid
import tissue.kernels.random
from tests import emulator
from tests.kernel_cases import (
    contact_case,
    deposit_case,
    diffusion_operator,
    multigrid_case,
)

KERNEL_MODULES = (
    tissue.kernels.cells,
    tissue.kernels.cg,
    tissue.kernels.contacts,
    tissue.kernels.diffusion,
    tissue.kernels.multigrid,
    tissue.kernels.random,
)

pytestmark = pytest.mark.skipif(emulator.CXX is None, reason="no C++ compiler")


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch):
    """NumPy in the place of CuPy, and kernel launches run by the host emulator."""
    monkeypatch.setitem(sys.modules, "cupy", np)
    monkeypatch.setattr(gpu_kernels.loader, "launch_1d", emulator.launch_1d)
    for module in KERNEL_MODULES:
        monkeypatch.setattr(module, "on_device", lambda array: True)


def test_philox(emulated) -> None:
    from tissue.kernels.random import (
        philox4x32_cuda,
        philox4x32_numpy,
        philox_uniform_cuda,
        philox_uniform_numpy,
    )

    rng = np.random.default_rng(0)
    counters = rng.integers(0, 2**32, size=(5000, 4), dtype=np.uint64).astype(np.uint32)
    counters[0] = [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344]
    key = (0xA4093822, 0x299F31D0)
    bits = philox4x32_cuda(counters, key)
    np.testing.assert_array_equal(bits, philox4x32_numpy(counters, key))
    assert bits[0].tolist() == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]
    ids = rng.integers(0, 2**62, size=3000, dtype=np.int64)
    for step, purpose, seed, block in [(0, 1, 0, 0), (2**32 - 1, 64, 2**40 + 7, 3)]:
        np.testing.assert_array_equal(
            philox_uniform_cuda(ids, step, purpose, seed, block),
            philox_uniform_numpy(ids, step, purpose, seed, block),
        )
    assert not np.array_equal(philox_uniform_numpy(ids, 0, 1, 0, 1),
                              philox_uniform_numpy(ids, 0, 1, 0, 0))  # fmt: skip


def _operator_pair(seed: int):
    """Two copies of one operator: one for the reference, one for the kernel."""
    return diffusion_operator(np, seed), diffusion_operator(np, seed)


@pytest.mark.parametrize("level_index", [0, 1])
def test_multigrid_kernels(emulated, level_index: int) -> None:
    """Stencil, residual, Jacobi steps, restriction, prolongation and dot products on a fine
    and a coarse level of two batched random operators."""
    import tissue.kernels.multigrid as mg

    hierarchy, (r, e, c, source, loss) = multigrid_case(np, 5)
    level = hierarchy.levels[level_index]
    shape = level.shape
    r, e = (a[tuple(slice(n) for n in shape)].copy() for a in (r, e))
    r[~level.free] = 0
    e[~level.free] = 0
    dt, omega = np.float32(0.7), np.float32(0.8)
    for numpy_kernel, cuda_kernel, args in [
        (mg.operator_numpy, mg.operator_cuda, (e, dt)),
        (mg.residual_numpy, mg.residual_cuda, (r, e, dt)),
        (mg.jacobi_numpy, mg.jacobi_cuda, (r, e, dt, omega)),
        (mg.jacobi_first_numpy, mg.jacobi_first_cuda, (r, omega)),
    ]:
        ref, out = np.full(shape, np.nan, np.float32), np.full(shape, np.nan, np.float32)
        numpy_kernel(level, *args, ref)
        cuda_kernel(level, *args, out)
        np.testing.assert_array_equal(out, ref, err_msg=numpy_kernel.__name__)
    coarse = (shape[0], *((n + 1) // 2 for n in shape[1:]))
    ref, out = np.full(coarse, np.nan, np.float32), np.full(coarse, np.nan, np.float32)
    mg.restrict_numpy(r, ref)
    mg.restrict_cuda(r, out)
    np.testing.assert_array_equal(out, ref)
    ref, out = e.copy(), e.copy()
    mg.prolong_add_numpy(ref, r[:, ::2, ::2, ::2].copy(), level.free, np.float32(1.5))
    mg.prolong_add_cuda(out, r[:, ::2, ::2, ::2].copy(), level.free, np.float32(1.5))
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(mg.dot_partials_cuda(r, e), mg.dot_partials_numpy(r, e))
    if level_index == 0:
        k = hierarchy.conductances
        ref, out = np.full(shape, np.nan, np.float32), np.full(shape, np.nan, np.float32)
        mg.defect_numpy(k, level.free, c, source, loss, dt, ref)
        mg.defect_cuda(k, level.free, c, source, loss, dt, out)
        np.testing.assert_array_equal(out, ref)


def test_dot_products_of_large_fields_have_more_lanes(emulated) -> None:
    """A field of more than 256 x DOT_RUN elements is summed in more lanes (GPU threads),
    none longer than DOT_RUN; the kernel equals the reference bit for bit and the sum is the
    dot product to float64 rounding."""
    import tissue.kernels.multigrid as mg

    assert mg.dot_lanes(27_000) == mg.dot_lanes(256 * mg.DOT_RUN) == 256
    assert mg.dot_lanes(256 * mg.DOT_RUN + 1) == 257
    assert mg.dot_lanes(512**3) == 32_768
    rng = np.random.default_rng(11)
    a, b = (rng.standard_normal((2, 9, 360, 400)).astype(np.float32) for _ in range(2))
    ref = mg.dot_partials_numpy(a, b)
    assert ref.shape == (2, mg.dot_lanes(9 * 360 * 400)) == (2, 317)
    np.testing.assert_array_equal(mg.dot_partials_cuda(a, b), ref)
    exact = np.einsum("fi,fi->f", a.reshape(2, -1).astype(np.float64), b.reshape(2, -1))
    np.testing.assert_allclose(ref.sum(axis=1), exact, rtol=1e-12)


def test_conjugate_gradient_glue(emulated) -> None:
    """The fused CG updates and the error bounds equal their references bit for bit, on
    fields of 256 lanes and of more, with a NaN propagated as NumPy's max does."""
    import tissue.kernels.multigrid as mg

    rng = np.random.default_rng(12)
    for shape in [(3, 6, 7, 9), (2, 9, 360, 400)]:
        x, r, p, q, z, offset, mass = (
            rng.standard_normal(shape).astype(np.float32) for _ in range(7)
        )
        free = rng.random(shape) < 0.8
        a, b = (rng.standard_normal(shape[0]).astype(np.float32) for _ in range(2))
        ref, out = (x.copy(), r.copy()), (x.copy(), r.copy())
        mg.cg_step_numpy(*ref, p, q, a)
        mg.cg_step_cuda(*out, p, q, a)
        for got, want in zip(out, ref, strict=True):
            np.testing.assert_array_equal(got, want)
        ref_p, out_p = p.copy(), p.copy()
        mg.cg_direction_numpy(ref_p, z, b)
        mg.cg_direction_cuda(out_p, z, b)
        np.testing.assert_array_equal(out_p, ref_p)
        mass = np.abs(mass) + np.float32(0.5)
        want = mg.error_bounds_numpy(r, mass, free, offset, x)
        got = mg.error_bounds_cuda(r, mass, free, offset, x)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
        r[0, 1, 2, 3] = np.nan
        got, want = (
            mg.error_bounds_cuda(r, mass, free, offset, x),
            mg.error_bounds_numpy(r, mass, free, offset, x),
        )
        assert np.isnan(got[0][0])
        assert np.isnan(want[0][0])
        np.testing.assert_array_equal(got[0][1:], want[0][1:])
        np.testing.assert_array_equal(got[1], want[1])


def test_finish_step(emulated) -> None:
    from tissue.kernels.diffusion import finish_step_cuda, finish_step_numpy

    rng = np.random.default_rng(4)
    op_ref, op_kernel = _operator_pair(4)
    x = rng.normal(size=op_ref.labels.shape).astype(np.float32)
    ref = np.full_like(x, np.nan)
    out = np.full_like(x, np.nan)
    finish_step_numpy(op_ref, ref, x)
    finish_step_cuda(op_kernel, out, x)
    np.testing.assert_array_equal(out, ref)


def test_gradients(emulated) -> None:
    """Three random fields on a grid with random barriers, sampled at every voxel (edges and
    walled-in voxels included) for two of them, in reverse order."""
    from tissue.kernels.diffusion import gradients_cuda, gradients_numpy

    rng = np.random.default_rng(9)
    shape = (5, 7, 9)
    stack = rng.normal(size=(3, *shape)).astype(np.float32)
    mask = rng.random(shape) < 0.7
    iz, iy, ix = np.indices(shape).reshape(3, -1)
    ijk = np.stack([ix, iy, iz], axis=1).astype(np.int64)
    spacing = (2.5, 4.0, 7.0)
    want = gradients_numpy(stack, [2, 0], mask, ijk, spacing)
    np.testing.assert_array_equal(gradients_cuda(stack, [2, 0], mask, ijk, spacing), want)
    assert np.count_nonzero(want == 0) < want.size // 2  # most voxels have a neighbour


def test_cut_moves(emulated) -> None:
    """Moves of three types (and vacant rows, type -1) across a grid of random labels, some
    of which a type may not enter, from inside to inside, to walls and out of the box."""
    from tissue.grid import Grid
    from tissue.kernels.cells import cut_moves_cuda, cut_moves_numpy

    rng = np.random.default_rng(12)
    grid = Grid((4, 6, 8), (10.0, 12.5, 20.0), (-30.0, 5.0, 0.0))
    labels = rng.integers(0, 4, grid.shape_zyx).astype(np.uint8)
    allowed = rng.random((3, 256)) < 0.6
    n = 4000
    lo = np.array(grid.origin_xyz_um, np.float32)
    hi = lo + np.array(grid.extent_xyz_um, np.float32)
    old = rng.uniform(lo, hi, (n, 3)).astype(np.float32)
    new = (old + rng.normal(0, 15.0, (n, 3))).astype(np.float32)
    new[:10] = old[:10]
    cell_type = rng.integers(-1, 3, n).astype(np.int16)
    want = cut_moves_numpy(old, new, cell_type, labels, allowed, grid)
    np.testing.assert_array_equal(cut_moves_cuda(old, new, cell_type, labels, allowed, grid), want)
    moved = np.all(want == new, axis=1)
    stayed = np.all(want == old, axis=1)
    assert 0 < moved.sum() < n - stayed.sum()  # some moves taken whole, some cut


def test_unit_rows(emulated) -> None:
    """Rows of every scale (squares that underflow and overflow float32 included), zero
    rows and rows whose squares add differently in another order."""
    from tissue.kernels.cells import unit_rows_cuda, unit_rows_numpy

    rng = np.random.default_rng(13)
    scale = np.float32(10) ** rng.integers(-25, 25, size=(5000, 3)).astype(np.float32)
    v = (rng.normal(size=(5000, 3)) * scale).astype(np.float32)
    v[:20] = 0
    v[20] = [3, 4, 0]
    with np.errstate(over="ignore"):  # squares past float32's range: an infinite length
        want = unit_rows_numpy(v)
    np.testing.assert_array_equal(unit_rows_cuda(v), want)
    np.testing.assert_array_equal(want[:20], 0)
    np.testing.assert_allclose(want[20], [0.6, 0.8, 0], rtol=1e-6)


@pytest.mark.parametrize("first", [True, False])
def test_conjugate_gradient_record_and_scalars(emulated, first: bool) -> None:
    """The solver's per-iteration record and step scalars for a batch of four of five
    fields (one of them converged before), with bounds that are 0, NaN, above the cap and ordinary,
    and products that are 0, negative and NaN."""
    from tissue.kernels.cg import (
        CgState,
        cg_alpha_cuda,
        cg_alpha_numpy,
        cg_beta_cuda,
        cg_beta_numpy,
        cg_record_cuda,
        cg_record_numpy,
    )

    rng = np.random.default_rng(21)
    error = np.array([0.0, 3e-4, np.nan, 5.0], np.float32)
    scale = np.array([0.0, 2.0, 1.0, 1.0], np.float32)
    index = np.array([2, 0, 4, 3], np.int64)
    limit = np.array([1e-3, 1e-3, 1e-5, 1e-3])

    def state() -> CgState:
        return CgState(
            converged=np.array([False, True, False, True, False]),
            history=rng.uniform(0, 1, (6, 5)).astype(np.float32),
            bound=np.full(5, 7.0, np.float32),
            iterations=np.full(5, 9, np.int64),
            bound_max=1e30, reduction=0.1, floor=1e-7,
        )  # fmt: skip

    runs = []
    for kernel in (cg_record_numpy, cg_record_cuda):
        rng = np.random.default_rng(22)
        recorded = state()
        target = np.full(4, 2e-4) if not first else np.empty(4)
        now = kernel(error, scale, limit, target, index, recorded, 2, first)
        runs.append((now, target, recorded))
    (now, target, want), (got_now, got_target, got) = runs
    np.testing.assert_array_equal(got_now, now)
    np.testing.assert_array_equal(got_target, target)
    for name in ("converged", "history", "bound", "iterations"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    # a zero field with no residual has converged; field 0's bound 1.5e-4 meets the target
    # 2e-4 but not a first iteration's 1.5e-5 (0.1 of it); NaN never converges; field 3
    # had converged, and its record stays
    assert now.tolist() == [True, not first, False, True]
    assert want.bound[3] == 7.0
    assert want.iterations.tolist() == [2, 9, 2, 9, 2]  # fields 1 and 3 had converged
    assert want.converged.tolist() == [not first, True, True, True, False]
    pq = np.array([1.0, 0.0, -2.0, np.nan, 3.0])
    rz = np.array([2.0, 1.0, 1.0, 1.0, np.nan])
    flags = np.array([False, False, False, False, True])
    np.testing.assert_array_equal(cg_alpha_cuda(flags, pq, rz), cg_alpha_numpy(flags, pq, rz))
    np.testing.assert_array_equal(cg_beta_cuda(pq, rz), cg_beta_numpy(pq, rz))
    assert cg_alpha_numpy(flags, pq, rz).tolist() == [2.0, 0.0, 0.0, 0.0, 0.0]


def test_pair_velocity_and_deposit(emulated) -> None:
    from tissue.kernels.cells import (
        build_cell_grid,
        deposit_cuda,
        deposit_numpy,
        gather_bin_order_cuda,
        gather_bin_order_numpy,
        pair_velocity_cuda,
        pair_velocity_numpy,
    )

    rng = np.random.default_rng(5)
    n, box = 3000, 150.0
    positions = rng.uniform(0, box, size=(n, 3)).astype(np.float32)
    positions[100:110] = positions[200:210]  # coincident pairs are skipped
    columns = [rng.uniform(lo, hi, n).astype(np.float32)
               for lo, hi in ((4, 9), (0, 20), (0, 2), (1.0, 1.5))]  # fmt: skip
    cell_type = rng.integers(0, 3, n).astype(np.int16)
    grid = build_cell_grid(np, positions, (0, 0, 0), (box, box, box), 27.0)
    for out, ref in zip(
        gather_bin_order_cuda(grid, positions, *columns, cell_type),
        gather_bin_order_numpy(grid, positions, *columns, cell_type),
        strict=True,
    ):
        np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(
        pair_velocity_cuda(positions, *columns, grid),
        pair_velocity_numpy(positions, *columns, grid),
    )
    affinity = rng.uniform(0, 3, (3, 3)).astype(np.float32)
    typed = {"cell_type": cell_type, "affinity": affinity}
    with_table = pair_velocity_cuda(positions, *columns, grid, **typed)
    np.testing.assert_array_equal(
        with_table, pair_velocity_numpy(positions, *columns, grid, **typed)
    )
    assert not np.array_equal(with_table, pair_velocity_numpy(positions, *columns, grid))
    ones = {"cell_type": cell_type, "affinity": np.ones((3, 3), dtype=np.float32)}
    np.testing.assert_array_equal(  # a table of ones changes no bit
        pair_velocity_cuda(positions, *columns, grid, **ones),
        pair_velocity_numpy(positions, *columns, grid),
    )
    # vacant rows (a lazy cell store's): no velocity, and no effect on the cells
    occupied = rng.random(n) < 0.8
    sparse = build_cell_grid(np, positions, (0, 0, 0), (box, box, box), 27.0, occupied)
    velocity = pair_velocity_cuda(positions, *columns, sparse)
    np.testing.assert_array_equal(velocity, pair_velocity_numpy(positions, *columns, sparse))
    assert not velocity[~occupied].any()
    alone = build_cell_grid(np, positions[occupied], (0, 0, 0), (box, box, box), 27.0)
    only = pair_velocity_numpy(positions[occupied], *(c[occupied] for c in columns), alone)
    np.testing.assert_array_equal(velocity[occupied], only)
    voxel = rng.integers(0, 300, size=20_000).astype(np.int64)
    voxel[::9] = 400  # vacant rows' voxel: left out
    values = rng.normal(size=(20_000, 3)).astype(np.float32)
    for dtype in (np.float32, np.float64):
        typed = values.astype(dtype)
        sums = deposit_cuda(voxel, typed, 400)
        np.testing.assert_array_equal(sums, deposit_numpy(voxel, typed, 400))
        kept = voxel < 400
        np.testing.assert_array_equal(sums, deposit_numpy(voxel[kept], typed[kept], 400))


def test_sparse_deposit(emulated) -> None:
    """The sparse deposit adds each voxel's sum into a full array where cells are and
    leaves the other voxels (even a -0.0) as they were, through the kernel as through the
    reference; its sums equal the dense deposit's."""
    from tissue.kernels.cells import (
        deposit_add_cuda,
        deposit_add_numpy,
        deposit_numpy,
        voxel_sums_cuda,
        voxel_sums_numpy,
    )

    n_voxels = 5000
    voxel, values, start = deposit_case(13, 3000, n_voxels, 3, vacant_every=11)
    start[voxel[voxel < n_voxels].max() + 1 :] = -0.0
    empty = np.bincount(voxel, minlength=n_voxels + 1)[:n_voxels] == 0
    for column in range(3):
        ref, out = start.copy(), start.copy()
        deposit_add_numpy(voxel_sums_numpy(voxel, values, n_voxels), column, ref)
        deposit_add_cuda(voxel_sums_cuda(voxel, values, n_voxels), column, out)
        np.testing.assert_array_equal(out, ref, strict=True)
        assert np.signbit(out[empty]).tolist() == np.signbit(start[empty]).tolist()
        np.testing.assert_array_equal(out[empty], start[empty])
        dense = deposit_numpy(voxel, values, n_voxels)[column]
        np.testing.assert_array_equal(out[~empty], start[~empty] + dense[~empty])


def test_choose_targets(emulated) -> None:
    """Attackers among 2,000 cells pick the same target and distance through the kernel as
    through the reference, with and without a search box and a distance cap."""
    from tissue.kernels.cells import build_cell_grid
    from tissue.kernels.contacts import choose_targets_cuda, choose_targets_numpy

    rng = np.random.default_rng(8)
    n, box_um = 2000, 120.0
    positions = rng.uniform(0, box_um, size=(n, 3)).astype(np.float32)
    reach = rng.uniform(5, 11, n).astype(np.float32)
    score = np.where(rng.random(n) < 0.6, rng.uniform(0, 1, n), 0).astype(np.float32)
    ids = np.sort(rng.choice(10 * n, n, replace=False)).astype(np.int64)
    free = rng.random(n) < 0.3
    u = rng.uniform(0, 1, n).astype(np.float32)
    grid = build_cell_grid(np, positions, (0, 0, 0), (box_um,) * 3, 22.0)
    boxes = (np.floor(positions / 30).astype(np.int64) * [1, 1 << 21, 1 << 42]).sum(axis=1)
    for box, cap in ((np.zeros(n, np.int64), np.float32(np.inf)), (boxes, np.float32(14))):
        args = (positions, reach, score, box, ids, free, u, grid, cap)
        ref_chosen, ref_distance, ref_options = choose_targets_numpy(*args)
        chosen, distance, options = choose_targets_cuda(*args)
        assert (ref_chosen >= 0).sum() > 50
        assert ref_options.max() > 1
        np.testing.assert_array_equal(chosen, ref_chosen)
        np.testing.assert_array_equal(distance, ref_distance)
        np.testing.assert_array_equal(options, ref_options)


def test_count_contacts(emulated) -> None:
    """Contacts of every (query, target) pair of three types among 2,000 cells, some dead
    and some rows vacant: the kernel's counts equal the reference's, which equal a direct
    count over all pairs."""
    from tissue.kernels.cells import build_cell_grid
    from tissue.kernels.contacts import count_contacts_cuda, count_contacts_numpy

    n, box_um = 2000, 120.0
    positions, reach, cell_type, state, occupied = contact_case(11, n, box_um).values()
    grid = build_cell_grid(np, positions, (0, 0, 0), (box_um,) * 3, 22.0, occupied)
    gap = positions[:, None, :] - positions[None, :, :]
    distance = np.sqrt((gap[..., 0] ** 2 + gap[..., 1] ** 2) + gap[..., 2] ** 2)
    touching = (distance < reach[:, None] + reach[None, :]) & ~np.eye(n, dtype=bool)
    for query in range(3):
        for target in range(3):
            for live in (True, False):
                args = (positions, reach, cell_type, state, np.int16(query), np.int16(target),
                        grid, live)  # fmt: skip
                ref = count_contacts_numpy(*args)
                np.testing.assert_array_equal(count_contacts_cuda(*args), ref)
                counted = (cell_type == target) & ((state == 0) | (not live))
                direct = (touching & counted[None, :]).sum(axis=1)
                np.testing.assert_array_equal(ref, np.where(cell_type == query, direct, 0))
                assert ref.max() >= 3


def test_simple_pressure(emulated) -> None:
    """PhysiCell's simple pressure of 2,000 cells (some dead, some rows vacant): the kernel
    equals the reference bit for bit, and the reference a direct sum over all pairs."""
    from tissue.kernels.cells import build_cell_grid
    from tissue.kernels.contacts import simple_pressure_cuda, simple_pressure_numpy

    n, box_um = 2000, 120.0
    positions, radius, _, _, occupied = contact_case(13, n, box_um).values()
    grid = build_cell_grid(np, positions, (0, 0, 0), (box_um,) * 3, 22.0, occupied)
    ref = simple_pressure_numpy(positions, radius, grid)
    np.testing.assert_array_equal(simple_pressure_cuda(positions, radius, grid), ref)
    gap = positions[:, None, :] - positions[None, :, :]
    distance = np.sqrt((gap[..., 0] ** 2 + gap[..., 1] ** 2) + gap[..., 2] ** 2)
    reach = radius[:, None] + radius[None, :]
    both = occupied[:, None] & occupied[None, :] & ~np.eye(n, dtype=bool)
    q = np.where(both & (distance < reach), 1.0 - distance / reach, 0.0)
    direct = (q * q).sum(axis=1) / 0.027288820670331
    np.testing.assert_allclose(ref, direct, rtol=1e-5, atol=1e-7)
    assert ref.max() > 1.0


@pytest.mark.parametrize(
    "layout",
    [{"organs.tissue.shape": [12, 12, 12], "initial_cells.0.center_um": [120.0, 120.0, 120.0]},
     {"organs.tissue.shape": [24, 24, 1], "organs.tissue.two_d": True,
      "initial_cells.0.center_um": [240.0, 240.0, 10.0], "initial_cells.0.radius_um": 50.0}],
    ids=["3-D", "2-D"],
)  # fmt: skip
def test_whole_simulation_through_the_kernels_is_bit_identical(monkeypatch, layout) -> None:
    """The spheroid with motile chemotactic cells for 300 ticks, in 3-D and in one layer
    (2-D): every field and cell array equal with tolerance 0 whether the hot paths run as
    NumPy or as the CUDA sources (with a device's untrimmed cell store)."""
    from tissue.config import load_scenario
    from tissue.simulation import Simulation

    scenario = load_scenario(
        "spheroid",
        {"initial_cells.0.radius_um": 30.0, "cell_types.tumour.speed_um_per_min": 1.0,
         "cell_types.tumour.chemotaxis_field": "oxygen", "cell_types.tumour.chemotaxis_bias": 0.5,
         "cell_types.tumour.cycle_rate_per_min": 0.01, **layout},
    )  # fmt: skip

    def run(lazy: bool = False) -> dict[str, np.ndarray]:
        sim = Simulation(scenario, backend="cpu", seed=9)
        for organ in sim.organs.values():
            organ.cells.lazy = lazy  # the kernels see vacant rows, as on a GPU
        sim.step(300)
        organ = sim.organs["tissue"]
        return {**organ.cells.to_numpy(), "oxygen": organ.fields.values["oxygen"].copy()}

    reference, kernels = both_ways(monkeypatch, run)
    placed = Simulation(scenario, backend="cpu", seed=9).organs["tissue"].cells.n
    assert reference["id"].size > placed  # divisions happened
    for key, value in reference.items():
        np.testing.assert_array_equal(kernels[key], value, err_msg=key)


def both_ways(
    monkeypatch: pytest.MonkeyPatch, run: Callable[..., dict[str, np.ndarray]]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``run()`` through NumPy, then ``run(lazy=True)`` with the kernels' CUDA sources run by
    the host emulator (a device's untrimmed cell store)."""
    reference = run()
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "cupy", np)
        patch.setattr(gpu_kernels.loader, "launch_1d", emulator.launch_1d)
        for module in KERNEL_MODULES:
            patch.setattr(module, "on_device", lambda array: True)
        return reference, run(lazy=True)


def test_phagocytosis_through_the_kernels_is_bit_identical(monkeypatch) -> None:
    """Eaters among dying prey (tests/test_phagocytosis.py) for 120 ticks: every cell array
    equal whether the contact counts and target choices run as NumPy or as the CUDA
    sources (with a device's untrimmed cell store)."""
    from tests.test_phagocytosis import lively
    from tissue.simulation import Simulation

    def run(lazy: bool = False) -> dict[str, np.ndarray]:
        sim = Simulation(lively(), backend="cpu", seed=10)
        sim.organs["box"].cells.lazy = lazy
        sim.step(120)
        return sim.organs["box"].cells.to_numpy()

    reference, kernels = both_ways(monkeypatch, run)
    assert (reference["engulfed_solid_um3"] > 0).sum() >= 3  # cells were eaten
    for key, value in reference.items():
        np.testing.assert_array_equal(kernels[key], value, err_msg=key)
