"""A read's run of ``send_message`` frames is handled as one (Session.frames_received,
commands.send_run): whatever the frames and however the bytes are cut into reads,
every connection sees what it would see had each frame come in a read of its own."""

from __future__ import annotations

import random
import re
import struct
from typing import Any

import orjson
import pytest
from twisted.internet import defer
from twisted.python.failure import Failure

from lairchat.core.groupcommit import GroupCommit
from lairchat.domain.errors import LairError
from lairchat.realtime import codec
from lairchat.realtime.session import MAX_IN_FLIGHT
from lairchat.testing import MemoryTCPServer, result
from lairchat.transports.backpressure import MAX_FRAME

#: Keys whose values differ from one run to the next (random ids, the clock).
_UNSTABLE = ("id", "message_id")


def frame(message: dict[str, Any] | bytes) -> bytes:
    payload = message if isinstance(message, bytes) else orjson.dumps(message)
    return struct.pack("!I", len(payload)) + payload


def to_room(room_id: str, content: Any, request_id: str | None = None) -> dict[str, Any]:
    message = {
        "type": "send_message",
        "target": {"type": "room", "room_id": room_id},
        "content": content,
    }
    if request_id is not None:
        message["request_id"] = request_id
    return message


class World:
    """Alice and Bob in a room, Carol alone in another; Alice and Bob connected."""

    def __init__(self, limits: bool = False, known: bool = True):
        self.server = server = MemoryTCPServer()
        core = server.core
        core.limiter.enabled = limits
        alice, bob = server.account("alice"), server.account("bob")
        carol = server.account("carol")
        self.room = result(core.rooms.create(alice.user, "lobby", None, None)).id
        result(core.rooms.join(bob.user, self.room))
        self.elsewhere = result(core.rooms.create(carol.user, "elsewhere", None, None)).id
        self.bob_id = bob.user.id
        if known:  # the room's target is known, as once anyone has sent to it
            codec.decode(orjson.dumps(to_room(self.room, "x")))
        self.alice, self.bob = server.login("alice"), server.login("bob")
        self.alice.frames()  # bob's user_online

    def stall_commits(self) -> list[tuple[defer.Deferred, int]]:
        """Commits wait until the test fires them: returns the list of (Deferred,
        number of messages) the writer was given, in order."""
        pending: list[tuple[defer.Deferred, int]] = []
        real = self.server.core.store.insert_messages

        def write(messages: list) -> defer.Deferred:
            d: defer.Deferred = defer.Deferred()
            pending.append((d, len(messages)))
            d.addCallback(lambda _: real(messages))
            return d

        core = self.server.core
        core.messages.commits = GroupCommit(write, core.hub.batch)
        return pending


def mixed_script(world: World) -> list[dict[str, Any] | bytes]:
    """Every kind of frame a run can meet: valid sends, sends refused by the service,
    frames that must wait for the sends before them, frames the session answers
    itself, undecodable ones, a DM and a send of another shape."""
    room, elsewhere = world.room, world.elsewhere
    return [
        to_room(room, "one", "r1"),
        to_room(room, "two", "r2"),
        to_room(room, "   ", "r3"),  # content_invalid
        to_room(room, "three"),  # no request_id
        to_room(elsewhere, "not a member", "r4"),
        {"type": "ping"},
        to_room(room, "four", "r5"),
        to_room(room, "x" * 5000, "r6"),  # too long
        {
            "type": "get_messages",
            "request_id": "h1",
            "target": {"type": "room", "room_id": room},
            "limit": 50,
        },  # fmt: skip
        to_room(room, "five", "r7"),
        {"type": "typing", "target": {"type": "room", "room_id": room}},
        b"{not json",
        to_room(room, "six", "r8"),
        {
            "type": "send_message",
            "request_id": "d1",
            "target": {"type": "dm", "recipient": world.bob_id},
            "content": "psst",
        },  # fmt: skip
        {**to_room(room, "seven", "r9"), "extra": 1},  # another shape: the general path
        to_room(room, 7, "r10"),  # not a string
        to_room(room, "eight", "r11"),
        to_room(room, "nine", "r12"),
    ]


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalized(frames: list[dict[str, Any]]) -> list[Any]:
    """The frames with every id (of messages, users, rooms: each world draws its own)
    replaced by its order of first appearance."""
    seen: dict[str, str] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and _UUID.fullmatch(value):
            return seen.setdefault(value, f"<id {len(seen)}>")
        return value

    return [walk(f) for f in frames]


