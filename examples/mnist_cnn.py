"""Chapter 7's convolutional network, trained on MNIST with Adam: 99 % in a few minutes.

The book's SimpleConvNet (conv 30 filters 5x5 -> ReLU -> max pool 2x2 -> affine 100 ->
ReLU -> affine 10) reaches about 98.9 % on the test set. This network keeps its first
layer and adds a second convolution (32 filters 3x3) with its own ReLU and pooling before
the affine layers, a small step towards the book's DeepConvNet (99.4 %), which reaches
99 % in 5 epochs:

    (N, 1, 28, 28) -> Conv2d(1, 30, 5)  -> ReLU -> MaxPool2d(2) -> (N, 30, 12, 12)
                   -> Conv2d(30, 32, 3) -> ReLU -> MaxPool2d(2) -> (N, 32, 5, 5)
                   -> Flatten -> Linear(800, 100) -> ReLU -> Linear(100, 10)

He initialisation (the first layer: the book's N(0, 0.01^2), so that its filters start
as faint noise), Adam (lr 0.001, /10 for the last third of the epochs), mini-batches of
100. After every epoch: the mean loss, the accuracy on 10,000 training images (as the
book's Trainer, to save time) and on the 10,000 test images. Then, in --out: the weights
(.npz), the test confusion matrix (CSV), the learning curves and the first layer's 30
filters before and after training (PNG, the book's figure 7-24).

The whole training loop is in ``train`` below. ``tinygrad-edu train --model cnn`` runs
this file too.

    python examples/mnist_cnn.py                  # full MNIST, 5 epochs
    python examples/mnist_cnn.py --out out/mnist_cnn
    python examples/mnist_cnn.py --quick          # a smoke run, a few seconds
"""

import math
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import tinygrad_edu.functional as F
from tinygrad_edu import metrics, nn, no_grad, optim
from tinygrad_edu._plot import new_figure, save_figure
from tinygrad_edu.apps.common import (
    ArgumentParser,
    load_data,
    run_main,
    write_training_outputs,
)
from tinygrad_edu.data import DataLoader

TRAIN_EVAL = 10_000  # training images scored after each epoch (the book's Trainer: a sample)


