"""The bearer-token extractor (HTTP.md §2.2): header → JWT claims, before anything else.

Only the token is checked here (signature, expiry, claim format). Whether its session
still exists is asked separately, by :meth:`RouteGroup.caller`, once the request has
been parsed, so that check order matches the original (token → query → body → ids →
session).
"""

from __future__ import annotations

from typing import Any

from lairchat.core.tokens import Claims, Tokens
from lairchat.domain.errors import LairError

BEARER_PREFIX = "Bearer "
#: The HTTP extractor's wording; the real-time protocols say "Token expired".
TOKEN_EXPIRED_MESSAGE = "Token has expired, please login again"


def _visible_ascii(value: bytes) -> bool:
    return all(32 <= b < 127 or b == 9 for b in value)


def bearer_token(request: Any) -> str:
    """The token of ``Authorization: Bearer <token>``: the prefix is case-sensitive with
    exactly one space, the rest is the token, untrimmed."""
    values = request.requestHeaders.getRawHeaders(b"authorization")
    if not values or not _visible_ascii(values[0]):
        raise LairError("missing_token")
    header = values[0].decode("ascii")
    if not header.startswith(BEARER_PREFIX):
        raise LairError("invalid_format")
    return header[len(BEARER_PREFIX) :]


def claims_of(request: Any, tokens: Tokens) -> Claims:
    """Decode the request's bearer token; 401 ``missing_token``, ``invalid_format``,
    ``invalid_token``, ``token_expired`` or ``invalid_claims``."""
    token = bearer_token(request)
    try:
        return tokens.decode(token)
    except LairError as error:
        if error.code == "token_expired":
            raise LairError("token_expired", TOKEN_EXPIRED_MESSAGE) from None
        raise
