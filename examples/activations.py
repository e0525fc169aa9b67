"""Activation functions and their derivatives, the derivatives computed by autograd.

A neuron computes a = x @ w + b and passes it through an activation function h(a). The
perceptron used the step function; neural networks use smooth (or almost smooth) ones:

    step(x)    = 1 if x > 0 else 0       step'(x)    = 0  (undefined at 0)
    sigmoid(x) = 1 / (1 + exp(-x))       sigmoid'(x) = sigmoid(x) * (1 - sigmoid(x))
    relu(x)    = max(x, 0)               relu'(x)    = 1 if x > 0 else 0
    tanh(x)    = (e^x - e^-x) / (e^x + e^-x)    tanh'(x) = 1 - tanh(x)^2

All four are nonlinear, which is the point: stacking linear layers, h(x) = c x, gives
c * c * c * x, still one linear layer, so depth would buy nothing.

Why not keep the step function? Learning follows the derivative of the loss with respect
to each weight. The step function's derivative is 0 everywhere except at 0, where it does
not exist: nudging a weight changes nothing, so there is nothing to follow. The sigmoid
is a smoothed step whose slope is never 0 (at most 0.25, at x = 0); ReLU has slope 1 for
every positive input, so gradients pass through it unshrunk.

How the derivatives are computed here: x is a Tensor with requires_grad=True holding
many points; y = h(x) acts on each element separately, so y_i depends only on x_i and

    d(sum_j y_j) / d x_i = h'(x_i).

One ``y.sum().backward()`` therefore fills ``x.grad`` with h'(x) at every point.
``F.step_function`` is not in the graph at all: it returns an integer tensor, and
backward() on it raises an error, shown below, because integers have no gradient. Its
derivative is checked with the numerical difference (f(x + h) - f(x - h)) / 2h instead.

    python examples/activations.py                  # table of values; pictures in out/
"""

import numpy as np
from _common import figure_dpi, make_parser, new_figure, save_figure

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor
from tinygrad_edu.numerical import numerical_diff

# The differentiable activations, each a function from Tensor to Tensor.
ACTIVATIONS = {"sigmoid": F.sigmoid, "relu": F.relu, "tanh": F.tanh}
TABLE_POINTS = [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]


def step(x):
    """The step function on numbers or arrays (0 or 1)."""
    return F.step_function(x).numpy()


def values_and_derivatives(points):
    """{name: (h(x), h'(x))} at the given points, h' by autograd (step's numerically)."""
    results = {}
    for name, h in ACTIVATIONS.items():
        x = Tensor(np.asarray(points, dtype=np.float64), requires_grad=True)
        y = h(x)
        y.sum().backward()  # x.grad[i] = d(sum_j y_j)/dx_i = h'(x_i)
        results[name] = (y.numpy(), x.grad.numpy())
    x = np.asarray(points, dtype=np.float64)
    results["step"] = (step(x), numerical_diff(step, x))  # central difference, h = 1e-4
    return results


def step_backward_error():
    """Try to backpropagate through F.step_function; return the error message."""
    x = Tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = F.step_function(x)  # an int64 tensor, not connected to x
    try:
        y.sum().backward()
    except RuntimeError as error:
        return f"{error} (y.dtype = {y.dtype}, y.requires_grad = {y.requires_grad})"
    return None


def print_table(results):
    names = ["step", "sigmoid", "relu", "tanh"]
    values_header = "".join(f"{n:>9}" for n in names)
    slopes_header = "".join(f"{n}'".rjust(9) for n in names)
    print(f"      x | {values_header} | {slopes_header}")
    print("-" * 89)
    for i, x in enumerate(TABLE_POINTS):
        values = "".join(f"{results[n][0][i]:>9.4f}" for n in names)
        slopes = "".join(f"{results[n][1][i]:>9.4f}" for n in names)
        print(f"{x:>7.2f} | {values} | {slopes}")


