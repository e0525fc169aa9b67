"""Tests for tinygrad_edu.functional: values against naive numpy, backprop against central
differences (gradcheck, float64), numerical stability, dtypes and error messages."""

import re

import numpy as np
import pytest
from helpers import check_gradients, float_arrays, sigmoid, strict_floats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor

# ----------------------------------------------------------------------------- helpers


small_shapes = hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4)


@st.composite
def logits_and_targets(draw, kind, one_d=False):
    """(logits, target): logits (N, C) or (C,); target class indices or probability rows."""
    c = draw(st.integers(2, 5))
    shape = (c,) if one_d else (draw(st.integers(1, 4)), c)
    logits = draw(float_arrays(shape))
    if kind == "indices":
        index_shape = () if one_d else shape[:1]
        target = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, c - 1)))
    else:
        weights = draw(float_arrays(shape, 0.01, 1.0))
        target = weights / weights.sum(axis=-1, keepdims=True)
    return logits, target


def naive_log_softmax(z, axis=-1):
    e = np.exp(z)
    return np.log(e / e.sum(axis=axis, keepdims=True))


def naive_cross_entropy(logits, target):
    log_p = naive_log_softmax(np.atleast_2d(logits))
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        target = target.reshape(-1)
        return -log_p[np.arange(len(target)), target].mean()
    return -(np.atleast_2d(target) * log_p).sum() / log_p.shape[0]


def loss_and_grad(loss_fn, x, *args):
    """(loss Tensor, gradient array) of ``loss_fn(x, *args)`` for a fresh leaf from x."""
    x = Tensor(x, requires_grad=True)
    loss = loss_fn(x, *args)
    loss.backward()
    return loss, x.grad.data


# ------------------------------------------------------------------- gradient checks


@given(logits_and_targets("indices"))
def test_cross_entropy_gradcheck_class_indices(case):
    logits, target = case
    check_gradients(lambda z: F.cross_entropy(z, target), logits)


@given(logits_and_targets("probs"))
def test_cross_entropy_gradcheck_probability_rows(case):
    logits, target = case
    check_gradients(lambda z: F.cross_entropy(z, target), logits)


@given(st.sampled_from(["indices", "probs"]).flatmap(lambda k: logits_and_targets(k, True)))
def test_cross_entropy_gradcheck_1d_logits(case):
    logits, target = case
    check_gradients(lambda z: F.cross_entropy(z, target), logits)


@given(st.sampled_from(["indices", "probs"]).flatmap(logits_and_targets))
def test_cross_entropy_equals_naive_minus_log_softmax(case):
    logits, target = case
    loss = F.cross_entropy(logits, target)
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), naive_cross_entropy(logits, target), rtol=1e-10)


@given(st.sampled_from(["indices", "probs"]).flatmap(lambda k: logits_and_targets(k, True)))
def test_cross_entropy_1d_logits_is_one_sample_batch(case):
    logits, target = case
    batched_target = target.reshape(1) if target.ndim == 0 else target.reshape(1, -1)
    one = F.cross_entropy(logits, target).item()
    assert one == pytest.approx(F.cross_entropy(logits[None], batched_target).item(), rel=1e-12)
    assert one == pytest.approx(naive_cross_entropy(logits, target), rel=1e-10)


@st.composite
def inputs_and_binary_targets(draw, lo, hi):
    shape = draw(small_shapes)
    x = draw(float_arrays(shape, lo, hi))
    t = draw(float_arrays(shape, 0.0, 1.0))
    return x, t


@given(inputs_and_binary_targets(-6.0, 6.0))
def test_bce_with_logits_gradcheck_and_value(case):
    x, t = case
    check_gradients(lambda z: F.binary_cross_entropy_with_logits(z, t), x)
    s = sigmoid(x)
    naive = -(t * np.log(s) + (1 - t) * np.log(1 - s)).mean()
    assert F.binary_cross_entropy_with_logits(x, t).item() == pytest.approx(naive, rel=1e-9)


@given(inputs_and_binary_targets(0.01, 0.99))
def test_bce_gradcheck_and_value(case):
    p, t = case
    check_gradients(lambda q: F.binary_cross_entropy(q, t), p)
    naive = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
    assert F.binary_cross_entropy(p, t).item() == pytest.approx(naive, rel=1e-10)


@st.composite
def prediction_target_pairs(draw):
    shape = draw(small_shapes)
    return draw(float_arrays(shape)), draw(float_arrays(shape))


@given(prediction_target_pairs())
def test_mse_loss_gradcheck_and_equals_mean_squared_difference(case):
    y, t = case
    check_gradients(lambda a: F.mse_loss(a, t), y)
    assert F.mse_loss(y, t).item() == pytest.approx(np.mean((y - t) ** 2), rel=1e-12, abs=1e-300)


