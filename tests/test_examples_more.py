"""The later examples (regression, eager graphs, second derivatives, MNIST inference,
the gradient check) compute what their docstrings promise (mnist_inference, a thin
wrapper of ``tinygrad_edu.inference``, is tested in test_inference.py).

Each example's ``main([... "--quick", "--out", DIR])`` runs in-process (cached per module
where several tests look at one run); the tests check the returned numbers against
independent computations and that the pictures are real PNG files.
Two runs go through the command line itself: ``--help`` and a bad invocation.
"""

import shutil

import numpy as np
import pytest
from helpers import EXAMPLES, assert_pngs, call_main, load_example, run_python

from tinygrad_edu import nn, no_grad, optim

NAMES = [
    "linear_regression",
    "logistic_regression",
    "eager_vs_graph",
    "double_backprop",
    "mnist_inference",
    "two_layer_net_gradcheck",
]


# ------------------------------------------------------------------ linear_regression


def test_linear_regression_matches_least_squares(run_example):
    result, printed, out = run_example("linear_regression")
    assert result["J"] == pytest.approx(result["half_mse"], rel=1e-12)  # J = 0.5 * MSE
    simple, multiple = result["simple"], result["multiple"]
    assert simple["max_diff"] < 1e-6  # full-batch gradient descent reaches lstsq
    assert multiple["max_diff"] < multiple["tol"] <= 2e-2  # mini-batch SGD: near it
    for fit, true in ((simple, (4.0, [3.0])), (multiple, (3.0, [1.5, -2.0, 0.7]))):
        b_ls, w_ls = fit["lstsq"]
        np.testing.assert_allclose(np.r_[fit["b"], fit["w"]], np.r_[b_ls, w_ls], atol=fit["tol"])
        np.testing.assert_allclose(np.r_[b_ls, w_ls], np.r_[true[0], true[1]], atol=0.3)
    assert result["loss_simple"][-1] < result["loss_simple"][0] / 10
    assert result["loss_multiple"][-1] < result["loss_multiple"][0] / 10
    assert printed.count(": agree") == 2
    assert_pngs(result, out, ["linear_regression.png"])


def test_linear_regression_least_squares_helper_is_exact():
    lr = load_example("linear_regression")
    X = np.random.default_rng(1).normal(size=(30, 3))
    y = (2.0 + X @ [1.0, -1.0, 0.5]).reshape(-1, 1)  # no noise: exact coefficients
    b, w = lr.least_squares(X, y)
    np.testing.assert_allclose(np.r_[b, w], [2.0, 1.0, -1.0, 0.5], atol=1e-12)


def test_linear_regression_full_batch_reaches_least_squares_for_3_features():
    lr = load_example("linear_regression")
    X, y = lr.make_data(np.random.default_rng(3), 100, lr.TRUE_MULTIPLE)
    b, w, history = lr.fit(X, y, lr=0.2, steps=500, batch_size=len(X))
    assert len(history) == 501  # J at the start and after each step (= epoch)
    b_ls, w_ls = lr.least_squares(X, y)
    np.testing.assert_allclose(np.r_[b, w], np.r_[b_ls, w_ls], atol=1e-6)


# ---------------------------------------------------------------- logistic_regression


def test_logistic_regression_metrics_are_consistent(run_example):
    result, printed, out = run_example("logistic_regression")
    t, scores = result["t_test"], result["scores"]
    cm = result["confusion_matrix"]
    (tn, fp), (fn, tp) = cm
    assert cm.sum() == len(t) and cm[1].sum() == t.sum()
    assert 0.85 < result["accuracy"] < 1.0  # the blobs overlap a little: no line is perfect
    assert result["accuracy"] == pytest.approx((tp + tn) / cm.sum())
    assert result["precision"] == pytest.approx(tp / (tp + fp))
    assert result["recall"] == pytest.approx(tp / (tp + fn))
    p, r = result["precision"], result["recall"]
    assert result["f1"] == pytest.approx(2 * p * r / (p + r))
    # ROC-AUC = P(score of a positive > score of a negative), ties counting one half
    pos, neg = scores[t == 1], scores[t == 0]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert result["roc_auc"] == pytest.approx(pairs.mean())
    assert result["roc_auc"] > 0.9
    # the two ways to write the loss agree
    assert result["test_loss_with_logits"] == pytest.approx(result["test_loss_on_probs"], rel=1e-9)
    assert result["losses"][0] == pytest.approx(np.log(2))  # w = 0, b = 0: p = 0.5
    assert result["losses"][-1] < 0.3
    assert "confusion matrix" in printed
    assert_pngs(result, out, ["logistic_regression.png"])


def test_logistic_regression_with_sgd():
    module = load_example("logistic_regression")
    rng = np.random.default_rng(1)
    x, t = module.make_blobs(rng, 100)
    (x_train, t_train), (x_test, t_test) = module.train_test_split(rng, x, t)
    assert len(x_test) == 50 and len(x_train) == 150
    model = nn.Linear(2, 1, dtype=np.float64)
    losses = module.train(model, x_train, t_train, optim.SGD(model.parameters(), lr=0.5), 150)
    assert losses[-1] < losses[0] and losses[-1] < 0.3
    with no_grad():
        scores = module.logits(model, x_test).sigmoid().numpy()
    assert module.evaluate(t_test, scores)["accuracy"] > 0.85


