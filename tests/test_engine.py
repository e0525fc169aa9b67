"""Tests for the autograd engine: Tensor, backward, grad mode, dtypes, custom ops, errors,
anomaly detection and graph freeing (tinygrad_edu.tensor, .ops and .autograd)."""

import collections
import gc
import operator
import re
import threading
import tracemalloc
import weakref

import numpy as np
import pytest
from helpers import ARITHMETIC, float_arrays, leaf, sigmoid, strict_floats
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import tinygrad_edu
from tinygrad_edu import (
    Function,
    Tensor,
    concatenate,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    stack,
)
from tinygrad_edu.numerical import gradcheck, numerical_gradient

# ---------------------------------------------------------------------------
# Helpers and strategies
# ---------------------------------------------------------------------------


def assert_grad(t, expected, rtol=1e-7, atol=1e-12):
    """``t.grad`` is a Tensor with t's shape and dtype and the expected values."""
    assert isinstance(t.grad, Tensor), f"grad is {type(t.grad).__name__}, not a Tensor"
    assert t.grad.shape == t.shape
    assert t.grad.dtype == t.dtype
    np.testing.assert_allclose(t.grad.data, expected, rtol=rtol, atol=atol)


def tree_sum(tensors):
    """Add tensors pairwise, so the graph stays shallow however many there are."""
    while len(tensors) > 1:
        pairs = range(0, len(tensors) - 1, 2)
        tensors = [tensors[i] + tensors[i + 1] for i in pairs] + tensors[len(pairs) * 2 :]
    return tensors[0]


def sum_to_shape(g, shape):
    """Undo broadcasting by brute force: add each element of g into the element of an
    array of ``shape`` that was copied to it (independent of the engine's reduction)."""
    out = np.zeros(shape)
    lead = g.ndim - len(shape)
    for index in np.ndindex(g.shape):
        source = tuple(0 if n == 1 else i for i, n in zip(index[lead:], shape))
        out[source] += g[index]
    return out


BINARY_OPS = {**ARITHMETIC, "pow": operator.pow}


# ---------------------------------------------------------------------------
# Construction and attributes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        ([1.0, 2.0], np.float64),
        (np.zeros(3, np.float32), np.float32),
        (np.zeros(3, np.float16), np.float16),
        ([1, 2], np.int64),
        ([True, False], np.bool_),
        (2.5, np.float64),
    ],
)
def test_construction_keeps_numpy_dtype(data, dtype):
    assert Tensor(data).dtype == dtype
    assert Tensor(data).data.dtype == dtype


def test_construction_shares_memory_with_an_ndarray():
    for array in (np.arange(6.0).reshape(2, 3), np.ones(4, np.float32)):
        t = Tensor(array, requires_grad=True)
        assert t.data is array
        array[0] = 42
        assert t.data[0].tolist() == array[0].tolist()
        assert np.shares_memory(t.numpy(), array)
        assert np.shares_memory(np.asarray(t), array)


@pytest.mark.parametrize(("data", "dtype_name"), [([1, 2], "int64"), ([True], "bool")])
def test_requires_grad_on_non_float_data_raises(data, dtype_name):
    with pytest.raises(TypeError, match=dtype_name):
        Tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match=dtype_name):
        Tensor(np.array(data)).requires_grad_()


def test_attributes():
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3)
    assert t.ndim == 2
    assert t.size == 6
    assert t.dtype == np.float64
    assert t.requires_grad is True
    assert t.grad is None
    assert t.creator is None
    assert Tensor([1.0]).requires_grad is False


def test_numpy_item_detach_asarray():
    t = Tensor([[3.5]], requires_grad=True)
    assert t.numpy() is t.data
    assert t.item() == 3.5
    assert type(t.item()) is float
    d = t.detach()
    assert isinstance(d, Tensor)
    assert d.requires_grad is False
    assert d.creator is None
    assert np.shares_memory(d.data, t.data)
    assert np.shares_memory(np.asarray(t), t.data)
    np.testing.assert_array_equal(np.asarray(t, dtype=np.float32), [[3.5]])


def test_repr():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.], dtype=float64)"
    assert repr(Tensor([1.0], requires_grad=True)) == (
        "Tensor([1.], dtype=float64, requires_grad=True)"
    )
    y = Tensor([1.0], requires_grad=True) * 2.0
    assert repr(y) == "Tensor([2.], dtype=float64, grad_fn=<mul>)"
    assert "float32" in repr(Tensor(np.ones(2, np.float32)))