def answers_and_events(frames: list[dict[str, Any]]) -> tuple[list, list]:
    """A connection's frames split into the answers to its frames, in order, and
    the events, in order, after checking that no event of a message it sent came
    before the response that carried the message. How the two streams interleave
    otherwise depends on when commits end, with runs or without."""
    answered: set[str] = set()
    answers, events = [], []
    for f in frames:
        if f["type"].endswith("_response") or f["type"] in ("pong", "error"):
            answers.append(f)
            if f.get("success") and "message" in f:
                answered.add(f["message"]["id"])
        else:
            events.append(f)
            if f["type"] == "message_received" and f["author_username"] == "alice":
                assert f["message"]["id"] in answered, "an event before its response"
    return answers, events


def reads(data: bytes, cut: str, seed: int = 0) -> list[bytes]:
    """``data`` cut into reads: ``whole`` (one read), or at random offsets, frame
    boundaries or not."""
    if cut == "whole":
        return [data]
    rng = random.Random(seed)
    points = sorted(rng.sample(range(1, len(data)), min(12, len(data) - 1)))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def transcript(script, cut: str, seed: int = 0, known: bool = True, **world: bool):
    """What Alice and Bob receive when Alice sends ``script``, frames one read each
    (``cut="each"``) or cut as :func:`reads` cuts them; ``stalled``: commits wait
    until everything is sent."""
    stalled = world.pop("stalled", False)
    world = World(known=known, **world)
    pending = world.stall_commits() if stalled else []
    frames = [frame(m) for m in script(world)]
    chunks = frames if cut == "each" else reads(b"".join(frames), cut, seed)
    for chunk in chunks:
        world.alice.send_raw(chunk)
    while pending:
        pending.pop(0)[0].callback(None)
    world.server.clock.advance(0)
    return *answers_and_events(normalized(world.alice.frames())), normalized(world.bob.frames())


@pytest.mark.parametrize("known", [True, False], ids=["room-known", "room-new"])
@pytest.mark.parametrize("stalled", [False, True], ids=["commits-at-once", "commits-later"])
@pytest.mark.parametrize("limits", [False, True], ids=["no-limits", "rate-limited"])
def test_a_run_is_answered_as_frames_one_by_one(limits: bool, stalled: bool, known: bool) -> None:
    kw = {"limits": limits, "stalled": stalled, "known": known}
    alone = transcript(mixed_script, "each", **kw)
    sent = [f for f in alone[0] if f["type"] == "send_message_response"]
    assert len(alone[1]) == 10
    assert [f["request_id"] for f in sent] == [
        "r1", "r2", "r3", None, "r4", "r5", "r6", "r7", "r8", "d1", "r9", "r11", "r12"
    ]  # fmt: skip
    assert [f["success"] for f in sent].count(True) == 10
    assert [f["type"] for f in alone[0]].count("error") == 2  # bad JSON, content 7
    assert {f["type"] for f in alone[0]} >= {"pong", "get_messages_response"}
    assert len([f for f in alone[2] if f["type"] == "message_received"]) == 10  # with the DM
    assert transcript(mixed_script, "whole", **kw) == alone
    for seed in range(4):
        assert transcript(mixed_script, "random", seed, **kw) == alone, seed


def many_sends(world: World) -> list[dict[str, Any]]:
    """More sends than the messaging tier allows in a burst (RateLimits' default)."""
    return [to_room(world.room, f"m{i}", f"r{i}") for i in range(80)]


def test_a_run_over_the_rate_limit_is_refused_frame_by_frame() -> None:
    alone = transcript(many_sends, "each", limits=True)
    codes = [f.get("error", {}).get("code") for f in alone[0] if "success" in f]
    assert None in codes and "rate_limited" in codes, codes
    assert transcript(many_sends, "whole", limits=True) == alone


