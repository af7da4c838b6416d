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

What it costs: up to :data:`TRIM_THRESHOLD` of freed memory stays with the process
instead of going back to the kernel, in a process whose steady heap is tens of MiB.
Operators who set glibc's own ``MALLOC_TRIM_THRESHOLD_`` or ``MALLOC_TOP_PAD_``
keep their settings.
"""

from __future__ import annotations

import ctypes
import os

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2

#: Free memory at the heap's top kept before it is given back to the kernel.
TRIM_THRESHOLD = 8 * 1024 * 1024
#: Extra memory asked for whenever the heap grows, so that it grows less often.
TOP_PAD = 1024 * 1024

_ENVIRONMENT = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory() -> bool:
    """Set the thresholds above for this process; return whether they were set (not
    on a C library without glibc's ``mallopt``, nor where the environment sets them)."""
    if any(name in os.environ for name in _ENVIRONMENT):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(mallopt(M_TOP_PAD, TOP_PAD))
