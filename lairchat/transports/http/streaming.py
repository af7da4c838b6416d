"""A response body sent as it is made, at the pace the client takes it.

A route returns a :class:`StreamedBody` instead of a JSON value; Klein renders it,
and it writes the pieces of an async iterator (chunked: no ``Content-Length``) as a
push producer on the request: while the connection's buffer is full Twisted pauses
it, and no next piece is asked for (so nothing more is read from the database) until
it resumes. A client that goes away stops it. A failure once the answer has begun
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


@implementer(IPushProducer)
class StreamedBody(Resource):
    """``StreamedBody(pieces, headers, done)``: a 200 with ``headers`` and the bytes of
    ``pieces``; ``done()`` is called once it ends, however it ends."""

    isLeaf = True
    log = Logger()

    def __init__(
        self,
        pieces: AsyncGenerator[bytes, None],
        headers: dict[bytes, bytes],
        done: Callable[[], None],
    ):
        super().__init__()
        self.pieces = pieces
        self.headers = headers
        self.done = done
        #: Fires when the producer is resumed; None while it is not paused.
        self._paused: defer.Deferred | None = None
        self._job: defer.Deferred | None = None

    def render(self, request: Any) -> Any:
        self._job = defer.Deferred.fromCoroutine(self._send(request))
        return server.NOT_DONE_YET

    # -- IPushProducer ----------------------------------------------------------------

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted's name)
        if self._paused is None:
            self._paused = defer.Deferred()

    def resumeProducing(self) -> None:  # noqa: N802
        paused, self._paused = self._paused, None
        if paused is not None:
            paused.callback(None)

    def stopProducing(self) -> None:  # noqa: N802
        """The client went away: stop wherever the sending is (a read, a pause)."""
        if self._job is not None:
            self._job.cancel()

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
            await self.pieces.aclose()
            self.done()
