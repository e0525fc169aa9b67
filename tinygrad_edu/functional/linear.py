"""The affine layer y = x W + b as one op."""

from __future__ import annotations

from tinygrad_edu.ops import Function
from tinygrad_edu.tensor import Tensor, TensorLike, as_tensor


class Linear(Function):
    """y = x W + b as one op: the book's Affine layer.

    x: (..., in_features), W: (in_features, out_features), b: (out_features,) or None.
    Backward (chapter 5): dL/dx = g W^T, dL/dW = x^T g, dL/db = g summed over the batch,
    where g = dL/dy and a batch of several leading axes is treated as one long batch.
    """

    formula = "d(xW+b)/dx = grad @ W^T, d/dW = x^T @ grad, d/db = sum of grad over the batch"
    reads_output = False

    def forward(self, x, weight, bias=None):
        if x.shape[-1:] != weight.shape[:1]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit a weight of shape "
                f"{weight.shape}; the input's last axis must have {weight.shape[0]} features"
            )
        if bias is not None and bias.shape != weight.shape[1:]:
            raise ValueError(
                f"linear: a bias of shape {bias.shape} does not fit a weight of shape "
                f"{weight.shape}; it must have shape ({weight.shape[1]},), one per output"
            )
        y = x @ weight
        if bias is not None:
            y += bias  # y is a fresh array: add in place
        return y

    def backward(self, grad):
        x, weight = self.saved_inputs()[:2]
        need_x, need_w = self.needs_input_grad[:2]
        n_in, n_out = weight.shape
        grad_x = grad @ weight.T if need_x else None
        rows = grad.reshape(-1, n_out)  # (batch, out), also for one sample (out,)
        grad_w = x.reshape(-1, n_in).T @ rows if need_w else None
        if len(self.inputs) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, rows.sum(axis=0)


def linear(x: TensorLike, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight + bias, with weight of shape (in_features, out_features) as in the book."""
    x = as_tensor(x)
    return Linear()(x, weight) if bias is None else Linear()(x, weight, bias)
