"""Gradient checks for every differentiable op: backprop against central differences.

Each test draws shapes (0-d, size-1 axes, broadcasting pairs, up to 4 axes) and float64
values kept away from the op's non-differentiable points, and calls
``numerical.gradcheck``, which raises ``GradcheckError`` on a mismatch. Further down:
second derivatives (``create_graph=True``), and the shape and dtype of gradients.
"""

import operator

import numpy as np
import pytest
from helpers import (
    ARITHMETIC,
    MATMUL_LAYOUTS,
    NONSCALAR_SHAPES,
    SHAPES,
    any_floats,
    broadcast_pair,
    check_gradients,
    concatenate_args,
    float_arrays,
    matmul_operands,
    reshape_args,
    sigmoid,
)
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import (
    array_shapes,
    arrays,
    basic_indices,
    broadcastable_shapes,
    valid_tuple_axes,
)

import tinygrad_edu as tg
from tinygrad_edu import Tensor

# ---------------------------------------------------------------------------
# Strategies and helpers
# ---------------------------------------------------------------------------

# The shared strategies (any_floats, broadcast_pair, matmul_operands, ...) are in
# helpers.py; these are this file's own.

MAGNITUDES = st.floats(0.1, 3.0)
NONZERO = MAGNITUDES | MAGNITUDES.map(operator.neg)  # away from 0: abs, relu, division
POSITIVE = MAGNITUDES  # log, sqrt, bases of powers
SMOOTH = st.floats(-3.0, 3.0)  # for ops that are smooth everywhere


@st.composite
def distinct_floats(draw, shapes=SHAPES):
    """Arrays without ties (for max and min): any two values are at least 0.06 apart."""
    shape = draw(shapes)
    size = int(np.prod(shape))
    ranks = np.array(draw(st.permutations(range(size))), dtype=np.float64)
    jitter = draw(float_arrays(size, elements=st.floats(-0.2, 0.2)))
    return ((ranks - size / 2 + jitter) * 0.1).reshape(shape)


def axes(ndim):
    """An ``axis`` argument: None, an int or a tuple of distinct ints (maybe negative)."""
    ints = st.integers(-ndim, ndim - 1) if ndim else st.nothing()
    return st.none() | ints | valid_tuple_axes(ndim)


# ---------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", ARITHMETIC.values(), ids=ARITHMETIC.keys())
@given(pair=broadcast_pair(NONZERO, NONZERO))
def test_arithmetic(op, pair):
    check_gradients(op, *pair)


@pytest.mark.parametrize("op", ARITHMETIC.values(), ids=ARITHMETIC.keys())
@given(x=any_floats(NONZERO))
def test_arithmetic_same_tensor_on_both_sides(op, x):
    """x + x, x * x, ...: both operand gradients accumulate into the one leaf."""
    check_gradients(lambda t: op(t, t), x)


@st.composite
def constants(draw, shape, elements):
    """A constant operand for a tensor of ``shape``: a Python float, a numpy scalar, a numpy
    array (of a shape broadcasting with ``shape``) or a Tensor that needs no gradient."""
    kind = draw(st.sampled_from(["python float", "numpy scalar", "numpy array", "tensor"]))
    if kind == "python float":
        return draw(elements)
    if kind == "numpy scalar":
        return np.float64(draw(elements))
    array = draw(
        float_arrays(draw(broadcastable_shapes(shape, min_dims=0, max_dims=4)), elements=elements)
    )
    return array if kind == "numpy array" else Tensor(array)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("op", [*ARITHMETIC.values(), operator.pow], ids=[*ARITHMETIC, "pow"])
@given(data=st.data())
def test_arithmetic_with_constant(op, side, data):
    """``2.0 - x``, ``np_array * x``, ``x ** Tensor(c)``, ...: constants on either side."""
    elements = POSITIVE if op is operator.pow else NONZERO
    x = data.draw(any_floats(elements), label="x")
    c = data.draw(constants(x.shape, elements), label="constant")
    check_gradients((lambda t: op(c, t)) if side == "left" else (lambda t: op(t, c)), x)


@given(x=any_floats(NONZERO), exponent=st.sampled_from([-2, -1, 0, 1, 2, 3, 2.0]))
def test_pow_integer_exponent(x, exponent):
    check_gradients(lambda t: t**exponent, x)


