"""``POST /api/v1/users/me/export``: a user's copy of their data, with their password,
streamed (docs/protocols/HTTP.md, "Exporting your data"; docs/SECURITY.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
import pytest
from twisted.internet import task

from lairchat.core.auth import LOCKOUT_THRESHOLD
from lairchat.core.export import Export
from lairchat.testing import result
from lairchat.transports.http.routes_users import safe_name
from lairchat.transports.http.streaming import StreamedBody
from lairchat.transports.http.testing import PASSWORD, ApiClient
from tests.unit.test_http_ratelimit import cheap_hashing, limited_client  # noqa: F401

EXPORT = "/api/v1/users/me/export"
KEYS = [
    "format",
    "version",
    "exported_at",
    "user",
    "two_factor",
    "sessions",
    "rooms",
    "invitations",
    "read_markers",
    "reactions",
    "pins",
    "invite_codes",
    "messages",
    "complete",
]


def send(client: ApiClient, account: Any, target: dict[str, Any], content: str) -> str:
    reply = client.post(
        "/api/v1/messages", {"target": target, "content": content}, token=account.token
    )
    assert reply.status == 201, reply
    return reply.json["message"]["id"]


def test_everything_kept_about_the_caller_in_order(client: ApiClient) -> None:
    alice, bob, carol = (client.register(n) for n in ("alice", "bob", "carol"))
    general = client.create_room(alice, "General")
    bobs = client.create_room(bob, "Bob's", settings={"public": False})
    in_general = {"type": "room", "room_id": general["id"]}
    assert client.post(f"/api/v1/rooms/{general['id']}/join", token=bob.token).status == 200
    first = send(client, alice, in_general, "mine, first")
    send(client, bob, in_general, "bob's room message: not alice's")
    to_bob = send(client, alice, {"type": "dm", "recipient": bob.id}, "a DM alice sent")
    from_bob = send(client, bob, {"type": "dm", "recipient": alice.id}, "a DM alice got")
    send(client, bob, {"type": "dm", "recipient": carol.id}, "a DM between others")
    last = send(client, alice, in_general, "mine, last")
    quoted = quote("👍", safe="")
    for who in (alice, bob):
        path = f"/api/v1/messages/{first}/reactions/{quoted}"
        assert client.put(path, token=who.token).status == 200
    read = {"target": in_general, "up_to": first}
    assert client.post("/api/v1/messages/read", read, token=alice.token).status == 200
    invited = client.post(
        "/api/v1/invitations", {"room_id": bobs["id"], "user_id": alice.id}, token=bob.token
    )
    assert invited.status == 201, invited
    declined = f"/api/v1/invitations/{invited.json['invitation']['id']}/decline"
    assert client.post(declined, token=alice.token).status == 200
    assert client.put(f"/api/v1/messages/{last}/pin", token=alice.token).status == 200
    assert client.put(f"/api/v1/messages/{first}/pin", token=alice.token).status == 200
    assert client.delete(f"/api/v1/messages/{last}/pin", token=alice.token).status == 200
    second = client.login(alice)

    reply = client.post(EXPORT, {"password": PASSWORD}, token=alice.token)

    assert reply.status == 200, reply
    assert reply.header("content-type") == "application/json"
    assert reply.header("cache-control") == "no-store"
    assert reply.header("content-length") is None  # streamed
    assert reply.header("content-disposition") == (
        'attachment; filename="lairchat-export-alice-2023-11-14.json"'
    )
    data = reply.json
    assert list(data) == KEYS
    assert (data["format"], data["version"], data["complete"]) == ("lairchat-export", 1, True)
    assert data["user"] == client.get("/api/v1/users/me", token=alice.token).json["user"]
    assert data["user"]["email"] == "alice@example.com"
    sessions = {s["id"]: s["current"] for s in data["sessions"]}
    assert sessions == {alice.session["id"]: True, second.session["id"]: False}
    listed = client.get("/api/v1/auth/sessions", token=alice.token).json["sessions"]
    assert sorted(data["sessions"], key=lambda s: s["id"]) == sorted(listed, key=lambda s: s["id"])
    assert [(r["room"]["id"], r["membership"]["role"]) for r in data["rooms"]] == [
        (general["id"], "owner")
    ]
    assert data["rooms"][0]["room"] == general
    assert [(i["room_id"], i["status"]) for i in data["invitations"]] == [(bobs["id"], "declined")]
    assert [(m["target"], m["last_read_message_id"]) for m in data["read_markers"]] == [
        (in_general, first)
    ]
    assert [(r["message_id"], r["emoji"]) for r in data["reactions"]] == [(first, "👍")]
    assert [(p["room_id"], p["message_id"]) for p in data["pins"]] == [(general["id"], first)]
    assert data["pins"][0]["pinned_at"] == "2023-11-14T22:13:20Z"
    assert [m["id"] for m in data["messages"]] == [first, to_bob, from_bob, last]
    history = client.get(
        "/api/v1/messages",
        params={"target_type": "room", "target_id": general["id"]},
        token=alice.token,
    ).json["messages"]
    exported = data["messages"][0]
    assert exported == next(m for m in history if m["id"] == first)
    assert exported["reactions"] == [
        {"emoji": "👍", "count": 2, "user_ids": [alice.id, bob.id], "me": True}
    ]


@pytest.mark.parametrize("body", [{"password": "not-the-password"}, {}, {"password": ""}])
def test_a_wrong_or_missing_password_exports_nothing(client: ApiClient, body: dict) -> None:
    alice = client.register("alice")
    reply = client.post(EXPORT, body, token=alice.token)
    assert (reply.status, reply.code) == (401, "invalid_credentials")
    assert b"alice@example.com" not in reply.body


def test_a_password_that_is_not_a_string_is_refused_as_any_field(client: ApiClient) -> None:
    alice = client.register("alice")
    reply = client.post(EXPORT, {"password": 12345678}, token=alice.token)
    assert (reply.status, reply.code) == (422, "validation_failed")


def test_guesses_lock_the_account_as_failed_logins_do(client: ApiClient) -> None:
    alice = client.register("alice")
    for _ in range(LOCKOUT_THRESHOLD):
        assert client.post(EXPORT, {"password": "guess"}, token=alice.token).status == 401
    reply = client.post(EXPORT, {"password": PASSWORD}, token=alice.token)
    assert (reply.status, reply.code) == (403, "account_locked")


def test_it_counts_against_the_auth_rate_limit() -> None:
    client = limited_client(task.Clock())
    alice = client.register("alice")
    statuses = [client.post(EXPORT, {"password": "x"}, token=alice.token).status for _ in range(11)]
    assert statuses[-1] == 429
    assert set(statuses[:-1]) <= {401, 403}


def test_one_export_at_a_time_per_user(client: ApiClient) -> None:
    alice, bob = client.register("alice"), client.register("bob")
    user = result(client.core.users.get(alice.id))
    running = result(client.core.export.begin(user, alice.session["id"], PASSWORD))

    reply = client.post(EXPORT, {"password": PASSWORD}, token=alice.token)
    assert (reply.status, reply.code) == (429, "rate_limited")
    assert reply.error["details"] == {"retry_after": 1, "limit": 1}
    assert reply.header("retry-after") == "1"
    # Another user's is not held up.
    assert client.post(EXPORT, {"password": PASSWORD}, token=bob.token).status == 200

    running.close()
    assert client.post(EXPORT, {"password": PASSWORD}, token=alice.token).status == 200
    # ... and one sent to its end frees the turn by itself.
    assert client.post(EXPORT, {"password": PASSWORD}, token=alice.token).status == 200


def test_at_most_a_few_exports_at_once_in_all(client: ApiClient) -> None:
    """Each export reads the whole message table: any number of users at once held
    every reader connection the other requests need."""
    client.core.export.most = 2
    alice, bob, carol = (client.register(n) for n in ("alice", "bob", "carol"))
    running = [
        result(
            client.core.export.begin(result(client.core.users.get(a.id)), a.session["id"], PASSWORD)
        )
        for a in (alice, bob)
    ]

    reply = client.post(EXPORT, {"password": PASSWORD}, token=carol.token)
    assert (reply.status, reply.code) == (429, "rate_limited")
    assert reply.error["details"] == {"retry_after": 10, "limit": 2}
    assert reply.header("retry-after") == "10"
    # Refused before the password is looked at: no hashing, no failed login counted.
    assert client.post(EXPORT, {"password": "wrong"}, token=carol.token).status == 429

    running[0].close()
    assert client.post(EXPORT, {"password": PASSWORD}, token=carol.token).status == 200


def test_a_wrong_password_frees_the_turn(client: ApiClient) -> None:
    alice = client.register("alice")
    assert client.post(EXPORT, {"password": "wrong"}, token=alice.token).status == 401
    assert client.post(EXPORT, {"password": PASSWORD}, token=alice.token).status == 200


def test_the_file_name_holds_only_safe_characters() -> None:
    assert safe_name("alice_1") == "alice_1"
    assert safe_name('Émile"/\\x') == "_mile___x"
    assert safe_name("..hidden") == "hidden"
    assert safe_name("...") == "user"


# -- streaming ------------------------------------------------------------------------


class _Channel:
    def __init__(self) -> None:
        self.transport = self
        self.aborted = False

    def abortConnection(self) -> None:  # noqa: N802
        self.aborted = True


class FakeRequest:
    """What StreamedBody uses of a request, with a client that takes one piece and
    then pauses the producer (a full socket buffer), as Twisted would."""

    def __init__(self, pause_after_write: bool = True):
        self.pause_after_write = pause_after_write
        self.written: list[bytes] = []
        self.headers: dict[bytes, bytes] = {}
        self.code: int | None = None
        self.producer: Any = None
        self.finished = False
        self.lost = False
        self.path = b"/api/v1/users/me/export"
        #: None once the connection is lost, as Twisted's.
        self.channel: Any = _Channel()
        self._finish_waiters: list[Any] = []

    def setResponseCode(self, code: int) -> None:  # noqa: N802
        self.code = code

    def setHeader(self, name: bytes, value: bytes) -> None:  # noqa: N802
        self.headers[name] = value

    def registerProducer(self, producer: Any, streaming: bool) -> None:  # noqa: N802
        assert streaming
        self.producer = producer

    def unregisterProducer(self) -> None:  # noqa: N802
        self.producer = None

    def notifyFinish(self) -> Any:  # noqa: N802
        from twisted.internet import defer

        d: defer.Deferred = defer.Deferred()
        self._finish_waiters.append(d)
        return d

    def write(self, data: bytes) -> None:
        assert not self.finished
        self.written.append(data)
        if self.pause_after_write:
            self.producer.pauseProducing()

    def finish(self) -> None:
        self.finished = True

    def loseConnection(self) -> None:  # noqa: N802
        self.lost = True

    def gone(self) -> None:
        """The client closed the connection."""
        from twisted.internet.error import ConnectionLost
        from twisted.python.failure import Failure

        self.channel = None
        for d in self._finish_waiters:
            d.errback(Failure(ConnectionLost()))
        self._finish_waiters = []


@pytest.fixture
def busy_alice(client: ApiClient) -> tuple[ApiClient, Any, list[str]]:
    """alice with 7 messages among 14, the pages small: an export of several pieces.
    The list records every read the export makes."""
    alice, bob = client.register("alice"), client.register("bob")
    room = client.create_room(alice, "General")
    assert client.post(f"/api/v1/rooms/{room['id']}/join", token=bob.token).status == 200
    target = {"type": "room", "room_id": room["id"]}
    for i in range(7):
        send(client, alice, target, f"alice {i}")
        send(client, bob, target, f"bob {i}")
    service = client.core.export
    service.page, service.scan = 2, 3
    reads: list[str] = []
    store = client.core.store
    for name in ("export_rows", "export_messages"):
        real = getattr(store, name)

        def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
            reads.append(_name)
            return _real(*args)

        setattr(store, name, counted)
    return client, alice, reads


def begin(client: ApiClient, account: Any) -> Export:
    user = result(client.core.users.get(account.id))
    return result(client.core.export.begin(user, account.session["id"], PASSWORD))


def test_the_body_is_read_and_written_a_page_at_a_time_as_the_client_takes_it(
    busy_alice: tuple[ApiClient, Any, list[str]],
) -> None:
    client, alice, reads = busy_alice
    export = begin(client, alice)
    body = StreamedBody(
        export.pieces(), {b"Content-Type": b"application/json"}, export.close, task.Clock()
    )
    request = FakeRequest()

    body.render(request)

    # One piece written, then paused: nothing more is read until the client takes it.
    assert (request.code, len(request.written), request.finished) == (200, 1, False)
    assert request.headers[b"Content-Type"] == b"application/json"
    before = len(reads)
    steps = 0
    while not request.finished:
        count = len(request.written)
        assert len(reads) == before  # paused: no read
        body.resumeProducing()
        assert len(request.written) == count + 1 or request.finished
        before = len(reads)
        steps += 1
    data = orjson.loads(b"".join(request.written))
    assert list(data) == KEYS and data["complete"] is True
    assert [m["content"] for m in data["messages"]] == [f"alice {i}" for i in range(7)]
    # Messages came two at a time at most, from ranges of three seqs.
    assert reads.count("export_messages") == 5  # 14 seqs, 3 a read
    assert steps > 7
    assert request.producer is None
    # The turn is free again.
    begin(client, alice).close()


def test_messages_stored_after_the_export_began_are_left_out(
    busy_alice: tuple[ApiClient, Any, list[str]],
) -> None:
    """HTTP.md: "Messages stored after the export began are not in it." The end of
    the messages read was taken when the export reached its messages section, after
    the others: a message sent while a slow client took the sessions was in the
    file, dated after its exported_at."""
    client, alice, _ = busy_alice
    export = begin(client, alice)
    body = StreamedBody(export.pieces(), {}, export.close, task.Clock())
    request = FakeRequest()
    body.render(request)  # the head and the sessions' start are sent, then paused
    room = client.get("/api/v1/rooms", token=alice.token).json["rooms"][0]["room"]["id"]

    later = send(client, alice, {"type": "room", "room_id": room}, "sent during the export")
    while not request.finished:
        body.resumeProducing()

    data = orjson.loads(b"".join(request.written))
    assert [m["content"] for m in data["messages"]] == [f"alice {i}" for i in range(7)]
    assert later not in b"".join(request.written).decode()


def test_a_long_read_of_others_messages_still_sends_bytes(
    busy_alice: tuple[ApiClient, Any, list[str]],
) -> None:
    """carol has no message among the 14: each range of the table read is one byte of
    whitespace (a connection that stays quiet for the whole scan of a large table
    looks stalled to a client or a proxy), and the body still parses."""
    client, _, reads = busy_alice
    carol = client.register("carol")
    export = begin(client, carol)
    body = StreamedBody(export.pieces(), {}, export.close, task.Clock())
    request = FakeRequest(pause_after_write=False)

    body.render(request)

    assert request.finished
    assert request.written.count(b" ") == reads.count("export_messages") == 5
    assert orjson.loads(b"".join(request.written))["messages"] == []


def test_a_client_gone_mid_way_stops_the_export(
    busy_alice: tuple[ApiClient, Any, list[str]],
) -> None:
    client, alice, reads = busy_alice
    export = begin(client, alice)
    body = StreamedBody(export.pieces(), {}, export.close, task.Clock())
    request = FakeRequest()
    body.render(request)
    body.resumeProducing()
    written, read = len(request.written), len(reads)

    request.gone()

    body.resumeProducing()  # too late: nothing more happens
    assert (len(request.written), len(reads)) == (written, read)
    assert not request.finished
    begin(client, alice).close()  # the turn was freed


@pytest.mark.parametrize(
    "end", ["logout", "revoked", "password changed", "banned", "by another process"]
)
def test_a_session_ended_mid_way_cuts_the_export_off(
    busy_alice: tuple[ApiClient, Any, list[str]], end: str
) -> None:
    """The export's session ended while it runs (its user signed it out, another of
    their sessions revoked it, their password changed, an admin banned them, the
    operator's command deleted it): the export stops at its next page, cut off as a
    client is told a failure, and the turn is freed. The stream went on to its end
    (a stolen token and password kept downloading the account after the owner had
    signed the thief out)."""
    client, alice, _ = busy_alice
    export = begin(client, alice)
    body = StreamedBody(export.pieces(), {}, export.close, task.Clock())
    request = FakeRequest()
    body.render(request)
    body.resumeProducing()
    written = len(request.written)

    if end == "logout":
        reply = client.post("/api/v1/auth/logout", token=alice.token)
    elif end == "revoked":
        other = client.login(alice)
        path = f"/api/v1/auth/sessions/{alice.session['id']}"
        reply = client.delete(path, token=other.token)
    elif end == "password changed":
        other = client.login(alice)
        change = {"current_password": PASSWORD, "new_password": PASSWORD + "-new"}
        reply = client.post("/api/v1/auth/change-password", change, token=other.token)
    elif end == "banned":
        admin = client.register("root")
        client.make_admin(admin)
        reply = client.post(f"/api/v1/admin/users/{alice.id}/ban", {}, token=admin.token)
    else:
        # `lairchat admin` (a ban, a password reset) deletes the row in its own
        # process: this one's hub hears of it only for sessions it has connected.
        assert result(client.core.store.delete_session(alice.session["id"]))
        reply = client.get("/api/v1/users/me", token=alice.token)
    assert reply.status == (401 if end == "by another process" else 200), reply
    for _ in range(50):
        if request.lost or request.finished:
            break
        body.resumeProducing()

    assert request.lost and not request.finished
    assert request.written[written:] == []  # nothing read after the end is sent
    assert b'"complete"' not in b"".join(request.written)
    assert alice.id not in client.core.export._running  # the turn was freed


def test_a_client_that_stops_reading_is_cut_off_and_frees_the_turn(
    busy_alice: tuple[ApiClient, Any, list[str]],
) -> None:
    """A client that keeps its socket open and reads nothing held its connection, and
    its user's one export, for as long as it liked (429 to every later export)."""
    client, alice, reads = busy_alice
    clock = task.Clock()
    export = begin(client, alice)
    body = StreamedBody(export.pieces(), {}, export.close, clock, stall=120)
    request = FakeRequest()
    body.render(request)
    body.resumeProducing()  # it read once, then stopped
    written, read = len(request.written), len(reads)

    clock.advance(119)
    assert not request.channel.aborted  # not yet
    body.resumeProducing()  # it read again: the wait starts over
    clock.advance(119)
    assert not request.channel.aborted
    written, read = len(request.written), len(reads)
    clock.advance(1)

    assert request.channel.aborted and not request.finished  # not a close: it would wait
    body.resumeProducing()  # too late: nothing more is read or written
    assert (len(request.written), len(reads)) == (written, read)
    assert clock.getDelayedCalls() == []
    begin(client, alice).close()  # the turn was freed


