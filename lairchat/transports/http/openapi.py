"""The OpenAPI 3.0 description of the REST API, served at ``/openapi.json``.

Written by hand from the handlers; ``tests/unit/test_http_errors.py`` checks that
every routed method and path is described here and that nothing else is.
"""

from __future__ import annotations

import functools
from typing import Any

import lairchat
from lairchat.core import audit
from lairchat.core.admin import BAN_HOURS_RULE, BAN_REASON_MAX, MAX_BAN_HOURS
from lairchat.domain import invitecodes
from lairchat.domain.audit import ACTIONS
from lairchat.domain.pins import PINS_PER_ROOM
from lairchat.domain.reactions import USER_IDS_SHOWN
from lairchat.storage.sqlite.store import UNREAD_MAX

JSON = "application/json"
U32_MAX = 2**32 - 1

# --------------------------------------------------------------------------- schemas


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    names = list(properties) if required is None else required
    if names:  # OpenAPI 3.0 forbids an empty "required"
        schema["required"] = names
    schema.update(extra)
    return schema


UUID = {"type": "string", "format": "uuid"}
TS = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC, `Z` suffix"}
TS_PLUS = {"type": "string", "format": "date-time", "description": "RFC 3339, `+00:00` suffix"}
STRING = {"type": "string"}
NULLABLE_STRING = {"type": "string", "nullable": True}
BOOLEAN = {"type": "boolean"}
COUNT = {"type": "integer", "minimum": 0}
U32 = {"type": "integer", "minimum": 0, "maximum": U32_MAX}
ROOM_ROLE = {"type": "string", "enum": ["owner", "moderator", "member"]}
#: One conversation's unread count, which stops at UNREAD_MAX.
UNREAD = {
    "type": "integer",
    "minimum": 0,
    "maximum": UNREAD_MAX,
    "description": f"Messages by others above the caller's read marker; {UNREAD_MAX} means "
    f"{UNREAD_MAX} or more",
}
UNREAD_BY_ID = {"type": "object", "additionalProperties": UNREAD}
#: How many of a conversation's unread messages mention the caller (lairchat's own).
MENTIONS = {
    **UNREAD,
    "description": "Of those unread messages, the ones that mention the caller: `@` and "
    "their username as a whole word, compared NFKC-normalised and case-folded, in the "
    "first 4,096 characters (the clients' rule, docs/CLIENT.md); at most the unread count",
}
MENTIONS_BY_ID = {"type": "object", "additionalProperties": MENTIONS}

#: A message's fields, as every answer and event gives them (history adds ``reactions``).
MESSAGE_FIELDS = {
    "id": UUID,
    "author": UUID,
    "target": ref("MessageTarget"),
    "content": STRING,
    "edited": BOOLEAN,
    "created_at": TS,
}

SCHEMAS: dict[str, Any] = {
    "User": obj(
        {
            "id": UUID,
            "username": STRING,
            "email": {
                "type": "string",
                "description": "The caller's own email; an empty string for other users.",
            },
            "role": {"type": "string", "enum": ["user", "moderator", "admin"]},
            "created_at": TS,
            "updated_at": TS,
            "last_seen_at": {**TS, "nullable": True, "description": "Always null."},
        }
    ),
    "Session": obj({"id": UUID, "expires_at": TS_PLUS}),
    "AuthResponse": obj({"user": ref("User"), "session": ref("Session"), "token": STRING}),
    "SessionListing": obj(
        {
            "id": UUID,
            "protocol": {"type": "string", "description": "As stored: `http` for lairchat's"},
            "created_at": TS,
            "last_active_at": {
                **TS,
                "description": "Last use of the session's token, stored at most once a "
                "minute; the listing's time for a session with a live TCP or WebSocket "
                "connection; the creation time if never used",
            },
            "expires_at": TS_PLUS,
            "ip_address": {
                **NULLABLE_STRING,
                "description": "The address of the client that made the session, as the "
                "server determines it (behind a trusted proxy, the client it speaks for)",
            },
            "user_agent": {
                **NULLABLE_STRING,
                "description": "The User-Agent of the request that made the session "
                "(control characters dropped, at most 256 characters); null if none, "
                "and over TCP",
            },
            "current": {**BOOLEAN, "description": "The session of the token used"},
        }
    ),
    "UserWithPresence": obj({"user": ref("User"), "online": BOOLEAN}),
    "UnreadCounts": obj(
        {
            "total": {**COUNT, "description": "The sum of the counts below"},
            "by_room": {
                **UNREAD_BY_ID,
                "description": "room id → unread messages, for the caller's rooms; "
                "conversations with none are left out",
            },
            "by_dm": {**UNREAD_BY_ID, "description": "other user's id → unread messages"},
            "mentions": ref("MentionCounts"),
        }
    ),
    "MentionCounts": obj(
        {
            "total": {**COUNT, "description": "The sum of the counts below"},
            "by_room": {
                **MENTIONS_BY_ID,
                "description": "room id → unread messages mentioning the caller; "
                "conversations with none are left out",
            },
            "by_dm": {
                **MENTIONS_BY_ID,
                "description": "other user's id → unread direct messages that mention the "
                "caller by name (a direct message is no mention by itself)",
            },
        },
        description="lairchat's own, beside the unread counts: how many of the unread "
        "messages mention the caller",
    ),
    "RoomSettings": obj(
        {
            "description": NULLABLE_STRING,
            "is_private": BOOLEAN,
            "max_members": {**U32, "nullable": True},
        }
    ),
    "Room": obj(
        {
            "id": UUID,
            "name": STRING,
            "owner": UUID,
            "settings": ref("RoomSettings"),
            "created_at": TS,
        }
    ),
    "Membership": obj({"room_id": UUID, "user_id": UUID, "role": ROOM_ROLE, "joined_at": TS}),
    "RoomListItem": obj({"room": ref("Room"), "member_count": COUNT, "is_member": BOOLEAN}),
    "Member": obj(
        {
            "user_id": UUID,
            "username": STRING,
            "role": ROOM_ROLE,
            "joined_at": TS,
            "is_online": BOOLEAN,
        }
    ),
    "RoomTarget": obj({"type": {"type": "string", "enum": ["room"]}, "room_id": UUID}),
    "DirectTarget": obj({"type": {"type": "string", "enum": ["dm"]}, "recipient": UUID}),
    "MessageTarget": {
        "oneOf": [ref("RoomTarget"), ref("DirectTarget")],
        # Without a mapping, OpenAPI 3.0 takes the schema names ("RoomTarget") as the
        # discriminator values.
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                "room": "#/components/schemas/RoomTarget",
                "dm": "#/components/schemas/DirectTarget",
            },
        },
    },
    "MessageTargetInput": {
        "description": "Where a message goes. DMs may be spelled `direct_message` or `dm`; "
        "a malformed id is answered 404 (`room_not_found` / `user_not_found`).",
        "oneOf": [
            obj({"type": {"type": "string", "enum": ["room"]}, "room_id": STRING}),
            obj(
                {
                    "type": {"type": "string", "enum": ["direct_message", "dm"]},
                    "recipient": STRING,
                }
            ),
        ],
    },
    "Message": obj(MESSAGE_FIELDS),
    "HistoryMessage": obj(
        {
            **MESSAGE_FIELDS,
            "reactions": {
                "type": "array",
                "items": ref("Reaction"),
                "description": "lairchat's own: emoji in the order first used; empty if none",
            },
        }
    ),
    "Reaction": obj(
        {
            "emoji": STRING,
            "count": {**COUNT, "description": "Every user who reacted so"},
            "user_ids": {
                "type": "array",
                "items": UUID,
                "maxItems": USER_IDS_SHOWN,
                "description": "The first to react, in the order they did",
            },
            "me": {
                "type": "boolean",
                "description": "Whether the caller reacted so (also beyond user_ids)",
            },
        }
    ),
    "Pin": obj(
        {
            "message": ref("HistoryMessage"),
            "pinned_by": {**UUID, "description": "Who pinned it"},
            "pinned_at": TS,
        }
    ),
    "InviteCode": obj(
        {
            "id": UUID,
            "room_id": UUID,
            "prefix": {
                **STRING,
                "description": f"The code's first {invitecodes.PREFIX_LENGTH} characters",
            },
            "max_uses": {**COUNT, "nullable": True, "description": "null: no limit"},
            "uses": COUNT,
            "created_by": UUID,
            "created_by_name": STRING,
            "created_at": TS,
            "expires_at": TS,
            "code": {
                **STRING,
                "description": "The code itself: only in the answer that made it (the "
                "server keeps its hash)",
            },
        },
        required=[
            "id",
            "room_id",
            "prefix",
            "max_uses",
            "uses",
            "created_by",
            "created_by_name",
            "created_at",
            "expires_at",
        ],
    ),
    "EnrichedInvitation": obj(
        {
            "id": UUID,
            "room_id": UUID,
            "room_name": STRING,
            "inviter_id": UUID,
            "inviter_name": STRING,
            "invitee_id": UUID,
            "invitee_name": STRING,
            "status": {
                "type": "string",
                "enum": ["pending", "accepted", "declined", "cancelled", "expired"],
            },
            "message": {**NULLABLE_STRING, "description": "Always null (never stored)."},
            "created_at": TS,
            "expires_at": TS,
            "responded_at": {**TS, "nullable": True},
        }
    ),
    "Success": obj({"success": {"type": "boolean", "enum": [True]}}),
    "Error": obj(
        {
            "error": obj(
                {
                    "code": STRING,
                    "message": STRING,
                    "details": {"type": "object", "additionalProperties": True},
                },
                required=["code", "message"],
            )
        }
    ),
}

