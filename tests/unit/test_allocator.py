"""glibc's allocator keeps freed memory for reuse (lairchat.allocator).

Each check runs in a fresh interpreter: ``mallopt`` settings last for the process,
and the control must run without them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lairchat import allocator

# Allocates 4 MiB in 64 KiB blocks from the heap, touching every page, and frees
# them; once to warm up, then ten times more, counting the page faults of those.
_WAVES = """
import resource, sys
from lairchat import allocator
print(allocator.keep_freed_memory() if sys.argv[1] == "keep" else None)
def wave():
    blocks = [bytearray(64 * 1024) for _ in range(64)]
    for block in blocks:
        block[::4096] = b"x" * 16
wave()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    wave()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

#: Pages the ten waves touch.
_PAGES = 10 * 64 * 16

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's allocator on Linux"
)


def _waves(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if k not in allocator._ENVIRONMENT}
    out = subprocess.run(
        [sys.executable, "-c", _WAVES, mode],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return out[0], int(out[1])


def test_freed_heap_memory_is_reused_without_page_faults() -> None:
    applied, faults = _waves("keep")
    assert applied == "True"
    assert faults < _PAGES // 20


def test_without_it_each_wave_faults_its_pages_in_again() -> None:
    """The control: what the setting takes away."""
    _, faults = _waves("default")
    assert faults > _PAGES // 2


def test_an_operators_own_malloc_settings_are_kept() -> None:
    applied, faults = _waves("keep", MALLOC_TOP_PAD_="0")
    assert applied == "False"
    assert faults > _PAGES // 2
