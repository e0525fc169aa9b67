"""PyTorch as the oracle: every feature that PyTorch also has, compared with PyTorch.

Forward values and gradients of the Tensor ops, the functional losses, nn layers and
parameter names, the optimizers' trajectories, and the autograd engine's behaviours that
PyTorch shares (in-place checks, freed graphs, second derivatives). Inputs are drawn by
hypothesis and compared in float64 with rtol 1e-10; float32 dtypes are compared
separately. Without PyTorch these tests skip (pip install '.[torch]'), except in CI
(CI=true), where they fail: CI installs the pinned CPU build (.ci/run).

Where the library and PyTorch differ, a test shows it, marked ``differs_from_pytorch``
(``xfail(strict=True)``) with the reason: it turns red the day the difference goes away.
"""

import operator

import numpy as np
import pytest
from helpers import (
    MATMUL_LAYOUTS,
    NONSCALAR_SHAPES,
    any_floats,
    broadcast_pair,
    concatenate_args,
    finite_floats,
    float_arrays,
    matmul_operands,
    reshape_args,
)
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays, valid_tuple_axes

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, no_grad, optim

# ---------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------

RTOL = 1e-10
# Both libraries compute sums (reductions, matrix products, the gradients of broadcast
# operands) in different orders, which changes the last bits: relative to the terms
# (at most ~100 of them, each at most ~1e2 here) that is ~1e-14 absolute. Where the terms
# cancel to nearly 0, the relative difference means nothing, hence an absolute tolerance
# far below any real error.
ATOL = 1e-12


