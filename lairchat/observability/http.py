"""The HTTP port's operational side: a log line and metrics per request, ``/metrics``
and a ``/ready`` that also knows about the listeners.

:class:`ObservedRoot` wraps the port's root resource (the API's ``ApiRoot``): it sees
every request once, before routing, and hears when the response is finished.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET

from lairchat.domain.errors import already_logged
from lairchat.observability.metrics import CONTENT_TYPE, Metrics
from lairchat.transports.http.errors import error_body, method_not_allowed, not_found
from lairchat.transports.http.responses import json_body, remove_cors_headers
from lairchat.transports.http.routes_meta import READY_TIMEOUT, database_ready
from lairchat.transports.http.routing import logged_path
from lairchat.transports.proxies import ProxyPolicy

#: Longest request path written to the log (the rest is cut).
MAX_LOGGED_PATH = 256
#: What load balancers, systemd checks and Prometheus ask every few seconds: their
#: answers are logged at debug level, unless they say something is wrong (400 and up).
PROBE_ROUTES = frozenset({"/health", "/ready", "/metrics"})


class ObservedRoot(Resource):
    """One log line (method, route, status, duration, client) and the HTTP metrics
    for every finished request."""

    log = Logger()

    def __init__(
        self, inner: IResource, clock: Any, proxies: ProxyPolicy, metrics: Metrics | None = None
    ):
        super().__init__()
        self.inner = inner
        self.clock = clock
        self.proxies = proxies
        self.metrics = metrics

    def getChildWithDefault(self, path: bytes, request: Any) -> IResource:  # noqa: N802
        self._observe(request)
        return self.inner.getChildWithDefault(path, request)

    def render(self, request: Any) -> Any:
        self._observe(request)
        return self.inner.render(request)

    def client(self, request: Any) -> str:
        """The client's address, as the rate limiter sees it (proxy headers count only
        from trusted proxies)."""
        return self.proxies.client_of_request(request)

    def _observe(self, request: Any) -> None:
        started = self.clock.seconds()
        # A WebSocket upgrade hands the connection over and never finishes: no line
        # here (the WebSocket transport logs its connections itself).
        request.notifyFinish().addBoth(self._finished, request, started)

    def _finished(self, result: Any, request: Any, started: float) -> None:
        seconds = max(0.0, self.clock.seconds() - started)
        method = request.method.decode("latin-1")
        path = logged_path(request, MAX_LOGGED_PATH)
        client = self.client(request)
        route = getattr(request, "lair_route", None) or "unknown"
        if isinstance(result, Failure):
            self.log.info(
                '{client} "{method} {path}": connection lost before the response',
                client=client,
                method=method,
                path=path,
                route=route,
            )
            return
        status = request.code
        emit = self.log.debug if route in PROBE_ROUTES and status < 400 else self.log.info
        emit(
            '{client} "{method} {path}" {status} {duration_ms:.1f} ms (route {route})',
            client=client,
            method=method,
            path=path,
            route=route,
            status=status,
            duration=round(seconds, 6),
            duration_ms=round(seconds * 1000, 3),
        )
        if self.metrics is not None:
            self.metrics.http_request(method, route, status, seconds)


def observe(site: Any, clock: Any, proxies: ProxyPolicy, metrics: Metrics | None = None) -> None:
    """Log and measure every request of ``site``: its resource is wrapped in an
    :class:`ObservedRoot`, whose line replaces Twisted's combined-format access log
    (that one believes any ``X-Forwarded-For`` and knows neither route nor duration)."""
    site.resource = ObservedRoot(site.resource, clock, proxies, metrics)
    site.log = _no_access_log


def _no_access_log(request: Any) -> None:
    pass


class _OpsResource(Resource):
    """A leaf answering GET (and HEAD) at its own path only, with a route label."""

    isLeaf = True
    route = ""

    def render(self, request: Any) -> Any:
        request.lair_route = self.route
        if request.postpath not in ([], [b""]):
            request.lair_route = None
            return error_body(request, not_found())
        if request.method not in (b"GET", b"HEAD"):
            return error_body(request, method_not_allowed(["GET", "HEAD"]))
        gone: list[Any] = []
        request.notifyFinish().addErrback(gone.append)
        d = defer.maybeDeferred(self.answer, request)

        def write(body: bytes) -> None:
            if not gone:
                if request.method == b"HEAD":
                    body = b""
                request.write(body)
                request.finish()

        d.addCallback(write)
        d.addErrback(self.log_failure)
        return NOT_DONE_YET

    def answer(self, request: Any) -> defer.Deferred:
        raise NotImplementedError

    def log_failure(self, failure: Failure) -> None:
        Logger().failure("{route} failed", failure, route=self.route)


class MetricsResource(_OpsResource):
    """``GET /metrics``: Prometheus text, the scrape-time gauges refreshed first."""

    route = "/metrics"
    log = Logger()

    def __init__(self, metrics: Metrics):
        super().__init__()
        self.metrics = metrics

    @defer.inlineCallbacks
    def answer(self, request: Any) -> Any:
        try:
            yield self.metrics.refresh()
        except Exception as e:
            # Serve what there is: the counters are still right, a few gauges stale.
            if not already_logged(e):
                self.log.failure("refreshing the metrics failed")
        body = self.metrics.exposition()
        # For the monitoring host, not for any site's page a browser on it may open.
        remove_cors_headers(request)
        request.setResponseCode(200)
        request.setHeader(b"Content-Type", CONTENT_TYPE)
        request.setHeader(b"Content-Length", str(len(body)).encode("ascii"))
        return body


class ReadyResource(_OpsResource):
    """``GET /ready``: 200 when the database answers and every listener listens, else
    503; the body says which part is down. Replaces the API's own ``/ready`` (which
    knows only the database) when mounted beside it."""

    route = "/ready"
    log = Logger()

    def __init__(
        self,
        store: Any,
        clock: Any,
        listeners: Mapping[str, Callable[[], bool]],
        timeout: float = READY_TIMEOUT,
    ):
        super().__init__()
        self.store = store
        self.clock = clock
        self.listeners = dict(listeners)
        self.timeout = timeout

    @defer.inlineCallbacks
    def answer(self, request: Any) -> Any:
        database = yield defer.ensureDeferred(
            database_ready(self.store, self.clock, self.timeout, self.log)
        )
        listeners = {name: "listening" if up() else "down" for name, up in self.listeners.items()}
        ready = database and all(state == "listening" for state in listeners.values())
        body = {
            "ready": ready,
            "database": "connected" if database else "unavailable",
            "listeners": listeners,
        }
        return json_body(request, 200 if ready else 503, body)
