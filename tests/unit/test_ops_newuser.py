"""A new operator's first commands say what to do next (README.md's operator commands)."""

from __future__ import annotations

import shlex
import sqlite3

import pytest
from twisted.internet.endpoints import _SystemdParser
from twisted.python.systemd import ListenFDs

import lairchat
from lairchat import cli
from lairchat.config import ConfigError, Options, load_config
from lairchat.domain.timefmt import ts
from lairchat.tls import server_context


def test_certs_dev_says_how_to_serve_and_trust_what_it_wrote(tmp_path, capsys, monkeypatch):
    """Found following README.md: ``lairchat certs dev`` said only which files it
    wrote; the settings that serve them were in certs/README.md. The server command
    it prints now is taken at its word: its settings load, and the files they name
    make a TLS context."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["certs", "dev", "--dir", "my certs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "wrote my certs/dev-cert.pem and my certs/dev-key.pem"
        " (self-signed, for localhost and 127.0.0.1)"
    )
    serve = shlex.split(next(line for line in lines if "twistd" in line))
    environ = dict(word.split("=", 1) for word in serve if word.startswith("LAIR_"))
    assert serve[len(environ) :] == ["twistd", "-n", "--pidfile=", "lairchat"]
    config = load_config(Options(), environ)
    assert config.tls_enabled
    server_context(config.tls_cert_path, config.tls_key_path)  # raises if they do not fit
    assert "curl --cacert 'my certs/dev-cert.pem' https://localhost:8082/health" in lines[-1]


def systemd_error(monkeypatch, endpoint: str, passed: list[int]) -> str:
    """The start's error for ``LAIR_TCP_ENDPOINT=endpoint`` in a process that systemd
    passed the sockets ``passed`` (as Twisted's endpoint parser read them at import)."""
    monkeypatch.setattr(
        _SystemdParser, "_sddaemon", ListenFDs(passed, ("lairchat.socket",) * len(passed))
    )
    with pytest.raises(ConfigError) as info:
        load_config(Options(), {"LAIR_TCP_ENDPOINT": endpoint})
    return str(info.value)


def test_a_systemd_socket_not_passed_is_told_how_many_were(tmp_path, monkeypatch):
    """Found trying the units with systemd-socket-activate: the error said
    ``(IndexError: list index out of range); is the service started through its
    .socket unit?, got '...'``, whether no socket or fewer had been passed; and the
    cause there, Twisted ignoring LISTEN_FDS without LISTEN_FDNAMES (which only
    ``--fdname`` makes systemd-socket-activate set), was nowhere."""
    monkeypatch.chdir(tmp_path)
    hint = (
        "; Twisted takes them from LISTEN_FDS and LISTEN_FDNAMES, which"
        " systemd-socket-activate sets only with --fdname); is the service started"
        " through its .socket unit?"
    )
    assert systemd_error(monkeypatch, "systemd:domain=INET:index=0", []) == (
        "LAIR_TCP_ENDPOINT: systemd passed no such socket for 'systemd:domain=INET:index=0'"
        " (it passed 0" + hint
    )
    assert systemd_error(monkeypatch, "systemd:domain=INET:index=2", [3, 4]) == (
        "LAIR_TCP_ENDPOINT: systemd passed no such socket for 'systemd:domain=INET:index=2'"
        " (it passed 2" + hint
    )


def test_the_operator_command_says_its_version_and_names_missing_commands(capsys):
    """Found trying ``lairchat --version`` (the client and ``twistd lairchat`` have
    it): an error naming an argument ``group``; ``lairchat`` alone said the same,
    and ``lairchat admin`` named ``command``, words the help shows nowhere."""
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"lairchat {lairchat.__version__}\n"
    for argv, missing in (
        ([], "{admin,certs,db}"),
        (
            ["admin"],
            "{set-role,create-user,list-users,ban,reset-password,reset-2fa,delete-user,unban,audit}",
        ),
        (["db"], "{migrate,backup,restore,prune}"),
    ):
        with pytest.raises(SystemExit) as done:
            cli.main(argv)
        assert done.value.code == 2
        error = capsys.readouterr().err.splitlines()[-1]
        assert error.endswith(f"error: the following arguments are required: {missing}")


def test_list_users_shows_the_bans_in_force(tmp_path, capsys):
    """Found banning a user as README.md shows: ``admin list-users`` showed nothing of
    it, so who was banned could be found only by trying ``unban`` on each."""
    db = tmp_path / "chat.db"

    def run(*argv: str) -> str:
        assert cli.main(["--database-url", f"sqlite:{db}", *argv]) == 0
        return capsys.readouterr().out

    for name in ("alice", "bob", "carol"):
        run("admin", "create-user", name, f"{name}@example.com", "--password", "Secret123!")
    run("admin", "ban", "bob", "--hours", "2", "--reason", "spam")
    run("admin", "ban", "carol")
    with sqlite3.connect(db) as conn:
        ends = conn.execute("SELECT expires_at FROM bans WHERE expires_at IS NOT NULL").fetchone()
    listed = {line.split()[2]: line for line in run("admin", "list-users").splitlines()}
    assert listed["alice"].endswith("<alice@example.com>")
    assert listed["bob"].endswith(f"<bob@example.com>  [banned until {ts(ends[0])}: spam]")
    assert listed["carol"].endswith("<carol@example.com>  [banned permanently]")
    with sqlite3.connect(db) as conn:  # bob's ban runs out
        conn.execute("UPDATE bans SET expires_at = 1 WHERE expires_at IS NOT NULL")
    listed = {line.split()[2]: line for line in run("admin", "list-users").splitlines()}
    assert listed["bob"].endswith("<bob@example.com>")