# --------------------------------------------------------------------------- errors

TOKEN_CODES = [
    "missing_token",
    "invalid_format",
    "invalid_token",
    "token_expired",
    "invalid_claims",
]
SESSION_CODES = ["session_not_found", "session_expired"]


def error_response(description: str, codes: list[str]) -> dict[str, Any]:
    return {
        "description": f"{description} (codes: {', '.join(codes)})",
        "content": {JSON: {"schema": ref("Error")}},
    }


def errors(*pairs: tuple[int, list[str]]) -> dict[str, Any]:
    labels = {
        400: "Invalid request",
        401: "Not authenticated",
        403: "Forbidden",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        415: "Not JSON",
        422: "JSON of the wrong shape",
    }
    out: dict[str, Any] = {}
    for status, codes in pairs:
        key = str(status)
        if key in out:  # each code once (a query's validation_failed and a body's, say)
            codes = out[key]["x-codes"] + [c for c in codes if c not in out[key]["x-codes"]]
        out[key] = {**error_response(labels[status], codes), "x-codes": codes}
    return out


# --------------------------------------------------------------------------- operations


def path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"{description} (a malformed id is answered 404, never 400)",
        "schema": {"type": "string"},
    }


def query_param(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


LIMIT = query_param("limit", U32, "Page size, default 50, silently capped at 100.")
OFFSET = query_param("offset", U32, "Items to skip, default 0.")
#: The sessions' and the invitations' pages: the newest 100 unless asked for fewer.
BOUNDED_LIMIT = query_param("limit", U32, "Page size, default 100, silently capped at 100.")
SEARCH = query_param("search", STRING, "Case-insensitive substring of the name.")

ROOM_ID = path_param("room_id", "Room id")
USER_ID = path_param("user_id", "User id")
MESSAGE_ID = path_param("message_id", "Message id")
INVITATION_ID = path_param("invitation_id", "Invitation id")
CODE_ID = path_param("code_id", "Invite code id")
INVITE_CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "description": "The invite code (22 URL-safe characters); a bad one is 404 "
    "`invite_code_not_found`, whichever way it is bad",
    "schema": STRING,
}
SESSION_ID = path_param("session_id", "Session id")


def _reaction_ops(emoji: dict, suffix: str) -> dict[str, Any]:
    """Adding and taking back a reaction, the emoji given by ``emoji`` (the path's
    segment, or the query's ``emoji``: the same operations)."""
    also = " The same as with the emoji in the path." if suffix else ""
    return {
        "put": op(
            f"addReaction{suffix}",
            "React to a message (whoever reads its conversation)",
            "messages",
            SUCCESS,
            params=(MESSAGE_ID, emoji),
            fails=REACTION_FAILS,
            description="lairchat's own. Idempotent: a reaction already there changes "
            "nothing and announces nothing. At most 20 different emoji per message: a "
            "21st new one is 400 `validation_failed`. Counts against the general rate "
            f"limit only.{also}",
        ),
        "delete": op(
            f"removeReaction{suffix}",
            "Take one's reaction back",
            "messages",
            SUCCESS,
            params=(MESSAGE_ID, emoji),
            fails=REACTION_FAILS,
            description="lairchat's own. Idempotent: no reaction, nothing changes. "
            f"Counts against the general rate limit only.{also}",
        ),
    }


