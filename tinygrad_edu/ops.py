"""Operations: the ``Function`` base class and the built-in ops.

Each op is a forward (numpy) and a backward (chain rule). In every backward, ``grad`` is
dL/dy for the op's output y, and the op returns dL/dx for each input x: the local
derivative dy/dx times ``grad``. Backward formulas are written once and run on plain
arrays, or on Tensors when the gradient itself is recorded for second derivatives (see
``Function``). When an input was broadcast, its gradient may keep the output's shape: the
engine sums it back (``autograd.py``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu.grad_mode import check_finite, mode
from tinygrad_edu.tensor import Tensor, inplace_clock


class Function:
    """One operation of the graph: a ``forward`` and a ``backward``.

    To add an operation, subclass ``Function`` and write both halves::

        class Cube(Function):
            def forward(self, x):                # ndarray(s) in, ndarray out
                return x**3

            def backward(self, grad):            # dL/d(output) in, dL/d(input) out
                (x,) = self.saved_inputs()
                return grad * 3 * x**2

        y = Cube()(x)                            # recorded like a built-in op

    ``forward`` receives the inputs' arrays (non-Tensor inputs such as Python numbers are
    passed unchanged) and may keep what backward needs on ``self``. ``backward`` receives
    the gradient of the output and returns one gradient per input (a tuple when there are
    several; None for an input that needs none). It computes with ``grad`` and with
    ``self.saved_inputs()`` and ``self.saved_output()``: normally these are numpy arrays,
    which is fast; inside ``backward(create_graph=True)`` they are Tensors, so the same
    formula is recorded and can be differentiated again (second derivatives). Arithmetic,
    ``@``, ``reshape``, ``sum``, ``transpose`` and numpy's ``np.exp``, ``np.log``,
    ``np.sqrt``, ``np.tanh``, ``np.abs`` read the same on both. Other numpy functions
    (``np.where``, ``np.maximum``) cannot be recorded: on a Tensor that requires grad they
    raise a TypeError. A backward that needs them (or that computes in place, for speed)
    sets the class attribute ``once_differentiable = True`` (PyTorch's name): it always
    gets arrays, and ``backward(create_graph=True)`` through it raises an error naming
    the op instead of returning a wrong second derivative. Never change ``grad`` in place
    (``grad *= 2``): other ops may share it; write ``grad = grad * 2``. A gradient may keep
    the broadcast shape of the output: the engine sums it back to the input's shape.

    The engine keeps, on ``self``: ``inputs`` (the input Tensors), ``input_arrays`` (the
    inputs as ``forward`` received them, for what is a constant of a formula, such as a
    mask or a shape) and ``needs_input_grad`` (which inputs want a gradient); an op should
    not use these names for its own values.
    """

    inputs: Any = None  # a tuple of the input Tensors (the graph's edges) while alive
    sources: Any = None  # after release(): what each input came from (see release)
    output_info: Any = None  # after release(): the output's (shape, dtype, name)
    input_arrays: Any
    needs_input_grad: tuple[bool, ...] = ()
    recorded_at = 0  # the in-place clock's tick when the op was recorded
    # What backward reads of the graph, checked for in-place changes before it runs: an
    # op whose backward needs no values (at most shapes), or only its output, says so.
    reads_inputs = True
    reads_output = True
    keeps_output_grad = False  # set by Tensor.retain_grad() on the output
    formula: str | None = None  # the local rule, for explain_backward: "d(a*b)/da = b, ..."
    _output: weakref.ref[Tensor]
    once_differentiable = False  # True: backward works on arrays only (no 2nd derivative)

    @property
    def name(self) -> str:
        """The op's name in messages and graph drawings: the class name in lower case."""
        return type(self).__name__.lower()

    @property
    def output(self) -> Tensor | None:
        """The output Tensor (held weakly, so the graph has no reference cycle; None
        once nothing else holds it)."""
        return self._output()

    def saved_inputs(self) -> Any:
        """The inputs, for backward's formulas: their arrays, or the input Tensors while
        the gradient is being recorded (``create_graph=True``)."""
        return self.inputs if mode.grad_enabled else self.input_arrays

    def saved_output(self) -> Any:
        """The output, for backward's formulas: its array, or the output Tensor while the
        gradient is being recorded (``create_graph=True``)."""
        out = self._output()
        return out if mode.grad_enabled else out.data  # type: ignore[union-attr]

    def forward(self, *arrays: Any) -> np.ndarray:
        """Compute the output array from the input arrays."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def backward(self, grad: Any) -> Any:
        """Given dL/d(output), return dL/d(input) for each input (a tuple if several)."""
        raise NotImplementedError(f"{type(self).__name__} must define backward()")

    def __call__(self, *inputs: Any) -> Tensor:
        arrays = [x.data if isinstance(x, Tensor) else _constant(x) for x in inputs]
        try:
            out = Tensor(self.forward(*arrays))
        except (TypeError, ValueError, AttributeError) as err:
            raise self._explain(err, inputs, arrays) from None
        if mode.grad_enabled:
            needs = tuple([isinstance(x, Tensor) and x.requires_grad for x in inputs])
            if True in needs and out.data.dtype.kind == "f":  # only floats have gradients
                self.inputs, self.input_arrays, self.needs_input_grad = inputs, arrays, needs
                self.recorded_at = inplace_clock.now  # to catch later in-place changes
                self._output = weakref.ref(out)
                out.requires_grad = True
                out.creator = self
            elif mode.tracing is not None:  # trace: a value it could not replay
                mode.tracing.follow(inputs, out)
        if mode.detect_anomaly and not mode.in_backward:
            check_finite(out.data, f"{self.name} produced {{}} in the forward pass")
        return out

    def _explain(self, err: Exception, inputs: tuple, arrays: list) -> Exception:
        """numpy's error from ``forward``, said for people where we know what went wrong:
        shapes that do not broadcast, or an operand that is not a number."""
        if isinstance(err, ValueError) and "could not be broadcast" in str(err):
            shapes = " and ".join(str(np.shape(a)) for a in arrays)
            return ValueError(
                f"{self.name}: shapes {shapes} cannot be broadcast together (numpy rule: "
                f"compare axes from the right; each pair must be equal or one of them 1)"
            )
        odd = [a for a in arrays if np.asarray(a).dtype.kind not in "biufc"]
        if odd:
            kinds = ", ".join(type(x).__name__ for x in inputs)
            return TypeError(
                f"{self.name}: unsupported operand types ({kinds}); a Tensor combines with "
                f"numbers, numeric arrays and Tensors, not with {type(odd[0]).__name__} "
                f"{odd[0]!r:.40}"
            )
        return err

    def release(self, freed: dict[int, FreedInput] | None = None) -> None:
        """Free what was kept for backward (the input tensors, masks, ...) but keep the
        graph's shape, as PyTorch does, so the graph can still be drawn: ``sources`` links
        to each input's producer (an op, a leaf Tensor, or a ``FreedInput``) and
        ``output_info`` is the output's (shape, dtype, name). A released op can no longer
        backpropagate (``inputs`` is None again).

        ``backward`` releases producers before their consumers, so the output, held by
        its consumers' ``inputs``, is still alive here; it passes one ``freed`` dict to
        all the ops of the graph, so that a constant used by two ops stays one node."""
        freed = {} if freed is None else freed
        inputs, arrays = self.inputs, self.input_arrays
        ref, sources = self._output, tuple([_source(x, a, freed) for x, a in zip(inputs, arrays)])
        out = ref()
        vars(self).clear()
        self._output, self.sources = ref, sources
        if out is not None:
            self.output_info = out.shape, out.dtype, out.name


class FreedInput:
    """What a released op remembers of an input that was not part of the graph (a batch
    of data, a mask): its shape, dtype and name, not its values. ``tensor`` tells
    whether it was a Tensor or a raw array."""

    __slots__ = ("dtype", "name", "shape", "tensor")
    creator, requires_grad, grad, data = None, False, None, None  # a constant, values gone

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, name: str | None, tensor: bool):
        self.shape, self.dtype, self.name, self.tensor = shape, dtype, name, tensor


def _source(x: Any, array: Any, freed: dict[int, FreedInput]) -> Any:
    """The link a released op keeps to one input: the op that computed it, or the leaf
    itself when it requires grad (a parameter); of a constant, its shape and dtype only
    (a number, or an array of at most 4 numbers, stays as it is), one ``FreedInput`` per
    constant in ``freed`` (by identity)."""
    if isinstance(x, Tensor):
        if x.creator is not None:
            return x.creator
        if x.requires_grad:
            return x
        if id(x) not in freed:
            freed[id(x)] = FreedInput(x.shape, x.dtype, x.name, True)
        return freed[id(x)]
    if isinstance(array, np.ndarray) and array.size > 4:
        return FreedInput(array.shape, array.dtype, None, False)
    return array  # as forward got it: a list became an array


def _constant(x: Any) -> Any:
    """A non-Tensor input as ``forward`` gets it: a list becomes an array; a numpy scalar
    (``np.sqrt(2)``) a Python number, which numpy treats as "weak" (NEP 50), so that
    ``float32 * np.float64(2)`` stays float32, as in PyTorch."""
    if isinstance(x, np.generic):
        return x.item()
    return np.asarray(x) if isinstance(x, (list, tuple)) else x


# ------------------------------------------------------------------ arithmetic


class Add(Function):
    formula = "d(a+b)/da = 1, d(a+b)/db = 1"
    reads_inputs = reads_output = False

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    formula = "d(a-b)/da = 1, d(a-b)/db = -1"
    reads_inputs = reads_output = False

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad


class Mul(Function):
    formula = "d(a*b)/da = b, d(a*b)/db = a"
    reads_output = False

    def forward(self, a, b):
        return a * b

    def backward(self, grad):
        a, b = self.saved_inputs()
        need_a, need_b = self.needs_input_grad
        return grad * b if need_a else None, grad * a if need_b else None


class Div(Function):
    formula = "d(a/b)/da = 1/b, d(a/b)/db = -a/b^2"
    reads_output = False

    def forward(self, a, b):
        return a / b

    def backward(self, grad):
        # d(a/b)/da = 1/b,  d(a/b)/db = -a/b^2
        a, b = self.saved_inputs()
        need_a, need_b = self.needs_input_grad
        return grad / b if need_a else None, -grad * a / (b * b) if need_b else None


class Pow(Function):
    formula = "d(a^b)/da = b a^(b-1), d(a^b)/db = a^b log(a)"

    def forward(self, a, b):
        return a**b

    def backward(self, grad):
        # d(a^b)/da = b a^(b-1),  d(a^b)/db = a^b ln(a)
        a, b = self.saved_inputs()
        need_a, need_b = self.needs_input_grad
        grad_a = None
        if need_a:  # x**0 is constant: its gradient is 0, even at x = 0 where 0 * x**-1 is NaN
            grad_a = grad * 0 if _is_zero(self.inputs[1]) else grad * b * a ** (b - 1)
        grad_b = None
        if need_b:
            grad_b = grad * self.saved_output() * np.log(a)
        return grad_a, grad_b


def _is_zero(exponent):
    """Whether the exponent is a constant (not a Tensor) equal to 0."""
    return not isinstance(exponent, Tensor) and np.all(np.asarray(exponent) == 0)


class Neg(Function):
    formula = "d(-a)/da = -1"
    reads_inputs = reads_output = False

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class MatMul(Function):
    formula = "d(A@B)/dA = grad @ B^T, d(A@B)/dB = A^T @ grad"
    reads_output = False

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"matmul: both operands need at least one axis, got shapes {a.shape} and "
                f"{b.shape}; use * to multiply by a scalar"
            )
        k_a, k_b = a.shape[-1], b.shape[0 if b.ndim == 1 else -2]
        if k_a != k_b:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned ({k_a} != {k_b}); "
                f"the last axis of the first must equal the "
                f"{'only' if b.ndim == 1 else 'second-to-last'} axis of the second"
            )
        return a @ b

    def backward(self, grad):
        # Y = A B:  dL/dA = dL/dY B^T,  dL/dB = A^T dL/dY
        a, b = self.saved_inputs()
        need_a, need_b = self.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product: grad is a scalar
            return grad * b if need_a else None, grad * a if need_b else None
        # numpy treats a vector as a row on the left, a column on the right, then drops
        # that axis from the result; put it back so the 2-D formulas apply.
        if a.ndim == 1:
            a, grad = a.reshape(1, -1), grad.reshape(*grad.shape[:-1], 1, grad.shape[-1])
        if b.ndim == 1:
            b, grad = b.reshape(-1, 1), grad.reshape(*grad.shape, 1)
        grad_a = grad_b = None
        if need_a:
            grad_a = grad @ _swap_last_axes(b)
            if self.input_arrays[0].ndim == 1:  # drop the row axis put back above
                grad_a = grad_a.reshape(*grad_a.shape[:-2], grad_a.shape[-1])
        if need_b:
            grad_b = _swap_last_axes(a) @ grad
            if self.input_arrays[1].ndim == 1:  # drop the column axis put back above
                grad_b = grad_b.reshape(grad_b.shape[:-1])
        return grad_a, grad_b


def _swap_last_axes(x):
    """The matrix transpose of each matrix in a stack: (..., n, m) -> (..., m, n)."""
    axes = (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2)
    return x.transpose(*axes)


# --------------------------------------------------------- elementwise functions


class Exp(Function):
    formula = "d(e^a)/da = e^a"
    reads_inputs = False

    def forward(self, x):
        return np.exp(x)

    def backward(self, grad):
        return grad * self.saved_output()  # d(e^x)/dx = e^x


class Log(Function):
    formula = "d(log a)/da = 1/a"
    reads_output = False

    def forward(self, x):
        return np.log(x)

    def backward(self, grad):
        (x,) = self.saved_inputs()
        return grad / x


class Sqrt(Function):
    formula = "d(sqrt a)/da = 1 / (2 sqrt a)"
    reads_inputs = False

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, grad):
        return grad / (2 * self.saved_output())  # d(sqrt x)/dx = 1 / (2 sqrt x)


class Abs(Function):
    formula = "d|a|/da = sign(a)"
    reads_output = False

    def forward(self, x):
        return np.abs(x)

    def backward(self, grad):
        return grad * np.sign(self.input_arrays[0])


class ReLU(Function):
    formula = "d relu(a)/da = 1 where a > 0, else 0"
    reads_output = False

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, grad):
        return grad * (self.input_arrays[0] > 0)


def stable_sigmoid(x):
    """1 / (1 + e^-x) of an array, written with e = exp(-|x|) <= 1 so nothing overflows:
    x >= 0: 1 / (1 + e);   x < 0: e^x / (1 + e^x) = e / (1 + e)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


class Sigmoid(Function):
    formula = "d sigmoid(a)/da = y (1 - y), y = sigmoid(a)"
    reads_inputs = False

    def forward(self, x):
        return stable_sigmoid(x)

    def backward(self, grad):
        y = self.saved_output()
        return grad * y * (1 - y)  # sigma' = sigma (1 - sigma)


class Tanh(Function):
    formula = "d tanh(a)/da = 1 - y^2, y = tanh(a)"
    reads_inputs = False

    def forward(self, x):
        return np.tanh(x)

    def backward(self, grad):
        y = self.saved_output()
        return grad * (1 - y * y)


class Clip(Function):
    formula = "d clip(a)/da = 1 inside the bounds, else 0"
    reads_output = False

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return np.clip(x, self.lo, self.hi)

    def backward(self, grad):
        x = self.input_arrays[0]
        inside = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return grad * inside


class AsType(Function):
    formula = "the gradient passes through, cast back"
    reads_inputs = reads_output = False

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, grad):
        return grad.astype(self.input_arrays[0].dtype)


