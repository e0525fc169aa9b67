"""The layers of chapters 3-5: ``Linear``, the activations, ``Dropout``, ``Flatten``.

Weights are (in_features, out_features), as in the book (y = x @ W + b); PyTorch stores
the transpose.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from tinygrad_edu import functional as F
from tinygrad_edu.nn import init as nn_init
from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import Tensor, TensorLike, as_tensor


class Linear(Module):
    """y = x @ weight + bias, for x of shape (..., in_features).

    weight: (in_features, out_features), drawn from N(0, scale^2) with He scaling
    (scale = sqrt(2 / in_features), for ReLU networks) or the book's Xavier scaling
    (sqrt(1 / in_features), for sigmoid and tanh); bias: (out_features,), zeros.
    Uses numpy's global random generator: seed it with ``np.random.seed``. ``init`` may
    also be a function that fills the weight in place, e.g. ``nn.init.xavier_uniform_`` or
    ``lambda w: nn.init.normal_(w, std=0.01)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: DTypeLike = np.float32,
        init: str | Callable[[Tensor], object] = "he",
    ):
        gains = {"he": 2.0, "xavier": 1.0}
        if not (callable(init) or init in gains):
            raise ValueError(
                f"Linear: init must be a function that fills the weight in place (e.g. "
                f"nn.init.xavier_uniform_) or 'he' or 'xavier', got {init!r}"
            )
        self.in_features, self.out_features = in_features, out_features
        self.weight = Tensor(np.empty((in_features, out_features), dtype), requires_grad=True)
        if callable(init):
            init(self.weight)
        else:
            nn_init.normal_(self.weight, 0.0, float(np.sqrt(gains[init] / in_features)))
        self.bias = Tensor(np.zeros(out_features, dtype), requires_grad=True) if bias else None

    def forward(self, x: TensorLike) -> Tensor:
        return self._name_errors(F.linear, x, self.weight, self.bias)

    def extra_repr(self) -> str:
        bias = "" if self.bias is not None else ", bias=False"
        return f"in_features={self.in_features}, out_features={self.out_features}{bias}"


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: TensorLike) -> Tensor:
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + e^-x), elementwise."""

    def forward(self, x: TensorLike) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """The hyperbolic tangent, elementwise."""

    def forward(self, x: TensorLike) -> Tensor:
        return F.tanh(x)


class Softmax(Module):
    """Scores to probabilities along ``axis`` (or ``dim``; default: the last):
    (N, C) -> (N, C), rows summing to 1."""

    def __init__(self, axis: int | None = None, *, dim: int | None = None):
        self.axis, self.dim = axis, dim

    def forward(self, x: TensorLike) -> Tensor:
        return F.softmax(x, self.axis, dim=self.dim)


class Dropout(Module):
    """Inverted dropout with drop probability ``p`` in training mode; identity in eval."""

    def __init__(self, p: float = 0.5):
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: TensorLike) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def __init__(self, start_dim: int = 1):
        self.start_dim = start_dim

    def forward(self, x: TensorLike) -> Tensor:
        return as_tensor(x).flatten(self.start_dim)
