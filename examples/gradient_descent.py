"""Gradient descent: walk downhill, a step of size lr along -gradient, again and again.

To minimise f, start somewhere and repeat

    x <- x - lr * grad f(x)

The gradient points uphill, so each step goes downhill; the learning rate lr sets how
far. For f(x0, x1) = x0^2 + x1^2, grad f = 2x, so each step multiplies x by (1 - 2 lr):

    lr = 0.1     x shrinks by 0.8 per step: 100 steps from (-3, 4) reach
                 (-6.1e-10, 8.1e-10), i.e. 0.8^100 * (-3, 4), practically the minimum (0, 0).
    lr = 0.01    shrinks by 0.98 per step: after 100 steps still at (-0.40, 0.53). Moving,
                 but slowly.
    lr = 10      multiplies by -19: every step overshoots the minimum, farther each time,
                 and the values explode (about -2.6e13 here).
    lr = 1e-10   shrinks by 0.9999999998: after 100 steps (-2.99999994, 3.99999992). It
                 has barely moved.

The learning rate is a *hyperparameter*: not learned, but set by hand, by trying values.
Too large diverges, too small crawls.

A detail worth seeing: with lr = 10 the exact answer after 100 steps is 3 * 19^100, about
1e128, yet the numerical version stops near 1e13 after 10 steps. There x is so large that
x + h == x in float64 (h = 1e-4), so the numerical gradient becomes 0 and x freezes. The
same descent written with autograd (a Tensor with requires_grad=True, ``backward()``,
``optim.SGD``) uses the exact gradient 2x: it matches the numerical version for every
other learning rate, and for lr = 10 it really does reach about 1e128.

    python examples/gradient_descent.py             # the numbers; pictures in out/
"""

import numpy as np
from _common import figure_dpi, make_parser, new_figure, save_figure

from tinygrad_edu import Tensor, optim
from tinygrad_edu.numerical import gradient_descent

INIT_X = (-3.0, 4.0)
LEARNING_RATES = (0.1, 0.01, 10.0, 1e-10)
VERDICTS = {0.1: "converges", 0.01: "slow but moving", 10.0: "diverges", 1e-10: "barely moves"}


def function_2(x):
    """f(x0, x1) = x0^2 + x1^2, for an array or a Tensor."""
    return x[0] ** 2 + x[1] ** 2


def descend_with_autograd(lr, step_num, init_x=INIT_X):
    """The same descent with backprop: x is a Tensor and optim.SGD applies
    x <- x - lr * x.grad after each backward(). Returns the path, (step_num + 1, 2)."""
    x = Tensor(np.array(init_x), requires_grad=True)
    optimizer = optim.SGD([x], lr=lr)
    path = [x.numpy().copy()]
    for _ in range(step_num):
        optimizer.zero_grad()
        loss = function_2(x)
        loss.backward()  # x.grad = grad f(x) = 2x, exactly
        optimizer.step()
        path.append(x.numpy().copy())
    return np.array(path)


# --------------------------------------------------------------------- pictures


def draw(fig, paths, autograd_lr10):
    """One panel per learning rate (the path on the contours of f), then |x| per step."""
    axes = fig.subplots(2, 3).ravel()
    for i, (ax, (lr, path)) in enumerate(zip(axes, paths.items())):
        # lr = 10 leaves any sensible window at once: show its first 3 steps, zoomed out.
        shown = path[:4] if lr == 10.0 else path
        size = 1.2 * np.abs(shown).max() if lr == 10.0 else 4.5
        g = np.linspace(-size, size, 200)
        G0, G1 = np.meshgrid(g, g)
        ax.contour(G0, G1, function_2(np.stack([G0, G1])), levels=8, colors="lightgray")
        ax.plot(shown[:, 0], shown[:, 1], "o-", color=f"C{i}", markersize=3, lw=1)
        ax.plot(*shown[0], "ks", markersize=5)  # the start (-3, 4)
        ax.plot(0, 0, "k+", markersize=12)  # the minimum
        steps = f"first {len(shown) - 1} steps" if len(shown) < len(path) else "path"
        ax.set(
            xlim=(-size, size),
            ylim=(-size, size),
            xlabel="x0",
            ylabel="x1",
            title=f"lr = {lr:g}: {VERDICTS[lr]} ({steps})",
        )
        ax.set_aspect("equal")
    ax_dist, ax_10 = axes[4], axes[5]
    for i, (lr, path) in enumerate(paths.items()):
        ax_dist.semilogy(np.linalg.norm(path, axis=1), color=f"C{i}", label=f"lr = {lr:g}")
    ax_dist.set(xlabel="step", ylabel="|x|, distance to the minimum", title="all four, log scale")
    ax_dist.legend(fontsize=8)
    ax_10.semilogy(np.linalg.norm(paths[10.0], axis=1), "C2", label="numerical gradient")
    ax_10.semilogy(np.linalg.norm(autograd_lr10, axis=1), "k--", label="autograd (exact 2x)")
    ax_10.set(xlabel="step", ylabel="|x|", title="lr = 10: numerical freezes near 1e13")
    ax_10.legend(fontsize=8)


def main(argv=None):
    parser = make_parser("gradient_descent", __doc__, "a smaller picture (the steps are fast)")
    parser.add_argument("--steps", type=int, default=100, help="number of steps (default 100)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    step_num = args.steps

    print(f"gradient_descent(f, init_x={INIT_X}, lr, step_num={step_num}), numerical gradients:")
    finals, paths = {}, {}
    for lr in LEARNING_RATES:
        x, history = gradient_descent(
            function_2, np.array(INIT_X), lr=lr, step_num=step_num, return_history=True
        )
        finals[lr], paths[lr] = x, history
        print(f"  lr = {lr:<6g} -> x = {np.array2string(x, precision=8)}   ({VERDICTS[lr]})")

    exact = {lr: (1 - 2 * lr) ** step_num * np.array(INIT_X) for lr in LEARNING_RATES}
    print(f"\nexact: x = (1 - 2 lr)^{step_num} * x_init;  for lr = 10 that is {exact[10.0]}")
    moved = (np.diff(paths[10.0], axis=0) != 0).any(axis=1)  # did step k change x?
    last_move = int(np.flatnonzero(moved)[-1]) + 1
    if last_move < step_num:
        print(
            f"  the numerical path for lr = 10 stops at step {last_move}: there x + h == x "
            f"in float64, so the numerical gradient is 0"
        )

    print("\nthe same with autograd + optim.SGD (exact gradient 2x):")
    autograd_paths, agreement = {}, {}
    for lr in LEARNING_RATES:
        path = autograd_paths[lr] = descend_with_autograd(lr, step_num)
        agreement[lr] = bool(np.allclose(path[-1], finals[lr], rtol=1e-6, atol=0))
        same = "same as numerical" if agreement[lr] else "differs from numerical"
        print(f"  lr = {lr:<6g} -> x = {np.array2string(path[-1], precision=8)}   ({same})")

    figures = []
    fig = new_figure((12, 8), "descent picture")
    if fig is not None:
        draw(fig, paths, autograd_paths[10.0])
        figures.append(save_figure(fig, args.out / "gradient_descent.png", figure_dpi(args)))
    return {
        "step_num": step_num,
        "lr10_last_move": last_move,
        "final": {lr: x.tolist() for lr, x in finals.items()},
        "exact": {lr: x.tolist() for lr, x in exact.items()},
        "autograd_final": {lr: path[-1].tolist() for lr, path in autograd_paths.items()},
        "autograd_matches_numerical": agreement,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
