"""Tests for tinygrad_edu.numerical: the study notes' numbers, exactly, and gradient checks."""

import re

import numpy as np
import pytest
from helpers import finite_floats, float_arrays, leaf
from hypothesis import given
from hypothesis.extra.numpy import array_shapes

from tinygrad_edu import Function, Tensor, concatenate, stack
from tinygrad_edu.numerical import (
    GradcheckError,
    compare_gradients,
    gradcheck,
    gradient_descent,
    numerical_diff,
    numerical_gradient,
)

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def function_1(x):
    """The notes' example: y = 0.01 x^2 + 0.1 x."""
    return 0.01 * x**2 + 0.1 * x


def function_2(x):
    """The notes' example: f(x0, x1) = x0^2 + x1^2."""
    return x[0] ** 2 + x[1] ** 2


def random_leaf(rng, shape, domain):
    """Values away from the points where an op is not smooth (0 for abs, relu, ...)."""
    magnitude = rng.uniform(0.5, 2.0, shape)
    sign = 1.0 if domain == "positive" else rng.choice([-1.0, 1.0], shape)
    return leaf(magnitude * sign)


class OffAtOneElement(Function):
    """x^2 with a backward that is wrong by 0.125 at index (1, 2) only."""

    def forward(self, x):
        return x**2

    def backward(self, grad):
        g = 2 * self.input_arrays[0] * grad
        g[1, 2] += 0.125
        return g


def bad_input():
    """A (2, 3) input that is 0 at (1, 2), where d(x^2)/dx is 0: the numerical gradient
    there is exactly 0 and OffAtOneElement's backprop exactly 0.125."""
    return leaf([[1.0, -0.5, 2.0], [0.25, 1.5, 0.0]])


def numbers_in(text):
    return [float(s) for s in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?", text)]


# ---------------------------------------------------------------------------
# numerical_diff and numerical_gradient
# ---------------------------------------------------------------------------


def test_numerical_diff_matches_the_notes_exactly():
    assert numerical_diff(function_1, 5) == 0.1999999999990898
    assert numerical_diff(function_1, 10) == 0.2999999999986347


@pytest.mark.parametrize(
    ("point", "expected"),
    [((3.0, 4.0), (6.0, 8.0)), ((0.0, 2.0), (0.0, 4.0)), ((3.0, 0.0), (6.0, 0.0))],
)
def test_numerical_gradient_matches_the_notes(point, expected):
    x = np.array(point)
    grad = numerical_gradient(function_2, x)
    assert grad.shape == (2,)
    np.testing.assert_allclose(grad, expected, atol=1e-6)


def test_numerical_gradient_calls_f_with_x_itself_and_restores_it():
    x = np.array([3.0, 4.0])
    before = x.copy()
    calls = []

    def f(arg):
        calls.append((arg is x, arg.copy()))
        return function_2(arg)

    numerical_gradient(f, x)
    assert len(calls) == 4  # two evaluations per element
    assert all(same for same, _ in calls)
    assert not np.array_equal(calls[0][1], before)  # f saw the perturbed values
    np.testing.assert_array_equal(x, before)


@given(float_arrays(array_shapes(min_dims=0, max_dims=3, max_side=3), elements=finite_floats()))
def test_numerical_gradient_restores_every_element_exactly(values):
    x = values.copy()
    numerical_gradient(lambda a: 0.0, x)
    assert x.tobytes() == values.tobytes()  # bit for bit, signs of zeros included
    t = Tensor(values.copy())
    numerical_gradient(lambda a: 0.0, t)
    assert t.data.tobytes() == values.tobytes()


@given(float_arrays(array_shapes(min_dims=0, max_dims=3, max_side=4), -10.0, 10.0))
def test_numerical_gradient_of_sum_of_squares_is_2x(x):
    grad = numerical_gradient(lambda a: np.sum(a**2), x)
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad, 2 * x, atol=1e-6)


