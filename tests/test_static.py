"""Static checks as tests, so CI runs them with the suite: ``ruff check`` over the
repository and ``mypy`` over the package (configured in pyproject.toml)."""

import importlib.util

from helpers import REPO, run_python, skip_or_fail_in_ci


def run_tool(module, *args):
    """Run ``python -m module args`` in the repository; skip (fail in CI) if missing."""
    if importlib.util.find_spec(module) is None:
        skip_or_fail_in_ci(
            f"{module} is not installed (pip install '.[dev]')", "CI installs the dev extras"
        )
    return run_python("-m", module, *args, cwd=REPO, timeout=600)


def test_ruff_finds_nothing():
    done = run_tool("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean_on_the_package():
    done = run_tool("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