@pytest.mark.parametrize(
    ("op", "expected_grad"),
    [
        (operator.add, lambda a, x: np.ones_like(x)),
        (operator.sub, lambda a, x: -np.ones_like(x)),
        (operator.mul, lambda a, x: a),
        (operator.truediv, lambda a, x: -a / x**2),
        (operator.pow, lambda a, x: a**x * np.log(a)),
    ],
    ids=["add", "sub", "mul", "div", "pow"],
)
def test_ndarray_on_the_left_gives_a_recorded_tensor(op, expected_grad):
    a = np.array([1.5, 2.0, 3.0])
    x = leaf([0.5, -1.0, 2.0])
    y = op(a, x)
    assert isinstance(y, Tensor)
    assert y.creator is not None
    np.testing.assert_allclose(y.data, op(a, x.data))
    y.sum().backward()
    assert_grad(x, expected_grad(a, x.data))


def test_ndarray_matmul_tensor_gives_a_recorded_tensor():
    a = np.arange(6.0).reshape(2, 3)
    x = leaf(np.ones((3, 4)))
    y = a @ x
    assert isinstance(y, Tensor)
    assert y.creator is not None
    np.testing.assert_allclose(y.data, a @ x.data)
    y.sum().backward()
    assert_grad(x, a.T @ np.ones((2, 4)))


@pytest.mark.parametrize(
    "op", [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]
)
def test_comparisons_give_bool_tensors_without_grad(op):
    x = leaf([1.0, 2.0, 3.0])
    for other in (2.0, np.array([3.0, 2.0, 1.0]), leaf([3.0, 2.0, 1.0])):
        result = op(x, other)
        assert isinstance(result, Tensor)
        assert result.dtype == np.bool_
        assert result.requires_grad is False
        assert result.creator is None
        np.testing.assert_array_equal(result.data, op(x.data, np.asarray(other)))


# ---------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------


def test_backward_of_a_scalar_needs_no_argument():
    x = leaf(3.0)
    (x * x).backward()
    assert_grad(x, 6.0)
    y = leaf([[2.0]])  # one element, not 0-d
    (y * y * y).backward()
    assert_grad(y, [[12.0]])


def test_backward_of_a_non_scalar_without_grad_raises():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=re.escape("(2, 3)")):
        (x * 2.0).backward()
    assert x.grad is None


def test_backward_with_an_explicit_grad_is_a_vector_jacobian_product():
    # y = W x + x^2 (elementwise): J = W + diag(2x), so x.grad = J^T v.
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 10.0]])
    x = leaf([1.0, -2.0, 0.5])
    v = np.array([0.1, -1.0, 2.0])
    (w @ x + x**2).backward(v)
    jacobian = w + np.diag(2 * x.data)
    assert_grad(x, jacobian.T @ v)
    # by hand: W^T v = [10.1, 11.2, 14.3], 2 x v = [0.2, 4.0, 2.0]
    assert_grad(x, [10.3, 15.2, 16.3])


def test_backward_with_a_grad_of_the_wrong_shape_raises():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match=re.escape("(3, 2)")):
        (x * 2.0).backward(np.ones((3, 2)))


def test_gradients_accumulate_until_reset():
    x = leaf([1.0, 2.0])
    for calls in (1, 2, 3):
        (x * x).sum().backward()
        assert_grad(x, calls * 2 * x.data)
    x.grad = None
    (x * 3.0).sum().backward()
    assert_grad(x, [3.0, 3.0])


def test_second_backward_through_a_freed_graph_raises():
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=re.escape("retain_graph=True")):
        loss.backward()
    assert_grad(x, [2.0, 4.0])  # the failed call added nothing


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    once = x.grad.data.copy()
    loss.backward(retain_graph=True)
    assert_grad(x, 2 * once)
    np.testing.assert_allclose(once, np.exp(x.data) * (x.data + 1))


def test_leaf_grads_do_not_alias_each_other_or_the_given_grad():
    # In-place edits of one gradient (e.g. clipping p.grad.data *= c for every parameter)
    # must not change another's, nor the array handed to backward.
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = np.array([1.0, 1.0])
    (a + b).backward(g)
    a.grad.data *= 0.5
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(g, [1.0, 1.0])


