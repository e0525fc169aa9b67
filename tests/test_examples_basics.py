"""The basics examples (perceptron .. gradient descent) reproduce the notes' numbers.

Each example's ``main(["--quick", "--out", DIR])`` runs in-process once (cached per
module); the tests check the returned numbers and that the pictures are real PNG files.
One example also runs as a script, to check the command line itself.
"""

import sys

import numpy as np
import pytest
from helpers import EXAMPLES, PNG_MAGIC, assert_pngs, load_example, run_python

# ---------------------------------------------------------------- perceptron_gates


def test_perceptron_gates_truth_tables_and_xor(run_example):
    result, printed, out = run_example("perceptron_gates")
    assert result["truth_tables"] == {
        "AND": [0, 0, 0, 1],
        "NAND": [1, 1, 1, 0],
        "OR": [0, 1, 1, 1],
        "XOR": [0, 1, 1, 0],  # AND(NAND, OR), two layers
    }
    found = result["single_perceptrons_found"]
    assert found["XOR"] == 0
    assert min(found["AND"], found["NAND"], found["OR"]) > 0
    assert result["xor_predictions"] == [0, 1, 1, 0]
    assert result["xor_accuracy"] == 1.0
    assert "accuracy 100%" in printed
    assert_pngs(result, out, ["decision_regions.png"])


def test_perceptron_gates_uses_the_notes_parameters():
    gates = load_example("perceptron_gates")
    assert gates.GATES == {
        "AND": ((0.5, 0.5), -0.7),
        "NAND": ((-0.5, -0.5), 0.7),
        "OR": ((0.5, 0.5), -0.2),
    }


# --------------------------------------------------------------------- activations


def test_activations_derivatives(run_example):
    result, _, out = run_example("activations")
    points, slopes = result["points"], result["derivatives"]
    at_zero = points.index(0.0)
    assert slopes["sigmoid"][at_zero] == 0.25
    assert slopes["tanh"][at_zero] == 1.0
    s = np.array(result["values"]["sigmoid"])
    np.testing.assert_allclose(slopes["sigmoid"], s * (1 - s), rtol=1e-12)
    assert slopes["relu"] == [1.0 if x > 0 else 0.0 for x in points]
    assert result["sigmoid_formula_max_error"] < 1e-15
    assert max(result["autograd_vs_numerical_max_error"].values()) < 1e-7
    # The step function: slope 0 everywhere but at the jump, where the difference is 1/2h.
    step = result["derivatives"]["step"]
    assert [v for i, v in enumerate(step) if i != at_zero] == [0.0] * (len(points) - 1)
    assert step[at_zero] == pytest.approx(5000.0)
    assert "does not require grad" in result["step_backward_error"]
    assert_pngs(result, out, ["activations.png"])


# -------------------------------------------------------------------- forward_pass


def test_forward_pass_numbers_and_shapes(run_example):
    result, printed, out = run_example("forward_pass")
    # The notes' weights give the notes' output; the book's W3[1][1] = 0.4 gives its own.
    np.testing.assert_allclose(result["y"], [0.31682708, 0.77338016], atol=5e-9)
    np.testing.assert_allclose(result["y_book"], [0.31682708, 0.69627909], atol=5e-9)
    np.testing.assert_allclose(result["steps"]["a1"], [0.3, 0.7, 1.1])
    np.testing.assert_allclose(
        result["steps"]["z1"], [0.57444252, 0.66818777, 0.75026011], atol=5e-9
    )
    n = len(result["batch_x"])
    assert n == 5
    assert result["batch_shapes"] == {
        "x": (n, 2),
        "a1": (n, 3),
        "z1": (n, 3),
        "a2": (n, 2),
        "z2": (n, 2),
        "a3": (n, 2),
        "y": (n, 2),
    }
    assert result["batch_y"][0] == result["y"]
    assert result["batch_max_difference"] < 1e-15
    shape_check = " ".join(printed.split())  # without the column padding
    assert "x (2,) @ W1 (2, 3) + b1 (3,) -> a1 (3,)" in shape_check
    assert "x (5, 2) @ W1 (2, 3) + b1 (3,) -> a1 (5, 3)" in shape_check
    assert "not aligned" in result["shape_error"]
    assert_pngs(result, out, ["network.png"])


# ------------------------------------------------------------------ loss_functions


def test_loss_functions_notes_values(run_example):
    result, printed, _ = run_example("loss_functions")
    y1, y2 = result["losses"]["y1"], result["losses"]["y2"]
    assert y1["sse"] == pytest.approx(0.0975, abs=1e-15)
    assert y1["cee"] == pytest.approx(0.510825457099338, rel=1e-14)
    assert y2["sse"] == pytest.approx(0.5975, abs=1e-15)
    assert y2["cee"] == pytest.approx(2.302584092994546, rel=1e-14)
    batch = result["batch"]
    assert batch["cee_one_hot"] == pytest.approx((y1["cee"] + y2["cee"]) / 2, rel=1e-14)
    assert batch["cee_labels"] == pytest.approx(batch["cee_one_hot"], rel=1e-14)
    assert batch["sse"] == pytest.approx(0.0975 + 0.5975, abs=1e-14)
    assert "0.510825457099338" in printed and "2.302584092994546" in printed


