"""Connection caps, in total and per peer address: past a cap, a listener's factory
hands Twisted a protocol that closes the new connection at once, sending nothing.

Returning None from ``buildProtocol`` does the same on a plain socket, but a TLS
listener wraps the factory (TLSMemoryBIOFactory) and fails on None with a traceback
per refused connection, which a flood of connections would turn into a flood of
log lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from twisted.internet import protocol
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from lairchat.core.ratelimit import address_key

_log = Logger()


class Refused(protocol.Protocol):
    """Closes its connection as soon as it is made: no bytes, no TLS handshake, and a
    clean close (FIN), as the original's accept-then-drop gives, rather than a reset,
    which a client may see as a failed connect before it can read the end."""

    def connectionMade(self) -> None:  # noqa: N802
        # Under TLS, the socket's own transport: TLS's loseConnection before a
        # handshake resets the connection (there is no TLS session to close).
        tls_layer = getattr(self.transport, "transport", None)
        (tls_layer if tls_layer is not None else self.transport).loseConnection()


#: Why a connection was refused: the total cap, or the cap per peer address.
LIMIT_REACHED = "limit reached"
PER_ADDRESS_LIMIT = "per-address limit"
REASONS = (LIMIT_REACHED, PER_ADDRESS_LIMIT)


def admit(addr: Any, open_now: int, cap: int, per_address: PerAddress, refusals: Refusals) -> bool:
    """Whether a new connection from ``addr`` may open, with ``open_now`` open against
    the total ``cap`` (0 = unlimited); if so, it is counted in ``per_address``. A
    refusal is reported to ``refusals`` (the listener's)."""
    if cap and open_now >= cap:
        reason = LIMIT_REACHED
    elif not per_address.take(addr):
        reason = PER_ADDRESS_LIMIT
    else:
        return True
    refusals.refused(addr, reason)
    return False


class Refusals:
    """A listener's refused connections, logged as warnings (a flood of them is worth
    seeing) without letting a flood become a flood of log lines: the first refusal for
    each reason in a :data:`WINDOW` is logged with its address; the others are counted, and
    the count is logged in one line when that window ends, with the address refused
    most often in it (what an operator looks for first). ``totals`` counts every
    refusal since start by reason, for the metrics."""

    WINDOW = 10.0
    #: Distinct addresses counted per window; a flood from more is counted, not told apart.
    MAX_ADDRESSES = 1000

    def __init__(self, kind: str, clock: IReactorTime):
        self.kind = kind
        self._clock = clock
        #: reason -> refusals not logged one by one in the current window, by peer host.
        self._held: dict[str, Counter[str]] = {}
        #: reason -> when its window began, and the call that ends it.
        self._windows: dict[str, tuple[float, Any]] = {}
        self.totals: Counter[str] = Counter()

    def refused(self, addr: Any, reason: str) -> None:
        self.totals[reason] += 1
        held = self._held.get(reason)
        if held is None:
            _log.warn(
                "{kind} connection from {addr} refused: {reason}",
                kind=self.kind,
                addr=addr,
                reason=reason,
            )
            self._held[reason] = Counter()
            ending = self._clock.callLater(self.WINDOW, self._window_ended, reason)
            self._windows[reason] = (self._clock.seconds(), ending)
            return
        host = str(getattr(addr, "host", addr))
        if host in held or len(held) < self.MAX_ADDRESSES:
            held[host] += 1
        else:
            held["(others)"] += 1

    def flush(self) -> None:
        """End every open window now, logging what it counted: the server is stopping,
        and its timers would not run."""
        for reason, (_, ending) in list(self._windows.items()):
            ending.cancel()
            self._window_ended(reason)

    def _window_ended(self, reason: str) -> None:
        began, _ = self._windows.pop(reason)
        held = self._held.pop(reason)
        if held:
            ((top, most),) = held.most_common(1)
            _log.warn(
                "{count} more {kind} connections refused in {window:g} s: {reason} "
                "({most} from {top})",
                count=held.total(),
                kind=self.kind,
                window=round(self._clock.seconds() - began, 1),
                reason=reason,
                most=most,
                top=top,
            )


class PerAddress:
    """Open connections counted per peer address, at most ``cap`` from each (0 = no
    limit), so that one client cannot take every slot of the total cap. Peers that
    ``exempt`` accepts are not limited: trusted proxies speak for many clients (the
    PROXY protocol gives the client's own address, which is then what counts).
    Unix socket peers have no address and are not limited either."""

    def __init__(self, cap: int = 0, exempt: Callable[[str], bool] = lambda host: False):
        self.cap = cap
        self._exempt = exempt
        self._open: dict[str, int] = {}

    def _key(self, peer: Any) -> str | None:
        host = getattr(peer, "host", None)
        if not self.cap or not isinstance(host, str) or self._exempt(host):
            return None
        return address_key(host)  # an IPv6 client by its /64, as the rate limits

    def take(self, peer: Any) -> bool:
        """Count a new connection from ``peer``; False (and not counted) past the cap."""
        key = self._key(peer)
        if key is None:
            return True
        count = self._open.get(key, 0)
        if count >= self.cap:
            return False
        self._open[key] = count + 1
        return True

    def release(self, peer: Any) -> None:
        """A connection :meth:`take` admitted has closed."""
        key = self._key(peer)
        if key is None:
            return
        count = self._open[key] - 1
        if count:
            self._open[key] = count
        else:
            del self._open[key]
