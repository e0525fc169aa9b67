"""Learning rate schedules: change the optimizer's learning rate as training goes on.

As in PyTorch (``torch.optim.lr_scheduler``), a scheduler is built on an optimizer and
stepped once per epoch, after that epoch's ``optimizer.step()`` calls::

    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)    # optimizer.step() on every batch
        scheduler.step()                     # then the learning rate of the next epoch

Building the scheduler sets the learning rate of epoch 0 (``LinearLR`` starts below the
optimizer's; the others keep it), remembers each group's starting rate as
``group["initial_lr"]`` (the ``base_lrs``) and sets ``last_epoch = 0``; each ``step()``
adds 1 to ``last_epoch`` and writes the new rate into every ``group["lr"]``.
``get_last_lr()`` gives the rates now in use, one per parameter group.

Each docstring gives the rate at epoch t in closed form. Like PyTorch, ``step()``
computes it from the previous rate (the "chainable" form: lr_t = lr_{t-1} * factor), so
two schedulers on one optimizer multiply their effects, and a rate changed by hand is
carried forward; without such changes both forms give the same numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tinygrad_edu.optim.optimizer import Optimizer, as_python, require


class LRScheduler:
    """Base class: a subclass defines ``get_lr``, the rates of epoch ``last_epoch``."""

    optimizer: Optimizer
    base_lrs: list[float]  # each group's learning rate before scheduling ("initial_lr")
    last_epoch: int  # the epoch whose rate is in use: 0 after construction
    _step_count: int  # calls of step(), the one made at construction included
    _is_initial: bool  # True during the construction's step
    _last_lr: list[float]

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{name}: expected an optimizer (e.g. optim.SGD(model.parameters(), lr=0.1)), "
                f"got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{name}: param_groups[{i}] has no 'initial_lr', so the schedule cannot "
                    f"resume at last_epoch={last_epoch}; load the optimizer's state_dict "
                    f"saved with the scheduler first, or start with last_epoch=-1"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rate of every group for epoch ``last_epoch`` (called by
        ``step()``; to read the current rates use ``get_last_lr()``)."""
        raise NotImplementedError

    def step(self) -> None:
        """Move to the next epoch: call it once per epoch, after ``optimizer.step()``."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = as_python(lr)  # a Python float: numpy's would make float32 float64
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``, one per parameter group."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's attributes except the optimizer (as PyTorch's)."""
        return {key: value for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict()`` gave."""
        vars(self).update(state_dict)


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs:
    lr_t = base_lr * gamma^(t // step_size)."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ):
        self.step_size, self.gamma = step_size, gamma
        require(
            self,
            isinstance(step_size, int) and step_size >= 1,
            f"step_size must be a positive number of epochs, got {step_size!r}",
        )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each epoch listed in ``milestones``:
    lr_t = base_lr * gamma^(number of milestones <= t); a milestone listed twice
    counts twice."""

    milestones: Counter[int]

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ):
        self.milestones, self.gamma = Counter(milestones), gamma
        require(
            self,
            all(isinstance(m, int) for m in self.milestones),
            f"milestones must be epoch numbers (ints), got {sorted(self.milestones)}",
        )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: lr_t = base_lr * gamma^t."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    """Follow half a cosine from base_lr down to ``eta_min`` over ``T_max`` epochs
    (SGDR, Loshchilov & Hutter, 2017, without restarts):

        lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    After T_max epochs the rate climbs back up the cosine, as in PyTorch.
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ):
        self.T_max, self.eta_min = T_max, eta_min
        require(
            self,
            isinstance(T_max, int) and T_max >= 1,
            f"T_max must be a positive number of epochs, got {T_max!r}",
        )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:  # resumed at last_epoch = t: the closed form
            return [
                eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                for base in self.base_lrs
            ]
        if (t - 1 - T) % (2 * T) == 0:  # leaving the minimum, where the ratio below is 0/0
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for lr, base in zip(self._current_lrs(), self.base_lrs)
            ]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]


class LinearLR(LRScheduler):
    """Warm-up: scale the rate by a factor going linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs, then keep it:

        lr_t = base_lr * (start_factor + (end_factor - start_factor) * min(t, total_iters)
                                         / total_iters)

    so building it already lowers the optimizer's rate to base_lr * start_factor.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        require(
            self,
            0 < start_factor <= 1,
            f"start_factor must be in (0, 1], got {start_factor}",
        )
        require(self, 0 <= end_factor <= 1, f"end_factor must be in [0, 1], got {end_factor}")
        require(
            self,
            isinstance(total_iters, int) and total_iters >= 1,
            f"total_iters must be a positive number of epochs, got {total_iters!r}",
        )
        self.start_factor, self.end_factor, self.total_iters = (
            start_factor,
            end_factor,
            total_iters,
        )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or t > self.total_iters:
            return self._current_lrs()
        # factor_t / factor_{t-1}, the closed form's ratio from one epoch to the next
        ratio = 1 + (end - start) / (self.total_iters * start + (t - 1) * (end - start))
        return [lr * ratio for lr in self._current_lrs()]
