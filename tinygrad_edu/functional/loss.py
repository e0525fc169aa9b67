"""Losses. They average over the batch (the first axis), like PyTorch's defaults, except
the study notes' ``sum_squared_error``."""

from __future__ import annotations

import numpy as np

from tinygrad_edu.ops import Function, stable_sigmoid
from tinygrad_edu.tensor import Tensor, TensorLike, as_array, as_tensor


class CrossEntropy(Function):
    """Softmax cross-entropy, fused: mean over the batch of -log softmax(logits)[target].

    One op instead of softmax then log, for speed and stability (log-sum-exp), and a
    simple gradient: (softmax(logits) - onehot(target)) / N, the book's SoftmaxWithLoss.
    The target is a constant.
    """

    formula = "d loss/d logits = (softmax(logits) - onehot(target)) / N"
    name = "cross_entropy"
    reads_output = False

    def __init__(self, target):
        self.target = target  # (N,) class indices or (N, C) probability rows
        self.indices = target.dtype.kind in "iu"

    def forward(self, logits):
        n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        self.probs = exp / total  # softmax, kept for backward
        log_probs = shifted - np.log(total)
        if self.indices:
            self.rows = np.arange(n)
            return -log_probs[self.rows, self.target].sum() / n
        return -(self.target * log_probs).sum() / n

    def backward(self, grad):
        (logits,) = self.saved_inputs()
        n = logits.shape[0]
        if self.indices and not isinstance(logits, Tensor):
            # The book's SoftmaxWithLoss: (softmax(z) - onehot(t)) / N, done in place.
            grad_logits = self.probs.copy()
            grad_logits[self.rows, self.target] -= 1
            grad_logits *= float(grad) / n  # the loss is a scalar: so is its gradient
            return grad_logits
        # While the gradient is being recorded (create_graph), softmax must be a Tensor op.
        probs = logits.softmax(axis=1) if isinstance(logits, Tensor) else self.probs
        t = self.target
        if self.indices:
            t = np.zeros(logits.shape, dtype=logits.dtype)  # one-hot rows
            t[self.rows, self.target] = 1
        # d/dz [-sum_i t_i log softmax(z)_i] = softmax(z) sum_i t_i - t
        return (probs * t.sum(axis=1, keepdims=True) - t) * (grad / n)


def cross_entropy(logits: TensorLike, target: TensorLike) -> Tensor:
    """The mean over the batch of the softmax cross-entropy.

    Args:
        logits: (N, C) unnormalised scores (or (C,) for one sample).
        target: class indices, shape (N,) with values in [0, C); or one-hot /
            probability rows, shape (N, C). A Tensor or an array, treated as a constant.
    Returns:
        a scalar Tensor.
    """
    logits, target = as_tensor(logits), as_array(target)
    if logits.ndim == 1:
        logits, target = logits.reshape(1, -1), target.reshape(1, *target.shape)
    if logits.ndim != 2:
        raise ValueError(
            f"cross_entropy: logits must have shape (N, C) or (C,), got {logits.shape}"
        )
    n, num_classes = logits.shape
    if n == 0:
        raise ValueError(
            f"cross_entropy: the batch is empty (logits shape {logits.shape}); a mean over "
            f"no samples is undefined"
        )
    if target.dtype.kind not in "iuf":
        raise TypeError(
            f"cross_entropy: the target must be class indices (integers) or probability "
            f"rows (floats), got dtype {target.dtype}"
        )
    if target.dtype.kind == "f" and target.shape == (n,):
        raise TypeError(
            f"cross_entropy: class-index targets must be integers, got {target.dtype} "
            f"labels of shape ({n},); convert them with t.astype(np.int64), or pass "
            f"one-hot / probability rows of shape {logits.shape}"
        )
    if target.dtype.kind in "iu":
        if target.shape != (n,):
            raise ValueError(
                f"cross_entropy: logits have shape {logits.shape} but the class-index "
                f"target has shape {target.shape}; expected ({n},), one class per row"
            )
        if n and (target.min() < 0 or target.max() >= num_classes):
            bad = target[(target < 0) | (target >= num_classes)]
            raise IndexError(
                f"cross_entropy: target class {int(bad[0])} is out of range for "
                f"{num_classes} classes (logits shape {logits.shape}); class indices must "
                f"be in [0, {num_classes - 1}]"
            )
    elif target.shape != logits.shape:
        raise ValueError(
            f"cross_entropy: logits have shape {logits.shape} but the target has shape "
            f"{target.shape}; pass class indices of shape ({n},) or one-hot / probability "
            f"rows of shape {logits.shape}"
        )
    return CrossEntropy(target)(logits)


