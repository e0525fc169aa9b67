"""MNIST inference with saved weights: one image at a time versus batches.

Inference (the forward pass of a trained network) needs no gradients, so it runs under
``tinygrad_edu.no_grad()``: nothing is recorded into a graph and each op is little more
than its numpy call.

Which weights. ``--weights`` takes an ``.npz`` file (loaded with ``allow_pickle=False``,
because unpickling can run arbitrary code). Three layouts are recognised by their keys:

* ``0.weight, 0.bias, 2.weight, 2.bias``: the flagship's Linear-ReLU-Linear network,
  saved by ``python examples/mnist_two_layer.py --out DIR`` as DIR/mnist_two_layer.npz;
* ``W1, b1, W2, b2, W3, b3``: the book's 3-layer sigmoid network of chapter 3,

      y = softmax(sigmoid(sigmoid(x @ W1 + b1) @ W2 + b2) @ W3 + b3),

  e.g. the book's pre-trained ``sample_weight`` (saved as .npz), which classifies
  exactly 93.52% of the 10,000 test images correctly;
* ``W1, b1, W2, b2``: ``tinygrad_edu.models.TwoLayerNet`` (ReLU), saved with ``.save()``.

Per-sample versus batched. The book first classifies the test images one by one, a
(784,) vector through the network 10,000 times, then 100 at a time, a (100, 784) matrix
through it 100 times. The arithmetic is the same and so is every prediction, but a
batch turns 100 small vector-matrix products into one matrix-matrix product: far fewer
Python-level calls, and numpy's optimised matrix code works on big blocks. The study
notes measured 0.438 s per-sample against 0.091 s batched for the 10,000 images.

    python examples/mnist_inference.py --weights sample_weight.npz
    python examples/mnist_inference.py --weights out/mnist_two_layer/mnist_two_layer.npz
"""

import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
from _common import figure_dpi, make_parser, new_figure, save_figure

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, no_grad
from tinygrad_edu.datasets import SampleDataWarning, load_mnist
from tinygrad_edu.models import TwoLayerNet

FLAGSHIP_KEYS = {"0.weight", "0.bias", "2.weight", "2.bias"}
BOOK_KEYS = {"W1", "b1", "W2", "b2", "W3", "b3"}
TWO_LAYER_NET_KEYS = {"W1", "b1", "W2", "b2"}

NO_WEIGHTS = (
    "--weights PATH is required: the .npz of a trained network. Train the flagship "
    "(python examples/mnist_two_layer.py --out out/mnist_two_layer) and pass "
    "out/mnist_two_layer/mnist_two_layer.npz, or pass the book's pre-trained "
    "sample_weight saved as .npz (arrays W1, b1, W2, b2, W3, b3)"
)


class WeightsError(Exception):
    """The --weights file cannot be used."""


def parse_args(argv=None):
    p = make_parser("mnist_inference", __doc__, quick_help="use only the first 1,000 test images")
    p.add_argument("--weights", metavar="PATH", help="the .npz file of the trained weights")
    p.add_argument("--data-dir", help="folder holding the four MNIST files (default: search)")
    p.add_argument("--batch-size", type=int, default=100, help="images per batch (default 100)")
    args = p.parse_args(argv)
    if args.weights is None:
        p.error(NO_WEIGHTS)
    if args.batch_size < 1:
        p.error("--batch-size must be at least 1")
    return args


# ------------------------------------------------------------------ the networks


def book_predict(network, x):
    """The book's ``predict(network, x)``: two sigmoid layers, then softmax."""
    W1, W2, W3 = network["W1"], network["W2"], network["W3"]
    b1, b2, b3 = network["b1"], network["b2"], network["b3"]
    a1 = Tensor(x) @ W1 + b1
    z1 = F.sigmoid(a1)
    a2 = z1 @ W2 + b2
    z2 = F.sigmoid(a2)
    a3 = z2 @ W3 + b3
    return F.softmax(a3)


