"""SGD, Momentum, AdaGrad and Adam side by side (book figures 6-8 and 6-9).

Part 1 (figure 6-8): 30 steps of each optimizer on f(x, y) = x^2 / 20 + y^2 from (-7, 2),
with the book's learning rates (SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3). The
parameters are one Tensor of 2 numbers, the optimizers this library's: the book's
``Momentum`` is ``optim.SGD(..., momentum=0.9)`` and ``AdaGrad`` is ``optim.Adagrad``.
f is 20 times steeper along y than along x, and its gradient points mostly along y, not at
the minimum (0, 0):

    SGD        zigzags across the valley: each step sends y to -0.9 y (its sign flips at
               every one of the 30 steps) while x only creeps, to 0.905 x
    Momentum   rolls like a ball: the velocity along x builds up, and it swings past the
               minimum and back
    AdaGrad    divides each coordinate's step by the root of its summed squared gradients:
               the steep y is damped at once, the path heads straight along the valley and
               ends nearest to (0, 0)
    Adam       momentum plus a per-coordinate scaling (RMSprop's decaying average of
               squared gradients): a ball that rolls in one wide, smooth swing

Part 2 (figure 6-9): the four optimizers train the same MNIST network (784 -> 4 hidden
layers of 100 ReLU units -> 10, He initialisation) from the same weights on the same random
mini-batches of 128, with the book's settings (lr 0.01 for SGD, Momentum and AdaGrad,
0.001 for Adam) for 2000 steps. What the book finds, and this reproduces: AdaGrad, Adam
and Momentum all converge faster than plain SGD (AdaGrad a little ahead in the book);
SGD's loss is the highest at the end.

    python examples/optimizer_comparison.py            # 2000 MNIST steps each (~10 s)
    python examples/optimizer_comparison.py --quick    # 300 steps each (~3 s)
"""

import numpy as np
from _chapter6 import multi_layer_net
from _common import add_data_dir, figure_dpi, make_parser, new_figure, save_figure

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, optim
from tinygrad_edu.apps.common import load_data, run_main

# name -> a function making the book's optimizer for figure 6-8 (2-D), and for 6-9 (MNIST)
TOY_OPTIMIZERS = {
    "SGD": lambda params: optim.SGD(params, lr=0.95),
    "Momentum": lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
    "AdaGrad": lambda params: optim.Adagrad(params, lr=1.5),
    "Adam": lambda params: optim.Adam(params, lr=0.3),
}
MNIST_OPTIMIZERS = {
    "SGD": lambda params: optim.SGD(params, lr=0.01),
    "Momentum": lambda params: optim.SGD(params, lr=0.01, momentum=0.9),
    "AdaGrad": lambda params: optim.Adagrad(params, lr=0.01),
    "Adam": lambda params: optim.Adam(params, lr=0.001),
}
START, TOY_STEPS = (-7.0, 2.0), 30
BATCH, HIDDEN = 128, [100] * 4
LAST = 100  # the final loss is the mean over the last LAST steps (one step's loss is noisy)


def f(p):
    """The book's test function: x^2 / 20 + y^2, minimum 0 at (0, 0)."""
    return p[0] ** 2 / 20 + p[1] ** 2


def toy_trajectories():
    """Part 1: {name: (TOY_STEPS + 1, 2) array of the points visited}."""
    paths = {}
    for name, make in TOY_OPTIMIZERS.items():
        p = Tensor(np.array(START), requires_grad=True)  # float64, the 2 parameters
        optimizer = make([p])
        path = [p.data.copy()]
        for _ in range(TOY_STEPS):
            optimizer.zero_grad()
            f(p).backward()
            optimizer.step()
            path.append(p.data.copy())
        paths[name] = np.array(path)
    return paths


def draw_trajectories(paths, args):
    """Figure 6-8: each path over the contour lines of f."""
    fig = new_figure((9, 6.5), "optimizer trajectories")
    if fig is None:
        return None
    x, y = np.meshgrid(np.arange(-10, 10, 0.01), np.arange(-5, 5, 0.01))
    z = x**2 / 20 + y**2
    z[z > 7] = 0  # as the book: contour lines only near the valley
    for ax, (name, path) in zip(fig.subplots(2, 2).ravel(), paths.items()):
        ax.contour(x, y, z, colors="gray", linewidths=0.5)
        ax.plot(path[:, 0], path[:, 1], "o-", color="red", ms=3)
        ax.plot(0, 0, "+", color="black", ms=12)
        ax.set(xlim=(-10, 10), ylim=(-10, 10), xlabel="x", ylabel="y", title=name)
    return save_figure(fig, args.out / "optimizer_trajectories.png", figure_dpi(args))


