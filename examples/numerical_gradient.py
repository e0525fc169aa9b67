"""Numerical differentiation: derivatives, tangent lines and gradients from f alone.

The derivative of f at x is the slope of f there, the limit of a difference quotient:

    df/dx = lim_{h -> 0} (f(x + h) - f(x)) / h

A computer cannot take the limit, and a tiny h (1e-50) rounds x + h back to x. So
``numerical_diff`` uses h = 1e-4 and the *central* difference

    df/dx ~ (f(x + h) - f(x - h)) / (2h)

whose error shrinks like h^2 instead of h. For f(x) = 0.01x^2 + 0.1x the exact
derivative is 0.02x + 0.1, so 0.2 at x = 5 and 0.3 at x = 10; the numerical values are
0.1999999999990898 and 0.2999999999986347: right to about 12 digits, the rest rounding.
The tangent line at a, y = f'(a) (x - a) + f(a), touches f at a with that slope.

With several variables, the partial derivative with respect to one of them holds the
others fixed; the vector of all of them is the gradient. For f(x0, x1) = x0^2 + x1^2 it
is (2 x0, 2 x1): (6, 8) at (3, 4), (0, 4) at (0, 2), (6, 0) at (3, 0). The gradient
points where f rises fastest, so -gradient points downhill: drawn at many points (the
arrows below), -gradient points towards the minimum at (0, 0), longer where f is steeper.

``numerical_gradient`` nudges one element at a time, two evaluations of f each: for a
network with a million weights, two million forward passes per step. Backpropagation
gets the whole gradient in one backward pass. The numerical gradient stays useful as a
check: ``compare_gradients`` prints both and their difference for every input.

    python examples/numerical_gradient.py           # the numbers; pictures in out/
"""

import numpy as np
from _common import figure_dpi, make_parser, new_figure, save_figure

from tinygrad_edu import Tensor
from tinygrad_edu.numerical import compare_gradients, numerical_diff, numerical_gradient


def function_1(x):
    """f(x) = 0.01 x^2 + 0.1 x, for numbers, arrays or Tensors."""
    return 0.01 * x**2 + 0.1 * x


def function_2(x):
    """f(x0, x1) = x0^2 + x1^2, for an array or Tensor x = [x0, x1]."""
    return x[0] ** 2 + x[1] ** 2


def tangent_line(f, a):
    """The line through (a, f(a)) with slope f'(a): y = f'(a) * (x - a) + f(a)."""
    slope = numerical_diff(f, a)
    return lambda x: slope * (x - a) + f(a)


def gradient_field(f, start, stop, step):
    """Points of the grid np.arange(start, stop, step)^2 and -grad f at each of them."""
    ticks = np.arange(start, stop, step)
    X0, X1 = np.meshgrid(ticks, ticks)
    points = np.column_stack([X0.ravel(), X1.ravel()])
    grads = np.array([numerical_gradient(f, p.copy()) for p in points])
    return points, -grads


def backprop_gradient(f, point):
    """grad f at ``point`` by autograd: f of a Tensor, then backward()."""
    x = Tensor(np.array(point, dtype=np.float64), requires_grad=True)
    f(x).sum().backward()
    return x.grad.numpy()


# --------------------------------------------------------------------- pictures


def draw_tangents(fig, points):
    ax = fig.subplots()
    x = np.arange(0.0, 20.0, 0.1)
    ax.plot(x, function_1(x), label="f(x) = 0.01x² + 0.1x")
    for a in points:
        ax.plot(
            x,
            tangent_line(function_1, a)(x),
            "--",
            label=f"tangent at x = {a}: slope {numerical_diff(function_1, a):.4f}",
        )
        ax.plot(a, function_1(a), "ko")
    ax.set(
        xlabel="x", ylabel="f(x)", title="numerical_diff gives the tangent's slope", ylim=(-1, 6)
    )
    ax.legend()


