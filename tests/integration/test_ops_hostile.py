"""Starts and stops of a real server (``twistd -n lairchat``) in the unlucky cases an
operator meets. Each test failed before the fix it names."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from lairchat.testing import ServerProcess

TIMEOUT = 30.0


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def wait_for(what, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("again", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_during_a_stop_is_one_line_and_the_stop_goes_on(
    tmp_path: Path, again: signal.Signals
) -> None:
    """A second SIGTERM (or Ctrl-C) while the server was stopping made Twisted stop the
    reactor again: a critical ``ReactorNotRunning`` traceback in the log. The stop is
    held here by a stopped message writer, as a slow disk would hold it."""
    server = ServerProcess(tmp_path)
    try:
        [writer] = children(server.process.pid)
        os.kill(writer, signal.SIGSTOP)
        try:
            server.process.send_signal(signal.SIGTERM)
            wait_for(lambda: "lairchat stopping" in server.log())
            server.process.send_signal(again)
            name = again.name
            wait_for(lambda: f"{name} while stopping" in server.log())
            assert server.alive()
        finally:
            os.kill(writer, signal.SIGCONT)
        assert server.process.wait(timeout=TIMEOUT) == -signal.SIGTERM
        log = server.log()
        assert "Traceback" not in log and "ReactorNotRunning" not in log
        assert "lairchat stopped" in log
        assert log.count(f"{name} while stopping: the stop goes on") == 1
    finally:
        server.stop()
