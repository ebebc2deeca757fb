"""The cell store: growth without loss, unique ids, stable compaction."""

from __future__ import annotations

import numpy as np
import pytest

from tissue.backend import Backend
from tissue.cells import APOPTOTIC, LIVE, CellStore, Column


def test_growth_keeps_every_cell_and_ids_stay_unique(backend: Backend) -> None:
    xp = backend.xp
    store = CellStore(xp, capacity=16)
    positions = np.random.default_rng(1).uniform(0, 100, size=(1000, 3)).astype(np.float32)
    for lo in range(0, 1000, 70):
        store.add(lo % 3, xp.asarray(positions[lo : lo + 70]))
    assert store.n == 1000
    assert store.capacity >= 1000
    host = store.to_numpy()
    np.testing.assert_array_equal(host["id"], np.arange(1000))
    np.testing.assert_array_equal(host["position_um"], positions)
    np.testing.assert_array_equal(host["type"], np.repeat(np.arange(0, 1000, 70) % 3, 70)[:1000])
    assert (host["state"] == LIVE).all()
    assert (host["partner"] == -1).all()


def test_keep_compacts_in_order_and_ids_are_never_reused(backend: Backend) -> None:
    xp = backend.xp
    store = CellStore(xp, capacity=4)
    store.add(0, xp.zeros((10, 3)))
    store.state[xp.asarray([1, 4, 5])] = APOPTOTIC
    store.keep(store.state == LIVE)
    assert backend.to_numpy(store.id).tolist() == [0, 2, 3, 6, 7, 8, 9]
    ids = store.add(1, xp.ones((2, 3)))
    assert backend.to_numpy(ids).tolist() == [10, 11]
    assert backend.to_numpy(store.id).tolist() == [0, 2, 3, 6, 7, 8, 9, 10, 11]


def test_duplicate_copies_parents_and_appends_new_ids(backend: Backend) -> None:
    xp = backend.xp
    store = CellStore(xp, capacity=4, extra_columns={"dose": Column(np.float32, (), 0.0)})
    store.add(2, xp.asarray([[1, 1, 1], [2, 2, 2], [3, 3, 3]], dtype=xp.float32))
    store.dose[...] = xp.asarray([0.5, 1.5, 2.5], dtype=xp.float32)
    store.age_min[...] = 30.0
    rows = store.duplicate(xp.asarray([0, 2]), xp.asarray([[9, 9, 9], [8, 8, 8]], xp.float32))
    host = store.to_numpy()
    assert backend.to_numpy(rows).tolist() == [3, 4]
    assert host["id"].tolist() == [0, 1, 2, 3, 4]
    assert host["type"].tolist() == [2] * 5
    assert host["dose"].tolist() == [0.5, 1.5, 2.5, 0.5, 2.5]
    assert host["age_min"].tolist() == [30.0, 30.0, 30.0, 0.0, 0.0]
    np.testing.assert_array_equal(host["position_um"][3:], [[9, 9, 9], [8, 8, 8]])


def test_unknown_column_is_refused(backend: Backend) -> None:
    store = CellStore(backend.xp)
    with pytest.raises(KeyError, match="colour"):
        store.add(0, backend.xp.zeros((1, 3)), colour=1)
