"""The benchmark scripts run, write well-formed JSON, and their variants agree.

Each script runs once with ``--quick`` in a subprocess. Nothing here checks a time: the
machine may be slow or busy; only structure and results (accuracies, losses, gradients)
are checked. One run hides PyTorch behind a stub package whose import fails, as on a
machine without it.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import run_python

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = [
    *("bench_inference.py", "bench_training.py", "bench_gradients.py", "bench_overhead.py"),
    "bench_conv.py",
]
ENVIRONMENT_KEYS = {"date", "cpu", "cores", "python", "numpy", "tinygrad_edu", "torch"}
# One BLAS / PyTorch thread: on a busy machine, competing thread pools make runs much slower
# (the results checked here do not depend on it).
ONE_THREAD = dict.fromkeys(["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"], "1")


def run(script, *args, env=None):
    """Run a benchmark script; return its stdout (failing the test on a non-zero exit)."""
    result = run_python(BENCHMARKS / script, *args, timeout=120, env={**ONE_THREAD, **(env or {})})
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def run_json(tmp_path, script, *args, env=None):
    path = tmp_path / f"{Path(script).stem}.json"
    stdout = run(script, "--quick", "--json", path, *args, env=env)
    report = json.loads(path.read_text())
    assert report["benchmark"] == Path(script).stem.removeprefix("bench_")
    assert set(report["environment"]) >= ENVIRONMENT_KEYS
    assert {"settings", "results"} <= set(report)
    return report, stdout


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory):
    return tmp_path_factory.mktemp("benchmarks")


@pytest.fixture(scope="module")
def weights(tmp_module):
    """A weights file of the book's shapes (random values)."""
    rng = np.random.default_rng(0)
    shapes = {"W1": (784, 50), "b1": (50,), "W2": (50, 100), "b2": (100,), "W3": (100, 10)}
    arrays = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    arrays["b3"] = np.zeros(10, np.float32)
    path = tmp_module / "weights.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script):
    assert "--json" in run(script, "--help")


@pytest.mark.parametrize("script", ["bench_inference.py", "bench_training.py"])
def test_a_folder_without_mnist_is_one_line_not_a_traceback(tmp_path, script):
    result = run_python(BENCHMARKS / script, "--quick", "--data-dir", tmp_path, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{script}: error: load_mnist: MNIST not found")


def test_inference(tmp_path, weights):
    report, stdout = run_json(tmp_path, "bench_inference.py", "--weights", weights)
    results = report["results"]
    variants = report["settings"]["variants"]
    assert variants[:3] == ["tinygrad_edu", "numpy", "traced"]
    assert ("torch" in variants) == torch_available()
    runs = results["runs"]
    assert {(r["variant"], r["batch_size"]) for r in runs} == {
        (v, b) for v in variants for b in report["settings"]["batch_sizes"]
    }
    for r in runs:
        assert r["seconds"]["median"] > 0 and r["images_per_second"] > 0
    accuracies = {r["accuracy"] for r in runs}
    assert len(accuracies) == 1, f"variants disagree: {accuracies}"
    assert results["accuracies_agree"] is True
    assert [t["limit"] for t in results["targets"]] == [2.0, 1.0, 1.05, 1.0, 1.0, 1.0]
    assert "Targets" in stdout


def test_inference_without_torch(tmp_path):
    """A ``torch`` package whose import fails stands in for a machine without PyTorch."""
    stub = tmp_path / "stub" / "torch"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('torch hidden by the test')\n")
    path = os.pathsep.join([str(stub.parent), os.environ.get("PYTHONPATH", "")])
    report, stdout = run_json(tmp_path, "bench_inference.py", env={"PYTHONPATH": path})
    assert report["settings"]["variants"] == ["tinygrad_edu", "numpy", "traced"]
    assert report["environment"]["torch"] is None
    assert "not available" in stdout and "torch hidden by the test" in stdout
    assert "random weights" in report["settings"]["weights"].lower()
    torch_target = report["results"]["targets"][1]
    assert torch_target["met"] is None and torch_target["value"] is None
    assert len({r["accuracy"] for r in report["results"]["runs"]}) == 1


def test_training(tmp_path):
    report, _ = run_json(tmp_path, "bench_training.py")
    configs = report["results"]["configs"]
    assert {(c["dtype"], c["hidden"]) for c in configs} == {("float32", 100), ("float64", 100)}
    for c in configs:
        variants = set(c["ms_per_step"])
        assert {"tinygrad_edu", "numpy", "book", "traced"} <= variants
        assert ("torch" in variants) == torch_available()
        assert c["ratio_to_numpy"]["numpy"] == pytest.approx(1.0)
        tolerance = 1e-4 if c["dtype"] == "float32" else 1e-10
        for name, losses in c["losses"].items():
            # the book's cross_entropy_error takes log(y + 1e-7): a loss about 1e-6 higher
            limit = 1e-5 if name == "book" else tolerance
            assert losses == pytest.approx(c["losses"]["numpy"], abs=limit), name
            assert np.isfinite(losses).all()
    assert len(report["results"]["targets"]) == 5


def test_training_no_torch_flag(tmp_path):
    report, stdout = run_json(tmp_path, "bench_training.py", "--no-torch", "--dtypes", "float32")
    assert report["settings"]["variants"] == ["tinygrad_edu", "numpy", "book", "traced"]
    assert "--no-torch" in stdout
    assert report["results"]["targets"][2]["met"] is None


def test_gradients(tmp_path):
    report, stdout = run_json(tmp_path, "bench_gradients.py", "--batch-size", "3")
    results = report["results"]
    assert report["settings"]["parameters"] == 39_760
    assert set(results["arrays"]) == {"W1", "b1", "W2", "b2"}
    for name, array in results["arrays"].items():
        assert 0 < array["sampled"] <= array["size"]
        assert array["mean_abs_difference"] < 1e-6, name  # backprop matches central differences
    assert results["numerical_all_extrapolated"] is True
    assert "EXTRAPOLATED" in stdout


def test_overhead(tmp_path):
    plot = tmp_path / "overhead.png"
    report, _ = run_json(tmp_path, "bench_overhead.py", "--medium", "32", "--plot", plot)
    rows = report["results"]["ops"]
    expected = {"add", "mul", "matmul", "exp", "sigmoid", "sum", "relu", "reshape", "getitem"}
    assert {r["op"] for r in rows} == expected
    for r in rows:
        assert set(r["us"]) == {"numpy", "no_grad", "grad"}
        assert r["overhead_grad_us"] == pytest.approx(
            r["us"]["grad"]["median"] - r["us"]["numpy"]["median"]
        )
    assert report["results"]["chain"]["gradients_agree"] is True
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_conv(tmp_path):
    report, stdout = run_json(tmp_path, "bench_conv.py")
    results = report["results"]
    variants = report["settings"]["variants"]
    assert variants[:2] == ["tinygrad_edu", "book"]
    assert ("torch" in variants) == torch_available()
    assert [r["layer"] for r in results["layers"]] == ["conv1", "pool1", "conv2", "pool2"]
    for r in results["layers"]:
        assert set(r["ms"]) == set(variants) and min(r["ms"].values()) > 0
        # same outputs and gradients: float32 against the book's float64 and PyTorch
        for variant, difference in r["max_relative_difference_to_tinygrad_edu"].items():
            assert difference < 1e-4, (r["layer"], variant)
    assert {row["layer"] for row in results["im2col"]} == {"conv1", "pool1", "conv2", "pool2"}
    assert [row["layer"] for row in results["max_pool_ways"]] == ["pool1", "pool2"]
    assert len(results["targets"]) == 8 and "Targets" in stdout
