"""What every route group shares: the ``@route`` marker and the authentication steps.

A handler parses its request in the original's order — bearer token, query, body,
ids — then asks for the caller (the session check) and calls one core service. It
returns the success body; :class:`~lairchat.transports.http.app.HttpApi` writes it
with the route's status, and turns anything raised into the error envelope.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from lairchat.core.services import Core
from lairchat.core.tokens import Claims
from lairchat.domain.errors import LairError
from lairchat.domain.ids import parse_uuid
from lairchat.domain.types import Session, User
from lairchat.transports.http.auth import claims_of
from lairchat.transports.proxies import ProxyPolicy

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    #: The path template as documented (OpenAPI style): ``/api/v1/rooms/{room_id}``.
    path: str
    status: int = 200

    @property
    def rule(self) -> str:
        """The same template in werkzeug's syntax: ``/api/v1/rooms/<room_id>``."""
        return _PARAM.sub(r"<\1>", self.path)


@dataclass(frozen=True, slots=True)
class Answer:
    """A handler's answer when the status is not the route's usual one."""

    status: int
    body: Any


def route(method: str, path: str, status: int = 200) -> Callable:
    """Mark a handler method as serving ``method path`` with ``status`` on success."""

    def mark(fn: Callable) -> Callable:
        fn.lair_route = Route(method, path, status)  # type: ignore[attr-defined]
        return fn

    return mark


#: The path segment a secret follows (an invite code, HTTP.md "Invite codes"): a path
#: naming it is logged cut after it, unless what follows is a room's listing or one
#: code's id (a UUID), never a code (22 characters).
SECRET_SEGMENT = "invite-codes"
_NOT_SECRET = re.compile(
    r"/?|/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/?", re.IGNORECASE
)


def logged_path(request: Any, limit: int = 256) -> str:
    """The request's path as a log line may show it: at most ``limit`` characters, and
    a path naming :data:`SECRET_SEGMENT` (percent-decoded, in any case) cut after it.
    Not only the join route's own path: ``//api/v1/invite-codes/CODE/join`` (a base
    URL with a trailing slash), ``/API/...`` or a code pasted where a code's id goes
    reach no route, and their code is as good as ever."""
    path = request.path
    decoded = (unquote_to_bytes(path) if b"%" in path else path).decode("utf-8", "replace")
    at = decoded.lower().find(SECRET_SEGMENT)
    if at >= 0:
        end = at + len(SECRET_SEGMENT)
        if not _NOT_SECRET.fullmatch(decoded[end:]):
            return decoded[:end][:limit] + "/…"
    return path.decode("utf-8", "replace")[:limit]


def path_id(value: str, not_found: str) -> str:
    """A UUID from the path; a malformed one is the resource's 404, never a 400."""
    canonical = parse_uuid(value)
    if canonical is None:
        raise LairError(not_found)
    return canonical


class RouteGroup:
    """Handlers for one area of the API, over the shared core."""

    def __init__(self, core: Core, proxies: ProxyPolicy | None = None):
        self.core = core
        self.proxies = proxies or ProxyPolicy()

    @classmethod
    def routes(cls) -> Iterator[tuple[str, Route]]:
        for name in sorted(vars(cls)):
            marked = getattr(getattr(cls, name), "lair_route", None)
            if marked is not None:
                yield name, marked

    def claims(self, request: Any) -> Claims:
        """Step one of every authenticated route: the bearer token (JWT only)."""
        return claims_of(request, self.core.auth.tokens)

    async def session(self, claims: Claims) -> tuple[User, Session]:
        """The session check (every authenticated route, our policy): 401
        ``session_not_found``/``session_expired`` once the session is gone."""
        return await self.core.auth.validate(claims)

    async def caller(self, claims: Claims) -> User:
        user, _ = await self.session(claims)
        return user
