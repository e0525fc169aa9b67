"""Overfitting, and two cures: weight decay and Dropout (book figures 6-20 to 6-23).

The book's recipe for overfitting: few data and a big model. 300 MNIST training images, a
net of 7 layers (6 hidden layers of 100 ReLU units), SGD with lr 0.01 and mini-batches of
100, 200 epochs; after each epoch, the accuracy on the 300 training images and on the
10,000 test images. Three runs, from the same initial weights:

    no regularisation   the training accuracy reaches 1.0 while the test accuracy stops
                        far below: the net has learned the 300 images, not the digits
                        (figure 6-20)
    weight decay 0.1    the book adds 0.5 * lambda * ||W||^2 for every weight matrix W to
                        the loss, whose gradient is lambda * W; PyTorch's
                        ``SGD(..., weight_decay=lambda)`` adds exactly lambda * W to the
                        gradient, so it is the same update. The book decays the weights
                        only, not the biases: here a parameter group does the same
                        (figure 6-21)
    Dropout 0.2         ``nn.Dropout(0.2)`` after every hidden ReLU drops a random 20 % of
                        the units at each training step; evaluation uses them all
                        (PyTorch's inverted dropout scales the kept ones by 1 / 0.8 during
                        training, the book's scales by 0.8 at test time: the same
                        expected output) (figure 6-23)

What the book finds, and this reproduces: both cures shrink the gap between training and
test accuracy (the training accuracy no longer reaches 1.0). The test accuracy itself does
not improve here (it ends a little lower: the regularised nets also learn more slowly):
with 300 images, regularisation keeps the net from memorising; it cannot add data.

    python examples/overfitting_regularization.py            # 200 epochs (~30 s)
    python examples/overfitting_regularization.py --quick    # 100 epochs, 2,000 test images (~5 s)
"""

import numpy as np
from _chapter6 import fit, multi_layer_net, sgd_decaying_weights
from _common import add_data_dir, figure_dpi, make_parser, new_figure, save_figure

from tinygrad_edu.apps.common import load_data, run_main

TRAIN_SIZE, HIDDEN, LR = 300, [100] * 6, 0.01
WEIGHT_DECAY, DROPOUT = 0.1, 0.2
RUNS = {  # name -> (weight decay lambda, dropout probability)
    "no regularisation": (0.0, 0.0),
    f"weight decay {WEIGHT_DECAY}": (WEIGHT_DECAY, 0.0),
    f"dropout {DROPOUT}": (0.0, DROPOUT),
}


def run(weight_decay, dropout, train, test, args):
    """Train one net; returns {"loss": per step, "train": per epoch, "test": per epoch}."""
    np.random.seed(args.seed)  # the same initial weights for every run
    model = multi_layer_net(HIDDEN, dropout=dropout)
    optimizer = sgd_decaying_weights(model, LR, weight_decay)
    return fit(
        model,
        optimizer,
        train,
        args.epochs,
        seed=args.seed,
        evaluate={"train": train, "test": test},
    )


def draw(histories, args):
    """Figures 6-20, 6-21 and 6-23: training and test accuracy per epoch, one panel per run."""
    fig = new_figure((12, 3.8), "overfitting curves")
    if fig is None:
        return None
    epochs = np.arange(1, args.epochs + 1)
    for ax, (name, history) in zip(fig.subplots(1, len(histories), sharey=True), histories.items()):
        ax.plot(epochs, history["train"], label="train")
        ax.plot(epochs, history["test"], "--", label="test")
        ax.set(xlabel="epoch", ylim=(0, 1.02), title=name)
    fig.axes[0].set_ylabel("accuracy")
    fig.axes[0].legend(loc="lower right")
    return save_figure(fig, args.out / "overfitting.png", figure_dpi(args))


def main(argv=None, prog=None):
    p = make_parser(
        "overfitting_regularization", __doc__, "100 epochs, 2,000 test images", prog=prog
    )
    add_data_dir(p)
    p.add_argument("--epochs", type=int, help="epochs per run (default 200, 100 quick)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 100 if args.quick else 200
    if args.epochs < 10:
        p.error("--epochs must be at least 10")
    (x_train, t_train), (x_test, t_test) = load_data(args.data_dir)
    train = x_train[:TRAIN_SIZE], t_train[:TRAIN_SIZE]
    test = (x_test[:2000], t_test[:2000]) if args.quick else (x_test, t_test)

    last = args.epochs // 10  # the accuracies are averaged over the last tenth of the epochs
    print(
        f"{TRAIN_SIZE} training images, {len(test[0]):,} test images, 6 x 100 ReLU, "
        f"SGD lr {LR}, {args.epochs} epochs; mean accuracy of the last {last} epochs:\n"
    )
    print(f"{'':<20}{'train':>8}{'test':>8}{'gap':>8}")
    histories, gaps = {}, {}
    for name, (weight_decay, dropout) in RUNS.items():
        history = run(weight_decay, dropout, train, test, args)
        train_acc, test_acc = np.mean(history["train"][-last:]), np.mean(history["test"][-last:])
        histories[name], gaps[name] = history, float(train_acc - test_acc)
        print(f"{name:<20}{train_acc:8.3f}{test_acc:8.3f}{gaps[name]:8.3f}")
    plain, *cures = gaps
    smaller = [name for name in cures if gaps[name] < gaps[plain]]
    print(
        f"\nThe train-test gap shrinks with {' and with '.join(smaller) or 'neither cure'}"
        + (", as in the book." if len(smaller) == len(cures) else "; in the book, with both.")
    )
    figure = draw(histories, args)
    return {"histories": histories, "gaps": gaps, "figures": [figure] if figure else []}


if __name__ == "__main__":
    raise SystemExit(run_main(main))  # errors as one line, no traceback
