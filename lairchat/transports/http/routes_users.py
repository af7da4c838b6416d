"""Profiles and the user directory (HTTP.md §5.2).

Privacy (ours): a user's email is shown to that user only; everyone else sees ``""``
(the field stays, so clients that parse it keep working).
"""

from __future__ import annotations

import re
import time
from typing import Any

from lairchat.core.ratelimit import address_key
from lairchat.domain.errors import LairError
from lairchat.domain.types import User
from lairchat.transports.http.bodies import Query, json_body
from lairchat.transports.http.responses import JSON_CONTENT_TYPE
from lairchat.transports.http.routing import RouteGroup, path_id, route
from lairchat.transports.http.streaming import StreamedBody

#: What a username keeps in an export's file name: ASCII letters, digits, ``.``,
#: ``_`` and ``-``; anything else (a quote, a slash, a letter of another script)
#: becomes ``_``.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_name(username: str) -> str:
    """``username`` as a file name may hold it, never starting with a dot."""
    return _UNSAFE.sub("_", username).lstrip(".") or "user"


def seen_by(user: dict[str, Any], viewer_id: str) -> dict[str, Any]:
    """A User wire object as ``viewer_id`` may see it."""
    if user["id"] == viewer_id:
        return user
    return {**user, "email": ""}


class UserRoutes(RouteGroup):
    async def _me(self, user: User) -> dict:
        unread = await self.core.messages.unread_counts(user)
        two_factor = await self.core.two_factor.status(user.id)
        return {"user": user.to_wire(), "unread_counts": unread, "two_factor": two_factor}

    @route("GET", "/api/v1/users/me")
    async def get_me(self, request: Any) -> dict:
        user = await self.caller(self.claims(request))
        return await self._me(user)

    @route("PATCH", "/api/v1/users/me")
    async def update_me(self, request: Any) -> dict:
        claims = self.claims(request)
        email = json_body(request).opt_text("email")
        user = await self.caller(claims)
        updated = await self.core.users.update_profile(user, email)
        return {"user": updated.to_wire()}

    @route("DELETE", "/api/v1/users/me")
    async def delete_me(self, request: Any) -> dict:
        """The caller's account, once its password is given, and with two-factor
        sign-in on a code in ``totp`` (docs/SECURITY.md, "Deleting an account"). A
        missing password is a wrong one: 401 ``invalid_credentials``, counted by the
        login's lockout; a missing code 401 ``totp_required``, as a login's."""
        claims = self.claims(request)
        body = json_body(request)
        password, code = body.opt_text("password"), body.opt_text("totp")
        user = await self.caller(claims)
        source = address_key(self.proxies.client_of_request(request))
        await self.core.deletion.delete_own(user, password, source, code)
        return {"success": True}

    @route("POST", "/api/v1/users/me/export")
    async def export_me(self, request: Any) -> StreamedBody:
        """The caller's data, as one JSON file streamed
        (lairchat.core.export; docs/protocols/HTTP.md), once their password is given
        (and the code in ``totp``) as for :meth:`delete_me`: a stolen token alone
        exports nothing."""
        claims = self.claims(request)
        body = json_body(request)
        password, code = body.opt_text("password"), body.opt_text("totp")
        user = await self.caller(claims)
        source = address_key(self.proxies.client_of_request(request))
        try:
            export = await self.core.export.begin(user, claims.session_id, password, source, code)
        except LairError as error:
            if error.code == "rate_limited":
                wait = (error.details or {}).get("retry_after", 1)
                request.setHeader(b"Retry-After", str(wait).encode("ascii"))
            raise
        day = time.strftime("%Y-%m-%d", time.gmtime(export.now))
        headers = {
            b"Content-Type": JSON_CONTENT_TYPE,
            b"Content-Disposition": (
                f'attachment; filename="lairchat-export-{safe_name(user.username)}-{day}.json"'
            ).encode("ascii"),
        }
        return StreamedBody(export.pieces(), headers, export.close, self.core.export.clock)

    @route("POST", "/api/v1/users/me/2fa/setup")
    async def setup_2fa(self, request: Any) -> dict:
        """A new two-factor secret, not in force yet, once the password is given
        (checked as for :meth:`delete_me`)."""
        claims = self.claims(request)
        password = json_body(request).opt_text("password")
        user = await self.caller(claims)
        source = address_key(self.proxies.client_of_request(request))
        return await self.core.two_factor.setup(user, password, source)

    @route("POST", "/api/v1/users/me/2fa/enable")
    async def enable_2fa(self, request: Any) -> dict:
        claims = self.claims(request)
        code = json_body(request).opt_text("code")
        user = await self.caller(claims)
        return await self.core.two_factor.enable(user, code, claims.session_id)

    @route("POST", "/api/v1/users/me/2fa/disable")
    async def disable_2fa(self, request: Any) -> dict:
        claims = self.claims(request)
        body = json_body(request)
        password, code = body.opt_text("password"), body.opt_text("code")
        user = await self.caller(claims)
        source = address_key(self.proxies.client_of_request(request))
        return await self.core.two_factor.disable(user, password, code, source, claims.session_id)

    @route("POST", "/api/v1/users/me/2fa/recovery-codes")
    async def recovery_codes_2fa(self, request: Any) -> dict:
        """Ten new recovery codes in place of the unused ones, once the password and a
        code are given as for :meth:`disable_2fa`."""
        claims = self.claims(request)
        body = json_body(request)
        password, code = body.opt_text("password"), body.opt_text("code")
        user = await self.caller(claims)
        source = address_key(self.proxies.client_of_request(request))
        return await self.core.two_factor.new_recovery_codes(user, password, code, source)

    @route("GET", "/api/v1/users")
    async def list_users(self, request: Any) -> dict:
        claims = self.claims(request)
        query = Query(request)
        limit, offset = query.u32("limit"), query.u32("offset") or 0
        search = query.opt_text("search")
        query.flag("online_only")  # accepted (and type-checked) but not applied
        viewer = await self.caller(claims)
        users, more = await self.core.users.list(limit, offset, search)
        page = self.core.users.listing_to_wire(users, more)
        for item in page["users"]:
            item["user"] = seen_by(item["user"], viewer.id)
        return page

    @route("GET", "/api/v1/users/{user_id}")
    async def get_user(self, request: Any, user_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(user_id, "user_not_found")
        viewer = await self.caller(claims)
        user = await self.core.users.get(wanted)
        return {
            "user": seen_by(user.to_wire(), viewer.id),
            "online": self.core.hub.is_online(user.id),
        }
