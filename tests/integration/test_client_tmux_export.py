"""``/export PATH`` in the terminal client for real, in tmux, against ``twistd
lairchat`` (docs/CLIENT.md, "Downloading your data"): an existing file refused
before any password, a wrong password refused in the form, then the user's data
saved to PATH (mode 0600), the notice giving its bytes and messages. The server and
the tmux helpers are those of ``test_client_tmux.py``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.integration.test_client_tmux import (
    PASSWORD,
    Server,
    Terminal,
    module_server,
    registered_terminal,
    terminals,
)

__all__ = ["terminals"]  # the fixture, used here by name


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from module_server(tmp_path_factory, "client-export-server")


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path: the notice names the file, on one line."""
    folder = Path(tempfile.mkdtemp(prefix="lx"))
    yield folder
    shutil.rmtree(folder)


def test_the_users_data_is_saved_to_the_file(
    server: Server, terminals: list[Terminal], tmp_path: Path, short_dir: Path
) -> None:
    a, alice, tag = registered_terminal(server, terminals, tmp_path)
    a.keys("i")
    a.command(f"/create ex{tag}")
    a.wait_for(f"#ex{tag}")
    for words in ("first words", "second words"):
        a.command(words)
    a.wait_for("second words")

    kept = short_dir / "kept.json"
    kept.write_bytes(b"mine")
    a.command(f"/export {kept}")
    a.wait_for(f"Export not started: {kept} exists: /export! PATH replaces it")
    assert kept.read_bytes() == b"mine"

    target = short_dir / "me.json"
    a.command(f"/export {target}")
    shown = a.wait_for("Enter: export")
    assert "Whoever has the file can read all of it." in " ".join(shown.split())
    a.type("wrong-password")
    a.keys("Enter")
    shown = a.wait_for("Export failed: Invalid credentials")
    assert "wrong-password" not in shown and not target.exists()
    a.type(PASSWORD)
    a.keys("Enter")
    shown = a.wait_for(f"Your data is saved in {target}: ")
    assert "bytes, 2 messages" in shown and PASSWORD not in shown

    data = orjson.loads(target.read_bytes())
    assert data["complete"] is True and data["user"]["username"] == alice
    assert [m["content"] for m in data["messages"]] == ["first words", "second words"]
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in short_dir.iterdir()) == ["kept.json", "me.json"]
