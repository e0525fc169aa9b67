"""End-to-end tests of examples/mnist_two_layer.py: one epoch on the real MNIST files
(accuracy, output files, reloaded weights), argument errors, and the offline fallback to
the bundled sample."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from helpers import FLAGSHIP, OFFLINE_ENV, PNG_MAGIC

from tinygrad_edu import metrics, nn, no_grad
from tinygrad_edu.datasets import load_mnist

FINAL_LINE = re.compile(r"final test accuracy: (0\.\d{4})")


def run_demo(*args, env_changes=None, drop=(), timeout=120):
    """Run the flagship script in a fresh interpreter; return the CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    # One BLAS thread: on a busy machine OpenBLAS's spinning threads make this run ~5x
    # slower (the results are the same).
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.update(env_changes or {})
    return subprocess.run(
        [sys.executable, str(FLAGSHIP), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def final_accuracy(stdout):
    last = stdout.strip().splitlines()[-1]
    match = FINAL_LINE.fullmatch(last)
    assert match, f"last stdout line is {last!r}"
    return float(match.group(1))


def fresh_model():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


@pytest.fixture(scope="module")
def one_epoch(mnist_dir, tmp_path_factory):
    """One epoch of the flagship on real MNIST, run once for the tests of this module."""
    out = tmp_path_factory.mktemp("flagship")
    result = run_demo("--data-dir", mnist_dir, "--epochs", 1, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "nothing was saved" not in result.stderr
    return result, out


@pytest.fixture(scope="module")
def mnist_test_set(mnist_dir):
    _, (x_test, t_test) = load_mnist(data_dir=mnist_dir)
    return x_test, t_test


def test_one_epoch_reaches_95_percent(one_epoch):
    result, _ = one_epoch
    assert final_accuracy(result.stdout) >= 0.95
    assert "WARNING" not in result.stderr  # the real data was used, not the sample
    assert re.search(r"epoch +1/1 +loss \d\.\d{4}", result.stdout)


def test_writes_learning_curves_png(one_epoch):
    _, out = one_epoch
    assert (out / "learning_curves.png").read_bytes()[:8] == PNG_MAGIC


def test_writes_weights_npz_without_pickles(one_epoch):
    _, out = one_epoch
    with np.load(out / "mnist_two_layer.npz", allow_pickle=False) as archive:
        shapes = {name: archive[name].shape for name in archive.files}
        dtypes = {archive[name].dtype for name in archive.files}
    assert shapes == {
        "0.weight": (784, 256),
        "0.bias": (256,),
        "2.weight": (256, 10),
        "2.bias": (10,),
    }
    assert dtypes == {np.dtype(np.float32)}


def test_writes_confusion_matrix_csv(one_epoch, mnist_test_set):
    result, out = one_epoch
    matrix = np.loadtxt(out / "confusion_matrix.csv", delimiter=",", dtype=np.int64)
    assert matrix.shape == (10, 10)
    assert matrix.sum() == 10_000
    _, t_test = mnist_test_set
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(t_test, minlength=10))
    assert np.trace(matrix) / 10_000 == pytest.approx(final_accuracy(result.stdout), abs=5e-5)
    assert sorted(p.name for p in out.iterdir()) == [
        "confusion_matrix.csv",
        "learning_curves.png",
        "mnist_two_layer.npz",
    ]  # no temporary files left behind


def test_saved_weights_reproduce_the_accuracy_in_a_fresh_model(one_epoch, mnist_test_set):
    result, out = one_epoch
    x_test, t_test = mnist_test_set
    np.random.seed(12345)  # different initial weights from the script's
    model = fresh_model().load(out / "mnist_two_layer.npz")
    with no_grad():
        predicted = model(x_test).data.argmax(axis=1)
    accuracy = metrics.accuracy(t_test, predicted)
    assert accuracy == pytest.approx(final_accuracy(result.stdout), abs=5e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--lr", "-1"], "--lr must be positive"),
        (["--lr", "0"], "--lr must be positive"),
        (["--lr", "nan"], "--lr"),
        (["--hidden", "0"], "--hidden must be at least 1"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--momentum", "-1"], "--momentum"),
        (["--momentum", "1"], "--momentum must be in [0, 1)"),
        (["--lr", "inf"], "--lr must be positive and finite, not inf"),
        (["--hidden", "1000000"], "--hidden must be at most 100,000"),
        (["--seed", "4294967296"], "--seed must be in 0 .. 4294967295"),
        (["--data-dir", "/no/such/folder"], "--data-dir /no/such/folder: does not exist"),
    ],
)
def test_bad_arguments_exit_2_with_a_one_line_error(args, message, tmp_path):
    # Were a bad value accepted, the run would stay short: one epoch of big batches.
    options = {"--epochs": "1", "--batch-size": "10000", **dict(zip(args[::2], args[1::2]))}
    result = run_demo(
        *(part for pair in options.items() for part in pair),
        "--out",
        tmp_path / "out",
        env_changes={**OFFLINE_ENV, "TINYGRAD_EDU_CACHE": str(tmp_path / "cache")},
        drop=("TINYGRAD_EDU_DATA",),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no usage block, no traceback
    assert re.match(r"\S*mnist_two_layer\.py: error: ", lines[0]), lines[0]
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


def test_without_data_falls_back_to_the_sample_and_says_so(tmp_path):
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    result = run_demo(
        "--epochs",
        1,
        env_changes={**OFFLINE_ENV, "TINYGRAD_EDU_CACHE": str(cache)},
        drop=("TINYGRAD_EDU_DATA",),
    )
    assert result.returncode == 0, result.stderr
    stderr = result.stderr
    assert "=" * 78 in stderr
    assert re.search(
        r"WARNING: using the bundled 10,000-image.*Why: MNIST not found \(download failed",
        stderr,
        re.S,
    )
    assert "pass --data-dir DIR, a folder with the four MNIST files" in stderr  # the option
    assert "nothing was saved: pass --out DIR" in stderr  # no --out: says so, and how to save
    # trained on the 10,000-image sample: still clearly learning, on 2,000 test images
    assert final_accuracy(result.stdout) >= 0.85
    assert list(cache.rglob("*")) == []  # nothing half-downloaded left in the cache
