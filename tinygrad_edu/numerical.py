"""Numerical differentiation: the study notes' tools, and checks of backprop against them.

A derivative is the limit of (f(x + h) - f(x - h)) / 2h as h -> 0 (the central difference,
whose error shrinks like h^2). Computing it needs two evaluations of f per input element,
which is why backpropagation, one backward pass for all elements, wins; but it is simple
enough to trust, so it is how backprop is checked.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_edu.autograd import graph_ops
from tinygrad_edu.grad_mode import enable_grad, no_grad
from tinygrad_edu.ops import Function
from tinygrad_edu.tensor import Tensor, _requires_grad

# What a gradient check takes as inputs: one Tensor, a sequence of them, or a dict
# name -> Tensor (the names label the report's rows).
Inputs = Tensor | Sequence[Tensor] | dict[str, Tensor]


def numerical_diff(
    f: Callable[[Any], Any], x: float | np.ndarray, h: float = 1e-4
) -> float | np.ndarray:
    """The derivative of a one-variable function f at x, by central difference.

    ``x`` may also be an array of points, if ``f`` works elementwise: the result is then
    the array of the derivatives at those points.
    """
    return (f(x + h) - f(x - h)) / (2 * h)


def numerical_gradient(
    f: Callable[[Any], ArrayLike], x: ArrayLike | Tensor, h: float = 1e-4
) -> np.ndarray:
    """The gradient of a scalar function ``f`` at the point ``x``, by central differences,
    one element at a time. Returns a float array shaped like ``x``.

    ``x`` may be a float ndarray or a Tensor of any shape: then ``f`` is called with ``x``
    itself, changed in place one element at a time, so it may also ignore its argument
    and read ``x`` elsewhere (as the notes' ``TwoLayerNet`` does with its weights). Every
    element is restored exactly afterwards.

    ``x`` may also be any other array-like, such as ``[3.0, 4.0]``, a tuple or a number:
    then ``f`` is called with a float64 ndarray copy of it (the one that is perturbed), and
    ``x`` is left alone.
    """
    array = _perturbable(x)
    point = x if isinstance(x, Tensor | np.ndarray) else array  # what f is called with
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + h
        f_plus = _scalar(f(point))
        array[index] = original - h
        f_minus = _scalar(f(point))
        array[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def _perturbable(x: ArrayLike | Tensor) -> np.ndarray:
    """The float array that ``numerical_gradient`` changes in place: ``x`` itself for an
    ndarray, ``x.data`` for a Tensor, else a new float64 array of ``x``'s values."""
    if isinstance(x, Tensor | np.ndarray):
        array = x.data if isinstance(x, Tensor) else x
        if array.dtype.kind != "f":
            raise TypeError(
                f"numerical_gradient: x must hold floats, got dtype {array.dtype}; "
                f"write np.array([3.0, 4.0]) rather than np.array([3, 4])"
            )
        if not array.flags.writeable:
            raise ValueError(
                f"numerical_gradient: x (shape {array.shape}) is read-only, but it is "
                f"changed in place; pass a writable copy, x.copy()"
            )
        return array
    try:
        values = np.asarray(x)
    except ValueError as err:  # e.g. rows of different lengths
        raise ValueError(
            f"numerical_gradient: x is not a rectangular array of numbers ({err})"
        ) from None
    if values.dtype.kind not in "biuf":
        raise TypeError(
            f"numerical_gradient: x must hold real numbers, got dtype {values.dtype} "
            f"(shape {values.shape}); pass floats such as [3.0, 4.0]"
        )
    return values.astype(np.float64)  # always a new array, never one of the caller's


def _scalar(value: ArrayLike) -> float:
    if np.size(value) != 1:
        raise ValueError(
            f"numerical_gradient: f must return a single number, got shape {np.shape(value)}"
        )
    return float(np.asarray(value).reshape(()))


def gradient_descent(
    f: Callable[[np.ndarray], ArrayLike],
    init_x: ArrayLike,
    lr: float = 0.01,
    step_num: int = 100,
    return_history: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Minimise f by repeating x <- x - lr * grad f(x), with numerical gradients.

    ``init_x`` is not changed. Returns the final x, or ``(x, history)`` with
    ``return_history=True``, where history has shape (step_num + 1, *x.shape).
    """
    x = np.array(init_x, dtype=np.result_type(np.asarray(init_x).dtype, np.float64))
    history = [x.copy()]
    for _ in range(step_num):
        x -= lr * numerical_gradient(f, x)
        history.append(x.copy())
    return (x, np.array(history)) if return_history else x


class GradcheckError(RuntimeError):
    """Backprop and the numerical gradient disagree."""


@dataclass
class GradientComparison:
    """One input's backprop gradient against its numerical gradient."""

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    passed: bool
    worst_index: tuple[int, ...]  # where the error is largest against the tolerance
    backprop: float  # the two gradients at worst_index
    numerical: float


class GradientReport:
    """The result of ``compare_gradients``: a row per input, printable as a table."""

    rows: list[GradientComparison]  # one per input that requires grad, in order

    def __init__(self, rows: list[GradientComparison]):
        self.rows = rows

    @property
    def passed(self) -> bool:
        """True when every input's gradients agree."""
        return all(row.passed for row in self.rows)

    def __str__(self) -> str:
        header = f"{'input':<12} {'shape':<14} {'max abs err':>12} {'max rel err':>12}  result"
        lines = [header, "-" * len(header)]
        for r in self.rows:
            lines.append(
                f"{r.name:<12} {r.shape!s:<14} {r.max_abs_error:>12.3e} "
                f"{r.max_rel_error:>12.3e}  {'ok' if r.passed else 'FAIL'}"
            )
        return "\n".join(lines)

    __repr__ = __str__


def compare_gradients(
    fn: Callable[..., Tensor],
    inputs: Inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> GradientReport:
    """Compare backprop with central differences for every input that requires grad.

    ``fn(*inputs)`` must return a Tensor; a non-scalar output is reduced to the scalar
    sum(w * fn(...)) with fixed random weights w, which checks a random combination of the
    Jacobian's rows. ``inputs`` is a sequence of Tensors, or a dict of named Tensors
    (passed to ``fn`` in order). Inputs that require grad must be float64: central
    differences in float32 are too coarse to compare. Their ``.grad`` is left as it was.
    """
    names, tensors = _named(inputs)
    checked = [(n, t) for n, t in zip(names, tensors) if _requires_grad(t)]
    for name, t in checked:
        if t.dtype != np.float64:
            raise TypeError(
                f"gradient check: input {name} has dtype {t.dtype}; gradient checks need "
                f"float64 (e.g. Tensor(x, dtype=np.float64, requires_grad=True))"
            )
    out = fn(*tensors)
    weights = np.random.default_rng(0).standard_normal(out.shape)

    saved = [t.grad for _, t in checked]
    for _, t in checked:
        t.grad = None
    (out * weights).sum().backward()
    analytic = [np.zeros(t.shape) if t.grad is None else t.grad.data for _, t in checked]
    for (_, t), grad in zip(checked, saved):
        t.grad = grad

    def projected_output(_: Tensor) -> float:
        with no_grad():
            return float((fn(*tensors).data * weights).sum())

    rows = []
    for (name, t), backprop in zip(checked, analytic):
        numeric = numerical_gradient(projected_output, t, h=eps)
        rows.append(_comparison(name, backprop, numeric, atol, rtol))
    return GradientReport(rows)


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Check backprop against central differences (see ``compare_gradients``).

    Returns True, or raises ``GradcheckError`` naming the input, the worst element's
    index, both values and the error.
    """
    for r in compare_gradients(fn, inputs, eps=eps, atol=atol, rtol=rtol).rows:
        if not r.passed:
            raise GradcheckError(
                f"gradcheck: input {r.name} (shape {r.shape}) at index {r.worst_index}: "
                f"backprop gives {r.backprop:.10g} but the numerical gradient is "
                f"{r.numerical:.10g} (abs error {abs(r.backprop - r.numerical):.3g}, allowed "
                f"{atol:g} + {rtol:g} * |numerical|)"
            )
    return True


@dataclass
class OpCheck:
    """One op of a graph, checked on its own (a row of ``gradcheck_graph``'s report)."""

    op: str  # the op's name
    node: Function  # the op itself (draw_graph(root, highlight=report) paints it)
    max_abs_error: float  # the worst |backprop - central difference| over its inputs
    passed: bool
    kinks: int = 0  # directions skipped: the op is not differentiable there (see below)


@dataclass
class GraphCheck:
    """The report of ``gradcheck_graph``: one row per op, in the order of the forward pass."""

    rows: list[OpCheck]

    @property
    def ok(self) -> bool:
        """Whether every op passed."""
        return all(r.passed for r in self.rows)

    @property
    def failed(self) -> list[OpCheck]:
        """The rows of the ops whose backward disagrees with their forward."""
        return [r for r in self.rows if not r.passed]

    def __str__(self) -> str:
        lines = [f"{'#':>3}  {'op':<24} {'max abs error':>13}  result"]
        for number, r in enumerate(self.rows, 1):
            verdict = "ok" if r.passed else "FAIL"
            if r.kinks:
                verdict += f" ({r.kinks} direction(s) skipped: not differentiable there)"
            lines.append(f"{number:>3}  {r.op:<24} {r.max_abs_error:>13.3e}  {verdict}")
        bad = len(self.failed)
        lines.append(f"{len(self.rows)} ops checked, " + (f"{bad} wrong" if bad else "all ok"))
        return "\n".join(lines)


def gradcheck_graph(
    root: Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    directions: int = 3,
    seed: int = 0,
) -> GraphCheck:
    """Check every op of the graph that computed ``root``, each on its own.

    For each op: its own forward is run again on its own saved inputs, made float64, and
    its backward (for a random upstream gradient g) is compared with central differences
    of sum(g * forward(x)) along ``directions`` random directions v of each input:
    <backprop gradient, v> against (f(x + eps v) - f(x - eps v)) / 2 eps. So a wrong op is
    named even deep inside a big network, where checking the whole loss would only say
    "something is wrong", and each check costs a few forward calls whatever the size.

    Where the op is not differentiable at its inputs along v (a ReLU's zeros tying in a
    max-pooling window, |x| at 0), the two one-sided differences disagree: that direction
    is skipped and counted in the row's ``kinks``, rather than called a failure.

    Call it before ``backward()`` (or after ``backward(retain_graph=True)``): it needs the
    inputs the graph saved. ``draw_graph(root, highlight=report)`` paints failing ops red.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"gradcheck_graph: root must be a Tensor, got {type(root).__name__}")
    if root.creator is None:
        raise ValueError(
            "gradcheck_graph: this tensor was not computed by any op, so there is no graph "
            "to check; pass the result of a computation on tensors with requires_grad=True"
        )
    try:
        ops = graph_ops(root)
    except RuntimeError:
        raise RuntimeError(
            "gradcheck_graph: backward() already freed this graph's saved inputs; call "
            "gradcheck_graph before backward(), or after backward(retain_graph=True)"
        ) from None
    rng = np.random.default_rng(seed)
    return GraphCheck([_check_op(fn, rng, eps, atol, rtol, directions) for fn in reversed(ops)])


def _check_op(
    fn: Function, rng: np.random.Generator, eps: float, atol: float, rtol: float, directions: int
) -> OpCheck:
    """One row of gradcheck_graph: ``fn``'s backward against its own forward."""
    arrays = [
        a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
        for a in fn.input_arrays
    ]
    checked = [i for i, needed in enumerate(fn.needs_input_grad) if needed]

    def projected(*xs: Any) -> float:  # sum(g * forward(xs)), on a fresh copy of the op
        return float(np.sum(g * copy.copy(fn).forward(*xs)))

    inputs: list[Any] = [
        Tensor(a, requires_grad=True) if i in checked else a for i, a in enumerate(arrays)
    ]
    with enable_grad():
        out = copy.copy(fn)(*inputs)  # recorded again, in float64
    g = rng.standard_normal(out.shape)
    out.backward(g)
    if out.dtype != np.float64:  # the op casts (astype): differences need a larger step
        eps, atol, rtol = max(eps, 1e-2), max(atol, 1e-3), max(rtol, 1e-2)
    here = projected(*arrays)
    worst, passed, kinks = 0.0, True, 0
    for i in checked:
        grad = inputs[i].grad
        backprop = np.zeros(np.shape(arrays[i])) if grad is None else grad.data
        for _ in range(directions):
            v = rng.standard_normal(np.shape(arrays[i]))
            plus, minus = list(arrays), list(arrays)
            plus[i], minus[i] = arrays[i] + eps * v, arrays[i] - eps * v
            ahead, behind = projected(*plus), projected(*minus)
            numeric = (ahead - behind) / (2 * eps)
            # Smooth: the one-sided slopes differ by about eps * curvature; at a kink by O(1).
            if abs((ahead - here) - (here - behind)) / eps > atol + rtol * abs(numeric):
                kinks += 1
                continue
            error = abs(float(np.sum(backprop * v)) - numeric)
            worst = max(worst, error)
            passed = passed and error <= atol + rtol * abs(numeric)
    return OpCheck(fn.name, fn, worst, passed, kinks)


def _comparison(
    name: str, backprop: np.ndarray, numeric: np.ndarray, atol: float, rtol: float
) -> GradientComparison:
    error = np.abs(backprop - numeric)
    excess = error - (atol + rtol * np.abs(numeric))
    worst = np.unravel_index(np.argmax(excess), numeric.shape) if numeric.size else ()
    scale = np.maximum(np.maximum(np.abs(backprop), np.abs(numeric)), 1e-12)
    return GradientComparison(
        name=name,
        shape=numeric.shape,
        max_abs_error=float(error.max(initial=0.0)),
        max_rel_error=float((error / scale).max(initial=0.0)),
        passed=bool((excess <= 0).all()),
        worst_index=tuple(int(i) for i in worst),
        backprop=float(backprop[worst]) if numeric.size else 0.0,
        numerical=float(numeric[worst]) if numeric.size else 0.0,
    )


def _named(inputs: Inputs) -> tuple[list[str], list[Tensor]]:
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    if isinstance(inputs, dict):
        return [str(k) for k in inputs], list(inputs.values())
    inputs = list(inputs)
    names = [t.name if isinstance(t, Tensor) and t.name else str(i) for i, t in enumerate(inputs)]
    return names, inputs
