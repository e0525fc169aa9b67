"""The flagship: a two-layer network (784 -> hidden -> 10, ReLU) trained on MNIST with SGD
(momentum 0.9 by default; --optimizer picks another).

As in the study notes (chapter 4's TwoLayerNet, trained with chapter 5's backpropagation):
epochs of mini-batches, a learning rate, and after every epoch the loss and the train /
test accuracy. Then, in --out, the learning curves (PNG, if matplotlib is installed), the
trained weights (.npz) and the test confusion matrix (CSV).

The whole training loop is in ``train`` below. ``tinygrad-edu train`` runs this file too.

    python examples/mnist_two_layer.py                 # full MNIST, default settings
    python examples/mnist_two_layer.py --epochs 1 --out out/
    python examples/mnist_two_layer.py --optimizer adam --scheduler cosine   # chapter 6
    python examples/mnist_two_layer.py --quick         # a smoke run, about a second
"""

import math
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import tinygrad_edu.functional as F
from tinygrad_edu import metrics, nn, no_grad, optim
from tinygrad_edu.apps.common import (
    HIDDEN_MAX,
    ArgumentParser,
    load_data,
    run_main,
    write_training_outputs,
)
from tinygrad_edu.data import DataLoader

# --optimizer NAME -> its learning rate when --lr is not given (the book's Momentum and
# SGD: the flagship's 0.1; the others: PyTorch's defaults, RMSprop's a tenth of it)
DEFAULT_LR = {
    "sgd": 0.1,
    "momentum": 0.1,
    "adagrad": 0.01,
    "rmsprop": 0.001,
    "adam": 0.001,
    "adamw": 0.001,
}
DEFAULT_MOMENTUM = 0.9
SCHEDULERS = ("step", "none", "cosine", "exponential")


