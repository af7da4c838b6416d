"""A small world to attack, reached through every front end at once.

``World`` is one core (synchronous SQLite, ``task.Clock``) driven three ways:

- the REST API through :class:`~lairchat.transports.http.testing.ApiClient`;
- the TCP protocol through real :class:`~lairchat.transports.tcp.LairTCPProtocol`
  instances over ``StringTransport`` (4-byte big-endian length-prefixed JSON);
- the WebSocket session (``?token=`` pre-authentication) through
  :class:`~lairchat.realtime.session.Session` with ``kind="ws"`` over an in-memory
  transport.

Everybody in it (see :data:`CAST`):

============  ==========================================================================
owner         created both rooms; room role ``owner`` in each
moderator     room role ``moderator`` in both rooms
member        plain member of both rooms; wrote the messages the tests edit and delete;
              one side of the DM conversation
outsider      registered, in no room
sysmod        system role ``moderator``, in no room (the role grants nothing)
admin         system role ``admin``, in no room (only the admin endpoints)
banned        was a plain member of both rooms, then banned by the admin
bystander     plain member of both rooms, the other side of the DM; kicked, promoted,
              invited and typed at by the tests (never acts)
invitee       registered, in no room: the one the tests invite
============  ==========================================================================

Rooms: ``public`` ("Public hall") and ``private`` ("Private den", invitation only).
Messages (ids in :attr:`World.messages`): in each room one by ``member`` and one by
``bystander``; in the DM one each way. The private room's and the DM's contain
``SECRET`` so that a test can tell whether any of them leaked.

Building a world takes a few dozen requests, so it is built once and copied
(``sqlite3`` serialize/deserialize) for every test: each test gets its own.

For what only a running process can show (TLS, Schemathesis over real sockets, start-up
refusals), ``start_server(**env)`` starts ``twistd -n lairchat`` on free loopback ports
(stopped at the end of the session) and ``run_until_exit(workdir, **env)`` runs one
that must refuse to start. Waiting for them is bounded polling of the subprocess.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from twisted.internet import task
from zope.interface import implementer

from lairchat.core import passwords
from lairchat.core.events import Event
from lairchat.core.services import Core
from lairchat.realtime.session import ISessionTransport, Session, SessionSettings, State
from lairchat.testing import (
    TWISTD,
    MemoryTCPClient,
    ServerNotReady,
    ServerProcess,
    make_core,
    result,
    server_env,
)
from lairchat.transports.http.testing import CHEAP_HASHER, Account, ApiClient
from lairchat.transports.tcp import LairTCPFactory

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t"
CAST = (
    "owner",
    "moderator",
    "member",
    "outsider",
    "sysmod",
    "admin",
    "banned",
    "bystander",
    "invitee",
)


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at minimal cost: these tests are about who may do what, not hashing."""
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)


# --------------------------------------------------------------------------- TCP