def read_npz(path):
    """{name: array} from an .npz file, refusing pickles and pickled (object) arrays."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: {'not a file' if path.exists() else 'no such file'}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:1] == b"\x80":  # how a pickle starts (protocol 2 and later)
        raise WeightsError(
            f"{path} is a Python pickle, refused because unpickling can run arbitrary code. "
            f"If you trust it (e.g. the book's sample_weight.pkl), convert it once: "
            f"np.savez('sample_weight.npz', **pickle.load(open('sample_weight.pkl', 'rb')))"
        )
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # an .npz is a zip archive
        raise WeightsError(f"{path} is not an .npz file (a zip of arrays, made by np.savez)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as err:  # an object array inside: stored as a pickle
        raise WeightsError(
            f"{path} holds pickled (object) arrays, refused because unpickling can run "
            f"arbitrary code ({err})"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise WeightsError(f"{path} is a damaged .npz file ({err})") from None


def build_network(weights):
    """The network that these arrays belong to, recognised by their names.

    Returns ``(description, predict)``, where ``predict(x)`` maps one image (784,) to 10
    scores, or a batch (N, 784) to (N, 10); or None for names it does not know.
    """
    keys = set(weights)
    if keys == FLAGSHIP_KEYS:
        n_in, n_hidden = weights["0.weight"].shape
        n_out = weights["2.weight"].shape[1]
        dtype = weights["0.weight"].dtype
        model = nn.Sequential(
            nn.Linear(n_in, n_hidden, dtype=dtype),
            nn.ReLU(),
            nn.Linear(n_hidden, n_out, dtype=dtype),
        )
        model.load_state_dict(weights)
        return f"the flagship: {n_in} -> {n_hidden} (ReLU) -> {n_out}", model
    if keys == BOOK_KEYS:
        sizes = [weights["W1"].shape[0]] + [weights[f"W{i}"].shape[1] for i in (1, 2, 3)]
        network = {name: Tensor(array) for name, array in weights.items()}
        description = "the book's sigmoid network: " + " -> ".join(map(str, sizes))
        return description, lambda x: book_predict(network, x)
    if keys == TWO_LAYER_NET_KEYS:
        n_in, n_hidden = weights["W1"].shape
        n_out = weights["W2"].shape[1]
        model = TwoLayerNet(n_in, n_hidden, n_out, dtype=weights["W1"].dtype)
        model.load_state_dict(weights)
        return f"TwoLayerNet({n_in}, {n_hidden}, {n_out}) (ReLU)", model
    return None


def load_network(path):
    """Read the weights, build the matching network and check it maps 784 pixels to 10
    scores. Returns ``(description, predict)``; raises WeightsError."""
    weights = read_npz(path)
    try:
        network = build_network(weights)
        if network is not None:
            with no_grad():
                out = network[1](np.zeros((2, 784), dtype=np.float32))
    except (KeyError, ValueError, IndexError, TypeError) as err:  # arrays that do not fit
        raise WeightsError(
            f"{path}: the arrays do not form a 784 -> ... -> 10 network ({err})"
        ) from None
    if network is None:
        raise WeightsError(
            f"{path} has arrays {sorted(weights)}; expected the flagship's "
            f"{sorted(FLAGSHIP_KEYS)}, the book's {sorted(BOOK_KEYS)} or TwoLayerNet's "
            f"{sorted(TWO_LAYER_NET_KEYS)}"
        )
    if out.shape != (2, 10):
        raise WeightsError(f"{path}: the network gives {out.shape[1:]} outputs per image, not 10")
    return network


# ------------------------------------------------------------------- inference


def per_sample(predict, x):
    """The book's first loop: one image at a time. Returns predictions and seconds."""
    predictions = np.empty(len(x), dtype=np.int64)
    start = time.perf_counter()
    with no_grad():
        for i in range(len(x)):
            y = predict(x[i])  # (784,) -> (10,)
            predictions[i] = np.argmax(y.data)  # the most probable digit
    return predictions, time.perf_counter() - start


