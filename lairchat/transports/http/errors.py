"""Every non-2xx answer is the JSON envelope ``{"error":{"code","message"}}`` (HTTP.md §2).

Domain errors arrive as :class:`LairError` values; routing and framework failures
(unknown path, wrong method, bad JSON, ...) are turned into LairErrors here too, so
:func:`error_body` is the one place where an error becomes a status and a body.
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from lairchat.domain.errors import LairError
from lairchat.transports.http.responses import json_body

#: Codes only the HTTP transport produces (the domain table does not know them).
METHOD_NOT_ALLOWED = 405
UNPROCESSABLE = 422


def http_error(code: str, message: str | None = None, status: int | None = None) -> LairError:
    """A LairError whose status is not the domain default (or whose code is HTTP-only)."""
    error = LairError(code, message)
    if status is not None:
        error.status = status
    return error


def bad_request(field: str, reason: str) -> LairError:
    """400 ``validation_failed``: the request cannot be read at all (syntax, query)."""
    return http_error("validation_failed", f"Validation failed: {field} - {reason}", 400)


def unprocessable(field: str, reason: str) -> LairError:
    """422 ``validation_failed``: valid JSON of the wrong shape."""
    return http_error("validation_failed", f"Validation failed: {field} - {reason}", UNPROCESSABLE)


def not_found() -> LairError:
    return http_error("not_found", "Not found", 404)


def method_not_allowed(allowed: list[str]) -> LairError:
    error = http_error("method_not_allowed", "Method not allowed", METHOD_NOT_ALLOWED)
    error.allow = ", ".join(allowed)  # type: ignore[attr-defined]
    return error


def internal_error() -> LairError:
    return LairError("internal_error")


def from_exception(exc: BaseException) -> LairError | None:
    """The LairError an exception stands for, or None for an unexpected one."""
    if isinstance(exc, LairError):
        return exc
    if isinstance(exc, MethodNotAllowed):
        return method_not_allowed(sorted(exc.valid_methods or ()))
    if isinstance(exc, NotFound):
        return not_found()
    if isinstance(exc, HTTPException):
        # Routing redirects and other werkzeug refusals: we route nothing that
        # redirects (merge_slashes is off), so treat them as "no such resource".
        return not_found()
    return None


def error_body(request: Any, error: LairError) -> bytes:
    """Write ``error`` onto ``request`` (status, headers) and return the body bytes."""
    allow = getattr(error, "allow", None)
    if allow is not None:
        request.setHeader(b"Allow", allow.encode("ascii"))
    if error.code == "rate_limited" and error.details and "retry_after" in error.details:
        # A refusal of the core's (a wrong invite code's), as the limiter's own says.
        request.setHeader(b"Retry-After", str(error.details["retry_after"]).encode())
    return json_body(request, error.status, {"error": error.to_wire()})
