"""``lairchat-client`` and ``python -m lairchat.client``: parse options, run the loop.

The terminal belongs to the interface, so nothing else may write to it: Twisted's and
Python's logs and any stray ``stderr`` output go to a log file, and an unexpected
crash leaves one line naming that file instead of a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from lairchat.client.config import parse_args

__all__ = ["main"]


def setup_logging(path: str) -> TextIO:
    """Send stdlib logging, Twisted's log and warnings to ``path``; return the stream."""
    stream: TextIO = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    # Twisted announces every HTTP connection ("Starting factory ..."): keep its
    # warnings and errors only.
    logging.getLogger("twisted").setLevel(logging.WARNING)
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)
    return stream


def terminal_screen() -> Any:
    """The terminal, with bracketed paste asked for rather than left to urwid's probe
    (which tmux does not answer): a paste then arrives between ``begin paste`` and
    ``end paste``, and its newlines are newlines in the message, not Enter sending
    each line. A terminal without the mode ignores the request."""
    import urwid

    return urwid.display.raw.Screen(bracketed_paste_mode=True)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        stream = setup_logging(config.log_file)
    except OSError as exc:
        print(f"lairchat-client: cannot write the log file: {exc}", file=sys.stderr)
        return 2
    log = logging.getLogger("lairchat.client")
    log.info(
        "starting: server %s, http %s, %s", config.server, config.http_url, config.transport_name
    )

    saved_stderr: Any = sys.stderr
    sys.stderr = stream
    try:
        import urwid
        from twisted.internet import reactor

        from lairchat.client.app import App
        from lairchat.client.ui.theme import PALETTE

        app = App(config, reactor)
        event_loop = urwid.TwistedEventLoop(reactor=reactor, manage_reactor=True)
        loop = urwid.MainLoop(
            app.ui, PALETTE, screen=terminal_screen(), event_loop=event_loop, handle_mouse=False
        )
        app.start(loop)
        loop.run()
    except KeyboardInterrupt:
        pass
    except Exception:
        log.exception("the client stopped on an unexpected error")
        sys.stderr = saved_stderr
        print(
            f"lairchat-client stopped on an unexpected error; see {config.log_file}",
            file=sys.stderr,
        )
        return 1
    finally:
        sys.stderr = saved_stderr
    log.info("bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
