"""MNIST inference with saved weights: one image at a time versus batches.

Inference (the forward pass of a trained network) needs no gradients, so it runs under
``no_grad()``: nothing is recorded into a graph and each op is little more than its numpy
call. ``--weights`` takes an ``.npz`` file of one of three networks (``build_network``
tells them apart by their arrays' names): the flagship's (``tinygrad-edu train --out DIR``
writes DIR/mnist_two_layer.npz), the book's chapter-3 sigmoid network (its pre-trained
``sample_weight``, saved as .npz, classifies exactly 93.52% of the 10,000 test images), or
a ``TwoLayerNet``'s.

Per-sample versus batched: the book first classifies the test images one by one, a (784,)
vector through the network 10,000 times, then 100 at a time, a (100, 784) matrix through
it 100 times. The arithmetic and every prediction are the same, but a batch turns 100
small vector-matrix products into one matrix-matrix product: far fewer Python-level calls,
and numpy's matrix code works on big blocks. The study notes measured 0.438 s per-sample
against 0.091 s batched for the 10,000 images.

Run it as ``python examples/mnist_inference.py --weights W.npz`` or ``tinygrad-edu infer``.
"""

import time
from pathlib import Path

import numpy as np

from tinygrad_edu import nn, no_grad
from tinygrad_edu._plot import new_figure, save_figure
from tinygrad_edu.apps.common import ArgumentParser, load_data, run_main
from tinygrad_edu.models import ThreeLayerNet, TwoLayerNet, load_network

NO_WEIGHTS = (
    "--weights PATH is required: the .npz of a trained network; train the flagship "
    "(python examples/mnist_two_layer.py --out out/mnist_two_layer) and pass "
    "out/mnist_two_layer/mnist_two_layer.npz, or pass the book's pre-trained sample_weight "
    "saved as .npz (arrays W1, b1, W2, b2, W3, b3)"
)


def parse_args(argv=None, prog=None):
    p = ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, metavar="PATH", help=".npz of the trained weights")
    p.add_argument(
        "--data-dir", metavar="DIR", help="folder holding the four MNIST files (default: search)"
    )
    p.add_argument("--batch-size", type=int, default=100, help="images per batch")
    p.add_argument("--quick", action="store_true", help="only the first 1,000 test images")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for a picture of mistakes and timings (default: no picture)",
    )
    args = p.parse_args(argv)
    if args.weights is None:
        p.error(NO_WEIGHTS)
    p.check_int(args, "batch_size", 1)
    p.check_data_dir(args)
    p.check_out_folder(args)  # last: it creates the folder
    return args


def build_network(weights):
    """The network that saved arrays ``{name: ndarray}`` describe, in their dtype:

    * ``0.weight, 0.bias, 2.weight, 2.bias``: the flagship's Linear-ReLU-Linear
      ``nn.Sequential`` (``tinygrad-edu train --out DIR`` saves it);
    * ``W1, b1, W2, b2, W3, b3``: ``ThreeLayerNet``, e.g. the book's ``sample_weight``;
    * ``W1, b1, W2, b2``: ``TwoLayerNet``.
    """
    names = set(weights)
    shape = {name: array.shape for name, array in weights.items()}
    dtype = next(iter(weights.values())).dtype if weights else None
    if names == {"0.weight", "0.bias", "2.weight", "2.bias"}:
        (n_in, n_hidden), (_, n_out) = shape["0.weight"], shape["2.weight"]
        return nn.Sequential(
            nn.Linear(n_in, n_hidden, dtype=dtype),
            nn.ReLU(),
            nn.Linear(n_hidden, n_out, dtype=dtype),
        )
    if names == {"W1", "b1", "W2", "b2", "W3", "b3"}:
        return ThreeLayerNet(*shape["W1"], shape["W2"][1], shape["W3"][1], dtype=dtype)
    if names == {"W1", "b1", "W2", "b2"}:
        return TwoLayerNet(*shape["W1"], shape["W2"][1], dtype=dtype)
    raise ValueError(
        f"arrays {sorted(weights)} match no known network; expected the flagship's "
        f"['0.bias', '0.weight', '2.bias', '2.weight'], ThreeLayerNet's W1..b3 or "
        f"TwoLayerNet's W1..b2"
    )


def per_sample(model, x):
    """The book's first loop: one (784,) image per call. Returns predictions, seconds."""
    predictions = np.empty(len(x), dtype=np.int64)
    start = time.perf_counter()
    with no_grad():
        for i in range(len(x)):
            predictions[i] = np.argmax(model(x[i]).data)  # (784,) -> (10,) -> a digit
    return predictions, time.perf_counter() - start


