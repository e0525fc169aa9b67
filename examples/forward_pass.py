"""The forward pass of a 3-layer network, with the notes' numbers, for one input and a batch.

Each layer takes the previous layer's output z (a row vector), multiplies it by a weight
matrix W, adds a bias b, and applies an activation h:

    a1 = x  @ W1 + b1      z1 = sigmoid(a1)
    a2 = z1 @ W2 + b2      z2 = sigmoid(a2)
    a3 = z2 @ W3 + b3      y  = identity(a3) = a3

In W, row i holds the weights leaving input i and column j those entering neuron j, so
W has shape (inputs, outputs). The hidden layers use the sigmoid; the output layer uses
the identity (regression; a classifier would use softmax there). With the notes'
weights, x = [1.0, 0.5] gives y = [0.31682708, 0.77338016]. (The book's W3 has 0.4, not
0.5, in its last entry and prints y = [0.31682708, 0.69627909]; this script prints both.)

Shape check. A product A @ B needs A's last axis to match B's first:

    x (2,)  @ W1 (2, 3) -> (3,)     z1 (3,) @ W2 (3, 2) -> (2,)     z2 (2,) @ W3 (2, 2) -> (2,)

Batches. Stack N inputs as the rows of X, shape (N, 2), and the very same code computes
all N outputs at once:

    X (N, 2) @ W1 (2, 3) -> (N, 3)  ...  -> Y (N, 2)

The bias b1, shape (3,), is broadcast: added to every row. Row i of Y is exactly what
input i gives alone. One big matrix product is much faster than N small ones (numpy's
loops run in C, and the matrix is read once), which is why networks work on batches.

    python examples/forward_pass.py                 # values and shapes; picture in out/
"""

import numpy as np
from _common import figure_dpi, make_parser, new_figure, save_figure

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor

NOTES_Y = [0.31682708, 0.77338016]  # the notes' output for x = [1.0, 0.5]


