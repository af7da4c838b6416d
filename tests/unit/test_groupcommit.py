"""Group commit: one transaction at a time, each item acknowledged after its own."""

from __future__ import annotations

from contextlib import contextmanager

from twisted.internet import defer
from twisted.python.failure import Failure

from lairchat.core.groupcommit import GroupCommit


class Writer:
    """A batch writer whose transactions wait until the test ends them."""

    def __init__(self) -> None:
        self.batches: list[list] = []
        self.waiting: list[defer.Deferred] = []

    def __call__(self, items: list) -> defer.Deferred:
        self.batches.append(list(items))
        d: defer.Deferred = defer.Deferred()
        self.waiting.append(d)
        return d

    def commit(self) -> None:
        batch = self.batches[len(self.batches) - len(self.waiting)]
        self.waiting.pop(0).callback([f"done:{item}" for item in batch])


def outcomes(d: defer.Deferred) -> list:
    out: list = []
    d.addBoth(out.append)
    return out


def test_items_added_while_writing_share_the_next_transaction() -> None:
    writer = Writer()
    commits = GroupCommit(writer)
    first = outcomes(commits.add("a"))
    later = [outcomes(commits.add(x)) for x in ("b", "c")]
    assert writer.batches == [["a"]] and commits.queued == 2
    writer.commit()
    assert first == ["done:a"] and later == [[], []]  # not before their own commit
    assert writer.batches == [["a"], ["b", "c"]]
    writer.commit()
    assert later == [["done:b"], ["done:c"]] and commits.queued == 0


def test_a_failed_transaction_fails_every_item_in_it_and_the_next_one_starts_fresh() -> None:
    writer = Writer()
    commits = GroupCommit(writer)
    first = outcomes(commits.add("a"))
    writer.waiting.pop(0).errback(Failure(RuntimeError("disk full")))
    assert isinstance(first[0], Failure) and first[0].check(RuntimeError)
    after = outcomes(commits.add("b"))
    writer.commit()
    assert after == ["done:b"]


def test_acknowledgements_run_inside_around_and_additions_from_them_wait() -> None:
    writer = Writer()
    scopes: list[str] = []

    @contextmanager
    def around():
        scopes.append("enter")
        yield
        scopes.append("exit")

    commits = GroupCommit(writer, around)
    follow: list[list] = []

    def acknowledged(value: str) -> str:
        scopes.append(value)
        follow.append(outcomes(commits.add("next")))
        return value

    commits.add("a").addCallback(acknowledged)
    commits.add("b").addCallback(acknowledged)
    writer.commit()  # "a" alone
    writer.commit()  # "b", then the follow-up from "a"
    assert scopes[:3] == ["enter", "done:a", "exit"]
    assert writer.batches == [["a"], ["b", "next"], ["next"]]


def test_submit_calls_back_without_a_deferred_and_one_failing_caller_spoils_nothing() -> None:
    writer = Writer()
    commits = GroupCommit(writer)
    told: list = []

    def broken(result: object, tag: str) -> None:
        raise RuntimeError("a caller's bug")

    commits.submit("a", told.append)
    commits.submit("b", broken, "b")
    commits.submit("c", lambda result, tag: told.append((result, tag)), "c")
    writer.commit()  # "a" alone
    writer.commit()  # "b" and "c" together
    assert told == ["done:a", ("done:c", "c")]
    assert writer.batches == [["a"], ["b", "c"]]
    assert commits.queued == 0


def test_submit_reports_a_failed_transaction_to_every_caller() -> None:
    writer = Writer()
    commits = GroupCommit(writer)
    told: list = []
    commits.submit("a", told.append)
    writer.waiting.pop(0).errback(RuntimeError("disk full"))
    assert len(told) == 1 and isinstance(told[0], Failure)