def test_fan_out_sums_gradients():
    x = leaf([1.0, -2.0])
    (x * x + x * 3.0 + x).sum().backward()
    assert_grad(x, 2 * x.data + 4.0)


@pytest.mark.parametrize(
    "combine",
    [lambda ys: stack(ys).sum(), lambda ys: concatenate(ys).sum(), tree_sum],
    ids=["stack", "concatenate", "tree"],
)
def test_ten_thousand_way_fan_out(combine):
    x = leaf([1.0, 2.0])
    h = x * 2.0  # fan-out from an intermediate as well as from a leaf
    ys = [x * 1.0 for _ in range(5000)] + [h * 1.0 for _ in range(5000)]
    combine(ys).sum().backward()
    assert_grad(x, [15000.0, 15000.0])


@given(st.data())
def test_gradient_of_a_broadcast_input_is_summed_over_the_broadcast_axes(data):
    shapes = data.draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3))
    (a_shape, b_shape), out_shape = shapes.input_shapes, shapes.result_shape
    a = leaf(data.draw(float_arrays(a_shape, -3.0, 3.0)))
    b = leaf(data.draw(float_arrays(b_shape, -3.0, 3.0)))
    g = data.draw(float_arrays(out_shape, -3.0, 3.0))
    name = data.draw(st.sampled_from(["add", "sub", "mul"]))
    BINARY_OPS[name](a, b).backward(g)
    local_a, local_b = {
        "add": (1.0, 1.0),
        "sub": (1.0, -1.0),
        "mul": (b.data, a.data),
    }[name]
    assert_grad(a, sum_to_shape(g * np.broadcast_to(local_a, out_shape), a_shape))
    assert_grad(b, sum_to_shape(g * np.broadcast_to(local_b, out_shape), b_shape))


def test_a_chain_of_100000_ops_backpropagates():
    x = leaf(1.5)
    y = x
    for i in range(100_000):
        y = y * 2.0 if i % 2 == 0 else y * 0.5
    y.backward()
    assert_grad(x, 1.0)


def test_diamond_graph():
    # a -> b = 3a,  a -> c = a^2,  d = b * c = 3 a^3:  dd/da = 9 a^2
    a = leaf([1.0, -2.0, 0.5])
    b = a * 3.0
    c = a**2
    (b * c).sum().backward()
    assert_grad(a, 9 * a.data**2)


def test_diamond_with_paths_of_different_lengths():
    # b = exp(a) feeds a long path and a short one; b's gradient is complete only after
    # both, so b's op must run after all its consumers (topological order).
    # long:  c = ((b + 1) * 3 - 1) = 3b + 2;  short: s = 5b;  e = sum(c * s) = sum(15b^2 + 10b)
    a = leaf([0.3, -0.7])
    b = a.exp()
    c = (b + 1.0) * 3.0 - 1.0
    s = b * 5.0
    (c * s).sum().backward()
    eb = np.exp(a.data)
    assert_grad(a, (30 * eb + 10) * eb)


# ---------------------------------------------------------------------------
# create_graph: higher derivatives
# ---------------------------------------------------------------------------


def second_derivative(f, x):
    """d/dx sum(d f(x) / dx): backward with create_graph, then backward of the gradient."""
    f(x).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad, "the gradient was not recorded with create_graph=True"
    x.grad = None
    first.sum().backward()
    return first, x.grad


def test_second_derivative_of_a_cube():
    first, second = second_derivative(lambda x: x**3, leaf(2.0))
    assert first.item() == 12.0  # 3 x^2
    assert second.item() == 12.0  # 6 x


@given(float_arrays(array_shapes(max_dims=2, max_side=4), lo=-6.0, hi=6.0))
def test_second_derivative_of_sigmoid(values):
    s = sigmoid(values)
    first, second = second_derivative(lambda x: x.sigmoid(), leaf(values))
    np.testing.assert_allclose(first.data, s * (1 - s), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(second.data, s * (1 - s) * (1 - 2 * s), rtol=1e-7, atol=1e-15)


def test_gradient_of_the_gradient_norm_matches_numerical():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3))
    w0 = rng.standard_normal((3, 2))

    def loss(w):
        return ((Tensor(x) @ w).tanh() * (Tensor(x) @ w).sigmoid()).sum()

    def grad_norm(w_array):
        w = Tensor(w_array, requires_grad=True)
        loss(w).backward()
        return float((w.grad.data**2).sum())

    w = leaf(w0)
    loss(w).backward(create_graph=True)
    g = w.grad
    w.grad = None
    (g * g).sum().backward()
    np.testing.assert_allclose(w.grad.data, numerical_gradient(grad_norm, w0.copy()), atol=1e-6)


