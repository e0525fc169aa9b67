"""Activations, dropout, losses, convolution, pooling and batch normalisation as functions
(``import tinygrad_edu.functional as F``).

Inputs may be Tensors or anything ``np.asarray`` takes; results are Tensors. The losses
average over the batch (the first axis), like PyTorch's defaults, except the study notes'
``sum_squared_error``.
"""

from tinygrad_edu.functional.activation import (
    dropout,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    step_function,
    tanh,
)
from tinygrad_edu.functional.conv import (
    AvgPool2d,
    Conv2d,
    MaxPool2d,
    avg_pool2d,
    conv2d,
    max_pool2d,
)
from tinygrad_edu.functional.linear import Linear, linear
from tinygrad_edu.functional.loss import (
    BCEWithLogits,
    BinaryCrossEntropy,
    CrossEntropy,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    cross_entropy_error,
    mse_loss,
    sum_squared_error,
)
from tinygrad_edu.functional.normalization import BatchNorm, batch_norm

__all__ = [
    "AvgPool2d",
    "BCEWithLogits",
    "BatchNorm",
    "BinaryCrossEntropy",
    "Conv2d",
    "CrossEntropy",
    "Linear",
    "MaxPool2d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cross_entropy",
    "cross_entropy_error",
    "dropout",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "relu",
    "sigmoid",
    "softmax",
    "step_function",
    "sum_squared_error",
    "tanh",
]
