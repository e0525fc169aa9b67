"""The Tensor: a numpy array that remembers how it was computed.

Every operation on Tensors runs numpy right away (define-by-run) and, when gradients are
wanted, links its result to the op that made it. ``backward()`` then walks those links in
reverse (see ``autograd.py``); the ops themselves, each a forward and a backward, live in
``ops.py``.
"""

import numpy as np


class Tensor:
    """An n-dimensional array with an optional gradient.

    ``Tensor(data, requires_grad=False, dtype=None)`` wraps ``np.asarray(data, dtype)``: it
    keeps numpy's dtype (a list of Python floats is float64, a float32 array stays float32)
    and shares memory with an ndarray it is given, as ``np.asarray`` does.

    Attributes:
        data: the ndarray.
        grad: a Tensor of the same shape and dtype, filled in by ``backward()``, or None.
        requires_grad: whether operations on this tensor are recorded for backward.
        creator: the op (a ``Function``) that produced this tensor, or None for a leaf.
        name: an optional label, shown by ``viz.draw_graph`` (``nn.Module`` names its
            parameters).
    """

    __slots__ = ("__weakref__", "creator", "data", "grad", "name", "requires_grad")

    # Let numpy hand ``ndarray + Tensor`` over to ``Tensor.__radd__`` instead of
    # treating the tensor as an array (numpy's documented opt-out, NEP 13).
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        if type(data) is not np.ndarray or dtype is not None:
            data = np.asarray(data, dtype=dtype)
        self.data = data
        self.grad = None
        self.creator = None
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_()

    def requires_grad_(self, requires_grad=True):
        """Start (or stop) recording operations on this tensor; returns the tensor."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only floating-point tensors can have gradients, but this "
                f"tensor has dtype {self.data.dtype}; create it from floats "
                f"(e.g. [1.0, 2.0]) or pass dtype=np.float32"
            )
        self.requires_grad = bool(requires_grad)
        return self

    # ----------------------------------------------------------------- attributes
    @property
    def shape(self):
        """The shape, a tuple like ``(100, 784)``."""
        return self.data.shape

    @property
    def ndim(self):
        """The number of axes."""
        return self.data.ndim

    @property
    def size(self):
        """The number of elements."""
        return self.data.size

    @property
    def dtype(self):
        """The numpy dtype, e.g. ``float32``."""
        return self.data.dtype

    @property
    def T(self):
        """The transpose (all axes reversed), like ``ndarray.T``."""
        return self.transpose()

    def numpy(self):
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def detach(self):
        """A new leaf tensor sharing this one's data, cut off from the graph."""
        return Tensor(self.data)

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def __len__(self):
        return len(self.data)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = [f"dtype={self.dtype}"]
        if self.creator is not None:
            extras.append(f"grad_fn=<{self.creator.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extras)})"

    # ------------------------------------------------------------------- backward
    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Compute d(self)/d(leaf) for every leaf that requires grad, into ``leaf.grad``.

        Gradients accumulate across calls until reset (``x.grad = None`` or an optimizer's
        ``zero_grad()``). ``grad`` is d(loss)/d(self); it may be omitted only when self has
        one element. The graph is freed afterwards unless ``retain_graph=True``.
        With ``create_graph=True`` the gradients are themselves recorded, so they can be
        differentiated again (second derivatives).
        """
        autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    # ------------------------------------------------------------------ operators
    def __add__(self, other):
        return ops.Add()(self, other)

    def __radd__(self, other):
        return ops.Add()(other, self)

    def __sub__(self, other):
        return ops.Sub()(self, other)

    def __rsub__(self, other):
        return ops.Sub()(other, self)

    def __mul__(self, other):
        return ops.Mul()(self, other)

    def __rmul__(self, other):
        return ops.Mul()(other, self)

    def __truediv__(self, other):
        return ops.Div()(self, other)

    def __rtruediv__(self, other):
        return ops.Div()(other, self)

    def __pow__(self, other):
        return ops.Pow()(self, other)

    def __rpow__(self, other):
        return ops.Pow()(other, self)

    def __matmul__(self, other):
        return ops.MatMul()(self, other)

    def __rmatmul__(self, other):
        return ops.MatMul()(other, self)

    def __neg__(self):
        return ops.Neg()(self)

    def __getitem__(self, index):
        return ops.GetItem(_index_arrays(index))(self)

    # Comparisons give boolean tensors, which need no gradient.
    def __lt__(self, other):
        return Tensor(self.data < _array(other))

    def __le__(self, other):
        return Tensor(self.data <= _array(other))

    def __gt__(self, other):
        return Tensor(self.data > _array(other))

    def __ge__(self, other):
        return Tensor(self.data >= _array(other))

    def __eq__(self, other):
        return Tensor(self.data == _array(other))

    def __ne__(self, other):
        return Tensor(self.data != _array(other))

    __hash__ = object.__hash__  # tensors are hashable by identity, as in PyTorch

    # ---------------------------------------------------------- elementwise math
    def exp(self):
        """e^x, elementwise (same shape)."""
        return ops.Exp()(self)

    def log(self):
        """The natural logarithm, elementwise (same shape)."""
        return ops.Log()(self)

    def sqrt(self):
        """The square root, elementwise (same shape)."""
        return ops.Sqrt()(self)

    def abs(self):
        """|x|, elementwise (same shape; the gradient at 0 is taken as 0)."""
        return ops.Abs()(self)

    def relu(self):
        """max(x, 0), elementwise (same shape)."""
        return ops.ReLU()(self)

    def sigmoid(self):
        """1 / (1 + e^-x), elementwise (same shape), without overflow for large |x|."""
        return ops.Sigmoid()(self)

    def tanh(self):
        """The hyperbolic tangent, elementwise (same shape)."""
        return ops.Tanh()(self)

    def clip(self, lo=None, hi=None):
        """Limit values to [lo, hi]; the gradient flows only where x is inside."""
        return ops.Clip(lo, hi)(self)

    def astype(self, dtype):
        """A copy cast to ``dtype`` (differentiable between float types)."""
        return ops.AsType(dtype)(self)

    # ---------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None: all axes; an int or a tuple of ints)."""
        return ops.Sum(axis, keepdims)(self)

    def mean(self, axis=None, keepdims=False):
        """The mean over ``axis`` (None: all axes; an int or a tuple of ints)."""
        return ops.Mean(axis, keepdims)(self)

    def max(self, axis=None, keepdims=False):
        """The maximum values (ties share the gradient equally)."""
        return ops.Max(axis, keepdims)(self)

    def min(self, axis=None, keepdims=False):
        """The minimum values (ties share the gradient equally)."""
        return ops.Min(axis, keepdims)(self)

    def argmax(self, axis=None):
        """Indices of the maxima, as an integer tensor (not differentiable)."""
        return Tensor(self.data.argmax(axis=axis))

    def softmax(self, axis=-1):
        """exp(x) / sum(exp(x)) along ``axis``, computed stably."""
        return ops.Softmax(axis)(self)

    def log_softmax(self, axis=-1):
        """log(softmax(x)) along ``axis``, computed stably (log-sum-exp)."""
        return ops.LogSoftmax(axis)(self)

    # -------------------------------------------------------------------- shapes
    def reshape(self, *shape):
        """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``; one size may be -1."""
        return ops.Reshape(_shape_arg(shape))(self)

    def transpose(self, *axes):
        """Permute axes like ``ndarray.transpose``; with no axes, reverse them."""
        return ops.Transpose(_shape_arg(axes) if axes else None)(self)

    def flatten(self, start_dim=0):
        """Merge the axes from ``start_dim`` on into one: (N, 1, 28, 28) -> (N, 784) for 1."""
        return self.reshape(*self.shape[:start_dim], -1)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis, like ``np.concatenate``."""
    return ops.Concatenate(axis)(*tensors)


def stack(tensors, axis=0):
    """Join tensors along a new axis, like ``np.stack``."""
    return ops.Stack(axis)(*tensors)


def _array(x):
    return x.data if isinstance(x, Tensor) else x


def _shape_arg(args):
    """Accept both f(2, 3) and f((2, 3))."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _index_arrays(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, tuple):
        return tuple(_array(i) for i in index)
    return _array(index)


# The ops subclass autograd.Function and build Tensors, so they are imported after Tensor.
from tinygrad_edu import autograd, ops  # noqa: E402