def op(
    operation_id: str,
    summary: str,
    tag: str,
    ok: dict[str, Any],
    *,
    status: int = 200,
    auth: bool = True,
    body: dict[str, Any] | None = None,
    params: tuple[dict, ...] = (),
    fails: tuple[tuple[int, list[str]], ...] = (),
    description: str | None = None,
) -> dict[str, Any]:
    pairs: list[tuple[int, list[str]]] = []
    if auth:
        pairs.append((401, TOKEN_CODES + SESSION_CODES))
    if body is not None:
        pairs += [(400, ["validation_failed"]), (413, ["payload_too_large"])]
        pairs += [(415, ["unsupported_media_type"]), (422, ["validation_failed"])]
    if any(p["in"] == "query" for p in params):
        pairs.append((400, ["validation_failed"]))
    pairs += list(fails)
    responses: dict[str, Any] = {
        str(status): {"description": "Success", "content": {JSON: {"schema": ok}}}
    }
    responses.update(errors(*pairs))
    for answer in responses.values():
        answer.pop("x-codes", None)
    responses["429"] = {
        "description": "Rate limited (`Retry-After` header)",
        "content": {JSON: {"schema": ref("Error")}},
    }
    responses["500"] = error_response("Unexpected failure", ["internal_error"])
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
    }
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = list(params)
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    operation["security"] = [{"bearerAuth": []}] if auth else []
    return operation


def envelope(**properties: Any) -> dict[str, Any]:
    return obj(properties)


SUCCESS = ref("Success")
ROOM_SETTINGS_INPUT = {
    "type": "object",
    "nullable": True,
    "description": "Replaces the whole settings: a missing `public` means public, a "
    "missing `max_members` unlimited. Other keys are ignored.",
    "properties": {
        "public": {**BOOLEAN, "nullable": True},
        "max_members": {**U32, "nullable": True},
    },
}
NOT_MEMBER = (403, ["not_room_member"])
#: A conversation named by the request, and a message of it: history, search, markers.
CONVERSATION_FAILS = ((404, ["room_not_found", "user_not_found", "message_not_found"]), NOT_MEMBER)
#: ``target_type`` in a query string.
TARGET_KINDS = {"type": "string", "enum": ["room", "direct_message", "dm"]}
DENIED = (403, ["permission_denied"])
#: What an emoji may be (lairchat.domain.reactions).
EMOJI_RULE = (
    "The emoji, percent-encoded UTF-8: at most 32 bytes in NFC, no "
    "whitespace, control, format or invisible character but ZWJ and U+FE0E/U+FE0F"
)
#: A reaction's path segment.
EMOJI = {
    "name": "emoji",
    "in": "path",
    "required": True,
    "description": EMOJI_RULE,
    "schema": STRING,
}
#: ... or its query parameter, which also carries ``.`` and ``..`` (dot segments, which
#: HTTP clients resolve away in a path).
EMOJI_QUERY = query_param(
    "emoji", STRING, f"{EMOJI_RULE}; `.` and `..` too, which no path segment carries", True
)
REACTION_FAILS = ((404, ["message_not_found"]), NOT_MEMBER, (400, ["validation_failed"]))
PIN_FAILS = (
    (404, ["message_not_found", "room_not_found"]),
    NOT_MEMBER,
    DENIED,
    (400, ["validation_failed"]),
)


def _array(items: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "array", "items": items, "description": description}


#: An entry of ``GET /api/v1/admin/audit`` (lairchat.domain.audit).
AUDIT_ENTRY = obj(
    {
        "id": UUID,
        "at": TS,
        "actor": {
            "oneOf": [
                obj({"user_id": UUID, "username": STRING}),
                obj({"operator": {"type": "boolean", "enum": [True]}}),
            ],
            "description": "The admin (their name then), or the operator command",
        },
        "action": {"type": "string", "enum": list(ACTIONS)},
        "subject": obj(
            {
                "type": {"type": "string", "enum": ["user", "room"]},
                "id": UUID,
                "name": {**STRING, "description": "Its name then"},
            }
        ),
        "details": {
            "type": "object",
            "description": "By action: user.ban `reason` and `until` (null: permanent); "
            "user.set_role and user.create `role`; otherwise empty",
        },
    }
)
AUDIT_FILTER = "{}: only entries with this {} (400 if not a UUID)"


#: The second factor asked with a password before an account's deletion or export.
SECOND_FACTOR = {
    **STRING,
    "description": "With two-factor sign-in on: the authenticator's current code, or an "
    "unused recovery code, as the login's `totp`",
}

#: The body and refusals of the routes that check the password and a second factor of
#: an account that has it on (``/2fa/disable``, ``/2fa/recovery-codes``).
PASSWORD_AND_CODE: dict[str, Any] = {
    "body": obj({"password": STRING, "code": STRING}, required=[]),
    "fails": (
        (401, ["invalid_credentials", "invalid_totp"]),
        (403, ["account_locked"]),
        (409, ["totp_not_enabled"]),
    ),
}

#: ``GET /api/v1/users/me``'s ``two_factor`` (lairchat.core.twofactor): the caller's own.
TWO_FACTOR_STATUS = obj(
    {"enabled": BOOLEAN, "recovery_codes_left": COUNT},
    description="Whether two-factor sign-in is on, and how many recovery codes are unused",
)


