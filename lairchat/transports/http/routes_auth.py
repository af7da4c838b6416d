"""Registration, login, logout, token refresh and password change (HTTP.md §5.1)."""

from __future__ import annotations

from typing import Any

from lairchat.core.ratelimit import address_key
from lairchat.transports.http.bodies import json_body
from lairchat.transports.http.routing import RouteGroup, route


class AuthRoutes(RouteGroup):
    @route("POST", "/api/v1/auth/register", status=201)
    async def register(self, request: Any) -> dict:
        body = json_body(request)
        username, email, password = body.text("username"), body.text("email"), body.text("password")
        result = await self.core.auth.register(username, email, password)
        return result.to_wire()

    @route("POST", "/api/v1/auth/login")
    async def login(self, request: Any) -> dict:
        body = json_body(request)
        identifier, password = body.text("identifier"), body.text("password")
        source = address_key(self.proxies.client_of_request(request))
        result = await self.core.auth.login(identifier, password, source)
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
