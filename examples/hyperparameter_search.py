"""Random search of the learning rate and the weight decay (book figure 6-24).

The book's recipe: never tune hyperparameters on the test data (they would then fit the
test data, and its score would no longer measure anything); split a *validation* set off
the training data instead. Here: 500 MNIST training images, shuffled, 20 % (100) for
validation and 400 for training; a net of 6 hidden layers of 100 ReLU units, SGD with
mini-batches of 100 for 50 epochs. Each trial draws

    learning rate  lr = 10^u,  u uniform in (-6, -2)
    weight decay   lambda = 10^v,  v uniform in (-8, -4)   (the book's: on the weights only)

on a log scale (uniform in the exponent: 1e-5 is as likely as 1e-3, as the book advises),
trains a fresh net, and records the validation accuracy after each epoch. The trials are
then sorted, best first.

What the book finds, and this reproduces: the learning rate decides almost everything.
The best trials share a learning rate near the top of the range (about 1e-3 to 1e-2)
whatever their weight decay; below about 1e-4 the net does not get past chance (~0.1) in 50
epochs. The next step would be a narrower search around the best values.

    python examples/hyperparameter_search.py            # 100 trials (~30 s)
    python examples/hyperparameter_search.py --quick    # 10 trials (~4 s)
"""

import numpy as np
from _chapter6 import fit, multi_layer_net, sgd_decaying_weights
from _common import add_data_dir, figure_dpi, make_parser, panel_figure, save_figure

from tinygrad_edu.apps.common import load_data, run_main

TRAIN_SIZE, VALIDATION, HIDDEN, EPOCHS = 500, 0.2, [100] * 6, 50
LR_EXPONENTS, WEIGHT_DECAY_EXPONENTS = (-6, -2), (-8, -4)
SHOWN = 20  # the best this many trials are drawn (figure 6-24)


def split(x, t, rng):
    """Shuffle, then the first VALIDATION of the samples for validation:
    ((x_train, t_train), (x_val, t_val))."""
    order = rng.permutation(len(x))
    x, t = x[order], t[order]
    n = int(len(x) * VALIDATION)
    return (x[n:], t[n:]), (x[:n], t[:n])


def trial(lr, weight_decay, train, val, seed):
    """Train a fresh net; {"lr", "weight_decay", "train": accuracies, "val": accuracies}."""
    np.random.seed(seed)
    model = multi_layer_net(HIDDEN)
    optimizer = sgd_decaying_weights(model, lr, weight_decay)
    history = fit(model, optimizer, train, EPOCHS, seed=seed, evaluate={"train": train, "val": val})
    return {
        "lr": lr,
        "weight_decay": weight_decay,
        "train": history["train"],
        "val": history["val"],
    }


def draw(trials, args):
    """Figure 6-24: validation (solid) and training (dashed) accuracy of the best trials."""
    shown = trials[:SHOWN]
    fig, axes = panel_figure(len(shown), 5, (2.6, 2.1), "hyperparameter search curves")
    if fig is None:
        return None
    for rank, (ax, result) in enumerate(zip(axes, shown), start=1):
        ax.plot(result["val"], label="validation")
        ax.plot(result["train"], "--", label="train")
        ax.set_title(f"best-{rank}: val {result['val'][-1]:.2f}", fontsize="small")
        ax.set_ylim(0, 1.02)
    axes[0].legend(fontsize="x-small")
    fig.supxlabel("epoch")
    fig.supylabel("accuracy")
    return save_figure(fig, args.out / "hyperparameter_search.png", figure_dpi(args))


def main(argv=None, prog=None):
    p = make_parser("hyperparameter_search", __doc__, "10 trials instead of 100", prog=prog)
    add_data_dir(p)
    p.add_argument("--trials", type=int, help="number of random trials (default 100, 10 quick)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    if args.trials is None:
        args.trials = 10 if args.quick else 100
    if args.trials < 2:
        p.error("--trials must be at least 2")
    (x_train, t_train), _ = load_data(args.data_dir)  # the test set is not touched
    rng = np.random.default_rng(args.seed)
    train, val = split(x_train[:TRAIN_SIZE], t_train[:TRAIN_SIZE], rng)

    print(
        f"{args.trials} trials: {len(train[0])} training and {len(val[0])} validation images, "
        f"6 x 100 ReLU, SGD, {EPOCHS} epochs\n"
    )
    trials = []
    for i in range(1, args.trials + 1):
        lr = 10 ** rng.uniform(*LR_EXPONENTS)
        weight_decay = 10 ** rng.uniform(*WEIGHT_DECAY_EXPONENTS)
        result = trial(lr, weight_decay, train, val, args.seed)
        trials.append(result)
        if args.quick or i % 10 == 0:
            print(
                f"trial {i:3d}: val acc {result['val'][-1]:.3f} | lr {lr:.2e}, "
                f"weight decay {weight_decay:.2e}"
            )
    trials.sort(key=lambda result: result["val"][-1], reverse=True)

    print("\nthe best 5:")
    for rank, result in enumerate(trials[:5], start=1):
        print(
            f"best-{rank}: val acc {result['val'][-1]:.3f} | lr {result['lr']:.2e}, "
            f"weight decay {result['weight_decay']:.2e}"
        )
    worst = trials[-1]
    print(
        f"worst:  val acc {worst['val'][-1]:.3f} | lr {worst['lr']:.2e}, "
        f"weight decay {worst['weight_decay']:.2e}"
    )
    figure = draw(trials, args)
    return {"trials": trials, "figures": [figure] if figure else []}


if __name__ == "__main__":
    raise SystemExit(run_main(main))  # errors as one line, no traceback