def test_create_graph_reaching_a_leaf_through_a_broadcast():
    # f = (sum x)^2: grad = 2 s (all elements), |grad|^2 = 4 n s^2, d|grad|^2/dx = 8 n s.
    x = leaf([1.0, 2.0, 4.0])
    (x.sum() ** 2).backward(create_graph=True)
    g = x.grad
    assert_grad(x, [14.0, 14.0, 14.0])
    assert g.requires_grad, "x.grad was cut off from the graph despite create_graph=True"
    x.grad = None
    (g * g).sum().backward()
    assert_grad(x, [168.0, 168.0, 168.0])


# ---------------------------------------------------------------------------
# Grad mode: no_grad, enable_grad, threads, detach
# ---------------------------------------------------------------------------


def assert_not_recorded(y):
    assert y.requires_grad is False
    assert y.creator is None


def test_no_grad_builds_no_graph():
    x = leaf([1.0, 2.0])
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2.0).exp().sum()
        assert_not_recorded(y)
        assert_not_recorded(x @ x)
    assert is_grad_enabled()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    assert x.grad is None
    assert (x * 2.0).creator is not None  # recording is back on


def test_no_grad_as_a_decorator():
    @no_grad()
    def predict(x):
        assert not is_grad_enabled()
        return x * 2.0

    x = leaf([1.0])
    for _ in range(2):  # the decorator can be used more than once
        assert_not_recorded(predict(x))
        assert is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(KeyError), no_grad():
        raise KeyError
    assert is_grad_enabled()


def test_enable_grad_nested_in_no_grad():
    x = leaf([1.0])
    with no_grad():
        with enable_grad():
            assert is_grad_enabled()
            y = x * 3.0
            assert y.creator is not None
        assert not is_grad_enabled()
        assert_not_recorded(x * 3.0)
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()
    y.backward()
    assert_grad(x, [3.0])


@pytest.mark.parametrize("no_grad_in", ["worker", "main"])
def test_grad_mode_is_per_thread(no_grad_in):
    x = leaf([1.0, 2.0])
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def record(who):
        seen[who] = (is_grad_enabled(), (x * 2.0).creator is not None)

    def inside_no_grad(who):
        with no_grad():
            entered.set()
            assert checked.wait(10)
            record(who)

    def outside(who):
        assert entered.wait(10)
        record(who)
        checked.set()

    worker_fn = inside_no_grad if no_grad_in == "worker" else outside
    main_fn = outside if no_grad_in == "worker" else inside_no_grad
    thread = threading.Thread(target=worker_fn, args=("worker",))
    thread.start()
    try:
        main_fn("main")
    finally:
        checked.set()
        thread.join(10)
    other = "main" if no_grad_in == "worker" else "worker"
    assert seen == {no_grad_in: (False, False), other: (True, True)}
    assert is_grad_enabled()


def test_detach_shares_data_but_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * x
    d = y.detach()
    assert np.shares_memory(d.data, y.data)
    assert_not_recorded(d)
    # loss = sum(d * x) with d treated as a constant x^2: grad x^2, not 3 x^2
    (d * x).sum().backward()
    assert_grad(x, x.data**2)


# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------


def test_float32_graph_gives_float32_grads():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 5)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(5, np.float32), requires_grad=True)
    h = (x @ w + b).relu()
    steps = [h, h.sigmoid(), h.softmax(), h.log_softmax(), h.tanh()]
    for step in steps:
        assert step.dtype == np.float32
    loss = (steps[1] * steps[2] + steps[3] * steps[4]).mean()
    assert loss.dtype == np.float32
    loss.backward()
    for t in (x, w, b):
        assert t.grad.dtype == np.float32
        assert np.isfinite(t.grad.data).all()


def test_python_scalars_do_not_upcast_float32():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    for y in (x * 2.0, 2.0 * x, x + 1.5, x / 3.0, x**2.0, 1.0 - x, x * 2):
        assert y.dtype == np.float32
    (x * 2.0).sum().backward()
    assert x.grad.dtype == np.float32


