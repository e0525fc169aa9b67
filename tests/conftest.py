"""Shared test setup: hypothesis profiles and the fixtures that several test files use.

Plain helper functions and hypothesis strategies are in helpers.py.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from helpers import call_main, load_example, optional_module, skip_or_fail_in_ci
from hypothesis import HealthCheck, settings

# "ci": derandomized and bounded, so the suite is fast and repeatable (the default).
# "dev": many more examples, for a thorough local run: HYPOTHESIS_PROFILE=dev pytest
settings.register_profile(
    "ci",
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder of the real MNIST files, from $TINYGRAD_EDU_DATA/mnist.

    Skips when TINYGRAD_EDU_DATA is not set, except in CI (CI=true), where real-data tests
    must run. Set to a place without an mnist folder, it is an error, not a skip. Being
    session-scoped, it reads the environment before any test's monkeypatching.
    """
    root = os.environ.get("TINYGRAD_EDU_DATA")
    if not root:
        skip_or_fail_in_ci(
            "real MNIST not found: set TINYGRAD_EDU_DATA to the folder holding mnist/ with "
            "the four MNIST files (once load_mnist has downloaded them: its cache, by "
            "default ~/.cache/tinygrad_edu)",
            "CI must run the real-data tests",
        )
    folder = Path(root).expanduser() / "mnist"
    assert folder.is_dir(), f"TINYGRAD_EDU_DATA is set but {folder} does not exist"
    return folder


@pytest.fixture(scope="session")
def sample_weight():
    """The path of the book's pre-trained 3-layer network, sample_weight.npz, in the
    ``reference`` folder beside $TINYGRAD_EDU_DATA (CI has it there).

    Skips when it is not there (or TINYGRAD_EDU_DATA is not set), except in CI (CI=true),
    where it fails.
    """
    root = os.environ.get("TINYGRAD_EDU_DATA")
    path = Path(root).expanduser().parent / "reference" / "sample_weight.npz" if root else None
    if path is None or not path.is_file():
        skip_or_fail_in_ci(
            f"the book's sample_weight.npz is not available: it is looked for in the "
            f"reference/ folder beside $TINYGRAD_EDU_DATA ({path or 'which is not set'})",
            "CI must run the tests of the book's weights",
        )
    return path


@pytest.fixture(scope="session")
def torch():
    """PyTorch, for the tests that compare with it."""
    return optional_module(
        "torch",
        "pip install '.[torch]' (PyTorch's CPU-only build is enough; CI pins 2.13.0)",
        "CI must compare with PyTorch (.ci/run installs torch==2.13.0)",
    )


@pytest.fixture(scope="session")
def onnx():
    """onnx, for the tests of the ONNX export."""
    return optional_module(
        "onnx",
        "pip install '.[onnx]'",
        "CI must check the ONNX export (.ci/run installs the onnx extra)",
    )


@pytest.fixture(scope="session")
def onnxruntime():
    """onnxruntime, the judge of the ONNX export."""
    return optional_module(
        "onnxruntime",
        "pip install '.[onnx]'",
        "CI must run the exported ONNX models (.ci/run installs the onnx extra)",
    )


@pytest.fixture
def rng():
    """A numpy random Generator seeded with 0, fresh for each test."""
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def run_example(tmp_path_factory):
    """``run_example(name)`` runs examples/<name>.py's ``main(["--quick", "--out", DIR])``
    in-process into a fresh folder DIR, once per test module (later calls reuse the run),
    and returns (the dict main returned, the text it printed, DIR)."""
    runs = {}

    def run(name):
        if name not in runs:
            out = tmp_path_factory.mktemp(name)
            result, printed = call_main(load_example(name), ["--quick", "--out", out])
            runs[name] = (result, printed, out)
        return runs[name]

    return run