def assert_same(ours, theirs, rtol=RTOL, atol=ATOL):
    """Our Tensor (or array) and a torch tensor: same shape, same dtype, close values."""
    ours = ours.data if isinstance(ours, Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape, f"shape {ours.shape}, PyTorch's {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"dtype {ours.dtype}, PyTorch's {theirs.dtype}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def compare(torch, data, arrays, ours, theirs=None, rtol=RTOL, atol=ATOL):
    """``ours(*leaves)`` against ``theirs(*torch_leaves)`` (by default the same function:
    the two libraries share operator and method names), leaves made from ``arrays``
    (float64): the outputs, then every input's gradient for a random output gradient."""
    theirs = theirs or ours
    xs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    ts = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out, ref = ours(*xs), theirs(*ts)
    assert_same(out, ref, rtol, atol)
    upstream = data.draw(float_arrays(out.shape), label="d(loss)/d(output)")
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad is not None and t.grad is not None, f"input {i}: no gradient"
        assert_same(x.grad, t.grad, rtol, atol)


def leaves_of(torch, values):
    """(our leaf, PyTorch's leaf) of the same float64 values."""
    values = np.array(values, dtype=np.float64)
    return Tensor(values.copy(), requires_grad=True), torch.tensor(values, requires_grad=True)


def to_torch(torch, x):
    """A constant (number, array, or our Tensor) as a torch tensor; numbers stay numbers."""
    if isinstance(x, Tensor):
        x = x.data
    return torch.from_numpy(x) if isinstance(x, np.ndarray) else x


def differs_from_pytorch(reason, raises=AssertionError):
    """The marker of a test that shows a difference from PyTorch: a strict xfail (the test
    turns red the day the difference goes away) that must fail with ``raises``."""
    return pytest.mark.xfail(strict=True, raises=raises, reason=reason)


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

# VALUES is also the default of the strategies from helpers (any_floats, broadcast_pair, ...).
VALUES = finite_floats(-5.0, 5.0)  # zeros, tiny and subnormal numbers included
MAGNITUDES = st.floats(0.1, 5.0)
NONZERO = MAGNITUDES | MAGNITUDES.map(operator.neg)  # divisors
POSITIVE = MAGNITUDES  # log, sqrt, bases of real powers
TIES = st.sampled_from([-1.0, 0.0, 0.5, 2.0])  # exact repeats: ties in max / min, kinks


# ---------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------

# name: (op, values of the left operand, values of the right one)
BINARY = {
    "add": (operator.add, VALUES, VALUES),
    "sub": (operator.sub, VALUES, VALUES),
    "mul": (operator.mul, VALUES, VALUES),
    "div": (operator.truediv, VALUES, NONZERO),
    "pow": (operator.pow, POSITIVE, st.floats(-3.0, 3.0)),
}


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary_op_with_broadcasting(torch, name, data):
    op, left, right = BINARY[name]
    compare(torch, data, data.draw(broadcast_pair(left, right), label="a, b"), op)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary_op_with_a_python_number(torch, name, side, data):
    """``2.0 - x``, ``x / 3.0``, ``2.0 ** x``, ...: a constant on either side."""
    op, left, right = BINARY[name]
    x = data.draw(any_floats(left if side == "left" else right), label="x")
    c = data.draw(right if side == "left" else left, label="constant")
    fn = (lambda t: op(t, c)) if side == "left" else (lambda t: op(c, t))
    compare(torch, data, [x], fn)


@pytest.mark.parametrize("exponent", [0, 1, 2, 3, -1, -2, 0.5, 2.5])
@given(data=st.data())
def test_pow_constant_exponent(torch, exponent, data):
    """Integer exponents on any sign (and at 0 where n >= 0: x**0 has gradient 0 there,
    x**1 gradient 1), real exponents on positive bases."""
    if isinstance(exponent, int) and exponent >= 0:
        elements = VALUES | TIES
    elif isinstance(exponent, int):
        elements = NONZERO
    else:
        elements = POSITIVE
    x = data.draw(any_floats(elements), label="x")
    compare(torch, data, [x], lambda t: t**exponent)


@given(data=st.data())
def test_neg(torch, data):
    compare(torch, data, [data.draw(any_floats(), label="x")], operator.neg)


@pytest.mark.parametrize("layout", MATMUL_LAYOUTS)
@given(data=st.data())
def test_matmul(torch, layout, data):
    """1-D (dot products, vector-matrix), 2-D and batched with broadcast batch shapes."""
    compare(torch, data, data.draw(matmul_operands(layout), label="a, b"), operator.matmul)


# ---------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------

# name: values (the method has the same name in both libraries)
ELEMENTWISE = {
    "exp": finite_floats(-30.0, 30.0),
    "log": st.floats(1e-3, 1e3),
    "sqrt": st.floats(1e-3, 1e3),
    "abs": VALUES | TIES,  # 0 included: both take the gradient there as 0
    "relu": VALUES | TIES,  # 0 included: both take the gradient there as 0
    "sigmoid": finite_floats(-40.0, 40.0),  # both sides of the stable formula
    # Within [-3, 3]: farther out, 1 - tanh(x)^2 cancels, and a last-bit difference in
    # tanh(x) (numpy's and PyTorch's tanh are different code) is amplified past rtol.
    "tanh": finite_floats(-3.0, 3.0),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(data=st.data())
def test_elementwise(torch, name, data):
    x = data.draw(any_floats(ELEMENTWISE[name]), label="x")
    compare(torch, data, [x], lambda t: getattr(t, name)())


@given(data=st.data())
def test_clip_is_clamp(torch, data):
    """Bounds drawn among the values themselves, so some values sit exactly on a bound
    (both let the gradient through there), one bound may be None, and lo > hi is allowed
    (both then give hi everywhere, with no gradient)."""
    x = data.draw(any_floats(TIES | VALUES), label="x")
    bound = st.none() | st.sampled_from([*x.ravel().tolist(), 0.5]) | VALUES
    lo, hi = data.draw(bound, label="lo"), data.draw(bound, label="hi")
    assume(lo is not None or hi is not None)
    compare(torch, data, [x], lambda t: t.clip(lo, hi), lambda t: t.clamp(lo, hi))


# ---------------------------------------------------------------------------
# Reductions, softmax
# ---------------------------------------------------------------------------


def axes(ndim):
    """None, an int (maybe negative) or a non-empty tuple of distinct ints (see
    test_reduction_over_an_empty_tuple_of_axes for the empty one)."""
    if ndim == 0:
        return st.none()
    return st.none() | st.integers(-ndim, ndim - 1) | valid_tuple_axes(ndim, min_size=1)


# ours: PyTorch's name for the same reduction
REDUCTIONS = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin"}


@pytest.mark.parametrize("name", REDUCTIONS)
@given(data=st.data(), pytorch_keywords=st.booleans())
def test_reduction(torch, name, data, pytorch_keywords):
    """sum, mean, max and min over None, an axis or a tuple, with keepdims. The values
    tie often: for max and min both libraries split the gradient equally among ties
    (PyTorch's amax / amin; its max(dim) would give it all to one)."""
    x = data.draw(any_floats(TIES | VALUES), label="x")
    axis, keep = data.draw(axes(x.ndim), label="axis"), data.draw(st.booleans(), label="keep")
    if pytorch_keywords:
        kwargs = {"dim": axis, "keepdim": keep}
    else:
        kwargs = {"axis": axis, "keepdims": keep}
    compare(
        torch,
        data,
        [x],
        lambda t: getattr(t, name)(**kwargs),
        lambda t: getattr(t, REDUCTIONS[name])(dim=axis, keepdim=keep),
    )


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_over_an_empty_tuple_of_axes(torch, name):
    x = np.arange(6.0).reshape(2, 3)
    ours = getattr(Tensor(x), name)(dim=())
    assert_same(ours, getattr(torch.tensor(x), REDUCTIONS[name])(dim=()))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(data=st.data(), pytorch_keyword=st.booleans())
def test_softmax(torch, name, data, pytorch_keyword):
    x = data.draw(any_floats(finite_floats(-30.0, 30.0), NONSCALAR_SHAPES), label="x")
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    compare(
        torch,
        data,
        [x],
        lambda t: getattr(t, name)(dim=axis) if pytorch_keyword else getattr(t, name)(axis),
        lambda t: getattr(t, name)(dim=axis),
    )


# ---------------------------------------------------------------------------
# Shapes, indexing, joining
# ---------------------------------------------------------------------------


@given(args=reshape_args(), data=st.data())
def test_reshape(torch, args, data):
    x, shape = args
    compare(torch, data, [x], lambda t: t.reshape(shape))


@given(data=st.data())
def test_transpose_is_permute(torch, data):
    x = data.draw(any_floats(), label="x")
    perm = data.draw(st.permutations(range(x.ndim)), label="permutation")
    perm = [a - x.ndim if data.draw(st.booleans()) else a for a in perm]  # negative axes too
    compare(torch, data, [x], lambda t: t.transpose(*perm), lambda t: t.permute(tuple(perm)))
    reverse = tuple(range(x.ndim))[::-1]
    compare(torch, data, [x], lambda t: t.transpose(), lambda t: t.permute(reverse))


@given(data=st.data())
def test_flatten(torch, data):
    x = data.draw(any_floats(), label="x")
    n = max(x.ndim, 1)
    start = data.draw(st.integers(-n, n - 1), label="start_dim")
    compare(torch, data, [x], lambda t: t.flatten(start))


@st.composite
def indices(draw, shape):
    """A tuple index over some leading axes (or trailing ones, after an Ellipsis): ints
    (maybe negative), slices with positive steps (PyTorch has no negative steps), integer
    arrays of one shape of 1 or 2 axes (repeats likely), and None."""
    positions = draw(array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))
    count = draw(st.integers(1, len(shape)))  # of the axes indexed
    index = [Ellipsis] if draw(st.booleans()) else []  # then the last axes are indexed
    for n in shape[-count:] if index else shape[:count]:
        if draw(st.integers(0, 5)) == 0:
            index.append(None)
        kind = draw(st.sampled_from(["int", "slice", "array"]))
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            end = st.none() | st.integers(-n - 1, n + 1)
            index.append(slice(draw(end), draw(end), draw(st.sampled_from([None, 1, 2, 3]))))
        else:
            index.append(draw(arrays(np.intp, positions, elements=st.integers(-n, n - 1))))
    return tuple(index)


def torch_moves_the_axes(index):
    """Whether PyTorch places the axes of this index's arrays elsewhere than numpy does.

    With an array in the index, numpy treats the ints as arrays too: when these
    "advanced" indices are not side by side, their axes go first. PyTorch applies the
    ints first, on their own, so for it only the arrays need to be side by side.
    """

    def side_by_side(positions):
        return not positions or positions[-1] - positions[0] == len(positions) - 1

    if not any(isinstance(i, np.ndarray) for i in index):
        return False
    advanced = [p for p, i in enumerate(index) if isinstance(i, (int, np.ndarray))]
    without_ints = [i for i in index if not isinstance(i, int)]
    arrays_alone = [p for p, i in enumerate(without_ints) if isinstance(i, np.ndarray)]
    return side_by_side(arrays_alone) and not side_by_side(advanced)


def torch_index(torch, index):
    return tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in index)


