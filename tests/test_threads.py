"""tinygrad_edu.threads: setting and reading the BLAS thread count, and its errors.

No test checks a time (benchmarks/bench_threads.py measures them); OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE, which this workplace may set, are left as they are.
"""

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import threads

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_threads.py"


@pytest.fixture(autouse=True)
def restore_threads():
    """Every test leaves the BLAS thread count as it found it."""
    before = threads.get_num_threads()
    yield
    threads.set_num_threads(before)


@pytest.fixture
def no_blas(monkeypatch):
    """threadpoolctl that finds no BLAS (as with Apple's Accelerate, which it cannot see)."""
    import threadpoolctl

    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [])


def test_threadpoolctl_sees_a_blas():
    libraries = threads.blas_info()
    assert libraries, "threadpoolctl finds no BLAS in numpy"
    for lib in libraries:
        assert lib["user_api"] == "blas"
        assert isinstance(lib["num_threads"], int) and lib["num_threads"] >= 1


@pytest.mark.parametrize("n", [1, 2])
def test_set_then_get(n):
    threads.set_num_threads(n)
    assert threads.get_num_threads() == n
    assert all(lib["num_threads"] == n for lib in threads.blas_info())


def test_numpy_integer_is_accepted():
    threads.set_num_threads(np.int64(1))
    assert threads.get_num_threads() == 1


def test_process_wide_from_any_python_thread():
    """threadpoolctl alone lets only the first Python thread that set a limit change
    OpenBLAS's; set_num_threads works from any thread, and the main thread sees it."""
    threads.set_num_threads(1)
    worker = threading.Thread(target=threads.set_num_threads, args=(2,))
    worker.start()
    worker.join()
    assert threads.get_num_threads() == 2
    threads.set_num_threads(1)
    assert threads.get_num_threads() == 1


def test_matmul_still_right_with_one_thread(rng):
    a = rng.standard_normal((100, 784)).astype(np.float32)
    b = rng.standard_normal((784, 256)).astype(np.float32)
    threads.set_num_threads(2)
    expected = a @ b
    threads.set_num_threads(1)
    np.testing.assert_allclose(a @ b, expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("bad", [0, -1, -100])
def test_counts_below_one_raise_value_error(bad):
    with pytest.raises(ValueError, match=r"set_num_threads: .*at least 1, got -?\d+"):
        threads.set_num_threads(bad)


@pytest.mark.parametrize("bad", [1.0, 2.5, "2", None, True, [1]])
def test_non_integers_raise_type_error(bad):
    with pytest.raises(TypeError, match=r"set_num_threads: the number of threads must be an int"):
        threads.set_num_threads(bad)


def test_bad_argument_leaves_the_count_alone():
    threads.set_num_threads(1)
    with pytest.raises(ValueError):
        threads.set_num_threads(0)
    assert threads.get_num_threads() == 1


def test_default_num_threads():
    n = threads.default_num_threads()
    assert isinstance(n, int) and n >= 1
    assert n == 1  # the figures in benchmarks/README.md ("BLAS threads") chose it


def test_more_threads_than_the_blas_allows_warns():
    with pytest.warns(RuntimeWarning, match="set_num_threads: asked for 100000 threads"):
        threads.set_num_threads(100_000)
    assert 1 <= threads.get_num_threads() < 100_000


@pytest.mark.parametrize("function", ["set_num_threads", "get_num_threads"])
def test_no_blas_is_said_clearly(no_blas, function):
    args = (1,) if function == "set_num_threads" else ()
    with pytest.raises(RuntimeError, match=f"{function}: threadpoolctl finds no BLAS"):
        getattr(threads, function)(*args)


def test_no_blas_info_is_empty(no_blas):
    assert threads.blas_info() == []


def test_bad_argument_checked_before_looking_for_a_blas(no_blas):
    with pytest.raises(ValueError, match="set_num_threads"):
        threads.set_num_threads(0)


def test_missing_threadpoolctl_is_said_clearly(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import then fails
    with pytest.raises(ImportError, match="get_num_threads: needs threadpoolctl"):
        threads.get_num_threads()
    assert threads.use_default_num_threads() is None  # a program just goes on


# ---------------------------------------------------------------- use_default_num_threads


@pytest.fixture
def no_thread_env(monkeypatch):
    for name in threads.THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def test_use_default_sets_the_default(no_thread_env):
    threads.set_num_threads(2)
    assert threads.use_default_num_threads() == threads.default_num_threads()
    assert threads.get_num_threads() == threads.default_num_threads()


@pytest.mark.parametrize("name", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])
def test_use_default_respects_the_users_choice(no_thread_env, monkeypatch, name):
    threads.set_num_threads(2)
    monkeypatch.setenv(name, "2")
    assert threads.use_default_num_threads() is None
    assert threads.get_num_threads() == 2


def test_use_default_without_blas_does_nothing(no_thread_env, no_blas):
    assert threads.use_default_num_threads() is None


# ----------------------------------------------------------------------- the benchmark


@pytest.mark.parametrize("load", [False, True], ids=["quiet", "busy"])
def test_benchmark_quick(tmp_path, load):
    """bench_threads.py --quick runs, writes its JSON, agrees across thread counts and, with
    --load, stops the CPU-burning processes it started."""
    path = tmp_path / "threads.json"
    command = [sys.executable, str(BENCHMARK), "--quick", "--json", str(path)]
    run = subprocess.run(
        command + (["--load", "--load-limit", "60"] if load else []),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    report = json.loads(path.read_text())
    assert report["benchmark"] == "threads"
    assert report["environment"]["blas_libraries"]
    settings, results = report["settings"], report["results"]
    assert {1, 2} <= set(settings["thread_counts"])
    assert settings["default_num_threads"] == threads.default_num_threads()
    conditions = results["conditions"]
    assert [c["condition"] for c in conditions] == (["quiet", "busy"] if load else ["quiet"])
    for c in conditions:
        assert set(c["training"]) == {str(n) for n in settings["thread_counts"]}
        for n, row in c["inference"].items():
            assert row["batch_100"]["us_per_image"] > 0 and row["batch_1"]["us_per_image"] > 0
            assert c["training"][n]["ms_per_step"] > 0
        assert c["max_loss_difference"] < 1e-4
    assert results["predictions_agree"] is True
    assert len(results["burner_pids"]) == (settings["load_workers"] if load else 0)
    for pid in results["burner_pids"]:  # stopped at the end, not left spinning
        assert not _burner_running(pid), f"CPU-burning process {pid} still runs"
    assert "BLAS:" in run.stdout


def _burner_running(pid):
    """Whether process ``pid`` is still one of the benchmark's CPU-burning loops (Linux)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone (or no /proc)
        return False
    return b"getppid" in cmdline and "State:\tZ" not in status
