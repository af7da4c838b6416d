"""lairchat.outbox: sending at once when nothing is queued, and joining held writes."""

from __future__ import annotations

import pytest
from twisted.internet.abstract import FileDescriptor
from twisted.internet.main import CONNECTION_LOST
from twisted.internet.testing import StringTransport

from lairchat.outbox import Outbox, sender


class FakeDescriptor(FileDescriptor):
    """A FileDescriptor whose "socket" takes ``accept`` bytes per call, and which
    records what the reactor would have been asked to do."""

    def __init__(self, accept: int | None = None):
        super().__init__(reactor=object())
        self.connected = 1
        self.accept = accept
        self.sent: list[bytes] = []
        self.writing = 0

    def startWriting(self) -> None:  # noqa: N802
        self.writing += 1

    def stopWriting(self) -> None:  # noqa: N802
        pass

    def writeSomeData(self, data: bytes) -> int | BaseException:  # noqa: N802
        if self.accept is None:
            self.sent.append(bytes(data))
            return len(data)
        if self.accept < 0:
            return CONNECTION_LOST
        taken = bytes(data[: self.accept])
        self.sent.append(taken)
        return len(taken)

    def queued(self) -> bytes:
        return self.dataBuffer[self.offset :] + b"".join(self._tempDataBuffer)


def test_sends_at_once_when_nothing_is_queued():
    fd = FakeDescriptor()
    sender(fd)(b"hello")
    assert fd.sent == [b"hello"]
    assert fd.queued() == b"" and fd.writing == 0


def test_queues_what_the_kernel_did_not_take():
    fd = FakeDescriptor(accept=3)
    sender(fd)(b"hello")
    assert fd.sent == [b"hel"]
    assert fd.queued() == b"lo" and fd.writing == 1


def test_keeps_order_behind_queued_bytes():
    fd = FakeDescriptor(accept=0)
    write = sender(fd)
    write(b"first")
    fd.accept = None
    write(b"second")  # must not overtake "first"
    assert fd.sent == [b""]
    assert fd.queued() == b"firstsecond"


@pytest.mark.parametrize("flag", ["disconnecting", "TLS"])
def test_leaves_closing_and_tls_transports_to_twisted(flag):
    fd = FakeDescriptor()
    setattr(fd, flag, True)
    sender(fd)(b"data")
    assert fd.sent == []
    assert fd.queued() == b"data"


def test_nothing_is_sent_after_a_half_close():
    fd = FakeDescriptor()
    fd._writeDisconnected = True
    sender(fd)(b"data")
    assert fd.sent == [] and fd.queued() == b""


def test_a_lost_connection_is_left_for_the_reactor_to_notice():
    fd = FakeDescriptor(accept=-1)
    sender(fd)(b"data")
    assert fd.queued() == b"data" and fd.writing == 1


class FakeSocket:
    """A socket whose ``send`` takes ``accept`` bytes, or raises ``error``."""

    def __init__(self, accept: int | None = None, error: OSError | None = None):
        self.accept, self.error = accept, error
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> int:
        if self.error is not None:
            raise self.error
        taken = bytes(data if self.accept is None else data[: self.accept])
        self.sent.append(taken)
        return len(taken)


@pytest.mark.parametrize(
    ("sock", "sent", "queued"),
    [
        (FakeSocket(), [b"hello"], b""),
        (FakeSocket(accept=2), [b"he"], b"llo"),
        (FakeSocket(error=BlockingIOError()), [], b"hello"),
        (FakeSocket(error=InterruptedError()), [], b"hello"),
        (FakeSocket(error=BrokenPipeError()), [], b"hello"),  # left for the reactor
    ],
)
def test_a_socket_is_sent_to_directly(sock, sent, queued):
    fd = FakeDescriptor()
    fd.socket = sock
    sender(fd)(b"hello")
    assert fd.sent == []  # not through writeSomeData
    assert sock.sent == sent
    assert fd.queued() == queued and fd.writing == (1 if queued else 0)


def test_other_transports_get_their_own_write():
    transport = StringTransport()
    assert sender(transport) == transport.write


def test_outbox_writes_at_once_when_not_held():
    out, a = Outbox(), []
    out.write(a.append, b"x")
    assert a == [b"x"]


def test_outbox_joins_per_destination_until_the_outermost_hold_ends():
    out, a, b = Outbox(), [], []
    with out.held():
        out.write(a.append, b"1")
        with out.held():
            out.write(b.append, b"2")
            out.write(a.append, b"3")
        assert a == [] and b == []
    assert a == [b"13"]
    assert b == [b"2"]


def test_outbox_flushes_every_destination_even_if_one_fails():
    out, b = Outbox(), []

    def broken(data: bytes) -> None:
        raise RuntimeError("socket gone")

    with out.held():
        out.write(broken, b"1")
        out.write(b.append, b"2")
    assert b == [b"2"]


def test_outbox_flushes_when_the_block_raises():
    out, a = Outbox(), []
    with pytest.raises(ValueError), out.held():
        out.write(a.append, b"1")
        raise ValueError
    assert a == [b"1"]


def test_outbox_flushes_one_destination_on_demand():
    out, a, b = Outbox(), [], []
    with out.held():
        out.write(a.append, b"1")
        out.write(b.append, b"2")
        out.flush(a.append)  # e.g. before a close frame
        assert a == [b"1"] and b == []
        out.flush(a.append)  # nothing more kept: nothing sent
    assert a == [b"1"] and b == [b"2"]