@given(data=st.data())
def test_indexing(torch, data):
    """Repeated positions add their gradients up in both (see test_indexing_where_pytorch_
    moves_the_axes for the one arrangement where the libraries differ)."""
    x = data.draw(any_floats(shapes=NONSCALAR_SHAPES), label="x")
    index = data.draw(indices(x.shape), label="index")
    assume(not torch_moves_the_axes(index))
    compare(torch, data, [x], lambda t: t[index], lambda t: t[torch_index(torch, index)])


@given(data=st.data())
def test_boolean_mask(torch, data):
    x = data.draw(any_floats(shapes=NONSCALAR_SHAPES), label="x")
    mask = data.draw(arrays(np.bool_, x.shape), label="mask")
    compare(torch, data, [x], lambda t: t[mask], lambda t: t[torch.from_numpy(mask)])


@differs_from_pytorch(
    "an int and an integer array separated by a slice: numpy (and so this library) "
    "puts the array's axis first, PyTorch keeps it in place",
)
def test_indexing_where_pytorch_moves_the_axes(torch):
    x = np.arange(24.0).reshape(2, 3, 4)
    index = (0, slice(None), np.array([1, 2]))
    assert torch_moves_the_axes(index)
    assert_same(Tensor(x)[index], torch.tensor(x)[torch_index(torch, index)])


@given(args=concatenate_args(), data=st.data())
def test_concatenate_is_cat(torch, args, data):
    parts, axis = args
    compare(
        torch,
        data,
        parts,
        lambda *ts: tg.concatenate(ts, dim=axis),
        lambda *ts: torch.cat(ts, dim=axis),
    )


@given(data=st.data())
def test_stack(torch, data):
    shape = data.draw(array_shapes(min_dims=0, max_dims=3, max_side=3), label="shape")
    parts = data.draw(st.lists(float_arrays(shape), min_size=1, max_size=4), label="parts")
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)), label="axis")
    compare(torch, data, parts, lambda *ts: tg.stack(ts, axis), lambda *ts: torch.stack(ts, axis))


# ---------------------------------------------------------------------------
# float32 stays float32
# ---------------------------------------------------------------------------

