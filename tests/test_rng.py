"""The counter-based generator: known answers, independence of order, statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tissue.kernels.random import (
    bits_to_uniform,
    cell_counters,
    philox4x32_numpy,
    philox_uniform_numpy,
    seed_key,
)
from tissue.rng import CellRandom, Purpose, unit_vectors

# Random123's kat_vectors for philox4x32-10: counter, key, expected output.
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KNOWN_ANSWERS)
def test_philox_known_answers(counter, key, expected) -> None:
    out = philox4x32_numpy(np.array([counter], dtype=np.uint32), key)
    assert tuple(int(x) for x in out[0]) == expected


def test_draws_depend_only_on_cell_not_on_order() -> None:
    ids = np.arange(1000, dtype=np.int64) * 7919 + 3
    perm = np.random.default_rng(0).permutation(ids.size)
    a = philox_uniform_numpy(ids, 12, Purpose.MOTILITY, 42)
    b = philox_uniform_numpy(ids[perm], 12, Purpose.MOTILITY, 42)
    np.testing.assert_array_equal(a[perm], b)


def test_streams_differ_by_step_purpose_seed_and_high_id_bits() -> None:
    ids = np.arange(64, dtype=np.int64)
    base = philox_uniform_numpy(ids, 5, Purpose.DEATH, 1)
    for other in (
        philox_uniform_numpy(ids, 6, Purpose.DEATH, 1),
        philox_uniform_numpy(ids, 5, Purpose.DIVISION, 1),
        philox_uniform_numpy(ids, 5, Purpose.DEATH, 2),
        philox_uniform_numpy(ids + (1 << 32), 5, Purpose.DEATH, 1),
        philox_uniform_numpy(ids, 5, Purpose.DEATH, 1 + (1 << 32)),
    ):
        assert not np.any(np.all(other == base, axis=1))


def test_counter_layout() -> None:
    counter = cell_counters(np.array([(5 << 32) | 9], dtype=np.int64), 77, 3, block=2)
    assert counter.tolist() == [[9, 5, 77, (3 << 16) | 2]]


def test_uniforms_are_open_interval_and_exact() -> None:
    bits = np.array([0, 0xFF, 0x100, 0xFFFFFFFF], dtype=np.uint32)
    u = bits_to_uniform(bits)
    assert u.dtype == np.float32
    assert u[0] == np.float32(2.0**-24)
    assert u[0] == u[1]  # the low 8 bits are dropped
    assert u[3] == np.float32(1 - 2.0**-24)
    assert np.all((u > 0) & (u < 1))


def test_uniform_statistics() -> None:
    """Chi-square over 64 bins of 4e5 draws: df = 63, the 1e-6 tail is at about 130."""
    u = philox_uniform_numpy(np.arange(100_000, dtype=np.int64), 1, Purpose.MOTILITY, 7).ravel()
    counts = np.bincount((u * 64).astype(int), minlength=64)
    expected = u.size / 64
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 130
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
    # the four words of a block are uncorrelated
    words = philox_uniform_numpy(np.arange(100_000, dtype=np.int64), 1, 2, 7)
    corr = np.corrcoef(words.T)
    assert np.abs(corr - np.eye(4)).max() < 5 / np.sqrt(100_000)


def test_unit_vectors_are_uniform_on_the_sphere() -> None:
    """Unit length to float32 rounding; mean of each component 0 and of its square 1/3."""
    u = philox_uniform_numpy(np.arange(200_000, dtype=np.int64), 3, 1, 11)
    v = unit_vectors(np, u[:, 0], u[:, 1])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    n = v.shape[0]
    np.testing.assert_allclose(v.mean(axis=0), 0.0, atol=5 / np.sqrt(3 * n))
    np.testing.assert_allclose((v**2).mean(axis=0), 1 / 3, atol=5 * np.sqrt(4 / 45 / n))


def test_cell_random_wraps_the_kernel() -> None:
    ids = np.arange(10, dtype=np.int64)
    np.testing.assert_array_equal(
        CellRandom(3).uniform(ids, 4, Purpose.DIVISION),
        philox_uniform_numpy(ids, 4, Purpose.DIVISION, 3),
    )


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_seed_key_roundtrip(seed: int) -> None:
    lo, hi = seed_key(seed)
    assert (hi << 32) | lo == seed


def test_seed_key_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="seed"):
        seed_key(-1)
