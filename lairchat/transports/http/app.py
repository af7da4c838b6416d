"""The REST API (HTTP.md §5) as a Klein app over one :class:`~lairchat.core.services.Core`.

Handlers live in the ``routes_*`` modules, one class per area; this module gathers
them into one Klein app, writes their answers as JSON and maps every failure, once,
to the error envelope. ``HttpApi.resource()`` is the resource for the whole HTTP
port: mount ``/ws`` and ``/metrics`` beside the API with ``putChild``::

    api = HttpApi(core, config)
    root = api.resource()
    root.putChild(b"ws", websocket_resource)
    root.putChild(b"metrics", metrics_resource)
    reactor.listenTCP(8082, api.site())
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from klein import Klein
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import IResource

from lairchat.core.services import Core
from lairchat.domain.errors import LairError, already_logged
from lairchat.transports.caps import PerAddress
from lairchat.transports.http import web
from lairchat.transports.http.errors import error_body, from_exception, internal_error
from lairchat.transports.http.responses import json_body
from lairchat.transports.http.root import ApiRoot
from lairchat.transports.http.routes_admin import AdminRoutes
from lairchat.transports.http.routes_auth import AuthRoutes
from lairchat.transports.http.routes_invitations import InvitationRoutes
from lairchat.transports.http.routes_invitecodes import InviteCodeRoutes
from lairchat.transports.http.routes_messages import MessageRoutes
from lairchat.transports.http.routes_meta import MetaRoutes
from lairchat.transports.http.routes_rooms import RoomRoutes
from lairchat.transports.http.routes_users import UserRoutes
from lairchat.transports.http.routing import Answer, Route, RouteGroup, logged_path
from lairchat.transports.http.site import make_site
from lairchat.transports.proxies import ProxyPolicy

ROUTE_GROUPS: tuple[type[RouteGroup], ...] = (
    MetaRoutes,
    AuthRoutes,
    UserRoutes,
    RoomRoutes,
    MessageRoutes,
    InvitationRoutes,
    InviteCodeRoutes,
    AdminRoutes,
)


class HttpApi:
    """``HttpApi(core, config)``: ``config`` may be any object; only ``rate_limits``,
    ``http_max_connections``, ``http_max_connections_per_address``,
    ``trusted_proxies``, ``forwarded_header`` and ``web_client`` are read, with
    defaults when they are missing (no browser client then: the API alone).
    ``proxies`` is the server's one proxy policy, when it has one."""

    log = Logger()

    def __init__(self, core: Core, config: Any = None, proxies: ProxyPolicy | None = None):
        self.core = core
        self.config = config
        self.rate_limits = getattr(config, "rate_limits", True)
        self.max_connections = getattr(config, "http_max_connections", 0)
        if proxies is None:
            proxies = ProxyPolicy.from_config(config)
        self.per_address = PerAddress(
            getattr(config, "http_max_connections_per_address", 0), proxies.is_trusted
        )
        #: The rate limiter, once there is one: ``limiter.admit(request)`` returns a
        #: LairError (``rate_limited``) to refuse, or None; it may set headers.
        self.limiter: Any = None
        self.app = Klein()
        # `/api//v1` is not `/api/v1` (the original does not merge slashes either).
        self.app.url_map.merge_slashes = False
        self.routes: list[Route] = []
        for group in ROUTE_GROUPS:
            self._install(group(core, proxies))
        self.app.handle_errors(Exception)(self._failed)
        self._root = ApiRoot(self.app.resource(), self.admit)
        if getattr(config, "web_client", False):
            web.mount(self._root)  # the browser client at / (docs/WEB.md)

    # -- the resource tree ----------------------------------------------------------

    def resource(self) -> ApiRoot:
        """The resource for the whole HTTP port (the same object on every call).

        Add siblings of the API with ``resource().putChild(b"ws", ...)``."""
        return self._root

    root = resource

    def site(self, reactor: Any = None) -> server.Site:
        """A Site serving :meth:`resource` with request bodies bounded on arrival and
        at most ``http_max_connections`` open connections, and
        ``http_max_connections_per_address`` from one address."""
        return make_site(self._root, reactor, self.max_connections, self.per_address)

    # -- per-request hook -----------------------------------------------------------

    def admit(self, request: Any) -> LairError | None:
        """Called once for every request except preflights, before routing (``/ws`` and
        ``/metrics`` included): the place where the rate limiter plugs in."""
        if self.limiter is None or not self.rate_limits:
            return None
        return self.limiter.admit(request)

    # -- routing ----------------------------------------------------------------------

    def _install(self, group: RouteGroup) -> None:
        for name, route in group.routes():
            endpoint = self._endpoint(route, getattr(group, name))
            self.app.route(
                route.rule, methods=[route.method], endpoint=f"{type(group).__name__}.{name}"
            )(endpoint)
            self.routes.append(route)

    @staticmethod
    def _endpoint(route: Route, handler: Callable) -> Callable:
        async def endpoint(request: Any, **params: str) -> Any:
            request.lair_route = route.path
            answer = await handler(request, **params)
            if IResource.providedBy(answer):
                return answer  # a body it sends itself (streaming.StreamedBody)
            if isinstance(answer, Answer):
                return json_body(request, answer.status, answer.body)
            return json_body(request, route.status, answer)

        return endpoint

    def _failed(self, request: Any, failure: Failure) -> bytes:
        """The one place a failure becomes a response."""
        error = from_exception(failure.value)
        # A storage fault is logged once by the store, not once per request.
        if error is None or (error.status >= 500 and not already_logged(error)):
            # The path, not the URI: a query string may hold a token (/ws?token=).
            self.log.failure(
                "{method} {path} failed",
                failure,
                method=request.method.decode("latin-1"),
                path=logged_path(request),
            )
            error = error or internal_error()
        return error_body(request, error)
