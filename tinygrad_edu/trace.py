"""Graph mode: trace a function once, then replay its ops fast.

Eager execution (this library, PyTorch, TensorFlow 2) pays for every op as it runs:
Python dispatch, checks, a new Tensor, a new output array, and the bookkeeping of the
graph. TensorFlow 1 paid it once: you built a graph, then a session ran it many times.
``trace`` gets the second behaviour from eager code, as ``tf.function``,
``torch.jit.trace`` and tinygrad's ``TinyJit`` do::

    fast = trace(model, x_example)      # runs model(x_example) once, recording its ops
    probs = fast(x)                     # replays them on x: same shape and dtype

The one run records the graph as usual (each op remembers its inputs). ``trace`` then walks
it (``autograd.graph_ops``) and writes a **plan**: a fixed list of steps, each a numpy call
that writes into an output buffer allocated once (numpy's ``out``), some fused (``linear`` is
``matmul`` then ``+ bias`` in place; ``sigmoid`` is four in-place passes over one buffer;
softmax cross-entropy is the book's SoftmaxWithLoss). Replaying the plan skips everything
eager mode pays per op, which is why graph mode is fast. ``print(fast)`` lists the plan and
``viz.draw_graph(fast.graph)`` draws the graph it came from.

``trace_step`` does the same for a whole training step: forward, loss, backward (a fixed
list of gradient steps into preallocated buffers) and the optimizer's update, in place::

    step = trace_step(model, F.cross_entropy, optimizer, x_batch, t_batch)
    for x_batch, t_batch in loader:
        loss = step(x_batch, t_batch)   # = zero_grad(), loss.backward(), optimizer.step()

**What a trace freezes (the TF1 lesson).** Python runs only once, at trace time; the plan
holds the ops that run did, nothing else. A Python ``if`` or ``for`` that looked at the
data was decided for the example and stays decided::

    def f(x):
        if x.sum() > 0:                 # decided once, at trace time
            return x * 2
        return -x

    g = trace(f, np.ones(3))            # the example has a positive sum: the plan is x * 2
    g(-np.ones(3))                      # Tensor([-2., -2., -2.]): x * 2 again, not -x

TensorFlow 1 had ``tf.cond`` and ``tf.while_loop`` for this; here, keep data-dependent
decisions outside the traced function (or trace one function per branch). Frozen in the
same way, silently: random numbers drawn in Python (``F.dropout``'s mask: trace with the
model in ``eval()`` mode), module state such as ``model.training``, forward hooks (they run
at trace time only), and a mask or index computed from the data outside the ops, such as
``x * (x > 0)`` (a comparison gives a constant: use ``relu``), labels turned into one-hot
rows with numpy (pass the class indices to ``cross_entropy`` as they are), and anything
computed inside ``no_grad()`` in the traced function (nothing is recorded there).

What a trace refuses, with an error naming the cause:

* a function that returns no Tensor, or returns one no recorded op computed (``argmax``,
  a comparison, a constant): the replay could not recompute it;
* reading values inside the function, ``.item()``, ``.numpy()``, ``float(t)``, ``int(t)``,
  ``np.asarray(t)`` on a tensor that depends on the inputs: that number would be frozen
  into the plan (read it outside the traced function instead);
* a value computed from an integer or boolean input (``mask.astype(np.float32)``,
  ``k + 1``, ``idx.astype(np.int64)`` as an index): it has no gradient, so no op was
  recorded for it and the plan would keep the example's values (convert such inputs
  outside the traced function; class indices passed to ``cross_entropy`` and an integer
  input used as an index as it is are followed at each call);
* calling ``backward()`` inside ``trace`` (use ``trace_step``), with or without
  ``retain_graph``, or a loss function that calls it inside ``trace_step``;
* an op that cannot be replayed: ``batch_norm`` in training mode, whose running
  statistics are updated outside the op (trace the model in ``eval()`` mode);
* with ``retrace=False``, inputs of other shapes or dtypes than the examples.

**Shapes and dtypes.** A plan is valid for the shapes and dtypes it was traced with. A call
with others traces again (``retrace=True``, the default: ``fn`` runs once more, eagerly,
on the new inputs) and keeps up to ``max_plans`` plans, one per input signature, so that
alternating batch sizes (the last, smaller batch of an epoch) does not retrace each time;
``retrace=False`` raises a ValueError instead.

**Results.** The replay returns what ``fn`` returned, as Tensors without a graph (use
``trace_step`` to train). By default they are copies (``copy=True``): the plan's buffers
are reused by the next call, so a result you keep is never changed behind your back. With
``copy=False`` the results are the buffers themselves, faster, but the next call overwrites
them: copy what you keep, and do not feed them back in as inputs.

**Parameters** are read by reference: an optimizer's in-place update or
``load_state_dict`` is seen by the next call. A parameter (or constant tensor) whose
``.data`` is replaced by another array is noticed (one identity check per tensor and call)
and the function is traced again, as are, for ``trace_step``, a change in the optimizer's
parameters (``add_param_group``) or in their ``requires_grad`` (a frozen parameter gets no
gradient and no update, as eagerly). The optimizer's state (``optimizer.state``, replaced
by its ``load_state_dict``) is read at each step.

**Checks at each call.** The inputs' shapes and dtypes, the parameters as above, and the
class indices given to ``cross_entropy`` (out of range: its own IndexError, as eagerly).
**Threads**: a ``Traced`` runs one call at a time (a lock; the calls share the plan's
buffers), so it can be shared, but calls from several threads do not run in parallel.
"""

from __future__ import annotations

import copy as copying
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.autograd import _unbroadcast, graph_ops
from tinygrad_edu.functional.linear import Linear
from tinygrad_edu.functional.loss import CrossEntropy, cross_entropy
from tinygrad_edu.functional.normalization import BatchNorm
from tinygrad_edu.grad_mode import Tracing, mode
from tinygrad_edu.ops import Function
from tinygrad_edu.optim.optimizer import SGD, Optimizer
from tinygrad_edu.tensor import Tensor, inplace_clock

Key = tuple[tuple[tuple[int, ...], np.dtype], ...]  # the inputs' (shape, dtype): one plan each
Written = tuple[str, Callable[[], None]]  # a step written out: (how it computes, the code)


# --------------------------------------------------------------------------- the plan


@dataclass
class Step:
    """One line of a plan: ``text`` says what it computes, ``run()`` computes it, on the
    plan's arrays (``Plan.env``), writing into buffers allocated once where it can."""

    text: str
    run: Callable[[], None]


