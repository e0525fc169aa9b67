"""What the chapter-6 examples share: the book's ``MultiLayerNet`` / ``MultiLayerNetExtend``
(a stack of fully connected layers, optionally with Batch Normalization and Dropout), SGD
with the book's weight decay, the accuracy of a model, and the book's ``Trainer`` (epochs
of mini-batches, accuracies after each).

The book builds these in common/multi_layer_net.py, multi_layer_net_extend.py and
trainer.py; here they are a few lines on top of ``nn.Sequential`` and ``DataLoader``.
"""

import numpy as np

import tinygrad_edu.functional as F
from tinygrad_edu import metrics, nn, no_grad, optim
from tinygrad_edu.data import DataLoader


def multi_layer_net(
    hidden_sizes, weight_std="he", batch_norm=False, dropout=0.0, input_size=784, output_size=10
):
    """The book's MultiLayerNet(Extend): for each size in ``hidden_sizes``,
    Linear -> [BatchNorm1d] -> ReLU -> [Dropout], then a Linear to ``output_size`` scores.

    ``weight_std``: "he" (N(0, 2 / n) for n inputs per unit, the book's default for ReLU),
    or a number, the standard deviation of every layer's weights (the book's
    ``weight_init_std=0.01``). Biases start at 0. Draws from numpy's global generator:
    seed it with ``np.random.seed``. (N, input_size) -> (N, output_size).
    """

    def linear(n_in, n_out):
        if weight_std == "he":
            return nn.Linear(n_in, n_out, init="he")
        return nn.Linear(n_in, n_out, init=lambda w: nn.init.normal_(w, std=weight_std))

    layers, n = [], input_size
    for size in hidden_sizes:
        layers.append(linear(n, size))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        n = size
    layers.append(linear(n, output_size))
    return nn.Sequential(*layers)


def sgd_decaying_weights(model, lr, weight_decay):
    """SGD with the book's weight decay: 0.5 * weight_decay * ||W||^2 added to the loss for
    every Linear layer's weight matrix W, not for the biases (nor BatchNorm's parameters).
    Its gradient, weight_decay * W, is what PyTorch's ``SGD(..., weight_decay=...)`` adds
    to the gradient; two parameter groups restrict it to the weight matrices (PyTorch code
    often decays every parameter instead)."""
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    others = [p for p in model.parameters() if all(p is not w for w in weights)]
    groups = [{"params": weights, "weight_decay": weight_decay}, {"params": others}]
    return optim.SGD(groups, lr=lr)


def accuracy(model, x, t, chunk=10_000):
    """The fraction of ``x``'s rows whose highest score is the label ``t``, computed in
    evaluation mode (Dropout off, BatchNorm with its running statistics), as the book's
    ``network.accuracy`` does; the model goes back to training mode afterwards."""
    model.eval()
    with no_grad(), np.errstate(all="ignore"):  # a diverged model's NaN scores: accuracy ~0.1
        labels = np.concatenate(
            [model(x[i : i + chunk]).data.argmax(axis=1) for i in range(0, len(x), chunk)]
        )
    model.train()
    return metrics.accuracy(t, labels)


def fit(model, optimizer, train, epochs, batch_size=100, seed=0, evaluate=None):
    """The book's Trainer: ``epochs`` passes over ``train`` = (x, t) in shuffled mini-batches,
    one ``optimizer.step()`` per batch; after each epoch, the accuracy on each data set of
    ``evaluate`` ({name: (x, t)}, default {"train": train}).

    Returns {"loss": [one per step], name: [one accuracy per epoch], ...}.
    """
    evaluate = evaluate or {"train": train}
    history = {"loss": [], **{name: [] for name in evaluate}}
    loader = DataLoader(*train, batch_size=batch_size, seed=seed)
    for _ in range(epochs):
        for x_batch, t_batch in loader:
            loss = F.cross_entropy(model(x_batch), t_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history["loss"].append(loss.item())
        for name, (x, t) in evaluate.items():
            history[name].append(accuracy(model, x, t))
    return history
