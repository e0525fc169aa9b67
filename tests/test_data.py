"""Tests for tinygrad_edu.data.DataLoader."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.data import DataLoader


def make_data(n):
    """x[i] = [i, -i] and t[i] = 10 i, so every batch shows which samples it holds."""
    x = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float64)  # (n, 2)
    t = 10 * np.arange(n)  # (n,)
    return x, t


def epoch_batches(loader):
    """One epoch as a list of (x_batch, t_batch)."""
    return list(loader)


@pytest.mark.parametrize(
    ("n", "batch_size", "drop_last", "expected"),
    [(10, 3, False, 4), (10, 3, True, 3), (9, 3, False, 3), (9, 3, True, 3), (5, 8, False, 1)],
)
def test_len_is_batches_per_epoch(n, batch_size, drop_last, expected):
    loader = DataLoader(*make_data(n), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == expected
    assert len(epoch_batches(loader)) == expected


def test_batch_larger_than_data_with_drop_last_gives_no_batches():
    loader = DataLoader(*make_data(5), batch_size=8, drop_last=True)
    assert len(loader) == 0
    assert epoch_batches(loader) == []


# Keyword strategies for a DataLoader over make_data(n): sizes, batch sizes larger than
# the data included, shuffled or not, any seed.
LOADER_ARGS = {
    "n": st.integers(1, 60),
    "batch_size": st.integers(1, 70),
    "shuffle": st.booleans(),
    "seed": st.integers(0, 2**32 - 1),
}


@settings(deadline=None, max_examples=50)
@given(**LOADER_ARGS)
def test_every_sample_exactly_once_per_epoch(n, batch_size, shuffle, seed):
    x, t = make_data(n)
    loader = DataLoader(x, t, batch_size=batch_size, shuffle=shuffle, seed=seed)
    for _ in range(2):
        batches = epoch_batches(loader)
        for x_batch, t_batch in batches:
            assert x_batch.shape[1:] == (2,) and len(x_batch) == len(t_batch) <= batch_size
            np.testing.assert_array_equal(t_batch, 10 * x_batch[:, 0])  # pairs stay together
        seen = np.concatenate([t_batch for _, t_batch in batches]) // 10
        np.testing.assert_array_equal(np.sort(seen), np.arange(n))


@settings(deadline=None, max_examples=50)
@given(**LOADER_ARGS)
def test_drop_last_gives_full_batches_of_distinct_samples(n, batch_size, shuffle, seed):
    x, t = make_data(n)
    loader = DataLoader(x, t, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=True)
    batches = epoch_batches(loader)
    assert all(len(x_batch) == batch_size for x_batch, _ in batches)
    seen = np.concatenate([t_batch for _, t_batch in batches] + [np.array([], int)]) // 10
    assert len(seen) == (n // batch_size) * batch_size
    assert len(np.unique(seen)) == len(seen)  # at most once each; only n % B are left out


def test_without_shuffle_batches_are_in_order_and_views():
    x, t = make_data(7)
    batches = epoch_batches(DataLoader(x, t, batch_size=3, shuffle=False))
    np.testing.assert_array_equal(batches[0][1], [0, 10, 20])
    np.testing.assert_array_equal(batches[2][1], [60])
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), x)
    assert all(np.shares_memory(xb, x) and np.shares_memory(tb, t) for xb, tb in batches)


def test_same_seed_gives_same_sequence_of_epochs():
    a = DataLoader(*make_data(50), batch_size=8, seed=123)
    b = DataLoader(*make_data(50), batch_size=8, seed=123)
    for _ in range(3):
        for (xa, ta), (xb, tb) in zip(a, b, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ta, tb)


def test_each_epoch_is_reshuffled():
    loader = DataLoader(*make_data(50), batch_size=10, seed=0)
    first = np.concatenate([t_batch for _, t_batch in loader])
    second = np.concatenate([t_batch for _, t_batch in loader])
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.sort(first))  # shuffled, not in order


def test_different_seeds_give_different_orders():
    first = next(iter(DataLoader(*make_data(50), batch_size=50, seed=1)))[1]
    second = next(iter(DataLoader(*make_data(50), batch_size=50, seed=2)))[1]
    assert not np.array_equal(first, second)


def test_accepts_lists_and_one_hot_targets():
    x = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    t = np.eye(3)[[0, 2, 1]]  # one-hot, (3, 3)
    batches = epoch_batches(DataLoader(x, t, batch_size=2, shuffle=False))
    assert [xb.shape for xb, _ in batches] == [(2, 2), (1, 2)]
    assert [tb.shape for _, tb in batches] == [(2, 3), (1, 3)]
    assert isinstance(batches[0][0], np.ndarray)


def test_length_mismatch_names_both_shapes():
    message = (
        "DataLoader: x has shape (10, 2) but t has shape (9,); "
        "they must have the same number of samples"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        DataLoader(np.zeros((10, 2)), np.zeros(9))


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "10", None])
def test_batch_size_must_be_positive_int(bad):
    message = f"DataLoader: batch_size must be a positive integer, got {bad!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        DataLoader(*make_data(4), batch_size=bad)


def test_numpy_integer_batch_size_is_fine():
    assert len(DataLoader(*make_data(10), batch_size=np.int64(5))) == 2


def test_empty_data_is_an_error():
    with pytest.raises(
        ValueError, match=re.escape("DataLoader: the data set is empty (x has shape (0, 2))")
    ):
        DataLoader(np.zeros((0, 2)), np.zeros(0))
