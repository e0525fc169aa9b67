"""tinygrad_edu.memory: keep_freed_memory, its errors, and what it changes (page faults).

The page faults are counted in fresh interpreters (the setting is process-wide), with the
allocation pattern of a training step: twenty 2 MB arrays made, then all freed, again
and again. No test checks a time.
"""

import platform
import sys

import pytest
from helpers import run_python

from tinygrad_edu import memory
from tinygrad_edu.apps import common

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

CHURN = """
import resource, sys
import numpy as np
from tinygrad_edu import memory
if sys.argv[1] == "keep":
    assert memory.keep_freed_memory(64)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():
    arrays = [np.ones(500_000, np.float32) for _ in range(20)]  # 40 MB, then freed
    del arrays
step()
before = faults()
for _ in range(10):
    step()
print(faults() - before)
"""


@pytest.mark.parametrize("bad", [True, 1.5, "64", None])
def test_megabytes_must_be_an_int(bad):
    with pytest.raises(TypeError, match=r"keep_freed_memory: megabytes must be an int, got "):
        memory.keep_freed_memory(bad)


@pytest.mark.parametrize("bad", [-1, 1025])
def test_megabytes_must_be_from_0_to_1024(bad):
    with pytest.raises(ValueError, match=rf"megabytes must be from 0 to 1024, got {bad}"):
        memory.keep_freed_memory(bad)


@pytest.mark.parametrize(
    "where, libc", [("darwin", ("", "")), ("win32", ("", "")), ("linux", ("musl", "1.2"))]
)
def test_without_glibc_it_changes_nothing(monkeypatch, where, libc):
    monkeypatch.setattr(sys, "platform", where)
    monkeypatch.setattr(platform, "libc_ver", lambda: libc)
    assert memory.keep_freed_memory() is False


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's: Linux with glibc only")
def test_freed_memory_is_reused_instead_of_page_faulted_back(tmp_path):
    script = tmp_path / "churn.py"
    script.write_text(CHURN)
    counts = {}
    for mode in ("default", "keep"):
        done = run_python(script, mode)
        assert done.returncode == 0, done.stderr
        counts[mode] = int(done.stdout)
    # glibc's default gives the 40 MB back each time (10 x 40 MB / 4 kB ~ 100,000 faults)
    assert counts["default"] > 10_000, counts
    assert counts["keep"] * 10 < counts["default"], counts


def test_the_programs_keep_freed_memory(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: calls.append("kept"))
    assert common.run_main(lambda: 0, prog="demo") == 0
    assert calls == ["kept"]
