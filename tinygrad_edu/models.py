"""The study notes' networks, written on top of the library: ``TwoLayerNet`` (chapters 4
and 5, trained by gradient descent) and ``ThreeLayerNet`` (chapter 3's inference network),
plus ``load_network`` to rebuild a saved network from its ``.npz`` file.

Same interface as the notes (``params``, ``predict``, ``loss``, ``accuracy``, ``gradient``,
``numerical_gradient``), so the chapter's gradient check runs as written:

    net = TwoLayerNet(784, 50, 10)
    grad_numerical = net.numerical_gradient(x[:3], t[:3])
    grad_backprop = net.gradient(x[:3], t[:3])
    for key in grad_numerical:
        print(key, np.mean(np.abs(grad_backprop[key] - grad_numerical[key])))
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from tinygrad_edu import functional as F
from tinygrad_edu import numerical
from tinygrad_edu._io import read_npz
from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.nn import Module
from tinygrad_edu.tensor import Tensor, TensorLike

Weights = dict[str, np.ndarray]  # a saved network's arrays by name, as in state_dict()


class TwoLayerNet(Module):
    """input -> Affine -> ReLU -> Affine -> (softmax with loss).

    Shapes: W1 (input_size, hidden_size), b1 (hidden_size,), W2 (hidden_size, output_size),
    b2 (output_size,). float64 by default, like the notes' numpy code, so numerical
    gradients are accurate.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        dtype: DTypeLike = np.float64,
    ):
        self.W1, self.b1 = _weight(input_size, hidden_size, weight_init_std, dtype)
        self.W2, self.b2 = _weight(hidden_size, output_size, weight_init_std, dtype)

    @property
    def params(self) -> dict[str, np.ndarray]:
        """{"W1": ndarray, "b1": ..., "W2": ..., "b2": ...}: the parameters' arrays, as in the
        notes. They are shared with the Tensors, so the notes' in-place update
        ``net.params[key] -= lr * grad[key]`` trains the net."""
        return {name: p.data for name, p in self.named_parameters()}

    def predict(self, x: TensorLike) -> Tensor:
        """(N, input_size) -> (N, output_size) scores (before softmax)."""
        h = F.relu(F.linear(x, self.W1, self.b1))
        return F.linear(h, self.W2, self.b2)

    forward = predict

    def loss(self, x: TensorLike, t: ArrayLike) -> Tensor:
        """Mean softmax cross-entropy; t: class indices (N,) or one-hot (N, output_size)."""
        return F.cross_entropy(self.predict(x), t)

    def accuracy(self, x: TensorLike, t: ArrayLike) -> float:
        """The fraction of rows whose largest score is the true class."""
        with no_grad():
            y = self.predict(x).data.argmax(axis=1)
        t = np.asarray(t)
        if t.ndim != 1:
            t = t.argmax(axis=1)
        return float(np.mean(y == t))

    def gradient(self, x: TensorLike, t: ArrayLike) -> dict[str, np.ndarray]:
        """Gradients by backpropagation: {name: ndarray}."""
        self.zero_grad()
        self.loss(x, t).backward()
        return {name: cast(Tensor, p.grad).data for name, p in self.named_parameters()}

    def numerical_gradient(self, x: TensorLike, t: ArrayLike) -> dict[str, np.ndarray]:
        """Gradients by central differences, one weight at a time (slow!): {name: ndarray}."""

        def loss_w(_):
            with no_grad():
                return self.loss(x, t).item()

        return {
            name: numerical.numerical_gradient(loss_w, p) for name, p in self.named_parameters()
        }


class ThreeLayerNet(Module):
    """Chapter 3's inference network: sigmoid(x W1 + b1) -> sigmoid(. W2 + b2) ->
    softmax(. W3 + b3), giving (N, output_size) class probabilities.

    The book's pre-trained weights (``sample_weight``, converted to .npz) have W1 (784, 50),
    W2 (50, 100), W3 (100, 10): ``ThreeLayerNet(784, 50, 100, 10).load(path)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden1: int,
        hidden2: int,
        output_size: int,
        weight_init_std: float = 0.01,
        dtype: DTypeLike = np.float32,
    ):
        self.W1, self.b1 = _weight(input_size, hidden1, weight_init_std, dtype)
        self.W2, self.b2 = _weight(hidden1, hidden2, weight_init_std, dtype)
        self.W3, self.b3 = _weight(hidden2, output_size, weight_init_std, dtype)

    def forward(self, x: TensorLike) -> Tensor:
        z1 = F.sigmoid(F.linear(x, self.W1, self.b1))
        z2 = F.sigmoid(F.linear(z1, self.W2, self.b2))
        return F.softmax(F.linear(z2, self.W3, self.b3))


def _weight(n_in: int, n_out: int, std: float, dtype: DTypeLike) -> tuple[Tensor, Tensor]:
    """A layer's parameters as in the notes: W ~ N(0, std^2) of shape (n_in, n_out), b = 0."""
    w = std * np.random.standard_normal((n_in, n_out))
    return Tensor(w.astype(dtype), requires_grad=True), Tensor(np.zeros(n_out, dtype), True)


def load_network(path: str | os.PathLike[str], build: Callable[[Weights], Module]) -> Module:
    """Rebuild a saved network: read the arrays of the ``.npz`` file at ``path`` (pickles
    are refused), ``build(arrays)`` the Module they describe, and load them into it.

    ``build`` receives ``{name: ndarray}`` and returns a Module whose ``state_dict`` has
    those names and shapes, e.g. for a ``TwoLayerNet``::

        load_network(path, lambda w: TwoLayerNet(*w["W1"].shape, w["W2"].shape[1]))

    Raises ValueError, naming the file, for an unsafe or unreadable file or arrays that
    do not fit the network ``build`` made (``build`` may raise ValueError too).
    """
    weights = read_npz(path)
    try:
        return build(weights).load_state_dict(weights)
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"load_network: {path}: {err}") from None
