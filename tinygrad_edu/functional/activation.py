"""Activations and dropout, elementwise."""

from __future__ import annotations

import numpy as np

from tinygrad_edu.tensor import Tensor, TensorLike, as_array, as_tensor


def relu(x: TensorLike) -> Tensor:
    """max(x, 0), elementwise."""
    return as_tensor(x).relu()


def sigmoid(x: TensorLike) -> Tensor:
    """1 / (1 + exp(-x)), elementwise, without overflow for large |x|."""
    return as_tensor(x).sigmoid()


def tanh(x: TensorLike) -> Tensor:
    """The hyperbolic tangent, elementwise: a sigmoid stretched to (-1, 1)."""
    return as_tensor(x).tanh()


def softmax(x: TensorLike, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis`` (or ``dim``; default: the last): each row of
    (N, C) scores becomes probabilities."""
    return as_tensor(x).softmax(axis, dim=dim)


def log_softmax(x: TensorLike, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """log(softmax(x)) along ``axis`` (or ``dim``; default: the last), computed stably as
    x - logsumexp(x)."""
    return as_tensor(x).log_softmax(axis, dim=dim)


def step_function(x: TensorLike) -> Tensor:
    """The perceptron's activation: 1 where x > 0, else 0 (not differentiable: its
    gradient is zero almost everywhere, which is why networks use sigmoid or ReLU)."""
    return Tensor((as_array(x) > 0).astype(np.int64))


def dropout(x: TensorLike, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    1 / (1 - p), so the expected value is unchanged and evaluation needs no rescaling.
    Uses numpy's global random generator (seed it with ``np.random.seed``)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    x = as_tensor(x)
    if not training or p == 0:
        return x
    mask = (np.random.random_sample(x.shape) >= p).astype(x.dtype)
    mask /= 1 - p
    return x * mask
