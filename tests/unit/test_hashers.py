"""The password hashers (lairchat.hashers): the process's loop, and the server's side
of the pipes, on a reactor whose processes the test plays."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import orjson
import pytest
from twisted.internet import defer
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure

import lairchat.core.passwords as passwords
from lairchat.children import frame, split_frames
from lairchat.hashers import Hashers, HashingFailed, serve
from lairchat.testing import result
from lairchat.transports.http.testing import CHEAP_HASHER, ApiClient
from tests.unit.test_password_queue import login_in_flight

PASSWORD = "password1"


@pytest.fixture(autouse=True)
def cheap(monkeypatch):
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)


def answers(replies: io.BytesIO) -> list:
    messages, rest = split_frames(replies.getvalue())
    assert rest == b""
    return [orjson.loads(m) for m in messages]


def test_the_loop_answers_each_check_with_its_value_and_time_until_its_input_ends():
    stored = CHEAP_HASHER.hash(PASSWORD)
    requests = io.BytesIO(
        frame(orjson.dumps(["verify", [stored, PASSWORD]]))
        + frame(orjson.dumps(["verify", [stored, "wrong"]]))
        + frame(orjson.dumps(["hash", [PASSWORD]]))
        + frame(orjson.dumps(["verify_unknown", [PASSWORD]]))
    )
    replies = io.BytesIO()
    serve(requests, replies)
    got = answers(replies)
    assert [value for value, _ in got[:2]] == [True, False]
    assert CHEAP_HASHER.verify(got[2][0], PASSWORD)
    assert got[3][0] is False
    assert all(isinstance(took, float) and took >= 0 for _, took in got)


def test_the_loop_answers_a_bad_request_with_an_error_and_goes_on():
    requests = io.BytesIO(
        frame(b"not json")
        + frame(orjson.dumps(["nope", []]))
        + frame(orjson.dumps(["hash", [PASSWORD]]))
    )
    replies = io.BytesIO()
    serve(requests, replies)
    got = answers(replies)
    assert got[0]["error"].startswith("JSONDecodeError")
    assert got[1] == {"error": "KeyError: 'nope'"}
    assert isinstance(got[2], list)


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.stdin_closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def closeStdin(self) -> None:  # noqa: N802
        self.stdin_closed = True


class Reactor:
    """Records the processes spawned; the test answers for them."""

    def __init__(self) -> None:
        self.spawned: list = []

    def spawnProcess(self, proto, executable, args, env=None, childFDs=None):  # noqa: N802
        assert args[1:] == ["-m", "lairchat.hashers"]
        assert not any(k.startswith("LAIR_") for k in env)  # no server settings
        proto.makeConnection(Transport())
        self.spawned.append(proto)
        return proto.transport


def requests_of(hasher) -> list:
    return [orjson.loads(split_frames(w)[0][0]) for w in hasher.transport.written]


def reply(hasher, value) -> None:
    data = frame(orjson.dumps(value))
    hasher.outReceived(data[:3])  # in pieces, as a pipe may give it
    hasher.outReceived(data[3:])


def ended(hasher, why: str = "killed") -> None:
    hasher.processEnded(Failure(RuntimeError(why)))


def test_processes_start_with_the_first_checks_and_each_takes_one_at_a_time(monkeypatch):
    monkeypatch.setenv("LAIR_JWT_SECRET", "s" * 40)
    reactor = Reactor()
    hashers = Hashers(reactor, count=2)
    assert reactor.spawned == []  # none before a check
    first, second, third = (hashers("verify", "h", str(i)) for i in range(3))
    assert len(reactor.spawned) == 2
    a, b = reactor.spawned
    assert requests_of(a) == [["verify", ["h", "0"]]]
    assert requests_of(b) == [["verify", ["h", "1"]]]
    reply(b, [True, 0.03])
    assert result(second) == (True, 0.03)
    assert requests_of(b)[-1] == ["verify", ["h", "2"]]  # the queued one, to the free one
    reply(a, [False, 0.02])
    reply(b, [False, 0.04])
    assert (result(first), result(third)) == ((False, 0.02), (False, 0.04))
    hashers("hash", PASSWORD)
    assert len(reactor.spawned) == 2  # reused, not started again


def test_a_check_whose_process_died_goes_to_another_once_then_fails():
    reactor = Reactor()
    hashers = Hashers(reactor, count=1)
    check = hashers("verify", "h", "p")
    ended(reactor.spawned[0])
    assert len(reactor.spawned) == 2
    assert requests_of(reactor.spawned[1]) == [["verify", ["h", "p"]]]
    ended(reactor.spawned[1], "SIGSYS")
    error = result(check.addErrback(lambda f: f.value))
    assert isinstance(error, HashingFailed) and "SIGSYS" in str(error)
    # The next check starts a new process.
    later = hashers("verify", "h", "p")
    reply(reactor.spawned[2], [True, 0.01])
    assert result(later) == (True, 0.01)


def test_an_idle_process_that_dies_is_replaced_on_the_next_check():
    reactor = Reactor()
    hashers = Hashers(reactor, count=1)
    first = hashers("hash", PASSWORD)
    reply(reactor.spawned[0], ["$x", 0.01])
    assert result(first) == ("$x", 0.01)
    ended(reactor.spawned[0])
    assert len(reactor.spawned) == 1  # nothing to do: none started
    second = hashers("hash", PASSWORD)
    assert len(reactor.spawned) == 2
    reply(reactor.spawned[1], ["$y", 0.01])
    assert result(second) == ("$y", 0.01)


def test_an_error_answer_fails_its_check_and_the_process_takes_the_next():
    reactor = Reactor()
    hashers = Hashers(reactor, count=1)
    bad, good = hashers("nope"), hashers("hash", PASSWORD)
    reply(reactor.spawned[0], {"error": "KeyError: 'nope'"})
    error = result(bad.addErrback(lambda f: f.value))
    assert isinstance(error, HashingFailed) and "KeyError" in str(error)
    reply(reactor.spawned[0], ["$x", 0.01])
    assert result(good) == ("$x", 0.01)


def test_stop_closes_the_inputs_fails_what_is_queued_and_refuses_new_checks():
    reactor = Reactor()
    hashers = Hashers(reactor, count=1)
    running, queued = hashers("hash", PASSWORD), hashers("hash", PASSWORD)
    hashers.stop()
    assert reactor.spawned[0].transport.stdin_closed
    assert isinstance(result(queued.addErrback(lambda f: f.value)), HashingFailed)
    assert isinstance(result(hashers("hash", "x").addErrback(lambda f: f.value)), HashingFailed)
    reply(reactor.spawned[0], ["$x", 0.01])  # the one running is still answered
    assert result(running) == ("$x", 0.01)
    ended(reactor.spawned[0])
    assert len(reactor.spawned) == 1  # not replaced while stopping


def test_passwords_through_the_hashers_keep_the_workers_count_and_times():
    reactor = Reactor()
    hashers = Hashers(reactor, count=2)
    checker = passwords.Passwords(hashers, workers=2)
    verdict = checker.verify("$argon2id$stored", PASSWORD)
    assert checker.pending == 1
    reply(reactor.spawned[0], [True, 0.5])
    assert result(verdict) is True
    assert checker.pending == 0
    assert checker.seconds == pytest.approx(
        passwords.FIRST_GUESS + passwords.SMOOTHING * (0.5 - passwords.FIRST_GUESS)
    )


def test_a_hasher_lowers_its_own_priority_as_far_as_it_goes():
    """In a process of its own (it changes the process it runs in): SCHED_IDLE where
    the system allows it, else nice 19."""
    code = (
        "import os; from lairchat.hashers import lower_priority; how = lower_priority(); "
        "print(how, os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0))"
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    if out[0] == "idle":
        assert int(out[1]) == os.SCHED_IDLE
    else:
        assert out[:2] == ["nice", "19"] and int(out[3]) == 19
    # The test's own process is left alone.
    assert os.sched_getscheduler(0) != os.SCHED_IDLE


def test_a_check_given_up_while_queued_is_taken_back_and_never_hashed():
    """A login whose client hung up (Klein cancels the handler's Deferred) before a
    process took its check: nothing is sent, and it stops counting at once. One being
    hashed is left to finish, and counts until then."""
    reactor = Reactor()
    checker = passwords.Passwords(Hashers(reactor, count=1), workers=1)
    running = checker.verify("$argon2id$a", PASSWORD)
    queued = checker.verify("$argon2id$b", PASSWORD)
    assert checker.pending == 2
    queued.cancel()
    assert isinstance(result(queued.addErrback(lambda f: f.value)), defer.CancelledError)
    assert checker.pending == 1
    running.cancel()
    assert checker.pending == 1  # still hashing
    (hasher,) = reactor.spawned
    reply(hasher, [True, 0.01])
    assert checker.pending == 0
    assert requests_of(hasher) == [["verify", ["$argon2id$a", PASSWORD]]]  # b never sent
    later = checker.verify("$argon2id$c", PASSWORD)
    reply(hasher, [False, 0.01])
    assert result(later) is False


def test_a_login_whose_client_hangs_up_while_queued_is_never_hashed():
    """Through the HTTP site: Klein cancels the handler's Deferred when the client goes
    away, and a check still queued is taken back."""
    client = ApiClient()
    reactor = Reactor()
    client.core.auth.passwords = passwords.Passwords(Hashers(reactor, count=1), workers=1)
    busy = client.core.auth.passwords.hash(PASSWORD)  # the one process is busy
    protocol = login_in_flight(client)
    assert client.core.auth.passwords.pending == 2
    protocol.connectionLost(Failure(ConnectionLost()))
    assert client.core.auth.passwords.pending == 1
    (hasher,) = reactor.spawned
    reply(hasher, ["$x", 0.01])
    assert result(busy) == "$x"
    assert client.core.auth.passwords.pending == 0
    assert [r[0] for r in requests_of(hasher)] == ["hash"]  # the login's never sent