# name: (ours, PyTorch's (given the torch module first)) of x (3, 4) > 0, y (3, 4), w (4, 2)
FLOAT32_OPS = {
    "add number": (lambda x, y, w: x + 2.5, None),
    "rsub number": (lambda x, y, w: 2.5 - x, None),
    "mul": (lambda x, y, w: x * y, None),
    "div": (lambda x, y, w: y / x, None),
    "pow number": (lambda x, y, w: x**1.5, None),
    "rpow number": (lambda x, y, w: 2.0**y, None),
    "pow tensor": (lambda x, y, w: x**y, None),
    "matmul": (lambda x, y, w: y @ w, None),
    "neg": (lambda x, y, w: -y, None),
    "elementwise": (
        lambda x, y, w: x.log() + x.sqrt() + y.exp() + y.abs() + y.relu() + y.sigmoid() + y.tanh(),
        None,
    ),
    "clip": (lambda x, y, w: y.clip(-0.5, 0.5), lambda torch, x, y, w: y.clamp(-0.5, 0.5)),
    "sum mean": (lambda x, y, w: y.sum(dim=0) + y.mean(dim=0), None),
    "max min": (
        lambda x, y, w: y.max(dim=1) - y.min(dim=1),
        lambda torch, x, y, w: y.amax(dim=1) - y.amin(dim=1),
    ),
    "softmax": (lambda x, y, w: y.softmax(dim=1) * y.log_softmax(dim=0), None),
    "shapes": (lambda x, y, w: y.reshape(4, 3).transpose(1, 0).flatten()[1:5], None),
    "indexing": (
        lambda x, y, w: y[np.array([0, 2, 0]), 1:],
        lambda torch, x, y, w: y[torch.tensor([0, 2, 0]), 1:],
    ),
    "concatenate stack": (
        lambda x, y, w: tg.stack([tg.concatenate([x, y], dim=1), tg.concatenate([y, x], dim=1)]),
        lambda torch, x, y, w: torch.stack([torch.cat([x, y], 1), torch.cat([y, x], 1)]),
    ),
    "cross_entropy": (
        lambda x, y, w: F.cross_entropy(y, np.array([0, 3, 1])),
        lambda torch, x, y, w: torch.nn.functional.cross_entropy(y, torch.tensor([0, 3, 1])),
    ),
    "cross_entropy probabilities": (
        lambda x, y, w: F.cross_entropy(y, np.full((3, 4), 0.25, np.float32)),
        lambda torch, x, y, w: torch.nn.functional.cross_entropy(y, torch.full((3, 4), 0.25)),
    ),
    "binary_cross_entropy_with_logits": (
        lambda x, y, w: F.binary_cross_entropy_with_logits(y, np.full((3, 4), 0.25)),
        lambda torch, x, y, w: torch.nn.functional.binary_cross_entropy_with_logits(
            y, torch.full((3, 4), 0.25)
        ),
    ),
    "binary_cross_entropy": (
        lambda x, y, w: F.binary_cross_entropy(y.sigmoid(), np.full((3, 4), 0.25)),
        lambda torch, x, y, w: torch.nn.functional.binary_cross_entropy(
            y.sigmoid(), torch.full((3, 4), 0.25)
        ),
    ),
    "mse_loss": (
        lambda x, y, w: F.mse_loss(y, np.zeros((3, 4))),
        lambda torch, x, y, w: torch.nn.functional.mse_loss(y, torch.zeros(3, 4)),
    ),
    "linear": (
        lambda x, y, w: F.linear(y, w, x[0, :2]),
        lambda torch, x, y, w: torch.nn.functional.linear(y, w.T, x[0, :2]),
    ),
}


@pytest.mark.parametrize("name", FLOAT32_OPS)
def test_float32_stays_float32(torch, name):
    """Outputs and gradients of float32 inputs are float32 in both libraries (values
    compared at rtol 1e-5: float32 keeps ~7 digits and the libraries round differently)."""
    ours_fn, theirs_fn = FLOAT32_OPS[name]
    rng = np.random.default_rng(0)
    arrays = [
        rng.uniform(0.5, 2.0, (3, 4)).astype(np.float32),
        rng.standard_normal((3, 4)).astype(np.float32),
        rng.standard_normal((4, 2)).astype(np.float32),
    ]
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = ours_fn(*xs)
    ref = theirs_fn(torch, *ts) if theirs_fn else ours_fn(*ts)
    assert out.dtype == np.float32 and ref.dtype == torch.float32
    assert_same(out, ref, rtol=1e-5, atol=1e-6)
    upstream = np.asarray(rng.standard_normal(out.shape), dtype=np.float32)
    out.backward(upstream)
    ref.backward(torch.from_numpy(upstream))
    for x, t in zip(xs, ts):
        if t.grad is None:  # an input this op does not use
            assert x.grad is None
            continue
        assert x.grad.dtype == np.float32 and t.grad.dtype == torch.float32
        assert_same(x.grad, t.grad, rtol=1e-5, atol=1e-6)


def test_float32_times_a_float64_numpy_scalar_stays_float32(torch):
    x = np.ones(3, dtype=np.float32)
    constant = np.float64(2.0)  # e.g. np.sqrt(2)
    assert_same(Tensor(x) * constant, torch.from_numpy(x) * to_torch(torch, constant))


@differs_from_pytorch(
    "numpy's promotion (NEP 50): a float64 0-d array is 'strong' and makes the "
    "result float64 (this library keeps numpy's rules for arrays); PyTorch's 0-d tensors "
    "do not promote",
)
def test_float32_times_a_float64_0d_array(torch):
    x, constant = np.ones(3, dtype=np.float32), np.array(2.0)
    assert_same(Tensor(x) * constant, torch.from_numpy(x) * to_torch(torch, constant))


# ---------------------------------------------------------------------------
# functional
# ---------------------------------------------------------------------------


@st.composite
def logits_and_labels(draw):
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    logits = draw(float_arrays((n, c), elements=finite_floats(-30.0, 30.0)))
    return logits, draw(arrays(np.int64, n, elements=st.integers(0, c - 1)))


def ce(torch, target):
    """cross_entropy against ``target`` (class indices, a 0-d class index, or probability
    rows), in ours and in PyTorch."""
    return (
        lambda z: F.cross_entropy(z, target),
        lambda z: torch.nn.functional.cross_entropy(z, torch.as_tensor(target)),
    )


@given(args=logits_and_labels(), data=st.data())
def test_cross_entropy_class_indices(torch, args, data):
    logits, labels = args
    compare(torch, data, [logits], *ce(torch, labels))


@given(args=logits_and_labels(), data=st.data())
def test_cross_entropy_one_sample(torch, args, data):
    """Logits of shape (C,) and a 0-d class index: one unbatched sample in both."""
    logits, labels = args
    compare(torch, data, [logits[0]], *ce(torch, labels[0]))