#: The answer of ``POST /api/v1/users/me/export`` (lairchat.core.export), keys in order.
DATA_EXPORT = obj(
    {
        "format": {"type": "string", "enum": ["lairchat-export"]},
        "version": {"type": "integer", "enum": [1]},
        "exported_at": TS,
        "user": ref("User"),
        "two_factor": obj(
            {"enabled": BOOLEAN}, description="Whether two-factor sign-in is on; never its secret"
        ),
        "sessions": _array(ref("SessionListing"), "Every session kept, expired ones until pruned"),
        "rooms": _array(
            obj({"room": ref("Room"), "membership": ref("Membership")}),
            "The rooms the caller is a member of",
        ),
        "invitations": _array(
            ref("EnrichedInvitation"), "Sent or received, in any status still kept"
        ),
        "read_markers": _array(
            obj(
                {
                    "target": ref("MessageTarget"),
                    "last_read_message_id": {
                        **UUID,
                        "nullable": True,
                        "description": "Where the marker stands; null once that message is gone",
                    },
                    "updated_at": TS,
                }
            ),
            "The caller's read markers, a DM's target naming the other party",
        ),
        "reactions": _array(
            obj({"message_id": UUID, "emoji": STRING, "created_at": TS}),
            "The caller's own reactions",
        ),
        "pins": _array(
            obj({"room_id": UUID, "message_id": UUID, "pinned_at": TS}),
            "The messages the caller pinned that are still pinned",
        ),
        "invite_codes": _array(
            ref("InviteCode"),
            "The invite codes the caller made that are still kept, oldest first, never "
            "the code itself",
        ),
        "messages": _array(
            ref("HistoryMessage"),
            "Every message the caller wrote (rooms and DMs) and every DM they received, "
            "oldest first, as history shows them",
        ),
        "complete": {
            "type": "boolean",
            "enum": [True],
            "description": "Written last: a body without it was cut off",
        },
    }
)