@pytest.mark.parametrize(("exponent", "slope"), [(0, 0.0), (1, 1.0), (2, 0.0), (3, 0.0)])
def test_pow_integer_exponent_at_zero(exponent, slope):
    """x**n is differentiable at 0 for integers n >= 0, with slope n * 0**(n - 1)."""
    x = Tensor([0.0], requires_grad=True)
    (x**exponent).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [slope])


@given(x=any_floats(POSITIVE), exponent=st.floats(-2.0, 3.0))
def test_pow_real_exponent(x, exponent):
    check_gradients(lambda t: t**exponent, x)


@given(base=st.floats(0.2, 3.0), x=any_floats(st.floats(-2.0, 2.0)))
def test_pow_scalar_base(base, x):
    check_gradients(lambda t: base**t, x)


@given(pair=broadcast_pair(POSITIVE, st.floats(-2.0, 2.0)))
def test_pow_tensor_tensor(pair):
    check_gradients(operator.pow, *pair)


# ---------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------

ELEMENTWISE = {
    "neg": (operator.neg, NONZERO),
    "exp": (Tensor.exp, SMOOTH),
    "log": (Tensor.log, POSITIVE),
    "sqrt": (Tensor.sqrt, POSITIVE),
    "abs": (Tensor.abs, NONZERO),
    "relu": (Tensor.relu, NONZERO),
    "sigmoid": (Tensor.sigmoid, st.floats(-8.0, 8.0)),  # both branches of the stable form
    "tanh": (Tensor.tanh, SMOOTH),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(data=st.data())
def test_elementwise(name, data):
    fn, elements = ELEMENTWISE[name]
    check_gradients(fn, data.draw(any_floats(elements), label="x"))


@st.composite
def clip_args(draw):
    """(x, lo, hi) with at most one bound None and no value within 1e-3 of a bound."""
    x = draw(any_floats(SMOOTH))
    bound = st.none() | st.floats(-3.5, 3.5)
    lo, hi = draw(bound), draw(bound)
    assume(lo is not None or hi is not None)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    for b in (lo, hi):
        assume(b is None or np.abs(x - b).min() > 1e-3)
    return x, lo, hi


@given(args=clip_args())
def test_clip(args):
    x, lo, hi = args
    check_gradients(lambda t: t.clip(lo, hi), x)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_astype_to_non_float_stops_gradient(dtype):
    """Only floating-point tensors can have gradients (``requires_grad_`` refuses others),
    and a cast to integers is piecewise constant: no gradient flows back through it."""
    assert not Tensor([1.7, -2.2], requires_grad=True).astype(dtype).requires_grad


@given(x=any_floats(NONZERO))
def test_astype(x):
    check_gradients(lambda t: t.astype(np.float64), x, atol=1e-8, rtol=1e-6)  # exact: linear
    # Through float32 and back: central differences need a step far above float32's
    # resolution (~1e-7), and astype is linear, so a large step costs nothing.
    check_gradients(lambda t: (t.astype(np.float32) * 2).astype(np.float64), x, eps=1e-3)


# ---------------------------------------------------------------------------
# Matrix product
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", MATMUL_LAYOUTS)
@given(data=st.data())
def test_matmul(layout, data):
    check_gradients(operator.matmul, *data.draw(matmul_operands(layout, NONZERO), label="a, b"))


@pytest.mark.parametrize("side", ["left", "right"])
@given(data=st.data())
def test_matmul_with_numpy_array(side, data):
    layout = data.draw(st.sampled_from(MATMUL_LAYOUTS), label="layout")
    a, b = data.draw(matmul_operands(layout, NONZERO), label="a, b")
    check_gradients(
        (lambda t: a @ t) if side == "left" else (lambda t: t @ b), b if side == "left" else a
    )


# ---------------------------------------------------------------------------
# Reductions, softmax
# ---------------------------------------------------------------------------


@st.composite
def reduction_args(draw, values):
    x = draw(values)
    return x, draw(axes(x.ndim)), draw(st.booleans())


REDUCTIONS = {
    "sum": any_floats(NONZERO),
    "mean": any_floats(NONZERO),
    "max": distinct_floats(),
    "min": distinct_floats(),
}


@pytest.mark.parametrize("name", REDUCTIONS)
@given(data=st.data())
def test_reduction(name, data):
    x, axis, keepdims = data.draw(reduction_args(REDUCTIONS[name]), label="x, axis, keepdims")
    check_gradients(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("name", ["max", "min"])
@given(args=reduction_args(any_floats(st.just(1.5))))
def test_max_min_ties_share_the_gradient(name, args):
    """Where every value ties, each of the n values reduced together gets 1/n."""
    x, axis, keepdims = args
    t = Tensor(x, requires_grad=True)
    getattr(t, name)(axis=axis, keepdims=keepdims).sum().backward()
    reduced = np.ones_like(x).sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(t.grad.data, np.broadcast_to(1 / reduced, x.shape))


@st.composite
def array_and_axis(draw, elements=SMOOTH):
    x = draw(any_floats(elements, NONSCALAR_SHAPES))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(args=array_and_axis())
def test_softmax(name, args):
    x, axis = args
    check_gradients(lambda t: getattr(t, name)(axis=axis), x)


# ---------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------


@given(args=reshape_args(NONZERO), as_tuple=st.booleans())
def test_reshape(args, as_tuple):
    x, shape = args
    check_gradients(lambda t: t.reshape(shape) if as_tuple else t.reshape(*shape), x)


@given(x=any_floats(NONZERO), data=st.data())
def test_transpose(x, data):
    perm = data.draw(st.permutations(range(x.ndim)), label="permutation")
    check_gradients(lambda t: t.transpose(*perm), x)
    check_gradients(lambda t: t.transpose(tuple(perm)), x)


@given(x=any_floats(NONZERO))
def test_transpose_without_axes_and_T(x):
    check_gradients(lambda t: t.transpose(), x)
    check_gradients(lambda t: t.T, x)


@given(
    x=any_floats(NONZERO, shapes=array_shapes(min_dims=2, max_dims=4, max_side=3)), data=st.data()
)
def test_transpose_negative_axes(x, data):
    """numpy accepts negative axes in the permutation: for 3 axes, (0, -1, 1) is (0, 2, 1)."""
    perm = data.draw(st.permutations(range(x.ndim)), label="permutation")
    negate = data.draw(st.lists(st.booleans(), min_size=x.ndim, max_size=x.ndim), label="negate")
    perm = [a - x.ndim if flip else a for a, flip in zip(perm, negate)]
    check_gradients(lambda t: t.transpose(*perm), x)


@given(x=any_floats(NONZERO), data=st.data())
def test_flatten(x, data):
    n = max(x.ndim, 1)
    start_dim = data.draw(st.integers(-n, n - 1), label="start_dim")
    check_gradients(lambda t: t.flatten(start_dim), x)


@given(args=concatenate_args(NONZERO))
def test_concatenate(args):
    parts, axis = args
    check_gradients(lambda *ts: tg.concatenate(ts, axis=axis), *parts)
    check_gradients(lambda *ts: tg.concatenate(list(ts), axis=axis), *parts)


@given(args=concatenate_args(NONZERO))
def test_concatenate_with_constant_parts(args):
    """Parts that are numpy arrays, not Tensors, get no gradient."""
    parts, axis = args
    constant = parts[-1]
    check_gradients(lambda *ts: tg.concatenate([constant, *ts, constant], axis=axis), *parts)


def test_concatenate_with_list_part():
    """numpy concatenates lists too, so the forward accepts them; so must the backward."""
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    tg.concatenate([x, [[3.0, 4.0]]], axis=0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1.0, 1.0]])


