"""``lairchat admin reset-2fa``: the operator turns off a user's two-factor sign-in
(docs/operations.md), audit-logged, ending the user's sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from lairchat.testing import make_core, result
from lairchat.transports.http.testing import PASSWORD, ApiClient
from tests.unit.test_ops_cli import cheap_hashes, run  # noqa: F401
from tests.unit.test_ops_cli_audit import audited, ids
from tests.unit.test_two_factor import ENABLE, LOGIN, ME, SETUP, turn_on


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


def test_reset_clears_a_setup_never_turned_on_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """It said "nothing changed" and yet deleted the pending secret; now it says what
    it did, records it, and ends no session (nothing of it was in force)."""
    db = tmp_path / "chat.db"
    client = ApiClient(make_core(str(db)))
    alice = client.register("alice")
    assert client.post(SETUP, {"password": PASSWORD}, token=alice.token).status == 200
    assert result(client.core.store.totp_of(alice.id)) is not None

    assert run(db, "admin", "reset-2fa", "alice") == 0
    said = capsys.readouterr().out
    assert said.startswith(
        "two-factor sign-in was set up for alice but never turned on: the setup is cleared"
    )
    assert result(client.core.store.totp_of(alice.id)) is None
    assert client.get(ME, token=alice.token).status == 200  # the session stays
    assert audited(db, capsys) == [
        f"operator  user.reset_2fa  user alice ({alice.id})  pending_setup=true"
    ]
    # Then there is nothing: said so, nothing recorded.
    assert run(db, "admin", "reset-2fa", "alice") == 0
    assert "was not on for alice: nothing changed" in capsys.readouterr().out
    assert len(audited(db, capsys)) == 1
    # An enable with the cleared secret's code finds nothing set up.
    reply = client.post(ENABLE, {"code": "123456"}, token=alice.token)
    assert (reply.status, reply.code) == (409, "totp_not_set_up")
