"""Batch Normalization against the weight initialisation (book figure 6-18).

The book's experiment: 1000 MNIST training images, a net of 5 hidden layers of 100 ReLU
units, SGD with lr 0.01 and mini-batches of 100 for 20 epochs, trained twice from the
same weights -- with and without a BatchNorm1d after every hidden Linear (the book's
Affine -> BatchNorm -> ReLU) -- for each of 16 weight scales: every weight drawn from
N(0, std^2), std log-spaced from 1 down to 1e-4. After each epoch, the accuracy on the
1000 training images (in eval mode: BatchNorm uses its running statistics).

What the book finds, and this reproduces: with Batch Normalization the net learns faster
at most scales. Without it, large weights blow the signal up (the loss overflows, the net
is stuck at chance), small ones make it vanish layer by layer (stuck at ~0.1 too), and only
a narrow band of scales learns at all (here about 0.1 to 0.3, around He's sqrt(2 / n) = 0.14
for the hidden layers' n = 100 inputs). BatchNorm rescales every
layer's outputs to mean 0 and variance 1 on each batch, so the scale of the weights
hardly matters -- until it is so small that PyTorch's eps = 1e-5, added to the variance,
outweighs it (the book's eps is 1e-6).

    python examples/batch_norm.py            # 16 scales x 20 epochs (~10 s)
    python examples/batch_norm.py --quick    # 6 scales x 20 epochs (~4 s)
"""

import numpy as np
from _chapter6 import fit, multi_layer_net
from _common import add_data_dir, figure_dpi, make_parser, panel_figure, save_figure

from tinygrad_edu import optim
from tinygrad_edu.apps.common import load_data, run_main

TRAIN_SIZE, HIDDEN, LR = 1000, [100] * 5, 0.01


def compare(std, x, t, args):
    """Train the net with and without BatchNorm from weights of scale ``std``; returns
    {"with BN": accuracies per epoch, "without BN": ...}."""
    curves = {}
    for name, batch_norm in (("with BN", True), ("without BN", False)):
        np.random.seed(args.seed)  # the same weights for both (BatchNorm draws none)
        model = multi_layer_net(HIDDEN, weight_std=std, batch_norm=batch_norm)
        optimizer = optim.SGD(model.parameters(), lr=LR)
        with np.errstate(all="ignore"):  # large scales overflow without BN, as in the book
            history = fit(model, optimizer, (x, t), args.epochs, seed=args.seed)
        curves[name] = history["train"]
    return curves


def draw(results, args):
    """Figure 6-18: one panel per weight scale, training accuracy per epoch."""
    fig, axes = panel_figure(len(results), 4, (3.2, 2.4), "batch normalization comparison")
    if fig is None:
        return None
    epochs = np.arange(1, args.epochs + 1)
    for ax, (std, curves) in zip(axes, results.items()):
        ax.plot(epochs, curves["with BN"], label="with BN")
        ax.plot(epochs, curves["without BN"], "--", label="without BN")
        ax.set_title(f"weight std {std:.2g}", fontsize="small")
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize="small")
    fig.supxlabel("epoch")
    fig.supylabel("training accuracy")
    return save_figure(fig, args.out / "batch_norm.png", figure_dpi(args))


def main(argv=None, prog=None):
    p = make_parser("batch_norm", __doc__, "6 weight scales instead of 16", prog=prog)
    add_data_dir(p)
    p.add_argument("--epochs", type=int, default=20, help="epochs per run (default 20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    (x_train, t_train), _ = load_data(args.data_dir)
    x, t = x_train[:TRAIN_SIZE], t_train[:TRAIN_SIZE]
    scales = np.logspace(0, -4, num=6 if args.quick else 16)

    print(
        f"{TRAIN_SIZE} training images, 5 x 100 ReLU, SGD lr {LR}, {args.epochs} epochs; "
        f"training accuracy after the last epoch:\n"
    )
    print(f"{'weight std':>10}  {'with BN':>8}  {'without BN':>10}")
    results, wins = {}, 0
    for std in scales:
        curves = compare(float(std), x, t, args)
        results[float(std)] = curves
        with_bn, without_bn = curves["with BN"][-1], curves["without BN"][-1]
        wins += with_bn > without_bn
        mark = "  <- BN ahead" if with_bn > without_bn else ""
        print(f"{std:10.2e}  {with_bn:8.3f}  {without_bn:10.3f}{mark}")
    print(f"\nBatch Normalization ends ahead at {wins} of {len(scales)} weight scales.")
    figure = draw(results, args)
    return {"curves": results, "bn_wins": wins, "figures": [figure] if figure else []}


if __name__ == "__main__":
    raise SystemExit(run_main(main))  # errors as one line, no traceback