@st.composite
def stack_args(draw):
    """(arrays, axis): 1-4 arrays of one shape, and a new axis's position."""
    shape = draw(array_shapes(min_dims=0, max_dims=3, max_side=3))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    parts = draw(st.lists(float_arrays(shape, elements=NONZERO), min_size=1, max_size=4))
    return parts, axis


@given(args=stack_args())
def test_stack(args):
    parts, axis = args
    check_gradients(lambda *ts: tg.stack(ts, axis=axis), *parts)


# ---------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------


@given(x=any_floats(NONZERO), data=st.data())
def test_getitem_basic(x, data):
    """Ints (also negative), slices (also negative steps), ``...`` and None."""
    index = data.draw(basic_indices(x.shape, allow_newaxis=True), label="index")
    check_gradients(lambda t: t[index], x)


@st.composite
def repeated_index(draw, shape):
    """(index, axis): an integer array with at least one repeat, selecting along ``axis``,
    given as an ndarray, a list or a Tensor."""
    axis = draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    positions_shape = array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=4)
    positions = draw(arrays(np.intp, positions_shape, elements=st.integers(-n, n - 1)))
    positions.flat[-1] = positions.flat[0]
    positions = draw(st.sampled_from([np.asarray, np.ndarray.tolist, Tensor]))(positions)
    return (*(slice(None),) * axis, positions), axis