@given(args=logits_and_labels(), data=st.data())
def test_cross_entropy_probability_targets(torch, args, data):
    """Rows of non-negative weights, not necessarily summing to 1: the same formula,
    -mean over rows of sum(t * log_softmax(z)), in both."""
    logits, _ = args
    target = data.draw(float_arrays(logits.shape, elements=st.floats(0.0, 1.0)), label="target")
    compare(torch, data, [logits], *ce(torch, target))


@given(data=st.data())
def test_binary_cross_entropy_with_logits(torch, data):
    x = data.draw(any_floats(finite_floats(-40.0, 40.0)), label="logits")
    t = data.draw(float_arrays(x.shape, elements=st.floats(0.0, 1.0)), label="target")
    compare(
        torch,
        data,
        [x],
        lambda z: F.binary_cross_entropy_with_logits(z, t),
        lambda z: torch.nn.functional.binary_cross_entropy_with_logits(z, torch.from_numpy(t)),
    )


def bce(torch, t):
    """binary_cross_entropy against the target ``t``, in ours and in PyTorch."""
    return (
        lambda q: F.binary_cross_entropy(q, t),
        lambda q: torch.nn.functional.binary_cross_entropy(q, torch.from_numpy(t)),
    )


@given(data=st.data())
def test_binary_cross_entropy(torch, data):
    """Probabilities where p (1 - p) >= 1e-12, so the gradient's denominator is not
    clamped (see below for where it is)."""
    probs = st.floats(2e-12, 1 - 2e-12)
    p = data.draw(any_floats(probs), label="probs")
    t = data.draw(float_arrays(p.shape, elements=st.floats(0.0, 1.0)), label="target")
    compare(torch, data, [p], *bce(torch, t))


# Probabilities where the gradient's denominator p (1 - p) is clamped at 1e-12 (the log of
# 0 is clamped at -100 too), and their targets.
CLAMPED_PROBS = np.array([0.0, 1.0, 1e-13, 1e-50, 0.0, 1.0])
CLAMPED_TARGETS = np.array([1.0, 0.0, 0.7, 0.2, 0.0, 1.0])


@given(data=st.data())
def test_binary_cross_entropy_where_it_clamps(torch, data):
    """Both clamp each log at -100 and p (1 - p) at 1e-12; but PyTorch's 1e-12 is a
    float32 constant (9.99999996e-13) even in float64, so where p (1 - p) < 1e-12 the
    gradients differ by 4e-9 relative: compared at 1e-8 here, shown by the next test."""
    compare(torch, data, [CLAMPED_PROBS], *bce(torch, CLAMPED_TARGETS), rtol=1e-8)


@differs_from_pytorch(
    "PyTorch clamps p (1 - p) at float32(1e-12) = 9.99999996e-13 even in float64, "
    "this library at 1e-12: the gradients differ by 4e-9 relative at p = 0 or 1",
)
def test_binary_cross_entropy_clamped_gradient_at_rtol_1e_10(torch):
    grads = []
    for lib_leaf, fn in zip(leaves_of(torch, [0.0]), bce(torch, np.array([1.0]))):
        fn(lib_leaf).backward()
        grads.append(lib_leaf.grad)
    assert_same(*grads)


@given(pair=broadcast_pair(), data=st.data())
def test_mse_loss(torch, pair, data):
    """Against a constant target, and against a target that is itself differentiated."""
    y, _ = pair
    t = data.draw(float_arrays(y.shape), label="target")
    compare(
        torch,
        data,
        [y],
        lambda z: F.mse_loss(z, t),
        lambda z: torch.nn.functional.mse_loss(z, torch.from_numpy(t)),
    )
    compare(torch, data, [y, t], F.mse_loss, torch.nn.functional.mse_loss)


@given(data=st.data())
def test_dropout_in_eval_mode_is_the_identity(torch, data):
    x = data.draw(any_floats(), label="x")
    p = data.draw(st.floats(0.0, 0.9), label="p")
    compare(
        torch,
        data,
        [x],
        lambda z: F.dropout(z, p, training=False),
        lambda z: torch.nn.functional.dropout(z, p, training=False),
    )
    ours, theirs = nn.Dropout(p).eval(), torch.nn.Dropout(p).eval()
    compare(torch, data, [x], ours, theirs)


@st.composite
def linear_args(draw):
    """x (..., in) with 0 to 2 batch axes, weight (in, out), maybe a bias (out,)."""
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(array_shapes(min_dims=0, max_dims=2, max_side=3))
    arrays_ = [draw(float_arrays((*batch, n_in))), draw(float_arrays((n_in, n_out)))]
    if draw(st.booleans()):
        arrays_.append(draw(float_arrays(n_out)))
    return arrays_


@given(args=linear_args(), data=st.data())
def test_linear(torch, args, data):
    """Our weight is (in, out), PyTorch's F.linear takes (out, in): it gets weight.T, and
    the gradients compared are those of the same (in, out) leaf."""
    compare(
        torch,
        data,
        args,
        F.linear,
        lambda x, w, *b: torch.nn.functional.linear(x, w.T, *b),
    )


# ---------------------------------------------------------------------------
# nn
# ---------------------------------------------------------------------------


def copy_linear(ours, theirs):
    """Give our Linear PyTorch's parameters (our weight is PyTorch's transposed)."""
    with no_grad():
        ours.weight.copy_(theirs.weight.detach().numpy().T)
        if theirs.bias is not None:
            ours.bias.copy_(theirs.bias.detach().numpy())


