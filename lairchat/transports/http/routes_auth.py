"""Registration, login, logout, token refresh, password change, and the caller's
sessions (HTTP.md §5.1)."""

from __future__ import annotations

from typing import Any

from lairchat.core.auth import Seen, unknown_session
from lairchat.core.ratelimit import address_key
from lairchat.domain.ids import parse_uuid
from lairchat.transports.http.bodies import Query, json_body
from lairchat.transports.http.routing import RouteGroup, route


class AuthRoutes(RouteGroup):
    def seen(self, request: Any) -> Seen:
        """The client a session made by this request is listed with."""
        address = self.proxies.client_of_request(request)
        return Seen.of(address, request.getHeader(b"user-agent"))

    @route("POST", "/api/v1/auth/register", status=201)
    async def register(self, request: Any) -> dict:
        body = json_body(request)
        username, email, password = body.text("username"), body.text("email"), body.text("password")
        result = await self.core.auth.register(username, email, password, self.seen(request))
        return result.to_wire()

    @route("POST", "/api/v1/auth/login")
    async def login(self, request: Any) -> dict:
        body = json_body(request)
        identifier, password = body.text("identifier"), body.text("password")
        totp = body.opt_text("totp")
        source = address_key(self.proxies.client_of_request(request))
        seen = self.seen(request)
        result = await self.core.auth.login(identifier, password, source, seen, totp)
        return result.to_wire()

    @route("POST", "/api/v1/auth/logout")
    async def logout(self, request: Any) -> dict:
        _, session = await self.session(self.claims(request))
        await self.core.auth.logout(session.id)
        return {"success": True}

    @route("POST", "/api/v1/auth/refresh")
    async def refresh(self, request: Any) -> dict:
        user, session = await self.session(self.claims(request))
        return self.core.auth.refresh(user, session)

    @route("POST", "/api/v1/auth/change-password")
    async def change_password(self, request: Any) -> dict:
        claims = self.claims(request)
        body = json_body(request)
        current, new = body.text("current_password"), body.text("new_password")
        user, session = await self.session(claims)
        await self.core.auth.change_password(user, current, new, session.id)
        return {"success": True}

    @route("GET", "/api/v1/auth/sessions")
    async def list_sessions(self, request: Any) -> dict:
        claims = self.claims(request)
        query = Query(request)
        limit, offset = query.u32("limit"), query.u32("offset") or 0
        user, session = await self.session(claims)
        found, more = await self.core.auth.sessions(user, limit, offset)
        return {
            "sessions": [s.to_listing(current=s.id == session.id) for s in found],
            "has_more": more,
        }

    @route("DELETE", "/api/v1/auth/sessions/{session_id}")
    async def end_session(self, request: Any, session_id: str) -> dict:
        claims = self.claims(request)
        # A malformed id is the resource's 404, before the session check (HTTP.md);
        # path_id would give the 401 that session_not_found has elsewhere.
        wanted = parse_uuid(session_id)
        if wanted is None:
            raise unknown_session()
        user, _ = await self.session(claims)
        await self.core.auth.end_session(user, wanted)
        return {"success": True}