@dataclass
class Plan:
    """The static program traced for one set of input shapes and dtypes.

    ``env`` holds every array the steps use, by position (its "slots"): the inputs (set at
    each call), the parameters and constants (by reference), the buffers the steps write
    into, and the results of the generic steps (new arrays at each call). ``steps`` run in
    order; the results are then read from ``output_slots``.
    """

    key: Key
    env: list[Any] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # a label per slot, for print()
    steps: list[Step] = field(default_factory=list)
    input_slots: list[int] = field(default_factory=list)
    output_slots: list[int] = field(default_factory=list)
    form: type | None = None  # fn returned a Tensor (None), or a tuple or list of them
    graph: Tensor | None = None  # the (first) output of the traced run, for draw_graph
    parameters: list[tuple[Tensor, int]] = field(default_factory=list)  # (p, its grad slot)
    no_gradient: list[Tensor] = field(default_factory=list)  # the optimizer's other ones
    watched: list[tuple[Tensor, np.ndarray]] = field(default_factory=list)  # (leaf, its .data)
    unchanged: Callable[[], bool] | None = None  # trace_step: the optimizer's params the same?
    runs: list[Callable[[], None]] = field(default_factory=list)  # the steps' run, for speed
    generic: bool = False  # some steps call an op's own forward or backward

    def slot(self, value: Any, name: str) -> int:
        """Give ``value`` a slot in ``env``; returns its position."""
        self.env.append(value)
        self.names.append(name)
        return len(self.env) - 1

    def buffer(self, shape: tuple[int, ...], dtype: np.dtype, name: str) -> int:
        """A slot holding a new array of ``shape`` and ``dtype``, written by a step."""
        return self.slot(np.empty(shape, dtype), name)

    def run(self, arrays: Sequence[np.ndarray]) -> list[Any]:
        """Put the inputs in their slots, run every step, return the output arrays."""
        env = self.env
        for slot, array in zip(self.input_slots, arrays):
            env[slot] = array
        if self.generic:  # ops' own forward or backward: with recording off, as no_grad()
            previous, mode.grad_enabled = mode.grad_enabled, False
            try:
                for run in self.runs:
                    run()
            finally:
                mode.grad_enabled = previous
        else:
            for run in self.runs:
                run()
        return [env[slot] for slot in self.output_slots]

    def hand_out_gradients(self) -> None:
        """trace_step: each parameter's ``.grad`` is this step's gradient, or None (as
        after ``zero_grad()``) for those the loss does not reach or that are frozen."""
        env = self.env
        for p, slot in self.parameters:
            grad = p.grad
            if grad is None or grad.data is not env[slot]:
                p.grad = Tensor(env[slot])
        for p in self.no_gradient:
            p.grad = None

    def describe(self, slot: int) -> str:
        """``name (shape) dtype`` of a slot, as traced."""
        value = self.env[slot]
        if isinstance(value, np.ndarray):
            return f"{self.names[slot]} {value.shape} {value.dtype}"
        return self.names[slot]

    def __str__(self) -> str:
        inputs = ", ".join(self.describe(s) for s in self.input_slots)
        lines = [f"plan for inputs {inputs}: {len(self.steps)} steps"]
        width = len(str(len(self.steps)))
        lines += [f"  {i:>{width}}. {step.text}" for i, step in enumerate(self.steps, 1)]
        outputs = ", ".join(self.names[s] for s in self.output_slots)
        lines.append(f"  returns {outputs}")
        return "\n".join(lines)


class Traced:
    """A function traced into plans (see the module's docstring); made by ``trace`` and
    ``trace_step``. Call it with inputs of the traced shapes and dtypes.

    Attributes:
        graph: the graph recorded when the function was first traced (its first output,
            or the loss), for ``viz.draw_graph(traced.graph)``.
        plans: the plans built so far, one per input signature (the last used first).
        copy, retrace, max_plans: as given to ``trace``.

    Calls from several threads are run one at a time (a lock): they share the plan's
    buffers.
    """

    def __init__(
        self,
        name: str,
        build: Callable[[list[np.ndarray], Key], Plan],
        examples: Sequence[Any],
        copy: bool,
        retrace: bool,
        max_plans: int,
    ):
        if isinstance(max_plans, bool) or not isinstance(max_plans, int) or max_plans < 1:
            raise ValueError(f"{name}: max_plans must be a positive integer, got {max_plans!r}")
        self.name, self._build = name, build
        self.copy, self.retrace, self.max_plans = bool(copy), bool(retrace), max_plans
        arrays = _input_arrays(name, examples, None)
        self._lock = threading.Lock()
        self._plans: dict[Key, Plan] = {}  # least recently used first
        self._current = self._trace(arrays, _key(arrays))
        self.graph = self._current.graph

    @property
    def plans(self) -> list[Plan]:
        return [self._current, *(p for p in self._plans.values() if p is not self._current)]

    def __call__(self, *inputs: Any) -> Any:
        with self._lock:
            arrays = [x.data if isinstance(x, Tensor) else np.asarray(x) for x in inputs]
            plan = self._current
            if tuple([(a.shape, a.dtype) for a in arrays]) != plan.key:
                plan = self._current = self._plan_for(inputs)
            for t, data in plan.watched:  # (inlined: this runs at every call)
                if t.data is not data:  # replaced: trace again, on the new arrays
                    plan = self._current = self._trace(arrays, plan.key)
                    break
            if plan.unchanged is not None:  # trace_step
                if not plan.unchanged():  # add_param_group, requires_grad changed
                    plan = self._current = self._trace(arrays, plan.key)
                results = plan.run(arrays)
                plan.hand_out_gradients()
            else:
                results = plan.run(arrays)
            copy = self.copy
            if plan.form is None:
                return Tensor(results[0].copy() if copy else results[0])
            return plan.form(Tensor(r.copy() if copy else r) for r in results)

    def _plan_for(self, inputs: tuple[Any, ...]) -> Plan:
        """The plan for inputs of a new signature: kept from before, or traced now."""
        arrays = _input_arrays(self.name, inputs, self._current.key)
        key = _key(arrays)
        last = self._current.key  # the plan used last: last in the order of use
        if last in self._plans:
            self._plans[last] = self._plans.pop(last)
        if key in self._plans:
            plan = self._plans[key] = self._plans.pop(key)
            return plan
        if not self.retrace:
            given = ", ".join(f"{s} {d}" for s, d in key)
            traced = ", ".join(f"{s} {d}" for s, d in self._current.key)
            raise ValueError(
                f"{self.name}: inputs of shapes and dtypes {given}, but the plan was traced "
                f"for {traced}; call it with the traced shapes, or trace with retrace=True "
                f"(the default) to build one plan per signature"
            )
        return self._trace(arrays, key)

    def _trace(self, arrays: list[np.ndarray], key: Key) -> Plan:
        plan = self._build(arrays, key)
        self._plans.pop(key, None)  # an outdated plan for these inputs
        if len(self._plans) >= self.max_plans:  # forget the least recently used
            del self._plans[next(iter(self._plans))]
        self._plans[key] = plan
        return plan

    def __str__(self) -> str:
        return f"{self!r}\n{self._current}"

    def __repr__(self) -> str:
        return f"<Traced {self.name}: {len(self._plans)} plan(s), copy={self.copy}>"


