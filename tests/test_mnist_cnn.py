"""examples/mnist_cnn.py, the chapter-7 CNN, in its --quick form (1 epoch on 1,000 training
images): the printed lines, the history, the files written into --out (weights that load
back into the same network, the confusion matrix, the pictures), and bad options. The full
run (99 % on MNIST) is measured by hand and recorded in the README, not tested here: it
takes minutes.
"""

import re

import numpy as np
import pytest
from helpers import assert_pngs, call_main, load_example

from tinygrad_edu import no_grad

FINAL_LINE = re.compile(r"final test accuracy: (0\.\d{4}|1\.0000)")


@pytest.fixture(scope="module")
def quick_run(run_example, mnist_dir):
    """The quick run, on the real MNIST files (mnist_dir skips without them)."""
    return run_example("mnist_cnn")


def test_quick_run_prints_epoch_lines_and_the_final_accuracy(quick_run):
    result, printed, _ = quick_run
    lines = printed.strip().splitlines()
    assert FINAL_LINE.fullmatch(lines[-1]), lines[-1]
    assert any(line.startswith("epoch  1/1  loss ") for line in lines)
    history = result["history"]
    assert [len(v) for v in history.values()] == [1, 1, 1]
    assert float(FINAL_LINE.fullmatch(lines[-1]).group(1)) == pytest.approx(
        history["test_acc"][-1], abs=5e-5
    )
    # 10 Adam steps on 1,000 images already beat chance (0.1) by far
    assert history["test_acc"][-1] > 0.4 and np.isfinite(history["loss"]).all()


def test_quick_run_writes_weights_confusion_matrix_and_pictures(quick_run):
    result, _, out = quick_run
    names = ["learning_curves.png", "filters_before.png", "filters_after.png"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        names = []
    assert_pngs(result, out, names)

    model = load_example("mnist_cnn").build_model()
    model.load(out / "mnist_cnn.npz")  # the weights fit the network of the docstring
    assert model[0].weight.shape == (30, 1, 5, 5) and model[3].weight.shape == (32, 30, 3, 3)
    x = np.random.default_rng(0).random((20, 1, 28, 28), dtype=np.float32)
    with no_grad():
        np.testing.assert_array_equal(model(x).data, result["model"](x).data)
    matrix = np.loadtxt(out / "confusion_matrix.csv", delimiter=",", dtype=int)
    assert matrix.shape == (10, 10) and matrix.sum() == 10_000  # the whole test set
    assert np.trace(matrix) / matrix.sum() == pytest.approx(result["history"]["test_acc"][-1])


def test_the_first_layer_is_the_books():
    """Figure 7-24 shows the book's first layer: 30 filters of 5 x 5 on one channel."""
    np.random.seed(0)
    model = load_example("mnist_cnn").build_model()
    assert repr(model[0]) == "Conv2d(1, 30, kernel_size=(5, 5), stride=(1, 1))"
    assert model(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--lr", "nan"], "--lr must be positive and finite"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
    ],
)
def test_bad_options_are_refused_before_any_work(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        call_main(load_example("mnist_cnn"), args)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("model_option", [["--model", "cnn"], ["--model=cnn"]])
def test_cli_train_model_cnn_runs_this_example(model_option, capsys):
    from tinygrad_edu.apps import cli

    with pytest.raises(SystemExit) as stop:
        cli.main(["train", *model_option, "--help"])
    assert stop.value.code == 0
    shown = capsys.readouterr().out
    assert "usage: tinygrad-edu train" in shown and "convolutional network" in shown


def test_cli_train_refuses_an_unknown_model(capsys):
    from tinygrad_edu.apps import cli

    with pytest.raises(SystemExit) as stop:
        cli.main(["train", "--model", "resnet"])
    assert stop.value.code == 2
    assert "--model must be mlp or cnn, not 'resnet'" in capsys.readouterr().err