def parse_args(argv=None, prog=None):
    """The options, each checked here, before any data is loaded or any training starts:
    a bad value ends the run at once with a one-line error (exit status 2)."""
    p = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data-dir", metavar="DIR", help="folder holding the four MNIST files (default: search)"
    )
    p.add_argument("--epochs", type=int, default=12, help="passes over the training set")
    p.add_argument("--hidden", type=int, default=256, help="hidden layer size")
    p.add_argument(
        "--optimizer",
        choices=list(DEFAULT_LR),
        default="momentum",
        help="momentum: SGD with --momentum (the book's Momentum); sgd: plain SGD (the "
        "book's SGD); adagrad, rmsprop, adam, adamw: optim.Adagrad, RMSprop, Adam, AdamW",
    )
    p.add_argument(
        "--lr",
        type=float,
        help="learning rate (default: 0.1 for sgd and momentum, 0.01 for adagrad, 0.001 "
        "for the others)",
    )
    p.add_argument(
        "--momentum",
        type=float,
        help=f"momentum of --optimizer momentum (default: {DEFAULT_MOMENTUM}; 0: plain SGD)",
    )
    p.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        default="step",
        help="learning rate schedule: step: lr / 10 for the last third of the epochs; "
        "cosine: down to 0 along a half cosine; exponential: times 0.1 ** (1 / epochs) "
        "after each epoch; none: constant",
    )
    p.add_argument("--batch-size", type=int, default=100, help="mini-batch size")
    p.add_argument("--seed", type=int, default=0, help="random seed (weights and shuffling)")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for curves, weights, confusion matrix (default: nothing is saved)",
    )
    p.add_argument(
        "--quick", action="store_true", help="a smoke run: 1 epoch on 10,000 training images"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = 1
    p.check_int(args, "epochs", 1)
    p.check_int(args, "hidden", 1, HIDDEN_MAX, " (a bigger layer only exhausts memory)")
    p.check_int(args, "batch_size", 1)
    if args.lr is None:
        args.lr = DEFAULT_LR[args.optimizer]
    p.check_positive(args, "lr")
    if args.momentum is None:
        args.momentum = DEFAULT_MOMENTUM if args.optimizer == "momentum" else 0.0
    elif args.optimizer != "momentum":
        p.error(f"--momentum is for --optimizer momentum, not {args.optimizer}")
    p.check_fraction(args, "momentum")
    p.check_seed(args)
    p.check_data_dir(args)
    p.check_out_folder(args)  # last: it creates the folder
    return args


def predict_labels(model, x, chunk=10_000):
    """Class predictions for (N, 784) images, computed in chunks to bound memory."""
    with no_grad():
        return np.concatenate(
            [model(x[i : i + chunk]).data.argmax(axis=1) for i in range(0, len(x), chunk)]
        )


def make_optimizer(args, params):
    """The optimizer that ``--optimizer`` names, with ``--lr`` (and ``--momentum``)."""
    if args.optimizer in ("sgd", "momentum"):  # sgd: args.momentum is 0
        return optim.SGD(params, lr=args.lr, momentum=args.momentum)
    kinds = {"adagrad": optim.Adagrad, "rmsprop": optim.RMSprop, "adam": optim.Adam}
    return {**kinds, "adamw": optim.AdamW}[args.optimizer](params, lr=args.lr)


def make_scheduler(args, optimizer):
    """The learning rate schedule that ``--scheduler`` names (None for "none"); it is
    stepped once after each epoch."""
    schedule = optim.lr_scheduler
    if args.scheduler == "step":  # one step: the last third runs at lr / 10
        return schedule.StepLR(optimizer, step_size=math.ceil(2 * args.epochs / 3), gamma=0.1)
    if args.scheduler == "cosine":
        return schedule.CosineAnnealingLR(optimizer, T_max=args.epochs)
    if args.scheduler == "exponential":
        return schedule.ExponentialLR(optimizer, gamma=0.1 ** (1 / args.epochs))
    return None


def train(args):
    """Train the flagship as ``args`` say; returns the model and the per-epoch history."""
    (x_train, t_train), (x_test, t_test) = load_data(args.data_dir)  # (N, 784) float32
    if args.quick:
        x_train, t_train = x_train[:10_000], t_train[:10_000]
    np.random.seed(args.seed)
    model = nn.Sequential(nn.Linear(784, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    optimizer = make_optimizer(args, model.parameters())
    scheduler = make_scheduler(args, optimizer)
    loader = DataLoader(x_train, t_train, batch_size=args.batch_size, seed=args.seed)

    history = {"loss": [], "train_acc": [], "test_acc": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        losses = []
        for x_batch, t_batch in tqdm(
            loader, desc=f"epoch {epoch}", leave=False, ncols=78, disable=None
        ):
            loss = F.cross_entropy(model(x_batch), t_batch)  # forward: scores -> loss
            optimizer.zero_grad()
            loss.backward()  # backward: d(loss)/d(every parameter)
            optimizer.step()  # W <- W - lr * (momentum-smoothed) gradient
            losses.append(loss.item())
        if scheduler is not None:
            scheduler.step()  # once per epoch: the learning rate of the next epoch
        history["loss"].append(float(np.mean(losses)))
        history["train_acc"].append(metrics.accuracy(t_train, predict_labels(model, x_train)))
        history["test_acc"].append(metrics.accuracy(t_test, predict_labels(model, x_test)))
        print(
            f"epoch {epoch:2d}/{args.epochs}  loss {history['loss'][-1]:.4f}  "
            f"train acc, test acc | {history['train_acc'][-1]:.4f}, "
            f"{history['test_acc'][-1]:.4f}  ({time.perf_counter() - start:.1f} s in all)",
            flush=True,
        )
    if args.out:
        y_test = predict_labels(model, x_test)
        write_training_outputs(args.out, "mnist_two_layer.npz", model, history, t_test, y_test)
    print(f"final test accuracy: {history['test_acc'][-1]:.4f}")
    return model, history


def main(argv=None, prog=None):
    args = parse_args(argv, prog)
    train(args)
    if not args.out:
        print(
            "nothing was saved: pass --out DIR to keep the weights, the confusion matrix "
            "and the learning curves",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":  # errors in one line, Ctrl-C as "interrupted" (exit 130)
    raise SystemExit(run_main(main))