@pytest.mark.parametrize("bias", [True, False])
@given(data=st.data())
def test_linear_module(torch, bias, data):
    n_in, n_out = data.draw(st.integers(1, 4), label="in"), data.draw(st.integers(1, 4), "out")
    batch = data.draw(array_shapes(min_dims=0, max_dims=2, max_side=3), label="batch shape")
    x = data.draw(float_arrays((*batch, n_in)), label="x")
    torch.manual_seed(0)
    theirs = torch.nn.Linear(n_in, n_out, bias=bias, dtype=torch.float64)
    ours = nn.Linear(n_in, n_out, bias=bias, dtype=np.float64)
    copy_linear(ours, theirs)
    compare(torch, data, [x], ours, theirs)  # the outputs and x's gradients
    assert_same(ours.weight.grad, theirs.weight.grad.T)
    if bias:
        assert_same(ours.bias.grad, theirs.bias.grad)


def sequential_pair(torch):
    """The same network in both libraries, PyTorch's parameters copied into ours."""
    layers = [(6, 5), (5, 4), (4, 4), (4, 3)]
    torch.manual_seed(0)
    tl = [torch.nn.Linear(i, o, dtype=torch.float64) for i, o in layers]
    ol = [nn.Linear(i, o, dtype=np.float64) for i, o in layers]
    for o, t in zip(ol, tl):
        copy_linear(o, t)
    ours = nn.Sequential(
        nn.Flatten(), ol[0], nn.ReLU(), ol[1], nn.Sigmoid(), ol[2], nn.Tanh(), ol[3],
        nn.Softmax(dim=-1),
    )  # fmt: skip
    theirs = torch.nn.Sequential(
        torch.nn.Flatten(), tl[0], torch.nn.ReLU(), tl[1], torch.nn.Sigmoid(), tl[2],
        torch.nn.Tanh(), tl[3], torch.nn.Softmax(dim=-1),
    )  # fmt: skip
    return ours, theirs


@given(data=st.data())
def test_sequential_forward_and_backward(torch, data):
    ours, theirs = sequential_pair(torch)
    batch = data.draw(st.integers(1, 4), label="batch")
    x = data.draw(float_arrays((batch, 2, 3)), label="x")
    compare(torch, data, [x], ours, theirs)  # the outputs and x's gradients
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        expected = theirs_params[name].grad
        assert_same(p.grad, expected.T if name.endswith("weight") else expected)


def build_model(lib, kind):
    """A model built alike from ``lib`` (our nn, or torch.nn). "nested": a custom module
    with parameters of its own assigned before and after its sub-modules (both libraries
    list a module's own parameters first), containers inside, a Linear without bias;
    "shared": the same with one Linear used in three places."""
    if lib is nn:
        param = lambda *shape: Tensor(np.zeros(shape), requires_grad=True)  # noqa: E731
    else:
        import torch

        param = lambda *shape: torch.nn.Parameter(torch.zeros(*shape))  # noqa: E731

    class Net(lib.Module):
        def __init__(self, share):
            super().__init__()
            self.scale = param(3)
            self.blocks = lib.ModuleList([lib.Linear(3, 3), lib.ReLU(), lib.Linear(3, 2, False)])
            self.heads = lib.ModuleDict({"b": lib.Linear(2, 1), "a": lib.Linear(2, 2)})
            if share:
                self.again = self.heads["a"]
            inner = self.heads["a"] if share else lib.Linear(2, 2)
            self.body = lib.Sequential(lib.Linear(2, 2), lib.Sigmoid(), lib.Sequential(inner))
            self.offset = param(2)

    if kind == "Sequential":
        return lib.Sequential(lib.Flatten(), lib.Linear(4, 3), lib.ReLU(), lib.Linear(3, 2))
    if kind == "ModuleList":
        return lib.ModuleList([lib.Linear(2, 2), lib.Tanh(), lib.Linear(2, 1, bias=False)])
    if kind == "ModuleDict":
        return lib.ModuleDict(
            {"encoder": lib.Linear(2, 3), "act": lib.ReLU(), "decoder": lib.Linear(3, 2)}
        )
    return Net(share=kind == "shared")


MODELS = ["Sequential", "ModuleList", "ModuleDict", "nested", "shared"]


@pytest.mark.parametrize("kind", MODELS)
def test_parameter_names(torch, kind):
    """named_parameters() names and orders parameters as PyTorch does; a parameter
    reachable by several names is listed once, under the first, in both."""
    ours, theirs = build_model(nn, kind), build_model(torch.nn, kind)
    names = [name for name, _ in theirs.named_parameters()]
    assert [name for name, _ in ours.named_parameters()] == names
    assert len(ours.parameters()) == len(list(theirs.parameters())) == len(names)


@pytest.mark.parametrize("kind", list(MODELS))
def test_state_dict_keys(torch, kind):
    ours, theirs = build_model(nn, kind), build_model(torch.nn, kind)
    assert list(ours.state_dict()) == list(theirs.state_dict())


# ---------------------------------------------------------------------------
# optim
# ---------------------------------------------------------------------------

TARGET = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
CURVATURE = np.array([[1.0, 2.0, 0.5], [0.1, 3.0, 1.0]])
MIX = np.array([[0.5, -0.3], [0.2, 0.8], [-0.4, 0.1]])
OFFSET = np.array([0.3, -0.7, 1.1])
STARTS = [np.random.default_rng(0).standard_normal(s) for s in ((2, 3), (2,))]


def quadratic(p, q, constants):
    """A quadratic loss of two parameters (one through a matrix product)."""
    target, curvature, mix, offset = constants
    return (curvature * (p - target) ** 2).sum() + ((mix @ q - offset) ** 2).sum()


