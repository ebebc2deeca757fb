"""Philox4x32-10 counter-based random numbers keyed by (seed, step, cell id, purpose).

The counter of one draw is ``(id & 0xffffffff, id >> 32, step, purpose << 16 | block)``
and the key is the 64-bit seed split in two words, so a cell's numbers depend only on
what it is and when, never on array order or thread count. ``gpu_kernels/philox.cuh``
implements the same bits; tests check both against Random123's known answers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tissue.kernels import on_device

PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
ROUNDS = 10
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


def philox4x32_numpy(counter: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox4x32-10 of each counter row.

    Args:
        counter: (N, 4) uint32 counters.
        key: two 32-bit key words.

    Returns:
        (N, 4) uint32 random words.
    """
    counter = np.asarray(counter, dtype=np.uint32)
    c0, c1, c2, c3 = (counter[:, i].astype(np.uint64) for i in range(4))
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for round_index in range(ROUNDS):
        if round_index:
            k0 = (k0 + PHILOX_W0) & 0xFFFFFFFF
            k1 = (k1 + PHILOX_W1) & 0xFFFFFFFF
        p0 = c0 * PHILOX_M0
        p1 = c2 * PHILOX_M1
        c0, c1, c2, c3 = (
            (p1 >> _SHIFT32) ^ c1 ^ np.uint64(k0),
            p1 & _MASK32,
            (p0 >> _SHIFT32) ^ c3 ^ np.uint64(k1),
            p0 & _MASK32,
        )
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def seed_key(seed: int) -> tuple[int, int]:
    """The Philox key of a non-negative 64-bit seed."""
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed & 0xFFFFFFFF, seed >> 32


def cell_counters(ids: np.ndarray, step: int, purpose: int, block: int = 0) -> np.ndarray:
    """(N, 4) uint32 counters of cells ``ids`` (int64) at ``step`` for ``purpose``."""
    ids = np.asarray(ids, dtype=np.int64).view(np.uint64)
    counter = np.empty((ids.shape[0], 4), dtype=np.uint32)
    counter[:, 0] = (ids & _MASK32).astype(np.uint32)
    counter[:, 1] = (ids >> _SHIFT32).astype(np.uint32)
    counter[:, 2] = np.uint32(step & 0xFFFFFFFF)
    counter[:, 3] = np.uint32(((purpose & 0xFFFF) << 16) | (block & 0xFFFF))
    return counter


def bits_to_uniform(bits: Any) -> Any:
    """uint32 words -> float32 uniforms in (0, 1), exactly ``((x >> 8) | 1) * 2**-24``."""
    xp = np if isinstance(bits, np.ndarray) else _cupy()
    return ((bits >> 8) | 1).astype(xp.float32) * xp.float32(2.0**-24)


def philox_uniform_numpy(
    ids: np.ndarray, step: int, purpose: int, seed: int, block: int = 0
) -> np.ndarray:
    """Four uniforms in (0, 1) per cell: (N, 4) float32; ``block`` selects further fours."""
    bits = philox4x32_numpy(cell_counters(ids, step, purpose, block), seed_key(seed))
    return bits_to_uniform(bits)


def philox_uniform_cuda(ids: Any, step: int, purpose: int, seed: int, block: int = 0) -> Any:
    """CUDA twin of :func:`philox_uniform_numpy` (gpu_kernels/random.cu)."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("ids", ids, cupy.int64, ndim=1)
    n = ids.shape[0]
    out = cupy.empty((n, 4), dtype=cupy.float32)
    if n:
        k0, k1 = seed_key(seed)
        launch_1d(
            "random.cu",
            "philox_uniform",
            n,
            (
                ids,
                out,
                np.int64(n),
                np.uint32(step & 0xFFFFFFFF),
                np.uint32(purpose & 0xFFFF),
                np.uint32(block & 0xFFFF),
                np.uint32(k0),
                np.uint32(k1),
            ),
        )
    return out


def philox4x32_cuda(counter: Any, key: tuple[int, int]) -> Any:
    """CUDA twin of :func:`philox4x32_numpy`: (N, 4) uint32 counters -> (N, 4) uint32."""
    import cupy

    from gpu_kernels.loader import check_array, launch_1d

    check_array("counter", counter, cupy.uint32, ndim=2)
    n = counter.shape[0]
    out = cupy.empty((n, 4), dtype=cupy.uint32)
    launch_1d(
        "random.cu",
        "philox_bits",
        n,
        (counter, out, np.int64(n), np.uint32(key[0] & 0xFFFFFFFF), np.uint32(key[1] & 0xFFFFFFFF)),
    )
    return out


def philox_uniform(ids: Any, step: int, purpose: int, seed: int, block: int = 0) -> Any:
    """(N, 4) float32 uniforms of cells ``ids`` on the ids' backend."""
    if on_device(ids):
        return philox_uniform_cuda(ids, step, purpose, seed, block)
    return philox_uniform_numpy(ids, step, purpose, seed, block)


def _cupy() -> Any:
    import cupy

    return cupy