def trace(
    fn: Callable[..., Any],
    *example_inputs: Any,
    copy: bool = True,
    retrace: bool = True,
    max_plans: int = 8,
) -> Traced:
    """Trace ``fn`` on ``example_inputs`` into a plan; return a callable that replays it.

    Args:
        fn: a function (or a Module) of Tensors returning a Tensor, or a tuple or list of
            Tensors, computed with this library's ops from its inputs and parameters.
        example_inputs: arrays or Tensors (numbers become 0-d arrays); each is one input of
            ``fn``, which receives Tensors. Later calls take inputs of the same shapes and
            dtypes.
        copy: return copies of the results (True), or the plan's buffers themselves,
            overwritten by the next call (False).
        retrace: on inputs of other shapes or dtypes, trace again (True) or raise a
            ValueError (False).
        max_plans: how many plans (input signatures) to keep.

    Returns:
        a ``Traced``: ``traced(*inputs)`` returns what ``fn`` returned, as Tensors without
        a graph; ``print(traced)`` lists the plan; ``traced.graph`` can be drawn.

    Python control flow inside ``fn`` is decided once, at trace time (see the module's
    docstring for this and for what cannot be traced).
    """
    if not callable(fn):
        raise TypeError(f"trace: fn must be callable, got {type(fn).__name__}")
    name = f"trace({getattr(fn, '__name__', type(fn).__name__)})"

    def build(arrays: list[np.ndarray], key: Key) -> Plan:
        inputs = _traced_inputs(arrays)
        with _Recording(name, inputs) as tracing:
            result = fn(*inputs)
        form, outputs = _outputs(name, result)
        builder = _Builder(name, key, inputs, arrays, tracing)
        builder.forward(outputs, training_ops=set())
        builder.plan.form = form
        return builder.finish(outputs)

    return Traced(name, build, example_inputs, copy, retrace, max_plans)