@given(prediction_target_pairs())
def test_sum_squared_error_gradcheck_and_value(case):
    y, t = case
    check_gradients(lambda a: F.sum_squared_error(a, t), y)
    expected = 0.5 * np.sum((y - t) ** 2)
    assert F.sum_squared_error(y, t).item() == pytest.approx(expected, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("loss_fn", [F.mse_loss, F.sum_squared_error])
def test_squared_losses_differentiate_a_target_that_requires_grad(loss_fn):
    # Comparing two computed tensors (e.g. a reconstruction and a detached-or-not target)
    # is common; PyTorch's mse_loss backpropagates into both. Silently treating a
    # requires-grad target as a constant leaves its .grad None and training stalls.
    rng = np.random.default_rng(1)
    check_gradients(loss_fn, rng.standard_normal((3, 2)), rng.standard_normal((3, 2)))


@given(st.sampled_from(["indices", "probs"]).flatmap(logits_and_targets))
def test_cross_entropy_error_gradcheck(case):
    logits, target = case
    probs = np.exp(naive_log_softmax(logits))
    check_gradients(lambda y: F.cross_entropy_error(y, target), probs)


@settings(deadline=None)
@given(
    x=float_arrays((3, 4)),
    p=st.sampled_from([0.1, 0.5, 0.8]),
    seed=st.integers(0, 2**32 - 1),
)
def test_dropout_gradcheck_with_a_fixed_mask(x, p, seed):
    def fn(z):
        np.random.seed(seed)  # the same mask on every call
        return F.dropout(z, p)

    check_gradients(fn, x)


@pytest.mark.parametrize("with_bias", [True, False])
@given(data=st.data())
def test_linear_gradcheck(with_bias, data):
    n, d_in, d_out = (data.draw(st.integers(1, 4)) for _ in range(3))
    arrays = [data.draw(float_arrays(s)) for s in [(n, d_in), (d_in, d_out), (d_out,)]]
    if not with_bias:
        arrays.pop()
    check_gradients(F.linear, *arrays)
    x, w, *b = arrays
    np.testing.assert_allclose(F.linear(*arrays).data, x @ w + (b[0] if b else 0), rtol=1e-12)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
@given(data=st.data())
def test_softmax_and_log_softmax_gradcheck_and_value(fn, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = data.draw(float_arrays(shape))
    check_gradients(lambda z: fn(z, axis), x)
    log_p = naive_log_softmax(x, axis)
    expected = np.exp(log_p) if fn is F.softmax else log_p
    np.testing.assert_allclose(fn(x, axis).data, expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------- dropout


def test_dropout_equals_x_times_the_reseeded_mask():
    x = np.random.default_rng(0).standard_normal((50, 40))
    p = 0.3
    np.random.seed(123)
    y = F.dropout(x, p).data
    np.random.seed(123)
    mask = (np.random.random_sample(x.shape) >= p) / (1 - p)
    np.testing.assert_array_equal(y, x * mask)
    assert 0.25 < np.mean(y == 0) < 0.35


@pytest.mark.parametrize(("p", "training"), [(0.5, False), (0.0, True)])
def test_dropout_identity_in_eval_or_with_p_zero(p, training):
    x = np.random.default_rng(0).standard_normal((4, 5))
    np.testing.assert_array_equal(F.dropout(x, p, training).data, x)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_p_outside_0_1(p):
    with pytest.raises(ValueError, match=re.escape(f"p must be in [0, 1), got {p}")):
        F.dropout(np.ones(3), p)


# --------------------------------------------------------------- the notes' numbers

NOTES_T = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
NOTES_Y1 = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
NOTES_Y2 = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]


@pytest.mark.parametrize(
    ("y", "sse", "cee"),
    [(NOTES_Y1, 0.0975, 0.510825457099338), (NOTES_Y2, 0.5975, 2.302584092994546)],
)
def test_study_notes_numbers(y, sse, cee):
    y, t = np.array(y), np.array(NOTES_T)
    assert F.sum_squared_error(y, t).item() == pytest.approx(sse, abs=1e-12)
    assert F.cross_entropy_error(y, t).item() == pytest.approx(cee, rel=1e-12)
    # the same with the label as a class index, and as a batch of one
    assert F.cross_entropy_error(y, 2).item() == pytest.approx(cee, rel=1e-12)
    assert F.cross_entropy_error(y[None], t[None]).item() == pytest.approx(cee, rel=1e-12)


def test_cross_entropy_error_averages_over_the_batch():
    y = np.array([NOTES_Y1, NOTES_Y2])
    expected = (0.510825457099338 + 2.302584092994546) / 2
    assert F.cross_entropy_error(y, np.array([2, 2])).item() == pytest.approx(expected)


# ---------------------------------------------------------------------- stability


def test_cross_entropy_is_finite_and_silent_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [1e4, 1e4, -1e4]])
    for target in [np.array([0, 2, 1]), np.array([[0.5, 0.5, 0], [0, 0, 1], [1, 0, 0]])]:
        with strict_floats():
            loss, grad = loss_and_grad(F.cross_entropy, logits, target)
        assert np.isfinite(loss.item()) and np.isfinite(grad).all()
        np.testing.assert_allclose(loss.item(), naive_cross_entropy_stable(logits, target))


