"""The Tensor: a numpy array that remembers how it was computed.

Every operation on Tensors runs numpy right away (define-by-run) and, when gradients are
wanted, links its result to the op that made it. ``backward()`` then walks those links in
reverse (see ``autograd.py``); the ops themselves, each a forward and a backward, live in
``ops.py``.
"""

from __future__ import annotations

import html
import weakref
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
            parameters); ``Tensor(data, name="x")`` sets it.
    """

    __slots__ = ("__weakref__", "_grad", "creator", "data", "name", "requires_grad")
    data: np.ndarray
    creator: Function | None
    name: str | None
    requires_grad: bool

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: DTypeLike | None = None,
        name: str | None = None,
    ):
        if isinstance(data, Tensor):
            data = data.data
        if type(data) is not np.ndarray or dtype is not None:
            data = _numeric_array(data, dtype)
        self.data = data
        self._grad: Tensor | None = None
        self.creator = None
        self.name = name
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

    @property
    def grad(self) -> Tensor | None:
        """d(loss)/d(this tensor) after ``backward()``: a Tensor of the same shape, or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"grad: assigned grad must be a Tensor or None, got "
                    f"{type(value).__name__}; write x.grad = None to reset it, or "
                    f"x.grad = Tensor(array) with an array of shape {self.shape}"
                )
            if value.shape != self.shape:
                raise ValueError(
                    f"grad: assigned grad has shape {value.shape}, but the tensor has "
                    f"shape {self.shape}; they must be equal"
                )
        self._grad = value

    def retain_grad(self) -> None:
        """Keep this intermediate tensor's gradient in ``.grad`` after ``backward()``
        (PyTorch's name; a leaf keeps its gradient anyway). Call it before backward."""
        if self.creator is not None:
            self.creator.keeps_output_grad = True

    # ----------------------------------------------------------- in-place changes
    def __iadd__(self, other: TensorLike) -> Tensor:
        return self._inplace(ops.Add, np.add, "+=", other)

    def __isub__(self, other: TensorLike) -> Tensor:
        return self._inplace(ops.Sub, np.subtract, "-=", other)

    def __imul__(self, other: TensorLike) -> Tensor:
        return self._inplace(ops.Mul, np.multiply, "*=", other)

    def __itruediv__(self, other: TensorLike) -> Tensor:
        return self._inplace(ops.Div, np.true_divide, "/=", other)

    def copy_(self, source: TensorLike) -> Tensor:
        """Copy ``source`` (broadcast to this shape, cast to this dtype) into this tensor's
        array, in place, as PyTorch's ``copy_``; returns the tensor."""
        return self._inplace(None, np.copyto, "copy_", source)

    def _inplace(self, op: type[Function] | None, ufunc: Any, symbol: str, other: Any) -> Tensor:
        """``self += other`` and its siblings.

        While operations are recorded, a leaf that requires grad is refused (PyTorch's
        rule: backward would need its old values), and when either side is part of the
        graph the result is a new recorded Tensor, which Python binds to the name, so
        ``h += b`` inside a forward differentiates like ``h = h + b``. Otherwise (inside
        ``no_grad()``, e.g. ``W -= lr * W.grad``, or on tensors that need no gradient)
        the array changes in place, and the change is counted, so that a backward that
        needed the old values raises instead of computing a wrong gradient.
        """
        if grad_mode.mode.grad_enabled:
            if self.requires_grad and self.creator is None:
                raise RuntimeError(
                    f"{symbol}: a leaf Variable that requires grad is being used in an "
                    f"in-place operation; update parameters inside `with no_grad():` (as "
                    f"optimizers do), or write a new tensor (x = x + y) instead"
                )
            if _requires_grad(other):
                if op is None:
                    raise RuntimeError(
                        f"{symbol}: the source requires grad, and a copy would not carry "
                        f"its gradient; use the source itself, or source.detach()"
                    )
                return op()(self, other)
            if op is not None and self.requires_grad:
                return op()(self, other)
        source = other.data if isinstance(other, Tensor) else other
        try:  # numpy's default casting, "same_kind", refuses float results in int arrays
            if op is None:
                ufunc(self.data, source)
            else:
                ufunc(self.data, source, out=self.data)
        except (TypeError, ValueError):
            raise _inplace_error(symbol, self, source, ufunc) from None
        inplace_clock.mark_changed(self.data)
        return self

    @property
    def _version(self) -> int:
        """The in-place clock's tick at the last in-place change of this tensor's memory
        (0: never), seen by every tensor that views the same memory (``detach()``,
        ``reshape``, slices), as PyTorch's version counter is shared with views."""
        return inplace_clock.changed_at(self.data)

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
        _refuse_if_traced(self, "numpy()")
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        _refuse_if_traced(self, "item()")
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf tensor sharing this one's data, cut off from the graph."""
        return Tensor(self.data)

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        _refuse_if_traced(self, "np.asarray(t)")
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        _refuse_if_traced(self, "float(t)")
        return float(self.data)

    def __int__(self) -> int:
        _refuse_if_traced(self, "int(t)")
        return int(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = [f"dtype={self.dtype}"]
        if self.creator is not None:
            extras.append(f"grad_fn=<{self.creator.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extras)})"

    def _repr_html_(self) -> str:
        """How Jupyter shows a Tensor: a small table (name, shape, dtype, grad_fn,
        requires_grad, whether .grad is set) above the values, abbreviated like numpy's
        (the first and last 3 entries of each axis once there are more than 100 of them)."""
        rows = [("shape", str(self.shape)), ("dtype", str(self.dtype))]
        if self.name is not None:
            rows.insert(0, ("name", self.name))
        if self.creator is not None:
            rows.append(("grad_fn", f"<{self.creator.name}>"))
        rows.append(("requires_grad", str(self.requires_grad)))
        if self._grad is not None:
            rows.append(("grad", f"set, shape {self._grad.shape}"))
        values = np.array2string(self.data, separator=", ", threshold=100, edgeitems=3)
        cells = "".join(
            f"<tr><th style='text-align:left'>{key}</th><td>{html.escape(value)}</td></tr>"
            for key, value in rows
        )
        return (
            f"<div><b>Tensor</b><table>{cells}</table>"
            f"<pre style='margin-top:4px'>{html.escape(values)}</pre></div>"
        )

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
        tracing = grad_mode.mode.tracing
        if tracing is not None:
            raise RuntimeError(
                f"{tracing.name}: backward() inside a traced function; trace records the "
                f"forward pass only: to trace a training step, use trace_step(model, loss_fn, "
                f"optimizer, x, target), whose loss_fn returns the loss without calling "
                f"backward()"
            )
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
    def sum(
        self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool = False
    ) -> Tensor:
        """Sum over ``axis`` (None: all axes; an int or a tuple of ints)."""
        return ops.Sum(_axis("sum", axis, dim), keepdims or keepdim)(self)

    def mean(
        self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool = False
    ) -> Tensor:
        """The mean over ``axis`` (None: all axes; an int or a tuple of ints)."""
        return ops.Mean(_axis("mean", axis, dim), keepdims or keepdim)(self)

    def max(
        self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool = False
    ) -> Tensor:
        """The maximum values (ties share the gradient equally)."""
        return ops.Max(_axis("max", axis, dim), keepdims or keepdim)(self)

    def min(
        self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool = False
    ) -> Tensor:
        """The minimum values (ties share the gradient equally)."""
        return ops.Min(_axis("min", axis, dim), keepdims or keepdim)(self)

    def argmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        """Indices of the maxima, as an integer tensor (not differentiable)."""
        axis = _axis("argmax", axis, dim)
        return Tensor(self.data.argmax(axis=ops.normalize_axis("argmax", axis, self.shape)))

    def softmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        """exp(x) / sum(exp(x)) along ``axis`` (default: the last), computed stably."""
        return ops.Softmax(_axis("softmax", axis, dim, default=-1))(self)

    def log_softmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        """log(softmax(x)) along ``axis`` (default: the last), computed stably (log-sum-exp)."""
        return ops.LogSoftmax(_axis("log_softmax", axis, dim, default=-1))(self)

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


def concatenate(
    tensors: Sequence[TensorLike], axis: int | None = None, *, dim: int | None = None
) -> Tensor:
    """Join tensors along an existing axis (default 0), like ``np.concatenate``
    (PyTorch's ``torch.cat``)."""
    if len(tensors) == 0:
        raise ValueError("concatenate: need at least one tensor to join, got an empty list")
    return ops.Concatenate(_axis("concatenate", axis, dim, default=0))(*tensors)


def stack(
    tensors: Sequence[TensorLike], axis: int | None = None, *, dim: int | None = None
) -> Tensor:
    """Join tensors along a new axis (default 0), like ``np.stack``."""
    if len(tensors) == 0:
        raise ValueError("stack: need at least one tensor to join, got an empty list")
    return ops.Stack(_axis("stack", axis, dim, default=0))(*tensors)


def _axis(op: str, axis: Any, dim: Any, default: Any = None) -> Any:
    """The axis argument, given as numpy's ``axis`` or as PyTorch's ``dim`` (with
    PyTorch's meaning: ``dim=()`` reduces over all axes, where numpy's ``axis=()`` reduces
    over none)."""
    if dim is None:
        return default if axis is None else axis
    if axis is not None:
        raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r}; pass one of them")
    return None if dim == () else dim


def as_tensor(x: TensorLike) -> Tensor:
    """``x`` itself if it is a Tensor, else a new Tensor sharing its memory where it can
    (PyTorch's ``torch.as_tensor``)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def as_array(x: TensorLike) -> np.ndarray:
    """The array of a Tensor, or ``np.asarray(x)`` of anything else."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class _InplaceClock:
    """When each block of memory was last changed in place, on one program-wide clock.

    Each in-place change (``+=``, ``copy_``, an optimizer's step) is a new tick, recorded
    for the array that owns the memory (a view's ``base``), so that every tensor viewing
    that memory sees it. An op remembers the tick at which it was recorded; its backward
    refuses to run on memory changed since (see ``autograd._check_unchanged``).
    """

    def __init__(self) -> None:
        self.now = 0
        self._changed: dict[int, int] = {}  # id of an owning array -> tick of its last change

    def mark_changed(self, array: np.ndarray) -> None:
        self.now += 1
        owner = _owner(array)
        if id(owner) not in self._changed:  # forget the entry when the array is freed
            weakref.finalize(owner, self._changed.pop, id(owner), None)
        self._changed[id(owner)] = self.now

    def changed_at(self, array: np.ndarray) -> int:
        return self._changed.get(id(_owner(array)), 0)


def _owner(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory: itself, or the ndarray it is a view of."""
    base = array.base
    return base if isinstance(base, np.ndarray) else array


inplace_clock = _InplaceClock()


def _numeric_array(data: Any, dtype: DTypeLike | None) -> np.ndarray:
    """``np.asarray(data, dtype)``, refused unless it holds numbers (or booleans)."""
    try:
        array = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"Tensor: cannot make a numeric array of {_describe(data)} ({err}); pass a "
            f"number, a (nested) list of numbers of equal lengths, or a numeric ndarray"
        ) from None
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"Tensor: data must be numbers, got {_describe(data)}; pass a number, a "
            f"(nested) list of numbers, or a numeric ndarray"
        )
    return array


def _describe(value: Any) -> str:
    """A short description of a value for messages: its type, and its text if short."""
    text = repr(value)
    return type(value).__name__ + (f" {text}" if len(text) <= 40 else "")


def _requires_grad(x: Any) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


def _refuse_if_traced(t: Tensor, what: str) -> None:
    """While ``trace`` runs a function (``mode.tracing``: its inputs' ids), reading the
    value of a tensor that depends on the inputs would freeze that value into the plan."""
    tracing = grad_mode.mode.tracing
    if tracing is not None and (t.requires_grad or id(t) in tracing.tensors):
        raise RuntimeError(
            f"{tracing.name}: {what} reads the values of a tensor of shape {t.shape} computed "
            f"from the traced inputs (data leaves the graph), so the plan would replay this one "
            f"example's numbers; keep the computation in Tensor operations, or read the "
            f"values outside the traced function, from what it returns"
        )


def _inplace_error(symbol: str, target: Tensor, source: Any, ufunc: Any) -> Exception:
    """A message for an in-place change that numpy refused: a wrong shape, a read-only
    array, or a result of a kind the tensor's dtype cannot hold."""
    try:
        shape = np.broadcast_shapes(target.shape, np.shape(source))
    except ValueError:
        shape = None
    if shape is not None and shape != target.shape:
        return ValueError(
            f"{symbol}: the result would have shape {shape}, but the tensor has shape "
            f"{target.shape}; an in-place operation cannot change a tensor's shape"
        )
    if shape is None:
        return ValueError(
            f"{symbol}: shapes {target.shape} and {np.shape(source)} cannot be broadcast "
            f"together (numpy rule: compare axes from the right; each pair must be equal "
            f"or one of them 1)"
        )
    if not target.data.flags.writeable:
        return ValueError(
            f"{symbol}: this tensor's array is read-only (a broadcast view, or made from "
            f"read-only memory); change a copy instead: Tensor(t.data.copy())"
        )
    return TypeError(
        f"{symbol}: the result would be {_result_dtype(ufunc, target.data, source)}, which cannot "
        f"be stored in place in a tensor of dtype {target.dtype}; make a new tensor instead "
        f"(x = x / y), or convert one of them with astype first"
    )


def _result_dtype(ufunc: Any, target: np.ndarray, source: Any) -> np.dtype:
    """The dtype ``ufunc(target, source)`` gives (``np.copyto``: the source's)."""
    if isinstance(ufunc, np.ufunc):
        return ufunc(target, source).dtype
    return np.asarray(source).dtype


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