def test_numerical_gradient_of_integer_input_raises():
    with pytest.raises(TypeError, match="int64"):
        numerical_gradient(function_2, np.array([3, 4]))


# ---------------------------------------------------------------------------
# gradient_descent
# ---------------------------------------------------------------------------

INIT = (-3.0, 4.0)


def test_gradient_descent_reaches_the_notes_result():
    x = gradient_descent(function_2, np.array(INIT), lr=0.1, step_num=100)
    assert [f"{v:.1e}" for v in x] == ["-6.1e-10", "8.1e-10"]


def test_gradient_descent_with_a_large_learning_rate_diverges():
    x = gradient_descent(function_2, np.array(INIT), lr=10.0, step_num=100)
    assert np.isfinite(x).all()
    assert (np.abs(x) > 1e10).all()  # the notes: about (-2.6e13, -1.3e12)


def test_gradient_descent_with_a_tiny_learning_rate_barely_moves():
    x = gradient_descent(function_2, np.array(INIT), lr=1e-10, step_num=100)
    moved = np.abs(x - INIT)
    assert (moved > 0).all()
    assert (moved < 1e-6).all()


def test_gradient_descent_leaves_init_x_untouched():
    init = np.array(INIT)
    x = gradient_descent(function_2, init, lr=0.1, step_num=10)
    assert x is not init
    np.testing.assert_array_equal(init, INIT)
    integer_init = np.array([-3, 4])
    x = gradient_descent(function_2, integer_init, lr=0.1, step_num=10)
    assert x.dtype == np.float64
    np.testing.assert_array_equal(integer_init, [-3, 4])


def test_gradient_descent_history():
    x, history = gradient_descent(
        function_2, np.array(INIT), lr=0.1, step_num=100, return_history=True
    )
    assert history.shape == (101, 2)
    np.testing.assert_array_equal(history[0], INIT)
    np.testing.assert_array_equal(history[-1], x)
    norms = np.linalg.norm(history, axis=1)
    assert (np.diff(norms) < 0).all()


# ---------------------------------------------------------------------------
# gradcheck and compare_gradients
# ---------------------------------------------------------------------------

# name: (fn, input shapes, domain)
CORRECT_OPS = {
    "add_broadcast": (lambda a, b: a + b, [(3, 4), (4,)], "any"),
    "sub_broadcast": (lambda a, b: a - b, [(3, 4), (3, 1)], "any"),
    "mul_broadcast": (lambda a, b: a * b, [(2, 3, 4), (3, 4)], "any"),
    "div": (lambda a, b: a / b, [(3, 4), (3, 4)], "positive"),
    "pow": (lambda a, b: a**b, [(3, 4), (3, 4)], "positive"),
    "pow_scalar": (lambda a: a**3, [(3, 4)], "any"),
    "neg": (lambda a: -a, [(3,)], "any"),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)], "any"),
    "matmul_vector": (lambda a, b: a @ b, [(3, 4), (4,)], "any"),
    "vector_matmul": (lambda a, b: a @ b, [(4,), (4, 2)], "any"),
    "dot": (lambda a, b: a @ b, [(4,), (4,)], "any"),
    "batched_matmul": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)], "any"),
    "exp": (lambda a: a.exp(), [(3, 4)], "any"),
    "log": (lambda a: a.log(), [(3, 4)], "positive"),
    "sqrt": (lambda a: a.sqrt(), [(3, 4)], "positive"),
    "abs": (lambda a: a.abs(), [(3, 4)], "any"),
    "relu": (lambda a: a.relu(), [(3, 4)], "any"),
    "sigmoid": (lambda a: a.sigmoid(), [(3, 4)], "any"),
    "tanh": (lambda a: a.tanh(), [(3, 4)], "any"),
    "clip": (lambda a: a.clip(-1.0, 1.0), [(3, 4)], "any"),
    "sum": (lambda a: a.sum(axis=1), [(3, 4)], "any"),
    "mean_keepdims": (lambda a: a.mean(axis=(0, 2), keepdims=True), [(2, 3, 4)], "any"),
    "max": (lambda a: a.max(axis=0), [(3, 4)], "any"),
    "min": (lambda a: a.min(), [(3, 4)], "any"),
    "softmax": (lambda a: a.softmax(axis=0), [(3, 4)], "any"),
    "log_softmax": (lambda a: a.log_softmax(), [(3, 4)], "any"),
    "reshape": (lambda a: a.reshape(4, 3), [(3, 4)], "any"),
    "transpose": (lambda a: a.transpose(2, 0, 1), [(2, 3, 4)], "any"),
    "getitem_repeated": (lambda a: a[[0, 2, 0], 1:], [(3, 4)], "any"),
    "concatenate": (lambda a, b: concatenate([a, b], axis=1), [(3, 2), (3, 4)], "any"),
    "stack": (lambda a, b: stack([a, b], axis=-1), [(3, 4), (3, 4)], "any"),
}


