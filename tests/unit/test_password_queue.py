"""Password checks refused, not queued without end, while the password hashers are
behind (lairchat.core.passwords.Passwords)."""

from __future__ import annotations

import orjson
import pytest
from twisted.internet import defer
from twisted.internet.error import ConnectionLost
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

import lairchat.core.passwords as passwords
from lairchat.core.auth import LOCKOUT_THRESHOLD
from lairchat.domain.errors import LairError
from lairchat.testing import make_core, result
from lairchat.transports.http.testing import CHEAP_HASHER, ApiClient

PASSWORD = "password1"


class Pool:
    """Hashing workers whose work runs when the test says (:func:`run_one`), each
    hash taking ``took`` seconds (as the worker measures it) by the checker's clock
    (``now``)."""

    def __init__(self) -> None:
        self.queued: list[tuple] = []
        self.t = 0.0
        self.took = 0.5

    def run(self, operation, *args) -> defer.Deferred:
        d = defer.Deferred()
        self.queued.append((operation, args, d))
        return d

    def now(self) -> float:
        return self.t


@pytest.fixture(autouse=True)
def cheap(monkeypatch):
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)


def checker(pool: Pool, threads: int = 2, max_wait: float = 1.0) -> passwords.Passwords:
    return passwords.Passwords(pool.run, workers=threads, max_wait=max_wait, now=pool.now)


def run_one(pool: Pool) -> None:
    """Run the oldest queued hash in its worker, the clock moving ``pool.took``
    while it runs."""
    operation, args, d = pool.queued.pop(0)
    pool.t += pool.took
    try:
        value = passwords.OPERATIONS[operation](*args)
    except Exception:
        d.errback()
    else:
        d.callback((value, pool.took))


def test_checks_are_queued_while_the_wait_stays_under_the_bound():
    pool = Pool()
    check = checker(pool)
    check.seconds = 0.5
    hashed = CHEAP_HASHER.hash(PASSWORD)
    # 2 threads, 0.5 s a hash, 1 s at most: the 6th would wait 3 hashes a thread.
    accepted = [check.verify(hashed, PASSWORD) for _ in range(6)]
    assert check.pending == 6
    refused = check.verify(hashed, PASSWORD)
    error = result(refused.addErrback(lambda f: f.value))
    assert isinstance(error, LairError)
    assert (error.code, error.status) == ("rate_limited", 429)
    assert error.details == {"retry_after": 1, "limit": 2}
    assert check.pending == 6 and check.refused == 1
    assert len(pool.queued) == 6  # nothing handed to the threads
    while pool.queued:
        run_one(pool)
    assert [result(d) for d in accepted] == [True] * 6
    assert check.pending == 0


def test_a_free_thread_takes_a_check_however_slow_hashing_has_been():
    pool = Pool()
    check = checker(pool, threads=2, max_wait=1.0)
    check.seconds = 60.0
    first, second = check.hash(PASSWORD), check.hash(PASSWORD)
    assert check.pending == 2 and len(pool.queued) == 2
    third = check.hash(PASSWORD)
    assert isinstance(result(third.addErrback(lambda f: f.value)), LairError)
    run_one(pool)
    run_one(pool)
    assert result(first).startswith("$argon2id$") and result(second).startswith("$argon2id$")


def test_the_estimate_follows_how_long_hashes_take():
    pool = Pool()
    check = checker(pool, threads=1, max_wait=1.0)
    assert check.seconds == passwords.FIRST_GUESS
    pool.took = 2.0
    for _ in range(30):
        d = check.hash(PASSWORD)
        run_one(pool)
        result(d)
    assert check.seconds == pytest.approx(2.0, rel=0.01)
    assert check.expected_wait() == 0  # the thread is free
    held = check.hash(PASSWORD)
    assert check.expected_wait() == pytest.approx(2.0, rel=0.01)
    error = result(check.hash(PASSWORD).addErrback(lambda f: f.value))
    assert error.details["retry_after"] == 1
    run_one(pool)
    result(held)
    check.hash(PASSWORD)
    assert check.pending == 1 and len(pool.queued) == 1  # taken again: the thread is free


