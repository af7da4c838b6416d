"""The message writer's SQLite settings (lairchat.storage.sqlite.library)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import ctypes, sqlite3, sys, _sqlite3
from lairchat.storage.sqlite import library
configured = library.configure_for_one_thread() if sys.argv[1] == "configure" else None
conn = sqlite3.connect(":memory:")
conn.execute("CREATE TABLE t (x TEXT)")
conn.executemany("INSERT INTO t VALUES (?)", [("x" * 100,)] * 1000)
assert conn.execute("SELECT count(*) FROM t").fetchone() == (1000,)
used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used()
print(configured, used > 0)
"""


def probe(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_writer_process_runs_sqlite_without_its_statistics() -> None:
    """As built, SQLite counts every allocation (under a mutex); configured, it does
    not, so the statistics read nothing, and the connection works as before."""
    assert probe("as-built") == "None True"
    assert probe("configure") == "True False"


def test_the_settings_are_not_made_once_a_connection_is_open() -> None:
    """Too late: SQLite would shut down under the open connection without refusing,
    so the settings are not made, and the library keeps working as it was."""
    script = PROBE.replace("configured = ", "keep = sqlite3.connect(':memory:'); configured = ")
    done = subprocess.run(
        [sys.executable, "-c", script, "configure"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False True"
