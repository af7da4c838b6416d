"""contrib/: the systemd units are valid, agree with each other, and are what the
deployment guide quotes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "contrib" / "systemd"
SERVICE = SYSTEMD / "lairchat.service"
SOCKET = SYSTEMD / "lairchat.socket"
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
    for path in (SERVICE, SOCKET):
        assert path.read_text().rstrip("\n") in guide, path.name


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    assert Path(analyze).exists(), "install the Debian package systemd (see .ci/run)"
    twistd = Path(sys.executable).with_name("twistd")
    for path in (SERVICE, SOCKET):
        text = path.read_text().replace("/opt/lairchat/venv/bin/twistd", str(twistd))
        (tmp_path / path.name).write_text(text)
    checked = subprocess.run(
        [analyze, "verify", str(tmp_path / SOCKET.name), str(tmp_path / SERVICE.name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr


@pytest.mark.parametrize("name", ["lairchat.sysusers", "lairchat.env"])
def test_the_other_files_exist(name: str) -> None:
    assert (SYSTEMD / name).read_text().strip()