def test_an_expired_session_refuses_every_frame_of_a_run() -> None:
    world = World()
    # Past its expiry, before the timer that closes the connection fires.
    world.alice.proto.session.auth_session.expires_at = world.server.clock.seconds() - 1
    world.alice.send_raw(b"".join(frame(m) for m in many_sends(world)[:5]))
    replies = world.alice.frames()
    assert [(f["request_id"], f["error"]["code"]) for f in replies] == [
        (f"r{i}", "session_expired") for i in range(5)
    ]
    assert world.bob.frames() == []


def test_a_failed_commit_fails_every_message_of_the_run_in_order() -> None:
    world = World()
    pending = world.stall_commits()
    world.alice.send_raw(b"".join(frame(m) for m in many_sends(world)[:6]))
    assert [n for _, n in pending] == [6]  # one transaction for the run
    pending[0][0].errback(Failure(LairError("database_error")))
    replies = world.alice.frames()
    assert [(f["request_id"], f["success"]) for f in replies] == [
        (f"r{i}", False) for i in range(6)
    ]
    assert {f["error"]["code"] for f in replies} == {"database_error"}
    assert world.bob.frames() == []


def test_responses_precede_the_runs_own_events_and_follow_its_order() -> None:
    world = World()
    pending = world.stall_commits()
    world.alice.send_raw(b"".join(frame(m) for m in many_sends(world)[:4]))
    assert world.alice.frames() == []  # nothing before the commit
    pending.pop(0)[0].callback(None)
    frames = world.alice.frames()
    assert [f["type"] for f in frames] == ["send_message_response"] * 4 + ["message_received"] * 4
    assert [f["request_id"] for f in frames[:4]] == ["r0", "r1", "r2", "r3"]
    assert [f["message"]["id"] for f in frames[:4]] == [f["message"]["id"] for f in frames[4:]]
    assert [f["message"]["content"] for f in world.bob.frames()] == ["m0", "m1", "m2", "m3"]


def test_a_run_counts_each_frame_towards_the_answers_owed() -> None:
    """A connection owed MAX_IN_FLIGHT answers is no longer read, runs or not."""
    world = World()
    pending = world.stall_commits()
    sends = [to_room(world.room, f"m{i}", f"r{i}") for i in range(MAX_IN_FLIGHT)]
    world.alice.send_raw(b"".join(frame(m) for m in sends))
    assert world.alice.transport.producerState == "paused"
    while pending:
        pending.pop(0)[0].callback(None)
    assert world.alice.transport.producerState == "producing"
    assert len([f for f in world.alice.frames() if f["type"] == "send_message_response"]) == 256


def test_frames_before_an_oversized_one_are_handled_before_the_connection_ends() -> None:
    world = World()
    sends = b"".join(frame(m) for m in many_sends(world)[:3])
    world.alice.send_raw(sends + struct.pack("!I", MAX_FRAME + 1) + b"x" * 10)
    answers, events = answers_and_events(world.alice.frames())
    assert [f["request_id"] for f in answers] == ["r0", "r1", "r2"]
    assert len(events) == 3
    assert world.alice.transport.disconnecting or world.alice.transport.disconnected
    assert len(world.bob.frames()) == 3


def test_an_unexpected_error_answers_each_frame_and_keeps_the_connection(monkeypatch) -> None:
    """As dispatch answers a handler that raised: internal_error, never silence."""
    world = World()

    def broken(*_: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(world.server.core.messages, "_new", broken)
    world.alice.send_raw(b"".join(frame(m) for m in many_sends(world)[:3]))
    replies = world.alice.frames()
    assert [(f["request_id"], f["error"]["code"]) for f in replies] == [
        (f"r{i}", "internal_error") for i in range(3)
    ]
    monkeypatch.undo()
    world.alice.send_raw(b"".join(frame(m) for m in many_sends(world)[3:5]))
    answers, _ = answers_and_events(world.alice.frames())
    assert [(f["request_id"], f["success"]) for f in answers] == [("r3", True), ("r4", True)]
