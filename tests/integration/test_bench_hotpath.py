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


@pytest.mark.parametrize(
    "options", [[], ["--room-size", "10"], ["--floor"]], ids=["lairchat", "rooms-of-10", "floor"]
)
def test_hotpath_prints_the_cost_per_message(options: list[str]) -> None:
    argv = [sys.executable, "-m", "bench.hotpath", "--rounds", "2"]
    run = subprocess.run(
        argv + options,
        cwd=SOURCE_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(r"\d+\.\d us per message \(3200 messages\)\n", run.stdout), run.stdout


def test_jsonlibs_compares_the_installed_libraries() -> None:
    """``python -m bench.jsonlibs``' measurement, in few calls: every library it finds
    decodes lairchat's frame and encodes its event as the standard library does (it
    raises otherwise), orjson among them, and lairchat's typed decoder decodes."""
    from bench import jsonlibs

    results = jsonlibs.measure(calls=50, repeats=2)
    assert {"orjson", "json (stdlib)", jsonlibs.TYPED} <= set(results)
    assert set(results[jsonlibs.TYPED]) == {"decode"}
    assert all(v > 0 for row in results.values() for v in row.values())
