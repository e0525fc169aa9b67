"""How many threads numpy's matrix code uses: ``set_num_threads`` and ``get_num_threads``.

numpy hands every matrix product (``x @ W``) to a BLAS library (OpenBLAS, in numpy's
wheels), and the BLAS starts one worker thread per core by default. For the big matrices
of scientific computing that is a good bet. For this course's matrices it often is not:

* A product like (100, 784) @ (784, 256) takes a fraction of a millisecond. Splitting it
  over threads saves little, and every call pays to wake the workers and to wait for the
  slowest of them.
* On a busy machine the waiting dominates. If another program holds a core, the BLAS
  call cannot finish until the operating system gives that core back to the BLAS thread
  on it, a time slice (milliseconds) later, while the other workers spin. On a busy
  2-core machine a training step took 2 to 13 times as long with 2 threads as with one,
  the flagship 51 to 78 s instead of 14 to 19 s, and batches of 100 images ran no faster
  per image than one image at a time.

One thread avoids all of that. The figures behind ``default_num_threads()`` are in
benchmarks/README.md ("BLAS threads"), measured by ``benchmarks/bench_threads.py``.

The setting is process-wide (like PyTorch's ``torch.set_num_threads``), works from any
Python thread and takes effect at once; it uses threadpoolctl, which finds the BLAS
libraries loaded in the process. Outside Python, the environment variable
``OPENBLAS_NUM_THREADS=1`` (or ``OMP_NUM_THREADS``) does the same, read when numpy is
first imported.

    >>> from tinygrad_edu import threads
    >>> threads.set_num_threads(1)
    >>> threads.get_num_threads()
    1
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np  # loads numpy's BLAS, so that threadpoolctl can find it

__all__ = [
    "THREAD_ENV_VARS",
    "blas_info",
    "default_num_threads",
    "get_num_threads",
    "set_num_threads",
    "use_default_num_threads",
]

# Environment variables by which a user chooses the BLAS threads before numpy starts (read
# by OpenBLAS, MKL, BLIS, OpenMP and Apple's Accelerate); ``use_default_num_threads`` leaves
# the count alone when one of them is set.
THREAD_ENV_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)

# The default picked from benchmarks/bench_threads.py on the course's 2-core machine (see
# default_num_threads and benchmarks/README.md, "BLAS threads").
_DEFAULT_NUM_THREADS = 1


def set_num_threads(n: int) -> None:
    """Let numpy's matrix products (the BLAS) use at most ``n`` threads, process-wide.

    ``n`` is an int, at least 1. It applies at once, to every BLAS library loaded in the
    process, whichever Python thread calls it, until the next call. Why fewer threads can
    be faster for this course's small matrices: see the module's docstring.

    Raises ``TypeError`` if ``n`` is not an int, ``ValueError`` if it is below 1, and
    ``RuntimeError`` if threadpoolctl finds no BLAS it can control (e.g. Apple's
    Accelerate, which numpy uses on recent Macs). A BLAS may cap ``n`` at the most
    threads it was built for (OpenBLAS in numpy's wheels: 64); a ``RuntimeWarning`` then
    says what it uses, which ``get_num_threads()`` returns.
    """
    n = _check_count(n, "set_num_threads")
    threadpoolctl = _threadpoolctl("set_num_threads")
    _blas_libraries("set_num_threads", threadpoolctl)
    threadpoolctl.threadpool_limits(limits=n, user_api="blas")
    # With its own (pthreads) threads, OpenBLAS obeys only the Python thread that first
    # set a limit through threadpoolctl, and ignores the others silently. Release that
    # claim, so that the next call works from any thread, as a process-wide setting should.
    openblas = getattr(threadpoolctl, "OpenBLASController", None)
    release = getattr(openblas, "clear_controlling_thread", None)
    if release is not None:
        release()
    in_force = {lib.get("num_threads") for lib in _blas_libraries("set_num_threads")}
    if in_force != {n}:
        warnings.warn(
            f"set_num_threads: asked for {n} threads, but the BLAS uses "
            f"{', '.join(map(str, sorted(in_force, key=str)))} (the most its build allows, "
            "or another thread holds the limit); get_num_threads() tells the count in force",
            RuntimeWarning,
            stacklevel=2,
        )


def get_num_threads() -> int:
    """The number of threads numpy's matrix products (the BLAS) may use.

    The BLAS's own default is one per core (``os.cpu_count()``), unless an environment
    variable such as ``OPENBLAS_NUM_THREADS`` said otherwise when numpy was imported;
    ``set_num_threads`` changes it. With several BLAS libraries in the process (say,
    numpy's OpenBLAS and another package's MKL), the largest of their counts.

    Raises ``RuntimeError`` if threadpoolctl finds no BLAS it can read (e.g. Apple's
    Accelerate); why fewer threads can be faster is told in ``set_num_threads``.
    """
    libraries = _blas_libraries("get_num_threads")
    counts = [lib["num_threads"] for lib in libraries if isinstance(lib.get("num_threads"), int)]
    if not counts:
        names = ", ".join(str(lib.get("internal_api")) for lib in libraries)
        raise RuntimeError(f"get_num_threads: the BLAS ({names}) does not report its threads")
    return max(counts)


def default_num_threads() -> int:
    """The BLAS thread count the course's programs and benchmarks use: 1.

    On the course's 2-core machine one thread cost the flagship 3 to 4 s when the machine
    was quiet and saved 40 to 60 s (and the lesson that batches are faster) when it was
    busy; the figures are in benchmarks/README.md ("BLAS threads"). A quiet machine with
    idle cores can ask for more: ``set_num_threads(n)``, or ``OPENBLAS_NUM_THREADS=n``,
    which ``use_default_num_threads()`` respects.
    """
    return _DEFAULT_NUM_THREADS


def use_default_num_threads() -> int | None:
    """Apply ``default_num_threads()`` unless the user chose a count; for programs.

    Does nothing, and returns None, when one of ``THREAD_ENV_VARS`` (such as
    ``OPENBLAS_NUM_THREADS``) is set, the user's own choice, or when threadpoolctl is
    missing or finds no BLAS to control (nothing to limit). Otherwise sets the default and
    returns it. Call it once at the start of a program: ``threads.use_default_num_threads()``.
    """
    if any(os.environ.get(name, "").strip() for name in THREAD_ENV_VARS):
        return None
    try:
        threadpoolctl = _threadpoolctl("use_default_num_threads")
        if not _blas_libraries("use_default_num_threads", threadpoolctl):
            return None
    except (ImportError, RuntimeError):
        return None
    n = default_num_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        set_num_threads(n)
    return n


def blas_info() -> list[dict[str, Any]]:
    """What threadpoolctl sees of the BLAS libraries in this process: one dict each, with
    ``internal_api`` (e.g. 'openblas'), ``version``, ``num_threads``, ``filepath`` and, for
    OpenBLAS, ``architecture`` (the kernel it runs, which ``OPENBLAS_CORETYPE`` can force)
    and ``threading_layer``. An empty list if there is none it knows."""
    return _blas_libraries("blas_info", required=False)


# ------------------------------------------------------------------------------ helpers


def _check_count(n: object, function: str) -> int:
    """``n`` as an int if it is a thread count (an int >= 1), else a clear error."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(
            f"{function}: the number of threads must be an int, got {type(n).__name__} {n!r}"
        )
    if n < 1:
        raise ValueError(f"{function}: the number of threads must be at least 1, got {n}")
    return int(n)


