"""Linear regression fitted by gradient descent, and checked against least squares.

The model. With m examples (x_i, y_i), a linear hypothesis predicts

    h(x) = w . x + b              (one feature: h(x) = w x + b, a straight line)

and its cost is the mean of the squared errors, halved:

    J(w, b) = 1/(2m) * sum_i (h(x_i) - y_i)^2  =  0.5 * F.mse_loss(h(x), y)

(the 1/2 only makes the derivative tidy: dJ/dw = 1/m * sum_i (h(x_i) - y_i) x_i).

Gradient descent. Start from w = 0, b = 0 and repeat  w <- w - lr * dJ/dw,
b <- b - lr * dJ/db. We never write the derivative ourselves: J is built from Tensor
operations, ``J.backward()`` fills in ``w.grad`` and ``b.grad`` by backpropagation, and
``optim.SGD`` takes the step. Using all m examples per step is (full-batch) gradient
descent; using a small random mini-batch per step is stochastic gradient descent (SGD),
cheaper per step but noisy, so it only wanders near the minimum unless the learning rate
shrinks (here it drops to lr/10 for the last third of the epochs).

The check. This J has a closed-form minimiser, the least-squares solution of the
"normal equations", which ``np.linalg.lstsq`` computes directly once a column of ones is
added to X (its coefficient is b). Gradient descent should land on the same numbers.

Two data sets, made up with known coefficients so we can see how close the fit gets:

* simple regression (one feature):  y = 4 + 3 x + noise,  x in [0, 2];
* multiple regression (3 features): y = 3 + 1.5 x1 - 2 x2 + 0.7 x3 + noise.

    python examples/linear_regression.py
    python examples/linear_regression.py --batch-size 200   # full batch for the 2nd fit too
"""

import numpy as np
from _common import figure_dpi, make_parser, new_figure, save_figure

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, optim
from tinygrad_edu.data import DataLoader

TRUE_SIMPLE = {"b": 4.0, "w": [3.0]}
TRUE_MULTIPLE = {"b": 3.0, "w": [1.5, -2.0, 0.7]}


def parse_args(argv=None):
    p = make_parser("linear_regression", __doc__)
    p.add_argument("--seed", type=int, default=0, help="random seed for the data (default 0)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=20,
        help="mini-batch size of the multiple-regression SGD (default 20; 200 or more: full batch)",
    )
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error("--batch-size must be at least 1")
    return args


# ------------------------------------------------------------------------------ data


def make_data(rng, m, true):
    """m examples of y = b + X @ w + Gaussian noise (std 0.5), X of shape (m, n)."""
    w = np.array(true["w"])
    if len(w) == 1:
        X = rng.uniform(0, 2, size=(m, 1))
    else:
        X = rng.normal(size=(m, len(w))) * [1.0, 1.5, 0.5]  # features on different scales
    y = true["b"] + X @ w + rng.normal(0, 0.5, size=m)
    return X, y.reshape(m, 1)


def least_squares(X, y):
    """(b, w) minimising ||[1 X] @ [b; w] - y||^2, by numpy: the exact answer."""
    ones = np.ones((len(X), 1))
    coef, *_ = np.linalg.lstsq(np.hstack([ones, X]), y, rcond=None)
    return coef[0, 0], coef[1:, 0]


# -------------------------------------------------------------------- the model, J


def hypothesis(X, w, b):
    """h(x) = X @ w + b for every row of X at once: (m, n) @ (n, 1) + (1,) -> (m, 1)."""
    return Tensor(X) @ w + b


def cost(h, y):
    """J = 1/(2m) * sum (h - y)^2, the same number as 0.5 * F.mse_loss(h, y)."""
    m = len(y)
    return ((h - y) ** 2).sum() / (2 * m)