def trace_step(
    model: Callable[[Tensor], Tensor],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: Optimizer,
    x: Any,
    target: Any,
    *,
    retrace: bool = True,
    max_plans: int = 8,
) -> Traced:
    """Trace one training step into a plan: ``step(x, target)`` then does, in place,

        loss = loss_fn(model(x), target)
        optimizer.zero_grad(); loss.backward(); optimizer.step()

    and returns the loss (a scalar Tensor, a copy). Gradients are computed for the
    optimizer's parameters that require grad only, into buffers allocated once; after a
    call each of those parameters' ``.grad`` is that step's gradient, the plan's buffer
    (the next step overwrites it; copy it to keep it), and the others' is None, as after
    ``zero_grad()``. The update is the optimizer's own rule
    (``optimizer._update``; plain SGD runs as two in-place numpy calls), reading its
    hyperparameters at each step, so learning rate schedules work. Tracing runs the
    forward pass once on ``x`` and ``target`` and changes nothing: the first call is the
    first step.

    Args:
        model: a Module (or a function) of the input batch.
        loss_fn: ``loss_fn(output, target)`` -> a scalar Tensor, e.g. ``F.cross_entropy``;
            it must not call ``backward()``.
        optimizer: an optimizer of this library holding the parameters to train.
        x, target: an example batch: arrays or Tensors (class indices stay integers).
        retrace, max_plans: as for ``trace`` (the last, smaller batch of an epoch gets its
            own plan).
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"trace_step: optimizer must be an optimizer of tinygrad_edu.optim (SGD, Adam, "
            f"...), got {type(optimizer).__name__}"
        )
    name = f"trace_step({type(model).__name__}, {type(optimizer).__name__})"

    def build(arrays: list[np.ndarray], key: Key) -> Plan:
        inputs = _traced_inputs(arrays)
        with _Recording(name, inputs) as tracing:
            loss = loss_fn(model(inputs[0]), inputs[1])
        if not isinstance(loss, Tensor) or loss.size != 1 or loss.creator is None:
            got = f"shape {loss.shape}" if isinstance(loss, Tensor) else type(loss).__name__
            raise TypeError(
                f"{name}: loss_fn must return the loss, a one-element Tensor computed from "
                f"the model's output, got {got}"
            )
        builder = _Builder(name, key, inputs, arrays, tracing)
        params, groups = optimizer.params, len(optimizer.param_groups)
        flags = [p.requires_grad for p in params]

        def unchanged() -> bool:  # add_param_group, requires_grad changed: trace again
            return (
                len(optimizer.param_groups) == groups and [p.requires_grad for p in params] == flags
            )

        builder.trained = {id(p) for p in params if p.requires_grad}
        builder.reaching = builder.ops_reaching(loss, builder.trained)
        builder.forward([loss], training_ops=builder.reaching)
        builder.backward(loss, optimizer)
        builder.plan.unchanged = unchanged
        return builder.finish([loss])

    return Traced(name, build, (x, target), True, retrace, max_plans)


# ------------------------------------------------------------------------ tracing


class _Recording:
    """Run the traced function with recording on and ``mode.tracing`` naming its inputs,
    so that reading their values (``.item()``, ``.numpy()``, ...) raises; turn a
    ``backward()`` inside it into a clear error."""

    def __init__(self, name: str, inputs: list[Tensor]):
        self.tracing = Tracing(name, inputs)

    def __enter__(self) -> Tracing:
        self.previous = mode.grad_enabled, mode.tracing
        mode.grad_enabled, mode.tracing = True, self.tracing
        return self.tracing

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        mode.grad_enabled, mode.tracing = self.previous


def _traced_inputs(arrays: list[np.ndarray]) -> list[Tensor]:
    """The inputs as the traced function sees them: new Tensors sharing the arrays, float
    ones requiring grad, so that every op computed from them is recorded."""
    return [Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]


def _input_arrays(name: str, inputs: Sequence[Any], traced: Key | None) -> list[np.ndarray]:
    """The arrays of the inputs (Tensors, arrays, numbers), checked (against the number of
    inputs ``traced``, if given)."""
    if traced is not None and len(inputs) != len(traced):
        shapes = tuple(np.shape(x) for x in inputs)
        raise TypeError(
            f"{name}: takes {len(traced)} input(s), traced for (shape, dtype) "
            f"{_signature(traced)}, got {len(inputs)} of shapes {shapes}; pass one array "
            f"or Tensor per traced input"
        )
    arrays = [x.data if isinstance(x, Tensor) else np.asarray(x) for x in inputs]
    for i, a in enumerate(arrays):
        if a.dtype.kind not in "biuf":
            raise TypeError(
                f"{name}: input {i} must hold numbers, got {a.dtype} values of shape "
                f"{a.shape}; pass a numeric array (int, float or bool)"
            )
    return arrays


def _signature(key: Key) -> str:
    """A key as text: ``((2, 3), float32), ((2,), int64)``."""
    return ", ".join(f"({shape}, {dtype})" for shape, dtype in key)


def _key(arrays: list[np.ndarray]) -> Key:
    return tuple([(a.shape, a.dtype) for a in arrays])


def _outputs(name: str, result: Any) -> tuple[type | None, list[Tensor]]:
    """What the traced function returned: (None, [t]) for a Tensor, (tuple or list, the
    Tensors) for a tuple or list of them."""
    if isinstance(result, Tensor):
        return None, [result]
    if isinstance(result, (tuple, list)) and result and all(isinstance(t, Tensor) for t in result):
        return type(result), list(result)
    raise TypeError(
        f"{name}: the traced function returned {type(result).__name__}, not a Tensor; it must "
        f"return a Tensor, or a tuple or list of Tensors, computed from its inputs "
        f"(a number read with .item() would be frozen into the plan)"
    )


# ------------------------------------------------------------------------ building


@dataclass
class _Node:
    """What the builder knows of one recorded op: its input and output slots; ``generic``,
    the op's copy that the generic steps call (None when its steps are written out
    here); ``keep``, buffers its forward step shares with its backward step."""

    op: Function
    ins: list[int]
    out: int
    generic: Function | None = None
    keep: dict[str, Any] = field(default_factory=dict)


class _Builder:
    """Walks the recorded graph and writes the plan: forward, then (trace_step) backward
    and the optimizer's update."""

    def __init__(
        self,
        name: str,
        key: Key,
        inputs: list[Tensor],
        arrays: list[np.ndarray],
        tracing: Tracing,
    ):
        self.name, self.plan = name, Plan(key)
        # Tensors computed from the inputs by ops that recorded nothing (no gradient).
        given = {id(t) for t in inputs}
        self.unrecorded = {i: t for i, t in tracing.tensors.items() if i not in given}
        self.trained: set[int] = set()  # trace_step: ids of the parameters to train
        self.slots: dict[int, int] = {}  # id of a Tensor (input, parameter, op output) -> slot
        self.arrays = arrays
        self.nodes: dict[Function, _Node] = {}
        self.reaching: set[Function] = set()  # trace_step: the ops backward goes through
        self.dynamic: set[int] = set()  # slots set at each call: inputs, generic results
        self.order: list[Function] = []  # producers first
        self.keep_alive: list[Any] = list(inputs)  # ids above stay valid while we build
        for i, (t, a) in enumerate(zip(inputs, arrays)):
            self.slots[id(t)] = self.plan.slot(a, f"in{i}")
            self.plan.input_slots.append(self.slots[id(t)])
            self.dynamic.add(self.slots[id(t)])

    # ------------------------------------------------------------------ slots
    def tensor_slot(self, t: Tensor) -> int:
        """The slot of a Tensor an op used: an input, an op's output, or (new) a parameter
        or a constant tensor, read by reference."""
        if id(t) not in self.slots:
            if t.creator is not None:  # pragma: no cover - the topological order prevents it
                raise RuntimeError(f"{self.name}: internal error, '{t.creator.name}' not planned")
            where = f"a tensor '{t.name or 'without a name'}' (shape {t.shape}, {t.dtype})"
            if id(t) in self.unrecorded:
                self.refuse_unrecorded(where)
            self.check_not_input(t.data, where)
            label = t.name or (f"p{len(self.slots)}" if t.requires_grad else f"c{len(self.slots)}")
            self.slots[id(t)] = self.plan.slot(t.data, label)
            self.plan.watched.append((t, t.data))
            self.keep_alive.append(t)
        return self.slots[id(t)]

    def constant_slot(self, value: Any, where: str) -> int:
        """The slot of a non-Tensor input of an op (a number, an array): one of the traced
        inputs' arrays (followed at each call), else a constant."""
        slot = self.input_slot(value)
        if slot is not None:
            return slot
        self.check_not_input(value, where)
        text = repr(value) if np.size(value) <= 4 else f"const{np.shape(value)}"
        return self.plan.slot(value, text)

    def input_slot(self, value: Any) -> int | None:
        """The slot of ``value`` if it is one of the traced inputs' arrays, or a reshape of
        one (``cross_entropy`` on one sample sees its label as a batch of one): a new slot
        then, which a step sets to the input reshaped at each call. Else None."""
        for i, a in enumerate(self.arrays):
            slot = self.plan.input_slots[i]
            if value is a:
                return slot
            if isinstance(value, np.ndarray) and _is_reshape(value, a):
                return self.reshaped(slot, value)
        return None

    def reshaped(self, slot: int, view: np.ndarray) -> int:
        """A slot set at each call to the input in ``slot`` reshaped as ``view``."""
        env, shape = self.plan.env, view.shape
        shaped = self.plan.slot(view, f"{self.plan.names[slot]}.reshape{shape}")
        self.dynamic.add(shaped)

        def run() -> None:
            env[shaped] = env[slot].reshape(shape)

        self.add(f"{self.plan.names[shaped]}  [a view]", run)
        return shaped

    def refuse_unrecorded(self, where: str) -> None:
        raise RuntimeError(
            f"{self.name}: {where} was computed from the traced inputs by ops that recorded "
            f"nothing (an integer or boolean input, and what is computed from it, has no "
            f"gradient), so the plan would keep the example's values; convert such an input "
            f"outside the traced function (pass the mask as floats, the index as it is)"
        )

    def check_not_input(self, value: Any, where: str) -> None:
        """Refuse a constant that views an input's memory (``x.data``, ``x.detach()``,
        ``x.data.reshape(...)`` inside the function), or one computed from an input with
        no recorded op (``mask.astype(np.float32)`` of an integer input): the plan would
        freeze it."""
        if not isinstance(value, np.ndarray):
            return
        if any(np.may_share_memory(value, t.data) for t in self.unrecorded.values()):
            self.refuse_unrecorded(where)
        for i, a in enumerate(self.arrays):
            if np.may_share_memory(value, a):
                raise RuntimeError(
                    f"{self.name}: {where} shares memory with input {i} but reached the ops "
                    f"as a constant (through .data, detach() or a numpy function), so the "
                    f"plan would keep the example's values; compute with Tensor operations "
                    f"on the input instead"
                )

    def broadcast(self, slot: int, shape: tuple[int, ...]) -> int:
        """The slot to read ``env[slot]`` from as an operand of an elementwise step with an
        output of ``shape``. A fixed array (a parameter, a buffer) gets a new slot holding
        it viewed in that shape (one element: as a 0-d array), made once: numpy is several
        times faster on small arrays when it need not work out the broadcasting."""
        value = self.plan.env[slot]
        if slot in self.dynamic or not isinstance(value, np.ndarray) or value.shape == shape:
            return slot
        return self.plan.slot(_fast_view(value, shape), self.plan.names[slot])

    # ---------------------------------------------------------------- forward
    def ops_reaching(self, root: Tensor, trained: set[int]) -> set[Function]:
        """The ops of ``root``'s graph whose output depends on a trained parameter: the
        ones backward goes through."""
        reaching: set[Function] = set()
        for op in reversed(self.graph(root)):
            for x in op.inputs:
                if isinstance(x, Tensor) and (id(x) in trained or x.creator in reaching):
                    reaching.add(op)
                    break
        return reaching

    def graph(self, root: Tensor) -> list[Function]:
        """``graph_ops(root)``, with a clear error if the traced function ran backward."""
        try:
            return graph_ops(root)
        except RuntimeError:
            raise RuntimeError(
                f"{self.name}: the recorded graph was freed by a backward() inside the traced "
                f"function; trace records the forward pass only: to trace a training step, "
                f"use trace_step(model, loss_fn, optimizer, x, target), whose loss_fn returns "
                f"the loss without calling backward()"
            ) from None

    def forward(self, outputs: list[Tensor], training_ops: set[Function]) -> None:
        """Plan the ops that compute ``outputs``, producers first."""
        order: dict[Function, None] = {}  # every op once, producers first
        for t in outputs:
            order.update(dict.fromkeys(reversed(self.graph(t))))
        self.uses = {id(t): 1 for t in outputs}  # how many times each tensor is read
        for op in order:
            for x in op.inputs:
                self.uses[id(x)] = self.uses.get(id(x), 0) + 1
        for op in order:
            self.plan_op(op, op in training_ops)
        for i, t in enumerate(outputs):
            if id(t) not in self.slots and not t.requires_grad:
                raise RuntimeError(
                    f"{self.name}: output {i} (shape {t.shape}, {t.dtype}) was not computed "
                    f"by a recorded op (argmax, a comparison, an integer cast and constants "
                    f"have no op), so the plan could not recompute it; return the scores and "
                    f"take argmax outside the traced function"
                )
            self.plan.output_slots.append(self.tensor_slot(t))

    def plan_op(self, op: Function, training: bool) -> None:
        if isinstance(op, BatchNorm):
            raise RuntimeError(
                f"{self.name}: '{op.name}' in training mode updates its running statistics "
                f"outside the op, which a plan cannot replay; trace the model in eval() mode "
                f"(model.eval()), or train it eagerly"
            )
        out = op.output
        assert out is not None  # held by its consumers' inputs (or is an output)
        ins = [
            self.tensor_slot(x)
            if isinstance(x, Tensor)
            else self.constant_slot(a, f"input {i} of '{op.name}'")
            for i, (x, a) in enumerate(zip(op.inputs, op.input_arrays))
        ]
        uniform = _same_float_dtype(out.data, [self.plan.env[i] for i in ins])
        node = _Node(op, ins, -1)
        self.nodes[op], node.out = node, self.plan.slot(None, f"t{len(self.nodes)}")
        self.slots[id(out)] = node.out
        self.keep_alive.append(out)
        self.order.append(op)
        kind = type(op)
        rule = FORWARD_RULES.get(kind) if uniform else None
        if training and kind not in BACKWARD_RULES:
            rule = None  # its backward is generic: it needs the op's own forward state
        if rule is not None and self.fuse(node):
            return
        if rule is not None:
            self.plan.env[node.out] = np.empty(out.shape, out.dtype)
            written = rule(self, node)
            if written is not None:
                how, run = written
                node.keep["step"] = len(self.plan.steps)
                self.add(f"{self.call_text(node)}  [{how}]", run)
                return
        self.generic_forward(node)

    def fuse(self, node: _Node) -> bool:
        """Fuse a sigmoid or a relu into the step of the linear op just before it, when
        nothing else reads that op's output (its backward does not): one step, one
        buffer, the activation computed in place. Returns whether it did."""
        op, steps = node.op, self.plan.steps
        activation = ACTIVATIONS.get(type(op))
        producer = self.nodes.get(op.inputs[0].creator) if activation else None
        if (
            activation is None
            or producer is None
            or not isinstance(producer.op, Linear)
            or producer.keep.get("step") != len(steps) - 1  # its step is the last one
            or len(producer.ins) != 3  # with a bias
            or self.uses[id(op.inputs[0])] != 1
        ):
            return False
        node.out = self.plan.slot(self.plan.env[producer.out], self.plan.names[node.out])
        self.slots[id(op.output)] = node.out
        how, run = _linear_activation(self, producer, activation)
        args = ", ".join(self.plan.names[i] for i in producer.ins)
        z = self.plan.env[node.out]
        text = f"{self.plan.names[node.out]} = {op.name}(linear({args})) {z.shape} {z.dtype}"
        steps[-1] = Step(f"{text}  [{how}]", run)
        return True

    def generic_forward(self, node: _Node) -> None:
        """The op's own ``forward`` on the arrays, on a copy of the op (its state, such as
        an axis, stays; what it saves for backward is refreshed at each call)."""
        op = copying.copy(node.op)
        node.generic = op
        self.plan.generic = True
        self.dynamic.add(node.out)
        traced_output = node.op.output
        assert traced_output is not None
        self.plan.env[node.out] = traced_output.data  # until the first call: its shape
        moving = self.moving_attributes(op)
        holder = Tensor(np.empty(0))  # the output, as ``saved_output()`` reads it
        op._output = weakref.ref(holder)
        node.keep["holder"] = holder
        env, ins, out = self.plan.env, node.ins, node.out

        def run() -> None:
            for attribute, slot in moving:
                setattr(op, attribute, env[slot])
            arrays = [env[i] for i in ins]
            op.input_arrays = arrays
            result = np.asarray(op.forward(*arrays))
            holder.data = env[out] = result

        self.add(f"{self.call_text(node)}  [the op's forward: a new array]", run)

    def moving_attributes(self, op: Function) -> list[tuple[str, int]]:
        """Attributes of the op holding one of the traced inputs' arrays (the target of
        ``cross_entropy``): (name, input slot), set again at each call."""
        moving = []
        for attribute, value in vars(op).items():
            if attribute in ("inputs", "input_arrays", "_output"):
                continue
            slot = self.input_slot(value)
            if slot is not None:
                moving.append((attribute, slot))
            else:
                values = value if isinstance(value, tuple) else (value,)
                for v in values:
                    if any(v is a for a in self.arrays):
                        raise RuntimeError(
                            f"{self.name}: '{op.name}' keeps an input of the traced function "
                            f"inside its '{attribute}' (an index?), which a plan cannot follow; "
                            f"pass the input to an op as a Tensor instead"
                        )
                    self.check_not_input(v, f"the '{attribute}' of '{op.name}'")
        return moving

    # --------------------------------------------------------------- backward
    def backward(self, loss: Tensor, optimizer: Optimizer) -> None:
        """Plan the gradient of ``loss`` for the optimizer's parameters that require one
        (``self.trained``), then their update."""
        trained = self.trained
        self.contributions: dict[int, list[int]] = {}  # tensor id -> slots of its gradients
        seed = np.array(1, dtype=loss.dtype).reshape(loss.shape)  # d loss / d loss
        self.contributions[id(loss)] = [self.plan.slot(seed, "1")]
        for op in reversed(self.order):
            node, out = self.nodes[op], op.output
            assert out is not None
            if op not in self.reaching or id(out) not in self.contributions:
                continue  # it depends on no trained parameter, or reaches no loss
            grad = self.gradient_slot(out)
            needs = tuple(
                isinstance(x, Tensor) and (id(x) in trained or x.creator in self.reaching)
                for x in op.inputs
            )
            handed = {
                i: self.plan.slot(None, f"d{self.plan.names[node.ins[i]]}")
                for i, need in enumerate(needs)
                if need
            }
            if node.generic is None:
                how, run = BACKWARD_RULES[type(op)](self, node, grad, handed)
            else:
                how, run = self.generic_backward(node, grad, handed)
            targets = ", ".join(self.plan.names[slot] for slot in handed.values())
            self.add(
                f"{targets} = backward of {op.name} (d{self.plan.names[node.out]})  [{how}]", run
            )
            for index, slot in handed.items():
                self.contributions.setdefault(id(op.inputs[index]), []).append(slot)
        for group in optimizer.param_groups:
            for p in group["params"]:
                if id(p) not in self.contributions:
                    self.plan.no_gradient.append(p)  # as eager: no gradient, no update
                    continue
                slot = self.own_gradient(p, self.gradient_slot(p))
                self.plan.parameters.append((p, slot))
                self.update(optimizer, p, group, slot)

    def own_gradient(self, p: Tensor, slot: int) -> int:
        """A parameter's gradient in a buffer of its own, as autograd hands it: an op's
        own backward may give one array to two inputs, or a read-only broadcast view;
        copied into a buffer then. The written-out steps' buffers are their own already."""
        if slot not in self.dynamic:
            return slot
        env, name = self.plan.env, f"d{self.plan.names[self.tensor_slot(p)]}"
        own = self.plan.buffer(p.shape, p.dtype, name)

        def run() -> None:
            np.copyto(env[own], env[slot])

        self.add(f"{name} = copy of the gradient, into a buffer of its own", run)
        return own

    def gradient_slot(self, t: Tensor) -> int:
        """The slot of d loss / d t: its one contribution, or a buffer summing them."""
        parts = self.contributions[id(t)]
        if len(parts) == 1:
            return parts[0]
        env = self.plan.env
        total = self.plan.buffer(t.shape, t.dtype, f"d{self.plan.names[self.tensor_slot(t)]}")
        first, rest = parts[0], parts[1:]

        def run() -> None:
            np.add(env[first], env[rest[0]], env[total])
            for slot in rest[1:]:
                np.add(env[total], env[slot], env[total])

        self.add(f"{self.plan.names[total]} = sum of {len(parts)} gradients", run)
        return total

    def generic_backward(self, node: _Node, grad: int, handed: dict[int, int]) -> Written:
        """The op's own ``backward`` (on the state its generic forward step refreshed); each
        gradient summed back to its input's shape and cast to its dtype, as autograd does."""
        op, env = node.generic, self.plan.env
        assert op is not None
        op.needs_input_grad = tuple(i in handed for i in range(len(node.ins)))
        self.dynamic.update(handed.values())
        inputs = node.op.inputs
        fitted = [(i, slot, inputs[i].shape, inputs[i].dtype) for i, slot in handed.items()]

        def run() -> None:
            grads = op.backward(env[grad])
            if not isinstance(grads, tuple):
                grads = (grads,)
            for i, slot, shape, dtype in fitted:
                env[slot] = _fit(grads[i], shape, dtype, op.name, i)

        return "the op's backward: new arrays", run

    def update(self, optimizer: Optimizer, p: Tensor, group: dict[str, Any], grad: int) -> None:
        """The optimizer's update of ``p``, in place. Plain SGD (no momentum, no weight
        decay) is written out: p -= lr * g in two numpy calls; everything else calls the
        optimizer's own rule, ``_update``."""
        env, data = self.plan.env, p.data
        scaled = np.empty_like(data)
        lr = np.empty((), data.dtype)  # group["lr"], read at each step (see _number)
        plain_sgd = type(optimizer) is SGD
        self.plan.generic = True  # _update computes on p under no_grad()

        def run() -> None:
            g = env[grad]
            if plain_sgd and not (group["momentum"] or group["weight_decay"]):
                lr[()] = group["lr"]
                np.multiply(g, lr, scaled)
                np.subtract(data, scaled, data)
                inplace_clock.mark_changed(data)
            else:  # optimizer.state read now: load_state_dict replaces it
                optimizer._update(p, g, optimizer.state.setdefault(p, {}), group)

        label = p.name or self.plan.names[self.tensor_slot(p)]
        self.add(f"update {label} ({type(optimizer).__name__}, in place)", run)

    # ------------------------------------------------------------------ helpers
    def add(self, text: str, run: Callable[[], None]) -> None:
        self.plan.steps.append(Step(text, run))

    def call_text(self, node: _Node) -> str:
        names = self.plan.names
        args = ", ".join(names[i] for i in node.ins)
        out = self.plan.env[node.out]
        shape = f" {out.shape} {out.dtype}" if isinstance(out, np.ndarray) else ""
        return f"{names[node.out]} = {node.op.name}({args}){shape}"

    def finish(self, outputs: list[Tensor]) -> Plan:
        """Free the recorded graph's arrays (it stays drawable, as after backward) and
        return the plan."""
        self.plan.graph = outputs[0]
        plan = self.plan
        plan.runs = [step.run for step in plan.steps]
        for op in self.order:  # producers first, as backward releases them
            if op.inputs is not None:
                op.release()
        self.keep_alive.clear()
        return self.plan


