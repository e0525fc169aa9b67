"""Batch Normalization layers (chapter 6): ``BatchNorm1d`` and ``BatchNorm2d``.

In training mode a layer normalises each channel with the batch's mean and variance and
keeps running averages of them; in evaluation mode (``model.eval()``) it uses those
running averages, so one sample's output no longer depends on the rest of its batch.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import DTypeLike

from tinygrad_edu.functional.normalization import batch_norm
from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import Tensor, TensorLike, as_tensor


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share (PyTorch's ``_BatchNorm``); they differ only
    in the input shapes they accept (``expected_ranks``)."""

    expected_ranks: ClassVar[dict[int, str]] = {}  # rank -> shape, e.g. {4: "(N, C, H, W)"}
    running_mean: Tensor | None  # buffers (register_buffer), None without tracking
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        dtype: DTypeLike = np.float32,
        bias: bool = True,
    ):
        name = type(self).__name__
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        c = self.num_features
        # gamma and beta: start as the identity, y = x_hat
        self.weight = Tensor(np.ones(c, dtype), requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(c, dtype), requires_grad=True) if affine and bias else None
        # state that is not learned: saved by state_dict(), left alone by the optimizers
        keep = track_running_stats
        self.register_buffer("running_mean", Tensor(np.zeros(c, dtype)) if keep else None)
        self.register_buffer("running_var", Tensor(np.ones(c, dtype)) if keep else None)
        self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)) if keep else None)

    def forward(self, x: TensorLike) -> Tensor:
        x = as_tensor(x)
        self._check_input(x.shape)
        tracked = self.num_batches_tracked if self.training else None  # batches counted
        factor = 0.0 if self.momentum is None else self.momentum
        if tracked is not None and self.momentum is None:  # cumulative: 1/1, 1/2, 1/3, ...
            factor = 1.0 / (int(tracked.item()) + 1)
        y = self._name_errors(  # "BatchNorm1d(4, ...): batch_norm: ..."
            batch_norm,
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            # PyTorch's rule: the batch's statistics in training, and also in evaluation
            # when there are none kept (track_running_stats=False)
            training=self.training or self.running_mean is None,
            momentum=factor,
            eps=self.eps,
        )
        if tracked is not None:
            tracked += 1  # in place: the buffer itself counts
        return y

    def _check_input(self, shape: tuple[int, ...]) -> None:
        ranks = self.expected_ranks
        if len(shape) not in ranks:
            expected = " or ".join(f"{r}-D {s}" for r, s in ranks.items())
            raise ValueError(
                f"{self!r}: expected {expected} input, got shape {shape} ({len(shape)}-D)"
            )
        if shape[1] != self.num_features:
            raise ValueError(
                f"{self!r}: the input of shape {shape} has {shape[1]} channels on axis 1, "
                f"but the layer was built for num_features={self.num_features}"
            )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per feature C (PyTorch's
    ``nn.BatchNorm1d``): after a Linear layer, before its activation (the book's
    Affine -> BatchNorm -> ReLU).

    Args:
        num_features: C.
        eps: added to the variance before the square root.
        momentum: weight of the new batch in the running averages (None: a cumulative
            average over all batches so far).
        affine: learn weight (gamma, ones) and bias (beta, zeros), shape (C,).
        track_running_stats: keep the buffers running_mean (zeros), running_var (ones)
            and num_batches_tracked, and use them in eval mode; if False, every mode
            uses the batch's statistics.
        dtype: of the parameters and running statistics (keyword only; float32).
        bias: with affine, whether to learn beta too (keyword only, as in PyTorch).
    """

    expected_ranks: ClassVar[dict[int, str]] = {2: "(N, C)", 3: "(N, C, L)"}


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C over N, H and W
    (PyTorch's ``nn.BatchNorm2d``). The arguments are BatchNorm1d's."""

    expected_ranks: ClassVar[dict[int, str]] = {4: "(N, C, H, W)"}
