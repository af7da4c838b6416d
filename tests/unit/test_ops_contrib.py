"""contrib/: the systemd units are valid, agree with each other, and are what the
deployment guide quotes."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "contrib" / "systemd"
SERVICE = SYSTEMD / "lairchat.service"
SOCKET = SYSTEMD / "lairchat.socket"
BACKUP = SYSTEMD / "lairchat-backup.service"
BACKUP_TIMER = SYSTEMD / "lairchat-backup.timer"
UNITS = (SERVICE, SOCKET, BACKUP, BACKUP_TIMER)
VENV = "/opt/lairchat/venv/bin/"
DEPLOYMENT = ROOT / "docs" / "deployment.md"


def directives(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def environment(service: dict[str, list[str]]) -> dict[str, str]:
    return dict(value.split("=", 1) for value in service["Environment"])


def test_the_service_is_hardened_and_notifies() -> None:
    service = directives(SERVICE)
    for key, value in {
        "Type": "notify",
        "User": "lairchat",
        "StateDirectory": "lairchat",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "Restart": "on-failure",
        "Requires": "lairchat.socket",
        "PrivateTmp": "yes",
    }.items():
        assert service[key] == [value], key
    assert service["ExecStart"] == ["/opt/lairchat/venv/bin/twistd --nodaemon --pidfile= lairchat"]
    database = environment(service)["LAIR_DATABASE_URL"]
    assert database.startswith("sqlite:/var/lib/lairchat/")  # inside StateDirectory


def test_endpoints_follow_the_socket_order() -> None:
    listen = directives(SOCKET)["ListenStream"]
    assert listen == ["0.0.0.0:8080", "0.0.0.0:8082"]  # TCP protocol first, then HTTP
    env = environment(directives(SERVICE))
    assert env["LAIR_TCP_ENDPOINT"] == "systemd:domain=INET:index=0"
    assert env["LAIR_HTTP_ENDPOINT"] == "systemd:domain=INET:index=1"
    for address in listen:  # domain=INET: IPv4 sockets
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+:\d+", address)


def test_the_guide_quotes_the_units() -> None:
    guide = DEPLOYMENT.read_text()
    for path in UNITS:
        assert path.read_text().rstrip("\n") in guide, path.name


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    assert Path(analyze).exists(), "install the Debian package systemd (see .ci/run)"
    venv = f"{Path(sys.executable).parent}/"
    for path in UNITS:
        (tmp_path / path.name).write_text(path.read_text().replace(VENV, venv))
    checked = subprocess.run(
        [analyze, "verify", *(str(tmp_path / path.name) for path in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr


@pytest.mark.parametrize("name", ["lairchat.sysusers", "lairchat.env"])
def test_the_other_files_exist(name: str) -> None:
    assert (SYSTEMD / name).read_text().strip()


#: Where the backup unit may differ from the server's hardening, and why: it needs
#: no network (only AF_UNIX, which Python's start can ask for), lowers no thread's
#: priority (the server's setpriority), and shares the lairchat user with the
#: server, whose IPC objects RemoveIPC= would remove when the backup ends.
BACKUP_DIFFERS = {"RestrictAddressFamilies": ["AF_UNIX"], "RemoveIPC": None}


def test_the_backup_unit_is_hardened_as_the_service_is() -> None:
    service, backup = directives(SERVICE), directives(BACKUP)
    keys = list(service)
    hardening = keys[keys.index("NoNewPrivileges") : keys.index("SystemCallErrorNumber") + 1]
    for key in hardening:
        if key == "SystemCallFilter":
            # All but what the server's password hashers need (lairchat.hashers).
            priority = "setpriority sched_setscheduler"
            assert backup[key] == [v for v in service[key] if v != priority]
        else:
            assert backup.get(key) == BACKUP_DIFFERS.get(key, service[key]), key
    for key in ("User", "Group", "UMask", "StateDirectory", "WorkingDirectory"):
        assert backup[key] == service[key], key
    assert backup["PrivateNetwork"] == ["yes"]
    assert backup["Type"] == ["oneshot"]
    assert environment(backup)["LAIR_DATABASE_URL"] == environment(service)["LAIR_DATABASE_URL"]
    assert backup["EnvironmentFile"] == service["EnvironmentFile"]
    assert directives(BACKUP_TIMER)["OnCalendar"] == ["*-*-* 03:15:00"]  # daily


def test_the_backup_unit_s_command_writes_a_private_dated_copy_and_keeps_14(
    tmp_path: Path,
) -> None:
    """Its ExecStart= as systemd would run it, on a database and directory here."""
    backup = directives(BACKUP)
    database = tmp_path / "lair-chat.db"
    made = subprocess.run(
        [sys.executable, "-m", "lairchat.cli", "admin", "create-user", "alice", "a@x.io"],
        env={
            **os.environ,
            "LAIR_DATABASE_URL": f"sqlite:{database}",
            "LAIR_NEW_PASSWORD": "pw123456",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    backups = tmp_path / "backups"
    backups.mkdir()
    for day in range(1, 16):
        (backups / f"lair-chat-2025-01-{day:02d}.db").write_text("an old backup")
    (command,) = backup["ExecStart"]
    argv = command.replace("/var/backups/lairchat", str(backups)).split()
    assert argv[0] == VENV + "lairchat"
    url = environment(backup)["LAIR_DATABASE_URL"].replace("/var/lib/lairchat", str(tmp_path))
    ran = subprocess.run(
        [sys.executable, "-m", "lairchat.cli", *argv[1:]],
        env={**os.environ, "LAIR_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    kept = sorted(p.name for p in backups.iterdir())
    assert len(kept) == 14
    assert kept[:13] == [f"lair-chat-2025-01-{day:02d}.db" for day in range(3, 16)]
    newest = backups / kept[-1]
    assert re.fullmatch(r"lair-chat-\d{4}-\d{2}-\d{2}\.db", newest.name)
    assert stat.S_IMODE(newest.stat().st_mode) == 0o600
    assert b"alice" in newest.read_bytes()
