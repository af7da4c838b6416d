"""A real lairchat server on loopback ports, and blocking TCP protocol clients to it.

The server is ``twistd -n lairchat`` (:class:`lairchat.testing.ServerProcess`) in
a subprocess, configured through the environment like in production. Tests talk to it
with plain blocking sockets: every wait is a socket read with a deadline, so there is
no reactor in the test process and no sleeping.

Fixtures:

``live_server``
    One server for the whole test session (default timeouts).
``start_live_server``
    Start another one with extra environment (e.g. short timeouts); it is stopped at
    the end of the test session.

Both give a :class:`LiveServer`, whose :meth:`~LiveServer.connect` opens a
:class:`lairchat.testing_clients.TCPClient`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lairchat.testing import ServerNotReady, ServerProcess, log_sizes, logs_for_report
from lairchat.testing_clients import TCPClient

SECRET = "tcp-live-test-secret-0123456789abcdef"
PASSWORD = "password123"
STARTUP_TIMEOUT = 30.0


def unique(prefix: str) -> str:
    """A username no other test of this session uses (the server is shared)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------ the servers' logs on failure

#: Where each running server's log was when the test began.
_LOGGED_BEFORE = pytest.StashKey[dict]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the test's fixtures: a server they start is shown from its first line."""
    item.stash[_LOGGED_BEFORE] = log_sizes()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """A failed test's report shows what each server logged meanwhile (the last
    lines): a failure CI does not repeat is then readable where it happened."""
    report = yield
    if report.failed:
        report.sections.extend(logs_for_report(item.stash.get(_LOGGED_BEFORE, {})))
    return report


# --------------------------------------------------------------------------- the server


class LiveServer(ServerProcess):
    """The shared launcher (failing the test with the server's output if it does not
    start), plus blocking TCP clients."""

    def __init__(self, workdir: Path, extra_env: dict[str, str] | None = None):
        try:
            super().__init__(
                workdir, startup_timeout=STARTUP_TIMEOUT, secret=SECRET, **(extra_env or {})
            )
        except ServerNotReady as e:
            pytest.fail(str(e), pytrace=False)

    def connect(self) -> TCPClient:
        return TCPClient.connect(self.tcp_port)

    def register(self, prefix: str, encrypted: bool = False, extended: bool = False) -> TCPClient:
        """A new user, registered and authenticated on a new connection (legacy
        ``register``: no HTTP needed). ``client.token``/``user_id``/``username`` are set.
        ``extended``: the client asks for lairchat's own events."""
        client = self.connect()
        client.hello(encrypted=encrypted, extended=extended)
        name = unique(prefix)
        response = client.ok(
            "register", username=name, email=f"{name}@example.com", password=PASSWORD
        )
        client.token = response["token"]
        client.user_id = response["user"]["id"]
        client.username = name
        client.session_id = response["session"]["id"]
        return client

    def login(self, token: str, encrypted: bool = False) -> TCPClient:
        """Another connection authenticated with an existing token."""
        client = self.connect()
        client.hello(encrypted=encrypted)
        response = client.ok("authenticate", token=token)
        client.token = token
        client.user_id = response["user"]["id"]
        client.username = response["user"]["username"]
        client.session_id = response["session"]["id"]
        return client


@pytest.fixture(scope="session")
def start_live_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []
    counter = itertools.count()

    def start(**extra_env: str) -> LiveServer:
        workdir = tmp_path_factory.mktemp(f"lairchat-{next(counter)}")
        server = LiveServer(workdir, extra_env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def live_server(start_live_server: Callable[..., LiveServer]) -> LiveServer:
    return start_live_server()