def _is_reshape(view: np.ndarray, array: np.ndarray) -> bool:
    """Whether ``view`` is ``array.reshape(view.shape)``: the same memory, in order."""
    return (
        view.base is not None
        and view.dtype == array.dtype
        and view.size == array.size
        and view.flags.c_contiguous
        and array.flags.c_contiguous
        and view.ctypes.data == array.ctypes.data
    )


def _fast_view(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``array`` viewed as an operand for an output of ``shape``: 0-d if it holds one
    number, else broadcast to ``shape`` (shares its memory: later changes show)."""
    return array.reshape(()) if array.size == 1 else np.broadcast_to(array, shape)


def _same_float_dtype(out: np.ndarray, values: list[Any]) -> bool:
    """Whether the output and every array input share one float dtype (numbers may mix
    in): the written-out steps assume it; other ops run their own forward."""
    if out.dtype.kind != "f":
        return False
    return all(v.dtype == out.dtype for v in values if isinstance(v, np.ndarray))


def _fit(gradient: Any, shape: tuple[int, ...], dtype: np.dtype, op: str, index: int) -> np.ndarray:
    """A gradient as autograd hands it to an input: an array of the input's shape (the
    broadcast axes summed away by autograd's own ``_unbroadcast``) and dtype."""
    if isinstance(gradient, Tensor):
        gradient = gradient.data
    gradient = np.asarray(gradient if gradient is not None else np.zeros(shape, dtype))
    if gradient.shape != shape:
        gradient = _unbroadcast(gradient, shape, op, index)
    return gradient.astype(dtype, copy=False)


# ---------------------------------------------------------------- written-out steps
#
# Each forward rule returns (how, run): ``run`` computes the op's output into its buffer,
# ``env[node.out]``, allocated once; or None to leave the op to its own forward. Each
# backward rule writes d loss / d input into new buffers (``handed``: input index ->
# slot). They compute what the op's forward and backward compute, so the results agree
# with eager mode to rounding (a few sums add in another order, for speed: a linear's
# bias gradient, the cross-entropy's row sums). No step ever writes into an array it did
# not allocate (gradients may be shared, as in autograd).
#
# The buffer is numpy's ``out``, given by position, ``np.add(a, b, out)``: numpy reads it
# faster than the keyword ``out=`` (0.05 us of a 0.23 us call on one image's 50 numbers;
# the plan of one image makes 17 such calls). Except ``np.maximum``, whose third
# positional argument numpy 2.4 deprecates.

SHORT_ROW = 16  # classes up to this: the cross-entropy's softmax is stored class-major


def _linear_forward(b: _Builder, node: _Node) -> Written:
    """y = x W (+ bias), fused: the product into the buffer, the bias added in place."""
    env, ins, y = b.plan.env, node.ins, b.plan.env[node.out]
    x, w = ins[0], ins[1]
    product = np.dot if y.ndim == 2 else np.matmul  # the same for matrices; dot calls less
    if len(ins) == 2:

        def run() -> None:
            product(env[x], env[w], y)

        return "x @ W into a buffer", run
    bias = b.broadcast(ins[2], y.shape)

    def run_with_bias() -> None:
        product(env[x], env[w], y)
        np.add(y, env[bias], y)

    return "fused: x @ W into a buffer, + bias in place", run_with_bias


def _linear_backward(b: _Builder, node: _Node, grad: int, handed: dict[int, int]) -> Written:
    """dx = g W^T, dW = x^T g, db = g summed over the batch (Linear.backward).

    The sum is the product ones @ g, one BLAS call: 0.68 us for a (100, 100) float32 g,
    where ``g.sum(axis=0)`` adds the rows one at a time (2.3 us). It adds in another
    order than eager mode's sum, so where the terms cancel the two differ by float
    rounding of the largest term."""
    env, ins = b.plan.env, node.ins
    x, w = ins[0], ins[1]
    n_in, n_out = env[w].shape
    for i, slot in handed.items():
        env[slot] = np.empty(np.shape(env[ins[i]]), env[w].dtype)
    dx, dw, db = (env[handed[i]] if i in handed else None for i in range(3))

    product = np.dot if np.ndim(env[x]) == 2 else np.matmul  # dot: the same, called faster
    ones = np.ones(int(np.prod(np.shape(env[x])[:-1])), env[w].dtype)

    def run() -> None:
        g = env[grad]
        if dx is not None:
            product(g, env[w].T, dx)
        rows = g.reshape(-1, n_out)
        if dw is not None:
            np.dot(env[x].reshape(-1, n_in).T, rows, dw)
        if db is not None:
            np.dot(ones, rows, db)

    return "matmuls into buffers", run


def _elementwise_forward(b: _Builder, node: _Node) -> Written | None:
    """A numpy ufunc into the buffer: exp, log, sqrt, tanh, -x, |x|, +, -, *, /, @."""
    env, ins, y = b.plan.env, node.ins, b.plan.env[node.out]
    ufunc = UFUNCS[type(node.op)]
    if y.ndim == 0 and ufunc is np.matmul:
        return None  # a dot product of two vectors: numpy's matmul has no 0-d out=
    if len(ins) == 1:
        (a,) = ins

        def run() -> None:
            ufunc(env[a], y)

    else:
        first, second = ins

        def run() -> None:
            ufunc(env[first], env[second], y)

    return f"np.{ufunc.__name__} into a buffer", run


def _relu_forward(b: _Builder, node: _Node) -> Written:
    """max(x, 0) against an array of zeros, made once: numpy compares two arrays with
    vector instructions, but not an array and a single number (for a (100, 100) float32
    x: 0.87 us against the zeros, 3.5 us against 0; np.multiply and np.add have that fast
    path, np.maximum has not)."""
    env, (x,), y = b.plan.env, node.ins, b.plan.env[node.out]
    zeros = np.zeros_like(y)

    def run() -> None:
        np.maximum(env[x], zeros, out=y)

    return "np.maximum into a buffer", run


def _relu_backward(b: _Builder, node: _Node, grad: int, handed: dict[int, int]) -> Written:
    """dx = g * (x > 0), with x > 0 read from the output (y > 0 where x > 0): the input
    may be gone, when the relu was computed in place (``_Builder.fuse``)."""
    env, y = b.plan.env, b.plan.env[node.out]
    mask = np.empty(y.shape, bool)
    dx = env[handed[0]] = np.empty_like(y)
    zero = _number(0, y.dtype)

    def run() -> None:
        np.greater(y, zero, mask)
        np.multiply(env[grad], mask, dx)

    return "mask and product into buffers", run


def _sigmoid_forward(b: _Builder, node: _Node) -> Written:
    """The sigmoid in four passes over one buffer (see ``_sigmoid_in_place``)."""
    env, (x,), y = b.plan.env, node.ins, b.plan.env[node.out]
    half = _number(0.5, y.dtype)

    def run() -> None:
        np.multiply(env[x], half, y)
        _sigmoid_in_place(y, half)

    return "one buffer: 0.5 tanh(x / 2) + 0.5", run


def _sigmoid_in_place(y: np.ndarray, half: np.ndarray) -> None:
    """y = 0.5 tanh(y) + 0.5, in place: the sigmoid of 2y, since

        1 / (1 + e^-x) = (1 + tanh(x / 2)) / 2.

    Written with tanh, nothing overflows (e^-x does, for x < -88 in float32), so the plan
    runs without ``np.errstate``; and numpy's tanh is faster than its exp here. Its error
    stays within a float32 step of 1 (6e-8), but near 0 that is all of it: below about
    x = -20 the result rounds to 0, where eager's keeps a tiny positive value. ``half``:
    0.5 as a 0-d array of y's dtype (see ``_number``)."""
    np.tanh(y, y)
    np.multiply(y, half, y)
    np.add(y, half, y)


def _number(value: float, dtype: np.dtype) -> np.ndarray:
    """``value`` as a 0-d array of ``dtype``, an operand numpy uses as it is: a Python
    number is converted at every call, which costs as much as the whole op on a short
    row (measured: np.add(y, 1) 0.55 us, np.add(y, one) 0.26 us for 50 numbers)."""
    return np.array(value, dtype=dtype)


def _sigmoid_backward(b: _Builder, node: _Node, grad: int, handed: dict[int, int]) -> Written:
    """dx = g * y * (1 - y)."""
    env, y = b.plan.env, b.plan.env[node.out]
    one_minus_y = np.empty_like(y)
    dx = env[handed[0]] = np.empty_like(y)
    one = _number(1, y.dtype)

    def run() -> None:
        np.multiply(env[grad], y, dx)
        np.subtract(one, y, one_minus_y)
        np.multiply(dx, one_minus_y, dx)

    return "products into buffers", run


def _linear_activation(b: _Builder, linear: _Node, activation: str) -> Written:
    """sigmoid(x W + bias) or relu(x W + bias) in one step, in the linear op's buffer."""
    env, (x, w, bias), y = b.plan.env, linear.ins, b.plan.env[linear.out]
    bias = b.broadcast(bias, y.shape)
    product = np.dot if y.ndim == 2 else np.matmul
    if activation == "relu":
        zeros = np.zeros_like(y)  # see _relu_forward

        def run_relu() -> None:
            product(env[x], env[w], y)
            np.add(y, env[bias], y)
            np.maximum(y, zeros, out=y)

        return "fused: x @ W, + bias, max(z, 0), in one buffer", run_relu
    half = _number(0.5, y.dtype)

    def run_sigmoid() -> None:
        product(env[x], env[w], y)
        np.add(y, env[bias], y)
        np.multiply(y, half, y)
        _sigmoid_in_place(y, half)

    return "fused: x @ W, + bias, 0.5 tanh(z / 2) + 0.5, in one buffer", run_sigmoid


def _softmax_forward(b: _Builder, node: _Node) -> Written:
    """e = exp(x - max x), then e / sum e, along the op's axis, in one buffer."""
    env, (x,), y = b.plan.env, node.ins, b.plan.env[node.out]
    assert isinstance(node.op, ops.Softmax)
    axis = node.op.axis
    kept = np.empty(np.max(y, axis=axis, keepdims=True).shape, y.dtype)
    if kept.size == 1:
        return _softmax_of_one_row(env, x, y)
    each = _fast_view(kept, y.shape)  # kept, as an operand of - and /

    def run() -> None:
        z = env[x]
        np.maximum.reduce(z, axis=axis, keepdims=True, out=kept)  # np.max, unwrapped
        np.subtract(z, each, y)
        np.exp(y, y)
        np.add.reduce(y, axis=axis, keepdims=True, out=kept)  # np.sum
        np.divide(y, each, y)

    return "one buffer: exp(x - max), / sum", run


def _softmax_of_one_row(env: list[Any], x: int, y: np.ndarray) -> Written:
    """The softmax of one row (one image's scores), written for speed: numpy's reductions
    cost about 0.65 us each on 10 numbers, more than the arithmetic, so the maximum is
    read at ``argmax`` (0.25 us; a NaN is its own maximum either way) and the sum is a
    dot product with ones (0.3 us; the sum of positive numbers, in another order, so
    within a few float steps of np.sum's)."""
    number = np.empty((), y.dtype)  # the row's maximum, then its sum
    row, ones, total = y.reshape(1, -1), np.ones(y.size, y.dtype), number.reshape(1)

    def run() -> None:
        z = env[x]
        number[()] = z.item(z.argmax())
        np.subtract(z, number, y)
        np.exp(y, y)
        np.dot(row, ones, total)
        np.divide(y, number, y)

    return "one row, one buffer: exp(x - max), / sum", run


def _cross_entropy_forward(b: _Builder, node: _Node) -> Written | None:
    """The book's SoftmaxWithLoss on (N, C) logits and class indices: the softmax stays in
    a buffer for backward.

    Written for speed, as numpy is slow on short rows and on pairs of index arrays:

    * short rows (up to ``SHORT_ROW`` classes): the softmax buffer is stored class-major,
      an (N, C) view of a (C, N) array, so that each sum or maximum along a row runs down
      contiguous columns, which numpy vectorises. For (100, 10) float32 logits the row
      sums take 0.9 us (row-major: 2.1 us), the maxima 1.2 us (4.8 us), and backward's
      products and bias sum, reading the gradient in this order, 3 us less;
    * each row's target entry is read at a flat index into the buffer's memory, ``row *
      row_step + class * class_step`` (0.13 us; ``probs[rows, labels]`` 0.9 us); backward
      subtracts the one-hot there (0.9 us against 2.2). A class out of range would move
      the index into another row, so the classes are checked first: viewed as unsigned
      numbers, in one maximum, as a negative class becomes one above the largest class
      its dtype holds.
    """
    op, env = node.op, b.plan.env
    assert isinstance(op, CrossEntropy)
    (z,) = node.ins
    if not op.indices or env[z].ndim != 2:
        return None  # probability rows: the op's own forward
    target = b.constant_slot(op.target, f"the target of '{op.name}'")
    labels_dtype = env[target].dtype
    if not labels_dtype.isnative:
        return None  # big-endian classes: the op's own forward
    n, classes = env[z].shape
    dtype = env[z].dtype
    unsigned = np.dtype(f"u{labels_dtype.itemsize}")
    # int8 classes hold at most 127: -1 viewed as uint8 is 255, refused if >= min(C, 128)
    limit = min(classes, int(np.iinfo(labels_dtype).max) + 1)
    # uint64 classes times an int64 array would be float64: read them as int64 (after the
    # check, each is below C, so the view is exact)
    as_signed = labels_dtype == np.uint64
    class_major = classes <= SHORT_ROW
    if class_major:  # (C, N) in memory, seen as (N, C)
        store = np.empty((classes, n), dtype)
        probs, row_step, class_step = store.T, 1, n
    else:
        probs = store = np.empty((n, classes), dtype)
        row_step, class_step = classes, 1
    memory = store.reshape(-1)  # the buffer's numbers in memory order, for flat indices
    # a 0-d intp array, not a Python int: int8 classes times a Python int stay int8 and
    # overflow (2 * 200)
    class_step = np.array(class_step, np.intp)
    row_starts = np.arange(n) * row_step
    flat = np.empty(n, np.intp)  # the targets' positions in memory, set at each call
    node.keep.update(probs=probs, memory=memory, flat=flat)
    kept = np.empty((n, 1), dtype)
    log_total = np.empty((n, 1), dtype)
    loss = env[node.out]

    def run() -> None:
        logits, labels = env[z], env[target]
        if np.maximum.reduce(labels.view(unsigned)) >= limit:
            _bad_labels(logits, labels)  # cross_entropy's own IndexError
        np.multiply(labels.view(np.int64) if as_signed else labels, class_step, flat)
        np.add(flat, row_starts, flat)
        if class_major:  # from here on, the logits are read from their class-major copy
            np.copyto(probs, logits)
            logits = probs
        np.maximum.reduce(logits, axis=1, keepdims=True, out=kept)  # np.max, unwrapped
        np.subtract(logits, kept, probs)  # shifted logits, for now
        picked = memory[flat]
        np.exp(probs, probs)
        np.add.reduce(probs, axis=1, keepdims=True, out=kept)  # np.sum
        np.log(kept, log_total)
        loss[...] = -(picked - log_total[:, 0]).sum() / n
        np.divide(probs, kept, probs)

    return "fused softmax and cross-entropy, softmax kept", run


def _bad_labels(logits: np.ndarray, labels: np.ndarray) -> NoReturn:
    """Raise cross_entropy's own IndexError for class indices out of range."""
    cross_entropy(logits, labels)
    raise AssertionError("cross_entropy accepted labels out of range")  # pragma: no cover


def _cross_entropy_backward(b: _Builder, node: _Node, grad: int, handed: dict[int, int]) -> Written:
    """d logits = (softmax - onehot(target)) * g / N, the one-hot subtracted at the flat
    indices of the forward step."""
    env, keep = b.plan.env, node.keep
    memory, flat = keep["memory"], keep["flat"]
    dz = env[handed[0]] = keep["probs"]  # the softmax is needed no more: work in its buffer
    n = len(flat)

    def run() -> None:
        memory[flat] -= 1
        np.multiply(dz, float(env[grad]) / n, dz)

    return "in the softmax's buffer: (softmax - onehot) / N", run


UFUNCS: dict[type[Function], np.ufunc] = {
    ops.Add: np.add,
    ops.Sub: np.subtract,
    ops.Mul: np.multiply,
    ops.Div: np.true_divide,
    ops.MatMul: np.matmul,
    ops.Neg: np.negative,
    ops.Exp: np.exp,
    ops.Log: np.log,
    ops.Sqrt: np.sqrt,
    ops.Tanh: np.tanh,
    ops.Abs: np.absolute,
}

# The ops whose steps are written out above; every other op runs its own forward (and
# backward) on a copy of the recorded op: slower (a new array per call), always right.
FORWARD_RULES: dict[type[Function], Callable[[_Builder, _Node], Written | None]] = {
    **dict.fromkeys(UFUNCS, _elementwise_forward),
    Linear: _linear_forward,
    ops.ReLU: _relu_forward,
    ops.Sigmoid: _sigmoid_forward,
    ops.Softmax: _softmax_forward,
    CrossEntropy: _cross_entropy_forward,
}
# The activations ``_Builder.fuse`` computes in place in the linear op's buffer.
ACTIVATIONS: dict[type[Function], str] = {ops.Sigmoid: "sigmoid", ops.ReLU: "relu"}
BACKWARD_RULES: dict[type[Function], Callable[[_Builder, _Node, int, dict[int, int]], Written]] = {
    Linear: _linear_backward,
    ops.ReLU: _relu_backward,
    ops.Sigmoid: _sigmoid_backward,
    CrossEntropy: _cross_entropy_backward,
}
