"""Logistic regression: a straight-line classifier trained with binary cross-entropy.

The model. For a point x = (x1, x2) the classifier computes a score, the *logit*

    z = w . x + b

and turns it into the probability of class 1 with the sigmoid, p = sigmoid(z) =
1 / (1 + exp(-z)). It predicts class 1 when p >= 0.5, that is when z >= 0: the decision
boundary w1 x1 + w2 x2 + b = 0 is a straight line.

The loss. For a label t in {0, 1}, binary cross-entropy is

    L = -[t log p + (1 - t) log(1 - p)]

(small when the model gives the true class a high probability), averaged over the batch.
Two ways to compute it:

* ``F.binary_cross_entropy(F.sigmoid(z), t)``: first the probabilities, then the loss,
  exactly as written. When z is large, p rounds to 1.0 and log(1 - p) = log(0) is -inf.
* ``F.binary_cross_entropy_with_logits(z, t)``: the same number computed from z directly,
  rearranged so nothing overflows (max(z, 0) - z t + log(1 + exp(-|z|))). Its gradient is
  simply (sigmoid(z) - t) / N. Use this one for training.

Training. Gradient descent on w and b, by backpropagation, with Adam (default) or SGD.

Evaluation on held-out data. Two Gaussian blobs that overlap a little, so no line is
perfect; a quarter of the points are kept aside as a test set and the others train. On the
test set: accuracy, precision (of the points called 1, how many are 1), recall (of the real
1s, how many were found), F1 (their harmonic mean), ROC-AUC (the chance that a random
class-1 point scores higher than a random class-0 point; it uses the scores, not the
0/1 decisions) and the confusion matrix, all from ``tinygrad_edu.metrics``.

    python examples/logistic_regression.py
    python examples/logistic_regression.py --optimizer sgd --lr 0.5
"""

import numpy as np
from _common import figure_dpi, make_parser, new_figure, save_figure

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, metrics, nn, no_grad, optim

MEANS = np.array([[-1.0, -1.0], [1.5, 1.0]])  # centre of class 0, centre of class 1
STD = 1.0  # both blobs; the centres are about 3.2 apart, so the tails overlap


def parse_args(argv=None):
    p = make_parser("logistic_regression", __doc__)
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", help="default adam")
    p.add_argument("--lr", type=float, default=0.05, help="learning rate (default 0.05)")
    p.add_argument("--steps", type=int, default=300, help="full-batch steps (default 300)")
    args = p.parse_args(argv)
    if args.lr <= 0:
        p.error("--lr must be positive")
    if args.steps < 1:
        p.error("--steps must be at least 1")
    return args


def make_blobs(rng, n_per_class):
    """2 * n_per_class points: x of shape (N, 2) float64, labels t of shape (N,) in {0, 1}."""
    x = np.concatenate([rng.normal(mean, STD, size=(n_per_class, 2)) for mean in MEANS])
    t = np.repeat([0, 1], n_per_class)
    return x, t