def test_loss_functions_accuracy_has_no_useful_derivative(run_example):
    result, _, out = run_example("loss_functions")
    n = result["sweep_points"]
    assert result["accuracy_zero_derivatives"] >= 0.95 * n  # a staircase: flat almost everywhere
    assert result["cross_entropy_nonzero_derivatives"] == n  # smooth: a slope everywhere
    assert len(result["accuracy_levels"]) > 3  # but accuracy does change, in jumps
    assert_pngs(result, out, ["cross_entropy.png", "accuracy_vs_loss.png"])


# -------------------------------------------------------------- numerical_gradient


def test_numerical_gradient_notes_values(run_example):
    result, printed, out = run_example("numerical_gradient")
    # Pure float arithmetic (no transcendental functions): the notes' digits exactly.
    assert result["numerical_diff"] == {5: 0.1999999999990898, 10: 0.2999999999986347}
    grads = result["gradients"]
    np.testing.assert_allclose(grads[(3.0, 4.0)], [6, 8], atol=1e-9)
    np.testing.assert_allclose(grads[(0.0, 2.0)], [0, 4], atol=1e-9)
    np.testing.assert_allclose(grads[(3.0, 0.0)], [6, 0], atol=1e-9)
    assert result["field_points"] == 18 * 18  # np.arange(-2, 2.5, 0.25) squared
    for _, _, backprop, numerical in result["comparison"]:
        np.testing.assert_allclose(backprop, numerical, atol=1e-9)
    assert result["reports_passed"]
    assert "max abs err" in printed  # compare_gradients' table
    assert_pngs(result, out, ["tangent_lines.png", "gradient_field.png"])


# ---------------------------------------------------------------- gradient_descent


def test_gradient_descent_learning_rates(run_example):
    result, _, out = run_example("gradient_descent")
    final = result["final"]
    assert result["step_num"] == 100  # --quick keeps the notes' 100 steps
    np.testing.assert_allclose(final[0.1], [-6.11110793e-10, 8.14814391e-10], rtol=1e-8)
    np.testing.assert_allclose(final[10.0], [-2.58983747e13, -1.29524862e12], rtol=1e-8)
    np.testing.assert_allclose(final[1e-10], [-2.99999994, 3.99999992], atol=1e-8)
    np.testing.assert_allclose(final[0.01], [-0.39785867, 0.53047822], atol=1e-8)
    assert result["lr10_last_move"] == 10  # then x + h == x and the numerical gradient is 0
    assert_pngs(result, out, ["gradient_descent.png"])


def test_gradient_descent_autograd_matches_numerical(run_example):
    result, _, _ = run_example("gradient_descent")
    matches = result["autograd_matches_numerical"]
    assert matches == {0.1: True, 0.01: True, 10.0: False, 1e-10: True}
    # With the exact gradient 2x, lr = 10 really multiplies x by -19 each step.
    np.testing.assert_allclose(result["autograd_final"][10.0], result["exact"][10.0], rtol=1e-9)


# -------------------------------------------------------------- command line, setup


def test_missing_matplotlib_prints_a_notice_and_keeps_the_numbers(monkeypatch, capsys, tmp_path):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import matplotlib...` fail
    result = load_example("activations").main(["--quick", "--out", str(tmp_path)])
    assert result["figures"] == []
    assert result["derivatives"]["sigmoid"][result["points"].index(0.0)] == 0.25
    assert "notice: matplotlib is not installed" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_bad_arguments_exit_with_an_error(capsys):
    module = load_example("gradient_descent")
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--steps", "0"])
    assert exit_info.value.code == 2
    assert "--steps must be at least 1" in capsys.readouterr().err


FORWARD_PASS = EXAMPLES / "forward_pass.py"


def test_command_line(tmp_path):
    shown = run_python(FORWARD_PASS, "--help", cwd=tmp_path, timeout=120)
    assert shown.returncode == 0
    assert "--out DIR" in shown.stdout and "--quick" in shown.stdout

    ran = run_python(
        FORWARD_PASS, "--quick", "--out", str(tmp_path / "pictures"), cwd=tmp_path, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert "[0.31682708 0.77338016]" in ran.stdout
    assert (tmp_path / "pictures" / "network.png").read_bytes()[:8] == PNG_MAGIC

    bad = run_python(FORWARD_PASS, "--no-such-option", cwd=tmp_path, timeout=120)
    assert bad.returncode == 2
    assert "unrecognized arguments" in bad.stderr
    assert not (tmp_path / "out").exists()  # nothing was written by the failed runs
