"""Grad mode: whether operations are being recorded, per thread.

The bottom of the engine: ``ops`` reads it when an op runs, ``autograd`` sets it while it
walks the graph. ``no_grad()`` switches recording off (inference, parameter updates);
``detect_anomaly()`` checks every result and gradient for NaN and Inf.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import numpy as np


class _Mode(threading.local):
    """Per-thread switches, so ``no_grad`` in one thread leaves the others recording."""

    grad_enabled = True
    detect_anomaly = False
    in_backward = False  # the engine is running ops' backward methods
    tracing: Tracing | None = None  # trace() is running a function


class Tracing:
    """What ``trace`` is running: the function's ``name`` and, by id, the tensors that
    depend on its inputs without a recorded op (the inputs, and what ops computed from
    them with no gradient: an integer input's ``astype``, ``k + 1``...), kept alive while
    it runs. Reading their values, or using them as constants, would freeze them."""

    def __init__(self, name: str, inputs: list[Any]):
        self.name, self.tensors = name, {id(t): t for t in inputs}

    def follow(self, inputs: tuple[Any, ...], out: Any) -> None:
        """An op computed ``out`` without recording it: follow it if it used one of them."""
        if any(id(x) in self.tensors for x in inputs):
            self.tensors[id(out)] = out


mode = _Mode()

F = TypeVar("F", bound=Callable[..., Any])  # a function, for the decorator's type


def is_grad_enabled() -> bool:
    """True when new operations are recorded into the graph (in this thread)."""
    return mode.grad_enabled


class set_grad_enabled:
    """Turn recording on or off inside a ``with`` block, or for a whole function when used
    as a decorator (``@no_grad()``). A small class rather than a generator, because
    optimizers and inference loops enter it often."""

    def __init__(self, enabled: bool):
        self.enabled = bool(enabled)
        self.previous: list[bool] = []  # a stack, so the same object may be re-entered

    def __enter__(self) -> None:
        self.previous.append(mode.grad_enabled)
        mode.grad_enabled = self.enabled

    def __exit__(self, *exc_info: object) -> None:
        mode.grad_enabled = self.previous.pop()

    def __call__(self, function: F) -> F:
        @functools.wraps(function)
        def with_mode(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(self.enabled):
                return function(*args, **kwargs)

        return cast(F, with_mode)


def no_grad() -> set_grad_enabled:
    """``with no_grad():`` runs operations without recording them: no graph, no gradients,
    near plain numpy speed. Use it for inference and for updating parameters."""
    return set_grad_enabled(False)


def enable_grad() -> set_grad_enabled:
    """Turn recording back on inside a ``no_grad`` block."""
    return set_grad_enabled(True)


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Check every result and gradient for NaN or Inf and raise ``FloatingPointError`` at
    the first one, naming the op and the pass (forward or backward) that produced it."""
    previous = mode.detect_anomaly
    mode.detect_anomaly = True
    try:
        yield
    finally:
        mode.detect_anomaly = previous


def check_finite(array: np.ndarray, message: str) -> None:
    """Raise ``FloatingPointError(message.format("NaN" or "Inf"))`` if a float ``array``
    holds a NaN or an infinity."""
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        kind = "NaN" if np.isnan(array).any() else "Inf"
        raise FloatingPointError(message.format(kind))
