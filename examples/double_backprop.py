"""Second derivatives by backpropagating twice, and Newton's method built on them.

Backpropagation computes a gradient with Tensor operations. Normally those operations are
not recorded (the gradient is just a number). With ``backward(create_graph=True)`` they
are: the gradient x.grad gets a graph of its own, and calling ``backward()`` on *it*
differentiates the derivative. For y = x^3 at x = 2:

    y.backward(create_graph=True)   # x.grad = dy/dx = 3x^2 = 12, itself a graph
    dydx = x.grad
    x.grad = None                   # gradients accumulate: clear before the 2nd pass
    dydx.backward()                 # x.grad = d2y/dx2 = 6x = 12

Newton's method uses exactly these two numbers. To find a minimum of f, look for a point
where f'(x) = 0, approximating f' near the current x by its tangent line:

    f'(x + d) ~ f'(x) + f''(x) d = 0   gives   x <- x - f'(x) / f''(x)

Gradient descent, x <- x - lr * f'(x), uses only the slope and a fixed step size; Newton
also uses the curvature f'' to choose the step. Near a minimum (f'' > 0) Newton converges
*quadratically*: the number of correct digits roughly doubles every step, so a handful of
steps reach machine precision, where gradient descent needs dozens or hundreds. (Newton
only looks for f' = 0: started where f'' < 0 it heads for a maximum; in many dimensions
f'' becomes the Hessian matrix, expensive to form and invert, which is why deep learning
sticks to first-order methods such as SGD and Adam.)

Here f(x) = x^4 - 3x^2 + x, with f'(x) = 4x^3 - 6x + 1 and f''(x) = 12x^2 - 6, written
once as Tensor code: autograd provides both derivatives, and we check them by hand.

    python examples/double_backprop.py
    python examples/double_backprop.py --x0 -2 --lr 0.01
"""

import numpy as np
from _common import figure_dpi, make_parser, new_figure, save_figure

from tinygrad_edu import Tensor


def parse_args(argv=None):
    p = make_parser("double_backprop", __doc__)
    p.add_argument("--x0", type=float, default=2.0, help="starting point (default 2)")
    p.add_argument("--lr", type=float, default=0.02, help="gradient descent step (default 0.02)")
    p.add_argument("--tol", type=float, default=1e-10, help="stop when |f'(x)| < tol")
    args = p.parse_args(argv)
    if args.lr <= 0 or args.tol <= 0:
        p.error("--lr and --tol must be positive")
    return args


def f(x):
    """f(x) = x^4 - 3x^2 + x: two valleys (minima) with a hill (a maximum) between."""
    return x**4 - 3 * x**2 + x


def first_and_second_derivative(func, x0):
    """f'(x0) and f''(x0) by backpropagating twice (create_graph=True the first time)."""
    x = Tensor([float(x0)], requires_grad=True)
    y = func(x).sum()
    y.backward(create_graph=True)  # x.grad = f'(x), recorded as a graph
    slope = x.grad
    x.grad = None  # otherwise the second pass would add to f'(x)
    slope.sum().backward()  # x.grad = d/dx f'(x) = f''(x)
    return slope.item(), x.grad.item()


def cube_example():
    """y = x^3 at x = 2: dy/dx = 3x^2 = 12 and d2y/dx2 = 6x = 12."""
    return first_and_second_derivative(lambda x: x**3, 2.0)


def newton(func, x0, tol, max_steps=50):
    """x <- x - f'(x) / f''(x) until |f'(x)| < tol; returns all the iterates."""
    xs = [float(x0)]
    for _ in range(max_steps):
        slope, curvature = first_and_second_derivative(func, xs[-1])
        if abs(slope) < tol or curvature == 0:  # done, or a flat tangent: no Newton step
            break
        xs.append(xs[-1] - slope / curvature)
    return xs


def gradient_descent(func, x0, lr, tol, max_steps=100_000):
    """x <- x - lr * f'(x) until |f'(x)| < tol; returns all the iterates.

    Stops early if x runs away (|x| > 1000): a too-large lr overshoots further each step.
    """
    xs = [float(x0)]
    for _ in range(max_steps):
        x = Tensor([xs[-1]], requires_grad=True)
        func(x).sum().backward()
        slope = x.grad.item()
        if abs(slope) < tol or abs(xs[-1]) > 1000:
            break
        xs.append(xs[-1] - lr * slope)
    return xs