def draw(fig, x, results):
    ax_f, ax_d = fig.subplots(1, 2)
    styles = {"step": "k:", "sigmoid": "C0-", "relu": "C1-", "tanh": "C2-"}
    for name, (y, dy) in results.items():
        ax_f.plot(x, y, styles[name], label=name)
        if name == "step":
            # 0 except at 0, where the jump leaves it undefined (the numerical difference
            # there is a spike of 1/2h): leave that point out and mark it instead.
            dy = np.where(x == 0, np.nan, dy)
        ax_d.plot(x, dy, styles[name], label=f"{name}'")
    ax_d.plot([0], [0], "ko", mfc="white", label="step' undefined at 0")
    ax_f.set(title="activation functions h(x)", xlabel="x", ylim=(-1.2, 2.0))
    ax_d.set(title="derivatives h'(x): autograd (step': numerical)", xlabel="x", ylim=(-0.1, 1.1))
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        ax.legend()


def main(argv=None):
    args = make_parser("activations", __doc__, "fewer points in the picture").parse_args(argv)

    table = values_and_derivatives(TABLE_POINTS)
    print_table(table)

    x = np.linspace(-5, 5, 201 if args.quick else 1001)
    curves = values_and_derivatives(x)
    s, ds = curves["sigmoid"]
    t, dt = curves["tanh"]
    dr = curves["relu"][1]
    sigmoid_error = float(np.abs(ds - s * (1 - s)).max())
    tanh_error = float(np.abs(dt - (1 - t**2)).max())
    relu_ok = bool(np.array_equal(dr, (x > 0).astype(float)))
    print(f"\nOn {len(x)} points in [-5, 5]:")
    print(f"  max |autograd sigmoid' - s(1 - s)|  = {sigmoid_error:.2e}")
    print(f"  max |autograd tanh' - (1 - tanh^2)| = {tanh_error:.2e}")
    print(f"  autograd relu' == (x > 0): {relu_ok}  (at exactly 0 the library uses 0)")
    numeric_errors = {}
    for name, h in ACTIVATIONS.items():
        away_from_0 = x[x != 0]  # relu has a corner at 0, where the two sides disagree
        slopes = numerical_diff(lambda v, h=h: h(v).numpy(), away_from_0)
        numeric_errors[name] = float(np.abs(curves[name][1][x != 0] - slopes).max())
        print(f"  max |autograd {name}' - numerical_diff| = {numeric_errors[name]:.2e}")
    print(
        f"  largest sigmoid' = {ds.max():.4f} at x = {x[ds.argmax()]:.2f}  (s(0) (1 - s(0)) = 0.25)"
    )
    step_slopes = table["step"][1]
    print(f"\nstep'(x) by central difference at {TABLE_POINTS}:")
    print(f"  {step_slopes.tolist()}")
    print(
        "  0 everywhere except at x = 0, where (step(h) - step(-h)) / 2h = 1/(2h) = "
        f"{numerical_diff(step, 0.0):.0f}: the jump, not a slope (it grows as h shrinks)."
    )
    message = step_backward_error()
    print("backward() through F.step_function fails: it returns integers that are not")
    print("part of the graph, so there is nothing to backpropagate through:")
    print(f"  RuntimeError: {message}")

    figures = []
    fig = new_figure((11, 4.5), "activation picture")
    if fig is not None:
        draw(fig, x, curves)
        figures.append(save_figure(fig, args.out / "activations.png", figure_dpi(args)))
    return {
        "points": TABLE_POINTS,
        "values": {name: table[name][0].tolist() for name in table},
        "derivatives": {name: table[name][1].tolist() for name in table},
        "sigmoid_formula_max_error": sigmoid_error,
        "tanh_formula_max_error": tanh_error,
        "relu_derivative_is_indicator": relu_ok,
        "autograd_vs_numerical_max_error": numeric_errors,
        "step_backward_error": message,
        "figures": figures,
    }


if __name__ == "__main__":
    main()
