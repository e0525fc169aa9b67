"""Mini-batches for training: the ``DataLoader``.

Training on the whole data set at once is slow, so each step uses a small random
mini-batch. One pass over all samples is an *epoch*.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike


def _check_batch_size(batch_size: int) -> None:
    """Raise ValueError unless ``batch_size`` is a positive integer (``bool`` is not)."""
    is_integer = isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool)
    if not is_integer or batch_size < 1:
        raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")


class DataLoader:
    """Iterate over ``(x_batch, t_batch)`` mini-batches, one epoch per ``for`` loop.

    Args:
        x: inputs, shape (N, ...), e.g. (60000, 784) for flattened MNIST images.
        t: targets, shape (N, ...), e.g. labels (N,) or one-hot rows (N, 10).
        batch_size: samples per batch, B.
        shuffle: if True, visit the samples in a new random order every epoch;
            if False, in their original order.
        seed: seed for ``np.random.default_rng``. The generator is created once, here, so a
            seed makes the whole sequence of epochs reproducible (each epoch still differs).
        drop_last: if True, skip the last batch when it has fewer than B samples.

    Every ``iter(loader)`` (every ``for`` loop) starts a new epoch in which each sample
    appears exactly once (at most once with ``drop_last=True``). Each batch is a pair of numpy
    arrays of shapes (B, ...) -- the last one may be smaller. Without shuffling the batches
    are views (slices) of ``x`` and ``t``; with shuffling they are copies.

    Example::

        loader = DataLoader(x_train, t_train, batch_size=100, seed=0)
        for epoch in range(10):
            for x_batch, t_batch in loader:
                grads = network.gradient(x_batch, t_batch)

    The book's one-line alternative draws a random batch each step, *with* replacement,
    so one "epoch" of steps may skip some samples and repeat others::

        batch_mask = np.random.choice(train_size, batch_size)
        x_batch = x_train[batch_mask]
        t_batch = t_train[batch_mask]
    """

    x: np.ndarray  # all inputs, shape (N, ...)
    t: np.ndarray  # all targets, shape (N, ...)
    batch_size: int
    shuffle: bool
    drop_last: bool
    rng: np.random.Generator  # draws each epoch's order

    def __init__(
        self,
        x: ArrayLike,
        t: ArrayLike,
        batch_size: int = 100,
        shuffle: bool = True,
        seed: int | None = None,
        drop_last: bool = False,
    ):
        x = np.asarray(x)
        t = np.asarray(t)
        if x.ndim == 0 or t.ndim == 0 or len(x) != len(t):
            raise ValueError(
                f"DataLoader: x has shape {x.shape} but t has shape {t.shape}; "
                f"they must have the same number of samples (first dimension)"
            )
        if len(x) == 0:
            raise ValueError(f"DataLoader: the data set is empty (x has shape {x.shape})")
        _check_batch_size(batch_size)

        self.x = x
        self.t = t
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Number of batches per epoch: ceil(N / B), or floor(N / B) with ``drop_last``."""
        num_samples = len(self.x)
        if self.drop_last:
            return num_samples // self.batch_size
        return (num_samples + self.batch_size - 1) // self.batch_size  # ceil(N / B)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Start a new epoch: draw the order of the samples now, then yield the batches."""
        order = self.rng.permutation(len(self.x)) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the batches of one epoch; ``order`` is a permutation of 0..N-1, or None."""
        for i in range(len(self)):
            start = i * self.batch_size
            stop = start + self.batch_size
            if order is None:
                yield self.x[start:stop], self.t[start:stop]
            else:
                batch_mask = order[start:stop]
                yield self.x[batch_mask], self.t[batch_mask]
