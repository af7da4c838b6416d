"""Fixtures for the core unit tests (every name here starts with ``core_``).

``core_world`` is a whole :class:`lairchat.core.services.Core` on an in-memory store
and a ``task.Clock``, with helpers to register users and to attach fake real-time
connections that record what the hub delivers to them.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import defer
from zope.interface import implementer

from lairchat.core import passwords
from lairchat.core.auth import AuthResult
from lairchat.core.events import Event
from lairchat.core.hub import ISubscriber
from lairchat.domain.errors import LairError
from lairchat.domain.types import User
from lairchat.testing import make_core, result
from lairchat.transports.http.testing import CHEAP_HASHER, ApiClient

CORE_PASSWORD = "password1"


@implementer(ISubscriber)
class CoreSubscriber:
    """A fake authenticated connection, as the hub sees one: it records everything."""

    #: No fast path: the hub always calls send_event.
    fast = None
    backlogged = False
    #: Asked for lairchat's own events (ISubscriber.extended).
    extended = False

    def __init__(self, user_id: str, session_id: str):
        self.user_id = user_id
        self.session_id = session_id
        self.events: list[Event] = []
        self.closed: list[str] = []

    def send_event(self, event: Event) -> None:
        self.events.append(event)

    def close(self, reason: str, notice: object = None) -> None:
        self.closed.append(reason)

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def payloads(self, type_: str) -> list[dict[str, Any]]:
        return [e.payload for e in self.events if e.type == type_]

    def __repr__(self) -> str:
        return f"<CoreSubscriber {self.user_id[:8]} {self.types()}>"


class CoreWorld:
    """A core plus the users and fake connections a test made in it."""

    password = CORE_PASSWORD

    def __init__(self, core: Any):
        self.core = core
        self.clock = core.clock
        self.hub = core.hub
        self.auth: dict[str, AuthResult] = {}
        self.subscribers: list[CoreSubscriber] = []

    # -- deferreds ------------------------------------------------------------------

    @staticmethod
    def ok(d: defer.Deferred) -> Any:
        return result(d)

    @staticmethod
    def fails(d: defer.Deferred, code: str) -> LairError:
        """Assert ``d`` failed with the domain error ``code``; return the error."""
        with pytest.raises(LairError) as info:
            result(d)
        assert info.value.code == code, info.value
        return info.value

    # -- users ----------------------------------------------------------------------

    def register(self, username: str, email: str | None = None, password: str = CORE_PASSWORD):
        res = result(
            self.core.auth.register(username, email or f"{username}@example.com", password)
        )
        self.auth[res.user.id] = res
        return res

    def user(self, username: str, role: str | None = None) -> User:
        user = self.register(username).user
        if role is not None:
            user = result(self.core.store.set_role(user.id, role))
        return user

    def session_id(self, user: User) -> str:
        return self.auth[user.id].session.id

    # -- connections ----------------------------------------------------------------

    def connect(self, user: User, session_id: str | None = None) -> CoreSubscriber:
        sub = CoreSubscriber(user.id, session_id or self.session_id(user))
        self.hub.attach(sub)
        self.subscribers.append(sub)
        return sub

    def clear(self) -> None:
        """Forget what every fake connection received so far."""
        for sub in self.subscribers:
            sub.events.clear()

    def received(self, type_: str) -> dict[str, list[dict[str, Any]]]:
        """``{user_id: [payload, ...]}`` of one event type, over every fake connection."""
        out: dict[str, list[dict[str, Any]]] = {}
        for sub in self.subscribers:
            for payload in sub.payloads(type_):
                out.setdefault(sub.user_id, []).append(payload)
        return out


@pytest.fixture
def core_world(monkeypatch: pytest.MonkeyPatch) -> CoreWorld:
    # Same algorithm, minimal cost: the service tests are about rules, not hashing
    # cost (test_core_auth checks the real parameters once).
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    return CoreWorld(make_core())


# -- the REST API in memory ----------------------------------------------------------


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> ApiClient:
    """An in-memory REST client over a fresh core, with cheap password hashing."""
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    return ApiClient()


@pytest.fixture
def people(client: ApiClient) -> dict:
    """Four accounts for the room tests: owner, mod, member, outsider."""
    return {name: client.register(name) for name in ("owner", "mod", "member", "outsider")}


@pytest.fixture
def room(client: ApiClient, people: dict) -> dict:
    """A public room of ``people``: the owner's, with a moderator and a member."""
    room = client.create_room(people["owner"], "General")
    rooms = "/api/v1/rooms"
    for name in ("mod", "member"):
        assert client.post(f"{rooms}/{room['id']}/join", token=people[name].token).status == 200
    path = f"{rooms}/{room['id']}/members/{people['mod'].id}/role"
    assert client.put(path, {"role": "moderator"}, token=people["owner"].token).status == 200
    return room


@pytest.fixture
def core_tcp_world(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A whole server in memory with real-time connections over StringTransport
    (:class:`lairchat.testing.MemoryTCPServer`), its passwords hashed cheaply."""
    from lairchat.testing import MemoryTCPServer

    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    return MemoryTCPServer()


#: A well-formed id that names nothing.
CORE_NOBODY = "00000000-0000-4000-8000-000000000000"
