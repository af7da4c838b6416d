"""Fixed-window rate limiting with the original's tiers, shared by every transport.

Keys come from :func:`user_key` once a client is signed in and :func:`address_key`
before, whatever the transport, so a client has one window per tier, not one per
transport. Memory stays bounded under many distinct keys: windows that ended are
dropped as new ones start, and when the table is full, any other expired window
first, then the oldest.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from functools import lru_cache

from lairchat.core.bounded import forget_expired, forget_oldest
from lairchat.domain.errors import LairError

#: tier -> (requests, window seconds), as the original's HTTP limiter.
TIERS: dict[str, tuple[int, float]] = {
    "auth": (10, 60.0),
    "messaging": (30, 60.0),
    "general": (100, 60.0),
}
MAX_KEYS = 100_000


def user_key(user_id: str) -> str:
    """The key of a signed-in client: its user, on every transport."""
    return "user:" + user_id


def session_key(session_id: str) -> str:
    """The key of one session's own allowance, for what ends sessions (a logout, a
    password change): the user's is shared by every holder of the account's tokens,
    and an intruder with one could keep it used up so that the owner's password
    change, the one thing that locks the intruder out, was refused. Still counted,
    so a token gets no unbounded requests; the real-time ``logout`` is not counted
    at all (it closes the connection it is sent on)."""
    return "session:" + session_id


@lru_cache(maxsize=4096)
def address_key(host: str) -> str:
    """The key of a client known only by its address, for rate limits and per-address
    connection caps alike. An IPv6 client counts by its /64, the block one subscriber
    usually holds whole: counted address by address, one client could take 2**64
    windows. An IPv4-mapped IPv6 address counts as its IPv4 address; anything that is
    not an IP address (a Unix socket peer) as it is."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "ip:" + host
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"ip:{ip}"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds until the window ends

    @property
    def retry_after(self) -> int:
        return self.reset_after


def refused(decision: Decision) -> LairError:
    """The ``rate_limited`` refusal a decision not allowed stands for."""
    return LairError(
        "rate_limited", details={"retry_after": decision.retry_after, "limit": decision.limit}
    )


class RateLimiter:
    def __init__(
        self,
        clock,
        tiers: dict[str, tuple[int, float]] | None = None,
        enabled: bool = True,
        max_keys: int = MAX_KEYS,
    ):
        self.clock = clock
        self.tiers = dict(TIERS if tiers is None else tiers)
        self.enabled = enabled
        self.max_keys = max_keys
        self._windows: dict[tuple[str, str], list[float]] = {}  # key -> [start, count]

    def hit(self, tier: str, key: str) -> Decision:
        """Count one request; a refused request is not counted."""
        limit, window = self.tiers[tier]
        if not self.enabled:
            return Decision(True, limit, limit, 0)
        now = self.clock.seconds()
        slot = self._windows.get((tier, key))
        if slot is None or now - slot[0] >= window:
            slot = [now, 0]
            self._store((tier, key), slot, now)
        reset_after = max(0, math.floor(slot[0] + window - now))
        if slot[1] >= limit:
            return Decision(False, limit, 0, reset_after)
        slot[1] += 1
        return Decision(True, limit, limit - int(slot[1]), reset_after)

    def give_back(self, tier: str, key: str) -> None:
        """Uncount one :meth:`hit` that turned out not to count: for what counts only
        its failures (a wrong invite code). Counted while it is tried, so that tries
        at once cannot all pass a limit none of them has reached yet; given back if
        it was right. In a window begun since, it gives back one of that window's."""
        slot = self._windows.get((tier, key))
        if self.enabled and slot is not None and slot[1] > 0:
            slot[1] -= 1

    def _store(self, key: tuple[str, str], slot: list[float], now: float) -> None:
        windows = self._windows
        windows.pop(key, None)
        # Windows are kept in the order they started: those that ended are in front.
        forget_expired(windows, lambda k, slot: now - slot[0] >= self.tiers[k[0]][1])
        if len(windows) >= self.max_keys:
            expired = [k for k, (start, _) in windows.items() if now - start >= self.tiers[k[0]][1]]
            for k in expired:
                del windows[k]
            forget_oldest(windows, self.max_keys - 1)
        windows[key] = slot

    def __len__(self) -> int:
        return len(self._windows)