def _threadpoolctl(function: str) -> Any:
    """The threadpoolctl module, or an ImportError that says how to install it."""
    try:
        import threadpoolctl  # type: ignore[import-untyped]
    except ImportError as err:
        raise ImportError(
            f"{function}: needs threadpoolctl, a dependency of tinygrad_edu that is not "
            "installed here: python -m pip install threadpoolctl"
        ) from err
    return threadpoolctl


def _blas_libraries(
    function: str, threadpoolctl: Any = None, required: bool = True
) -> list[dict[str, Any]]:
    """threadpoolctl's description of each BLAS in the process; with ``required``, a
    RuntimeError naming ``function`` when there is none."""
    threadpoolctl = threadpoolctl or _threadpoolctl(function)
    libraries = [lib for lib in threadpoolctl.threadpool_info() if lib.get("user_api") == "blas"]
    if required and not libraries:
        raise RuntimeError(
            f"{function}: threadpoolctl finds no BLAS library in this process that it can "
            f"control (numpy {np.__version__} uses {_numpy_blas_name()}), so the number of "
            "threads of numpy's matrix products cannot be read or set here; the BLAS's own "
            "environment variables (e.g. OPENBLAS_NUM_THREADS, VECLIB_MAXIMUM_THREADS for "
            "Apple's Accelerate), set before Python starts, may still work"
        )
    return libraries


def _numpy_blas_name() -> str:
    """The BLAS numpy was built with, as numpy reports it (numpy >= 1.25), else 'a BLAS'."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return str(blas.get("name", "a BLAS"))
    except Exception:  # older numpy, or a build that does not report it
        return "a BLAS that numpy does not name"
