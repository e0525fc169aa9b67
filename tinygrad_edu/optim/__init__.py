"""Optimizers: update parameters in place from their gradients."""

from tinygrad_edu.optim.optimizer import SGD, Adam, Optimizer

__all__ = ["SGD", "Adam", "Optimizer"]
