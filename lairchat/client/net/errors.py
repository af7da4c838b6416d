"""One error type for everything the server or the network can refuse.

HTTP error envelopes, failed ``*_response`` frames and network failures all become a
:class:`ServerError` with a stable ``code`` (the protocol's, or one of ours for the
network) and a message meant for people, so the interface has one way to show them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SESSION_LOST_CODES",
    "UNTRUSTED",
    "ServerError",
    "network_code",
    "network_reason",
    "unsupported",
]

#: What the server says for ``session_not_found`` or ``session_expired`` when it gives
#: no reason (lairchat's and Lair Chat's texts); any other message of those codes is
#: the reason the session ended ("Session ended: the password was changed"), shown.
GENERIC_ENDED = frozenset(
    {
        "",
        "session_not_found",
        "session_expired",
        "Session not found or expired",
        "Session not found",
        "Session expired",
    }
)

#: Codes that mean "this token is no good any more": the user must log in again.
SESSION_LOST_CODES = frozenset(
    {
        "token_expired",
        "invalid_token",
        "invalid_claims",
        "missing_token",
        "session_not_found",
        "session_expired",
        "account_banned",
    }
)


def unsupported(status: int | None, code: str) -> bool:
    """Whether a refusal means the route does not exist on this server (the original
    Lair Chat, an older lairchat, for lairchat's extensions: message search, account
    deletion): 404 or 405 without the API's error envelope (the client names such a
    code ``http_<status>``). A 404 of the API (``user_not_found`` for a DM partner
    gone) has its own code and is shown as it is."""
    return status in (404, 405) and code == f"http_{status}"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception itself, or the ones Twisted's web client wrapped inside it."""
    reasons = getattr(exc, "reasons", None)
    if reasons:
        return [r.value for r in reasons]
    return [exc]


#: A certificate the platform's CAs cannot verify, and what to do about it. OpenSSL
#: says only "certificate verify failed": an unknown CA or an expired certificate.
UNTRUSTED = (
    "the server's TLS certificate cannot be verified against the CAs this system "
    "trusts; name the server's CA with --ca-file, or use --insecure for a self-signed "
    "development certificate"
)


def _is_tls(exc: BaseException) -> bool:
    """A TLS failure: OpenSSL's, or service-identity's verdict on the host name."""
    from OpenSSL import SSL
    from service_identity import VerificationError

    return isinstance(exc, (SSL.Error, VerificationError))


def _mismatched_name(exc: BaseException) -> str | None:
    """The host name or address a certificate was not for, if ``exc`` says so
    (Twisted checks one: the one the client connected to)."""
    for error in getattr(exc, "errors", None) or []:
        wanted = getattr(error, "mismatched_id", None)
        name = getattr(wanted, "hostname", None) or getattr(wanted, "ip", None)
        if name is not None:
            return name.decode("ascii") if isinstance(name, bytes) else str(name)
    return None


def network_code(exc: BaseException) -> str:
    """``unreachable``, ``tls_error`` or ``network_error`` for a failed connection."""
    from twisted.internet import error

    causes = _causes(exc)
    if any(_is_tls(c) for c in causes):
        return "tls_error"
    if any(isinstance(c, (error.ConnectError, error.DNSLookupError)) for c in causes):
        return "unreachable"
    return "network_error"


def network_reason(exc: BaseException, untrusted: str = UNTRUSTED) -> str:
    """A short reason for a failed connection (Twisted's own texts are long).

    ``untrusted`` is the sentence for a certificate the trusted CAs cannot verify:
    which CAs those were depends on the options (see ``tls.Trust.reason``)."""
    from twisted.internet import error

    causes = _causes(exc)
    if len(causes) > 1 or causes[0] is not exc:
        return "; ".join(network_reason(c, untrusted) for c in causes)
    if _is_tls(exc):
        name = _mismatched_name(exc)
        if name is not None:
            return f"the server's TLS certificate is not valid for {name}"
        if "certificate verify failed" in str(exc):
            return untrusted
        if "wrong version number" in str(exc):  # an answer that is not TLS
            return "the server does not speak TLS on that port"
        return f"TLS error: {exc}"
    known = [
        (error.ConnectionRefusedError, "connection refused"),
        (error.DNSLookupError, "host name not found"),
        (error.TimeoutError, "timed out"),
        (error.NoRouteError, "no route to host"),
        (error.ConnectionDone, "the server closed the connection"),
        (error.ConnectionLost, "connection lost"),
    ]
    for kind, text in known:
        if isinstance(exc, kind):
            return text
    text = str(exc).strip()
    return text or type(exc).__name__


class ServerError(Exception):
    """A refusal with a protocol error ``code``; ``str()`` is the human message."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.details = details or {}

    @property
    def unconfirmed_id(self) -> str | None:
        """The id of a sent message the server could neither confirm nor deny storing
        (``details: {"stored": "unknown", "message_id": ...}``, TCP.md "Storage
        faults"): it may be in history, and sending it again could show it twice."""
        message_id = self.details.get("message_id")
        if self.details.get("stored") == "unknown" and isinstance(message_id, str):
            return message_id
        return None

    @property
    def session_lost(self) -> bool:
        return self.code in SESSION_LOST_CODES

    def describe(self) -> str:
        """The sentence for the notice line."""
        if self.code == "rate_limited":
            wait = f" in {self.retry_after} s" if self.retry_after is not None else " later"
            return f"Rate limited by the server: try again{wait}"
        if self.code == "token_expired":
            return "Your session has expired: please log in again"
        if self.code in ("session_not_found", "session_expired"):
            if self.message.strip() not in GENERIC_ENDED:
                return f"{self.message.strip()}. Please log in again"
            return "Your session has ended: please log in again"
        return self.message

    def __repr__(self) -> str:
        return f"ServerError({self.code!r}, {self.message!r}, status={self.status!r})"
