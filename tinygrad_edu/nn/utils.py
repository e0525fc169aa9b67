"""Gradient clipping (``nn.utils``): keep one bad batch from throwing the weights far away.

Call it between ``loss.backward()`` and ``optimizer.step()``::

    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()

Both functions change the ``.grad`` of the parameters in place (as PyTorch's), skip the
parameters whose ``.grad`` is None, and take one Tensor or an iterable of Tensors.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor


def _gradients(function: str, parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """The ``.grad`` of each parameter that has one."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"{function}: parameter {i} is a {type(p).__name__}, not a Tensor; pass "
                f"model.parameters() or a list of Tensors"
            )
    return [p.grad for p in params if p.grad is not None]


def _norm(array: np.ndarray, norm_type: float) -> np.floating:
    """The p-norm of an array seen as one vector: (sum |x|^p)^(1/p); max |x| for p = inf."""
    return np.linalg.norm(array.ravel(), ord=norm_type)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all the gradients by one factor so that their total norm is at most
    ``max_norm``, and return the total norm measured before clipping (a scalar Tensor).

    The total norm is the ``norm_type``-norm of all the gradients joined into one vector
    (the norm of the per-parameter norms); ``norm_type`` may be ``float("inf")`` or
    ``"inf"`` (the largest absolute value). As in PyTorch, every gradient is multiplied by
    min(1, max_norm / (total_norm + 1e-6)). A non-finite total norm raises RuntimeError
    with ``error_if_nonfinite=True``; otherwise, as in PyTorch, a NaN entry makes the
    total norm and so every gradient NaN, and an inf entry (total norm inf, factor 0)
    makes the inf entries NaN (inf * 0) and every finite entry 0.
    """
    try:
        p = float(norm_type)
    except ValueError:
        raise ValueError(
            f"clip_grad_norm_: norm_type must be a number or 'inf', got {norm_type!r}"
        ) from None
    grads = _gradients("clip_grad_norm_", parameters)
    if not grads:
        return Tensor(0.0)
    dtype = np.result_type(*(g.dtype for g in grads))
    norms = np.array([_norm(g.data, p) for g in grads], dtype=dtype)
    total = _norm(norms, p)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {p} of the gradients is {total}, so "
            f"they cannot be clipped; find where the NaN or inf comes from (e.g. "
            f"detect_anomaly()), or pass error_if_nonfinite=False to go on anyway"
        )
    coefficient = min(max_norm / (total + 1e-6), 1.0)
    with no_grad(), np.errstate(invalid="ignore"):  # inf * 0 = NaN, silently as in PyTorch
        for g in grads:
            g *= coefficient  # in place, and counted
    return Tensor(np.asarray(total, dtype=dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient entry into [-clip_value, clip_value], in place."""
    if not clip_value >= 0:
        raise ValueError(
            f"clip_grad_value_: clip_value must be >= 0 (gradients are clipped into "
            f"[-clip_value, clip_value]), got {clip_value}"
        )
    with no_grad():
        for g in _gradients("clip_grad_value_", parameters):
            g.copy_(np.clip(g.data, -clip_value, clip_value))