def test_a_whole_export_leaves_no_timer(busy_alice: tuple[ApiClient, Any, list[str]]) -> None:
    client, alice, _ = busy_alice
    clock = task.Clock()
    export = begin(client, alice)
    body = StreamedBody(export.pieces(), {}, export.close, clock)
    request = FakeRequest()
    body.render(request)
    while not request.finished:
        body.resumeProducing()
    assert clock.getDelayedCalls() == []


def test_a_client_gone_before_the_answer_begins_costs_nothing(
    busy_alice: tuple[ApiClient, Any, list[str]],
) -> None:
    """The connection lost while the password was being checked: no read, no write,
    no finish (Twisted refuses one then), and the turn is free."""
    client, alice, reads = busy_alice
    export = begin(client, alice)
    body = StreamedBody(export.pieces(), {}, export.close, task.Clock())
    request = FakeRequest()
    request.gone()

    body.render(request)

    assert (request.code, request.written, reads, request.finished) == (None, [], [], False)
    begin(client, alice).close()


def test_a_failure_mid_way_cuts_the_body_off(
    busy_alice: tuple[ApiClient, Any, list[str]],
) -> None:
    client, alice, _ = busy_alice

    def broken(*args: Any) -> Any:
        raise RuntimeError("the disk is gone")

    client.core.store.export_messages = broken
    export = begin(client, alice)
    body = StreamedBody(export.pieces(), {}, export.close, task.Clock())
    request = FakeRequest(pause_after_write=False)
    body.render(request)

    assert request.lost and not request.finished
    written = b"".join(request.written)
    assert b'"complete"' not in written and written.endswith(b'"messages":[')
    begin(client, alice).close()


def test_listed_in_the_openapi_document(client: ApiClient) -> None:
    spec = client.get("/openapi.json").json
    operation = spec["paths"][EXPORT]["post"]
    assert operation["operationId"] == "exportMe"
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert list(schema["properties"]) == KEYS