def draw_gradient_field(fig, points, minus_grads):
    ax = fig.subplots()
    ax.quiver(
        points[:, 0],
        points[:, 1],
        minus_grads[:, 0],
        minus_grads[:, 1],
        angles="xy",
        color="#666666",
    )
    ax.plot(0, 0, "r*", markersize=12, label="minimum (0, 0)")
    ax.set(
        xlim=(-2, 2),
        ylim=(-2, 2),
        xlabel="x0",
        ylabel="x1",
        title="-grad f for f(x0, x1) = x0² + x1²: arrows point downhill",
    )
    ax.set_aspect("equal")
    ax.grid(True, lw=0.3)
    ax.legend(loc="upper right")


def main(argv=None):
    args = make_parser("numerical_gradient", __doc__, "smaller pictures").parse_args(argv)

    diffs = {a: numerical_diff(function_1, a) for a in (5, 10)}
    print("f(x) = 0.01x^2 + 0.1x, exact f'(x) = 0.02x + 0.1")
    for a, d in diffs.items():
        exact = 0.02 * a + 0.1
        print(f"  numerical_diff(f, {a:>2}) = {d!r}   exact {exact:g}, error {abs(d - exact):.1e}")

    print("\nf(x0, x1) = x0^2 + x1^2, exact gradient (2 x0, 2 x1)")
    at = [(3.0, 4.0), (0.0, 2.0), (3.0, 0.0)]
    grads = {p: numerical_gradient(function_2, np.array(p)) for p in at}
    for p, g in grads.items():
        print(f"  numerical_gradient(f, {p}) = {g}   ({g.tolist()})")

    points, minus_grads = gradient_field(function_2, -2, 2.5, 0.25)
    print(f"\ngradient field: -grad f at {len(points)} grid points in [-2, 2.25]^2")

    print("\nBackprop (autograd) against numerical gradients:")
    print(f"  {'function':<15} {'point':<11} {'d/d':<4} {'backprop':>20} {'numerical':>20}  |diff|")
    rows = [("0.01x^2 + 0.1x", function_1, (5.0,)), ("0.01x^2 + 0.1x", function_1, (10.0,))]
    rows += [("x0^2 + x1^2", function_2, p) for p in at]
    comparison = []
    for name, f, p in rows:
        back = backprop_gradient(f, p)
        numeric = numerical_gradient(lambda x, f=f: f(x).sum(), np.array(p))
        comparison.append((name, p, back.tolist(), numeric.tolist()))
        for i in range(len(p)):
            b, n = float(back[i]), float(numeric[i])
            point = str(p[0]) if len(p) == 1 else str(p)
            var = "x" if len(p) == 1 else f"x{i}"
            print(f"  {name:<15} {point:<11} {var:<4} {b!r:>20} {n!r:>20}  {abs(b - n):.1e}")

    print("\ncompare_gradients(0.01x^2 + 0.1x, x = [5, 10]):")
    report_1 = compare_gradients(function_1, {"x": Tensor([5.0, 10.0], requires_grad=True)})
    print(report_1)
    print("\ncompare_gradients(x0^2 + x1^2, x = [3, 4]):")
    report_2 = compare_gradients(function_2, {"x": Tensor([3.0, 4.0], requires_grad=True)})
    print(report_2)

    figures = []
    dpi = figure_dpi(args)
    fig = new_figure((6, 4.5), "tangent-line picture")
    if fig is not None:
        draw_tangents(fig, (5, 10))
        figures.append(save_figure(fig, args.out / "tangent_lines.png", dpi))
    fig = new_figure((6, 6), "gradient-field picture")
    if fig is not None:
        draw_gradient_field(fig, points, minus_grads)
        figures.append(save_figure(fig, args.out / "gradient_field.png", dpi))
    return {
        "numerical_diff": diffs,
        "gradients": {p: g.tolist() for p, g in grads.items()},
        "field_points": len(points),
        "comparison": comparison,
        "reports_passed": report_1.passed and report_2.passed,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
