"""``python -m bench.hotpath`` runs as docs/performance.md says, on both paths.

Its lairchat path checks by itself that the load it times is accepted (every
sender gets successful responses and its events), so a change that made the
path refuse messages cannot pass as a speed-up.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from lairchat.testing import SOURCE_ROOT


@pytest.mark.parametrize("floor", [False, True], ids=["lairchat", "floor"])
def test_hotpath_prints_the_cost_per_message(floor: bool) -> None:
    argv = [sys.executable, "-m", "bench.hotpath", "--rounds", "2"]
    run = subprocess.run(
        argv + (["--floor"] if floor else []),
        cwd=SOURCE_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(r"\d+\.\d us per message \(3200 messages\)\n", run.stdout), run.stdout
