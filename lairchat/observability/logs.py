"""Log output: human-readable text or JSON lines, filtered by level.

Everything logs through ``twisted.logger``. ``twistd`` begins logging once, after the
plugin has made the service and before the reactor runs: it takes the application's
``ILogObserver`` component when there is one (the documented way for a ``.tac`` file).
:func:`observer_for_twistd` builds that observer from ``--log-format`` /
``--log-level`` and from twistd's own ``--logfile`` / ``--nodaemon``, so the file (with
its size rotation and SIGUSR1 reopening) or stdout stays where twistd would put it;
the top service installs it on the application (see ``lairchat.service``).

With ``twistd --logger=...`` or ``--syslog`` twistd's choice wins, and the ``twist``
runner has its own ``--log-format``/``--log-level``: then this module stays out.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from twisted.logger import (
    FileLogObserver,
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    eventAsText,
    textFileLogObserver,
)
from twisted.python import logfile

#: Config's level names -> Twisted's.
LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warning": LogLevel.warn,
    "error": LogLevel.error,
    "critical": LogLevel.critical,
}

#: Keys of legacy (``twisted.python.log``) events that only repeat what the line says.
_LEGACY_KEYS = frozenset({"message", "isError", "system", "time", "format", "why", "failure"})
#: Our own top-level keys: an event field of the same name does not replace them.
_RESERVED = frozenset({"time", "level", "namespace", "message", "traceback"})


def json_line(event: Mapping[str, Any]) -> str | None:
    """One event as one line of JSON: ``time`` (UTC, ISO 8601), ``level``,
    ``namespace``, ``message`` (the formatted text), every plain field of the event
    (strings, numbers, booleans, null) and ``traceback`` for a logged failure."""
    message = eventAsText(
        dict(event), includeTraceback=False, includeTimestamp=False, includeSystem=False
    )
    when = event.get("log_time")
    level = event.get("log_level")
    record: dict[str, Any] = {
        "time": _iso(when) if isinstance(when, int | float) else None,
        "level": getattr(level, "name", None),
        "namespace": event.get("log_namespace") or event.get("system"),
        "message": message,
    }
    for key, value in event.items():
        if key.startswith("log_") or key in _LEGACY_KEYS or key in _RESERVED:
            continue
        if value is None or isinstance(value, str | int | float | bool):
            record[key] = value
    failure = event.get("log_failure")
    if failure is not None:
        try:
            record["traceback"] = failure.getTraceback()
        except Exception:  # a broken failure must not lose the line
            record["traceback"] = repr(failure)
    return json.dumps(record, ensure_ascii=False, default=str) + "\n"


def _iso(seconds: float) -> str:
    stamp = datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


#: Namespaces whose info lines are routine, shown from ``debug`` only: the HTTP
#: channel says "Timing out client" at info for every kept-alive connection left idle
#: for a minute (a browser tab each minute).
QUIET_AT_INFO = ("lairchat.transports.http.site._Channel",)


def make_observer(out: IO[Any], log_format: str = "text", level: str = "info") -> ILogObserver:
    """An observer writing to ``out`` in ``log_format`` ("text" or "json"), dropping
    events below ``level`` (and the :data:`QUIET_AT_INFO` namespaces' info lines)."""
    if log_format == "json":
        writer: ILogObserver = FileLogObserver(out, json_line)
    else:
        writer = textFileLogObserver(out)
    predicate = LogLevelFilterPredicate(defaultLogLevel=LEVELS[level])
    if level == "info":
        for namespace in QUIET_AT_INFO:
            predicate.setLogLevelForNamespace(namespace, LogLevel.warn)
    return FilteringLogObserver(writer, [predicate])


def twistd_log_file(options: Mapping[str, Any]) -> IO[Any] | None:
    """The file twistd would log to for these ``twistd`` options, or None when twistd
    must decide itself (``--syslog``, ``--logger``, or ``--logfile=-`` for a daemon,
    which twistd refuses with its own message).

    The same rules as ``twisted.scripts._twistd_unix.UnixAppLogger``: stdout with
    ``--nodaemon`` and no ``--logfile``, else ``--logfile`` (default ``twistd.log``),
    rotated by size, reopened on SIGUSR1.
    """
    if options.get("syslog") or options.get("logger"):
        return None
    name = options.get("logfile") or ""
    nodaemon = bool(options.get("nodaemon"))
    if name == "-":
        return sys.stdout if nodaemon else None
    if nodaemon and not name:
        return sys.stdout
    out = logfile.LogFile.fromFullPath(name or "twistd.log")
    if not signal.getsignal(signal.SIGUSR1):

        def rotate(signum: int, frame: Any) -> None:
            from twisted.internet import reactor

            reactor.callFromThread(out.rotate)

        signal.signal(signal.SIGUSR1, rotate)
    return out


def observer_for_twistd(
    twistd_options: Mapping[str, Any] | None, log_format: str, level: str
) -> ILogObserver | None:
    """The observer for ``twistd lairchat``, or None (not twistd, or twistd decides)."""
    if twistd_options is None or "nodaemon" not in twistd_options:
        return None  # not twistd: the ``twist`` runner, a test, ...
    out = twistd_log_file(twistd_options)
    if out is None:
        return None
    return make_observer(out, log_format, level)
