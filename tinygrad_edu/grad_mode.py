"""Grad mode: whether operations are being recorded, per thread.

The bottom of the engine: ``ops`` reads it when an op runs, ``autograd`` sets it while it
walks the graph. ``no_grad()`` switches recording off (inference, parameter updates);
``detect_anomaly()`` checks every result and gradient for NaN and Inf.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np


class _Mode(threading.local):
    """Per-thread switches, so ``no_grad`` in one thread leaves the others recording."""

    grad_enabled = True
    detect_anomaly = False
    in_backward = False  # the engine is running ops' backward methods


mode = _Mode()


def is_grad_enabled() -> bool:
    """True when new operations are recorded into the graph (in this thread)."""
    return mode.grad_enabled


@contextlib.contextmanager
def set_grad_enabled(enabled: bool) -> Iterator[None]:
    """Turn recording on or off inside a ``with`` block (or as a decorator)."""
    previous = mode.grad_enabled
    mode.grad_enabled = bool(enabled)
    try:
        yield
    finally:
        mode.grad_enabled = previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """``with no_grad():`` runs operations without recording them: no graph, no gradients,
    near plain numpy speed. Use it for inference and for updating parameters."""
    return set_grad_enabled(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
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
