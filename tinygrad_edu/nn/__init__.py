"""Layers: ``Module`` and the building blocks of a network (``import tinygrad_edu.nn as nn``).

- ``nn.module``: ``Module`` and the containers ``ModuleList``, ``ModuleDict``, ``Sequential``;
- ``nn.layers``: ``Linear``, ``ReLU``, ``Sigmoid``, ``Tanh``, ``Softmax``, ``Dropout``,
  ``Flatten``;
- ``nn.conv``: ``Conv2d``, ``MaxPool2d``, ``AvgPool2d`` (chapter 7, NCHW images);
- ``nn.init``: weight initialisation (``xavier_normal_``, ``kaiming_normal_``, ...);
- ``nn.utils``: gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``).

Weights are (in_features, out_features), as in the book (y = x @ W + b); PyTorch stores
the transpose.
"""

from tinygrad_edu.nn import init, utils
from tinygrad_edu.nn.conv import AvgPool2d, Conv2d, MaxPool2d
from tinygrad_edu.nn.layers import Dropout, Flatten, Linear, ReLU, Sigmoid, Softmax, Tanh
from tinygrad_edu.nn.module import Module, ModuleDict, ModuleList, RemovableHandle, Sequential
from tinygrad_edu.nn.normalization import BatchNorm1d, BatchNorm2d

__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Linear",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "ReLU",
    "RemovableHandle",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "init",
    "utils",
]
