"""Reverse-mode automatic differentiation: grad mode and the graph walk.

* grad mode: whether operations are being recorded (``no_grad`` switches it off);
* ``backward``: the one graph walk that applies the chain rule, from the output back to
  the leaves, in reverse topological order. The ops it calls are in ``ops.py``.
"""

import contextlib
import threading

import numpy as np

from tinygrad_edu.tensor import Tensor, _array


class _Mode(threading.local):
    """Per-thread switches, so ``no_grad`` in one thread leaves the others recording."""

    grad_enabled = True
    detect_anomaly = False
    in_backward = False  # the engine is running ops' backward methods


mode = _Mode()


def is_grad_enabled():
    """True when new operations are recorded into the graph (in this thread)."""
    return mode.grad_enabled


@contextlib.contextmanager
def set_grad_enabled(enabled):
    """Turn recording on or off inside a ``with`` block (or as a decorator)."""
    previous = mode.grad_enabled
    mode.grad_enabled = bool(enabled)
    try:
        yield
    finally:
        mode.grad_enabled = previous


def no_grad():
    """``with no_grad():`` runs operations without recording them: no graph, no gradients,
    near plain numpy speed. Use it for inference and for updating parameters."""
    return set_grad_enabled(False)


def enable_grad():
    """Turn recording back on inside a ``no_grad`` block."""
    return set_grad_enabled(True)


@contextlib.contextmanager
def detect_anomaly():
    """Check every result and gradient for NaN or Inf and raise ``FloatingPointError`` at
    the first one, naming the op and the pass (forward or backward) that produced it."""
    previous = mode.detect_anomaly
    mode.detect_anomaly = True
    try:
        yield
    finally:
        mode.detect_anomaly = previous