def init_network():
    """The notes' weights and biases (float64 Tensors)."""
    return {
        "W1": Tensor([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
        "b1": Tensor([0.1, 0.2, 0.3]),
        "W2": Tensor([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]),
        "b2": Tensor([0.1, 0.2]),
        "W3": Tensor([[0.1, 0.3], [0.2, 0.5]]),  # the book has 0.4 in place of 0.5
        "b3": Tensor([0.1, 0.2]),
    }


def identity_function(x):
    return x


def forward(network, x):
    """y for one input x of shape (2,), or for a batch of shape (N, 2).

    Returns y and a dict of every intermediate value (x, a1, z1, a2, z2, a3, y).
    """
    W1, W2, W3 = network["W1"], network["W2"], network["W3"]
    b1, b2, b3 = network["b1"], network["b2"], network["b3"]
    x = Tensor(x)
    a1 = x @ W1 + b1  # (2,) @ (2, 3) + (3,) -> (3,);  batch: (N, 2) @ (2, 3) -> (N, 3)
    z1 = F.sigmoid(a1)
    a2 = z1 @ W2 + b2  # (3,) @ (3, 2) + (2,) -> (2,)
    z2 = F.sigmoid(a2)
    a3 = z2 @ W3 + b3  # (2,) @ (2, 2) + (2,) -> (2,)
    y = identity_function(a3)
    steps = {"x": x, "a1": a1, "z1": z1, "a2": a2, "z2": z2, "a3": a3, "y": y}
    return y.numpy(), {name: value.numpy() for name, value in steps.items()}


def print_shape_check(network, steps):
    """One line per layer: input @ W + b -> a -> activation -> output, with shapes."""
    layers = [
        ("x", "W1", "b1", "a1", "sigmoid", "z1"),
        ("z1", "W2", "b2", "a2", "sigmoid", "z2"),
        ("z2", "W3", "b3", "a3", "identity", "y"),
    ]
    for z_in, w, b, a, h, z_out in layers:
        print(
            f"  {z_in:>2} {steps[z_in].shape!s:<7} @ {w} {network[w].shape!s:<7} + {b} "
            f"{network[b].shape!s:<5} -> {a} {steps[a].shape!s:<7} -> {h:<8} -> "
            f"{z_out} {steps[z_out].shape}"
        )


def draw(fig, network, steps, x):
    """The 2-3-2-2 network: line width ~ |weight| (red > 0, blue < 0), node values."""
    ax = fig.subplots()
    layers = [np.asarray(x), steps["z1"], steps["z2"], steps["y"]]
    labels = ["x", "z1 = sigmoid(a1)", "z2 = sigmoid(a2)", "y = a3"]

    def position(layer, i):
        n = len(layers[layer])
        return layer * 4.0, 1.5 * ((n - 1) / 2 - i)  # columns 4 apart, centred vertically

    for layer, w_name in enumerate(["W1", "W2", "W3"]):
        W = network[w_name].numpy()
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                (x0, y0), (x1, y1) = position(layer, i), position(layer + 1, j)
                color = "tab:red" if W[i, j] > 0 else "tab:blue"
                ax.plot([x0, x1], [y0, y1], color=color, lw=6 * abs(W[i, j]), alpha=0.6)
                ax.text(
                    x0 + 0.25 * (x1 - x0),
                    y0 + 0.25 * (y1 - y0),
                    f"{W[i, j]:g}",
                    fontsize=7,
                    ha="center",
                    va="center",
                    bbox={"fc": "white", "ec": "none", "pad": 0.5},
                )
    for layer, values in enumerate(layers):
        for i, v in enumerate(values):
            px, py = position(layer, i)
            ax.add_patch(_circle(px, py))
            ax.text(px, py, f"{v:.4f}", ha="center", va="center", fontsize=8)
        ax.text(layer * 4.0, -2.3, labels[layer], ha="center", fontsize=9)
    ax.set(xlim=(-0.8, 12.8), ylim=(-2.6, 2.1), title="forward pass for x = [1.0, 0.5]")
    ax.set_aspect("equal")
    ax.axis("off")


def _circle(x, y):
    from matplotlib.patches import Circle  # matplotlib is optional: imported when drawing

    return Circle((x, y), 0.4, fc="lightyellow", ec="black", zorder=3)


def main(argv=None):
    args = make_parser("forward_pass", __doc__, "smaller picture").parse_args(argv)
    with np.printoptions(precision=8, suppress=True):  # print arrays like the notes do
        return run(args)


def run(args):
    network = init_network()

    x = np.array([1.0, 0.5])
    print("One input, shape check:")
    y, steps = forward(network, x)
    print_shape_check(network, steps)
    for name in ["a1", "z1", "a2", "z2", "a3"]:
        print(f"  {name} = {steps[name]}")
    print(f"y = {y}   (the notes: {NOTES_Y})")
    variant = init_network()
    variant["W3"] = Tensor([[0.1, 0.3], [0.2, 0.4]])
    y_variant, _ = forward(variant, x)
    print(f"with the book's W3[1][1] = 0.4 instead of 0.5: y = {y_variant}")

    X = np.array([[1.0, 0.5], [0.0, 0.0], [1.0, 1.0], [-1.0, 0.5], [0.5, -1.0]])
    print(f"\nA batch of {len(X)} inputs, shape check:")
    Y, batch_steps = forward(network, X)
    print_shape_check(network, batch_steps)
    print(f"Y =\n{Y}")
    one_at_a_time = np.array([forward(network, row)[0] for row in X])
    batch_difference = float(np.abs(Y - one_at_a_time).max())
    print(f"max |Y - (each row run alone)| = {batch_difference:g}")
    print(f"row 0 equals the single input's y: {np.array_equal(Y[0], y)}")

    try:  # a common slip: the wrong orientation of W
        Tensor(x) @ network["W1"].T
        shape_error = None
    except ValueError as error:
        shape_error = str(error)
    print(f"\nx @ W1.T, shapes (2,) and (3, 2), fails with: {shape_error}")

    figures = []
    fig = new_figure((8, 4) if args.quick else (10, 5), "network picture")
    if fig is not None:
        draw(fig, network, steps, x)
        figures.append(save_figure(fig, args.out / "network.png", figure_dpi(args)))
    return {
        "y": y.tolist(),
        "y_book": y_variant.tolist(),  # the book's W3[1][1] = 0.4
        "steps": {name: value.tolist() for name, value in steps.items()},
        "batch_x": X.tolist(),
        "batch_y": Y.tolist(),
        "batch_shapes": {name: value.shape for name, value in batch_steps.items()},
        "batch_max_difference": batch_difference,
        "shape_error": shape_error,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