def test_float64_constant_in_a_float32_graph_keeps_float32_leaf_grads():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = (x * np.linspace(0.5, 1.5, 3) + w).sum()  # the float64 constant upcasts y
    y.backward()
    assert_grad(x, np.broadcast_to(np.linspace(0.5, 1.5, 3), (2, 3)).astype(np.float32))
    assert_grad(w, np.full(3, 2.0, np.float32))


# ---------------------------------------------------------------------------
# Numerics at extremes
# ---------------------------------------------------------------------------


def test_sigmoid_saturates_exactly_without_warnings():
    x = leaf([1000.0, -1000.0, 0.0])
    with strict_floats():
        y = x.sigmoid()
        y.sum().backward()
    assert y.data.tolist() == [1.0, 0.0, 0.5]
    assert x.grad.data.tolist() == [0.0, 0.0, 0.25]


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_huge_spread_is_finite(name):
    x = leaf([1000.0, 0.0, -1000.0])
    with strict_floats():
        y = getattr(x, name)()
        (y * Tensor([1.0, 2.0, 3.0])).sum().backward()
    assert np.isfinite(y.data).all()
    assert np.isfinite(x.grad.data).all()
    expected = [1.0, 0.0, 0.0] if name == "softmax" else [0.0, -1000.0, -2000.0]
    np.testing.assert_allclose(y.data, expected)


@given(
    float_arrays(array_shapes(max_dims=2, max_side=5), lo=-1e4, hi=1e4),
    st.sampled_from(["softmax", "log_softmax", "sigmoid", "tanh"]),
)
def test_no_nan_for_large_finite_inputs(values, name):
    x = leaf(values)
    with strict_floats():
        y = getattr(x, name)()
        weights = np.linspace(-1.0, 1.0, y.size).reshape(y.shape)
        (y * weights).sum().backward()
    assert np.isfinite(y.data).all()
    assert np.isfinite(x.grad.data).all()
    if name == "softmax":
        np.testing.assert_allclose(y.data.sum(axis=-1), 1.0)
    if name == "log_softmax":
        assert (y.data <= 0).all()


# ---------------------------------------------------------------------------
# User-defined ops
# ---------------------------------------------------------------------------


class MulAdd(Function):
    """a * b + a, with a backward written on Tensors."""

    def forward(self, a, b):
        return a * b + a

    def backward(self, grad):
        a, b = self.inputs
        return grad * (b + 1.0), grad * a


class NumpySquare(Function):
    """x^2, with a backward that returns a plain ndarray."""

    def forward(self, x):
        self.x = x
        return x**2

    def backward(self, grad):
        return 2 * self.x * grad


class Cube(Function):
    """x^3, with the backward written once on saved_inputs (arrays or Tensors)."""

    def forward(self, x):
        return x**3

    def backward(self, grad):
        (x,) = self.saved_inputs()
        self.kinds = (type(grad), type(x))  # what the engine handed over
        return grad * 3 * x**2


def test_user_function_backward_gets_arrays_then_tensors_with_create_graph():
    x = leaf([2.0, -1.0])
    y = Cube()(x)
    op = y.creator
    y.sum().backward(retain_graph=True)
    assert op.kinds == (np.ndarray, np.ndarray)
    assert_grad(x, [12.0, 3.0])
    x.grad = None
    y.sum().backward(create_graph=True)
    assert op.kinds == (Tensor, Tensor)
    dx = x.grad
    x.grad = None
    dx.sum().backward()  # d/dx 3x^2 = 6x
    assert_grad(x, [12.0, -6.0])


class TooManyGrads(Function):
    def forward(self, x):
        return x * 2

    def backward(self, grad):
        return grad, grad


class WrongShape(Function):
    def forward(self, x):
        return x * 2

    def backward(self, grad):
        return np.ones(5)


def test_user_function_with_tensor_backward():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([0.5, -1.0, 2.0])
    y = MulAdd()(a, b)
    assert isinstance(y.creator, MulAdd)
    assert y.creator.inputs == (a, b)
    np.testing.assert_allclose(y.data, [1.5, 0.0, 9.0])
    (y * y).sum().backward()
    assert_grad(a, 2 * y.data * (b.data + 1))
    assert_grad(b, 2 * y.data * a.data)
    assert gradcheck(lambda a, b: MulAdd()(a, b).tanh(), {"a": a, "b": b})


