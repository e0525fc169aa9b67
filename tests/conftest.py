"""Shared test setup: hypothesis profiles and the real-MNIST location."""

import os
from pathlib import Path

import numpy as np
import pytest
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

    Skips when it is not set, except in CI (CI=true), where real-data tests must run.
    """
    root = os.environ.get("TINYGRAD_EDU_DATA")
    folder = Path(root) / "mnist" if root else None
    if folder is None or not folder.is_dir():
        message = f"real MNIST not found (TINYGRAD_EDU_DATA={root!r})"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must run the real-data tests")
        pytest.skip(message)
    return folder


@pytest.fixture
def rng():
    return np.random.default_rng(0)
