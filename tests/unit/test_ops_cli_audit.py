"""``lairchat admin audit`` and what the operator command records in the admin audit
log (docs/operations.md, "Audit log"): each change once, by the operator, nothing
for a change that changed nothing; read with or without a server running."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from lairchat import bootstrap
from lairchat.storage.sqlite import lock
from lairchat.testing import make_core, result
from tests.unit.test_ops_cli import cheap_hashes, no_wait, run  # noqa: F401

#: A line's time, then the rest.
LINE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)  (.*)")


def audited(db: Path, capsys: pytest.CaptureFixture, *options: str) -> list[str]:
    """``admin audit`` 's lines without their times (each checked to be one)."""
    capsys.readouterr()
    assert run(db, "admin", "audit", *options) == 0
    lines = capsys.readouterr().out.splitlines()
    matched = [LINE.fullmatch(line) for line in lines]
    return [m.group(2) if m else line for m, line in zip(matched, lines, strict=True)]


def ids(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT username, id FROM users"))


def test_every_operator_change_is_recorded_once(tmp_path: Path, capsys) -> None:
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com", "--role", "moderator") == 0
    assert run(db, "admin", "create-user", "bob", "bob@example.com") == 0
    bob = ids(db)["bob"]
    assert run(db, "admin", "set-role", "bob", "admin") == 0
    assert run(db, "admin", "set-role", "bob", "admin") == 0  # no change: not recorded
    assert run(db, "admin", "ban", "bob", "--reason", "spam", "--hours", "2") == 0
    assert run(db, "admin", "unban", "bob") == 0
    assert run(db, "admin", "unban", "bob") == 0  # not banned: not recorded
    assert run(db, "admin", "reset-password", "bob", "--generate") == 0
    said = capsys.readouterr().out
    generated = said.split("the new password is ")[1].split(";")[0]
    assert run(db, "admin", "delete-user", "bob") == 0
    lines = audited(db, capsys)
    alice = ids(db)["alice"]
    assert lines[:5] == [
        f"operator  user.delete  user bob ({bob})",
        f"operator  user.reset_password  user bob ({bob})",
        f"operator  user.unban  user bob ({bob})",
        lines[3],
        f'operator  user.set_role  user bob ({bob})  role="admin"',
    ]
    assert re.fullmatch(
        rf'operator  user\.ban  user bob \({bob}\)  reason="spam" until="[-0-9T:.]+Z"', lines[3]
    )
    assert lines[5:] == [
        f'operator  user.create  user bob ({bob})  role="user"',
        f'operator  user.create  user alice ({alice})  role="moderator"',
    ]
    with sqlite3.connect(db) as conn:
        stored = str(conn.execute("SELECT * FROM admin_audit").fetchall())
    assert generated not in stored and "password123" not in stored and "argon" not in stored


def test_filters_and_the_limit(tmp_path: Path, capsys) -> None:
    db = tmp_path / "chat.db"
    for name in ("alice", "bob"):
        assert run(db, "admin", "create-user", name, f"{name}@example.com") == 0
        assert run(db, "admin", "ban", name) == 0
    people = ids(db)
    assert audited(db, capsys, "--action", "user.ban") == [
        f"operator  user.ban  user bob ({people['bob']})  reason=null until=null",
        f"operator  user.ban  user alice ({people['alice']})  reason=null until=null",
    ]
    assert [line.split("  ")[1] for line in audited(db, capsys, "--user", "ALICE")] == [
        "user.ban",
        "user.create",
    ]
    assert audited(db, capsys, "--limit", "1")[1:] == [
        "(older entries not shown: --limit more than 1)"
    ]
    assert audited(db, capsys, "--user", "nobody") == ["(no entries)"]


def test_it_shows_an_admin_by_name_and_marks_what_they_typed(tmp_path: Path, capsys) -> None:
    db = tmp_path / "chat.db"
    # root must be an admin: a ban by an account that is not one is refused in its
    # write (an admin demoted while the request ran), the operator's (None) is not.
    assert run(db, "admin", "create-user", "root", "root@example.com", "--role", "admin") == 0
    assert run(db, "admin", "create-user", "bob", "bob@example.com") == 0
    core = make_core(str(db))
    root = result(core.store.find_user_by_login("root"))
    bob = result(core.store.find_user_by_login("bob"))
    result(core.admin.impose_ban(bob, "spam\n\u202eevil", root, None))
    core.store.close()
    [line] = audited(db, capsys, "--action", "user.ban")
    assert line.startswith(f"root ({root.id})  user.ban  user bob ({bob.id})  reason=")
    assert "\n" not in line and "\u202e" not in line


@pytest.mark.parametrize("options", [("--limit", "0"), ("--limit", "x"), ("--action", "user.kick")])
def test_bad_options_are_usage_errors(tmp_path: Path, options: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as done:
        run(tmp_path / "chat.db", "admin", "audit", *options)
    assert done.value.code == 2


def test_delete_user_beside_a_server_is_recorded_with_its_first_step(
    tmp_path: Path, capsys
) -> None:
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "bob", "bob@example.com") == 0
    bob = ids(db)["bob"]
    with lock.shared(str(db), no_wait):
        assert run(db, "admin", "delete-user", "bob") == 0
        assert run(db, "admin", "delete-user", "bob") == 0  # carried on: not again
        assert audited(db, capsys, "--action", "user.delete") == [
            f"operator  user.delete  user bob ({bob})"
        ]


def test_the_first_admin_from_the_environment_is_recorded(tmp_path: Path, capsys) -> None:
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "carol", "carol@example.com") == 0
    core = make_core(str(db))
    with sqlite3.connect(db) as conn:
        done = bootstrap.ensure_admin(conn, core.clock, "carol", "password123")
        assert done == "existing account carol promoted to admin"
        bootstrap.ensure_admin(conn, core.clock, "dave", "password123")
    core.store.close()
    assert [line.split("  ")[1:4:2] for line in audited(db, capsys)] == [
        ["user.create", 'role="admin"'],
        ["user.set_role", 'role="admin"'],
        ["user.create", 'role="user"'],
    ]


def test_what_the_role_or_ban_already_was_records_nothing(tmp_path: Path, capsys) -> None:
    """A role stored as the original's operators typed it (``Admin``: read ignoring
    case) set again, and a ban that had run out lifted, change nothing: no entry, and
    unban says so (both were recorded)."""
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "bob", "bob@example.com") == 0
    assert run(db, "admin", "ban", "bob", "--hours", "1") == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE users SET role = 'Admin'")
        conn.execute("UPDATE bans SET expires_at = 1")
    before = audited(db, capsys)
    assert run(db, "admin", "set-role", "bob", "admin") == 0
    assert run(db, "admin", "unban", "bob") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "bob was not banned"
    assert audited(db, capsys) == before
