"""Reverse-mode automatic differentiation: the one graph walk.

``backward`` applies the chain rule once per op, from the output back to the leaves, in
reverse topological order. The ops it calls (each a forward and a backward) are in
``ops.py``; whether operations are recorded is ``grad_mode.py``'s business.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tinygrad_edu.grad_mode import check_finite, mode
from tinygrad_edu.tensor import Tensor, as_array, inplace_clock

if TYPE_CHECKING:
    from tinygrad_edu.ops import Function

# A gradient on its way through the graph: an ndarray, or a Tensor with create_graph.
Gradient = Any


class Observer(Protocol):
    """Watches the walk (``explain_backward`` records it): ``visit`` before each op's
    backward, ``hand`` for each gradient the op hands to an input: as the op returned it
    (``raw``), fitted to the input's shape (``fitted``), and what the input had already
    received from its other consumers (``previous``, None if nothing: the two are added)."""

    def visit(self, fn: Function, grad_out: Gradient) -> None: ...

    def hand(
        self, fn: Function, index: int, raw: Gradient, fitted: Gradient, previous: Any
    ) -> None: ...


def backward(
    root: Tensor,
    grad: Any = None,
    retain_graph: bool = False,
    create_graph: bool = False,
    observer: Observer | None = None,
) -> None:
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
    grad = initial_grad(root, grad)
    if create_graph:
        grad = Tensor(grad)
    if root.creator is None:
        _accumulate({root: grad})
        return
    order = graph_ops(root)
    # What each op's output, and each leaf, has received so far: the gradient summed over
    # the tensor's consumers (a tensor used twice gets the sum of both).
    pending: dict[Any, Gradient] = {root.creator: grad}
    kept: list[tuple[Tensor | None, Gradient]] = []  # gradients of intermediates to keep
    saved_mode = mode.grad_enabled, mode.in_backward
    mode.grad_enabled, mode.in_backward = create_graph, True
    try:
        for fn in order:
            if fn.recorded_at != inplace_clock.now:  # something changed in place since
                _check_unchanged(fn)
            grad_out = pending.pop(fn, None)
            if grad_out is None:  # every consumer of its output returned None for it
                continue
            if fn.keeps_output_grad:  # the output asked to keep its gradient (retain_grad)
                kept.append((fn.output, grad_out))
            if observer is not None:
                observer.visit(fn, grad_out)
            input_grads = _call_backward(fn, grad_out, create_graph)
            for index, x in enumerate(fn.inputs):
                gx = input_grads[index]
                if gx is None or not fn.needs_input_grad[index]:
                    continue
                fitted = _fit(gx, x.data, fn, index)
                key = x if x.creator is None else x.creator
                previous = pending.get(key)
                pending[key] = fitted if previous is None else previous + fitted
                if observer is not None:
                    observer.hand(fn, index, gx, fitted, previous)
        # Every op has been popped: the leaves are left, and the kept intermediates join.
        pending.update((t, g) for t, g in kept if t is not None)
        _accumulate(pending)
    finally:
        mode.grad_enabled, mode.in_backward = saved_mode
    if not (retain_graph or create_graph):
        freed: dict[int, Any] = {}  # each constant remembered once, for all its ops
        for fn in reversed(order):  # producers first: each output is still alive
            fn.release(freed)


def initial_grad(root: Tensor, grad: Any) -> np.ndarray:
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
    given = as_array(grad)
    if given.dtype.kind not in "biuf":
        raise TypeError(
            f"backward: grad must hold numbers, got {given.dtype} values; pass a float "
            f"array or Tensor of shape {root.shape}"
        )
    grad = np.array(given, dtype=root.dtype)
    if grad.shape != root.shape:
        raise ValueError(
            f"backward: grad has shape {grad.shape} but the tensor has shape {root.shape}"
        )
    return grad


def _check_unchanged(fn: Function) -> None:
    """Refuse to backpropagate through ``fn`` if a tensor its backward reads (an input or
    its output) was changed in place (``+=``, an optimizer's step) after ``fn`` was
    recorded: the backward would compute with the new values, a wrong gradient
    (PyTorch's check). Ops that read only shapes are not concerned."""
    suspects: list[tuple[str, Tensor | None]] = []
    if fn.reads_inputs:
        suspects = [(f"input {i}", x) for i, x in enumerate(fn.inputs) if isinstance(x, Tensor)]
    if fn.reads_output:
        suspects.append(("output", fn.output))
    for role, x in suspects:
        if x is not None and x._version > fn.recorded_at:
            raise RuntimeError(
                f"backward: one of the variables needed for gradient computation has been "
                f"modified by an inplace operation: the {role} of '{fn.name}' (shape "
                f"{x.shape}) was changed in place after '{fn.name}' used it; compute the "
                f"forward pass again after the change, or make the change after backward()"
            )


def _call_backward(fn: Function, grad: Gradient, create_graph: bool) -> tuple:
    """Run ``fn.backward(grad)`` and check that it kept the contract: one gradient per
    input and, while gradients are recorded, Tensors (so they can be differentiated)."""
    if create_graph and fn.once_differentiable:
        raise RuntimeError(
            f"backward(create_graph=True): '{fn.name}' is once_differentiable (its backward "
            f"computes on numpy arrays), so its gradient cannot be differentiated again; "
            f"write its backward with Tensor operations to get second derivatives"
        )
    input_grads = fn.backward(grad)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(fn.inputs):
        raise TypeError(
            f"{fn.name}.backward returned {len(input_grads)} gradient(s) for "
            f"{len(fn.inputs)} input(s); return one per input (None where there is none)"
        )
    if create_graph:
        for index, gx in enumerate(input_grads):
            if gx is not None and fn.needs_input_grad[index] and not isinstance(gx, Tensor):
                raise TypeError(
                    f"{fn.name}.backward returned a {type(gx).__name__} for input {index} "
                    f"while the gradient is being recorded (create_graph=True), so the "
                    f"second derivative would be lost; compute it from grad and "
                    f"self.saved_inputs() with Tensor operations, or set "
                    f"once_differentiable = True on the op"
                )
    return input_grads


def _fit(gx: Gradient, data: np.ndarray, fn: Function, index: int) -> Gradient:
    """The gradient ``fn`` handed its input ``index`` (whose array is ``data``), made to
    match it: an ndarray (or a Tensor with create_graph) of that shape and dtype, checked
    in anomaly mode."""
    if type(gx) is not np.ndarray:
        if not isinstance(gx, Tensor):
            gx = np.asarray(gx)  # a numpy scalar from 0-d arithmetic, or a Python number
        elif not mode.grad_enabled:
            gx = gx.data  # an op built its gradient with another op (e.g. Sum's BroadcastTo)
    if gx.shape != data.shape:
        gx = _unbroadcast(gx, data.shape, fn.name, index)
    if gx.dtype != data.dtype:  # gradients keep their tensor's dtype: no silent upcast
        gx = gx.astype(data.dtype)
    if mode.detect_anomaly:
        check_finite(as_array(gx), f"{fn.name} produced {{}} in the backward pass (input {index})")
    return gx


# Threads may backpropagate into the same leaf: adding into .grad is one step at a time.
_accumulating = threading.Lock()


def _accumulate(leaf_grads: dict[Tensor, Gradient]) -> None:
    """Add each leaf's gradient (an array, or a Tensor with ``create_graph``) into its
    ``.grad``, all at the end of the walk, so a backward that fails leaves none changed."""
    handed_out: set[int] = set()  # arrays given to a leaf: another leaf gets a copy
    with _accumulating:
        for leaf, grad in leaf_grads.items():
            if leaf._grad is not None:
                if isinstance(grad, Tensor):
                    leaf._grad = leaf._grad + grad
                else:
                    leaf._grad = Tensor(leaf._grad.data + grad)
                continue
            if not isinstance(grad, Tensor):
                grad = Tensor(grad)
            # A view, or an array already given out: copy it (unless it is part of a graph),
            # so that editing one .grad in place changes nothing else.
            shared = grad.data.base is not None or id(grad.data) in handed_out
            if shared and not grad.requires_grad:
                grad = Tensor(grad.data.copy())
            elif not grad.data.flags.writeable:  # a broadcast view, recorded: make it real
                grad = grad * 1
            handed_out.add(id(grad.data))
            leaf._grad = grad


def _unbroadcast(grad: Gradient, shape: tuple[int, ...], op_name: str, index: int) -> Gradient:
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


def graph_ops(root: Tensor) -> list[Function]:
    """The ops that computed ``root``, consumers before producers (the order backward
    visits them), found without recursion (an explicit stack), so graphs of any depth
    work. Raises if an earlier ``backward()`` freed them."""
    order: list[Function] = []
    visited = set()
    stack = [(root.creator, False)] if root.creator is not None else []
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