def fit(X, y, lr, steps, batch_size, seed=0):
    """Minimise J by (stochastic) gradient descent; returns b, w and J at each epoch's end.

    About ``steps`` updates, in whole epochs. With batch_size >= m every step sees all the
    data (plain gradient descent, one step per epoch). With mini-batches the learning rate
    drops to lr/10 for the last third of the epochs, to calm the noise near the minimum.
    """
    m, n = X.shape
    w = Tensor(np.zeros((n, 1)), requires_grad=True)  # float64, like X
    b = Tensor(np.zeros(1), requires_grad=True)
    optimizer = optim.SGD([w, b], lr=lr)
    loader = DataLoader(X, y, batch_size=min(batch_size, m), seed=seed)
    epochs = -(-steps // len(loader))  # ceil(steps / batches per epoch)
    history = [cost(hypothesis(X, w, b), y).item()]  # J at the start (w = 0, b = 0)
    for epoch in range(epochs):
        if batch_size < m and epoch == (2 * epochs) // 3:
            optimizer.lr = lr / 10
        for x_batch, y_batch in loader:
            J = cost(hypothesis(x_batch, w, b), y_batch)
            optimizer.zero_grad()
            J.backward()  # dJ/dw and dJ/db by backpropagation
            optimizer.step()  # w <- w - lr * dJ/dw, b <- b - lr * dJ/db
        history.append(cost(hypothesis(X, w, b), y).item())  # J on all the data
    return b.item(), w.data[:, 0].copy(), history


def report(title, b, w, b_ls, w_ls, true, tolerance):
    """Print the fit next to least squares and the truth; return the largest difference."""
    diff = float(np.max(np.abs(np.r_[b - b_ls, w - w_ls])))
    print(f"\n{title}")
    print(f"  {'':<18} {'b':>9} " + " ".join(f"{f'w{i + 1}':>9}" for i in range(len(w))))
    for name, bb, ww in [
        ("gradient descent", b, w),
        ("np.linalg.lstsq", b_ls, w_ls),
        ("true (no noise)", true["b"], true["w"]),
    ]:
        print(f"  {name:<18} {bb:>9.5f} " + " ".join(f"{v:>9.5f}" for v in ww))
    verdict = "agree" if diff <= tolerance else "DISAGREE"
    print(f"  largest difference from lstsq: {diff:.2e} (tolerance {tolerance:g}): {verdict}")
    if diff > tolerance:
        print("  (not there yet: small mini-batches are noisy; try a larger --batch-size)")
    return diff


# ------------------------------------------------------------------------- picture


def plot(path, dpi, X1, y1, fit1, X3, y3, fit3, loss1, loss3):
    """Data and fitted line; predicted vs true y for 3 features; both cost curves."""
    fig = new_figure((14, 4), "linear-regression picture")
    if fig is None:
        return None
    axes = fig.subplots(1, 3)
    ax = axes[0]
    ax.scatter(X1[:, 0], y1[:, 0], s=12, alpha=0.6, label="data")
    grid = np.linspace(0, 2, 2)
    ax.plot(grid, fit1[0] + fit1[1][0] * grid, "r-", lw=2, label="fitted h(x) = wx + b")
    ax.plot(grid, TRUE_SIMPLE["b"] + TRUE_SIMPLE["w"][0] * grid, "k--", label="true line")
    ax.set(xlabel="x", ylabel="y", title="simple regression")
    ax.legend()
    ax = axes[1]
    predicted = fit3[0] + X3 @ fit3[1]
    ax.scatter(y3[:, 0], predicted, s=12, alpha=0.6)
    lims = [y3.min(), y3.max()]
    ax.plot(lims, lims, "k--", label="perfect prediction")
    ax.set(xlabel="true y", ylabel="predicted h(x)", title="multiple regression (3 features)")
    ax.legend()
    ax = axes[2]
    ax.plot(loss1, label="simple (full batch: 1 step per epoch)")
    ax.plot(loss3, label="multiple (mini-batch SGD)")
    ax.set(xlabel="epoch", ylabel="J (all data)", title="cost J = 0.5 * MSE", yscale="log")
    ax.legend()
    return save_figure(fig, path, dpi=dpi)


# ---------------------------------------------------------------------------- main


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    m = 100 if args.quick else 200
    steps = 500 if args.quick else 1000

    # 1. Simple regression: one feature, full-batch gradient descent.
    X1, y1 = make_data(rng, m, TRUE_SIMPLE)
    h = hypothesis(X1, Tensor([[1.0]]), Tensor([0.5]))  # some line: w = 1, b = 0.5
    J, half_mse = cost(h, y1).item(), 0.5 * F.mse_loss(h, y1).item()
    print(f"at w = 1, b = 0.5:  J = 1/(2m) sum (h - y)^2 = {J:.6f} = 0.5 * mse_loss {half_mse:.6f}")
    b1, w1, loss1 = fit(X1, y1, lr=0.5, steps=steps // 2, batch_size=m)
    b1_ls, w1_ls = least_squares(X1, y1)
    diff1 = report("simple regression (full batch)", b1, w1, b1_ls, w1_ls, TRUE_SIMPLE, 1e-6)

    # 2. Multiple regression: three features, mini-batch SGD.
    X3, y3 = make_data(rng, m, TRUE_MULTIPLE)
    b3, w3, loss3 = fit(X3, y3, lr=0.2, steps=steps, batch_size=args.batch_size, seed=args.seed)
    b3_ls, w3_ls = least_squares(X3, y3)
    # Mini-batch noise keeps SGD near, not exactly at, the minimum: a looser tolerance.
    tol3 = 1e-6 if args.batch_size >= m else 2e-2
    title = f"multiple regression (batch size {min(args.batch_size, m)} of {m})"
    diff3 = report(title, b3, w3, b3_ls, w3_ls, TRUE_MULTIPLE, tol3)

    print()
    png = plot(
        args.out / "linear_regression.png",
        figure_dpi(args),
        *(X1, y1, (b1, w1)),
        *(X3, y3, (b3, w3)),
        *(loss1, loss3),
    )
    return {
        "J": J,
        "half_mse": half_mse,
        "simple": {"b": b1, "w": w1, "lstsq": (b1_ls, w1_ls), "max_diff": diff1, "tol": 1e-6},
        "multiple": {"b": b3, "w": w3, "lstsq": (b3_ls, w3_ls), "max_diff": diff3, "tol": tol3},
        "loss_simple": loss1,
        "loss_multiple": loss3,
        "figures": [png] if png else [],
    }


if __name__ == "__main__":
    main()
