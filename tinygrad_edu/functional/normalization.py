"""Batch Normalization (chapter 6): each channel normalised to mean 0 and variance 1 over
the batch, then scaled and shifted by learned parameters.

For x of shape (N, C), (N, C, L) or (N, C, H, W), the statistics of channel c are taken
over every axis but axis 1 (m = N, N*L or N*H*W values per channel). Ioffe and Szegedy
(2015), Algorithm 1:

    mu = mean(x)                       var = mean((x - mu)^2)   (biased, over the m values)
    x_hat = (x - mu) / sqrt(var + eps)
    y = gamma * x_hat + beta           (gamma: ``weight``, beta: ``bias``, one per channel)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops import Function
from tinygrad_edu.tensor import Tensor, TensorLike, as_tensor


class BatchNorm(Function):
    """Batch normalisation with the batch's own statistics (training mode), as one op.

    Inputs: x (N, C, ...), weight (C,) or None, bias (C,) or None. After the forward,
    ``self.mean`` and ``self.var`` hold the batch's per-channel mean and biased variance
    (shape (C,)), from which ``batch_norm`` updates the running statistics.

    Backward. With g = dL/dy, dx_hat = gamma * g, s = 1 / sqrt(var + eps) and sums over
    the m values of each channel:

        dL/dbeta  = sum(g)
        dL/dgamma = sum(g * x_hat)
        dL/dx     = (s / m) * (m * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))

    The last line is the book's BatchNormalization backward (chapter 6, the computational
    graph through x - mu, the variance and the square root, common/layers.py) with its
    steps collected into one expression (Ioffe and Szegedy 2015, section 3.1).
    """

    name = "batch_norm"
    reads_output = False

    def __init__(self, eps: float):
        self.eps = eps

    def forward(self, x, weight, bias):
        self.axes = (0, *range(2, x.ndim))  # every axis but the channels'
        self.mean = x.mean(axis=self.axes)
        centred = x - self.mean.reshape(_channel_shape(x))
        self.var = (centred * centred).mean(axis=self.axes)
        self.inv_std = 1 / np.sqrt(self.var + self.eps)
        self.x_hat = centred * self.inv_std.reshape(_channel_shape(x))  # kept for backward
        # y must be a fresh array (x_hat stays for backward)
        y = self.x_hat.copy() if weight is None else self.x_hat * weight.reshape(_channel_shape(x))
        if bias is not None:
            y = y + bias.reshape(_channel_shape(x))
        return y

    def backward(self, grad):
        x, weight, _ = self.saved_inputs()
        need_x, need_weight, need_bias = self.needs_input_grad
        shape, axes = _channel_shape(x), self.axes
        if isinstance(x, Tensor):  # recording the gradient: recompute x_hat as Tensor ops
            centred = x - x.mean(axis=axes, keepdims=True)
            inv_std = 1 / np.sqrt((centred * centred).mean(axis=axes, keepdims=True) + self.eps)
            x_hat = centred * inv_std
        else:
            inv_std, x_hat = self.inv_std.reshape(shape), self.x_hat
        grad_weight = (grad * x_hat).sum(axis=axes) if need_weight else None
        grad_bias = grad.sum(axis=axes) if need_bias else None
        grad_x = None
        if need_x:
            m = x.size // x.shape[1]  # values per channel
            d_x_hat = grad if weight is None else grad * weight.reshape(shape)
            sum_d = d_x_hat.sum(axis=axes, keepdims=True)
            sum_d_x_hat = (d_x_hat * x_hat).sum(axis=axes, keepdims=True)
            grad_x = (d_x_hat * m - sum_d - x_hat * sum_d_x_hat) * (inv_std / m)
        return grad_x, grad_weight, grad_bias


def batch_norm(
    input: TensorLike,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation of ``input`` (N, C, ...) per channel (axis 1), PyTorch's
    ``F.batch_norm``.

    training=True: normalise with the batch's mean and biased variance (one fused op,
    ``BatchNorm``), and, if given, update the running statistics in place:

        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)

    where m is the number of values per channel (the unbiased variance, as PyTorch).
    training=False: normalise with ``running_mean`` and ``running_var`` instead,
    y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.

    An empty batch (no value per channel, e.g. N = 0) in training gives an empty output
    and leaves the running statistics alone, as in PyTorch.

    Args:
        input: (N, C), (N, C, L) or (N, C, H, W), any N and C.
        running_mean, running_var: (C,) Tensors, or None (only with training=True).
        weight, bias: (C,) Tensors (gamma and beta), or None for 1 and 0.
    Returns:
        a Tensor of input's shape and dtype; for an integer input (uint8 pixels), the
        dtype of the statistics and parameters (a float32 layer gives float32) in both
        modes, float64 when there are none.
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(
            f"batch_norm: the input must have a batch axis and a channel axis, (N, C, ...), "
            f"got shape {x.shape}"
        )
    channels = x.shape[1]
    for what, t in [("running_mean", running_mean), ("running_var", running_var)]:
        _check_channels(what, t, x.shape)
    for what, t in [("weight", weight), ("bias", bias)]:
        _check_channels(what, t, x.shape)
    if x.dtype.kind != "f":  # integers: normalise in the layer's float dtype
        x = x.astype(_float_dtype(running_mean, running_var, weight, bias))
    if training:
        per_channel = x.size // channels if channels else 0
        if x.size == 0:  # nothing to normalise, nothing to learn: PyTorch's empty output
            return _scale_and_shift(x * 1, weight, bias)  # x * 1: a new Tensor, not x
        if per_channel <= 1:
            raise ValueError(
                f"batch_norm: Expected more than 1 value per channel when training, got "
                f"input of shape {x.shape}; a batch of one sample has no spread to "
                f"normalise by: use a bigger batch, or call model.eval() to use the "
                f"running statistics"
            )
        op = BatchNorm(eps)
        y = op(x, weight, bias)
        if running_mean is not None:
            running_mean.copy_((1 - momentum) * running_mean.data + momentum * op.mean)
        if running_var is not None:
            unbiased = op.var * (per_channel / (per_channel - 1))
            running_var.copy_((1 - momentum) * running_var.data + momentum * unbiased)
        return y
    if running_mean is None or running_var is None:
        raise ValueError(
            "batch_norm: running_mean and running_var are needed when training=False; "
            "pass them, or training=True to use the batch's statistics"
        )
    shape = _channel_shape(x)
    inv_std = (1 / np.sqrt(running_var.data + eps)).astype(x.dtype).reshape(shape)
    return _scale_and_shift(
        (x - running_mean.data.astype(x.dtype).reshape(shape)) * inv_std, weight, bias
    )


def _scale_and_shift(x_hat: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """y = x_hat * weight + bias, per channel (either left out when None)."""
    shape = _channel_shape(x_hat)
    y = x_hat if weight is None else x_hat * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


def _float_dtype(*tensors: Tensor | None) -> np.dtype:
    """The dtype of the first of ``tensors`` that is a float Tensor (a layer's
    statistics and parameters share one), else numpy's default, float64."""
    floats = [t.dtype for t in tensors if t is not None and t.dtype.kind == "f"]
    return np.dtype(floats[0] if floats else np.float64)


def _channel_shape(x: Any) -> tuple[int, ...]:
    """(1, C, 1, ...): the shape that broadcasts a per-channel (C,) array against x."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _check_channels(what: str, t: Tensor | None, shape: tuple[int, ...]) -> None:
    if t is not None and t.shape != (shape[1],):
        raise ValueError(
            f"batch_norm: {what} has shape {t.shape} but the input of shape {shape} has "
            f"{shape[1]} channels on axis 1; expected ({shape[1]},)"
        )
