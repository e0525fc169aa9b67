"""Keep freed memory for the next training step: ``keep_freed_memory``.

Every op returns a new numpy array, and backward frees them again, so one training step
of a convolutional network asks for and gives back tens of megabytes. On Linux, numpy
gets that memory from the C library's ``malloc`` (glibc), which by default returns
memory to the operating system as soon as a few megabytes lie free at the top of its
heap, and gives a large array a mapping of its own (returned when the array is freed).
The next step asks again, and the system hands the memory back one zeroed 4 kB page at
a time, each a page fault: system time, not arithmetic. Measured on this course's
2-core machine, ``examples/mnist_cnn.py`` (5 epochs, batch 100): 19.2 million page
faults, 39 s of system time, 2 min 4 s in all; after ``keep_freed_memory()``: 0.24
million, 4.6 s, 1 min 33 s (``/usr/bin/time -v``; benchmarks/README.md).

``keep_freed_memory(megabytes)`` asks glibc (its ``mallopt``) to serve arrays of up to
32 MB from its heaps and to keep up to ``megabytes`` of freed memory in each for the
next allocation. The process then holds on to that much memory it is not using, per heap:
glibc gives each thread that allocates a heap (an "arena") of its own, up to 8 per core,
so a program computing in 4 threads may keep 4 times as much. The setting is
process-wide, like ``threads.set_num_threads``; the command-line programs and the
examples call it at start. Elsewhere (macOS, Windows, another C library) it changes
nothing and returns False.

    >>> from tinygrad_edu import memory
    >>> memory.keep_freed_memory(64)  # on Linux
    True
"""

from __future__ import annotations

import ctypes
import platform
import sys

import numpy as np

__all__ = ["keep_freed_memory"]

# glibc's mallopt parameters (malloc.h)
_M_TOP_PAD = -2  # free memory kept at the top of the heap when it shrinks, in bytes
_M_MMAP_THRESHOLD = -3  # blocks at least this large get a mapping of their own
_HEAP_UP_TO = 32 * 2**20  # glibc's own limit for the threshold on 64-bit systems


def keep_freed_memory(megabytes: int = 64) -> bool:
    """Keep up to ``megabytes`` of freed memory in the process for reuse (glibc only).

    Returns True if the C library took the setting; False if it is not glibc on Linux or
    refused it (32-bit glibc takes no threshold above 512 kB). ``megabytes``
    is an int from 0 to 1024, kept per heap (see the module's docstring); 64 covers a
    training step of the MNIST CNN (batch 100) with no page fault. Raises TypeError or
    ValueError for anything else.
    """
    if isinstance(megabytes, bool) or not isinstance(megabytes, (int, np.integer)):
        raise TypeError(
            f"keep_freed_memory: megabytes must be an int, got {type(megabytes).__name__} "
            f"{megabytes!r}"
        )
    if not 0 <= megabytes <= 1024:
        raise ValueError(f"keep_freed_memory: megabytes must be from 0 to 1024, got {megabytes}")
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # Setting either parameter stops glibc from adapting the threshold to the program,
    # so it is set too, to the most that adaptation reaches. mallopt returns 1 if done.
    heap = mallopt(_M_MMAP_THRESHOLD, _HEAP_UP_TO)
    return bool(heap and mallopt(_M_TOP_PAD, int(megabytes) * 2**20))