@given(x=any_floats(NONZERO, shapes=NONSCALAR_SHAPES), data=st.data())
def test_getitem_integer_array_with_repeats(x, data):
    """Each selection of an element adds its gradient once more."""
    index, axis = data.draw(repeated_index(x.shape), label="index, axis")
    check_gradients(lambda t: t[index], x)
    t = Tensor(x, requires_grad=True)
    t[index].sum().backward()
    positions = Tensor(index[-1]).data.ravel() % x.shape[axis]
    counts = np.bincount(positions, minlength=x.shape[axis]).astype(np.float64)
    expected = counts.reshape(-1, *(1,) * (x.ndim - axis - 1))
    np.testing.assert_array_equal(t.grad.data, np.broadcast_to(expected, x.shape))


@st.composite
def mixed_index(draw, shape):
    """A tuple over the leading axes mixing ints (maybe negative), slices, and integer
    arrays (broadcast together, so repeats are likely)."""
    length = draw(st.integers(1, 4))
    index = []
    for n in shape[: draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(["int", "slice", "array"]))
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            end = st.none() | st.integers(-n - 1, n + 1)
            step = st.sampled_from([None, 1, 2, -1, -2])
            index.append(slice(draw(end), draw(end), draw(step)))
        else:
            index.append(draw(arrays(np.intp, length, elements=st.integers(-n, n - 1))))
    return tuple(index)


@given(x=any_floats(NONZERO, shapes=NONSCALAR_SHAPES), data=st.data())
def test_getitem_mixed_tuple(x, data):
    index = data.draw(mixed_index(x.shape), label="index")
    check_gradients(lambda t: t[index], x)


@given(x=any_floats(NONZERO, shapes=NONSCALAR_SHAPES), data=st.data())
def test_getitem_boolean_mask(x, data):
    """A mask over the leading axes, a mask on one axis inside a tuple, and ``t[t > 0]``."""
    lead = data.draw(st.integers(1, x.ndim), label="mask axes")
    mask = data.draw(arrays(np.bool_, x.shape[:lead]), label="mask")
    check_gradients(lambda t: t[mask], x)
    axis = data.draw(st.integers(0, x.ndim - 1), label="axis")
    axis_mask = data.draw(arrays(np.bool_, x.shape[axis]), label="axis mask")
    check_gradients(lambda t: t[(*(slice(None),) * axis, axis_mask)], x)
    check_gradients(lambda t: t[t > 0], x)  # values are at least 0.1 from 0: the mask stays put


# ---------------------------------------------------------------------------
# A composite expression
# ---------------------------------------------------------------------------


@st.composite
def mlp_args(draw):
    batch, n_in, hidden, n_out = (draw(st.integers(1, 4)) for _ in range(4))
    weight = st.floats(-1.0, 1.0)
    params = [
        draw(float_arrays((batch, n_in), elements=SMOOTH)),
        draw(float_arrays((n_in, hidden), elements=weight)),
        draw(float_arrays(hidden, elements=weight)),
        draw(float_arrays((2 * hidden, n_out), elements=weight)),
        draw(float_arrays(n_out, elements=weight)),
    ]
    labels = draw(arrays(np.intp, batch, elements=st.integers(0, n_out - 1)))
    return params, labels


@given(args=mlp_args())
def test_mlp_composite(args):
    """A two-layer network's loss, chaining many ops, against all five parameters."""
    params, labels = args

    def loss(x, w1, b1, w2, b2):
        pre = x @ w1
        hidden = (pre + b1).tanh()
        features = tg.concatenate([hidden, pre.sigmoid() * hidden], axis=-1)
        logits = features @ w2 + b2
        log_probs = logits.log_softmax(axis=-1)
        nll = -log_probs[np.arange(len(labels)), labels].mean()
        entropy = -(logits.softmax(axis=1) * log_probs).sum(axis=1).mean()
        weights = tg.concatenate([w1.flatten(), w2.T.reshape(-1)])
        penalty = (weights**2).mean() + ((b1 * b1 + 1).sqrt() / (1 + b2.exp().sum())).sum()
        return nll + 0.1 * entropy + 0.01 * penalty - tg.stack([b1.mean(), b2.mean()]).sum()

    check_gradients(loss, *params)


# ---------------------------------------------------------------------------
# Second derivatives
# ---------------------------------------------------------------------------


