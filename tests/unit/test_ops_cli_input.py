"""What the ``lairchat`` command accepts from the operator: ban durations (the API's
rule), passwords without a terminal, where ``--database-url`` goes, backups (private,
never over a file by accident) and a database path that cannot be opened; and the
account ``create-user`` makes (no session left behind)."""

from __future__ import annotations

import io
import sqlite3
import stat
from pathlib import Path

import pytest

from lairchat import cli
from lairchat.core import passwords
from lairchat.transports.http.testing import CHEAP_HASHER, ApiClient
from tests.unit.test_ops_cli import run

RULE = "must be more than 0 and at most 876000"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    monkeypatch.delenv("LAIR_NEW_PASSWORD", raising=False)
    monkeypatch.delenv("LAIR_DATABASE_URL", raising=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database with one user, alice."""
    path = tmp_path / "chat.db"
    assert (
        run(path, "admin", "create-user", "alice", "a@example.com", "--password", "pw-12345678")
        == 0
    )
    return path


def usage_error(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """Run ``argv``, expecting argparse's usage error (status 2); return its error line."""
    with pytest.raises(SystemExit) as exit:
        cli.main(list(argv))
    assert exit.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


def bans(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM bans").fetchone()[0]


@pytest.mark.parametrize("hours", ["0", "-1", "nan", "inf", "1e300", "876001", "many"])
def test_ban_hours_outside_the_api_rule_are_a_usage_error(
    db: Path, hours: str, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--database-url", f"sqlite:{db}", "admin", "ban", "alice", f"--hours={hours}"]
    assert usage_error(capsys, *argv).endswith(f"argument --hours: {RULE}, got {hours}")
    assert bans(db) == 0


def test_ban_hours_within_the_rule(db: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(db, "admin", "ban", "alice", "--hours", "876000") == 0
    assert "banned alice for 876000 h" in capsys.readouterr().out
    assert bans(db) == 1


def test_a_ban_reason_has_the_apis_bound(db: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["--database-url", f"sqlite:{db}", "admin", "ban", "alice", "--reason", "x" * 1025]
    assert usage_error(capsys, *argv).endswith(
        "argument --reason: value too long: maximum 1024, got 1025"
    )
    assert bans(db) == 0
    assert run(db, "admin", "ban", "alice", "--reason", "x" * 1024) == 0
    assert bans(db) == 1


def test_the_api_states_the_same_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    client = ApiClient()
    root, victim = client.register("root"), client.register("victim")
    client.make_admin(root)
    url = f"/api/v1/admin/users/{victim.id}/ban"
    reply = client.post(url, {"duration_hours": 0}, token=root.token)
    assert (reply.status, reply.error["message"]) == (
        400,
        f"Validation failed: duration_hours - {RULE}",
    )


def test_no_password_and_no_terminal_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # like </dev/null: no terminal
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "bob", "b@example.com") == 2
    assert capsys.readouterr().err == (
        "lairchat: no terminal to ask for a password: pass --password or set LAIR_NEW_PASSWORD\n"
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("typed", "status"), [(["pw-12345678"] * 2, 0), (["pw-1", "pw-2"], 2)])
def test_a_prompted_password_is_asked_twice(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    typed: list[str],
    status: int,
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal())
    answers = iter(typed)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "bob", "b@example.com") == status
    if status:
        assert capsys.readouterr().err == "lairchat: the two passwords differ; nothing was done\n"
    assert next(answers, None) is None  # both asked


def test_database_url_after_the_command(db: Path, tmp_path: Path, capsys) -> None:
    elsewhere = f"sqlite:{tmp_path / 'missing-dir' / 'x.db'}"
    argv = ["--database-url", elsewhere, "admin", "list-users", "--database-url", f"sqlite:{db}"]
    assert cli.main(argv) == 0  # the later one counts
    assert "alice" in capsys.readouterr().out
    assert cli.main(["admin", "list-users", "--database-url", f"sqlite:{db}"]) == 0


def test_a_bad_database_url_names_the_option_it_came_from(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The error named LAIR_DATABASE_URL, set right, for --database-url's mistake."""
    monkeypatch.setenv("LAIR_DATABASE_URL", "sqlite:fine.db")
    assert cli.main(["--database-url", "chat.db", "db", "migrate"]) == 1
    assert capsys.readouterr().err == (
        "lairchat: --database-url: must be an sqlite: URL such as sqlite:lair-chat.db,"
        " got no URL scheme\n"
    )


def test_an_unopenable_database_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "no-such-dir" / "chat.db"
    # A command that may create the database (one that needs it to exist says so
    # before SQLite is asked: test_ops_cli_hostile).
    assert run(missing, "db", "migrate") == 1
    assert capsys.readouterr().err == (
        f"lairchat: cannot open database {missing}: unable to open database file\n"
    )


def test_backup_is_private_and_never_overwrites_by_accident(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    backup = tmp_path / "backup.db"
    assert run(db, "db", "backup", str(backup)) == 0
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    backup.write_bytes(b"keep me")
    capsys.readouterr()
    assert run(db, "db", "backup", str(backup)) == 1
    assert capsys.readouterr().err == f"lairchat: {backup} exists: pass --force to replace it\n"
    assert backup.read_bytes() == b"keep me"
    backup.chmod(0o644)
    assert run(db, "db", "backup", str(backup), "--force") == 0
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    with sqlite3.connect(backup) as conn:
        assert conn.execute("SELECT username FROM users").fetchall() == [("alice",)]


def test_backup_refuses_to_replace_the_database_itself(
    db: Path, capsys: pytest.CaptureFixture
) -> None:
    assert run(db, "db", "backup", str(db), "--force") == 1
    assert capsys.readouterr().err == f"lairchat: {db} is the database itself\n"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT username FROM users").fetchall() == [("alice",)]


def test_create_user_leaves_no_session_behind(db: Path) -> None:
    """Nobody holds the token of the session registering opens: it is not kept."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
