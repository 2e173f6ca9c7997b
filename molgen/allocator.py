"""Keep freed memory in the process (glibc's malloc) for the command line.

Sampling and training allocate and free tensors of the same large sizes at every step. With glibc's
defaults each such block is an ``mmap`` returned to the kernel on free (and the heap top trimmed),
so every step pays page faults and zeroing of fresh pages: on this project's 2-core machine half
of a sampling run's time was system time (100 ligands x 10 steps: 104.6 s wall, 38.8 s system;
with freed memory kept 56.3 s and 1.8 s, docs/benchmarks.md). :func:`keep_freed_memory` makes
glibc serve large blocks from the heap and keep up to 2 GiB of freed memory, as the environment
variables ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=... MALLOC_TOP_PAD_=...`` would. The
process's resident size then stays near its peak until it exits, which a command that runs one job
and exits can afford; the library functions leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4  # glibc's mallopt parameters (malloc.h)
_SETTINGS = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1), (_M_TOP_PAD, 2**30))
_USER_ENV = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_")


def keep_freed_memory() -> bool:
    """Apply the settings where the C library is glibc and the user set none of glibc's
    ``MALLOC_*`` variables (theirs win); returns whether they were applied."""
    if not sys.platform.startswith("linux") or any(k in os.environ for k in _USER_ENV):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in _SETTINGS)