# --------------------------------------------------------------------- eager_vs_graph


def test_eager_vs_graph_two_inputs_two_graphs(run_example):
    result, printed, out = run_example("eager_vs_graph")
    assert result["b"] == 15.0  # x * x + 2 * x at 3, printed before any backward
    assert result["ops"] == {3.5: ["mul", "add", "add", "add"], -2.5: ["neg", "add", "add"]}
    assert result["op_counts"] == {3.5: 4, -2.5: 3}
    assert result["grads"] == result["expected_grads"] == {3.5: 10.0, -2.5: 1.0}
    for value, numeric in result["numerical_grads"].items():
        assert numeric == pytest.approx(result["grads"][value], abs=1e-6)
    assert "1. mul(x, x) -> 12.25" in printed
    assert result["freed"]  # backward() released the graph it walked
    assert result["frozen_branch"] == 6.25  # traced at 3.5 (x * x), replayed at -2.5
    assert result["variants_agree"]  # eager, traced, numpy (and torch) give the same outputs
    assert {"eager", "traced", "numpy"} <= set(result["timings_us"])
    assert "trace(f) refuses" in printed and "item()" in printed
    suffix = ".png" if shutil.which("dot") else ".dot"
    names = [f"graph_1{suffix}", f"graph_2{suffix}"]
    assert sorted(p.name for p in result["figures"]) == names
    if suffix == ".png":
        assert_pngs(result, out, names)


def test_eager_vs_graph_without_viz(tmp_path):
    module = load_example("eager_vs_graph")
    module.viz = None  # as if tinygrad_edu.viz did not exist: the graphs are printed
    result, printed = call_main(module, ["--inputs", "1.5", "-0.5", "--out", tmp_path])
    assert result["figures"] == [] and not list(tmp_path.iterdir())
    assert result["op_counts"] == {1.5: 2, -0.5: 1}
    assert "1. neg(x) -> 0.5" in printed
    assert result["grads"] == {1.5: 4.0, -0.5: -1.0}  # 2x + 1, and -1


# -------------------------------------------------------------------- double_backprop


def test_double_backprop_cube_and_newton(run_example):
    result, printed, out = run_example("double_backprop")
    assert result["dydx"] == pytest.approx(12.0, abs=1e-12)  # 3x^2 at 2
    assert result["d2ydx2"] == pytest.approx(12.0, abs=1e-12)  # 6x at 2
    assert result["slope"] == pytest.approx(21.0)  # 4x^3 - 6x + 1 at 2
    assert result["curvature"] == pytest.approx(42.0)  # 12x^2 - 6 at 2
    roots = np.roots([4, 0, -6, 1])  # f'(x) = 0
    nearest = roots[np.argmin(np.abs(roots - result["x_min"]))].real
    assert result["x_min"] == pytest.approx(nearest, abs=1e-10)
    assert 12 * result["x_min"] ** 2 - 6 > 0  # a minimum
    assert result["newton_steps"] < 10
    assert result["gd_steps"] > 5 * result["newton_steps"]
    assert result["gd_xs"][-1] == pytest.approx(result["x_min"], abs=1e-9)
    assert "a minimum at x = 1.1309" in printed
    assert_pngs(result, out, ["double_backprop.png"])


def test_double_backprop_derivatives_of_other_functions():
    module = load_example("double_backprop")
    for x0 in (-1.5, 0.3, 2.0):
        slope, curvature = module.first_and_second_derivative(lambda x: x.exp() * x, x0)
        assert slope == pytest.approx(np.exp(x0) * (x0 + 1))
        assert curvature == pytest.approx(np.exp(x0) * (x0 + 2))


# ------------------------------------------------------------ two_layer_net_gradcheck


def test_two_layer_net_gradcheck_differences_are_tiny(run_example):
    result, printed, out = run_example("two_layer_net_gradcheck")  # whatever MNIST is found
    assert result["hidden"] == 5
    assert list(result["diffs"]) == ["W1", "b1", "W2", "b2"]
    for name, diff in result["diffs"].items():
        assert 0 < diff < 1e-6, name
        assert result["max_diffs"][name] < 1e-6
    assert result["passed"]
    assert result["time_numerical"] > result["time_backprop"]
    assert "yes, backprop is right" in printed
    assert_pngs(result, out, ["two_layer_net_gradcheck.png"])


# ------------------------------------------------------------------- the command line


@pytest.mark.parametrize("name", NAMES)
def test_every_example_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        load_example(name).main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--out DIR" in text and "--quick" in text


def test_help_from_the_command_line(tmp_path):
    done = run_python(EXAMPLES / "double_backprop.py", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Newton" in done.stdout and "--x0" in done.stdout
    assert not list(tmp_path.iterdir())  # --help writes nothing
