"""Optimizers: update parameters in place from their gradients.

Each step is p <- p - lr * (something built from p.grad), done on the arrays in the
parameter's own dtype (a float32 network stays float32).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor


class Optimizer:
    """Holds a list of parameters; subclasses define ``step``."""

    params: list[Tensor]  # leaf tensors with requires_grad=True, each once

    def __init__(self, params: Iterable[Tensor]):
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be a list of Tensors, got a single Tensor; "
                f"write {type(self).__name__}([w]) or {type(self).__name__}(model.parameters())"
            )
        self.params = list(params)
        if not self.params:
            raise ValueError(
                f"{type(self).__name__}: got no parameters to optimize; pass "
                f"model.parameters() (is the model built, and do its tensors have "
                f"requires_grad=True?)"
            )
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} is not a Tensor with "
                    f"requires_grad=True (got {type(p).__name__})"
                )
            if p.creator is not None:
                raise ValueError(
                    f"{type(self).__name__}: parameter {i} of shape {p.shape} was computed by "
                    f"'{p.creator.name}'; only leaf tensors (created directly, with "
                    f"requires_grad=True) can be optimized"
                )
            if id(p) in seen:
                name = f" ('{p.name}')" if p.name else ""
                raise ValueError(
                    f"{type(self).__name__}: parameter {i}{name} of shape {p.shape} appears "
                    f"twice; each parameter must be given once"
                )
            seen.add(id(p))

    def zero_grad(self) -> None:
        """Reset every parameter's gradient (to None, so the next backward starts fresh)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum and weight decay:

    g = grad + weight_decay * p
    v = momentum * v + g              (v = g without momentum)
    p = p - lr * v
    """

    lr: float
    momentum: float
    weight_decay: float
    velocities: list[np.ndarray | None]  # v of each parameter; None before its first step

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 0.01,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ):
        super().__init__(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocities = [None] * len(self.params)

    def step(self) -> None:
        with no_grad():  # an update is not part of any graph
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                g = p.grad.data
                if self.weight_decay:
                    g = g + self.weight_decay * p.data
                if self.momentum:
                    v = self.velocities[i]
                    if v is None:
                        v = self.velocities[i] = g.copy()
                    else:
                        v *= self.momentum
                        v += g
                    g = v
                p -= self.lr * g  # in place, and counted (see Tensor._inplace)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): per-parameter step sizes from running averages of the
    gradient (m) and of its square (v), with bias correction for their zero start:

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
        p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    lr: float
    betas: tuple[float, float]  # (b1, b2)
    eps: float
    weight_decay: float
    m: list[np.ndarray]  # running average of each parameter's gradient
    v: list[np.ndarray]  # running average of each parameter's squared gradient
    steps: list[int]  # t of each parameter: some may skip a step

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.steps = [0] * len(self.params)

    def step(self) -> None:
        b1, b2 = self.betas
        with no_grad():  # an update is not part of any graph
            for i, (p, m, v) in enumerate(zip(self.params, self.m, self.v)):
                if p.grad is None:
                    continue
                self.steps[i] += 1
                correction1, correction2 = 1 - b1 ** self.steps[i], 1 - b2 ** self.steps[i]
                g = p.grad.data
                if self.weight_decay:
                    g = g + self.weight_decay * p.data
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                p -= self.lr / correction1 * m / (np.sqrt(v / correction2) + self.eps)
