"""``explain_backward``: backpropagation told step by step, in words and in pictures.

It runs the very walk of ``root.backward()`` (``autograd.backward`` with an observer), so
``.grad`` ends exactly as ``backward()`` leaves it, and records each step: the op, the
gradient arriving from above, the op's local rule, what it hands to each input, where
broadcasting was summed away and where a tensor used twice adds its gradients::

    apple = Tensor(100.0, requires_grad=True, name="apple")
    ...
    price = apple * apple_num * tax
    print(explain_backward(price))     # the book's figure 5-16 in words
    frames = explain_backward(price).frames()   # one graphviz picture per step
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import graphviz
import numpy as np

from tinygrad_edu import autograd
from tinygrad_edu.ops import Function
from tinygrad_edu.tensor import Tensor, as_array
from tinygrad_edu.viz import draw_graph, summarize, summarize_grad

CURRENT_OP_COLOR = "#ff7f50"  # the op whose backward runs in a frame
MAX_PRINTED_STEPS = 30  # str() of a bigger graph prints the first ones and a note


@dataclass
class Handoff:
    """What one op hands to one of its inputs in the backward pass."""

    input: str  # who receives it: a name ("apple", "0.weight") or "mul#2" (step 2's result)
    raw: np.ndarray  # the gradient as the op's rule computed it
    grad: np.ndarray  # the same, summed back to the input's shape
    summed_axes: tuple[int, ...]  # the axes summed away (the input had been broadcast)
    added_to: np.ndarray | None  # what the input had already received (used twice), or None
    total: np.ndarray  # what the input has received so far: grad, or added_to + grad


@dataclass
class Step:
    """One op's backward: d(root)/d(output) in, one Handoff per input that needs one."""

    number: int
    op: Function
    upstream: np.ndarray  # d(root)/d(this op's output)
    upstream_label: str  # how the account writes it: "d(price)/d(apple_price)"
    handoffs: list[Handoff] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The op's name: "mul", "linear", ..."""
        return self.op.name

    @property
    def formula(self) -> str:
        """The op's local rule (``Function.formula``), or where to read it."""
        return self.op.formula or f"its own backward (see {type(self.op).__name__}.backward)"

    def __str__(self) -> str:
        lines = [
            f"step {self.number}: {self.name}   local rule: {self.formula}",
            f"  arriving from above: {self.upstream_label} = {_show(self.upstream)}",
        ]
        for h in self.handoffs:
            lines.append(f"  -> to {h.input}: {_show(h.raw)}")
            if h.summed_axes:
                lines.append(
                    f"     summed over axes {h.summed_axes} (it was broadcast from shape "
                    f"{h.grad.shape} to {h.raw.shape}): {_show(h.grad)}"
                )
            if h.added_to is not None:
                lines.append(
                    f"     {h.input} is used more than once: added to the {_show(h.added_to)} "
                    f"it already got, total {_show(h.total)}"
                )
        return "\n".join(lines)


class BackwardExplanation:
    """The record of one backward pass: ``str()`` reads it step by step; ``.steps`` has
    one ``Step`` per op, in the order backward ran them; ``.frames()`` draws them;
    ``.leaves`` maps each leaf's name to the leaf."""

    def __init__(
        self, root: Tensor, start: np.ndarray, steps: list[Step], leaves: dict[str, Tensor]
    ):
        self.root, self.start, self.steps, self.leaves = root, start, steps, leaves

    def __str__(self) -> str:
        name = self.root.name or "root"
        head = (
            f"backward from {name} = {_show(self.root.data)}, starting with "
            f"d({name})/d({name}) = {_show(self.start)}"
        )
        if any("#" in step.upstream_label for step in self.steps):
            head += "\n(a result without a name is called by its op and step: mul#2 is step 2's)"
        # A leaf's last total is its gradient (a leaf used twice gets several handoffs).
        finals = {
            h.input: h.total for s in self.steps for h in s.handoffs if h.input in self.leaves
        }
        tail = ["gradients (what backward adds to each leaf's .grad):"]
        tail += [f"  d({name})/d({leaf}) = {_show(grad)}" for leaf, grad in finals.items()]
        steps = [str(step) for step in self.steps[:MAX_PRINTED_STEPS]]
        if len(self.steps) > MAX_PRINTED_STEPS:
            hidden = len(self.steps) - MAX_PRINTED_STEPS
            steps.append(f"... {hidden} more steps not printed (all are in .steps)")
        return "\n\n".join([head, *steps, "\n".join(tail)])

    def __repr__(self) -> str:
        return f"<BackwardExplanation of {len(self.steps)} steps; print() it to read them>"

    def frames(self, show_data: bool = False) -> list[graphviz.Digraph]:
        """One drawing per step: that step's op in orange, and every gradient known so far
        written on the graph (on each visited op, the gradient of its output; on each
        leaf, what it has received)."""
        frames: list[graphviz.Digraph] = []
        notes: dict[Any, str] = {}
        for step in self.steps:
            notes[step.op] = f"{step.upstream_label} = {_show(step.upstream)}"
            for h in step.handoffs:
                if h.input in self.leaves:
                    notes[self.leaves[h.input]] = f"grad so far = {_show(h.total)}"
            highlight = {step.op: CURRENT_OP_COLOR}
            frames.append(
                draw_graph(self.root, show_data=show_data, highlight=highlight, notes=notes)
            )
        return frames