def plot(path, dpi, newton_xs, gd_xs):
    """f with both paths of iterates; |f'(x)| against the step number."""
    fig = new_figure((12, 4.2), "Newton vs gradient descent picture")
    if fig is None:
        return None
    ax_f, ax_slope = fig.subplots(1, 2)
    everything = np.array([x for x in newton_xs + gd_xs if abs(x) <= 4])  # runaways cut off
    lo, hi = min(everything.min(), -2.0) - 0.2, max(everything.max(), 2.0) + 0.2
    grid = np.linspace(lo, hi, 400)
    ax_f.plot(grid, f(grid), "k-", lw=1, label="f(x) = x^4 - 3x^2 + x")
    gd = np.array(gd_xs)
    ax_f.plot(gd, f(gd), "o-", ms=3, alpha=0.5, color="tab:blue", label="gradient descent")
    nt = np.array(newton_xs)
    ax_f.plot(nt, f(nt), "s-", ms=6, color="tab:red", label="Newton")
    for i, x in enumerate(newton_xs[:4]):
        ax_f.annotate(str(i), (x, f(x)), textcoords="offset points", xytext=(6, 6), color="tab:red")
    ax_f.set(xlabel="x", ylabel="f(x)", title="the iterates on f", xlim=(lo, hi))
    ax_f.set_ylim(f(grid).min() - 1, f(grid).max() + 1)
    ax_f.legend()
    runs = ((gd_xs, "o-", "tab:blue", "gradient descent"), (newton_xs, "s-", "tab:red", "Newton"))
    for xs, style, color, name in runs:
        slopes = [min(abs(4 * x**3 - 6 * x + 1), 1e30) for x in xs]  # |f'(x)| by hand
        label = f"{name}: {len(xs) - 1}"
        ax_slope.semilogy(np.maximum(slopes, 1e-17), style, ms=3, color=color, label=label)
    ax_slope.set(xlabel="step", ylabel="|f'(x)|", title="how fast f'(x) -> 0 (steps in legend)")
    ax_slope.legend()
    return save_figure(fig, path, dpi=dpi)


def main(argv=None):
    args = parse_args(argv)

    dydx, d2ydx2 = cube_example()
    print(f"y = x^3 at x = 2:  dy/dx = {dydx:g} (3x^2 = 12),  d2y/dx2 = {d2ydx2:g} (6x = 12)")

    x0 = args.x0
    slope, curvature = first_and_second_derivative(f, x0)
    print(f"\nf(x) = x^4 - 3x^2 + x at x = {x0:g}:")
    print(f"  autograd: f'(x) = {slope:.6g},  f''(x) = {curvature:.6g}")
    by_hand = (4 * x0**3 - 6 * x0 + 1, 12 * x0**2 - 6)
    print(f"  by hand:  4x^3 - 6x + 1 = {by_hand[0]:.6g},  12x^2 - 6 = {by_hand[1]:.6g}")

    newton_xs = newton(f, x0, args.tol)
    max_gd_steps = 2_000 if args.quick else 100_000
    gd_xs = gradient_descent(f, x0, args.lr, args.tol, max_steps=max_gd_steps)

    print(f"\nNewton's method from x = {x0:g}  (stop when |f'(x)| < {args.tol:g}):")
    for i, x in enumerate(newton_xs):
        print(f"  step {i}: x = {x:.15f}   f'(x) = {4 * x**3 - 6 * x + 1:+.3e}")
    newton_steps, gd_steps = len(newton_xs) - 1, len(gd_xs) - 1
    x_min = newton_xs[-1]
    kind = "minimum" if 12 * x_min**2 - 6 > 0 else "maximum (f'' < 0!)"
    print(f"  a {kind} at x = {x_min:.12f} after {newton_steps} steps")
    print(f"gradient descent (lr = {args.lr:g}): x = {gd_xs[-1]:.12f} after {gd_steps} steps")
    if abs(gd_xs[-1]) > 1000:
        print(f"  (diverged: lr = {args.lr:g} is too large, every step overshoots further)")
    elif gd_steps == max_gd_steps:
        print(f"  (stopped at the limit of {max_gd_steps} steps before |f'(x)| < {args.tol:g})")

    print()
    png = plot(args.out / "double_backprop.png", figure_dpi(args), newton_xs, gd_xs)
    return {
        "dydx": dydx,
        "d2ydx2": d2ydx2,
        "slope": slope,
        "curvature": curvature,
        "newton_xs": newton_xs,
        "gd_xs": gd_xs,
        "newton_steps": newton_steps,
        "gd_steps": gd_steps,
        "x_min": x_min,
        "figures": [png] if png else [],
    }


if __name__ == "__main__":
    main()
