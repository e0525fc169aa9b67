"""Loss functions: one number that says how bad a prediction is, and why accuracy is not one.

A network learns by making a loss smaller. The loss compares the network's output y (here
softmax probabilities over 10 classes) with the one-hot label t. Two classic choices:

    sum of squared errors (SSE)    E = 1/2 * sum_k (y_k - t_k)^2
    cross-entropy error (CEE)      E = -sum_k t_k * log(y_k + 1e-7)

With a one-hot t the cross-entropy keeps a single term: -log(y of the correct class). It
is 0 when the network puts probability 1 on the right answer and grows without bound as
that probability goes to 0 (the 1e-7 stops log(0) = -inf). The notes' two predictions
for a "2" (t = [0,0,1,0,0,0,0,0,0,0]):

    y1 gives 0.6 to class 2 (right):   SSE 0.0975   CEE 0.510825457099338   (-log 0.6)
    y2 gives 0.6 to class 7 (wrong):   SSE 0.5975   CEE 2.302584092994546   (-log 0.1)

For a batch of N predictions the cross-entropy is averaged, E = -1/N sum_n sum_k t_nk
log y_nk, so that its size does not depend on N; t may also be the N class indices.

Why not maximise the accuracy directly? Learning nudges each weight by the derivative of
the loss with respect to it. Accuracy counts correct answers, so a small nudge to a
weight almost never changes it: it moves only when some sample crosses the decision
boundary, and then it jumps by 1/N. As a function of one weight, accuracy is a staircase
whose derivative is 0 almost everywhere (and undefined at the steps): a gradient of 0
says "no direction is better", and learning stops. The cross-entropy changes smoothly
with every weight, even when no prediction flips, so its derivative always says which
way to go. (The same reason the step function is useless as an activation.) This script
sweeps one weight of a small classifier and takes numerical derivatives of both.

    python examples/loss_functions.py               # the numbers; pictures in out/
"""

import numpy as np
from _common import figure_dpi, make_parser, new_figure, save_figure

import tinygrad_edu.functional as F
from tinygrad_edu import metrics
from tinygrad_edu.numerical import numerical_diff

# The notes' label (class 2) and two predictions: y1 says "2" (0.6), y2 says "7" (0.6).
T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
Y1 = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
Y2 = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])


# ------------------------------------------------------- accuracy versus one weight