class _Recorder:
    """The observer given to ``autograd.backward``: turns its calls into Steps."""

    def __init__(self, root: Tensor) -> None:
        self.root_name = root.name or "root"
        # The walk's order, to number the steps and name results by the step that made them.
        self.number = {fn: n for n, fn in enumerate(autograd.graph_ops(root), 1)}
        self.steps: list[Step] = []
        self.leaves: dict[str, Tensor] = {}

    def visit(self, fn: Function, grad_out: Any) -> None:
        label = f"d({self.root_name})/d({self.describe(fn.output, fn)})"
        self.steps.append(Step(self.number[fn], fn, np.array(as_array(grad_out)), label))

    def describe(self, x: Tensor | None, creator: Function) -> str:
        """An intermediate result as the account names it: its name, else the op and the
        step that computed it ("mul#3": the result of step 3, a mul)."""
        if x is not None and x.name:
            return x.name
        return f"{creator.name}#{self.number[creator]}"

    def hand(self, fn: Function, index: int, raw: Any, fitted: Any, previous: Any) -> None:
        x = fn.inputs[index]
        if x.creator is not None:
            name = self.describe(x, x.creator)
        else:  # a leaf: give it a name of its own
            name = x.name or f"input {index} of {fn.name}#{self.number[fn]}"
            known = [n for n, leaf in self.leaves.items() if leaf is x]
            if known:
                name = known[0]
            elif name in self.leaves:
                name = f"{name} #{len(self.leaves) + 1}"
            self.leaves[name] = x
        raw, grad = np.array(as_array(raw)), np.array(as_array(fitted))
        added_to = None if previous is None else np.array(as_array(previous))
        total = grad if added_to is None else added_to + grad
        self.steps[-1].handoffs.append(
            Handoff(name, raw, grad, _summed_axes(raw.shape, grad.shape), added_to, total)
        )


def explain_backward(root: Tensor, grad: Any = None) -> BackwardExplanation:
    """Run ``root.backward(grad)`` and record every step of it.

    Args:
        root: the Tensor to backpropagate from (usually a scalar loss).
        grad: d(final)/d(root), as for ``backward``; omit it for a one-element root.

    Returns:
        a ``BackwardExplanation``: ``print()`` it to read the steps, ``.steps`` to inspect
        them, ``.frames()`` for one graphviz drawing per step. ``.grad`` of every leaf is
        left exactly as ``root.backward(grad)`` leaves it, and the graph is freed as
        ``backward()`` frees it (the drawings need only its shape).
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"explain_backward: root must be a Tensor, got {type(root).__name__}")
    if root.creator is None:
        raise ValueError(
            f"explain_backward: this tensor (shape {root.shape}) was not computed by any "
            f"op, so there is no backward pass to explain; pass the result of a "
            f"computation on tensors with requires_grad=True (e.g. a loss)"
        )
    if root.creator.inputs is None:
        raise RuntimeError(
            "explain_backward: backward() already ran through this graph and freed what "
            "it needs; compute the result again, or call explain_backward instead of the "
            "first backward()"
        )
    recorder = _Recorder(root)
    autograd.backward(root, grad, observer=recorder)  # checks grad
    start = autograd.initial_grad(root, grad)
    return BackwardExplanation(root, start, recorder.steps, recorder.leaves)


def _summed_axes(raw: tuple[int, ...], fitted: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of ``raw`` that were summed to get ``fitted`` (undoing broadcasting)."""
    lead = len(raw) - len(fitted)
    stretched = [lead + i for i, n in enumerate(fitted) if n == 1 and raw[lead + i] != 1]
    return (*range(lead), *stretched)


def _show(array: np.ndarray) -> str:
    """Values when small (a plain number for a scalar), else the shape and a summary."""
    array = np.asarray(array)
    if array.ndim == 0:
        return summarize(array)
    if array.size <= 4:
        return f"{summarize(array)} (shape {array.shape})"
    return f"shape {array.shape}, {summarize_grad(array)}"
