"""Gradient check: backpropagation against numerical differentiation, on a real network.

Two ways to get the gradient of the loss with respect to every weight:

* numerical differentiation: nudge one weight by h = 1e-4 up and down and take
  (L(w + h) - L(w - h)) / 2h. Simple enough to trust, but it costs two forward passes
  *per weight*: 2 x 39,760 = 79,520 passes for a 784-50-10 network;
* backpropagation: one forward and one backward pass for all the weights at once; fast,
  but with many places for a bug to hide.

So we use the slow, simple one to check the fast one, as the chapter does: the notes'
``TwoLayerNet(784, 50, 10)`` (Affine - ReLU - Affine - softmax cross-entropy, float64) on
3 MNIST training images, comparing ``net.gradient`` (backprop) with
``net.numerical_gradient`` parameter by parameter::

    grad_numerical = net.numerical_gradient(x[:3], t[:3])
    grad_backprop = net.gradient(x[:3], t[:3])
    for key in grad_numerical:
        print(key, np.mean(np.abs(grad_backprop[key] - grad_numerical[key])))

Both are computed in float64, so they should agree to about 1e-10 or better; the small
remainder is the central difference's own error (of order h^2 times the third derivative,
plus rounding). A difference around 1e-3 or larger would mean a bug in a backward pass.

The images come from --data-dir (or $TINYGRAD_EDU_DATA, or the download cache); without
those, from the small MNIST sample bundled with the library (nothing is downloaded for 3
images).

    python examples/two_layer_net_gradcheck.py              # hidden size 50: slow on purpose
    python examples/two_layer_net_gradcheck.py --quick      # hidden size 5, ~1 s
"""

import time
import warnings

import numpy as np
from _common import add_data_dir, figure_dpi, make_parser, new_figure, save_figure

from tinygrad_edu.apps.common import run_main
from tinygrad_edu.datasets import SampleDataWarning, load_mnist
from tinygrad_edu.models import TwoLayerNet

THRESHOLD = 1e-6  # mean |backprop - numerical| above this means a bug


def parse_args(argv=None):
    p = make_parser(
        "two_layer_net_gradcheck", __doc__, quick_help="hidden size 5 instead of 50 (~1 s)"
    )
    add_data_dir(p)
    p.add_argument("--hidden", type=int, help="hidden size (default 50, or 5 with --quick)")
    p.add_argument("--samples", type=int, default=3, help="training images used (default 3)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the weights (default 0)")
    args = p.parse_args(argv)
    if args.hidden is None:
        args.hidden = 5 if args.quick else 50
    if args.hidden < 1 or args.samples < 1:
        p.error("--hidden and --samples must be at least 1")
    return args


def load_images(data_dir, n):
    """The first n training images (float64, (n, 784)) and one-hot labels ((n, 10))."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SampleDataWarning)
        (x_train, t_train), _ = load_mnist(data_dir=data_dir, one_hot_label=True, download=False)
    source = "the bundled MNIST sample" if caught else "MNIST"
    if caught:
        print("(MNIST files not found: using the sample bundled with tinygrad_edu)")
    return x_train[:n].astype(np.float64), t_train[:n], source


def plot(path, dpi, rows, backprop, numerical):
    """Mean difference per parameter (log scale); backprop vs numerical, every weight."""
    fig = new_figure((11, 4), "gradient-check picture")
    if fig is None:
        return None
    ax_bar, ax_scatter = fig.subplots(1, 2)
    names = [name for name, *_ in rows]
    ax_bar.bar(names, [mean for _, _, mean, _ in rows], color="tab:green")
    ax_bar.axhline(THRESHOLD, color="tab:red", ls="--", label=f"threshold {THRESHOLD:g}")
    ax_bar.set(yscale="log", ylabel="mean |backprop - numerical|", title="per parameter")
    ax_bar.set_ylim(top=THRESHOLD * 10)
    ax_bar.legend()
    for name in names:
        ax_scatter.scatter(numerical[name].ravel(), backprop[name].ravel(), s=4, label=name)
    lims = [min(g.min() for g in numerical.values()), max(g.max() for g in numerical.values())]
    ax_scatter.plot(lims, lims, "k--", lw=1, label="equal")
    ax_scatter.set(
        xlabel="numerical gradient", ylabel="backprop gradient", title="every weight: on the line"
    )
    ax_scatter.legend(markerscale=3)
    return save_figure(fig, path, dpi=dpi)


def main(argv=None):
    args = parse_args(argv)
    x, t, source = load_images(args.data_dir, args.samples)
    np.random.seed(args.seed)
    net = TwoLayerNet(784, args.hidden, 10)
    n_weights = sum(p.size for p in net.parameters())
    print(
        f"TwoLayerNet(784, {args.hidden}, 10): {n_weights:,} weights; "
        f"{len(x)} training images from {source}\n"
    )

    start = time.perf_counter()
    grad_numerical = net.numerical_gradient(x, t)  # 2 forward passes per weight
    time_numerical = time.perf_counter() - start
    start = time.perf_counter()
    grad_backprop = net.gradient(x, t)  # 1 forward + 1 backward pass in all
    time_backprop = time.perf_counter() - start

    rows = []
    print(f"{'param':<6} {'shape':<11} {'mean |diff|':>12} {'max |diff|':>12}  result")
    for name in grad_numerical:
        diff = np.abs(grad_backprop[name] - grad_numerical[name])
        rows.append((name, diff.shape, float(diff.mean()), float(diff.max())))
        ok = "ok" if diff.mean() < THRESHOLD else "FAIL"
        print(f"{name:<6} {diff.shape!s:<11} {diff.mean():>12.3e} {diff.max():>12.3e}  {ok}")
    passed = all(mean < THRESHOLD for _, _, mean, _ in rows)
    print(f"\nall below {THRESHOLD:g}: {'yes, backprop is right' if passed else 'NO'}")
    print(
        f"time: numerical {time_numerical:.2f} s ({2 * n_weights:,} forward passes), "
        f"backprop {time_backprop * 1000:.1f} ms ({time_numerical / time_backprop:,.0f}x faster)"
    )

    print()
    png = plot(
        args.out / "two_layer_net_gradcheck.png",
        figure_dpi(args),
        rows,
        grad_backprop,
        grad_numerical,
    )
    return {
        "hidden": args.hidden,
        "diffs": {name: mean for name, _, mean, _ in rows},
        "max_diffs": {name: largest for name, _, _, largest in rows},
        "passed": passed,
        "time_numerical": time_numerical,
        "time_backprop": time_backprop,
        "source": source,
        "figures": [png] if png else [],
    }


if __name__ == "__main__":
    raise SystemExit(run_main(main))  # errors as one line, no traceback
