"""Administration (HTTP.md §5.6 plus the endpoints the original only documented).

Every route here requires the caller's *stored* role to be ``admin``; the service
checks it first, so a non-admin learns nothing about the ids it sends.
"""

from __future__ import annotations

from typing import Any

from lairchat.core.ratelimit import address_key
from lairchat.domain.ids import parse_uuid
from lairchat.transports.http.bodies import Query, json_body
from lairchat.transports.http.routing import RouteGroup, route


class AdminRoutes(RouteGroup):
    @route("GET", "/api/v1/admin/stats")
    async def stats(self, request: Any) -> dict:
        user = await self.caller(self.claims(request))
        return {"stats": await self.core.admin.stats(user)}

    @route("GET", "/api/v1/admin/audit")
    async def audit(self, request: Any) -> dict:
        """The audit log, newest first (HTTP.md, "GET /api/v1/admin/audit")."""
        claims = self.claims(request)
        query = Query(request)
        limit = query.u32("limit")
        wanted = [query.opt_text(name) for name in ("before", "action", "subject_id", "actor_id")]
        user = await self.caller(claims)
        return await self.core.admin.audit(user, limit, *wanted)

    @route("POST", "/api/v1/admin/users/{user_id}/ban")
    async def ban_user(self, request: Any, user_id: str) -> dict:
        claims = self.claims(request)
        body = json_body(request)
        reason, hours = body.opt_text("reason"), body.opt_number("duration_hours")
        user = await self.caller(claims)
        # A malformed id reaches the service as None: user_not_found after the admin check.
        return await self.core.admin.ban(user, parse_uuid(user_id), reason, hours)

    @route("POST", "/api/v1/admin/users/{user_id}/unban")
    async def unban_user(self, request: Any, user_id: str) -> dict:
        user = await self.caller(self.claims(request))
        await self.core.admin.unban(user, parse_uuid(user_id))
        return {"success": True}

    @route("DELETE", "/api/v1/admin/users/{user_id}")
    async def delete_user(self, request: Any, user_id: str) -> dict:
        """Another account, for good, once the admin's own password is given
        (docs/protocols/HTTP.md); counted against the *auth* allowance, as a login."""
        claims = self.claims(request)
        password = json_body(request).opt_text("password")
        user = await self.caller(claims)
        source = address_key(self.proxies.client_of_request(request))
        await self.core.admin.delete_user(user, parse_uuid(user_id), password, source)
        return {"success": True}

    @route("DELETE", "/api/v1/admin/rooms/{room_id}")
    async def delete_room(self, request: Any, room_id: str) -> dict:
        user = await self.caller(self.claims(request))
        await self.core.admin.delete_room(user, parse_uuid(room_id))
        return {"success": True}
