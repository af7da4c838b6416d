"""The first administrator from LAIR_ADMIN_*: created, promoted, never leaked."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from twisted.internet import task

from lairchat.bootstrap import BootstrapError, ensure_admin
from lairchat.config import ConfigError, load_config
from lairchat.core import passwords
from lairchat.storage.sqlite import migrate, pool
from lairchat.testing import make_core, result
from lairchat.transports.http.testing import CHEAP_HASHER

PASSWORD = "bootstrap-secret-1"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, sqlite3.Connection]:
    path = tmp_path / "chat.db"
    conn = pool.connect(str(path))
    migrate.migrate(conn)
    yield path, conn
    conn.close()


def clock() -> task.Clock:
    c = task.Clock()
    c.advance(1_700_000_000)
    return c


def users(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute("SELECT username, email, role, password_hash FROM users").fetchall()


def test_creates_an_admin_who_can_log_in(db) -> None:
    path, conn = db
    done = ensure_admin(conn, clock(), "root_admin", PASSWORD, "ops@example.com")
    assert done == "admin account root_admin created"
    [(name, email, role, hashed)] = users(conn)
    assert (name, email, role) == ("root_admin", "ops@example.com", "admin")
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    # No session is left behind, and the password works like any other.
    assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
    core = make_core(str(path))
    logged_in = result(core.auth.login("root_admin", PASSWORD))
    assert logged_in.user.role == "admin"


def test_default_email(db) -> None:
    _, conn = db
    ensure_admin(conn, clock(), "Root_Admin", PASSWORD)
    assert users(conn)[0][1] == "root_admin@lairchat.invalid"


def test_promotes_an_existing_account_and_keeps_its_password(db) -> None:
    path, conn = db
    core = make_core(str(path))
    result(core.auth.register("alice", "alice@example.com", "alice-password"))
    before = users(conn)[0]
    done = ensure_admin(conn, clock(), "ALICE", "alice-password")
    assert done == "existing account alice promoted to admin"
    after = users(conn)[0]
    assert after[2] == "admin"
    assert (after[1], after[3]) == (before[1], before[3])
    assert ensure_admin(conn, clock(), "alice", "x") == "admin account alice is present"


def test_an_existing_account_is_promoted_only_with_its_own_password(db) -> None:
    """Anyone may have registered the name first (a public server, or a database
    moved from Lair Chat, where nothing could make an admin): it was promoted,
    keeping its owner's password, and the operator's LAIR_ADMIN_PASSWORD did not
    log in. The start now stops, saying so; set-role remains for one's own account."""
    path, conn = db
    result(make_core(str(path)).auth.register("root", "root@example.com", "squatter-password"))
    with pytest.raises(BootstrapError) as caught:
        ensure_admin(conn, clock(), "Root", PASSWORD)
    assert str(caught.value) == (
        "LAIR_ADMIN_USERNAME: an account named root exists and LAIR_ADMIN_PASSWORD is not"
        " its password: not promoted (if the account is yours: lairchat admin set-role"
        " root admin)"
    )
    assert users(conn)[0][2] == "user"


@pytest.mark.parametrize(
    ("username", "password", "email", "variable"),
    [
        ("x", PASSWORD, None, "LAIR_ADMIN_USERNAME"),
        ("root_admin", "short", None, "LAIR_ADMIN_PASSWORD"),
        ("root_admin", PASSWORD, "not-an-email", "LAIR_ADMIN_EMAIL"),
    ],
)
def test_invalid_values_name_the_variable(db, username, password, email, variable) -> None:
    _, conn = db
    with pytest.raises(BootstrapError) as caught:
        ensure_admin(conn, clock(), username, password, email)
    message = str(caught.value)
    assert message.startswith(f"{variable}: cannot create the admin account")
    assert "\n" not in message
    assert password not in message
    assert users(conn) == []


def test_taken_email(db) -> None:
    path, conn = db
    result(make_core(str(path)).auth.register("alice", "alice@example.com", "alice-password"))
    with pytest.raises(BootstrapError, match="^LAIR_ADMIN_EMAIL"):
        ensure_admin(conn, clock(), "root_admin", PASSWORD, "alice@example.com")


# -- configuration -----------------------------------------------------------------------


def test_config_reads_the_admin_variables_and_hides_the_password(tmp_path: Path) -> None:
    env = {
        "LAIR_DATABASE_URL": f"sqlite:{tmp_path / 'chat.db'}",
        "LAIR_ADMIN_USERNAME": "root_admin",
        "LAIR_ADMIN_PASSWORD": PASSWORD,
        "LAIR_ADMIN_EMAIL": "ops@example.com",
    }
    config = load_config({}, env)
    assert (config.admin_username, config.admin_password, config.admin_email) == (
        "root_admin",
        PASSWORD,
        "ops@example.com",
    )
    assert PASSWORD not in repr(config)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LAIR_ADMIN_USERNAME": "root_admin"}, "LAIR_ADMIN_PASSWORD: required with"),
        ({"LAIR_ADMIN_PASSWORD": PASSWORD}, "LAIR_ADMIN_USERNAME: required with"),
        ({"LAIR_ADMIN_EMAIL": "a@example.com"}, "LAIR_ADMIN_USERNAME: required with"),
    ],
)
def test_config_needs_username_and_password_together(tmp_path: Path, env, message) -> None:
    env = {"LAIR_DATABASE_URL": f"sqlite:{tmp_path / 'chat.db'}", **env}
    with pytest.raises(ConfigError, match=f"^{message}"):
        load_config({}, env)


def test_admin_settings_are_not_command_line_options() -> None:
    from lairchat.config import Options

    names = {row[0] for row in Options.optParameters + Options.optFlags}
    assert not any(name.startswith("admin") for name in names)
