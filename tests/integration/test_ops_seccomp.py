"""The shipped systemd unit's system call filter, applied to a real server.

systemd cannot start services here (it is not PID 1), so the test builds the filter
the unit gives the server: the unit's ``SystemCallFilter=`` lines resolved with
systemd's own group tables (``systemd-analyze syscall-filter``), its
``SystemCallErrorNumber=`` as what a denied call gets (without one, systemd kills the
process), loaded with libseccomp, as systemd does, by a launcher that then executes
twistd. Under it the server must register and log users in (argon2 runs in hashing
processes that lower their own priority), store a message (in the writer process) and
stay up.
"""

from __future__ import annotations

import ctypes.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.unit.test_ops_contrib import SERVICE, directives

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_ERRNO = 0x00050000
ERRNO = {"EPERM": 1, "EACCES": 13, "ENOSYS": 38}
PASSWORD = "password123"

#: Installs a deny-list filter (argv: action, comma-separated names), then executes
#: the rest of argv. libseccomp sets no_new_privs first, as NoNewPrivileges=yes does.
LAUNCHER = """
import ctypes, ctypes.util, os, sys
lib = ctypes.CDLL(ctypes.util.find_library("seccomp"))
lib.seccomp_init.restype = ctypes.c_void_p
lib.seccomp_init.argtypes = [ctypes.c_uint32]
lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
lib.seccomp_load.argtypes = [ctypes.c_void_p]
action, names, argv = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3:]
ctx = lib.seccomp_init(0x7FFF0000)  # SCMP_ACT_ALLOW
for name in names:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number >= 0:  # known on this architecture
        assert lib.seccomp_rule_add(ctx, action, number, 0) == 0, name
assert lib.seccomp_load(ctx) == 0
os.execv(argv[0], argv)
"""


def syscall_groups() -> dict[str, list[str]]:
    """systemd's groups (``@name``) as it lists them: system calls and other groups."""
    analyze = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    listing = subprocess.run(
        [analyze, "syscall-filter"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    groups: dict[str, list[str]] = {}
    for line in listing.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif line.startswith(" ") and not line.strip().startswith("#") and line.strip():
            current.append(line.strip())
    return groups


def expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    calls: set[str] = set()
    for name in names:
        calls |= expand(groups[name], groups) if name.startswith("@") else {name}
    return calls


def unit_policy(service: dict[str, list[str]]) -> tuple[int, list[str]]:
    """(seccomp action, denied system calls) of a unit, by systemd's rules: the first
    ``SystemCallFilter=`` decides between an allow list and a deny list (``~``), and
    each later line takes calls out (``~``) or puts them back in."""
    groups = syscall_groups()
    known = expand(["@known"], groups)
    allowed: set[str] | None = None
    for value in service["SystemCallFilter"]:
        calls = expand(value.lstrip("~").split(), groups)
        deny = value.startswith("~")
        if allowed is None:
            allowed = known - calls if deny else calls
        else:
            allowed = allowed - calls if deny else allowed | calls
    errno = service.get("SystemCallErrorNumber", [None])[0]
    action = SCMP_ACT_KILL_PROCESS if errno is None else SCMP_ACT_ERRNO | ERRNO[errno]
    return action, sorted(known - (allowed or known))


def start_under(
    tmp_path: Path, service: dict[str, list[str]], spared: frozenset[str] = frozenset()
) -> ServerProcess:
    action, denied = unit_policy(service)
    denied = [name for name in denied if name not in spared]
    launcher = [sys.executable, "-c", LAUNCHER, str(action), ",".join(denied)]
    return ServerProcess(tmp_path, command_prefix=launcher)


def registered(server: ServerProcess, name: str) -> TCPClient:
    client = TCPClient.connect(server.tcp_port)
    client.hello()
    client.ok("register", username=name, email=f"{name}@example.com", password=PASSWORD)
    return client


def filtered(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    return re.search(r"^Seccomp:\s+2$", status, re.M) is not None


SCHED_IDLE = 5


def hasher_policies(pid: int) -> list[int]:
    """The scheduling policy (field 41 of /proc/PID/stat) of each password hasher
    ``pid`` started."""
    policies = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            command = (proc / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid and b"lairchat.hashers" in command:
            policies.append(int(fields[38]))
    return policies


@pytest.fixture(autouse=True)
def libseccomp() -> None:
    assert ctypes.util.find_library("seccomp"), "install the Debian package systemd (.ci/run)"


def test_the_server_works_under_the_unit_s_system_call_filter(tmp_path):
    server = start_under(tmp_path, directives(SERVICE))
    try:
        assert filtered(server.process.pid)
        with registered(server, "alice") as alice:
            room = alice.ok("create_room", name="general")["room"]
            target = {"type": "room", "room_id": room["id"]}
            sent = alice.ok("send_message", target=target, content="stored under seccomp")
        with TCPClient.connect(server.tcp_port) as again:
            again.hello()
            again.ok("login", identifier="alice", password=PASSWORD)
            history = again.ok("get_messages", target=target, limit=10)["messages"]
        assert [m["id"] for m in history] == [sent["message"]["id"]]
        assert server.alive()
        # sched_setscheduler was allowed: the hashers run only on CPU nothing else wants.
        assert hasher_policies(server.process.pid) == [SCHED_IDLE]
    finally:
        server.stop()


def test_without_the_priority_calls_each_hasher_is_killed_and_the_server_lives_on(tmp_path):
    """Without ``SystemCallFilter=setpriority sched_setscheduler`` and
    ``SystemCallErrorNumber=``, a denied call kills its process (systemd's default):
    each password hasher as it lowers its priority. When the hashing ran in threads
    of the server (the filter as first shipped), that killed the server at the first
    hash; now the check is tried on a second hasher, then refused as an internal
    error, and the server goes on."""
    service = directives(SERVICE)
    priority = "setpriority sched_setscheduler"
    service["SystemCallFilter"] = [v for v in service["SystemCallFilter"] if v != priority]
    del service["SystemCallErrorNumber"]
    # The tests run as root, and SQLite as root gives its new files the database's
    # owner (fchown); as User=lairchat it does not, so those calls are spared here.
    server = start_under(tmp_path, service, frozenset(expand(["@chown"], syscall_groups())))
    try:
        with TCPClient.connect(server.tcp_port) as alice:
            alice.hello()
            refused = alice.request("register", username="alice", email="a@x.io", password=PASSWORD)
            assert refused["success"] is False, refused
            assert refused["error"]["code"] == "internal_error", refused
        with TCPClient.connect(server.tcp_port) as bob:
            bob.hello()  # the server goes on
        assert server.alive()
        assert "password hasher exited" in server.log()
    finally:
        server.stop()
