"""How lairchat's long-running processes ask glibc's allocator to keep freed memory.

glibc gives the top of its heap back to the kernel whenever more than 128 KiB there
is free (``brk``), and the allocations that reach that far again fault its pages back
in, one page fault per 4 KiB page, each zeroed by the kernel. A busy server allocates
and frees in waves (each read's 64 KiB buffer, each group commit's frames and rows),
so it paid that over and over. Measured with ``python -m bench`` loads on the
server's core: about 41,000 page faults a second at R=10 fan-out and 53,000 under
durable acceptance, 3-4% of the core (``perf``: page faults under ``_int_malloc``
and ``brk``); with the settings below, 3,000-4,500. Durable acceptance, six
alternating pairs, one server per run: 42.6-51.5k (median 46.9k) -> 49.3-56.0k
(median 53.0k) acknowledgements/s, higher in every pair.

Setting either threshold also freezes glibc's mmap threshold, which otherwise
rises with the largest block freed, at 128 KiB: every larger block would then be
mapped and unmapped, each page faulted in anew (a 512 KiB block allocated and freed
100 times: 127 faults by default, 12,900 with the two thresholds alone). So it is set
too, to :data:`MMAP_THRESHOLD`, above the largest block a busy server makes often
(a frame is at most 1 MiB).

What it costs: up to :data:`TRIM_THRESHOLD` of freed memory stays with the process
instead of going back to the kernel, in a process whose steady heap is tens of MiB.
Operators who tune glibc's allocator themselves (``MALLOC_*_`` variables, or
``glibc.malloc`` tunables in ``GLIBC_TUNABLES``) keep their settings.
"""

from __future__ import annotations

import ctypes
import os

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

#: Free memory at the heap's top kept before it is given back to the kernel.
TRIM_THRESHOLD = 8 * 1024 * 1024
#: Extra memory asked for whenever the heap grows, so that it grows less often.
TOP_PAD = 1024 * 1024
#: Blocks at least this large are mapped on their own rather than taken from the heap.
MMAP_THRESHOLD = 4 * 1024 * 1024

_ENVIRONMENT = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_")


def _tuned_by_operator() -> bool:
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return any(name in os.environ for name in _ENVIRONMENT) or "glibc.malloc." in tunables


def keep_freed_memory() -> bool:
    """Set the thresholds above for this process; return whether they were set (not
    on a C library without glibc's ``mallopt``, nor where the environment sets them)."""
    if _tuned_by_operator():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    settings = (
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_TOP_PAD, TOP_PAD),
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
    )
    return all([bool(mallopt(param, value)) for param, value in settings])
