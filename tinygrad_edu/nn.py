"""Layers: ``Module`` and the building blocks of a network.

A Module holds its parameters (Tensors with ``requires_grad=True``) and sub-modules as
ordinary attributes; ``parameters()`` finds them by looking at those attributes, in the
order they were assigned. Weights are (in_features, out_features), as in the book
(y = x @ W + b); PyTorch stores the transpose.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from tinygrad_edu import functional as F
from tinygrad_edu._io import atomic_write, read_npz
from tinygrad_edu.tensor import Tensor, TensorLike, as_tensor


class Module:
    """Base class of layers and models: subclass it and define ``forward``."""

    training = True

    def forward(self, *args: Any) -> Any:
        """The computation; ``module(x)`` calls it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def children(self) -> list[tuple[str, Module]]:
        """(name, sub-module) pairs, found among the attributes."""
        return [(name, value) for name, value in vars(self).items() if isinstance(value, Module)]

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Tensor]]:
        """(dotted name, parameter) pairs, e.g. ("0.weight", Tensor). A parameter without
        a ``name`` takes its dotted name, which graph drawings show."""
        pairs = [
            (prefix + name, value)
            for name, value in vars(self).items()
            if isinstance(value, Tensor) and value.requires_grad
        ]
        for name, child in self.children():
            pairs.extend(child.named_parameters(f"{prefix}{name}."))
        unique, seen = [], set()
        for name, p in pairs:  # a layer used twice shares its parameters: list them once
            if id(p) not in seen:
                seen.add(id(p))
                unique.append((name, p))
                if p.name is None:
                    p.name = name
        return unique

    def parameters(self) -> list[Tensor]:
        """The parameters, as a list (each once), in the order of ``named_parameters``."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Reset every parameter's gradient (to None)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Switch to training mode (dropout on); returns self."""
        self.training = mode
        for _, child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (dropout off); returns self."""
        return self.train(False)

    # ------------------------------------------------------------- saving, loading
    def state_dict(self) -> dict[str, np.ndarray]:
        """{dotted name: copy of the parameter's array}."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> Module:
        """Copy arrays into the parameters, in place and in the parameters' dtype.

        Raises KeyError naming a missing or unexpected key, ValueError naming a key whose
        shape differs.
        """
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if missing or unexpected:
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}; "
                f"this model's parameters are {list(params)}"
            )
        for name, p in params.items():  # check everything before changing anything
            if np.shape(state[name]) != p.shape:
                raise ValueError(
                    f"load_state_dict: '{name}' has shape {np.shape(state[name])} in the "
                    f"state but {p.shape} in the model"
                )
        for name, p in params.items():
            p.data[...] = state[name]
        return self

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the parameters to an ``.npz`` file (atomically: a temporary file, then
        a rename, so an interrupted save never leaves a truncated file)."""
        arrays: dict[str, Any] = self.state_dict()
        with atomic_write(path) as f:
            np.savez(f, **arrays)

    def load(self, path: str | os.PathLike[str]) -> Module:
        """Read parameters saved by ``save`` (pickles are refused: they can run code)."""
        return self.load_state_dict(read_npz(path))

    def __repr__(self) -> str:
        lines = [f"({name}): {child!r}".replace("\n", "\n  ") for name, child in self.children()]
        inner = "".join(f"\n  {line}" for line in lines)
        return f"{type(self).__name__}({self.extra_repr()}{inner}{chr(10) if lines else ''})"

    def extra_repr(self) -> str:
        """What repr shows inside the parentheses: by default the module's own parameters."""
        return ", ".join(
            f"{name}={value.shape}"
            for name, value in vars(self).items()
            if isinstance(value, Tensor) and value.requires_grad
        )


class Linear(Module):
    """y = x @ weight + bias, for x of shape (..., in_features).

    weight: (in_features, out_features), drawn from N(0, scale^2) with He scaling
    (scale = sqrt(2 / in_features), for ReLU networks) or Xavier scaling
    (sqrt(1 / in_features), for sigmoid and tanh); bias: (out_features,), zeros.
    Uses numpy's global random generator: seed it with ``np.random.seed``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: DTypeLike = np.float32,
        init: str = "he",
    ):
        gains = {"he": 2.0, "xavier": 1.0}
        if init not in gains:
            raise ValueError(f"Linear: init must be 'he' or 'xavier', got {init!r}")
        self.in_features, self.out_features = in_features, out_features
        scale = np.sqrt(gains[init] / in_features)
        w = np.random.standard_normal((in_features, out_features)) * scale
        self.weight = Tensor(w.astype(dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(out_features, dtype), requires_grad=True) if bias else None

    def forward(self, x: TensorLike) -> Tensor:
        try:
            return F.linear(x, self.weight, self.bias)
        except ValueError as err:  # say which layer: "Linear(in_features=...): linear: ..."
            raise ValueError(f"{self!r}: {err}") from None

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
    """Scores to probabilities along ``axis``: (N, C) -> (N, C), rows summing to 1."""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x: TensorLike) -> Tensor:
        return F.softmax(x, self.axis)


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


class Sequential(Module):
    """Layers applied in order; parameters are named by position ("0.weight")."""

    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def children(self) -> list[tuple[str, Module]]:
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    def forward(self, x: TensorLike) -> Tensor:
        out: Any = x
        for i, layer in enumerate(self.layers):
            try:
                out = layer(out)
            except ValueError as err:  # say which layer: "layer 2: Linear(...): ..."
                raise ValueError(f"layer {i}: {err}") from None
        return out

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)