def parse_args(argv=None, prog=None):
    """The options, each checked here, before any data is loaded or any training starts:
    a bad value ends the run at once with a one-line error (exit status 2)."""
    p = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data-dir", metavar="DIR", help="folder holding the four MNIST files (default: search)"
    )
    p.add_argument("--epochs", type=int, default=5, help="passes over the training set")
    p.add_argument("--lr", type=float, default=0.001, help="Adam's learning rate (/10 at the end)")
    p.add_argument("--batch-size", type=int, default=100, help="mini-batch size")
    p.add_argument("--seed", type=int, default=0, help="random seed (weights and shuffling)")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for weights, curves, filters, confusion matrix (default: nothing is saved)",
    )
    p.add_argument(
        "--quick", action="store_true", help="a smoke run: 1 epoch on 1,000 training images"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = 1
    p.check_int(args, "epochs", 1)
    p.check_int(args, "batch_size", 1)
    p.check_positive(args, "lr")
    p.check_seed(args)
    p.check_data_dir(args)
    p.check_out_folder(args)  # last: it creates the folder
    return args


def build_model():
    """The network of the docstring; He-initialised from numpy's global generator."""
    return nn.Sequential(
        nn.Conv2d(1, 30, 5),  # (N, 1, 28, 28) -> (N, 30, 24, 24)
        nn.ReLU(),
        nn.MaxPool2d(2),  # -> (N, 30, 12, 12)
        nn.Conv2d(30, 32, 3),  # -> (N, 32, 10, 10)
        nn.ReLU(),
        nn.MaxPool2d(2),  # -> (N, 32, 5, 5)
        nn.Flatten(),  # -> (N, 800)
        nn.Linear(32 * 5 * 5, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )


def predict_labels(model, x, chunk=1_000):
    """Class predictions for (N, 1, 28, 28) images, in chunks to bound memory (im2col
    copies each image 25 times)."""
    with no_grad():
        return np.concatenate(
            [model(x[i : i + chunk]).data.argmax(axis=1) for i in range(0, len(x), chunk)]
        )


def train(args):
    """Train the CNN as ``args`` say; returns the model, the per-epoch history and the
    first layer's filters before training."""
    (x_train, t_train), (x_test, t_test) = load_data(args.data_dir)  # (N, 784) float32
    x_train, x_test = x_train.reshape(-1, 1, 28, 28), x_test.reshape(-1, 1, 28, 28)  # NCHW
    if args.quick:
        x_train, t_train = x_train[:1_000], t_train[:1_000]
    np.random.seed(args.seed)
    model = build_model()
    # The first layer starts as the book's SimpleConvNet does, N(0, 0.01^2) instead of He's
    # N(0, 2/25): small random filters, so that what training draws on them shows (7-24).
    nn.init.normal_(model[0].weight, std=0.01)
    first_filters = model[0].weight.data.copy()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(x_train, t_train, batch_size=args.batch_size, seed=args.seed)
    decay_after = math.ceil(2 * args.epochs / 3)  # the last third runs at lr / 10
    x_eval, t_eval = x_train[:TRAIN_EVAL], t_train[:TRAIN_EVAL]

    history = {"loss": [], "train_acc": [], "test_acc": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        if epoch == decay_after + 1:
            optimizer.lr = args.lr / 10
        losses = []
        for x_batch, t_batch in tqdm(
            loader, desc=f"epoch {epoch}", leave=False, ncols=78, disable=None
        ):
            loss = F.cross_entropy(model(x_batch), t_batch)  # forward: images -> loss
            optimizer.zero_grad()
            loss.backward()  # backward: through im2col's matrix products and col2im
            optimizer.step()
            losses.append(loss.item())
        history["loss"].append(float(np.mean(losses)))
        y_test = predict_labels(model, x_test)
        history["train_acc"].append(metrics.accuracy(t_eval, predict_labels(model, x_eval)))
        history["test_acc"].append(metrics.accuracy(t_test, y_test))
        print(
            f"epoch {epoch:2d}/{args.epochs}  loss {history['loss'][-1]:.4f}  "
            f"train acc, test acc | {history['train_acc'][-1]:.4f}, "
            f"{history['test_acc'][-1]:.4f}  ({time.perf_counter() - start:.1f} s in all)",
            flush=True,
        )
    figures = []
    if args.out:
        write_training_outputs(args.out, "mnist_cnn.npz", model, history, t_test, y_test)
        for name, filters in (("before", first_filters), ("after", model[0].weight.data)):
            path = args.out / f"filters_{name}.png"
            if plot_filters(filters, path, f"first layer's filters {name} training"):
                figures.append(path)
        if (args.out / "learning_curves.png").exists():
            figures.append(args.out / "learning_curves.png")
    print(f"final test accuracy: {history['test_acc'][-1]:.4f}")
    return model, history, figures


def plot_filters(filters, path, title):
    """The (F, 1, kh, kw) filters as a grid of small gray pictures, 10 per row, each
    scaled to its own range (dark: large weights), as the book's figure 7-24."""
    fig = new_figure((10, 1.1 * math.ceil(len(filters) / 10) + 0.4), "filter picture")
    if fig is None:
        return False
    rows = math.ceil(len(filters) / 10)
    axes = fig.subplots(rows, 10, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(filters):
            ax.imshow(filters[i, 0], cmap="gray_r", interpolation="nearest")
    fig.suptitle(title)
    save_figure(fig, path)
    return True


def main(argv=None, prog=None):
    args = parse_args(argv, prog)
    model, history, figures = train(args)
    if not args.out:
        print(
            "nothing was saved: pass --out DIR to keep the weights, the confusion matrix, "
            "the learning curves and the pictures of the filters",
            file=sys.stderr,
        )
    return {"model": model, "history": history, "figures": figures}


if __name__ == "__main__":  # errors in one line, Ctrl-C as "interrupted" (exit 130)
    raise SystemExit(run_main(main))
