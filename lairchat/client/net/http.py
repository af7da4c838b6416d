"""The REST API (``/api/v1``) with treq: one method per endpoint the client uses.

Accounts, lists, history and membership changes go over HTTP, as in the original
client; live traffic goes over the real-time link. Every method returns the decoded
JSON body or raises :class:`~lairchat.client.net.errors.ServerError`, so callers never
see a Twisted failure type: connection refused, timeouts and TLS failures become
codes (``unreachable``, ``timeout``, ``network_error``) with a readable message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from treq import collect
from twisted.internet import defer
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone
from twisted.web.http import PotentialDataLoss

from lairchat.client.net.codec import decode
from lairchat.client.net.errors import ServerError, network_code
from lairchat.client.net.tls import SYSTEM_TRUST, Trust

__all__ = ["HttpApi"]

log = logging.getLogger(__name__)

#: Bytes an answer may have: a page of users or messages is well under 1 MiB.
MAX_BODY = 8 << 20
#: Pages fetched at most when a list endpoint keeps saying ``has_more``.
MAX_PAGES = 10
PAGE = 100


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _confirming(password: str, code: str | None) -> dict[str, Any]:
    """The body of the account's deletion or export: the password, and the second
    factor as the login's ``totp`` only when given (a server without two-factor
    sign-in, or an account without it, never sees the field)."""
    return {"password": password, **({"totp": code} if code else {})}


def _codes(data: dict[str, Any]) -> list[str]:
    """An answer's ``recovery_codes``, the strings of it."""
    codes = data.get("recovery_codes")
    return [c for c in codes if isinstance(c, str)] if isinstance(codes, list) else []


def _given(**fields: Any) -> dict[str, Any]:
    """A body of the fields that have a value: an absent field leaves the server's
    as it is (or its default), where a null one might not on another server."""
    return {key: value for key, value in fields.items() if value is not None}


#: Seconds an export's body may go without a byte before it is taken for cut off
#: (the server sends a space now and then while it reads: HTTP.md).
EXPORT_IDLE = 60.0


class _Stream(Protocol):
    """A response body handed to ``write`` as it arrives; ``done`` fires at its end
    (fails when the connection breaks first, when ``write`` fails, or after
    :data:`EXPORT_IDLE` seconds without a byte)."""

    def __init__(self, write: Callable[[bytes], None], done: Deferred, reactor: Any):
        self.write = write
        self.done: Deferred | None = done
        self.idle = reactor.callLater(EXPORT_IDLE, self._stalled)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted's name)
        if self.done is None:
            return
        self.idle.reset(EXPORT_IDLE)
        try:
            self.write(data)
        except BaseException:
            self._end(Failure())

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        self._end(None if reason.check(ResponseDone, PotentialDataLoss) else reason)

    def _stalled(self) -> None:
        self._end(Failure(defer.TimeoutError(f"no data for {EXPORT_IDLE:.0f} s")))

    def _end(self, failure: Failure | None) -> None:
        if self.idle.active():
            self.idle.cancel()
        done, self.done = self.done, None
        if done is None:
            return
        if failure is not None and self.transport is not None:
            self.transport.stopProducing()
        if failure is None:
            done.callback(None)
        else:
            done.errback(failure)