def test_user_function_with_tensor_backward_has_second_derivatives():
    # d^2/da^2 of (a b + a)^2 summed over b = 2 (b + 1)^2
    a, b = leaf([1.0, 2.0]), Tensor([0.5, -2.0])
    first, second = second_derivative(lambda a: MulAdd()(a, b) ** 2, a)
    np.testing.assert_allclose(first.data, 2 * (a.data * b.data + a.data) * (b.data + 1))
    np.testing.assert_allclose(second.data, 2 * (b.data + 1) ** 2)


def test_user_function_with_numpy_backward():
    x = leaf([[1.0, -2.0], [0.5, 3.0]])
    y = NumpySquare()(x * 1.0)  # in the middle of a graph
    assert isinstance(y.creator, NumpySquare)
    (y.exp() * 0.1).sum().backward()
    assert_grad(x, 0.1 * np.exp(x.data**2) * 2 * x.data)
    assert gradcheck(lambda x: NumpySquare()(x).sigmoid(), [leaf([0.3, -1.2, 2.0])])


def test_user_function_returning_too_many_grads_raises():
    x = leaf([1.0, 2.0])
    y = TooManyGrads()(x).sum()
    with pytest.raises(TypeError, match="toomanygrads"):
        y.backward()


class Pair(Function):
    """x * y, with a backward that returns a namedtuple and can put NaN in one gradient."""

    Grads = collections.namedtuple("Grads", "x y")

    def __init__(self, nan_for_y=False):
        self.nan_for_y = nan_for_y

    def forward(self, x, y):
        return x * y

    def backward(self, grad):
        x, y = self.saved_inputs()
        return self.Grads(grad * y, grad * x * (np.nan if self.nan_for_y else 1.0))


def test_user_function_may_return_a_tuple_subclass():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    Pair()(x, y).sum().backward()
    assert_grad(x, [3.0, 4.0])
    assert_grad(y, [1.0, 2.0])


def test_anomaly_names_the_input_by_position_even_when_a_tensor_is_passed_twice():
    x = leaf([1.0, 2.0])
    y = Pair(nan_for_y=True)(x, x).sum()
    message = r"pair produced NaN in the backward pass \(input 1\)"
    with pytest.raises(FloatingPointError, match=message), detect_anomaly():
        y.backward()


class InPlaceDouble(Function):
    """2x, with a backward that breaks the rule and doubles ``grad`` in place."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad):
        grad *= 2
        return grad


def test_backward_never_changes_the_callers_grad_array():
    x = leaf([1.0, 2.0])
    seed = np.array([1.0, 1.0])
    InPlaceDouble()(x).backward(seed)
    np.testing.assert_array_equal(seed, [1.0, 1.0])
    assert_grad(x, [2.0, 2.0])


def test_user_function_returning_the_wrong_shape_raises():
    x = leaf([1.0, 2.0, 3.0])
    y = WrongShape()(x).sum()
    with pytest.raises(ValueError, match="wrongshape") as err:
        y.backward()
    assert "(5,)" in str(err.value)
    assert "(3,)" in str(err.value)


# ---------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------


def test_matmul_shape_error():
    a, b = Tensor(np.ones((3, 4))), Tensor(np.ones((5, 2)))
    message = "matmul: shapes (3, 4) and (5, 2) are not aligned (4 != 5)"
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        a @ b
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        np.ones((3, 4)) @ b


@pytest.mark.parametrize("name", list(BINARY_OPS))
@pytest.mark.parametrize("right", [Tensor, np.asarray], ids=["tensor", "ndarray"])
def test_binary_op_shape_error_names_op_and_shapes(name, right):
    a, b = leaf(np.ones((3, 4))), right(np.ones((5, 2)))
    with pytest.raises(ValueError) as err:
        BINARY_OPS[name](a, b)
    message = str(err.value)
    assert re.match(rf"{name}\b", message), message
    assert "(3, 4)" in message
    assert "(5, 2)" in message


def test_reshape_to_an_incompatible_shape_raises():
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4, 2\)"):
        Tensor(np.ones((2, 3))).reshape(4, 2)


def test_concatenate_and_stack_mismatches_raise():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"concatenate.*\(2, 3\).*\(3, 2\)"):
        concatenate([a, b], axis=0)
    with pytest.raises(ValueError, match=r"stack.*\(2, 3\).*\(3, 2\)"):
        stack([a, b])


# ---------------------------------------------------------------------------
# detect_anomaly
# ---------------------------------------------------------------------------


class NanBackward(Function):
    def forward(self, x):
        return x * 1.0

    def backward(self, grad):
        return np.full(grad.shape, np.nan)


def test_detect_anomaly_in_forward():
    x = leaf([0.0, 1.0])
    with pytest.raises(FloatingPointError) as err, np.errstate(divide="ignore"), detect_anomaly():
        x.log()
    assert "log" in str(err.value)
    assert "forward" in str(err.value)
    assert "Inf" in str(err.value)


def test_detect_anomaly_in_a_user_backward():
    x = leaf([0.0, 1.0])
    with pytest.raises(FloatingPointError) as err, detect_anomaly():
        NanBackward()(x).sum().backward()
    assert "nanbackward" in str(err.value)
    assert "backward" in str(err.value).replace("nanbackward", "")
    assert "NaN" in str(err.value)


def test_detect_anomaly_in_a_builtin_backward():
    # sqrt is fine at 0 in the forward pass, but its derivative 1/(2 sqrt x) is infinite
    # there, and 0 * inf is NaN: the anomaly is in sqrt's backward.
    x = leaf([0.0, 1.0])
    with pytest.raises(FloatingPointError) as err, np.errstate(all="ignore"), detect_anomaly():
        y = x.sqrt() * 0.0
        y.sum().backward()
    assert "sqrt" in str(err.value)
    assert "backward" in str(err.value)


def test_no_anomaly_check_outside_the_context():
    x = leaf([0.0, 1.0])
    with detect_anomaly():
        pass
    with np.errstate(all="ignore"):
        assert np.isneginf(x.log().data[0])
        NanBackward()(x).sum().backward()
    assert np.isnan(x.grad.data).all()
    assert tinygrad_edu.autograd.mode.detect_anomaly is False


# ---------------------------------------------------------------------------
# Graph freeing and memory
# ---------------------------------------------------------------------------


@pytest.fixture
def no_gc():
    """Only reference counting frees objects: a reference cycle would keep them alive."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def test_backward_releases_intermediates(no_gc):
    x = leaf(np.ones(1000))
    h = x * 2.0
    ref = weakref.ref(h)
    loss = (h * h).sum()
    del h
    assert ref() is not None  # the graph holds it, for backward
    loss.backward()
    assert ref() is None
    assert_grad(x, np.full(1000, 8.0))
    assert loss.item() == 4000.0