def test_a_hash_that_raises_gives_its_place_back(monkeypatch):
    pool = Pool()
    check = checker(pool)
    broken = check.verify("$argon2id$v=19$broken", PASSWORD)  # no PHC hash argon2 reads
    assert check.pending == 1
    run_one(pool)
    assert result(broken) is False
    assert check.pending == 0

    def boom(*args):
        raise RuntimeError("worker died")

    monkeypatch.setitem(passwords.OPERATIONS, "boom", boom)
    failing = check._submit("boom")
    run_one(pool)
    with pytest.raises(RuntimeError):
        result(failing)
    assert check.pending == 0


def test_a_login_refused_for_the_queue_is_not_a_failed_login():
    """The lockout counts wrong passwords: a check never made counts nothing, and the
    client is told to retry (429 rate_limited), not that the password was wrong."""
    core = make_core()
    result(core.auth.register("alice", "a@example.com", PASSWORD))
    pool = Pool()
    core.auth.passwords = checker(pool, threads=1, max_wait=0.1)
    core.auth.passwords.seconds = 1.0
    held = core.auth.login("alice", PASSWORD)  # takes the thread
    for _ in range(LOCKOUT_THRESHOLD + 2):
        error = result(core.auth.login("alice", "wrong").addErrback(lambda f: f.value))
        assert error.code == "rate_limited"
    run_one(pool)
    assert result(held).user.username == "alice"
    run_until_done = core.auth.login("alice", PASSWORD)
    run_one(pool)
    assert result(run_until_done).user.username == "alice"  # not locked


def test_a_check_whose_caller_gave_up_is_counted_until_its_thread_is_done():
    """Klein cancels a request's Deferred when its client goes away: the check's hash
    is still queued (or running) in the pool, so it still counts towards the wait.
    Before, the cancel took it off the count at once: clients that sent a login and
    hung up filled the pool's queue past the bound, and the next login was taken
    and waited behind all of them."""
    pool = Pool()
    check = checker(pool, threads=1, max_wait=1.0)
    check.seconds = 0.5
    hashed = CHEAP_HASHER.hash(PASSWORD)
    gone = [check.verify(hashed, PASSWORD) for _ in range(3)]  # 1 running, 2 queued
    for d in gone:
        d.cancel()
        assert isinstance(result(d.addErrback(lambda f: f.value)), defer.CancelledError)
    assert check.pending == 3 and len(pool.queued) == 3
    error = result(check.verify(hashed, PASSWORD).addErrback(lambda f: f.value))
    assert error.code == "rate_limited"
    while pool.queued:
        run_one(pool)  # their results go nowhere, and raise nothing
    assert check.pending == 0
    assert check.seconds == pytest.approx(0.5)
    kept = check.verify(hashed, PASSWORD)
    run_one(pool)
    assert result(kept) is True


def login_in_flight(client: ApiClient):
    """A login sent to ``client``'s HTTP site, waiting for its password check; the
    site's connection, for the test to close (Klein then cancels the handler's
    Deferred)."""
    site = client.api.site(reactor=MemoryReactorClock())
    protocol = site.buildProtocol(None)
    protocol.makeConnection(StringTransport())
    body = orjson.dumps({"identifier": "nobody", "password": PASSWORD})
    protocol.dataReceived(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    return protocol


def test_a_login_whose_client_hangs_up_keeps_its_place_in_the_count():
    """Through the HTTP server: a login sent, its connection closed while the hash
    waits for a thread (Klein cancels the handler's Deferred), and the hash is still
    counted until the thread is done with it."""
    client = ApiClient()
    pool = Pool()
    client.core.auth.passwords = checker(pool)
    protocol = login_in_flight(client)
    assert client.core.auth.passwords.pending == 1 and len(pool.queued) == 1
    protocol.connectionLost(Failure(ConnectionLost()))
    assert client.core.auth.passwords.pending == 1
    run_one(pool)
    assert client.core.auth.passwords.pending == 0
