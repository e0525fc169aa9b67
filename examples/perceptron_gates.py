"""Perceptrons: logic gates from a weighted sum and a threshold, and why XOR needs two layers.

A perceptron takes inputs x1, x2, multiplies each by a weight and fires (outputs 1) when
the weighted sum exceeds a threshold theta:

    y = 1 if w1*x1 + w2*x2 > theta, else 0

Moving theta to the left as the bias b = -theta gives the form used from here on:

    y = step(w1*x1 + w2*x2 + b),      step(a) = 1 if a > 0 else 0

The weights say how much each input counts; the bias says how easily the neuron fires.
One and the same perceptron becomes a different gate with different parameters. The
notes' values:

    AND    w = ( 0.5,  0.5)   b = -0.7   (theta = 0.7)
    NAND   w = (-0.5, -0.5)   b =  0.7   (AND with every sign flipped)
    OR     w = ( 0.5,  0.5)   b = -0.2   (fires as soon as one input is 1)

Geometrically, w1*x1 + w2*x2 + b = 0 is a straight line: the perceptron outputs 1 on one
side of it and 0 on the other. XOR (1 when exactly one input is 1) has its two 1s on
opposite corners of the unit square, and no straight line separates them. A proof in one
line: y(0,0) = 0 needs b <= 0; y(1,0) = y(0,1) = 1 need w1 + b > 0 and w2 + b > 0; adding
those two, w1 + w2 + b > -b >= 0, so y(1,1) = 1, not 0. A single perceptron only computes
"linearly separable" functions. This script also searches a grid of (w1, w2, b): it finds
thousands of lines for AND, NAND and OR, and none for XOR.

Stacking perceptrons removes the limit. XOR(x1, x2) = AND(NAND(x1, x2), OR(x1, x2)): a
two-layer perceptron whose first layer maps the four corners to points that one line
can separate. And instead of setting the weights by hand, a network can learn them: a
2-4-1 network with tanh, trained by gradient descent on the binary cross-entropy, gets
all four points right.

    python examples/perceptron_gates.py             # tables and numbers; pictures in out/
    python examples/perceptron_gates.py --quick --out /tmp/gates
"""

import numpy as np
from _common import figure_dpi, make_parser, new_figure, save_figure

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, no_grad, optim

# The four possible inputs, one per row: (x1, x2).
INPUTS = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64)
XOR_TARGET = np.array([0, 1, 1, 0])

# The notes' hand-set parameters: name -> ((w1, w2), b).
GATES = {
    "AND": ((0.5, 0.5), -0.7),
    "NAND": ((-0.5, -0.5), 0.7),
    "OR": ((0.5, 0.5), -0.2),
}
TARGETS = {"AND": [0, 0, 0, 1], "NAND": [1, 1, 1, 0], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}


def perceptron(x, w, b):
    """y = step(x @ w + b) for every row of x, shape (N, 2); returns N zeros and ones."""
    a = Tensor(np.asarray(x, dtype=np.float64)) @ Tensor(w) + b  # weighted sum plus bias
    return F.step_function(a).numpy()


def gate(name, x):
    w, b = GATES[name]
    return perceptron(x, w, b)


def xor_two_layer(x):
    """XOR = AND(NAND, OR): layer 1 computes s1 = NAND(x), s2 = OR(x); layer 2, AND(s1, s2)."""
    s1 = gate("NAND", x)
    s2 = gate("OR", x)
    return gate("AND", np.stack([s1, s2], axis=1))


def count_single_perceptrons(target, values):
    """How many (w1, w2, b) with each taken from ``values`` make one perceptron output
    ``target`` on the four inputs. Checks all len(values)**3 triples at once (numpy)."""
    w1, w2, b = (g.ravel() for g in np.meshgrid(values, values, values, indexing="ij"))
    sums = np.outer(w1, INPUTS[:, 0]) + np.outer(w2, INPUTS[:, 1]) + b[:, None]  # (K, 4)
    outputs = (sums > 0).astype(int)
    return int((outputs == np.asarray(target)).all(axis=1).sum())