class TcpClient(MemoryTCPClient):
    """One in-memory TCP connection, from the client's side, whose requests may also
    be answered by the state machine's ``error`` frame."""

    def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a command; return its ``*_response`` or, if the state machine refused
        it, the ``error`` frame. Events that arrived meanwhile stay in the inbox."""
        request_id = f"r{next(self._ids)}"
        self.send({"type": kind, "request_id": request_id, **fields})
        responses = self.of_type(f"{kind}_response") + self.of_type("error")
        assert len(responses) == 1, (kind, responses, self._inbox)
        reply = responses[0]
        if reply["type"] != "error":
            assert reply["request_id"] == request_id, reply
        return reply

    def authenticate(self, token: str) -> dict[str, Any]:  # type: ignore[override]
        """The ``authenticate`` reply, whether it succeeded or not."""
        return self.request("authenticate", token=token)

    @property
    def state(self) -> State:
        return self.proto.session.state


# --------------------------------------------------------------------------- WebSocket


@implementer(ISessionTransport)
class MemoryWsTransport:
    """What a WebSocket connection gives its session: one JSON text per message."""

    def __init__(self) -> None:
        self.peer = "127.0.0.1:40000"
        self.host = "127.0.0.1"
        self.sent: list[dict[str, Any]] = []
        self.closed = False

    def write_payload(self, payload: bytes) -> None:
        self.sent.append(orjson.loads(payload))

    def write_event(self, event: Event) -> None:
        self.sent.append(orjson.loads(event.json()))

    def close(self) -> None:
        self.closed = True


class WsClient:
    """A WebSocket connection at the session layer: ``GET /ws?token=...`` in memory."""

    def __init__(self, core: Core, token: str | None, settings: SessionSettings | None = None):
        self.transport = MemoryWsTransport()
        settings = settings or SessionSettings("ws")
        self.session = Session(core, settings, self.transport, core.clock)
        self.session.connected(token)

    def frames(self) -> list[dict[str, Any]]:
        out, self.transport.sent = self.transport.sent, []
        return out

    @property
    def closed(self) -> bool:
        return self.transport.closed

    @property
    def state(self) -> State:
        return self.session.state


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    #: In the content of every private-room message and DM the world starts with.
    secret = SECRET

    core: Core
    api: ApiClient
    factory: LairTCPFactory
    accounts: dict[str, Account]
    rooms: dict[str, dict[str, Any]]
    messages: dict[str, str] = field(default_factory=dict)

    @property
    def clock(self) -> task.Clock:
        return self.core.clock

    def account(self, name: str) -> Account:
        return self.accounts[name]

    def id(self, name: str) -> str:
        return self.accounts[name].id

    def token(self, name: str) -> str:
        return self.accounts[name].token

    def room_id(self, which: str) -> str:
        return self.rooms[which]["id"]

    def connect(self) -> TcpClient:
        """A new TCP connection that has received ``server_hello`` and sent nothing."""
        client = TcpClient(self.factory)
        hello = client.frames()
        assert [f["type"] for f in hello] == ["server_hello"], hello
        return client

    def tcp(self, name: str | None = None) -> TcpClient:
        """A TCP connection after ``client_hello``, authenticated as ``name`` if given."""
        client = self.connect()
        client.hello()
        if name is not None:
            reply = client.authenticate(self.token(name))
            assert reply["success"] is True, reply
        return client

    def ws(self, token: str | None, settings: SessionSettings | None = None) -> WsClient:
        return WsClient(self.core, token, settings)

    def invite(self, inviter: str, room: str, invitee: str) -> str:
        """An invitation (over HTTP); its id."""
        reply = self.api.post(
            "/api/v1/invitations",
            {"room_id": self.room_id(room), "user_id": self.id(invitee)},
            token=self.token(inviter),
        )
        assert reply.status == 201, reply
        return reply.json["invitation"]["id"]

    def say(self, author: str, where: str, content: str) -> str:
        """A message (over HTTP) in a room or, for ``where="dm:<name>"``, a DM; its id."""
        if where.startswith("dm:"):
            target = {"type": "dm", "recipient": self.id(where[3:])}
        else:
            target = {"type": "room", "room_id": self.room_id(where)}
        reply = self.api.post(
            "/api/v1/messages", {"target": target, "content": content}, token=self.token(author)
        )
        assert reply.status == 201, reply
        return reply.json["message"]["id"]


def _build(core: Core) -> World:
    api = ApiClient(core)
    accounts = {name: api.register(name) for name in CAST}
    result(core.store.set_role(accounts["sysmod"].id, "moderator"))
    result(core.store.set_role(accounts["admin"].id, "admin"))
    # Log in again so that their tokens carry their roles (not that anything trusts it).
    for name in ("sysmod", "admin"):
        accounts[name] = api.login(accounts[name])
    owner = accounts["owner"]
    rooms = {
        "public": api.create_room(owner, "Public hall", description="for everyone"),
        "private": api.create_room(owner, "Private den", settings={"public": False}),
    }
    factory = LairTCPFactory(core, SessionSettings("tcp"), core.clock, 0)
    world = World(core, api, factory, accounts, rooms)
    for which, room in rooms.items():
        for name in ("moderator", "member", "bystander", "banned"):
            if which == "private":
                invitation = world.invite("owner", which, name)
                path = f"/api/v1/invitations/{invitation}/accept"
            else:
                path = f"/api/v1/rooms/{room['id']}/join"
            reply = api.post(path, token=world.token(name))
            assert reply.status == 200, reply
        reply = api.put(
            f"/api/v1/rooms/{room['id']}/members/{world.id('moderator')}/role",
            {"role": "moderator"},
            token=owner.token,
        )
        assert reply.status == 200, reply
        # Only what outsiders must never read carries SECRET.
        words = SECRET if which == "private" else "hello"
        world.messages[which] = world.say("member", which, f"{which} {words} by member")
        world.messages[f"{which}:bystander"] = world.say(
            "bystander", which, f"{which} {words} by bystander"
        )
    world.messages["dm"] = world.say("member", "dm:bystander", f"dm {SECRET} to bystander")
    world.messages["dm:bystander"] = world.say("bystander", "dm:member", f"dm {SECRET} to member")
    reply = api.post(
        f"/api/v1/admin/users/{world.id('banned')}/ban",
        {"reason": "tests"},
        token=world.token("admin"),
    )
    assert reply.status == 200, reply
    return world


@dataclass
class _Template:
    database: bytes
    accounts: dict[str, Account]
    rooms: dict[str, dict[str, Any]]
    messages: dict[str, str]
    now: float


_TEMPLATE: list[_Template] = []


def _template() -> _Template:
    if not _TEMPLATE:
        original = passwords.HASHER
        passwords.HASHER = CHEAP_HASHER
        try:
            world = _build(make_core())
        finally:
            passwords.HASHER = original
        connection = world.core.store._writer.connection
        _TEMPLATE.append(
            _Template(
                connection.serialize(),
                world.accounts,
                world.rooms,
                world.messages,
                world.clock.seconds(),
            )
        )
    return _TEMPLATE[0]


_API: list[ApiClient] = []


def new_world() -> World:
    """A fresh copy of the world: its own database, hub, clock and listeners.

    Building the REST API's routing table costs more than everything else here, so one
    :class:`ApiClient` serves every world: its route handlers look the services up on
    their ``Core`` object at each request, and that object is given the new world's
    services (no state survives from one world to the next).
    """
    template = _template()
    clock = task.Clock()
    clock.advance(template.now)
    fresh = make_core(clock=clock)
    fresh.store._writer.connection.deserialize(template.database)
    fresh.load()
    if not _API:
        _API.append(ApiClient(fresh))
    api = _API[0]
    core = api.core
    if core is not fresh:
        vars(core).clear()
        vars(core).update(vars(fresh))
    factory = LairTCPFactory(core, SessionSettings("tcp"), clock, 0)
    return World(
        core,
        api,
        factory,
        dict(template.accounts),
        dict(template.rooms),
        dict(template.messages),
    )


@pytest.fixture
def world() -> World:
    return new_world()


# --------------------------------------------------------------------------- real servers


SERVER_SECRET = "security-tests-secret-0123456789abcdef"


class LiveServer(ServerProcess):
    """The shared launcher, failing the test (with the server's output) if it does
    not start."""

    def __init__(self, workdir: Path, **extra_env: str):
        try:
            super().__init__(workdir, secret=SERVER_SECRET, **extra_env)
        except ServerNotReady as e:
            pytest.fail(str(e))


def _run_until_exit(workdir: Path, **extra_env: str) -> tuple[int, str]:
    """Start a server that is expected not to start; its exit status and output."""
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [*TWISTD, "-n", "--pidfile=", "lairchat"],
        cwd=workdir,
        env=server_env(workdir, SERVER_SECRET, **extra_env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


@pytest.fixture
def run_until_exit() -> Callable[..., tuple[int, str]]:
    """``run_until_exit(workdir, **env)``: start a server that must refuse to start;
    its exit status and everything it printed."""
    return _run_until_exit


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveServer]]:
    """Start a real server with extra environment; every one is stopped at the end."""
    servers: list[LiveServer] = []
    counter = itertools.count()

    def start(**extra_env: str) -> LiveServer:
        server = LiveServer(tmp_path_factory.mktemp(f"server-{next(counter)}"), **extra_env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
