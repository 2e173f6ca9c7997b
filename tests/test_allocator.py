"""The command line keeps freed memory in the process on glibc, unless the user set glibc's own
``MALLOC_*`` variables."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from molgen.allocator import keep_freed_memory


def test_the_users_malloc_variables_win(monkeypatch):
    monkeypatch.setenv("MALLOC_TOP_PAD_", "0")
    assert keep_freed_memory() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_settings_and_a_freed_block_stays_mapped():
    """In a fresh process: after the settings, freeing a 256 MB block leaves the resident size
    where it was (glibc's default hands the block back to the kernel at once)."""
    code = """
import ctypes, sys
from molgen.allocator import keep_freed_memory
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * 4096
libc = ctypes.CDLL('libc.so.6')
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
size = 256 * 2**20
applied = keep_freed_memory() if sys.argv[1] == 'keep' else False
block = libc.malloc(size)
ctypes.memset(block, 1, size)
before = rss()
libc.free(block)
print(applied, (before - rss()) / size)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = {}
    for mode in ("keep", "default"):
        res = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True,
                             env=env)
        applied, released = res.stdout.split()
        out[mode] = (applied == "True", float(released))
    assert out["keep"][0] is True and out["keep"][1] < 0.1
    assert out["default"][1] > 0.9