def trajectories(torch, ours_cls, theirs_cls, **hyper):
    """The parameters after each of 20 steps on ``quadratic``, in both libraries."""
    constants = [TARGET, CURVATURE, MIX, OFFSET]
    ours_params = [Tensor(s.copy(), requires_grad=True) for s in STARTS]
    theirs_params = [torch.tensor(s, requires_grad=True) for s in STARTS]
    ours_opt, theirs_opt = ours_cls(ours_params, **hyper), theirs_cls(theirs_params, **hyper)
    ours_steps, theirs_steps = [], []
    for _ in range(20):
        ours_opt.zero_grad()
        quadratic(*ours_params, constants).backward()
        ours_opt.step()
        ours_steps.append([p.data.copy() for p in ours_params])
        theirs_opt.zero_grad()
        quadratic(*theirs_params, [torch.from_numpy(c) for c in constants]).backward()
        theirs_opt.step()
        theirs_steps.append([p.detach().clone() for p in theirs_params])
    return ours_steps, theirs_steps


def assert_same_trajectory(ours_steps, theirs_steps):
    for step, (ours, theirs) in enumerate(zip(ours_steps, theirs_steps), start=1):
        for p, t in zip(ours, theirs):
            # 1e-12: a few last-bit differences per step, accumulated over 20 steps
            np.testing.assert_allclose(p, t.numpy(), rtol=1e-12, atol=1e-12, err_msg=f"step {step}")


def zero_or(strategy):
    return st.just(0.0) | strategy


@given(
    lr=st.floats(1e-3, 0.05),
    momentum=zero_or(st.floats(0.0, 0.95)),
    weight_decay=zero_or(st.floats(0.0, 0.1)),
)
def test_sgd_trajectory(torch, lr, momentum, weight_decay):
    """Our SGD: g = grad + wd p; v = momentum v + g (v = g at first); p -= lr v, which is
    torch.optim.SGD without dampening and Nesterov."""
    hyper = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
    assert_same_trajectory(*trajectories(torch, optim.SGD, torch.optim.SGD, **hyper))


@given(
    lr=st.floats(1e-3, 0.1),
    beta1=st.floats(0.0, 0.95),
    beta2=st.floats(0.9, 0.9999),
    eps=st.sampled_from([1e-8, 1e-6, 1e-3]),
    weight_decay=zero_or(st.floats(0.0, 0.1)),
)
def test_adam_trajectory(torch, lr, beta1, beta2, eps, weight_decay):
    """Our Adam adds weight_decay * p to the gradient before the moments: the L2 form of
    torch.optim.Adam (not AdamW's decoupled decay)."""
    hyper = {"lr": lr, "betas": (beta1, beta2), "eps": eps, "weight_decay": weight_decay}
    assert_same_trajectory(*trajectories(torch, optim.Adam, torch.optim.Adam, **hyper))


# ---------------------------------------------------------------------------
# Engine behaviours
# ---------------------------------------------------------------------------

W = np.array([0.5, -1.5, 2.0])


def leaves(torch):
    """The same float64 leaf in both libraries."""
    return leaves_of(torch, W)


# Functions whose backward needs the values of their input w (PyTorch saves them).
NEEDS_INPUT = {
    "mul": lambda w: (w * w).sum(),
    "pow": lambda w: (w**2).sum(),
    "log": lambda w: (w * w).log().sum(),
    "matmul": lambda w: w @ w,
    "div": lambda w: (w / w.exp()).sum(),
}


@pytest.mark.parametrize("name", NEEDS_INPUT)
def test_changing_a_saved_input_between_forward_and_backward_raises_in_both(torch, name):
    for w, no_grad_ in zip(leaves(torch), [no_grad, torch.no_grad]):
        loss = NEEDS_INPUT[name](w)
        loss.backward(retain_graph=True)
        with no_grad_():
            w -= 0.1 * w.grad
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


def test_changing_a_saved_output_raises_in_both(torch):
    """exp's backward reads its output: changing the output in place is refused."""
    for w, no_grad_ in zip(leaves(torch), [no_grad, torch.no_grad]):
        y = w.exp()
        loss = (y * 2.0).sum()
        with no_grad_():
            y += 1.0
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


# Functions whose backward does not need the values of their input w.
NEEDS_NO_INPUT = {
    "add": lambda w: (w + 1.0).sum(),
    # (not 1 / w: PyTorch makes it a reciprocal, which saves its output; here it is a
    # division, whose backward reads w, so changing w is refused, rightly)
    "exp": lambda w: w.exp().sum(),  # needs its output, not its input
    "sigmoid": lambda w: w.sigmoid().sum(),  # likewise
}


@pytest.mark.parametrize("name", NEEDS_NO_INPUT)
def test_changing_an_input_that_backward_does_not_read_is_fine(torch, name):
    grads = []
    for w, no_grad_ in zip(leaves(torch), [no_grad, torch.no_grad]):
        loss = NEEDS_NO_INPUT[name](w)
        loss.backward(retain_graph=True)
        with no_grad_():
            w -= 0.1 * w.grad
        w.grad = None
        loss.backward()  # ours raises here
        grads.append(w.grad)
    assert_same(*grads)


