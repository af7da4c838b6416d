"""Rate limiting for HTTP requests, on the core's shared limiter.

Tiers as the original: every request counts against ``general``; ``/api/v1/auth/*``
also against ``auth``, ``/api/v1/messages*`` also against ``messaging`` (but for our
own ``/api/v1/messages/read``: :data:`MARK_READ`). Unlike the
original (one bucket for every client without proxy headers), the key is the user
when the request carries a valid token, else the client's address; proxy headers
count only from ``LAIR_TRUSTED_PROXIES``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from lairchat.core.ratelimit import Decision, RateLimiter, address_key, session_key, user_key
from lairchat.core.tokens import Tokens
from lairchat.domain.errors import LairError
from lairchat.transports.proxies import ProxyPolicy

#: Requests counted against the caller's session rather than its user (session_key):
#: what the owner of a stolen token needs to cut the intruder off (end a session,
#: after listing them, or change the password), which the intruder, sharing the
#: user's allowance, could otherwise use up.
PER_SESSION = frozenset(
    {b"/api/v1/auth/logout", b"/api/v1/auth/change-password", b"/api/v1/auth/sessions"}
)
#: ... and every path under this one (``DELETE /auth/sessions/{session_id}``).
PER_SESSION_UNDER = b"/api/v1/auth/sessions/"


def per_session(path: bytes) -> bool:
    return path in PER_SESSION or path.startswith(PER_SESSION_UNDER)


#: lairchat's own route under ``/api/v1/messages``: marking read counts against the
#: general allowance only, as the real-time ``mark_read`` does, not against the
#: messaging one that sending needs (clients mark read on every conversation switch).
MARK_READ = b"/api/v1/messages/read"
#: ... and searching: against the general allowance only, as the real-time
#: ``search_messages`` (a client pages on through a search; docs/protocols/HTTP.md).
SEARCH = b"/api/v1/messages/search"


#: ... and reactions (``/api/v1/messages/{message_id}/reactions/{emoji}``, and
#: ``.../reactions?emoji=``) and pins (``/api/v1/messages/{message_id}/pin``): against
#: the general allowance only, as their real-time commands (a reaction or a pin is a
#: click, not a message; docs/protocols/HTTP.md, "Reactions" and "Pinned messages").
MESSAGES_UNDER = b"/api/v1/messages/"
REACTIONS = b"reactions"
PIN = b"pin"


def is_click(path: bytes) -> bool:
    parts = path[len(MESSAGES_UNDER) :].split(b"/")
    if not path.startswith(MESSAGES_UNDER):
        return False
    if len(parts) == 2:
        return parts[1] in (REACTIONS, PIN)
    return len(parts) == 3 and parts[1] == REACTIONS


#: lairchat's own routes that check a password, as a login does: ``DELETE`` of
#: these count against the ``auth`` allowance too (not ``GET``, which clients call
#: often): the caller's account, and (an admin's) any account under this prefix;
#: and the caller's data export (any method: it has only ``POST``).
ACCOUNT = b"/api/v1/users/me"
ADMIN_USERS = b"/api/v1/admin/users/"
EXPORT = b"/api/v1/users/me/export"
#: The caller's second factor: its routes check a password or a code (any method:
#: they have only ``POST``).
TWO_FACTOR_UNDER = b"/api/v1/users/me/2fa/"


def tier_of(path: bytes, method: bytes = b"GET") -> str | None:
    if path.startswith((b"/api/v1/auth/", TWO_FACTOR_UNDER)) or path == EXPORT:
        return "auth"
    if method == b"DELETE" and (
        path == ACCOUNT or (path.startswith(ADMIN_USERS) and b"/" not in path[len(ADMIN_USERS) :])
    ):
        return "auth"
    if path in (MARK_READ, SEARCH) or is_click(path):
        return None
    if path == b"/api/v1/messages" or path.startswith(MESSAGES_UNDER):
        return "messaging"
    return None


def routed_path(request: Any) -> bytes:
    """The request's path as the router matches it: percent-decoded. Tiers and keys
    are chosen on this, not on the raw path, or ``/api/v1/%61uth/login`` reached the
    login route with only the general allowance (100 a minute, not auth's 10)."""
    path = request.path
    return unquote_to_bytes(path) if b"%" in path else path


class HttpRateLimiter:
    def __init__(self, limiter: RateLimiter, tokens: Tokens, proxies: ProxyPolicy):
        self.limiter = limiter
        self.tokens = tokens
        self.proxies = proxies

    def client_key(self, request: Any) -> str:
        """The user's key for a request with a valid token (its session's for the
        requests of :func:`per_session`), else its address's."""
        header = request.getHeader("authorization") or ""
        if header.startswith("Bearer "):
            try:
                claims = self.tokens.decode(header[7:])
            except LairError:
                pass
            else:
                if per_session(routed_path(request)):
                    return session_key(claims.session_id)
                return user_key(claims.user_id)
        return address_key(self.proxies.client_of_request(request))

    def admit(self, request: Any) -> LairError | None:
        """Count the request; set the ``X-RateLimit-*`` headers; return a
        ``rate_limited`` error (429, ``Retry-After``) to refuse it. The headers show
        the general tier, as the original's, unless another tier refuses: then that
        one's, so that a 429 never says requests remain."""
        key = self.client_key(request)
        general = self.limiter.hit("general", key)
        refused: Decision | None = None if general.allowed else general
        tier = tier_of(routed_path(request), request.method)
        if refused is None and tier is not None:
            group = self.limiter.hit(tier, key)
            refused = None if group.allowed else group
        shown = refused or general
        request.setHeader(b"X-RateLimit-Limit", str(shown.limit).encode())
        request.setHeader(b"X-RateLimit-Remaining", str(shown.remaining).encode())
        request.setHeader(b"X-RateLimit-Reset", str(shown.reset_after).encode())
        if refused is None:
            return None
        request.setHeader(b"Retry-After", str(refused.retry_after).encode())
        return LairError(
            "rate_limited",
            "Too many requests",
            details={"retry_after": refused.retry_after, "limit": refused.limit},
        )
