"""The cell store: growth without loss, unique ids, stable compaction."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize("lazy", [False, True])
def test_split_copies_parents_and_appends_new_ids(backend: Backend, lazy: bool) -> None:
    xp = backend.xp
    extra = {"dose": Column(np.float32, (), 0.0)}
    store = CellStore(xp, capacity=4, extra_columns=extra, lazy=lazy)
    store.add(2, xp.asarray([[1, 1, 1], [2, 2, 2], [3, 3, 3]], dtype=xp.float32))
    store.dose[...] = xp.asarray([0.5, 1.5, 2.5], dtype=xp.float32)
    store.age_min[...] = 30.0
    store.partner[...] = 7
    positions = xp.asarray([[9, 9, 9], [0, 0, 0], [8, 8, 8]], xp.float32)
    daughters = store.split(xp.asarray([True, False, True]), positions)
    # a lazy store leaves a bound of rows in its views (vacant past the cells) until settled
    assert store.n == (6 if lazy else 5)
    assert backend.to_numpy(daughters).tolist()[:5] == [False, False, False, True, True]
    host = store.to_numpy()
    assert store.n == 5
    assert store.exact
    assert host["id"].tolist() == [0, 1, 2, 3, 4]
    assert host["type"].tolist() == [2] * 5
    assert host["dose"].tolist() == [0.5, 1.5, 2.5, 0.5, 2.5]
    assert host["age_min"].tolist() == [30.0, 30.0, 30.0, 0.0, 0.0]
    assert host["partner"].tolist() == [7, 7, 7, -1, -1]
    np.testing.assert_array_equal(host["position_um"][3:], [[9, 9, 9], [8, 8, 8]])
    assert store.next_id == 5


class _Reference:
    """The store's meaning as Python lists: rows of (id, type, x)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, float]] = []
        self.next_id = 0

    def add(self, types: list[int], xs: list[float]) -> None:
        for t, x in zip(types, xs, strict=True):
            self.rows.append((self.next_id, t, x))
            self.next_id += 1

    def keep(self, mask: list[bool]) -> None:
        self.rows = [r for r, m in zip(self.rows, mask, strict=True) if m]

    def split(self, mask: list[bool], xs: list[float]) -> None:
        for (_, t, _), m, x in zip(list(self.rows), mask, xs, strict=True):
            if m:
                self.rows.append((self.next_id, t, x))
                self.next_id += 1


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_lazy_and_eager_stores_follow_the_reference(data: st.DataObject) -> None:
    """Any sequence of adds, removals (some starting no copy of the counters, as between
    phenotype steps) and splits: the lazy store (views untrimmed, vacant rows, counters on
    the backend, read a change late) and the eager one hold exactly the reference's cells,
    at every settle and whatever the order of settles."""
    stores = [CellStore(np, capacity=16, lazy=lazy) for lazy in (False, True)]
    reference = _Reference()
    for _ in range(data.draw(st.integers(1, 12))):
        op = data.draw(st.sampled_from(["add", "keep", "split", "settle"]))
        if op == "add":
            k = data.draw(st.integers(0, 5))
            types = data.draw(st.lists(st.integers(0, 3), min_size=k, max_size=k))
            xs = [float(len(reference.rows) + i) for i in range(k)]
            reference.add(types, xs)
            for store in stores:
                position = np.zeros((k, 3), np.float32)
                position[:, 0] = xs
                store.add(np.asarray(types, np.int16), position)
            continue
        if op == "settle":
            stores[1].settle_lagged()
            continue
        count = len(reference.rows)
        mask = data.draw(st.lists(st.booleans(), min_size=count, max_size=count))
        recount = data.draw(st.booleans())
        for store in stores:
            padded = np.zeros(store.n, bool)  # a lazy store's vacant rows get False or True
            padded[:count] = mask
            padded[count:] = data.draw(st.booleans())
            if op == "keep":
                store.keep(padded, recount=recount)
            else:
                position = np.zeros((store.n, 3), np.float32)
                position[:, 0] = 1000 + np.arange(store.n)
                store.split(padded, position)
        if op == "keep":
            reference.keep(mask)
        else:
            reference.split(mask, [1000.0 + i for i in range(count)])
    for store in stores:
        host = store.to_numpy()
        columns = (host["id"].tolist(), host["type"].tolist(), host["position_um"][:, 0].tolist())
        assert list(zip(*columns, strict=True)) == reference.rows
        assert store.next_id == reference.next_id


def test_unknown_column_is_refused(backend: Backend) -> None:
    store = CellStore(backend.xp)
    with pytest.raises(KeyError, match="colour"):
        store.add(0, backend.xp.zeros((1, 3)), colour=1)
