"""The daemon's own heap: one setting made at start, before any thread, so a daemon that
runs for weeks holds what it uses and not the holes between.

glibc serves blocks over 128 KiB with mmap (given back to the system when freed), but each
time such a block is freed it raises that bar to the block's size, up to 32 MiB. After the
first few large buffers (numpy's and polars' short-lived arrays, request bodies, query
results) every later one comes from the heap and leaves a hole when freed: in the soak
(`tests/test_load_suite.py`) the free memory inside glibc's heaps (mallinfo2's fordblks)
grew from 2 to 16 MiB in 20 minutes; with the bar fixed at 128 KiB it stayed at 2.
Job workers are separate processes and keep the default."""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger("mlops.daemon")

_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024


def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold (which also stops its moving trim threshold); False where
    the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    fixed = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    if not fixed:
        log.info("the C library did not take a fixed mmap threshold")
    return fixed