def gradient_of(f):
    """The function xs -> d(sum f(xs))/dxs, computed by backprop with create_graph=True
    (all inputs' gradients flattened and joined), so that it can be differentiated again.
    """

    def gradient(*xs):
        with tg.enable_grad():  # gradcheck evaluates it under no_grad for the differences
            for x in xs:
                x.grad = None
            f(*xs).sum().backward(create_graph=True)
            grads = [x.grad.flatten() for x in xs]
            for x in xs:
                x.grad = None  # leave no gradient behind for gradcheck's own backward
        return tg.concatenate(grads)

    return gradient


# name: (f, its second derivative in numpy, input values)
SECOND_DERIVATIVES = {
    "exp": (Tensor.exp, np.exp, SMOOTH),
    "cube": (lambda t: t**3, lambda x: 6 * x, SMOOTH),
    "polynomial": (lambda t: 2 * t**4 - 3 * t * t + t, lambda x: 24 * x**2 - 6, SMOOTH),
    "sigmoid": (
        Tensor.sigmoid,
        lambda x: sigmoid(x) * (1 - sigmoid(x)) * (1 - 2 * sigmoid(x)),
        SMOOTH,
    ),
    "tanh": (Tensor.tanh, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2), SMOOTH),
    "log": (Tensor.log, lambda x: -1 / x**2, POSITIVE),
    "sqrt": (Tensor.sqrt, lambda x: -0.25 * x**-1.5, POSITIVE),
    "reciprocal": (lambda t: 1 / t, lambda x: 2 / x**3, NONZERO),
}