def mnist_losses(args):
    """Part 2: {name: the training loss at every step}, for each optimizer."""
    (x_train, t_train), _ = load_data(args.data_dir)
    rng = np.random.default_rng(args.seed)  # the book's batches: drawn with replacement
    batches = rng.choice(len(x_train), size=(args.steps, BATCH))  # the same for everyone
    losses = {}
    for name, make in MNIST_OPTIMIZERS.items():
        np.random.seed(args.seed)  # the same initial weights for everyone
        model = multi_layer_net(HIDDEN)
        optimizer = make(model.parameters())
        losses[name] = []
        for batch in batches:
            loss = F.cross_entropy(model(x_train[batch]), t_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses[name].append(loss.item())
    return losses


def smooth(values, window=20):
    """The moving mean over ``window`` steps (the book smooths its curves too)."""
    return np.convolve(values, np.ones(window) / window, mode="valid")


def draw_losses(losses, args):
    """Figure 6-9: the smoothed training loss per step."""
    fig = new_figure((7, 4.5), "MNIST optimizer comparison")
    if fig is None:
        return None
    ax = fig.subplots()
    for (name, values), marker in zip(losses.items(), "osD^"):
        curve = smooth(values)
        ax.plot(
            np.arange(len(curve)) + 20,
            curve,
            marker=marker,
            markevery=len(curve) // 10,
            label=name,
            lw=1,
        )
    ax.set(xlabel="step", ylabel="training loss (mean of 20 steps)", ylim=(0, 1))
    ax.set_title(f"MNIST, 4 x 100 ReLU, batches of {BATCH}")
    ax.legend()
    return save_figure(fig, args.out / "optimizer_mnist.png", figure_dpi(args))


def main(argv=None, prog=None):
    p = make_parser("optimizer_comparison", __doc__, "300 MNIST steps per optimizer", prog=prog)
    add_data_dir(p)
    p.add_argument("--steps", type=int, help="MNIST steps per optimizer (default 2000, 300 quick)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    if args.steps is None:
        args.steps = 300 if args.quick else 2000
    if args.steps < LAST:
        p.error(f"--steps must be at least {LAST}")

    print(f"Part 1: {TOY_STEPS} steps on f(x, y) = x^2 / 20 + y^2 from {START}\n")
    paths = toy_trajectories()
    sign_changes = {
        name: int(np.sum(np.diff(np.sign(path[:, 1])) != 0)) for name, path in paths.items()
    }
    for name, path in paths.items():
        x, y = path[-1]
        print(
            f"{name:<9} ends at ({x:8.4f}, {y:8.4f}), f = {x**2 / 20 + y**2:.2e}; "
            f"y changed sign {sign_changes[name]} times"
        )
    figures = [draw_trajectories(paths, args)]

    print(f"\nPart 2: MNIST, 4 x 100 ReLU, batches of {BATCH}, {args.steps} steps\n")
    losses = mnist_losses(args)
    every = 100 if args.steps <= 1000 else 500
    print("step   " + "".join(f"{name:>10}" for name in losses))
    for step in range(0, args.steps, every):
        print(f"{step:<7}" + "".join(f"{values[step]:10.4f}" for values in losses.values()))
    final = {name: float(np.mean(values[-LAST:])) for name, values in losses.items()}
    print(f"mean loss of the last {LAST} steps:")
    print("       " + "".join(f"{value:10.4f}" for value in final.values()))
    slowest = max(final, key=final.get)
    print(
        f"\n{slowest} ends with the highest loss"
        + (
            ": AdaGrad, Adam and Momentum converge faster, as in the book."
            if slowest == "SGD"
            else "; in the book it is SGD."
        )
    )
    figures.append(draw_losses(losses, args))
    return {
        "trajectories": paths,
        "sign_changes": sign_changes,
        "losses": losses,
        "final_loss": final,
        "figures": [fig for fig in figures if fig],
    }


if __name__ == "__main__":
    raise SystemExit(run_main(main))  # errors as one line, no traceback