def batched(model, x, batch_size):
    """The book's batched loop: (batch_size, 784) per call. Returns predictions, seconds."""
    predictions = np.empty(len(x), dtype=np.int64)
    start = time.perf_counter()
    with no_grad():
        for i in range(0, len(x), batch_size):
            y = model(x[i : i + batch_size])  # (B, 784) -> (B, 10)
            predictions[i : i + batch_size] = np.argmax(y.data, axis=1)  # a digit per row
    return predictions, time.perf_counter() - start


def check_mnist_shapes(model, path):
    """Make sure the network maps 784 pixels to 10 scores."""
    try:
        with no_grad():
            out = model(np.zeros((2, 784), dtype=np.float32))
    except ValueError as err:
        raise ValueError(f"{path}: the network does not take 784-pixel images ({err})") from None
    if out.shape != (2, 10):
        raise ValueError(f"{path}: the network gives {out.shape[1]} outputs per image, not 10")


def plot(path, x, t, predictions, times, batch_size):
    """Some misclassified test images, and the two timings."""
    fig = new_figure((12, 4.5), "picture of mistakes and timings")
    if fig is None:
        return None
    grid = fig.add_gridspec(3, 7)
    for k, i in enumerate(np.flatnonzero(predictions != t)[:12]):
        ax = fig.add_subplot(grid[k // 4, k % 4])
        ax.imshow(x[i].reshape(28, 28), cmap="gray_r")
        ax.set_title(f"true {t[i]}, said {predictions[i]}", fontsize=9)
        ax.axis("off")
    ax = fig.add_subplot(grid[:, 4:])
    labels = ["per-sample\n(1 image per call)", f"batched\n({batch_size} per call)"]
    ax.bar_label(ax.bar(labels, times, color=["tab:orange", "tab:green"]), fmt="%.3f s")
    ax.set(ylabel="seconds", title=f"inference over {len(x):,} test images")
    fig.suptitle("some misclassified test images", x=0.3)
    return save_figure(fig, path)


def main(argv=None, prog=None):
    args = parse_args(argv, prog)
    try:
        model = load_network(args.weights, build_network)
        check_mnist_shapes(model, args.weights)
    except OSError as err:  # missing, unreadable, a folder...
        raise SystemExit(
            f"{prog or 'mnist_inference.py'}: error: cannot read --weights {args.weights} "
            f"({err.strerror or err}); pass the .npz of a trained network, e.g. the "
            f"mnist_two_layer.npz that 'tinygrad-edu train --out DIR' writes into DIR"
        ) from None
    except ValueError as err:  # not an .npz of a known network (the message says which)
        raise SystemExit(f"{prog or 'mnist_inference.py'}: error: {err}") from None
    _, (x, t) = load_data(args.data_dir)
    if args.quick:
        x, t = x[:1000], t[:1000]
    print(f"network: {model!r}".replace("\n", " "))
    print(f"{len(x):,} test images{' (--quick: the first 1,000)' if args.quick else ''}\n")

    batched(model, x[:1000], args.batch_size)  # a warm-up run, so the timings are fair
    pred_one, time_one = per_sample(model, x)
    pred_batch, time_batch = batched(model, x, args.batch_size)
    acc_one, acc_batch = float(np.mean(pred_one == t)), float(np.mean(pred_batch == t))
    print(f"{'per-sample (1 image per call):':<36} Accuracy: {acc_one:.4f}   {time_one:.3f} s")
    label = f"batched ({args.batch_size} images per call):"
    print(f"{label:<36} Accuracy: {acc_batch:.4f}   {time_batch:.3f} s")
    same = bool(np.array_equal(pred_one, pred_batch))
    speedup = time_one / time_batch
    print(
        f"\nbatching was {speedup:.1f}x faster; the predictions are "
        f"{'identical' if same else 'NOT identical'} (the notes: 0.438 s vs 0.091 s)"
    )
    picture = None
    if args.out:
        times = (time_one, time_batch)
        picture = plot(args.out / "mnist_inference.png", x, t, pred_batch, times, args.batch_size)
    return {
        "network": type(model).__name__,
        "n_images": len(x),
        "accuracy_per_sample": acc_one,
        "accuracy_batched": acc_batch,
        "time_per_sample": time_one,
        "time_batched": time_batch,
        "same_predictions": same,
        "figures": [picture] if picture else [],
    }


if __name__ == "__main__":  # errors in one line, Ctrl-C as "interrupted" (exit 130)
    raise SystemExit(run_main(main))