def _paths() -> dict[str, Any]:
    auth_response = ref("AuthResponse")
    return {
        "/health": {
            "get": op(
                "health",
                "Liveness",
                "service",
                envelope(status={"type": "string", "enum": ["healthy"]}, version=STRING),
                auth=False,
            )
        },
        "/ready": {
            "get": op(
                "ready",
                "Readiness: pings the database",
                "service",
                envelope(ready=BOOLEAN, database={"type": "string", "enum": ["connected"]}),
                auth=False,
            )
        },
        "/openapi.json": {
            "get": op("openapi", "This document", "service", {"type": "object"}, auth=False)
        },
        "/api/v1/openapi.json": {
            "get": op("openapiV1", "This document", "service", {"type": "object"}, auth=False)
        },
        "/api/v1/auth/register": {
            "post": op(
                "register",
                "Create an account and a 24 h session",
                "auth",
                auth_response,
                status=201,
                auth=False,
                body=obj({"username": STRING, "email": STRING, "password": STRING}),
                fails=(
                    (400, ["username_invalid", "email_invalid", "password_too_weak"]),
                    (409, ["username_taken", "email_taken"]),
                ),
            )
        },
        "/api/v1/auth/login": {
            "post": op(
                "login",
                "Log in by username or email; a new session each time",
                "auth",
                auth_response,
                auth=False,
                body=obj(
                    {
                        "identifier": STRING,
                        "password": STRING,
                        "totp": {
                            **STRING,
                            "description": "For an account with two-factor sign-in on: "
                            "the authenticator's current code, or an unused recovery code",
                        },
                    },
                    required=["identifier", "password"],
                ),
                fails=(
                    (401, ["invalid_credentials", "totp_required", "invalid_totp"]),
                    (403, ["account_locked", "account_banned"]),
                ),
                description="For an account with two-factor sign-in on, the right "
                "password without `totp` is 401 `totp_required` (not counted as a "
                "failure), and a wrong or used code 401 `invalid_totp` (counted by the "
                'lockout) (docs/protocols/HTTP.md, "Two-factor sign-in (TOTP)").',
            )
        },
        "/api/v1/auth/logout": {
            "post": op("logout", "Delete the token's session", "auth", SUCCESS)
        },
        "/api/v1/auth/refresh": {
            "post": op(
                "refresh",
                "A new token for the same session and expiry",
                "auth",
                envelope(token=STRING, expires_at=TS_PLUS),
            )
        },
        "/api/v1/auth/change-password": {
            "post": op(
                "changePassword",
                "Change the password; every other session of the user ends",
                "auth",
                SUCCESS,
                body=obj({"current_password": STRING, "new_password": STRING}),
                fails=(
                    (400, ["incorrect_password", "password_too_weak"]),
                    (403, ["account_locked"]),
                ),
            )
        },
        "/api/v1/auth/sessions": {
            "get": op(
                "listSessions",
                "The caller's live sessions, newest first, at most 100 a page",
                "auth",
                envelope(
                    sessions={"type": "array", "items": ref("SessionListing")}, has_more=BOOLEAN
                ),
                params=(BOUNDED_LIMIT, OFFSET),
                description="`has_more` is true when older sessions come after this page.",
            )
        },
        "/api/v1/auth/sessions/{session_id}": {
            "delete": op(
                "endSession",
                "End one of the caller's sessions, as its logout would",
                "auth",
                SUCCESS,
                params=(SESSION_ID,),
                fails=((404, ["not_found"]),),
                description="404 `not_found`: no live session of the caller's has this id "
                "(unknown, ended, malformed, or another user's). Not `session_not_found`, "
                "the 401 that says the caller's own session is gone.",
            )
        },
        "/api/v1/users/me": {
            "get": op(
                "getMe",
                "The caller, with unread message counts",
                "users",
                envelope(
                    user=ref("User"),
                    unread_counts=ref("UnreadCounts"),
                    two_factor=TWO_FACTOR_STATUS,
                ),
            ),
            "patch": op(
                "updateMe",
                "Change the caller's email",
                "users",
                envelope(user=ref("User")),
                body=obj({"email": NULLABLE_STRING}, required=[]),
                fails=((400, ["email_invalid"]), (409, ["email_taken"])),
            ),
            "delete": op(
                "deleteMe",
                "Delete the caller's account (lairchat)",
                "users",
                SUCCESS,
                body=obj({"password": STRING, "totp": SECOND_FACTOR}, required=[]),
                fails=(
                    (401, ["invalid_credentials", "totp_required", "invalid_totp"]),
                    (403, ["account_locked", "permission_denied"]),
                ),
                description="Needs the account's password: a wrong or missing one is a "
                "failed login (401 `invalid_credentials`, the login's lockout and rate "
                "limit). With two-factor sign-in on, a code in `totp` too, refused as a "
                "login refuses it (`totp_required`, `invalid_totp`). The last admin gets "
                "403 `permission_denied`. On success every "
                "session of the account has ended and its live connections are closed, "
                "it has left its rooms (their ownership passed on); its messages, and "
                "its DM conversations both ways, are erased in the background, then the "
                "account, whose name is then free. No event announces the erasure: "
                "clients find the messages gone when they next load history "
                '(docs/SECURITY.md, "Deleting an account").',
            ),
        },
        "/api/v1/users/me/export": {
            "post": op(
                "exportMe",
                "Download a copy of the caller's data (lairchat)",
                "users",
                DATA_EXPORT,
                body=obj({"password": STRING, "totp": SECOND_FACTOR}, required=[]),
                fails=(
                    (401, ["invalid_credentials", "totp_required", "invalid_totp"]),
                    (403, ["account_locked"]),
                ),
                description="Needs the account's password, and with two-factor sign-in "
                "on a code in `totp`, checked as `DELETE /users/me` checks them (401 "
                "`invalid_credentials`, the login's lockout and rate limit). One export "
                "at a time per user: another while one is being sent "
                "is 429 `rate_limited` (`retry_after` 1). The body is streamed "
                "(chunked) as a file to save (`Content-Disposition: attachment`); its "
                'last key is `"complete":true`: a body without it was cut off '
                '(docs/protocols/HTTP.md, "Exporting your data").',
            )
        },
        "/api/v1/users/me/2fa/setup": {
            "post": op(
                "setupTwoFactor",
                "A new two-factor secret, not yet in force (lairchat)",
                "users",
                envelope(secret=STRING, otpauth_uri=STRING, enabled=BOOLEAN),
                body=obj({"password": STRING}, required=[]),
                fails=(
                    (401, ["invalid_credentials"]),
                    (403, ["account_locked"]),
                    (409, ["totp_already_enabled"]),
                ),
                description="Needs the account's password, checked as `DELETE /users/me` "
                "checks it. `secret` is base32 (160 bits), `otpauth_uri` the same for an "
                "authenticator app; logins are unaffected until `enable`. The secret is "
                "never answered again.",
            )
        },
        "/api/v1/users/me/2fa/enable": {
            "post": op(
                "enableTwoFactor",
                "Turn two-factor sign-in on with a current code (lairchat)",
                "users",
                envelope(enabled=BOOLEAN, recovery_codes=_array(STRING, "Ten, shown once")),
                body=obj({"code": STRING}, required=[]),
                fails=(
                    (401, ["invalid_totp"]),
                    (403, ["account_locked"]),
                    (409, ["totp_already_enabled", "totp_not_set_up"]),
                ),
                description="Every other session of the user ends. The recovery codes "
                "are each good once instead of a code; only their hashes are kept.",
            )
        },
        "/api/v1/users/me/2fa/disable": {
            "post": op(
                "disableTwoFactor",
                "Turn two-factor sign-in off (lairchat)",
                "users",
                envelope(enabled=BOOLEAN),
                **PASSWORD_AND_CODE,
                description="Needs the password and a current code or an unused recovery "
                "code, each counted by the login's lockout. Every other session of the "
                "user ends.",
            )
        },
        "/api/v1/users/me/2fa/recovery-codes": {
            "post": op(
                "newRecoveryCodes",
                "Ten new recovery codes in place of the unused ones (lairchat)",
                "users",
                envelope(recovery_codes=_array(STRING, "Ten, shown once")),
                **PASSWORD_AND_CODE,
                description="Needs the password and a current code or an unused recovery "
                "code, as `disable`. The unused codes stop working in the same write; "
                "sessions are not touched.",
            )
        },
        "/api/v1/users": {
            "get": op(
                "listUsers",
                "Users by name",
                "users",
                envelope(
                    users={"type": "array", "items": ref("UserWithPresence")},
                    has_more=BOOLEAN,
                    total_count={**COUNT, "description": "Length of this page"},
                ),
                params=(
                    LIMIT,
                    OFFSET,
                    SEARCH,
                    query_param("online_only", BOOLEAN, "Accepted, not applied."),
                ),
            )
        },
        "/api/v1/users/{user_id}": {
            "get": op(
                "getUser",
                "One user and whether they are online",
                "users",
                ref("UserWithPresence"),
                params=(USER_ID,),
                fails=((404, ["user_not_found"]),),
            )
        },
        "/api/v1/rooms": {
            "post": op(
                "createRoom",
                "Create a room; the caller becomes its owner",
                "rooms",
                envelope(room=ref("Room")),
                status=201,
                body=obj(
                    {
                        "name": STRING,
                        "description": NULLABLE_STRING,
                        "settings": ROOM_SETTINGS_INPUT,
                    },
                    required=["name"],
                ),
                fails=(
                    (400, ["room_name_invalid", "validation_failed"]),
                    (409, ["room_name_taken"]),
                ),
            ),
            "get": op(
                "listRooms",
                "Public rooms, or the caller's rooms with joined_only",
                "rooms",
                envelope(
                    rooms={"type": "array", "items": ref("RoomListItem")},
                    has_more=BOOLEAN,
                    total_count={**COUNT, "description": "Length of this page"},
                ),
                params=(
                    query_param("joined_only", BOOLEAN, "Only rooms the caller is in."),
                    query_param("public_only", BOOLEAN, "Accepted, not applied."),
                    query_param("search", STRING, "Substring of the name (public listing only)."),
                    LIMIT,
                    OFFSET,
                ),
            ),
        },
        "/api/v1/rooms/{room_id}": {
            "get": op(
                "getRoom",
                "A room, the caller's membership and the member count",
                "rooms",
                envelope(
                    room=ref("Room"),
                    membership={**ref("Membership"), "nullable": True},
                    member_count=COUNT,
                ),
                params=(ROOM_ID,),
                fails=((404, ["room_not_found"]),),
            ),
            "patch": op(
                "updateRoom",
                "Rename, describe or re-configure a room (owner or moderator)",
                "rooms",
                envelope(room=ref("Room")),
                params=(ROOM_ID,),
                body=obj(
                    {
                        "name": NULLABLE_STRING,
                        "description": NULLABLE_STRING,
                        "settings": ROOM_SETTINGS_INPUT,
                    },
                    required=[],
                ),
                fails=(
                    (404, ["room_not_found"]),
                    (403, ["not_room_member", "permission_denied"]),
                    (400, ["room_name_invalid"]),
                    (409, ["room_name_taken"]),
                ),
            ),
            "delete": op(
                "deleteRoom",
                "Delete a room (its owner)",
                "rooms",
                SUCCESS,
                params=(ROOM_ID,),
                fails=((404, ["room_not_found"]), DENIED),
            ),
        },
        "/api/v1/rooms/{room_id}/join": {
            "post": op(
                "joinRoom",
                "Join a public room, or a private one with an invitation",
                "rooms",
                envelope(room=ref("Room"), membership=ref("Membership")),
                params=(ROOM_ID,),
                fails=(
                    (404, ["room_not_found"]),
                    (409, ["room_private", "already_member", "room_full"]),
                ),
            )
        },
        "/api/v1/rooms/{room_id}/leave": {
            "post": op(
                "leaveRoom",
                "Leave a room",
                "rooms",
                SUCCESS,
                params=(ROOM_ID,),
                fails=((404, ["room_not_found"]), NOT_MEMBER, (409, ["last_owner"])),
            )
        },
        "/api/v1/rooms/{room_id}/members": {
            "get": op(
                "listMembers",
                "Members by join time (members only)",
                "rooms",
                envelope(members={"type": "array", "items": ref("Member")}, total=COUNT),
                params=(ROOM_ID,),
                fails=((404, ["room_not_found"]), NOT_MEMBER),
            )
        },
        "/api/v1/rooms/{room_id}/pins": {
            "get": op(
                "listPins",
                "The room's pinned messages, the newest pin first (members only)",
                "rooms",
                envelope(pins={"type": "array", "items": ref("Pin"), "maxItems": PINS_PER_ROOM}),
                params=(ROOM_ID,),
                fails=((404, ["room_not_found"]), NOT_MEMBER),
                description="lairchat's own. Each message as history shows it, reactions included.",
            )
        },
        "/api/v1/rooms/{room_id}/members/{user_id}/role": {
            "put": op(
                "changeMemberRole",
                "Set a member's role (owners only)",
                "rooms",
                envelope(member=ref("Member")),
                params=(ROOM_ID, USER_ID),
                body=obj(
                    {
                        "role": {
                            "type": "string",
                            "description": "owner; moderator or admin; anything else: member",
                        }
                    }
                ),
                fails=(
                    (404, ["room_not_found", "user_not_found"]),
                    (403, ["not_room_member", "permission_denied"]),
                    (409, ["last_owner"]),
                ),
            )
        },
        "/api/v1/rooms/{room_id}/members/{user_id}": {
            "delete": op(
                "kickMember",
                "Remove a member (owner: anyone else; moderator: plain members)",
                "rooms",
                SUCCESS,
                params=(ROOM_ID, USER_ID),
                fails=(
                    (404, ["room_not_found", "user_not_found"]),
                    (403, ["permission_denied", "not_room_member"]),
                ),
            )
        },
        "/api/v1/messages": {
            "post": op(
                "sendMessage",
                "Send to a room or a user",
                "messages",
                envelope(message=ref("Message")),
                status=201,
                body=obj({"target": ref("MessageTargetInput"), "content": STRING}),
                fails=(
                    (404, ["room_not_found", "user_not_found"]),
                    (400, ["content_invalid"]),
                    NOT_MEMBER,
                ),
            ),
            "get": op(
                "listMessages",
                "History, newest first",
                "messages",
                envelope(
                    messages={"type": "array", "items": ref("HistoryMessage")}, has_more=BOOLEAN
                ),
                params=(
                    query_param(
                        "target_type",
                        TARGET_KINDS,
                        "Conversation kind.",
                        required=True,
                    ),
                    query_param("target_id", STRING, "Room id or other user's id.", True),
                    LIMIT,
                    query_param("before", STRING, "Older than this message id or RFC 3339 time."),
                    query_param("after", STRING, "Newer than this message id or RFC 3339 time."),
                ),
                fails=CONVERSATION_FAILS,
                description="`has_more` is true when more messages exist beyond this page "
                "(older ones; newer ones when paging with `after` alone).",
            ),
        },
        "/api/v1/messages/search": {
            "get": op(
                "searchMessages",
                "Search messages by their text (lairchat)",
                "messages",
                envelope(
                    messages={"type": "array", "items": ref("Message")},
                    has_more=BOOLEAN,
                    next_before=NULLABLE_STRING,
                ),
                params=(
                    query_param(
                        "q",
                        STRING,
                        "The text to find: 1 to 256 characters once trimmed of white space. "
                        "Optional (absent or blank: any text) when a filter is given.",
                    ),
                    query_param("author", STRING, "Only this user's messages (a user id)."),
                    query_param(
                        "since",
                        STRING,
                        "Only messages created in this second or later (RFC 3339).",
                    ),
                    query_param(
                        "until", STRING, "Only messages created before this second (RFC 3339)."
                    ),
                    query_param(
                        "target_type",
                        TARGET_KINDS,
                        "Conversation kind; with target_id, or neither (everywhere).",
                    ),
                    query_param("target_id", STRING, "Room id or other user's id."),
                    query_param("limit", U32, "Matches, default 20, capped at 50; 0 is 400."),
                    query_param("before", STRING, "Go on from this message id (next_before)."),
                ),
                fails=CONVERSATION_FAILS,
                description="lairchat's own: Lair Chat has none. Matches newest first: the "
                "messages whose content, NFKC-normalised and case-folded, contains the query "
                "normalised the same way, in one conversation or, without a target, the "
                "caller's rooms and DMs; filtered by `author`, `since` and `until` when "
                "given (times compared to the second, as `created_at` is stored; the "
                "messages they leave out count as examined). At most 5,000 messages are "
                "examined per request: "
                "when that or `limit` stops the search, `has_more` is true and `next_before` "
                "is the id to pass as `before` (a page may hold no match and still say "
                "`has_more`); else `next_before` is null. Counts against the general rate "
                "limit only.",
            )
        },
        "/api/v1/messages/read": {
            "post": op(
                "markRead",
                "Move the caller's read marker",
                "messages",
                envelope(unread_count=UNREAD, mention_count=MENTIONS),
                body=obj(
                    {
                        "target": ref("MessageTargetInput"),
                        "up_to": {
                            **NULLABLE_STRING,
                            "description": "A message of this conversation; null or absent: "
                            "the newest message stored when the server reads it",
                        },
                    },
                    required=["target"],
                ),
                description="The marker never moves back: an `up_to` older than it moves "
                "nothing and answers the count as it is. An `up_to` that is no message of "
                "this conversation (unknown, deleted, pruned, another conversation's, "
                "malformed) is 404 `message_not_found` and moves nothing. Counts against "
                "the general rate limit only.",
                fails=CONVERSATION_FAILS,
            )
        },
        "/api/v1/messages/{message_id}": {
            "patch": op(
                "editMessage",
                "Edit one's own message",
                "messages",
                envelope(message=ref("Message")),
                params=(MESSAGE_ID,),
                body=obj({"content": STRING}),
                fails=(
                    (404, ["message_not_found"]),
                    (403, ["not_message_author"]),
                    (400, ["content_invalid"]),
                ),
            ),
            "delete": op(
                "deleteMessage",
                "Delete a message (author, or a room owner/moderator)",
                "messages",
                SUCCESS,
                params=(MESSAGE_ID,),
                fails=((404, ["message_not_found"]), DENIED),
            ),
        },
        "/api/v1/messages/{message_id}/reactions/{emoji}": _reaction_ops(EMOJI, ""),
        "/api/v1/messages/{message_id}/reactions": _reaction_ops(EMOJI_QUERY, "ByQuery"),
        "/api/v1/messages/{message_id}/pin": {
            "put": op(
                "pinMessage",
                "Pin a room's message (the room's owners and moderators)",
                "messages",
                SUCCESS,
                params=(MESSAGE_ID,),
                fails=PIN_FAILS,
                description="lairchat's own. Idempotent: a message already pinned changes "
                f"nothing and announces nothing. At most {PINS_PER_ROOM} pins per room: "
                "a new one past that is 400 `validation_failed`, as is a DM message (a DM "
                "has no pins). Counts against the general rate limit only.",
            ),
            "delete": op(
                "unpinMessage",
                "Unpin a room's message (the room's owners and moderators)",
                "messages",
                SUCCESS,
                params=(MESSAGE_ID,),
                fails=PIN_FAILS,
                description="lairchat's own. Idempotent: not pinned, nothing changes. "
                "Counts against the general rate limit only.",
            ),
        },
        "/api/v1/invitations": {
            "post": op(
                "createInvitation",
                "Invite a user to a room (owner or moderator)",
                "invitations",
                envelope(invitation=ref("EnrichedInvitation")),
                status=201,
                body=obj(
                    {"room_id": STRING, "user_id": STRING, "message": NULLABLE_STRING},
                    required=["room_id", "user_id"],
                ),
                fails=(
                    (404, ["room_not_found", "user_not_found"]),
                    (403, ["not_room_member", "permission_denied"]),
                    (409, ["already_member", "already_invited"]),
                ),
            ),
            "get": op(
                "listInvitations",
                "The caller's pending invitations, newest first",
                "invitations",
                envelope(
                    invitations={"type": "array", "items": ref("EnrichedInvitation")},
                    has_more={
                        **BOOLEAN,
                        "description": "True when older ones come after this page",
                    },
                ),
                params=(BOUNDED_LIMIT, OFFSET),
                description="At most 100 a page; `limit` and `offset` are our addition "
                "(the original took no parameters and listed every invitation).",
            ),
        },
        "/api/v1/rooms/{room_id}/invitations": {
            "get": op(
                "listRoomInvitations",
                "A room's pending invitations, newest first (owners and moderators)",
                "invitations",
                envelope(
                    invitations={"type": "array", "items": ref("EnrichedInvitation")},
                    has_more=BOOLEAN,
                ),
                params=(ROOM_ID, BOUNDED_LIMIT, OFFSET),
                fails=((404, ["room_not_found"]), (403, ["not_room_member", "permission_denied"])),
                description="Our addition: at most 100 a page; `has_more` is true when older "
                "ones come after this page. The ids to revoke "
                "(`DELETE /api/v1/invitations/{id}`).",
            )
        },
        "/api/v1/invitations/{invitation_id}": {
            "delete": op(
                "revokeInvitation",
                "Revoke a pending invitation (its inviter, or a room owner/moderator)",
                "invitations",
                SUCCESS,
                params=(INVITATION_ID,),
                fails=(
                    (404, ["invitation_not_found"]),
                    DENIED,
                    (409, ["invitation_expired"]),
                ),
                description="Our addition; Lair Chat has no way to withdraw an invitation. "
                "A revoked invitation is no longer listed and answers accept and join as a "
                "declined one does. `invitation_not_found` also for callers who are neither "
                "its invitee, its inviter nor a member of its room; `invitation_expired` "
                "when it is no longer pending. The invitee is not notified.",
            )
        },
        "/api/v1/invitations/{invitation_id}/accept": {
            "post": op(
                "acceptInvitation",
                "Accept: join the room",
                "invitations",
                envelope(membership=ref("Membership"), room=ref("Room")),
                params=(INVITATION_ID,),
                fails=(
                    (404, ["invitation_not_found", "room_not_found"]),
                    (409, ["not_invitee", "invitation_expired", "already_member", "room_full"]),
                ),
            )
        },
        "/api/v1/invitations/{invitation_id}/decline": {
            "post": op(
                "declineInvitation",
                "Decline",
                "invitations",
                SUCCESS,
                params=(INVITATION_ID,),
                fails=(
                    (404, ["invitation_not_found"]),
                    (409, ["not_invitee", "invitation_expired"]),
                ),
            )
        },
        "/api/v1/rooms/{room_id}/invite-codes": {
            "post": op(
                "createInviteCode",
                "Make an invite code (room owners and moderators)",
                "invitations",
                envelope(invite_code=ref("InviteCode")),
                status=201,
                params=(ROOM_ID,),
                body=obj(
                    {
                        "max_uses": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": invitecodes.MAX_USES,
                            "nullable": True,
                            "description": "Joins it admits; absent: no limit",
                        },
                        "expires_in_hours": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": invitecodes.MAX_HOURS,
                            "nullable": True,
                            "description": f"Absent: {invitecodes.DEFAULT_HOURS} (7 days)",
                        },
                    },
                    required=[],
                ),
                fails=(
                    (404, ["room_not_found"]),
                    (403, ["not_room_member", "permission_denied"]),
                    (400, ["validation_failed"]),
                ),
                description="lairchat's own. The answer is the only place the code is "
                f"ever shown. A room keeps at most {invitecodes.LIVE_PER_ROOM} live codes.",
            ),
            "get": op(
                "listInviteCodes",
                "The room's live invite codes, newest first (room owners and moderators)",
                "invitations",
                envelope(
                    invite_codes={
                        "type": "array",
                        "items": ref("InviteCode"),
                        "maxItems": invitecodes.LIVE_PER_ROOM,
                    }
                ),
                params=(ROOM_ID,),
                fails=((404, ["room_not_found"]), (403, ["not_room_member", "permission_denied"])),
                description="lairchat's own. Never the code itself.",
            ),
        },
        "/api/v1/rooms/{room_id}/invite-codes/{code_id}": {
            "delete": op(
                "revokeInviteCode",
                "Revoke an invite code (room owners and moderators)",
                "invitations",
                SUCCESS,
                params=(ROOM_ID, CODE_ID),
                fails=(
                    (404, ["room_not_found", "invite_code_not_found"]),
                    (403, ["not_room_member", "permission_denied"]),
                ),
                description="lairchat's own.",
            )
        },
        "/api/v1/invite-codes/{code}/join": {
            "post": op(
                "joinByInviteCode",
                "Join the code's room (anyone signed in)",
                "invitations",
                envelope(room=ref("Room"), membership=ref("Membership")),
                params=(INVITE_CODE,),
                fails=(
                    (404, ["invite_code_not_found"]),
                    (409, ["already_member", "room_full"]),
                ),
                description="lairchat's own. A bad code (malformed, unknown, expired, used "
                "up, revoked) counts against the caller's auth rate limit; once that is "
                "used up, 429 before the code is looked at.",
            )
        },
        "/api/v1/admin/stats": {
            "get": op(
                "adminStats",
                "Server counters (admins only)",
                "admin",
                envelope(
                    stats=obj(
                        {
                            "total_users": COUNT,
                            "total_rooms": COUNT,
                            "online_users": COUNT,
                            "total_messages": COUNT,
                            "connections": COUNT,
                        },
                        required=["total_users", "total_rooms", "online_users"],
                    )
                ),
                fails=(DENIED,),
            )
        },
        "/api/v1/admin/audit": {
            "get": op(
                "adminAudit",
                "The admin audit log, newest first (admins only)",
                "admin",
                envelope(entries=_array(AUDIT_ENTRY, "Newest first"), has_more=BOOLEAN),
                params=(
                    query_param(
                        "limit",
                        U32,
                        f"Page size from 1, default {audit.DEFAULT_LIMIT}, "
                        f"silently capped at {audit.MAX_LIMIT}.",
                    ),
                    query_param(
                        "before",
                        UUID,
                        "An entry's id: the entries older than it (the next page); "
                        "400 if there is no such entry",
                    ),
                    query_param("action", {"type": "string", "enum": list(ACTIONS)}, "Only it"),
                    query_param("subject_id", UUID, AUDIT_FILTER.format("subject_id", "subject")),
                    query_param("actor_id", UUID, AUDIT_FILTER.format("actor_id", "admin")),
                ),
                fails=(DENIED,),
                description="Every server-level administrative action that changed "
                "something: bans, unbans, account and room deletions by admins, and the "
                "operator command's changes. Kept LAIR_AUDIT_RETENTION_DAYS days "
                "(docs/operations.md).",
            )
        },
        "/api/v1/admin/users/{user_id}/ban": {
            "post": op(
                "banUser",
                "Ban a user: sessions revoked, connections closed, login refused",
                "admin",
                envelope(
                    success={"type": "boolean", "enum": [True]}, expires_at={**TS, "nullable": True}
                ),
                params=(USER_ID,),
                body=obj(
                    {
                        "reason": {
                            **NULLABLE_STRING,
                            "description": f"At most {BAN_REASON_MAX} bytes of UTF-8",
                        },
                        "duration_hours": {
                            "type": "number",
                            "nullable": True,
                            "minimum": 0,
                            "exclusiveMinimum": True,
                            "maximum": MAX_BAN_HOURS,
                            "description": f"Hours: {BAN_HOURS_RULE}; null = permanent",
                        },
                    },
                    required=[],
                ),
                fails=(
                    (400, ["validation_failed"]),
                    (403, ["permission_denied", "account_banned"]),
                    (404, ["user_not_found"]),
                ),
            )
        },
        "/api/v1/admin/users/{user_id}": {
            "delete": op(
                "adminDeleteUser",
                "Delete another account (lairchat)",
                "admin",
                SUCCESS,
                params=(USER_ID,),
                body=obj({"password": STRING}, required=[]),
                fails=(
                    (401, ["invalid_credentials"]),
                    (403, ["account_locked", "permission_denied"]),
                    (404, ["user_not_found"]),
                ),
                description="Needs the admin's own password: a wrong or missing one is a "
                "failed login (401 `invalid_credentials`, the login's lockout and rate "
                "limit). Not the admin's own account (403 `permission_denied`: use "
                "`DELETE /api/v1/users/me`). The account is deleted as by its own "
                '`DELETE /api/v1/users/me` (docs/SECURITY.md, "Deleting an account").',
            )
        },
        "/api/v1/admin/users/{user_id}/unban": {
            "post": op(
                "unbanUser",
                "Lift a ban",
                "admin",
                SUCCESS,
                params=(USER_ID,),
                fails=((403, ["permission_denied", "account_banned"]), (404, ["user_not_found"])),
            )
        },
        "/api/v1/admin/rooms/{room_id}": {
            "delete": op(
                "adminDeleteRoom",
                "Delete any room",
                "admin",
                SUCCESS,
                params=(ROOM_ID,),
                fails=(DENIED, (404, ["room_not_found"])),
            )
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    paths = _paths()
    paths["/ready"]["get"]["responses"]["503"] = {
        "description": "The database did not answer",
        "content": {
            JSON: {
                "schema": envelope(
                    ready={"type": "boolean", "enum": [False]},
                    database={"type": "string", "enum": ["unavailable"]},
                )
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "lairchat REST API",
            "version": lairchat.__version__,
            "description": "Wire-compatible with Lair Chat's /api/v1. Every error is "
            '`{"error":{"code","message"}}`. Any route may answer 414 `uri_too_long` (a '
            "request line over 16 KiB) or 431 `headers_too_large` (request line and "
            "headers over 16 KiB, or over 500 header fields), then close the connection. "
            "See docs/protocols/HTTP.md.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearerAuth": []}],
    }
