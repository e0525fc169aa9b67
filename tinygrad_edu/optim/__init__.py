"""Optimizers: update parameters in place from their gradients (``import tinygrad_edu.optim
as optim``).

- ``optim.optimizer``: ``Optimizer``, ``SGD`` (with momentum, Nesterov), ``Adagrad``,
  ``RMSprop``, ``Adam``, ``AdamW``;
- ``optim.lr_scheduler``: ``StepLR``, ``MultiStepLR``, ``ExponentialLR``,
  ``CosineAnnealingLR``, ``LinearLR``, which change the learning rate once per epoch.
"""

from tinygrad_edu.optim import lr_scheduler
from tinygrad_edu.optim.optimizer import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