def test_retained_graph_is_freed_with_its_output(no_gc):
    x = leaf(np.ones(10))
    h = x.exp()
    ref = weakref.ref(h)
    loss = (h * x).sum()
    del h
    loss.backward(retain_graph=True)
    assert ref() is not None
    del loss
    assert ref() is None


def _memory_per_step(keep):
    """Bytes of memory that one more training step leaves behind, when the loop keeps
    ``keep(loss)`` of every step (a float, or the loss Tensor itself)."""
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((32, 8)), rng.standard_normal((32, 4))
    params = [
        Tensor(rng.standard_normal((8, 32)) * 0.1, requires_grad=True),
        Tensor(np.zeros(32), requires_grad=True),
        Tensor(rng.standard_normal((32, 4)) * 0.1, requires_grad=True),
    ]
    w1, b1, w2 = params
    kept = []

    def train(steps):
        for _ in range(steps):
            h = (x @ w1 + b1).relu()  # each step's intermediates take ~27 kB
            loss = ((h @ w2 - t) ** 2).mean()  # 7 ops in all
            loss.backward()
            with no_grad():
                for p in params:
                    p.data -= 0.01 * p.grad.data
                    p.grad = None
            kept.append(keep(loss))

    tracemalloc.start()
    try:
        train(200)
        gc.collect()  # count what is kept, not garbage that waits for the collector
        before = tracemalloc.get_traced_memory()[0]
        train(800)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert float(kept[-1]) < float(kept[0])  # it did learn
    return (after - before) / 800


def test_a_training_loop_keeps_memory_flat():
    per_step = _memory_per_step(lambda loss: loss.item())
    assert per_step < 100, f"memory grows by {per_step:.0f} bytes per step"


def test_keeping_losses_keeps_their_graphs_shape_but_not_their_arrays():
    """As in PyTorch, a kept loss keeps its graph's structure (for draw_graph): about
    570 bytes per op here (the op, its links, its output's shape), but backward() freed
    the ~27 kB of arrays of each step."""
    per_step = _memory_per_step(lambda loss: loss)
    assert per_step < 7 * 800, f"memory grows by {per_step:.0f} bytes per kept loss"