def naive_cross_entropy_stable(logits, target):
    shifted = logits - logits.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if target.ndim == 1:
        return -log_p[np.arange(len(target)), target].mean()
    return -(target * log_p).sum() / len(log_p)


def test_binary_cross_entropy_at_exact_0_and_1_is_finite_and_silent():
    p = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([0.0, 1.0, 1.0, 0.0])
    with strict_floats():
        loss, grad = loss_and_grad(F.binary_cross_entropy, p, t)
    # the right answers cost 0; the two certain wrong answers each cost 100 (log clamped)
    assert loss.item() == pytest.approx(200 / 4)
    assert np.isfinite(grad).all()


def test_bce_with_logits_is_finite_and_silent_at_1e4():
    x = np.array([1e4, -1e4, 1e4, -1e4])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    with strict_floats():
        loss, grad = loss_and_grad(F.binary_cross_entropy_with_logits, x, t)
    assert loss.item() == pytest.approx(2e4 / 4)
    np.testing.assert_allclose(grad, np.array([0.0, 0.0, 1.0, -1.0]) / 4)


# -------------------------------------------------------------------------- dtypes


FLOAT32_CASES = {
    "cross_entropy indices": (F.cross_entropy, (6, 4), lambda: np.array([0, 1, 2, 3, 0, 1])),
    "cross_entropy probs": (F.cross_entropy, (6, 4), lambda: np.full((6, 4), 0.25, np.float32)),
    "bce_with_logits": (F.binary_cross_entropy_with_logits, (6,), lambda: np.ones(6, np.float32)),
    "bce float targets": (F.binary_cross_entropy, (6,), lambda: np.ones(6, np.float32)),
    "bce 0/1 int labels": (F.binary_cross_entropy, (6,), lambda: np.array([0, 1, 1, 0, 1, 0])),
    "mse_loss": (F.mse_loss, (6, 2), lambda: np.zeros((6, 2), np.float32)),
    "sum_squared_error": (F.sum_squared_error, (6, 2), lambda: np.zeros((6, 2), np.float32)),
    "cross_entropy_error": (F.cross_entropy_error, (6, 4), lambda: np.array([0, 1, 2, 3, 0, 1])),
}


@pytest.mark.parametrize("case", FLOAT32_CASES.values(), ids=FLOAT32_CASES.keys())
def test_float32_in_gives_float32_loss_and_gradient(case):
    loss_fn, shape, make_target = case
    x = np.random.default_rng(0).uniform(0.1, 0.9, shape).astype(np.float32)
    loss, grad = loss_and_grad(loss_fn, x, make_target())
    assert loss.dtype == np.float32
    assert grad.dtype == np.float32


# -------------------------------------------------------------------------- errors


def test_cross_entropy_target_out_of_range_names_class_and_range():
    with pytest.raises(IndexError, match=r"class 5 is out of range.*\[0, 2\]"):
        F.cross_entropy(np.zeros((2, 3)), np.array([1, 5]))
    with pytest.raises(IndexError, match=r"class -1 is out of range.*\[0, 2\]"):
        F.cross_entropy(np.zeros((2, 3)), np.array([-1, 0]))


def test_cross_entropy_batch_size_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=re.escape("(4, 3)") + ".*" + re.escape("(5,)")):
        F.cross_entropy(np.zeros((4, 3)), np.zeros(5, dtype=np.int64))
    with pytest.raises(ValueError, match=re.escape("(4, 3)") + ".*" + re.escape("(5, 3)")):
        F.cross_entropy(np.zeros((4, 3)), np.full((5, 3), 1 / 3))


@pytest.mark.parametrize(
    "loss_fn", [F.mse_loss, F.sum_squared_error, F.binary_cross_entropy_with_logits]
)
def test_shape_mismatch_names_both_shapes(loss_fn):
    expected = re.escape("(2, 3)") + ".*" + re.escape("(3, 2)")
    with pytest.raises(ValueError, match=expected):
        loss_fn(np.full((2, 3), 0.5), np.full((3, 2), 0.5))


def test_binary_cross_entropy_rejects_probabilities_outside_0_1():
    with pytest.raises(ValueError, match=r"\[0, 1\].*binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(np.array([0.5, 1.5]), np.array([1.0, 0.0]))