class HttpApi:
    """A logged-in (or not yet) API client for one base URL."""

    def __init__(
        self,
        base_url: str,
        reactor: Any,
        *,
        trust: Trust = SYSTEM_TRUST,
        timeout: float = 10.0,
        client: Any = None,
    ) -> None:
        """``client`` replaces treq's ``HTTPClient`` (tests pass a stub)."""
        self.base_url = base_url.rstrip("/")
        self.token: str | None = None
        self.timeout = timeout
        self._reactor = reactor
        self._trust = trust
        self._pool: HTTPConnectionPool | None = None
        if client is None:
            from treq.client import HTTPClient

            self._pool = HTTPConnectionPool(reactor, persistent=True)
            self._pool.maxPersistentPerHost = 4
            agent = Agent(
                reactor,
                contextFactory=trust.http_policy(),
                pool=self._pool,
                connectTimeout=timeout,
            )
            client = HTTPClient(agent)
        self._client = client

    def close(self) -> Any:
        """Drop pooled keep-alive connections (at exit)."""
        if self._pool is not None:
            return self._pool.closeCachedConnections()
        return None

    # -- the one request path ---------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> dict[str, Any]:
        headers = {"Accept": ["application/json"]}
        if auth and self.token:
            headers["Authorization"] = [f"Bearer {self.token}"]
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["json"] = body
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.base_url + path
        request = self._client.request(
            method,
            url,
            headers=headers,
            params=query or None,
            timeout=self.timeout,
            reactor=self._reactor,
            **kwargs,
        )
        response = await self._network(request)
        raw = await self._network(self._body(response))
        status = int(response.code)
        data = decode(raw) if raw else {}
        if 200 <= status < 300:
            return data if isinstance(data, dict) else {}
        raise self._error(status, data, raw, response)

    async def _network(self, step: Any) -> Any:
        """Await one step of a request; its failures as ServerError codes."""
        try:
            return await step
        except (CancelledError, defer.TimeoutError):
            raise ServerError(
                "timeout", f"The server at {self.base_url} did not answer in {self.timeout:.0f} s"
            ) from None
        except ServerError:
            raise
        except Exception as exc:
            code = network_code(exc)
            verb = "Cannot reach" if code == "unreachable" else "Cannot talk to"
            raise ServerError(
                code, f"{verb} the server at {self.base_url} ({self._trust.reason(exc)})"
            ) from None

    async def export_data(
        self, password: str, write: Callable[[bytes], None], code: str | None = None
    ) -> None:
        """lairchat's ``POST /users/me/export`` (docs/protocols/HTTP.md): the body,
        however large, handed to ``write`` a piece at a time as it arrives, never held
        whole (the caller checks that it is whole: it ends with ``"complete":true``).
        Refusals as :meth:`call`'s; a body that stops arriving for
        :data:`EXPORT_IDLE` seconds, or whose connection breaks, is ``cut_off``.
        ``code``: the second factor, as :meth:`delete_account`'s."""
        headers = {"Accept": ["application/json"], "Authorization": [f"Bearer {self.token}"]}
        request = self._client.request(
            "POST",
            self.base_url + "/api/v1/users/me/export",
            headers=headers,
            json=_confirming(password, code),
            timeout=self.timeout,
            reactor=self._reactor,
        )
        response = await self._network(request)
        status = int(response.code)
        if not 200 <= status < 300:
            raw = await self._network(self._body(response))
            raise self._error(status, decode(raw) if raw else {}, raw, response)
        done: Deferred[None] = Deferred()
        response.deliverBody(_Stream(write, done, self._reactor))
        try:
            await done
        except ServerError:
            raise
        except Exception as exc:
            raise ServerError(
                "cut_off",
                f"The export was cut off ({self._trust.reason(exc)}): nothing was saved, try again",
            ) from None

    def _error(self, status: int, data: Any, raw: bytes, response: Any) -> ServerError:
        retry_after: int | None = None
        details: dict[str, Any] | None = None
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code") or f"http_{status}")
            message = str(error.get("message") or code)
            given = error.get("details")
            details = given if isinstance(given, dict) else None
            if details and isinstance(details.get("retry_after"), int):
                retry_after = details["retry_after"]
        else:
            code = "rate_limited" if status == 429 else f"http_{status}"
            message = self._foreign_answer(status, raw)
        if retry_after is None and status == 429:
            try:
                header = response.headers.getRawHeaders(b"retry-after") or []
                retry_after = int(header[0]) if header else None
            except (ValueError, AttributeError):
                retry_after = None
        return ServerError(code, message, status=status, retry_after=retry_after, details=details)

    def _body(self, response: Any) -> Deferred:
        """The answer's body, refused past :data:`MAX_BODY` and cut off (as a timeout)
        when it is not all there within the timeout: a wrong ``--http-url`` may serve
        a file of any size, or trickle one, and the body was read whole, for ever."""
        chunks: list[bytes] = []
        size = 0

        def take(data: bytes) -> None:
            nonlocal size
            size += len(data)
            if size > MAX_BODY:
                raise ServerError(
                    "too_large",
                    f"The server at {self.base_url} sent an answer over {MAX_BODY >> 20} MiB, "
                    "which the lairchat API never does (is that the server's REST URL? "
                    "see --http-url)",
                )
            chunks.append(data)

        d = collect(response, take)
        d.addTimeout(self.timeout, self._reactor)
        return d.addCallback(lambda _: b"".join(chunks))

    def _foreign_answer(self, status: int, raw: bytes) -> str:
        """The sentence for an answer without the API's error envelope: a proxy's
        one line (``HTTP 502: Bad gateway``) as it is; a page (HTML, several lines)
        is not shown, since it would fill the login box with markup, but named for
        what it likely means: ``--http-url`` does not point at the API."""
        text = raw.decode("utf-8", "replace").strip()
        if text and "\n" not in text and not text.startswith("<") and len(text) <= 200:
            return f"HTTP {status}: {text}"
        log.info("HTTP %d answer without an error envelope: %r", status, raw[:500])
        return (
            f"HTTP {status} from {self.base_url}, which does not answer as the lairchat "
            "API does (is that the server's REST URL? see --http-url)"
        )

    async def _pages(self, path: str, key: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            data = await self.call(
                "GET", path, params={**params, "limit": PAGE, "offset": page * PAGE}
            )
            batch = data.get(key) or []
            items.extend(batch)
            if not data.get("has_more") or len(batch) < PAGE:
                break
        return items

    # -- accounts ------------------------------------------------------------------------

    async def login(
        self, identifier: str, password: str, totp: str | None = None
    ) -> dict[str, Any]:
        """``totp``: the second factor, sent only when given (a server without
        two-factor sign-in, the original's, never sees the field)."""
        body = {"identifier": identifier, "password": password}
        if totp:
            body["totp"] = totp
        data = await self.call("POST", "/api/v1/auth/login", body=body, auth=False)
        self.token = data.get("token")
        return data

    async def setup_two_factor(self, password: str) -> dict[str, Any]:
        """A new secret: ``{"secret","otpauth_uri","enabled"}``."""
        return await self.call("POST", "/api/v1/users/me/2fa/setup", body={"password": password})

    async def enable_two_factor(self, code: str) -> list[str]:
        """Turn it on; the recovery codes, shown once."""
        data = await self.call("POST", "/api/v1/users/me/2fa/enable", body={"code": code})
        return _codes(data)

    async def disable_two_factor(self, password: str, code: str) -> None:
        body = {"password": password, "code": code}
        await self.call("POST", "/api/v1/users/me/2fa/disable", body=body)

    async def new_recovery_codes(self, password: str, code: str) -> list[str]:
        """Ten new recovery codes in place of the unused ones, shown once."""
        body = {"password": password, "code": code}
        data = await self.call("POST", "/api/v1/users/me/2fa/recovery-codes", body=body)
        return _codes(data)

    async def register(self, username: str, email: str, password: str) -> dict[str, Any]:
        data = await self.call(
            "POST",
            "/api/v1/auth/register",
            body={"username": username, "email": email, "password": password},
            auth=False,
        )
        self.token = data.get("token")
        return data

    async def logout(self) -> None:
        """End the session of the token held now; the token is forgotten unless a
        new login replaced it meanwhile."""
        token = self.token
        try:
            await self.call("POST", "/api/v1/auth/logout")
        finally:
            if self.token == token:
                self.token = None

    async def change_password(self, current: str, new: str) -> None:
        """Change the account's password. The server ends every other session of the
        account and keeps this one: the token held stays valid."""
        body = {"current_password": current, "new_password": new}
        await self.call("POST", "/api/v1/auth/change-password", body=body)

    async def delete_account(self, password: str, code: str | None = None) -> None:
        """lairchat's ``DELETE /users/me`` (the original answers 404): the account
        and its messages go for good, every session of it ends (this token's too).
        ``code``: the second factor, for an account with it on."""
        await self.call("DELETE", "/api/v1/users/me", body=_confirming(password, code))

    async def sessions(self) -> tuple[list[dict[str, Any]], bool]:
        """The account's live sessions, newest first (at most 100), and whether
        older ones were left out; ``current`` marks this token's."""
        data = await self.call("GET", "/api/v1/auth/sessions")
        return list(data.get("sessions") or []), bool(data.get("has_more"))

    async def end_session(self, session_id: str) -> None:
        """End one of the account's sessions, as a logout with its token would.
        Ending this token's own is a logout (the token is then no good)."""
        await self.call("DELETE", f"/api/v1/auth/sessions/{_seg(session_id)}")

    async def me(self) -> dict[str, Any]:
        return await self.call("GET", "/api/v1/users/me")

    async def users(self) -> list[dict[str, Any]]:
        return await self._pages("/api/v1/users", "users", {})

    async def search_users(self, text: str) -> list[dict[str, Any]]:
        """One page of ``GET /users?search=``: on lairchat the user named ``text``
        comes first (the original server ignores ``search``: the first page of all)."""
        data = await self.call("GET", "/api/v1/users", params={"search": text, "limit": PAGE})
        return list(data.get("users") or [])

    async def user(self, user_id: str) -> dict[str, Any]:
        return await self.call("GET", f"/api/v1/users/{_seg(user_id)}")

    # -- rooms ---------------------------------------------------------------------------

    async def rooms(self) -> list[dict[str, Any]]:
        return await self._pages("/api/v1/rooms", "rooms", {})

    async def my_rooms(self) -> list[dict[str, Any]]:
        return await self._pages("/api/v1/rooms", "rooms", {"joined_only": "true"})

    async def room(self, room_id: str) -> dict[str, Any]:
        return await self.call("GET", f"/api/v1/rooms/{_seg(room_id)}")

    async def create_room(self, name: str, private: bool = False) -> dict[str, Any]:
        body = {"name": name, "settings": {"public": not private}}
        return (await self.call("POST", "/api/v1/rooms", body=body)).get("room") or {}

    async def update_room(
        self,
        room_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``PATCH /rooms/{id}`` (owners and moderators): the fields given change, the
        others stay. ``settings`` replaces all of them (a missing ``public`` means
        public), so callers send the current ones with the change. The room after."""
        body = _given(name=name, description=description, settings=settings)
        path = f"/api/v1/rooms/{_seg(room_id)}"
        return (await self.call("PATCH", path, body=body)).get("room") or {}

    async def delete_room(self, room_id: str) -> None:
        """``DELETE /rooms/{id}``: the room's creator or one of its owners."""
        await self.call("DELETE", f"/api/v1/rooms/{_seg(room_id)}")

    async def join_room(self, room_id: str) -> dict[str, Any]:
        return await self.call("POST", f"/api/v1/rooms/{_seg(room_id)}/join")

    async def leave_room(self, room_id: str) -> None:
        await self.call("POST", f"/api/v1/rooms/{_seg(room_id)}/leave")

    async def members(self, room_id: str) -> list[dict[str, Any]]:
        data = await self.call("GET", f"/api/v1/rooms/{_seg(room_id)}/members")
        return data.get("members") or []

    async def set_role(self, room_id: str, user_id: str, role: str) -> dict[str, Any]:
        path = f"/api/v1/rooms/{_seg(room_id)}/members/{_seg(user_id)}/role"
        return (await self.call("PUT", path, body={"role": role})).get("member") or {}

    async def kick(self, room_id: str, user_id: str) -> None:
        await self.call("DELETE", f"/api/v1/rooms/{_seg(room_id)}/members/{_seg(user_id)}")

    # -- messages -----------------------------------------------------------------------

    async def history(
        self, kind: str, target_id: str, *, limit: int = 50, before: str | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Newest first. ``before`` (a message id) pages back; lairchat honours it."""
        data = await self.call(
            "GET",
            "/api/v1/messages",
            params={
                "target_type": "room" if kind == "room" else "direct_message",
                "target_id": target_id,
                "limit": limit,
                "before": before,
            },
        )
        return list(data.get("messages") or []), bool(data.get("has_more"))

    async def search_messages(
        self,
        query: str,
        kind: str | None = None,
        target_id: str | None = None,
        *,
        before: str | None = None,
        author: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, Any]:
        """lairchat's message search (an extension: the original answers 404), newest
        first: in the conversation ``kind``/``target_id``, or everywhere the user
        can read without them; only ``author``'s (a user id), created from ``since``
        and before ``until`` (RFC 3339) when given, and then ``query`` may be "".
        The body: ``messages``, ``has_more``, ``next_before``."""
        target_type = None if kind is None else "room" if kind == "room" else "direct_message"
        params = {"q": query, "target_type": target_type, "target_id": target_id, "before": before}
        params |= {"author": author, "since": since, "until": until}
        return await self.call("GET", "/api/v1/messages/search", params=params)

    async def mark_read(self, kind: str, target_id: str, up_to: str) -> None:
        """lairchat's read markers (an extension: the original answers 404), up to the
        message ``up_to``."""
        target = (
            {"type": "room", "room_id": target_id}
            if kind == "room"
            else {"type": "direct_message", "recipient": target_id}
        )
        await self.call("POST", "/api/v1/messages/read", body={"target": target, "up_to": up_to})

    async def pin(self, message_id: str) -> None:
        """Pin a room's message (lairchat's own: its owners and moderators)."""
        await self.call("PUT", f"/api/v1/messages/{_seg(message_id)}/pin")

    async def unpin(self, message_id: str) -> None:
        await self.call("DELETE", f"/api/v1/messages/{_seg(message_id)}/pin")

    async def pins(self, room_id: str) -> list[Any]:
        """A room's pinned messages, newest pin first (lairchat's own)."""
        data = await self.call("GET", f"/api/v1/rooms/{_seg(room_id)}/pins")
        listed = data.get("pins")
        return listed if isinstance(listed, list) else []

    # -- invitations --------------------------------------------------------------------

    async def invite(self, room_id: str, user_id: str) -> dict[str, Any]:
        body = {"room_id": room_id, "user_id": user_id}
        return (await self.call("POST", "/api/v1/invitations", body=body)).get("invitation") or {}

    async def invitations(self) -> list[dict[str, Any]]:
        return (await self.call("GET", "/api/v1/invitations")).get("invitations") or []

    async def accept(self, invitation_id: str) -> dict[str, Any]:
        return await self.call("POST", f"/api/v1/invitations/{_seg(invitation_id)}/accept")

    async def decline(self, invitation_id: str) -> None:
        await self.call("POST", f"/api/v1/invitations/{_seg(invitation_id)}/decline")

    async def revoke(self, invitation_id: str) -> None:
        """Withdraw a pending invitation (its inviter, or the room's owners and
        moderators); the invitee is not told."""
        await self.call("DELETE", f"/api/v1/invitations/{_seg(invitation_id)}")

    async def room_invitations(self, room_id: str) -> tuple[list[dict[str, Any]], bool]:
        """A room's pending invitations, newest first (at most 100), for its owners
        and moderators, and whether older ones were left out."""
        data = await self.call("GET", f"/api/v1/rooms/{_seg(room_id)}/invitations")
        return list(data.get("invitations") or []), bool(data.get("has_more"))

    # -- invite codes (lairchat's own: HTTP.md, "Invite codes") -------------------------

    async def create_invite_code(
        self, room_id: str, max_uses: int | None, hours: int | None
    ) -> dict[str, Any]:
        """A new code for the room (its owners and moderators): the answer is the
        only place its text (``code``) is ever shown."""
        body = _given(max_uses=max_uses, expires_in_hours=hours)
        data = await self.call("POST", f"/api/v1/rooms/{_seg(room_id)}/invite-codes", body=body)
        return data.get("invite_code") or {}

    async def invite_codes(self, room_id: str) -> list[dict[str, Any]]:
        """The room's live codes, newest first, each by its id and prefix."""
        data = await self.call("GET", f"/api/v1/rooms/{_seg(room_id)}/invite-codes")
        listed = data.get("invite_codes")
        return listed if isinstance(listed, list) else []

    async def revoke_invite_code(self, room_id: str, code_id: str) -> None:
        await self.call("DELETE", f"/api/v1/rooms/{_seg(room_id)}/invite-codes/{_seg(code_id)}")

    async def join_by_invite_code(self, code: str) -> dict[str, Any]:
        """``{"room","membership"}``, as ``join_room``."""
        return await self.call("POST", f"/api/v1/invite-codes/{_seg(code)}/join")

    # -- administration (the caller's stored role must be admin) ------------------------

    async def admin_stats(self) -> dict[str, Any]:
        """``GET /admin/stats``: the ``stats`` object (users, rooms, messages, ...)."""
        return (await self.call("GET", "/api/v1/admin/stats")).get("stats") or {}

    async def admin_audit(self, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """lairchat's ``GET /admin/audit``: the newest ``limit`` entries of the audit
        log, and whether older ones were left out."""
        data = await self.call("GET", "/api/v1/admin/audit", params={"limit": limit})
        return list(data.get("entries") or []), bool(data.get("has_more"))

    async def ban_user(
        self, user_id: str, reason: str | None = None, duration_hours: int | None = None
    ) -> dict[str, Any]:
        """Ban ``user_id`` (permanently without a duration); the answer holds the
        ban's ``expires_at`` (null when permanent)."""
        body = _given(reason=reason, duration_hours=duration_hours)
        return await self.call("POST", f"/api/v1/admin/users/{_seg(user_id)}/ban", body=body)

    async def unban_user(self, user_id: str) -> None:
        await self.call("POST", f"/api/v1/admin/users/{_seg(user_id)}/unban")

    async def admin_delete_user(self, user_id: str, password: str) -> None:
        """lairchat's ``DELETE /admin/users/{id}``: another account goes for good, as
        its owner's deletion would. ``password`` is the admin's own."""
        path = f"/api/v1/admin/users/{_seg(user_id)}"
        await self.call("DELETE", path, body={"password": password})

    async def admin_delete_room(self, room_id: str) -> None:
        """``DELETE /admin/rooms/{id}``: any room, as its owner could."""
        await self.call("DELETE", f"/api/v1/admin/rooms/{_seg(room_id)}")