@pytest.mark.parametrize("name", list(CORRECT_OPS))
def test_gradcheck_passes_for_correct_ops(name):
    fn, shapes, domain = CORRECT_OPS[name]
    rng = np.random.default_rng(sorted(CORRECT_OPS).index(name))
    assert gradcheck(fn, [random_leaf(rng, shape, domain) for shape in shapes]) is True


def test_gradcheck_raises_for_a_wrong_backward():
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda w: OffAtOneElement()(w), {"weight": bad_input()})
    message = str(err.value)
    assert "weight" in message
    assert "(1, 2)" in message
    numbers = numbers_in(message)
    assert 0.125 in numbers  # backprop
    assert 0.0 in numbers  # numerical


def test_gradcheck_on_float32_inputs_raises():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float32"):
        gradcheck(lambda x: x * 2.0, [x])


def test_compare_gradients_report():
    weight, bias = bad_input(), leaf([0.5, -1.0, 2.0])
    constant = Tensor(np.ones((2, 3)))
    report = compare_gradients(
        lambda w, b, c: OffAtOneElement()(w) + b * c,
        {"weight": weight, "bias": bias, "const": constant},
    )
    assert [row.name for row in report.rows] == ["weight", "bias"]  # const needs no grad
    assert [row.passed for row in report.rows] == [False, True]
    assert report.passed is False
    assert report.rows[0].shape == (2, 3)
    assert report.rows[0].worst_index == (1, 2)
    assert report.rows[0].backprop == 0.125
    assert report.rows[0].numerical == 0.0
    lines = {line.split()[0]: line for line in str(report).splitlines()}
    assert lines["weight"].endswith("FAIL")
    assert lines["bias"].endswith("ok")


def test_compare_gradients_report_that_passes():
    report = compare_gradients(lambda a, b: (a @ b).tanh(), [leaf(np.eye(2)), leaf([1.0, 2.0])])
    assert report.passed is True
    assert [row.name for row in report.rows] == ["0", "1"]
    assert "FAIL" not in str(report)
    assert str(report).count("ok") == 2


@pytest.mark.parametrize("check", [gradcheck, compare_gradients])
def test_gradient_checks_leave_grads_and_data_unchanged(check):
    a, b = leaf([[1.0, 2.0], [3.0, 4.0]]), leaf([0.5, -1.5])
    previous = Tensor(np.array([[7.0, 8.0], [9.0, 10.0]]))
    a.grad = previous
    data_a, data_b = a.data.copy(), b.data.copy()
    check(lambda a, b: (a * b).sigmoid(), [a, b])
    assert a.grad is previous
    np.testing.assert_array_equal(a.grad.data, [[7.0, 8.0], [9.0, 10.0]])
    assert b.grad is None
    np.testing.assert_array_equal(a.data, data_a)
    np.testing.assert_array_equal(b.data, data_b)
