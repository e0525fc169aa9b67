"""The layers of chapter 7: ``Conv2d``, ``MaxPool2d``, ``AvgPool2d`` (NCHW images).

Unlike ``Linear``, whose weight is the book's (in, out), ``Conv2d``'s weight has PyTorch's
(and the book's) layout (out_channels, in_channels, kh, kw), so its state_dict loads into
``torch.nn.Conv2d`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from tinygrad_edu.functional.conv import (
    IntPair,
    as_pair,
    avg_pool2d,
    conv2d,
    max_pool2d,
    pool_arguments,
)
from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import Tensor, TensorLike


class Conv2d(Module):
    """A 2-D convolution: (N, in_channels, H, W) -> (N, out_channels, OH, OW), with
    OH = (H + 2 * padding - kh) // stride + 1 (OW likewise); see ``F.conv2d``.

    weight: (out_channels, in_channels, kh, kw), drawn from N(0, 2 / fan_in) with
    fan_in = in_channels * kh * kw: the book's He initialisation (section 6.2.3), made for
    ReLU networks. (PyTorch's default differs: a uniform distribution,
    ``kaiming_uniform_(a=sqrt(5))``, of standard deviation sqrt(1 / (3 * fan_in)).)
    bias: (out_channels,), zeros. ``kernel_size``, ``stride`` and ``padding`` are an int
    or a pair (height, width). Uses numpy's global random generator: seed it with
    ``np.random.seed``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        bias: bool = True,
        dtype: DTypeLike = np.float32,
    ):
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Conv2d: {name} must be a positive int, got {value!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = as_pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = as_pair("Conv2d", "stride", stride, 1)
        self.padding = as_pair("Conv2d", "padding", padding, 0)
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        shape = (out_channels, in_channels, *self.kernel_size)
        w = np.random.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        self.weight = Tensor(w.astype(dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(out_channels, dtype), requires_grad=True) if bias else None

    def forward(self, x: TensorLike) -> Tensor:
        return self._name_errors(conv2d, x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        return text + ("" if self.bias is not None else ", bias=False")


class _Pool2d(Module):
    """What MaxPool2d and AvgPool2d share; they differ only in ``function``, the pooling
    they apply. ``kernel_size``, ``stride`` and ``padding`` are kept as given (as in
    PyTorch: an int or a pair; ``stride`` None becomes ``kernel_size``); ``window`` holds
    them as checked (height, width) pairs, which ``forward`` passes on."""

    function: Callable[[TensorLike, IntPair, IntPair | None, IntPair], Tensor]

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0):
        # checked now, so a bad value fails where the model is built
        self.window = pool_arguments(type(self).__name__, kernel_size, stride, padding)
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def forward(self, x: TensorLike) -> Tensor:
        return self._name_errors(self.function, x, *self.window)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling: (N, C, H, W) -> (N, C, OH, OW); see ``F.max_pool2d`` (ties: the first
    maximum of a window, row-major, gets the gradient). ``stride`` defaults to
    ``kernel_size``."""

    function = staticmethod(max_pool2d)


class AvgPool2d(_Pool2d):
    """Average pooling: (N, C, H, W) -> (N, C, OH, OW); see ``F.avg_pool2d`` (zero padding
    counts in the mean, PyTorch's default). ``stride`` defaults to ``kernel_size``."""

    function = staticmethod(avg_pool2d)
