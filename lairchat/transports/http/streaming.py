"""A response body sent as it is made, at the pace the client takes it.

A route returns a :class:`StreamedBody` instead of a JSON value; Klein renders it,
and it writes the pieces of an async iterator (chunked: no ``Content-Length``) as a
push producer on the request: while the connection's buffer is full Twisted pauses
it, and no next piece is asked for (so nothing more is read from the database) until
it resumes. A client that goes away stops it, and so does one that takes nothing
for :data:`STALL` seconds (its connection is closed): paused, the body would
otherwise hold its connection, and an export its user's one turn, for as long as
the client kept the socket open without reading. A failure once the answer has begun
(its status is sent) cannot become an error answer: the connection is closed
without the body's end, which a client sees as a transfer cut off.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.web import server
from twisted.web.resource import Resource
from zope.interface import implementer

from lairchat.domain.errors import already_logged

#: Seconds a paused body waits for its client to take bytes again before it closes
#: the connection (a proxy's read timeout is 60 s by default in nginx).
STALL = 120.0


@implementer(IPushProducer)
class StreamedBody(Resource):
    """``StreamedBody(pieces, headers, done, clock)``: a 200 with ``headers`` and the
    bytes of ``pieces``; ``done()`` is called once it ends, however it ends. ``clock``
    (IReactorTime) times a client that stops reading (:data:`STALL`)."""

    isLeaf = True
    log = Logger()

    def __init__(
        self,
        pieces: AsyncGenerator[bytes, None],
        headers: dict[bytes, bytes],
        done: Callable[[], None],
        clock: Any,
        stall: float = STALL,
    ):
        super().__init__()
        self.pieces = pieces
        self.headers = headers
        self.done = done
        self.clock = clock
        self.stall = stall
        self._request: Any = None
        #: Closes the connection of a client that has not read for ``stall`` seconds.
        self._stall_call: Any = None
        #: Fires when the producer is resumed; None while it is not paused.
        self._paused: defer.Deferred | None = None
        self._job: defer.Deferred | None = None

    def render(self, request: Any) -> Any:
        self._request = request
        self._job = defer.Deferred.fromCoroutine(self._send(request))
        return server.NOT_DONE_YET

    # -- IPushProducer ----------------------------------------------------------------

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted's name)
        if self._paused is None:
            self._paused = defer.Deferred()
            self._stall_call = self.clock.callLater(self.stall, self._stalled)

    def resumeProducing(self) -> None:  # noqa: N802
        self._cancel_stall()
        paused, self._paused = self._paused, None
        if paused is not None:
            paused.callback(None)

    def stopProducing(self) -> None:  # noqa: N802
        """The client went away: stop wherever the sending is (a read, a pause)."""
        self._cancel_stall()
        if self._job is not None:
            self._job.cancel()

    def _stalled(self) -> None:
        """The client took nothing for :attr:`stall` seconds: close its connection (the
        body stops with it, as for a client gone)."""
        self._stall_call = None
        self.log.info(
            "{path}: the client took nothing for {stall:g} s; connection closed",
            path=self._request.path.decode("latin-1"),
            stall=self.stall,
        )
        self.stopProducing()
        # Aborted: a close would wait for the unread bytes to drain, that is, for ever.
        transport = getattr(self._request.channel, "transport", None)
        if transport is not None:
            transport.abortConnection()
        else:
            self._request.loseConnection()

    def _cancel_stall(self) -> None:
        if self._stall_call is not None and self._stall_call.active():
            self._stall_call.cancel()
        self._stall_call = None

    # -- sending ----------------------------------------------------------------------

    async def _send(self, request: Any) -> None:
        try:
            if request.channel is None:
                return  # the client left while the answer was being prepared
            request.setResponseCode(200)
            for name, value in self.headers.items():
                request.setHeader(name, value)
            request.registerProducer(self, True)
            request.notifyFinish().addErrback(lambda _: self.stopProducing())
            async for piece in self.pieces:
                request.write(piece)
                if self._paused is not None:
                    await self._paused
        except defer.CancelledError:
            return  # the client is gone: nothing more to write to
        except Exception as error:
            if not already_logged(error):
                self.log.failure("streaming {path} failed", path=request.path.decode("latin-1"))
            request.unregisterProducer()
            request.loseConnection()  # without the body's end: the client sees it cut off
        else:
            request.unregisterProducer()
            request.finish()
        finally:
            self._cancel_stall()
            await self.pieces.aclose()
            self.done()
