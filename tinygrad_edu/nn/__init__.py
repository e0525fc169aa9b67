"""Layers: ``Module`` and the building blocks of a network (``import tinygrad_edu.nn as nn``).

- ``nn.module``: ``Module`` and the containers ``ModuleList``, ``ModuleDict``, ``Sequential``;
- ``nn.layers``: ``Linear``, ``ReLU``, ``Sigmoid``, ``Tanh``, ``Softmax``, ``Dropout``,
  ``Flatten``.

Weights are (in_features, out_features), as in the book (y = x @ W + b); PyTorch stores
the transpose.
"""

from tinygrad_edu.nn.layers import Dropout, Flatten, Linear, ReLU, Sigmoid, Softmax, Tanh
from tinygrad_edu.nn.module import Module, ModuleDict, ModuleList, Sequential

__all__ = [
    "Dropout",
    "Flatten",
    "Linear",
    "Module",
    "ModuleDict",
    "ModuleList",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