def toy_classifier(n=20, seed=0):
    """A 2-class problem in 2-D and a linear softmax classifier with one free weight w.

    logits = x @ W with W = [[0, w], [0, 0.5]], so class 1 wins when w*x0 + 0.5*x1 > 0.
    The labels follow x0 + 0.5*x1 > 0, with 3 of them flipped (noise).
    Returns functions w -> accuracy and w -> cross-entropy.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    t = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    t[:3] = 1 - t[:3]

    def probabilities(w):
        W = np.array([[0.0, w], [0.0, 0.5]])
        return F.softmax(x @ W).numpy()  # (n, 2), each row sums to 1

    def accuracy(w):
        return metrics.accuracy(t, probabilities(w))  # argmax of each row vs the label

    def cross_entropy(w):
        return F.cross_entropy_error(probabilities(w), t).item()  # labels as indices

    return accuracy, cross_entropy, n


def sweep(n_points):
    """Accuracy and cross-entropy and their numerical derivatives along w in [-3, 3]."""
    accuracy, cross_entropy, n = toy_classifier()
    ws = np.linspace(-3, 3, n_points)
    result = {"w": ws, "n_samples": n}
    for name, f in (("accuracy", accuracy), ("cross_entropy", cross_entropy)):
        result[name] = np.array([f(w) for w in ws])
        result[f"d_{name}"] = np.array([numerical_diff(f, w) for w in ws])  # h = 1e-4
    return result


# --------------------------------------------------------------------- pictures


def draw_predictions(fig):
    ax_log, ax_bars = fig.subplots(1, 2)
    p = np.linspace(0.001, 1, 500)
    ax_log.plot(p, -np.log(p), label="-log(y)")
    for name, y, color in (("y1", Y1, "C2"), ("y2", Y2, "C3")):
        ax_log.plot(y[2], -np.log(y[2]), "o", color=color, label=f"{name}: y[2] = {y[2]}")
    ax_log.set(
        title="cross-entropy = -log(probability of the right class)",
        xlabel="y of the correct class",
        ylabel="loss",
        ylim=(0, 5),
    )
    ax_log.legend()
    classes = np.arange(10)
    ax_bars.bar(classes - 0.2, Y1, width=0.4, color="C2", label="y1")
    ax_bars.bar(classes + 0.2, Y2, width=0.4, color="C3", label="y2")
    ax_bars.plot(classes, T, "k_", markersize=20, label="t (one-hot: class 2)")
    ax_bars.set(title="the two predictions", xlabel="class", ylabel="probability", xticks=classes)
    ax_bars.legend()


def draw_sweep(fig, s):
    axes = fig.subplots(2, 2, sharex=True)
    axes[0, 0].step(s["w"], s["accuracy"], where="mid")
    axes[0, 0].set(title="accuracy: a staircase", ylabel="accuracy")
    axes[0, 1].plot(s["w"], s["cross_entropy"], color="C1")
    axes[0, 1].set(title="cross-entropy: smooth", ylabel="loss")
    axes[1, 0].plot(s["w"], s["d_accuracy"], ".", markersize=3)
    axes[1, 0].set(
        title="d accuracy / dw (numerical): 0, or a spike at a step",
        xlabel="weight w",
        ylabel="slope",
    )
    axes[1, 1].plot(s["w"], s["d_cross_entropy"], color="C1")
    axes[1, 1].axhline(0, color="gray", lw=0.5)
    axes[1, 1].set(title="d cross-entropy / dw (numerical)", xlabel="weight w", ylabel="slope")


def main(argv=None):
    args = make_parser("loss_functions", __doc__, "fewer weights in the sweep").parse_args(argv)

    print("t  =", T.tolist())
    losses = {}
    for name, y in (("y1", Y1), ("y2", Y2)):
        sse = F.sum_squared_error(y, T).item()
        cee = F.cross_entropy_error(y, T).item()
        losses[name] = {"sse": sse, "cee": cee}
        print(f"{name} = {y.tolist()}")
        print(f"     sum of squared errors {sse!r},  cross-entropy error {cee!r}")

    Y, T_batch = np.stack([Y1, Y2]), np.stack([T, T])
    batch = {
        "cee_one_hot": F.cross_entropy_error(Y, T_batch).item(),
        "cee_labels": F.cross_entropy_error(Y, np.array([2, 2])).item(),
        "sse": F.sum_squared_error(Y, T_batch).item(),
    }
    print(f"\nBatch of both, Y shape {Y.shape}:")
    print(f"  cross-entropy, one-hot t (2, 10):  {batch['cee_one_hot']!r}  (the mean of the two)")
    print(f"  cross-entropy, labels t = [2, 2]:  {batch['cee_labels']!r}")
    print(f"  sum of squared errors:             {batch['sse']!r}  (a sum: not averaged)")

    s = sweep(121 if args.quick else 601)
    n_points = len(s["w"])
    acc_zero = int((s["d_accuracy"] == 0).sum())
    ce_nonzero = int((np.abs(s["d_cross_entropy"]) > 1e-12).sum())
    levels = sorted(set(np.round(s["accuracy"], 10).tolist()))
    print(f"\nOne weight w of a {s['n_samples']}-sample classifier, {n_points} values in [-3, 3]:")
    print(f"  accuracy takes only {len(levels)} values: {levels}")
    print(f"  d accuracy / dw = 0 at {acc_zero} of {n_points} points")
    print(f"  d cross-entropy / dw != 0 at {ce_nonzero} of {n_points} points")
    if acc_zero < n_points:
        spike = (1 / s["n_samples"]) / (2 * 1e-4)
        print(f"  (elsewhere a sample flips within w +- h: a spike of (1/N)/2h = {spike:g})")

    figures = []
    fig = new_figure((11, 4.5), "loss picture")
    if fig is not None:
        draw_predictions(fig)
        figures.append(save_figure(fig, args.out / "cross_entropy.png", figure_dpi(args)))
    fig = new_figure((11, 7), "accuracy-versus-loss picture")
    if fig is not None:
        draw_sweep(fig, s)
        figures.append(save_figure(fig, args.out / "accuracy_vs_loss.png", figure_dpi(args)))
    return {
        "losses": losses,
        "batch": batch,
        "sweep_points": n_points,
        "accuracy_zero_derivatives": acc_zero,
        "cross_entropy_nonzero_derivatives": ce_nonzero,
        "accuracy_levels": levels,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