def backward(root, grad=None, retain_graph=False, create_graph=False):
    """Backpropagate from ``root``: accumulate d(root)/d(leaf) into every leaf's ``.grad``.

    The chain rule, applied once per op in reverse topological order: an op's output
    gradient is complete (all its consumers have contributed) before the op passes
    gradients on to its inputs. Gradients travel as numpy arrays; with ``create_graph``
    they travel as Tensors, so that computing them is recorded like any other operation.
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad, so there is no graph to walk; "
            "either no input had requires_grad=True, or it was computed inside no_grad(), "
            "or by an operation without a gradient (a comparison, argmax, step_function, "
            "astype to an integer type)"
        )
    grad = _initial_grad(root, grad)
    # Arrays already given to a leaf as its .grad: another leaf gets a copy rather than a
    # second reference, so editing one .grad in place changes no other.
    handed_out = set()
    if create_graph:
        grad = Tensor(grad)
    # In anomaly mode, the engine checks each op's gradients itself (see _propagate), so
    # that a NaN is blamed on the op whose backward made it.
    saved_mode = mode.grad_enabled, mode.in_backward
    mode.grad_enabled, mode.in_backward = create_graph, True
    try:
        if root.creator is None:
            _accumulate(root, grad, handed_out)
            return
        order = _topological_order(root.creator)
        grads = {root.creator: grad}  # op -> gradient of its output, summed over consumers
        for fn in order:
            _propagate(fn, grads.pop(fn), grads, handed_out, create_graph)
    finally:
        mode.grad_enabled, mode.in_backward = saved_mode
    if not (retain_graph or create_graph):
        for fn in order:
            fn.release()


def _initial_grad(root, grad):
    """d(root)/d(root): ones for a one-element root, else a copy of the ``grad`` given
    (a copy, so that nothing the engine does can change the caller's array)."""
    if grad is None:
        if root.size != 1:
            raise RuntimeError(
                f"backward: grad can be omitted only for a one-element output, but this "
                f"tensor has shape {root.shape}; reduce it first (e.g. y.sum().backward()) "
                f"or pass grad=, a tensor of shape {root.shape}"
            )
        return np.array(1, dtype=root.dtype).reshape(root.shape)  # d(root)/d(root) = 1
    grad = np.array(_array(grad), dtype=root.dtype)
    if grad.shape != root.shape:
        raise ValueError(
            f"backward: grad has shape {grad.shape} but the tensor has shape {root.shape}"
        )
    return grad


def _propagate(fn, grad, grads, handed_out, create_graph):
    """Apply ``fn``'s backward and hand each input its gradient."""
    input_grads = fn.backward(grad)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(fn.inputs):
        raise TypeError(
            f"{fn.name}.backward returned {len(input_grads)} gradient(s) for "
            f"{len(fn.inputs)} input(s); return one per input (None where there is none)"
        )
    for i, (x, gx, needed) in enumerate(zip(fn.inputs, input_grads, fn.needs_input_grad)):
        if not needed or gx is None:
            continue
        if create_graph:
            if not isinstance(gx, Tensor):
                gx = Tensor(gx)
        elif type(gx) is not np.ndarray:  # a Tensor, or a numpy scalar from 0-d arithmetic
            gx = np.asarray(_array(gx))
        data = x.data
        if gx.shape != data.shape:
            gx = _unbroadcast(gx, data.shape, fn.name, i)
        if gx.dtype != data.dtype:  # gradients keep their tensor's dtype: no silent upcast
            gx = gx.astype(data.dtype)
        if mode.detect_anomaly:
            check_finite(_array(gx), f"{fn.name} produced {{}} in the backward pass (input {i})")
        if x.creator is None:
            _accumulate(x, gx, handed_out)
        else:
            previous = grads.get(x.creator)
            grads[x.creator] = gx if previous is None else previous + gx  # fan-out: sum


def _accumulate(leaf, grad, handed_out):
    """Add ``grad`` (an array, or a Tensor with ``create_graph``) into ``leaf.grad``."""
    if leaf.grad is not None:
        leaf.grad = leaf.grad + grad if isinstance(grad, Tensor) else Tensor(leaf.grad.data + grad)
        return
    if not isinstance(grad, Tensor):
        grad = Tensor(grad)
    # A view, or an array already given out: copy it (unless it is part of a graph).
    if (grad.data.base is not None or id(grad.data) in handed_out) and not grad.requires_grad:
        grad = Tensor(grad.data.copy())
    handed_out.add(id(grad.data))
    leaf.grad = grad


def _unbroadcast(grad, shape, op_name, index):
    """Sum ``grad`` down to ``shape``, undoing numpy broadcasting.

    Broadcasting copies a value along new leading axes and along axes of size 1; each copy
    contributed to the output, so the gradient of the original is the sum over the copies.
    """
    lead = grad.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, grad.shape[lead:])):
        raise ValueError(
            f"{op_name}.backward returned a gradient of shape {grad.shape} for input {index} "
            f"of shape {shape}; it must have the input's shape (or broadcast to it)"
        )
    if lead:  # new leading axes: sum them away
        grad = grad.sum(axis=tuple(range(lead)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:  # axes of size 1 that were stretched: sum them, keeping size 1
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _topological_order(root_fn):
    """The ops that ``root_fn`` depends on, consumers before producers, found without
    recursion (an explicit stack), so graphs of any depth work."""
    order, visited = [], set()
    stack = [(root_fn, False)]
    while stack:
        fn, children_done = stack.pop()
        if children_done:
            order.append(fn)
            continue
        if fn in visited:
            continue
        if fn.inputs is None:
            raise RuntimeError(
                f"backward: the graph through '{fn.name}' was already freed by an earlier "
                f"backward(); to backpropagate through the same graph twice, pass "
                f"retain_graph=True to the first backward()"
            )
        visited.add(fn)
        stack.append((fn, True))
        for x in fn.inputs:
            creator = x.creator if isinstance(x, Tensor) else None
            if creator is not None and creator not in visited:
                stack.append((creator, False))
    order.reverse()
    return order


def check_finite(array, message):
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        kind = "NaN" if np.isnan(array).any() else "Inf"
        raise FloatingPointError(message.format(kind))