# ------------------------------------------------------------------ reductions


class Reduction(Function):
    """The shared half of sum, mean, max and min: reduce over ``axis`` (None: all axes;
    an int or a tuple of ints), keeping the reduced axes as size 1 when ``keepdims``."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def reduce(self, x, numpy_reduction):
        """``numpy_reduction(x)`` over the axis with the reduced axes kept as size 1 (its
        shape is remembered for backward as ``kept_shape``)."""
        self.axis = normalize_axis(self.name, self.axis, x.shape)
        kept = numpy_reduction(x, axis=self.axis, keepdims=True)
        self.kept_shape = kept.shape
        return kept

    def shaped(self, kept):
        """The reduction's result in the shape asked for: without the reduced axes,
        unless ``keepdims``."""
        if self.keepdims:
            return kept
        if self.axis is None:
            return kept.reshape(())
        axes = self.axis if isinstance(self.axis, tuple) else (self.axis,)
        return kept.reshape([n for i, n in enumerate(kept.shape) if i not in axes])


class Sum(Reduction):
    formula = "d sum(a)/da_i = 1: the gradient is copied to every summed element"
    reads_inputs = reads_output = False

    def forward(self, x):
        return self.shaped(self.reduce(x, np.sum))

    def backward(self, grad):
        # Each input element added into its sum once: copy the gradient back to all of them.
        return BroadcastTo(self.input_arrays[0].shape)(grad.reshape(self.kept_shape))


class Mean(Sum):
    formula = "d mean(a)/da_i = 1/n: the gradient is shared among the n averaged elements"

    def forward(self, x):
        total = self.reduce(x, np.sum)
        self.count = x.size // total.size if total.size else 1  # elements per mean
        with np.errstate(invalid="ignore"):  # the mean of nothing is nan, as in PyTorch
            return self.shaped(total / self.count)

    def backward(self, grad):
        return super().backward(grad / self.count)


class Max(Reduction):
    formula = "d max(a)/da_i = 1 for the maximum (shared among ties), else 0"
    numpy_reduction: Callable[..., np.ndarray] = staticmethod(np.max)

    def forward(self, x):
        try:
            self.extremes = self.reduce(x, self.numpy_reduction)
        except ValueError:  # numpy: "zero-size array to reduction operation ..."
            raise ValueError(
                f"{self.name}: the tensor is empty along the reduced axes (shape "
                f"{x.shape}, axis {self.axis}), so it has no {self.name}imum there"
            ) from None
        return self.shaped(self.extremes)

    def backward(self, grad):
        # The gradient goes to the elements that attained the extreme, split among ties.
        x = self.input_arrays[0]
        winners = x == self.extremes
        share = winners / winners.sum(axis=self.axis, keepdims=True, dtype=x.dtype)
        return grad.reshape(self.kept_shape) * share


class Min(Max):
    formula = "d min(a)/da_i = 1 for the minimum (shared among ties), else 0"
    numpy_reduction = staticmethod(np.min)


def normalize_axis(op, axis, shape):
    """``axis`` checked against ``shape`` and made non-negative (-1 -> the last axis):
    None, an int, or a tuple of distinct ints. Errors name the op, the axis and the shape."""
    if axis is None:
        return None
    ndim = len(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            valid = f"-{ndim} to {ndim - 1}" if ndim else "none: it has no axes"
            raise IndexError(
                f"{op}: axis {a} is out of range for a tensor of shape {tuple(shape)} "
                f"(valid axes: {valid})"
            )
    positive = tuple(int(a) % ndim for a in axes)
    if len(set(positive)) != len(positive):
        raise ValueError(f"{op}: axis {axis!r} names an axis twice (shape {tuple(shape)})")
    return positive if isinstance(axis, tuple) else positive[0]


class Softmax(Function):
    formula = "dy/da = y * (grad - sum(grad * y)), y = softmax(a)"
    reads_inputs = False

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        self.axis = normalize_axis(self.name, self.axis, x.shape)
        # softmax(x) = softmax(x - c) for any c; c = max(x) keeps exp from overflowing.
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, grad):
        # dL/dx_i = y_i (g_i - sum_j g_j y_j)
        y = self.saved_output()
        return y * (grad - (grad * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    formula = "dy/da = grad - softmax(a) * sum(grad)"
    name = "log_softmax"
    reads_inputs = False

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        self.axis = normalize_axis(self.name, self.axis, x.shape)
        # log softmax(x) = x - logsumexp(x), with logsumexp(x) = c + log sum exp(x - c)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, grad):
        # dL/dx_i = g_i - softmax(x)_i sum_j g_j
        return grad - np.exp(self.saved_output()) * grad.sum(axis=self.axis, keepdims=True)


# ---------------------------------------------------------------------- shapes


class Reshape(Function):
    formula = "the gradient is reshaped back"
    reads_inputs = reads_output = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                f"into shape {tuple(self.shape)}; the number of elements must stay the same"
            ) from None

    def backward(self, grad):
        return grad.reshape(self.input_arrays[0].shape)


class Transpose(Function):
    formula = "the gradient is transposed back"
    reads_inputs = reads_output = False

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        if self.axes is not None:
            self.axes = normalize_axis(self.name, tuple(self.axes), x.shape)
            if len(self.axes) != x.ndim:
                raise ValueError(
                    f"transpose: axes {self.axes} must list each of the {x.ndim} axes of "
                    f"shape {x.shape} once (a permutation of 0..{x.ndim - 1})"
                )
        return x.transpose(self.axes)

    def backward(self, grad):
        if self.axes is None:
            return grad.transpose()
        return grad.transpose(*np.argsort(self.axes))  # the inverse permutation


class BroadcastTo(Function):
    formula = "the gradient is summed over the copies"
    reads_inputs = reads_output = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return np.broadcast_to(x, self.shape)

    def backward(self, grad):
        return grad  # the engine sums it back to the input's shape


class GetItem(Function):
    formula = "the gradient goes back to the selected elements, zeros elsewhere"
    reads_inputs = reads_output = False

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        return x[self.index]

    def backward(self, grad):
        return ScatterAdd(self.index, self.input_arrays[0].shape)(grad)


class ScatterAdd(Function):
    """Adds ``x`` into zeros of ``shape`` at ``index``: the backward of indexing. Repeated
    indices accumulate (``np.add.at``), as each selection used the element once more."""

    formula = "each element gets the gradient of the place it was added to"
    reads_inputs = reads_output = False

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, x):
        out = np.zeros(self.shape, dtype=x.dtype)
        np.add.at(out, self.index, x)
        return out

    def backward(self, grad):
        return grad[self.index]


class Concatenate(Function):
    formula = "the gradient is split back into the pieces"
    reads_inputs = reads_output = False

    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        self.axis = normalize_axis(self.name, self.axis, np.shape(xs[0]))
        try:
            return np.concatenate(xs, axis=self.axis)
        except ValueError:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ValueError(
                f"concatenate: shapes {shapes} must match on every axis except axis {self.axis}"
            ) from None

    def backward(self, grad):
        # Hand each input the slice of the gradient where its values went.
        grads, start = [], 0
        leading = (slice(None),) * self.axis
        for x in self.input_arrays:
            stop = start + np.shape(x)[self.axis]
            where = (*leading, slice(start, stop))
            grads.append(grad[where])
            start = stop
        return tuple(grads)


class Stack(Function):
    formula = "the gradient is split back into the pieces"
    reads_inputs = reads_output = False

    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        self.axis = normalize_axis(self.name, self.axis, (*np.shape(xs[0]), 1))
        try:
            return np.stack(xs, axis=self.axis)
        except ValueError:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ValueError(f"stack: all shapes must be equal, got {shapes}") from None

    def backward(self, grad):
        leading = (slice(None),) * self.axis
        slices = [(*leading, i) for i in range(len(self.input_arrays))]
        return tuple(grad[where] for where in slices)


# numpy's ufuncs that run as an op when given a Tensor (see Tensor.__array_ufunc__).
UFUNC_OPS: dict[np.ufunc, type[Function]] = {
    np.add: Add,
    np.subtract: Sub,
    np.multiply: Mul,
    np.true_divide: Div,
    np.power: Pow,
    np.negative: Neg,
    np.matmul: MatMul,
    np.exp: Exp,
    np.log: Log,
    np.sqrt: Sqrt,
    np.absolute: Abs,
    np.tanh: Tanh,
}
