"""Drive the REST API in memory, synchronously, from tests.

:class:`ApiClient` sends real HTTP requests through ``treq.testing.StubTreq`` into
:meth:`HttpApi.resource`; over :func:`lairchat.testing.make_core` (a synchronous
store and a fake clock) every answer is complete when the call returns. Like
``lairchat.testing`` this ships with the package, for our tests and client authors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from argon2 import PasswordHasher, Type
from treq.testing import StubTreq

from lairchat.core.services import Core
from lairchat.testing import make_core, result
from lairchat.transports.http.app import HttpApi

#: Argon2id at minimal cost, for tests about rules rather than hashing:
#: ``monkeypatch.setattr(lairchat.core.passwords, "HASHER", CHEAP_HASHER)``.
CHEAP_HASHER = PasswordHasher(
    time_cost=1, memory_cost=8, parallelism=1, hash_len=16, salt_len=16, type=Type.ID
)
PASSWORD = "password1"
BASE = "http://lairchat.test"
_NO_BODY: Any = object()


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def error(self) -> dict[str, Any]:
        """The ``{"code","message"}`` of an error envelope."""
        return self.json["error"]

    @property
    def code(self) -> str:
        return self.error["code"]

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.body[:200]!r}>"


@dataclass
class Account:
    """A registered user as the client knows it: the auth response and its token."""

    username: str
    token: str
    user: dict[str, Any]
    session: dict[str, Any]
    password: str = PASSWORD

    @property
    def id(self) -> str:
        return self.user["id"]


class FakeConnection:
    """An authenticated real-time connection as the hub sees one (for presence)."""

    #: No fast path: the hub always calls send_event.
    fast = None
    backlogged = False
    extended = False

    def __init__(self, user_id: str, session_id: str):
        self.user_id = user_id
        self.session_id = session_id
        self.events: list[Any] = []
        self.closed: list[str] = []
        self.notices: list[Any] = []

    def send_event(self, event: Any) -> None:
        self.events.append(event)

    def pause_reading(self) -> None:
        pass  # never congested: nothing to pause

    def resume_reading(self) -> None:
        pass

    def close(self, reason: str, notice: object = None) -> None:
        self.closed.append(reason)
        self.notices.append(notice)


@dataclass
class ApiClient:
    core: Core = field(default_factory=make_core)
    config: Any = None

    def __post_init__(self) -> None:
        self.api = HttpApi(self.core, self.config)
        self.stub = StubTreq(self.api.resource())

    # -- raw requests -----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        json: Any = _NO_BODY,
        *,
        data: bytes | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        params: Any = None,
    ) -> Reply:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": sent}
        if json is not _NO_BODY:
            kwargs["data"] = orjson.dumps(json)
            sent.setdefault("Content-Type", "application/json")
        elif data is not None:
            kwargs["data"] = data
        if params is not None:
            kwargs["params"] = params
        d = self.stub.request(method, BASE + path, **kwargs)
        self.stub.flush()
        response = result(d)
        body = response.content()
        self.stub.flush()
        raw = result(body)
        found = {
            name.decode("latin-1").lower(): [v.decode("latin-1") for v in values]
            for name, values in response.headers.getAllRawHeaders()
        }
        return Reply(response.code, found, raw)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = _NO_BODY, **kw: Any) -> Reply:
        return self.request("POST", path, json, **kw)

    def patch(self, path: str, json: Any = _NO_BODY, **kw: Any) -> Reply:
        return self.request("PATCH", path, json, **kw)

    def put(self, path: str, json: Any = _NO_BODY, **kw: Any) -> Reply:
        return self.request("PUT", path, json, **kw)

    def delete(self, path: str, json: Any = _NO_BODY, **kw: Any) -> Reply:
        return self.request("DELETE", path, json, **kw)

    # -- accounts and world state --------------------------------------------------------

    def register(self, username: str, password: str = PASSWORD, email: str | None = None):
        reply = self.post(
            "/api/v1/auth/register",
            {
                "username": username,
                "email": email or f"{username}@example.com",
                "password": password,
            },
        )
        assert reply.status == 201, reply
        data = reply.json
        return Account(username, data["token"], data["user"], data["session"], password)

    def login(self, account: Account) -> Account:
        reply = self.post(
            "/api/v1/auth/login", {"identifier": account.username, "password": account.password}
        )
        assert reply.status == 200, reply
        data = reply.json
        return Account(account.username, data["token"], data["user"], data["session"])

    def make_admin(self, account: Account) -> None:
        result(self.core.store.set_role(account.id, "admin"))

    def connect(self, account: Account) -> FakeConnection:
        """Mark ``account`` online, as a live TCP/WebSocket connection would."""
        connection = FakeConnection(account.id, account.session["id"])
        self.core.hub.attach(connection)
        return connection

    def create_room(self, owner: Account, name: str, **fields: Any) -> dict[str, Any]:
        reply = self.post("/api/v1/rooms", {"name": name, **fields}, token=owner.token)
        assert reply.status == 201, reply
        return reply.json["room"]

    def check_bounded_paging(self, path: str, key: str, token: str) -> None:
        """Check the ``limit``/``offset`` paging of a bounded newest-first listing
        (sessions, one's or a room's invitations: HTTP.md, Pagination) that holds exactly
        three items: pages, the cut to 100, ``has_more`` exact, bad values 400."""
        reply = self.get(path, token=token)
        assert reply.status == 200, reply
        ids = [item["id"] for item in reply.json[key]]
        assert len(ids) == 3, ids

        def page(query: str) -> tuple[list[str], bool]:
            reply = self.get(f"{path}?{query}", token=token)
            assert reply.status == 200, reply
            return [item["id"] for item in reply.json[key]], reply.json["has_more"]

        assert page("limit=2") == (ids[:2], True)
        assert page("limit=2&offset=2") == (ids[2:], False)
        assert page("offset=1") == (ids[1:], False)
        assert page("limit=500") == (ids, False)  # cut to 100
        assert page("limit=0") == ([], True)
        assert page("offset=3") == ([], False)
        for bad in ("limit=abc", "offset=-1", "limit=1.5", "limit=1&limit=2"):
            reply = self.get(f"{path}?{bad}", token=token)
            assert (reply.status, reply.code) == (400, "validation_failed"), bad