def batched(predict, x, batch_size):
    """The book's batched loop: batch_size images per call. Returns predictions, seconds."""
    predictions = np.empty(len(x), dtype=np.int64)
    start = time.perf_counter()
    with no_grad():
        for i in range(0, len(x), batch_size):
            y = predict(x[i : i + batch_size])  # (B, 784) -> (B, 10)
            predictions[i : i + batch_size] = np.argmax(y.data, axis=1)  # one digit per row
    return predictions, time.perf_counter() - start


def load_test_set(data_dir):
    """The MNIST test images as float32 (N, 784) in [0, 1] and their labels; warns loudly
    when only the small bundled sample was found."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SampleDataWarning)
        _, (x_test, t_test) = load_mnist(data_dir=data_dir)
    for w in caught:
        print("=" * 78, f"WARNING: {w.message}", "=" * 78, sep="\n", file=sys.stderr)
    return x_test, t_test


def plot(path, dpi, x, t, predictions, times, batch_size):
    """Misclassified test images, and the two timings."""
    fig = new_figure((12, 4.5), "picture of mistakes and timings")
    if fig is None:
        return None
    wrong = np.flatnonzero(predictions != t)[:12]
    grid = fig.add_gridspec(3, 7)
    for k, i in enumerate(wrong):
        ax = fig.add_subplot(grid[k // 4, k % 4])
        ax.imshow(x[i].reshape(28, 28), cmap="gray_r")
        ax.set_title(f"true {t[i]}, said {predictions[i]}", fontsize=9)
        ax.axis("off")
    ax = fig.add_subplot(grid[:, 4:])
    labels = ["per-sample\n(1 image per call)", f"batched\n({batch_size} per call)"]
    bars = ax.bar(labels, times, color=["tab:orange", "tab:green"])
    ax.bar_label(bars, fmt="%.3f s")
    ax.set(ylabel="seconds", title=f"inference over {len(x):,} test images")
    fig.suptitle("some misclassified test images", x=0.3)
    return save_figure(fig, path, dpi=dpi)


def main(argv=None):
    args = parse_args(argv)
    try:
        description, predict = load_network(args.weights)
    except WeightsError as err:
        raise SystemExit(f"mnist_inference.py: error: {err}") from None
    x, t = load_test_set(args.data_dir)
    if args.quick:
        x, t = x[:1000], t[:1000]
    print(f"network: {description}")
    print(f"{len(x):,} test images{' (--quick: the first 1,000)' if args.quick else ''}\n")

    batched(predict, x[:1000], args.batch_size)  # a warm-up run, so the timings are fair
    pred_one, time_one = per_sample(predict, x)
    acc_one = float(np.mean(pred_one == t))
    label = "per-sample (1 image per call):"
    print(f"{label:<36} Accuracy: {acc_one:.4f}   time {time_one:.3f} s")
    pred_batch, time_batch = batched(predict, x, args.batch_size)
    acc_batch = float(np.mean(pred_batch == t))
    label = f"batched ({args.batch_size} images per call):"
    print(f"{label:<36} Accuracy: {acc_batch:.4f}   time {time_batch:.3f} s")
    same = bool(np.array_equal(pred_one, pred_batch))
    speedup = time_one / time_batch if time_batch > 0 else float("inf")
    print(
        f"\nbatching was {speedup:.1f}x faster; the predictions are "
        f"{'identical' if same else 'NOT identical'} (the notes: 0.438 s vs 0.091 s)"
    )
    if speedup < 2:
        print(
            "(less than the notes: on a busy computer numpy's multi-threaded matrix code can "
            "wait for free CPUs; try again, or with OPENBLAS_NUM_THREADS=1)"
        )

    print()
    png = plot(
        args.out / "mnist_inference.png",
        figure_dpi(args),
        x,
        t,
        pred_batch,
        (time_one, time_batch),
        args.batch_size,
    )
    return {
        "network": description,
        "n_images": len(x),
        "accuracy_per_sample": acc_one,
        "accuracy_batched": acc_batch,
        "time_per_sample": time_one,
        "time_batched": time_batch,
        "speedup": speedup,
        "same_predictions": same,
        "figures": [png] if png else [],
    }


if __name__ == "__main__":
    main()