def train_test_split(rng, x, t, test_fraction=0.25):
    """Shuffle, then keep the first ``test_fraction`` of the points for testing."""
    order = rng.permutation(len(x))
    n_test = round(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return (x[train], t[train]), (x[test], t[test])


def logits(model, x):
    """z = x @ w + b for every row: (N, 2) -> (N,)."""
    return model(Tensor(x)).reshape(-1)


def train(model, x, t, optimizer, steps):
    """Full-batch training on the logits loss; returns the loss after every step."""
    target = t.astype(np.float64)  # BCE wants float targets (0.0 / 1.0)
    losses = []
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(logits(model, x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def signed(value):
    """ "+ 1.234" or "- 1.234", for writing an equation."""
    return f"{'-' if value < 0 else '+'} {abs(value):.3f}"


def evaluate(t_true, scores):
    """All the metrics, for labels t_true and probabilities ``scores`` of class 1."""
    t_pred = (scores >= 0.5).astype(int)
    return {
        "accuracy": metrics.accuracy(t_true, t_pred),
        "precision": metrics.precision(t_true, t_pred),
        "recall": metrics.recall(t_true, t_pred),
        "f1": metrics.f1_score(t_true, t_pred),
        "roc_auc": metrics.roc_auc(t_true, scores),
        "confusion_matrix": metrics.confusion_matrix(t_true, t_pred, num_classes=2),
    }


def plot(path, dpi, model, train_set, test_set, losses, roc):
    """Points and decision boundary; the loss curve; the ROC curve."""
    fig = new_figure((14, 4.2), "logistic-regression picture")
    if fig is None:
        return None
    ax_data, ax_loss, ax_roc = fig.subplots(1, 3)
    (x_train, t_train), (x_test, t_test) = train_set, test_set
    everything = np.concatenate([x_train, x_test])
    lo, hi = everything.min(axis=0) - 0.5, everything.max(axis=0) + 0.5
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    with no_grad():
        p = logits(model, np.c_[g1.ravel(), g2.ravel()]).sigmoid().numpy().reshape(g1.shape)
    shading = ax_data.contourf(g1, g2, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35)
    fig.colorbar(shading, ax=ax_data, label="p(class 1)")
    ax_data.contour(g1, g2, p, levels=[0.5], colors="k", linewidths=2)
    for cls, color in ((0, "tab:blue"), (1, "tab:red")):
        ax_data.scatter(*x_train[t_train == cls].T, s=10, c=color, alpha=0.5, label=f"train {cls}")
        ax_data.scatter(
            *x_test[t_test == cls].T, s=28, c=color, marker="^", edgecolors="k", label=f"test {cls}"
        )
    ax_data.set(xlabel="x1", ylabel="x2", title="decision boundary w.x + b = 0 (black)")
    ax_data.legend(fontsize=8, loc="upper left")
    ax_loss.plot(losses)
    ax_loss.set(xlabel="step", ylabel="binary cross-entropy (train)", title="loss")
    fpr, tpr, auc = roc
    ax_roc.plot(fpr, tpr, label=f"AUC = {auc:.3f}")
    ax_roc.plot([0, 1], [0, 1], "k--", label="guessing")
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax_roc.legend(loc="lower right")
    return save_figure(fig, path, dpi=dpi)


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    x, t = make_blobs(rng, 100 if args.quick else 400)
    (x_train, t_train), (x_test, t_test) = train_test_split(rng, x, t)
    print(f"{len(x_train)} training and {len(x_test)} test points, two classes")

    model = nn.Linear(2, 1, dtype=np.float64)  # z = x @ w + b, w of shape (2, 1)
    model.weight.data[...] = 0.0  # start from w = 0, b = 0: p = 0.5 everywhere, loss ln 2
    if args.optimizer == "adam":
        optimizer = optim.Adam(model.parameters(), lr=args.lr)
    else:
        optimizer = optim.SGD(model.parameters(), lr=args.lr)
    steps = min(args.steps, 150) if args.quick else args.steps
    losses = train(model, x_train, t_train, optimizer, steps)

    w, b = model.weight.numpy()[:, 0], model.bias.item()
    print(f"after {steps} {args.optimizer} steps: loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    print(f"decision boundary: {w[0]:.3f} x1 {signed(w[1])} x2 {signed(b)} = 0")

    # The two losses agree: logits + BCE-with-logits = sigmoid + BCE on probabilities.
    with no_grad():
        z = logits(model, x_test)
        target = t_test.astype(np.float64)
        from_logits = F.binary_cross_entropy_with_logits(z, target).item()
        from_probs = F.binary_cross_entropy(F.sigmoid(z), target).item()
    print(f"test loss: with_logits(z, t) = {from_logits:.6f}, on sigmoid(z) = {from_probs:.6f}")

    scores = z.sigmoid().numpy()
    results = evaluate(t_test, scores)
    print("\ntest set:")
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        print(f"  {name:<10} {results[name]:.4f}")
    cm = results["confusion_matrix"]
    print("  confusion matrix (rows: true class, columns: predicted class):")
    print(f"              pred 0  pred 1\n    true 0  {cm[0, 0]:>6}  {cm[0, 1]:>6}")
    print(f"    true 1  {cm[1, 0]:>6}  {cm[1, 1]:>6}")

    fpr, tpr, _ = metrics.roc_curve(t_test, scores)
    print()
    png = plot(
        args.out / "logistic_regression.png",
        figure_dpi(args),
        model,
        (x_train, t_train),
        (x_test, t_test),
        losses,
        (fpr, tpr, results["roc_auc"]),
    )
    return {
        **results,
        "w": w.copy(),
        "b": b,
        "losses": losses,
        "test_loss_with_logits": from_logits,
        "test_loss_on_probs": from_probs,
        "t_test": t_test,
        "scores": scores,
        "figures": [png] if png else [],
    }


if __name__ == "__main__":
    main()