def train_xor(steps, seed=0, lr=0.1, hidden=4):
    """Learn XOR with a 2-hidden-1 network: logits = Linear(tanh(Linear(x))).

    The loss is the binary cross-entropy of sigmoid(logit) against the 0/1 target,
    computed from the logit directly (stable): mean of -[t log p + (1 - t) log(1 - p)].
    Returns the model, its 0/1 predictions on the four inputs, and the loss per step.
    """
    np.random.seed(seed)  # nn.Linear draws its initial weights from numpy's generator
    model = nn.Sequential(
        nn.Linear(2, hidden, init="xavier"), nn.Tanh(), nn.Linear(hidden, 1, init="xavier")
    )
    optimizer = optim.Adam(model.parameters(), lr=lr)
    x = INPUTS.astype(np.float32)  # the layers' parameters are float32
    t = XOR_TARGET.reshape(4, 1).astype(np.float32)
    losses = []
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(model(x), t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with no_grad():
        predictions = (model(x).numpy() > 0).astype(int).ravel()  # logit > 0 <=> p > 0.5
    return model, predictions, losses


# ---------------------------------------------------------------------- printing


def print_truth_table(tables):
    names = ["AND", "NAND", "OR", "XOR"]
    print("Truth tables (XOR here is the two-layer AND(NAND, OR)):")
    print(" x1 x2 | " + " ".join(f"{n:>4}" for n in names))
    print("-------+" + "-" * (5 * len(names)))
    for row, (x1, x2) in enumerate(INPUTS.astype(int)):
        print(f"  {x1}  {x2} | " + " ".join(f"{tables[n][row]:>4}" for n in names))


# ---------------------------------------------------------------------- pictures


def draw(fig, model, losses, resolution):
    """Decision regions: where each perceptron / network outputs 1 (shaded) or 0."""
    grid = np.linspace(-0.5, 1.5, resolution)
    g1, g2 = np.meshgrid(grid, grid)
    points = np.column_stack([g1.ravel(), g2.ravel()])
    with no_grad():
        learned = F.sigmoid(model(points.astype(np.float32))).numpy().reshape(g1.shape)
    zero_one = [-0.5, 0.5, 1.5]  # two shades: output 0 and output 1
    panels = [
        ("AND", gate("AND", points), zero_one),
        ("NAND", gate("NAND", points), zero_one),
        ("OR", gate("OR", points), zero_one),
        ("XOR = AND(NAND, OR)\n(lines: NAND's and OR's)", xor_two_layer(points), zero_one),
        ("XOR learned by a 2-4-1 net\n(shading: sigmoid output)", learned, np.linspace(0, 1, 11)),
    ]
    axes = fig.subplots(2, 3).ravel()
    targets = [TARGETS["AND"], TARGETS["NAND"], TARGETS["OR"], TARGETS["XOR"], TARGETS["XOR"]]
    lines = [[GATES["AND"]], [GATES["NAND"]], [GATES["OR"]], [GATES["NAND"], GATES["OR"]], []]
    for ax, (title, values, levels), target, params in zip(axes, panels, targets, lines):
        ax.contourf(g1, g2, values.reshape(g1.shape), levels=levels, cmap="RdBu_r", alpha=0.35)
        for (w1, w2), b in params:  # a perceptron's line w1*x1 + w2*x2 + b = 0
            ax.plot(grid, -(w1 * grid + b) / w2, "k--", lw=1)
        ax.scatter(*INPUTS.T, c=target, cmap="RdBu_r", vmin=0, vmax=1, s=80, edgecolors="k")
        ax.set(title=title, xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="x1", ylabel="x2")
        ax.set_aspect("equal")
    fig.suptitle("red: output 1, blue: output 0; dots: the four inputs, coloured by target")
    axes[5].plot(losses)
    axes[5].set(title="training the XOR net", xlabel="step", ylabel="binary cross-entropy")
    axes[5].set_yscale("log")


def main(argv=None):
    parser = make_parser("perceptron_gates", __doc__)
    parser.add_argument("--steps", type=int, default=300, help="training steps for XOR")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the XOR net")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    steps = min(args.steps, 100) if args.quick else args.steps

    tables = {name: gate(name, INPUTS).tolist() for name in GATES}
    tables["XOR"] = xor_two_layer(INPUTS).tolist()
    print_truth_table(tables)

    values = np.linspace(-1, 1, 21 if args.quick else 41)
    found = {name: count_single_perceptrons(TARGETS[name], values) for name in TARGETS}
    print(
        f"\nOne perceptron, every (w1, w2, b) on a grid of {len(values)} values in [-1, 1] "
        f"({len(values) ** 3} perceptrons): how many compute each gate?"
    )
    for name, count in found.items():
        print(f"  {name:<4} {count:>6}")
    print("  XOR: none; no straight line separates (1,0), (0,1) from (0,0), (1,1).")

    model, predictions, losses = train_xor(steps, seed=args.seed)
    accuracy = float((predictions == XOR_TARGET).mean())
    print(
        f"\nLearned XOR (2-4-1, tanh, Adam lr 0.1, {steps} steps, seed {args.seed}): "
        f"final loss {losses[-1]:.4f}, predictions {predictions.tolist()}, "
        f"accuracy {accuracy:.0%}"
    )

    figures = []
    fig = new_figure((11, 7), "decision-region picture")
    if fig is not None:
        draw(fig, model, losses, resolution=81 if args.quick else 201)
        path = args.out / "decision_regions.png"
        figures.append(save_figure(fig, path, figure_dpi(args)))
    return {
        "truth_tables": tables,
        "single_perceptrons_found": found,
        "xor_predictions": predictions.tolist(),
        "xor_accuracy": accuracy,
        "xor_final_loss": losses[-1],
        "figures": figures,
    }


if __name__ == "__main__":
    main()
