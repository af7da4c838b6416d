"""``lairchat admin reset-2fa``: the operator turns off a user's two-factor sign-in
(docs/operations.md), audit-logged, ending the user's sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from lairchat.testing import make_core, result
from lairchat.transports.http.testing import PASSWORD, ApiClient
from tests.unit.test_ops_cli import cheap_hashes, run  # noqa: F401
from tests.unit.test_ops_cli_audit import audited, ids
from tests.unit.test_two_factor import LOGIN, ME, turn_on


def test_reset_turns_it_off_ends_the_sessions_and_is_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = tmp_path / "chat.db"
    client = ApiClient(make_core(str(db)))
    alice = client.register("alice")
    turn_on(client, alice)
    before = client.post(LOGIN, {"identifier": "alice", "password": PASSWORD})
    assert before.code == "totp_required"
    assert run(db, "admin", "list-users") == 0
    assert capsys.readouterr().out.rstrip().endswith("<alice@example.com>  [two-factor]")

    assert run(db, "admin", "reset-2fa", "alice") == 0
    said = capsys.readouterr().out
    assert said.startswith("two-factor sign-in of alice turned off; 1 session(s) revoked")
    assert client.get(ME, token=alice.token).code == "session_not_found"
    after = client.post(LOGIN, {"identifier": "alice", "password": PASSWORD})
    assert after.status == 200
    assert client.get(ME, token=after.json["token"]).json["two_factor"]["enabled"] is False
    assert audited(db, capsys)[0] == f"operator  user.reset_2fa  user alice ({ids(db)['alice']})"
    assert run(db, "admin", "list-users") == 0
    assert "[two-factor]" not in capsys.readouterr().out

    # Not on: said so, nothing changed, nothing recorded.
    assert run(db, "admin", "reset-2fa", "alice") == 0
    assert "was not on for alice" in capsys.readouterr().out
    assert len(audited(db, capsys, "--action", "user.reset_2fa")) == 1
    assert run(db, "admin", "reset-2fa", "nobody") == 1
    assert result(client.core.store.totp_of(ids(db)["alice"])) is None
