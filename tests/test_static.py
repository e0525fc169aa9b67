"""Static checks as tests, so CI runs them with the suite: ``ruff check`` over the
repository and ``mypy`` over the package (configured in pyproject.toml)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_tool(module, *args):
    """Run ``python -m module args`` in the repository; skip (fail in CI) if missing."""
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed (pip install '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True
    )


def test_ruff_finds_nothing():
    done = run_tool("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean_on_the_package():
    done = run_tool("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
