"""Domain errors: every refusal the server can give, with its wire code and HTTP status.

An error is a value that crosses layers unchanged: a service raises it, and each
transport maps it once (HTTP to a status and JSON envelope, real-time to an
``error`` object inside a ``*_response``).
"""

from __future__ import annotations

from typing import Any

#: code -> (HTTP status, default message). Messages are the original's Display texts.
CODES: dict[str, tuple[int, str]] = {
    "invalid_credentials": (401, "Invalid credentials"),
    # lairchat: two-factor sign-in (docs/SECURITY.md, "Two-factor sign-in").
    "totp_required": (401, "Two-factor code required"),
    "invalid_totp": (401, "Invalid two-factor code"),
    "totp_already_enabled": (409, "Two-factor sign-in is already on"),
    "totp_not_set_up": (409, "Two-factor sign-in is not set up: ask for a secret first"),
    "totp_not_enabled": (409, "Two-factor sign-in is not on"),
    "session_not_found": (401, "Session not found or expired"),
    "session_expired": (401, "Session expired"),
    "account_locked": (403, "Account locked"),
    "account_banned": (403, "Account banned"),
    "invalid_token": (401, "Invalid token"),
    "token_expired": (401, "Token expired"),
    "missing_token": (401, "Authorization header required"),
    "invalid_format": (401, "Authorization header must be 'Bearer <token>'"),
    "invalid_claims": (401, "Token claims are invalid"),
    "permission_denied": (403, "Permission denied"),
    "not_room_member": (403, "Not a member of this room"),
    "not_message_author": (403, "Not the author of this message"),
    "validation_failed": (400, "Validation failed"),
    "username_invalid": (400, "Username invalid"),
    "username_taken": (409, "Username already taken"),
    "email_invalid": (400, "Email invalid"),
    "email_taken": (409, "Email already registered"),
    "password_too_weak": (400, "Password too weak: password must be at least 8 characters"),
    "incorrect_password": (400, "Current password incorrect"),
    "room_name_invalid": (400, "Room name invalid"),
    "content_invalid": (400, "Content invalid"),
    "user_not_found": (404, "User not found"),
    "room_not_found": (404, "Room not found"),
    "message_not_found": (404, "Message not found"),
    "invitation_not_found": (404, "Invitation not found"),
    # lairchat: room invite codes: unknown, expired, used up or revoked, alike.
    "invite_code_not_found": (404, "Invite code not found"),
    "not_found": (404, "Not found"),
    "already_member": (409, "Already a member of this room"),
    "not_invitee": (409, "Not the invitee"),
    "room_name_taken": (409, "Room name already taken"),
    "already_invited": (409, "Invitation already sent"),
    "room_full": (409, "Room is full"),
    "room_private": (409, "Room requires invitation"),
    "last_owner": (409, "Cannot leave as only owner"),
    "invitation_expired": (409, "Invitation expired"),
    "rate_limited": (429, "Too many requests"),
    "payload_too_large": (413, "Request body too large"),
    # lairchat: the request line, or it and the headers together, over 16 KiB.
    "uri_too_long": (414, "Request URI too long"),
    "headers_too_large": (431, "Request headers too large"),
    "unsupported_media_type": (415, "Content-Type must be application/json"),
    # lairchat: a plain request to /ws, which speaks only WebSocket.
    "upgrade_required": (426, "WebSocket upgrade required"),
    "database_error": (500, "Database error"),
    "internal_error": (500, "Internal error"),
}


class LairError(Exception):
    """A refusal with a stable wire ``code``; ``message`` is for humans."""

    #: Whether the cause was already logged where it arose (a storage fault is logged
    #: once by the store, not once per request that meets it).
    reported = False

    def __init__(
        self, code: str, message: str | None = None, details: dict[str, Any] | None = None
    ):
        status, default = CODES.get(code, (500, "Internal error"))
        self.code = code
        self.status = status
        self.message = message if message is not None else default
        self.details = details
        super().__init__(f"{code}: {self.message}")

    def to_wire(self) -> dict[str, Any]:
        """The ``{"code","message"}`` object used inside responses and HTTP envelopes."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        return out


def already_logged(error: BaseException) -> bool:
    """Whether ``error``'s cause was logged where it arose (:attr:`LairError.reported`):
    who meets it again says nothing more, least of all a traceback."""
    return isinstance(error, LairError) and error.reported


def validation_error(kind: str, reason: str) -> LairError:
    """A field-validation error worded as the original ("Username invalid: <reason>")."""
    label = {
        "username_invalid": "Username invalid",
        "email_invalid": "Email invalid",
        "room_name_invalid": "Room name invalid",
        "content_invalid": "Content invalid",
        "password_too_weak": "Password too weak",
    }[kind]
    return LairError(kind, f"{label}: {reason}")


def validation_failed(field: str, reason: str) -> LairError:
    """The generic ``validation_failed`` error: "Validation failed: <field> - <reason>"."""
    return LairError("validation_failed", f"Validation failed: {field} - {reason}", None)


def last_admin() -> LairError:
    """An admin's own deletion while no other admin can act."""
    return LairError("permission_denied", "Permission denied: the last admin cannot be deleted")


def account_deleted() -> LairError:
    """What an account's live connections are told before they close, and its
    messages still on the way to the disk when it went (docs/protocols/TCP.md)."""
    return LairError("session_not_found", "Session ended: the account was deleted")
