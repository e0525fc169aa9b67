"""The ``tinygrad-edu`` command, end to end through subprocesses."""

import shutil
import subprocess

import pytest
from helpers import REPO, run_python


def cli(*args, cwd, env=None):
    """Run ``python -m tinygrad_edu ARGS`` in ``cwd`` with one BLAS thread; ``env`` adds
    to the environment. Returns the CompletedProcess."""
    return run_python(
        "-m",
        "tinygrad_edu",
        *args,
        cwd=cwd,
        timeout=300,
        env={"OPENBLAS_NUM_THREADS": "1", **(env or {})},
    )


def test_help_lists_every_command(tmp_path):
    done = cli("--help", cwd=tmp_path)
    assert done.returncode == 0
    for command in ("train", "infer", "graph", "gradcheck", "bench", "examples"):
        assert command in done.stdout


@pytest.mark.parametrize(
    ("model", "script", "description"),
    [
        ([], "mnist_two_layer.py", "two-layer"),
        (["--model", "cnn"], "mnist_cnn.py", "convolutional"),
    ],
)
def test_train_help_names_the_model_option(tmp_path, model, script, description):
    done = cli("train", *model, "--help", cwd=tmp_path)
    assert done.returncode == 0
    first, rest = done.stdout.split("\n", 1)
    assert first.startswith("--model {mlp,cnn}:") and first.endswith(f"help of {script}:")
    assert "usage: tinygrad-edu train" in rest and description in rest


def test_the_console_script_is_installed(tmp_path):
    script = shutil.which("tinygrad-edu")
    if script is None:
        pytest.skip("tinygrad-edu is not on PATH (package not installed)")
    done = subprocess.run([script, "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and "gradcheck" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["train", "--epochs", "0"], "--epochs must be at least 1"),
        (["train", "--lr", "nan"], "--lr must be positive"),
        (["train", "--lr", "inf"], "--lr must be positive and finite, not inf"),
        (["train", "--seed", "-1"], "--seed must be in 0 .. 4294967295"),
        (["train", "--data-dir", "no-such-folder"], "--data-dir no-such-folder: does not exist"),
        (["infer"], "--weights PATH is required"),
        (["graph", "--format", "gif"], "invalid choice: 'gif'"),
        (["bench", "nothing"], "invalid choice: 'nothing'"),
        (["gradcheck", "--hidden", "x"], "invalid int value: 'x'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message, tmp_path):
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(f"tinygrad-edu {args[0]}: error: ") or args == ["bogus"]
    assert message in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing made: no output folder, no probe file


def test_train_one_epoch_on_real_mnist(mnist_dir, tmp_path):
    done = cli("train", "--data-dir", mnist_dir, "--epochs", "1", "--hidden", "50", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("final test accuracy: ") and float(last.split()[-1]) > 0.9
    # no --out: it says so, and how to save, on stderr (the last stdout line stays the same)
    assert done.stderr.strip().splitlines()[-1] == (
        "nothing was saved: pass --out DIR to keep the weights, the confusion matrix "
        "and the learning curves"
    )


def test_infer_scores_the_books_weights(mnist_dir, sample_weight, tmp_path):
    done = cli(
        "infer", "--weights", sample_weight, "--data-dir", mnist_dir, "--quick", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Accuracy: ") == 2  # per-sample and batched, same predictions
    assert "identical" in done.stdout


def test_gradcheck_prints_a_passing_table(mnist_dir, tmp_path):
    # the default --hidden is the notes' 50 (about 4 s); 5 keeps the suite fast
    done = cli("gradcheck", "--data-dir", mnist_dir, "--hidden", "5", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["W1", "b1", "W2", "b2"]
    assert all(row[-1] == "ok" and float(row[-2]) < 1e-6 for row in rows)


def test_graph_writes_a_picture_or_dot_text_and_says_where(tmp_path):
    done = cli("graph", "--out", "g", cwd=tmp_path)  # relative to the current folder
    assert done.returncode == 0, done.stderr
    written = list((tmp_path / "g").iterdir())
    assert len(written) == 1
    assert done.stdout.strip().splitlines()[-1] == f"wrote {written[0].resolve()}"  # full path
    text = written[0].read_text()
    assert "linear" in text and "cross_entropy" in text and "0.weight" in text


def test_examples_lists_the_scripts():
    done = cli("examples", cwd=REPO)  # run from the root of the source checkout
    assert done.returncode == 0
    names = [
        line.split()[0]
        for line in done.stdout.splitlines()
        if line.endswith(".py") or ".py " in line
    ]
    assert "mnist_two_layer.py" in names and "perceptron_gates.py" in names
    assert not any(name.startswith("_") for name in names)


def test_bench_runs_a_benchmark_script(tmp_path):
    out = tmp_path / "overhead.json"
    done = cli("bench", "overhead", "--quick", "--json", out, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and "add" in out.read_text()
