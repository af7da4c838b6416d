"""glibc's allocator keeps freed memory for reuse (lairchat.allocator).

Each check runs in a fresh interpreter: ``mallopt`` settings last for the process,
and the control must run without them."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from lairchat import allocator
from lairchat.storage.sqlite import writer

# Allocates BLOCKS blocks of SIZE KiB from the heap, touching every page, and frees
# them; once to warm up, then ten times more, counting the page faults of those.
_WAVES = """
import resource, sys
from lairchat import allocator
mode, size, blocks = sys.argv[1], int(sys.argv[2]) * 1024, int(sys.argv[3])
print(allocator.keep_freed_memory() if mode == "keep" else None)
def wave():
    kept = [bytearray(size) for _ in range(blocks)]
    for block in kept:
        block[::4096] = b"x" * len(range(0, size, 4096))
wave()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    wave()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's allocator on Linux"
)

#: Both shapes touch 10 x 4 MiB: 64 blocks of 64 KiB (the heap's top, trimmed by
#: default) and 8 of 512 KiB (mapped on their own by default).
SHAPES = [(64, 64), (512, 8)]
PAGES = 10 * 1024


def _waves(mode: str, size: int, blocks: int, **env: str) -> tuple[str, int]:
    """Run the waves without any allocator tuning of the test's own environment."""
    own = (*allocator._ENVIRONMENT, "GLIBC_TUNABLES")
    clean = {k: v for k, v in os.environ.items() if k not in own}
    out = subprocess.run(
        [sys.executable, "-c", _WAVES, mode, str(size), str(blocks)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.parametrize(("size", "blocks"), SHAPES)
def test_freed_memory_is_reused_without_page_faults(size: int, blocks: int) -> None:
    applied, faults = _waves("keep", size, blocks)
    assert applied == "True"
    assert faults < PAGES // 20


def test_without_it_each_wave_faults_its_pages_in_again() -> None:
    """The control: what the setting takes away. (512 KiB blocks fault little by
    default: glibc's mmap threshold rises past them after the first free. Setting
    the trim threshold alone would freeze it at 128 KiB, and then they would fault
    every time: the 512 KiB case above guards against that.)"""
    _, faults = _waves("default", 64, 64)
    assert faults > PAGES // 2


@pytest.mark.parametrize(
    "env", [{"MALLOC_TOP_PAD_": "0"}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}]
)
def test_an_operators_own_malloc_settings_are_kept(env: dict[str, str]) -> None:
    applied, faults = _waves("keep", 64, 64, **env)
    assert applied == "False"
    assert faults > PAGES // 2


def test_the_message_writer_keeps_freed_memory_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    asked: list[bool] = []
    monkeypatch.setattr(writer.allocator, "keep_freed_memory", lambda: asked.append(True))
    monkeypatch.setattr(writer.signal, "signal", lambda *args: None)
    empty = io.TextIOWrapper(io.BytesIO(b""))
    monkeypatch.setattr(sys, "stdin", empty)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO()))
    (tmp_path / "chat.db").touch()  # the writer opens a database, never creates one
    writer.main([str(tmp_path / "chat.db")])  # no batches: returns at once
    assert asked == [True]
