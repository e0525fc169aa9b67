"""The Tensor: a numpy array that remembers how it was computed.

Every operation on Tensors runs numpy right away (define-by-run) and, when gradients are
wanted, links its result to the op that made it. ``backward()`` then walks those links in
reverse (see ``autograd.py``); the ops themselves, each a forward and a backward, live in
``ops.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from tinygrad_edu import grad_mode

if TYPE_CHECKING:
    from tinygrad_edu.ops import Function

Axis = int | tuple[int, ...] | None  # an axis argument: one axis, several, or all


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
    data: np.ndarray
    grad: Tensor | None
    creator: Function | None
    name: str | None
    requires_grad: bool

    def __init__(self, data: Any, requires_grad: bool = False, dtype: DTypeLike | None = None):
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

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
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
    def shape(self) -> tuple[int, ...]:
        """The shape, a tuple like ``(100, 784)``."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype, e.g. ``float32``."""
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        """The transpose (all axes reversed), like ``ndarray.T``."""
        return self.transpose()

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf tensor sharing this one's data, cut off from the graph."""
        return Tensor(self.data)

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = [f"dtype={self.dtype}"]
        if self.creator is not None:
            extras.append(f"grad_fn=<{self.creator.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extras)})"

    # ------------------------------------------------------------------- backward
    def backward(
        self, grad: TensorLike | None = None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad, into ``leaf.grad``.

        Gradients accumulate across calls until reset (``x.grad = None`` or an optimizer's
        ``zero_grad()``). ``grad`` is d(loss)/d(self); it may be omitted only when self has
        one element. The graph is freed afterwards unless ``retain_graph=True``.
        With ``create_graph=True`` the gradients are themselves recorded, so they can be
        differentiated again (second derivatives).
        """
        autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    # ------------------------------------------------------------------ operators
    def __add__(self, other: TensorLike) -> Tensor:
        return ops.Add()(self, other)

    def __radd__(self, other: TensorLike) -> Tensor:
        return ops.Add()(other, self)

    def __sub__(self, other: TensorLike) -> Tensor:
        return ops.Sub()(self, other)

    def __rsub__(self, other: TensorLike) -> Tensor:
        return ops.Sub()(other, self)

    def __mul__(self, other: TensorLike) -> Tensor:
        return ops.Mul()(self, other)

    def __rmul__(self, other: TensorLike) -> Tensor:
        return ops.Mul()(other, self)

    def __truediv__(self, other: TensorLike) -> Tensor:
        return ops.Div()(self, other)

    def __rtruediv__(self, other: TensorLike) -> Tensor:
        return ops.Div()(other, self)

    def __pow__(self, other: TensorLike) -> Tensor:
        return ops.Pow()(self, other)

    def __rpow__(self, other: TensorLike) -> Tensor:
        return ops.Pow()(other, self)

    def __matmul__(self, other: TensorLike) -> Tensor:
        return ops.MatMul()(self, other)

    def __rmatmul__(self, other: TensorLike) -> Tensor:
        return ops.MatMul()(other, self)

    def __neg__(self) -> Tensor:
        return ops.Neg()(self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem(_index_arrays(index))(self)

    # Comparisons give boolean tensors, which need no gradient.
    def __lt__(self, other: TensorLike) -> Tensor:
        return Tensor(self.data < as_array(other))

    def __le__(self, other: TensorLike) -> Tensor:
        return Tensor(self.data <= as_array(other))

    def __gt__(self, other: TensorLike) -> Tensor:
        return Tensor(self.data > as_array(other))

    def __ge__(self, other: TensorLike) -> Tensor:
        return Tensor(self.data >= as_array(other))

    def __eq__(self, other: TensorLike) -> Tensor:  # type: ignore[override]
        return Tensor(self.data == as_array(other))

    def __ne__(self, other: TensorLike) -> Tensor:  # type: ignore[override]
        return Tensor(self.data != as_array(other))

    __hash__ = object.__hash__  # tensors are hashable by identity, as in PyTorch

    # ------------------------------------------------------------ numpy functions
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """numpy's elementwise functions on Tensors (NEP 13): ``np.exp(t)``, ``array * t``.

        Those with an op here (``np.add``, ``np.exp``, ``np.log``, ...) run as that op, so
        they are recorded like ``t.exp()``; any other computes on the arrays and gives a
        Tensor without a graph, refused where that would silently lose a gradient.
        """
        op = ops.UFUNC_OPS.get(ufunc) if method == "__call__" and not kwargs else None
        if op is not None:
            return op()(*inputs)
        result = _outside_the_graph(f"np.{ufunc.__name__}", getattr(ufunc, method), inputs, kwargs)
        if isinstance(result, tuple):
            return tuple(Tensor(r) for r in result)
        return Tensor(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """numpy's other functions on Tensors (NEP 18): ``np.sum(t)``, ``np.where(c, t, 0)``
        compute on the arrays and give numpy's result, without a graph; refused where that
        would silently lose a gradient (use the Tensor method, e.g. ``t.sum()``)."""
        return _outside_the_graph(f"np.{func.__name__}", func, args, kwargs)

    # ---------------------------------------------------------- elementwise math
    def exp(self) -> Tensor:
        """e^x, elementwise (same shape)."""
        return ops.Exp()(self)

    def log(self) -> Tensor:
        """The natural logarithm, elementwise (same shape)."""
        return ops.Log()(self)

    def sqrt(self) -> Tensor:
        """The square root, elementwise (same shape)."""
        return ops.Sqrt()(self)

    def abs(self) -> Tensor:
        """|x|, elementwise (same shape; the gradient at 0 is taken as 0)."""
        return ops.Abs()(self)

    def relu(self) -> Tensor:
        """max(x, 0), elementwise (same shape)."""
        return ops.ReLU()(self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + e^-x), elementwise (same shape), without overflow for large |x|."""
        return ops.Sigmoid()(self)

    def tanh(self) -> Tensor:
        """The hyperbolic tangent, elementwise (same shape)."""
        return ops.Tanh()(self)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        """Limit values to [lo, hi]; the gradient flows only where x is inside."""
        return ops.Clip(lo, hi)(self)

    def astype(self, dtype: DTypeLike) -> Tensor:
        """A copy cast to ``dtype`` (differentiable between float types)."""
        return ops.AsType(dtype)(self)

    # ---------------------------------------------------------------- reductions
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (None: all axes; an int or a tuple of ints)."""
        return ops.Sum(axis, keepdims)(self)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The mean over ``axis`` (None: all axes; an int or a tuple of ints)."""
        return ops.Mean(axis, keepdims)(self)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The maximum values (ties share the gradient equally)."""
        return ops.Max(axis, keepdims)(self)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The minimum values (ties share the gradient equally)."""
        return ops.Min(axis, keepdims)(self)

    def argmax(self, axis: int | None = None) -> Tensor:
        """Indices of the maxima, as an integer tensor (not differentiable)."""
        return Tensor(self.data.argmax(axis=axis))

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x) / sum(exp(x)) along ``axis``, computed stably."""
        return ops.Softmax(axis)(self)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """log(softmax(x)) along ``axis``, computed stably (log-sum-exp)."""
        return ops.LogSoftmax(axis)(self)

    # -------------------------------------------------------------------- shapes
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``; one size may be -1."""
        return ops.Reshape(_shape_arg(shape))(self)

    def transpose(self, *axes: int | Sequence[int]) -> Tensor:
        """Permute axes like ``ndarray.transpose``; with no axes, reverse them."""
        return ops.Transpose(_shape_arg(axes) if axes else None)(self)

    def flatten(self, start_dim: int = 0) -> Tensor:
        """Merge the axes from ``start_dim`` on into one: (N, 1, 28, 28) -> (N, 784) for 1."""
        return self.reshape(*self.shape[:start_dim], -1)


# Anything an operation takes where a Tensor fits: a Tensor, an ndarray, a list, a number.
TensorLike = Tensor | ArrayLike


def concatenate(tensors: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis, like ``np.concatenate``."""
    return ops.Concatenate(axis)(*tensors)


def stack(tensors: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join tensors along a new axis, like ``np.stack``."""
    return ops.Stack(axis)(*tensors)


def as_tensor(x: TensorLike) -> Tensor:
    """``x`` itself if it is a Tensor, else a new Tensor sharing its memory where it can
    (PyTorch's ``torch.as_tensor``)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def as_array(x: TensorLike) -> np.ndarray:
    """The array of a Tensor, or ``np.asarray(x)`` of anything else."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _shape_arg(args: tuple) -> tuple:
    """Accept both f(2, 3) and f((2, 3))."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _index_arrays(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays (slices, ints, None stay as given)."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


def _outside_the_graph(name: str, func: Any, args: Any, kwargs: dict) -> Any:
    """Call a numpy function on the arrays of the Tensors in ``args`` (also inside lists,
    as in ``np.concatenate([a, b])``). Its result has no graph, so a float result made from
    a tensor that requires grad is refused while recording: backward would silently miss
    that path."""

    def unwrap(x: Any) -> Any:
        if isinstance(x, Tensor):
            return x.data
        if isinstance(x, (list, tuple)):
            return type(x)(unwrap(v) for v in x)
        return x

    result = func(*unwrap(args), **{key: unwrap(v) for key, v in kwargs.items()})
    results = result if isinstance(result, tuple) else (result,)
    if grad_mode.is_grad_enabled() and any(np.asarray(r).dtype.kind == "f" for r in results):
        tracked = [x for x in _flat(args) if isinstance(x, Tensor) and x.requires_grad]
        if tracked:
            where = " in a Function's backward" if grad_mode.mode.in_backward else ""
            raise TypeError(
                f"{name}{where} was given a Tensor that requires grad: numpy computes on its "
                f"array, so the result has no graph and backward() would not reach the "
                f"tensor; use the Tensor's own method or operator (e.g. t.sum(), t.exp(), "
                f"a * b), or pass t.detach() if you want a constant"
                + (", or set once_differentiable = True on the op" if where else "")
            )
    return result


def _flat(args: Any) -> list:
    """The items of ``args``, with lists and tuples inside it opened one level."""
    items: list = []
    for x in args:
        items.extend(x if isinstance(x, (list, tuple)) else [x])
    return items


# The ops build Tensors and the graph walk reads them, so both are imported after Tensor.
from tinygrad_edu import autograd, ops  # noqa: E402
