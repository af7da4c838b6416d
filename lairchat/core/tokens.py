"""JWTs as the original issues them: HS256, claims sub/sid/username/role/exp/iat.

Only HS256 with our key is accepted; a token is only ever as good as the server-side
session named by ``sid`` (checked by the auth service, not here).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import jwt

from lairchat.domain.errors import LairError
from lairchat.domain.ids import parse_uuid
from lairchat.domain.types import Session, User


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    session_id: str
    username: str
    role: str
    exp: int
    iat: int


class Tokens:
    def __init__(self, secret: str, clock):
        self._key = secret.encode("utf-8")
        self._clock = clock

    def derive(self, label: bytes) -> bytes:
        """A 32-byte key for another use (``label`` names it), made from the token
        secret with HMAC-SHA-256: it is as secret as that, kept as it is, and no
        token can be made from it."""
        return hmac.new(self._key, label, hashlib.sha256).digest()

    def issue(self, user: User, session: Session) -> str:
        claims = {
            "sub": user.id,
            "sid": session.id,
            "username": user.username,
            "role": user.role,
            "exp": int(session.expires_at),
            "iat": int(self._clock.seconds()),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def decode(self, token: str) -> Claims:
        """Verify signature and expiry against our clock; raise ``invalid_token``,
        ``token_expired`` or ``invalid_claims``."""
        try:
            data = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["sub", "sid", "exp", "iat"],
                },
            )
        except jwt.InvalidSignatureError:
            raise LairError("invalid_token", "Invalid token: invalid signature") from None
        except jwt.MissingRequiredClaimError as e:
            raise LairError("invalid_token", f"Invalid token: missing claim {e.claim}") from None
        except jwt.InvalidAlgorithmError:
            raise LairError("invalid_token", "Invalid token: invalid algorithm") from None
        except jwt.PyJWTError:
            raise LairError("invalid_token", "Invalid token: malformed token") from None
        exp, iat = data.get("exp"), data.get("iat")
        for name, value in (("exp", exp), ("iat", iat)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise LairError("invalid_token", f"Invalid token: invalid {name} claim")
        if self._clock.seconds() > exp:
            raise LairError("token_expired")
        user_id, session_id = parse_uuid(data.get("sub")), parse_uuid(data.get("sid"))
        if user_id is None or session_id is None:
            raise LairError("invalid_claims")
        return Claims(
            user_id,
            session_id,
            str(data.get("username", "")),
            str(data.get("role", "user")),
            exp,
            iat,
        )
