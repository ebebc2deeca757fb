"""CUDA kernels against their NumPy references, and whole runs on GPU against CPU.

Kernels are compiled without FMA contraction and sum in a fixed order, so each must equal
its reference bit for bit on fresh random inputs. Whole runs differ only through sin/cos
in random directions (a few ulp apart between libraries): fields must agree to float32
rounding over a short run and cell counts exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import requires_gpu
from tests.kernel_cases import contact_case, deposit_case, diffusion_operator, multigrid_case

pytestmark = [pytest.mark.gpu, requires_gpu]


@pytest.fixture(scope="module")
def cp():
    import cupy

    return cupy


def test_philox_bits_identical(cp) -> None:
    from tissue.kernels.random import philox4x32_cuda, philox4x32_numpy

    rng = np.random.default_rng(0)
    counters = rng.integers(0, 2**32, size=(100_000, 4), dtype=np.uint64).astype(np.uint32)
    counters[:3] = [[0, 0, 0, 0], [0xFFFFFFFF] * 4, [0x243F6A88, 0x85A308D3, 0x13198A2E,
                                                       0x03707344]]  # fmt: skip
    for key in [(0, 0), (0xA4093822, 0x299F31D0), (12345, 678)]:
        gpu = philox4x32_cuda(cp.asarray(counters), key).get()
        np.testing.assert_array_equal(gpu, philox4x32_numpy(counters, key))


def test_philox_uniform_identical(cp) -> None:
    from tissue.kernels.random import philox_uniform_cuda, philox_uniform_numpy

    ids = np.random.default_rng(1).integers(0, 2**62, size=50_000, dtype=np.int64)
    cases = [(0, 1, 0, 0), (123456, 3, 2**40 + 7, 1), (2**32 - 1, 64, 99, 0xFFFF)]
    for step, purpose, seed, block in cases:
        gpu = philox_uniform_cuda(cp.asarray(ids), step, purpose, seed, block).get()
        cpu = philox_uniform_numpy(ids, step, purpose, seed, block)
        np.testing.assert_array_equal(gpu, cpu)


def _operators(cp, seed: int):
    """The same DiffusionOperator on both backends."""
    return diffusion_operator(np, seed), diffusion_operator(cp, seed)


def test_conjugate_gradient_glue_identical(cp) -> None:
    """The fused CG updates and error bounds on the device equal NumPy bit for bit, on a
    small batch and on fields of more than 256 lanes."""
    import tissue.kernels.multigrid as mg

    rng = np.random.default_rng(12)
    for shape in [(3, 6, 7, 9), (2, 9, 360, 400)]:
        x, r, p, q, z, offset, mass = (
            rng.standard_normal(shape).astype(np.float32) for _ in range(7)
        )
        mass = np.abs(mass) + np.float32(0.5)
        free = rng.random(shape) < 0.8
        a, b = (rng.standard_normal(shape[0]).astype(np.float32) for _ in range(2))
        device = {k: cp.asarray(v) for k, v in dict(x=x, r=r, p=p, q=q, z=z, a=a, b=b).items()}
        want = mg.error_bounds_numpy(r, mass, free, offset, x)
        got = mg.error_bounds_cuda(device["r"], cp.asarray(mass), cp.asarray(free),
                                   cp.asarray(offset), device["x"])  # fmt: skip
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g.get(), w)
        mg.cg_step_numpy(x, r, p, q, a)
        mg.cg_step_cuda(device["x"], device["r"], device["p"], device["q"], device["a"])
        np.testing.assert_array_equal(device["x"].get(), x)
        np.testing.assert_array_equal(device["r"].get(), r)
        mg.cg_direction_numpy(p, z, b)
        mg.cg_direction_cuda(device["p"], device["z"], device["b"])
        np.testing.assert_array_equal(device["p"].get(), p)


@pytest.mark.parametrize("level_index", [0, 1])
def test_multigrid_kernels_identical(cp, level_index: int) -> None:
    """Each multigrid kernel on the device equals its NumPy reference bit for bit."""
    import tissue.kernels.multigrid as mg

    cpu_h, cpu_v = multigrid_case(np, 5)
    gpu_h, _ = multigrid_case(cp, 5)
    cpu_level, gpu_level = cpu_h.levels[level_index], gpu_h.levels[level_index]
    shape = cpu_level.shape
    index = tuple(slice(n) for n in shape)
    r, e = (np.where(cpu_level.free, a[index], np.float32(0)) for a in cpu_v[:2])
    dt, omega = np.float32(0.7), np.float32(0.8)
    for numpy_kernel, cuda_kernel, args in [
        (mg.operator_numpy, mg.operator_cuda, (e, dt)),
        (mg.residual_numpy, mg.residual_cuda, (r, e, dt)),
        (mg.jacobi_numpy, mg.jacobi_cuda, (r, e, dt, omega)),
        (mg.jacobi_first_numpy, mg.jacobi_first_cuda, (r, omega)),
    ]:
        ref = np.full(shape, np.nan, np.float32)
        out = cp.full(shape, np.nan, cp.float32)
        numpy_kernel(cpu_level, *args, ref)
        device_args = tuple(cp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
        cuda_kernel(gpu_level, *device_args, out)
        np.testing.assert_array_equal(out.get(), ref, err_msg=numpy_kernel.__name__)
    coarse = (shape[0], *((n + 1) // 2 for n in shape[1:]))
    ref = np.full(coarse, np.nan, np.float32)
    out = cp.full(coarse, np.nan, cp.float32)
    mg.restrict_numpy(r, ref)
    mg.restrict_cuda(cp.asarray(r), out)
    np.testing.assert_array_equal(out.get(), ref)
    parent = np.ascontiguousarray(r[:, ::2, ::2, ::2])
    ref, out = e.copy(), cp.asarray(e)
    mg.prolong_add_numpy(ref, parent, cpu_level.free, np.float32(1.5))
    mg.prolong_add_cuda(out, cp.asarray(parent), gpu_level.free, np.float32(1.5))
    np.testing.assert_array_equal(out.get(), ref)
    np.testing.assert_array_equal(
        mg.dot_partials_cuda(cp.asarray(r), cp.asarray(e)).get(), mg.dot_partials_numpy(r, e)
    )
    if level_index == 0:
        c, source, loss = cpu_v[2:]
        ref = np.full(shape, np.nan, np.float32)
        out = cp.full(shape, np.nan, cp.float32)
        mg.defect_numpy(cpu_h.conductances, cpu_level.free, c, source, loss, dt, ref)
        mg.defect_cuda(gpu_h.conductances, gpu_level.free, *(cp.asarray(a) for a in
                       (c, source, loss)), dt, out)  # fmt: skip
        np.testing.assert_array_equal(out.get(), ref)


def test_finish_step_identical(cp) -> None:
    from tissue.kernels.diffusion import finish_step_cuda, finish_step_numpy

    rng = np.random.default_rng(4)
    op_cpu, op_gpu = _operators(cp, 4)
    x = rng.normal(size=op_cpu.labels.shape).astype(np.float32)
    cpu = np.full_like(x, np.nan)
    gpu = cp.full(x.shape, np.nan, cp.float32)
    finish_step_numpy(op_cpu, cpu, x)
    finish_step_cuda(op_gpu, gpu, cp.asarray(x))
    np.testing.assert_array_equal(gpu.get(), cpu)


@pytest.mark.parametrize("n", [1, 2000, 40_000])
def test_pair_velocity_identical(cp, n: int) -> None:
    from tissue.kernels.cells import build_cell_grid, pair_velocity_cuda, pair_velocity_numpy

    rng = np.random.default_rng(5)
    box = 10.0 * n ** (1 / 3) + 20
    positions = rng.uniform(0, box, size=(n, 3)).astype(np.float32)
    positions[n // 2 :: 7] = positions[n // 2 - 1 :: 7][: len(positions[n // 2 :: 7])]
    columns = [rng.uniform(lo, hi, n).astype(np.float32)
               for lo, hi in ((4, 9), (0, 20), (0, 2), (1.0, 1.5))]  # fmt: skip
    extent = (box, box, box)
    cpu_grid = build_cell_grid(np, positions, (0, 0, 0), extent, 27.0)
    gpu_grid = build_cell_grid(cp, cp.asarray(positions), (0, 0, 0), extent, 27.0)
    np.testing.assert_array_equal(gpu_grid.order.get(), cpu_grid.order)
    np.testing.assert_array_equal(gpu_grid.bin_start.get(), cpu_grid.bin_start)
    cpu = pair_velocity_numpy(positions, *columns, cpu_grid)
    gpu = pair_velocity_cuda(cp.asarray(positions), *(cp.asarray(a) for a in columns), gpu_grid)
    np.testing.assert_array_equal(gpu.get(), cpu)
    cell_type = rng.integers(0, 3, n).astype(np.int16)  # adhesion affinities by type
    affinity = rng.uniform(0, 3, (3, 3)).astype(np.float32)
    cpu = pair_velocity_numpy(positions, *columns, cpu_grid, cell_type, affinity)
    gpu = pair_velocity_cuda(cp.asarray(positions), *(cp.asarray(a) for a in columns), gpu_grid,
                             cp.asarray(cell_type), cp.asarray(affinity))  # fmt: skip
    np.testing.assert_array_equal(gpu.get(), cpu)
    occupied = rng.random(n) < 0.8  # with vacant rows, as a device's cell store has
    cpu_grid = build_cell_grid(np, positions, (0, 0, 0), extent, 27.0, occupied)
    gpu_grid = build_cell_grid(
        cp, cp.asarray(positions), (0, 0, 0), extent, 27.0, cp.asarray(occupied)
    )
    cpu = pair_velocity_numpy(positions, *columns, cpu_grid)
    gpu = pair_velocity_cuda(cp.asarray(positions), *(cp.asarray(a) for a in columns), gpu_grid)
    np.testing.assert_array_equal(gpu.get(), cpu)


def test_deposit_identical(cp) -> None:
    from tissue.kernels.cells import deposit_cuda, deposit_numpy

    rng = np.random.default_rng(6)
    voxel = rng.integers(0, 300, size=20_000).astype(np.int64)
    voxel[::9] = 400  # vacant rows: left out
    values = rng.normal(size=(20_000, 5)).astype(np.float32)
    np.testing.assert_array_equal(
        deposit_cuda(cp.asarray(voxel), cp.asarray(values), 400).get(),
        deposit_numpy(voxel, values, 400),
    )


def test_count_contacts_and_choose_targets_identical(cp) -> None:
    from tissue.kernels.cells import build_cell_grid
    from tissue.kernels.contacts import (
        choose_targets_cuda,
        choose_targets_numpy,
        count_contacts_cuda,
        count_contacts_numpy,
        simple_pressure_cuda,
        simple_pressure_numpy,
    )

    n, box_um = 20_000, 260.0
    case = contact_case(12, n, box_um)
    positions, reach, cell_type, state, occupied = case.values()
    rng = np.random.default_rng(12)
    extent = (box_um,) * 3
    cpu_grid = build_cell_grid(np, positions, (0, 0, 0), extent, 22.0, occupied)
    gpu_grid = build_cell_grid(
        cp, cp.asarray(positions), (0, 0, 0), extent, 22.0, cp.asarray(occupied)
    )
    on = [cp.asarray(a) for a in (positions, reach, cell_type, state)]
    for query, target, live in ((0, 1, True), (2, 2, True), (0, 1, False)):
        q, t = np.int16(query), np.int16(target)
        np.testing.assert_array_equal(
            count_contacts_cuda(*on, q, t, gpu_grid, live).get(),
            count_contacts_numpy(positions, reach, cell_type, state, q, t, cpu_grid, live),
        )
    np.testing.assert_array_equal(
        simple_pressure_cuda(on[0], on[1], gpu_grid).get(),
        simple_pressure_numpy(positions, reach, cpu_grid),
    )
    score = np.where(state == 0, rng.uniform(0, 1, n), 0).astype(np.float32)
    ids = np.arange(n, dtype=np.int64)
    free = (cell_type == 0) & (rng.random(n) < 0.5)
    u = rng.uniform(0, 1, n).astype(np.float32)
    box = np.zeros(n, np.int64)
    args = (positions, reach, score, box, ids, free, u)
    ref = choose_targets_numpy(*args, cpu_grid, np.float32(np.inf))
    out = choose_targets_cuda(*(cp.asarray(a) for a in args), gpu_grid, np.float32(np.inf))
    for a, b in zip(out, ref, strict=True):
        np.testing.assert_array_equal(a.get(), b)


def test_sparse_deposit_identical(cp) -> None:
    from tissue.kernels.cells import VoxelSums

    n_voxels = 400_000
    voxel, values, start = deposit_case(14, 200_000, n_voxels, 4, vacant_every=9)
    cpu = VoxelSums.of(voxel, values, n_voxels)
    gpu = VoxelSums.of(cp.asarray(voxel), cp.asarray(values), n_voxels)
    for column in range(4):
        ref, out = start.copy(), cp.asarray(start)
        cpu.add_to(column, ref)
        gpu.add_to(column, out)
        np.testing.assert_array_equal(out.get(), ref)


def test_launchers_refuse_bad_arguments(cp) -> None:
    from tissue.kernels.cells import deposit_cuda

    with pytest.raises(TypeError, match="dtype int64"):
        deposit_cuda(cp.zeros(4, cp.int32), cp.zeros((4, 1), cp.float32), 4)
    with pytest.raises(ValueError, match="C-contiguous"):
        deposit_cuda(cp.zeros(4, cp.int64), cp.zeros((1, 4), cp.float32).T, 4)


def test_whole_run_gpu_matches_cpu() -> None:
    from tissue.config import load_scenario
    from tissue.simulation import Simulation

    scenario = load_scenario("spheroid", {"initial_cells.0.radius_um": 80.0})
    runs = {}
    for name in ("cpu", "gpu"):
        sim = Simulation(scenario, backend=name, seed=4)
        sim.step(600)  # one hour: ten phenotype steps, sixty diffusion steps
        runs[name] = sim
    cpu, gpu = (runs[k].organs["tissue"] for k in ("cpu", "gpu"))
    assert gpu.cells.n == cpu.cells.n
    np.testing.assert_array_equal(gpu.cells.id.get(), cpu.cells.id)
    np.testing.assert_allclose(gpu.fields.values["oxygen"].get(), cpu.fields.values["oxygen"],
                               rtol=1e-5)  # fmt: skip
    np.testing.assert_allclose(gpu.cells.position_um.get(), cpu.cells.position_um, atol=1e-3)
    obs_cpu, obs_gpu = runs["cpu"].observables(), runs["gpu"].observables()
    for key, value in obs_cpu.items():
        assert obs_gpu[key] == pytest.approx(value, rel=1e-4), key


def test_metastasis_model_on_gpu_matches_cpu() -> None:
    """The busy metastasis model (blood, recruitment, rules, transitions, interventions)
    for a quarter of a day: the blood and ledger counters equal, cell counts per type equal,
    fields to float32 rounding over the run."""
    from tests.test_metastasis import busy_model
    from tissue.backend import to_numpy

    runs = {b: busy_model(b) for b in ("cpu", "gpu")}
    for sim in runs.values():
        sim.step(120)
    cpu, gpu = runs["cpu"], runs["gpu"]
    assert cpu.body.ledger() == gpu.body.ledger()
    assert cpu.body.ctc == gpu.body.ctc
    for name, organ in cpu.organs.items():
        other = gpu.organs[name]
        np.testing.assert_array_equal(
            np.bincount(to_numpy(organ.cells.type), minlength=8),
            np.bincount(to_numpy(other.cells.type), minlength=8),
        )
        for field in organ.fields.names:
            a, b = to_numpy(organ.fields[field]), to_numpy(other.fields[field])
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6 * max(1.0, float(a.max())))