def test_no_grad_subtraction_changes_the_parameter_in_place_in_both(torch):
    """``w -= lr * w.grad`` under no_grad: the same object and the same memory after, and
    the same values in both."""
    ours, theirs = leaves(torch)
    (ours * ours).sum().backward()
    (theirs * theirs).sum().backward()
    ours_id, ours_array = id(ours), ours.data
    theirs_id, theirs_ptr, theirs_version = id(theirs), theirs.data_ptr(), theirs._version
    with no_grad():
        ours -= 0.1 * ours.grad
    with torch.no_grad():
        theirs -= 0.1 * theirs.grad
    assert id(ours) == ours_id and ours.data is ours_array
    assert id(theirs) == theirs_id and theirs.data_ptr() == theirs_ptr
    assert theirs._version > theirs_version
    assert ours.creator is None and theirs.grad_fn is None  # still leaves
    assert_same(ours, theirs)


def test_backward_twice_raises_in_both_unless_the_graph_is_retained(torch):
    ours, theirs = leaves(torch)
    for w in (ours, theirs):
        loss = (w * w).exp().sum()
        loss.backward(retain_graph=True)
        loss.backward()  # retained: fine, and the gradients add up
        with pytest.raises(RuntimeError, match="backward"):
            loss.backward()  # freed by the previous call
    assert_same(ours.grad, theirs.grad)


@differs_from_pytorch(
    "this engine frees every op, so a second backward always raises; PyTorch "
    "frees only saved tensors, and a graph without any (w + 1) can be walked again",
    raises=RuntimeError,
)
def test_backward_twice_through_a_graph_without_saved_tensors(torch):
    ours, theirs = leaves(torch)
    for w in (ours, theirs):
        loss = (w + 1.0).sum()
        loss.backward()
        loss.backward()  # ours raises here
    assert_same(ours.grad, theirs.grad)


# name: (ours and PyTorch's, values): functions of x (same code in both libraries)
SECOND_DERIVATIVES = {
    "cube": (lambda x: x**3, VALUES),
    "sigmoid": (lambda x: x.sigmoid(), finite_floats(-10.0, 10.0)),
    "tanh": (lambda x: x.tanh(), finite_floats(-3.0, 3.0)),  # see ELEMENTWISE
    "log_softmax": (lambda x: x.log_softmax(dim=-1), finite_floats(-10.0, 10.0)),
    "softmax": (lambda x: x.softmax(dim=0), finite_floats(-10.0, 10.0)),
    "exp": (lambda x: x.exp(), finite_floats(-10.0, 10.0)),
    "log": (lambda x: x.log(), POSITIVE),
    "sqrt": (lambda x: x.sqrt(), POSITIVE),
    "reciprocal": (lambda x: 1.0 / x, NONZERO),
    "product": (lambda x: (x * x.exp()).sum() * x, finite_floats(-3.0, 3.0)),
    "matmul": (lambda x: (x.reshape(-1, 1) @ x.reshape(1, -1)).tanh(), finite_floats(-2.0, 2.0)),
}


def second_derivative_functions(torch):
    """Losses with second derivatives (of logits x of shape (n, c)), which need torch."""
    labels = lambda x: np.arange(x.shape[0]) % x.shape[1]  # noqa: E731
    return {
        "cross_entropy": (
            lambda x: F.cross_entropy(x, labels(x)),
            lambda x: torch.nn.functional.cross_entropy(x, torch.from_numpy(labels(x))),
        ),
        "binary_cross_entropy_with_logits": (
            lambda x: F.binary_cross_entropy_with_logits(x, np.full(x.shape, 0.3)),
            lambda x: torch.nn.functional.binary_cross_entropy_with_logits(
                x, torch.full(x.shape, 0.3, dtype=torch.float64)
            ),
        ),
        "mse_loss": (
            lambda x: F.mse_loss(x.tanh(), np.full(x.shape, 0.3)),
            lambda x: torch.nn.functional.mse_loss(
                x.tanh(), torch.full(x.shape, 0.3, dtype=torch.float64)
            ),
        ),
    }


def compare_second_derivatives(torch, data, x, ours_fn, theirs_fn):
    """d/dx of sum(v * d/dx sum(u * f(x))) for random u and v, by create_graph in ours and
    torch.autograd.grad(create_graph=True) in PyTorch; the first derivative too."""
    xo, xt = Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours_fn(xo), theirs_fn(xt)
    u = data.draw(float_arrays(yo.shape), label="u")
    v = data.draw(float_arrays(x.shape), label="v")
    yo.backward(u, create_graph=True)
    first_ours = xo.grad
    xo.grad = None
    (first_theirs,) = torch.autograd.grad(yt, xt, torch.from_numpy(u), create_graph=True)
    assert_same(first_ours, first_theirs)
    (first_ours * v).sum().backward()
    (second_theirs,) = torch.autograd.grad((first_theirs * torch.from_numpy(v)).sum(), xt)
    assert_same(xo.grad, second_theirs)


@pytest.mark.parametrize("name", SECOND_DERIVATIVES)
@given(data=st.data())
def test_second_derivative(torch, name, data):
    fn, elements = SECOND_DERIVATIVES[name]
    x = data.draw(any_floats(elements, NONSCALAR_SHAPES), label="x")
    compare_second_derivatives(torch, data, x, fn, fn)


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy_with_logits", "mse_loss"])
@given(data=st.data())
def test_second_derivative_of_a_loss(torch, name, data):
    ours_fn, theirs_fn = second_derivative_functions(torch)[name]
    shape = data.draw(array_shapes(min_dims=2, max_dims=2, max_side=4), label="shape")
    x = data.draw(float_arrays(shape, elements=finite_floats(-5.0, 5.0)), label="logits")
    compare_second_derivatives(torch, data, x, ours_fn, theirs_fn)