class BCEWithLogits(Function):
    """Binary cross-entropy on logits x: mean of max(x, 0) - x t + log(1 + exp(-|x|)),
    which equals -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] without overflow."""

    formula = "d loss/d x = (sigmoid(x) - t) / n"
    name = "binary_cross_entropy_with_logits"
    reads_output = False

    def __init__(self, target):
        self.target = target

    def forward(self, x):
        return (np.maximum(x, 0) - x * self.target + np.log1p(np.exp(-np.abs(x)))).mean()

    def backward(self, grad):
        (x,) = self.saved_inputs()
        # While recording the gradient (create_graph), sigmoid must be a differentiable op.
        probs = x.sigmoid() if isinstance(x, Tensor) else stable_sigmoid(x)
        return (probs - self.target) * (grad / x.size)  # dL/dx = (sigmoid(x) - t) / N


def binary_cross_entropy_with_logits(logits: TensorLike, target: TensorLike) -> Tensor:
    """Mean binary cross-entropy of ``target`` (0/1 or probabilities) given logits."""
    logits = as_tensor(logits)
    target = _same_shape("binary_cross_entropy_with_logits", logits, target)
    return BCEWithLogits(as_array(target))(logits)


class BinaryCrossEntropy(Function):
    """Mean of -[t log p + (1 - t) log(1 - p)], with each log clamped at -100 (as PyTorch
    does) so p = 0 or 1 gives a large finite loss instead of inf."""

    formula = "d loss/d p = (p - t) / (p (1 - p) n)"
    name = "binary_cross_entropy"
    reads_output = False

    def __init__(self, target):
        self.target = target

    def forward(self, p):
        t = self.target
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_1mp = np.maximum(np.log1p(-p), -100)
        return -(t * log_p + (1 - t) * log_1mp).mean()

    def backward(self, grad):
        # dL/dp = (p - t) / (p (1 - p)) / N, with the denominator kept >= 1e-12.
        (p,) = self.saved_inputs()
        return (p - self.target) / (p * (1 - p)).clip(1e-12, None) * (grad / p.size)


def binary_cross_entropy(probs: TensorLike, target: TensorLike) -> Tensor:
    """Mean binary cross-entropy of ``target`` given probabilities in [0, 1]."""
    probs = as_tensor(probs)
    p = probs.data
    if ((p < 0) | (p > 1)).any():
        raise ValueError(
            "binary_cross_entropy: probs must lie in [0, 1]; pass logits to "
            "binary_cross_entropy_with_logits instead"
        )
    return BinaryCrossEntropy(as_array(_same_shape("binary_cross_entropy", probs, target)))(probs)


def mse_loss(y: TensorLike, t: TensorLike) -> Tensor:
    """Mean squared error, mean((y - t)^2) over all elements (PyTorch's mse_loss)."""
    y = as_tensor(y)
    return ((y - _same_shape("mse_loss", y, t)) ** 2).mean()


def sum_squared_error(y: TensorLike, t: TensorLike) -> Tensor:
    """0.5 * sum((y - t)^2): the study notes' "mean_squared_error" (E = 1/2 sum (y_k - t_k)^2)."""
    y = as_tensor(y)
    return 0.5 * ((y - _same_shape("sum_squared_error", y, t)) ** 2).sum()


def cross_entropy_error(y: TensorLike, t: TensorLike) -> Tensor:
    """The study notes' cross-entropy on probabilities: -sum(t * log(y + 1e-7)), averaged
    over the batch. ``y``: (N, C) or (C,) probabilities; ``t``: one-hot rows of the same
    shape, or class indices (N,). The 1e-7 keeps log away from log(0) = -inf."""
    y = as_tensor(y)
    t = as_array(t)
    if y.ndim == 1:
        y, t = y.reshape(1, -1), t.reshape(1, -1) if t.shape == y.shape else t.reshape(1)
    n = y.shape[0]
    if t.shape == y.shape:
        return -(t * (y + 1e-7).log()).sum() / n
    if t.shape != (n,):
        raise ValueError(
            f"cross_entropy_error: y has shape {y.shape} but t has shape {t.shape}; pass "
            f"one-hot rows of shape {y.shape} or class indices of shape ({n},)"
        )
    return -(y[np.arange(n), t] + 1e-7).log().sum() / n


def _same_shape(op: str, y: Tensor, t: TensorLike) -> Tensor | np.ndarray:
    """The target ``t``, checked to have the shape of the prediction ``y`` (a Tensor).

    A Tensor target stays a Tensor (so it can be differentiated); anything else becomes
    an array of ``y``'s float dtype, so float32 predictions give float32 losses.
    """
    if np.shape(t) != y.shape:
        raise ValueError(
            f"{op}: the prediction has shape {y.shape} but the target has shape "
            f"{np.shape(t)}; they must be equal"
        )
    if isinstance(t, Tensor):
        return t
    return np.asarray(t, dtype=y.dtype if y.dtype.kind == "f" else None)