@pytest.mark.parametrize("name", SECOND_DERIVATIVES)
@given(data=st.data())
def test_second_derivative(name, data):
    """The backprop first derivative is itself differentiable, and its derivative is f''."""
    f, second, elements = SECOND_DERIVATIVES[name]
    x = data.draw(any_floats(elements), label="x")
    check_gradients(gradient_of(f), x)
    t = Tensor(x.copy(), requires_grad=True)
    gradient_of(f)(t).sum().backward()
    np.testing.assert_allclose(t.grad.data, second(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(args=array_and_axis(), data=st.data())
def test_second_derivative_softmax(name, args, data):
    x, axis = args
    w = data.draw(float_arrays(x.shape, elements=SMOOTH), label="w")  # softmax(x).sum() is constant
    check_gradients(gradient_of(lambda t: getattr(t, name)(axis=axis) * w), x)


# Two-input functions of a (values away from 0) and b (no ties), both of one 2-D shape.
TWO_INPUT_SECOND_DERIVATIVES = {
    "mul": lambda a, b: (a * b).sigmoid(),
    "div": lambda a, b: (b / a).tanh(),
    "pow": lambda a, b: (a.abs() + 0.5) ** b,
    "matmul": lambda a, b: (a @ b.T).tanh(),
    "mean_max": lambda a, b: (a * b).exp().mean(axis=0) * b.max(axis=0),
    "relu_abs_clip": lambda a, b: (a.relu() + a.abs() * a + a.clip(-1.05, 2.05)) * b,
    "sum_reshape_transpose": lambda a, b: (a.sum(axis=0, keepdims=True) * b).T.reshape(-1).tanh(),
    "getitem": lambda a, b: (a[[0, -1, 0]] * b[..., ::-1][[-1, 0, 0]]).sigmoid(),
    "concatenate_stack": lambda a, b: tg.stack([tg.concatenate([a * b, b], axis=-1)]).softmax(),
}


@pytest.mark.parametrize("name", TWO_INPUT_SECOND_DERIVATIVES)
@given(data=st.data())
def test_second_derivative_two_inputs(name, data):
    """Second derivatives, mixed ones included, through ops of two inputs."""
    shape = data.draw(array_shapes(min_dims=2, max_dims=2, max_side=3), label="shape")
    a = data.draw(float_arrays(shape, elements=NONZERO), label="a")
    b = data.draw(distinct_floats(st.just(shape)), label="b")
    check_gradients(gradient_of(TWO_INPUT_SECOND_DERIVATIVES[name]), a, b)


# ---------------------------------------------------------------------------
# Shape and dtype of gradients
# ---------------------------------------------------------------------------


def _one(strategy):
    return strategy.map(lambda x: (x,))


_nonscalar = _one(any_floats(NONZERO, shapes=NONSCALAR_SHAPES))
_three_alike = NONSCALAR_SHAPES.flatmap(
    lambda s: st.tuples(*[float_arrays(s, elements=NONZERO)] * 3)
)

# name: (fn, strategy of its float64 inputs)
DTYPE_CASES = {
    **{name: (op, broadcast_pair(NONZERO, NONZERO)) for name, op in ARITHMETIC.items()},
    "pow": (operator.pow, broadcast_pair(POSITIVE, POSITIVE)),
    "pow_scalar_exponent": (lambda t: t**3, _one(any_floats(NONZERO))),
    "pow_scalar_base": (lambda t: 2.0**t, _one(any_floats(NONZERO))),
    "rsub_scalar": (lambda t: 2.0 - t, _one(any_floats(NONZERO))),
    "rdiv_scalar": (lambda t: 2.0 / t, _one(any_floats(NONZERO))),
    **{name: (fn, _one(any_floats(elements))) for name, (fn, elements) in ELEMENTWISE.items()},
    "clip": (lambda t: t.clip(-1.0, 1.0), _one(any_floats(NONZERO))),
    "astype_float64": (lambda t: t.astype(np.float64), _one(any_floats(NONZERO))),
    "astype_float32": (lambda t: t.astype(np.float32), _one(any_floats(NONZERO))),
    "matmul": (
        operator.matmul,
        st.sampled_from(MATMUL_LAYOUTS)
        .flatmap(lambda layout: matmul_operands(layout, NONZERO))
        .map(tuple),
    ),
    "sum": (lambda t: t.sum(axis=0, keepdims=True), _nonscalar),
    "mean": (lambda t: t.mean(axis=-1), _nonscalar),
    "max": (lambda t: t.max(), _one(distinct_floats())),
    "min": (lambda t: t.min(axis=0), _one(distinct_floats(NONSCALAR_SHAPES))),
    "softmax": (lambda t: t.softmax(axis=0), _nonscalar),
    "log_softmax": (lambda t: t.log_softmax(axis=-1), _nonscalar),
    "reshape": (lambda t: t.reshape(-1), _one(any_floats(NONZERO))),
    "transpose": (lambda t: t.transpose(), _one(any_floats(NONZERO))),
    "T": (lambda t: t.T, _one(any_floats(NONZERO))),
    "flatten": (lambda t: t.flatten(1), _nonscalar),
    "getitem_basic": (lambda t: t[..., -1], _nonscalar),
    "getitem_repeated": (lambda t: t[[0, -1, 0]], _nonscalar),
    "getitem_mask": (lambda t: t[t > 0], _nonscalar),
    "concatenate": (lambda *ts: tg.concatenate(ts, axis=-1), _three_alike),
    "stack": (lambda *ts: tg.stack(ts, axis=1), _three_alike),
}


@pytest.mark.parametrize("name", DTYPE_CASES)
@given(data=st.data())
def test_gradient_has_input_shape_and_float32_dtype(name, data):
    fn, inputs = DTYPE_CASES[name]
    tensors = [Tensor(x, dtype=np.float32, requires_grad=True) for x in data.draw(inputs)]
    out = fn(*tensors)
    if name != "astype_float64":
        assert out.dtype == np.float32
    out.sum().backward()
    for t in tensors:
        assert t.grad.shape == t.shape
        assert t.grad.dtype == np.float32


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("op", [*ARITHMETIC.values(), operator.pow], ids=[*ARITHMETIC, "pow"])
@given(pair=broadcast_pair(POSITIVE, POSITIVE))
def test_gradient_stays_float32_with_float64_constant(op, side, pair):
    """A float64 numpy operand makes the result float64, but not the gradient."""
    x, c = pair
    t = Tensor(x, dtype=np.float32, requires_grad=True)
    (op(c, t) if side == "left" else op(t, c)).sum().backward()
    assert t.grad.shape == t.shape
    assert t.grad.dtype == np.float32


@pytest.mark.parametrize("target", ["indices", "probabilities"])
def test_second_derivatives_through_the_fused_linear_and_cross_entropy(target):
    """Linear and CrossEntropy switch to Tensor ops under create_graph: check the result."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3))
    t = rng.integers(0, 5, 4) if target == "indices" else rng.dirichlet(np.ones(5), 4)

    def loss(w, b):
        return tg.functional.cross_entropy(tg.functional.linear(x, w, b), t)

    w, b = rng.standard_normal((3, 5)), rng.standard_normal(5)
    check_gradients(gradient_of(loss), w, b)
