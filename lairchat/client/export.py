"""Where ``/export PATH`` saves the user's data (docs/CLIENT.md, "Downloading your
data"): the server's export, written to disk as it arrives, never held whole.

It goes to a hidden file beside ``PATH`` (mode 0600, made by ``mkstemp``), which
becomes ``PATH`` only once the export is whole: its body ends with
``"complete":true`` (docs/protocols/HTTP.md). A cut-off export leaves nothing
behind, and an existing ``PATH`` is replaced only when the user said so
(``/export!``), even if it appeared while the export ran.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from typing import BinaryIO

from lairchat.client.net.errors import ServerError

#: The key only a message has in the export (its other objects have no author):
#: counted to say how many messages were saved. Inside a JSON string a quote is
#: escaped, so the sequence cannot come from a message's text.
MESSAGE_KEY = b'"author":'
#: How the body of a whole export ends (the server writes it last).
_COMPLETE = re.compile(rb'"complete"\s*:\s*true\s*\}\s*$')
#: Bytes of the body's end kept to look for it.
_TAIL = 64


def _file_error(path: str, error: OSError) -> ServerError:
    return ServerError("file_error", f"Cannot write {path}: {error.strerror or error}")


class ExportFile:
    """``ExportFile(path, overwrite)``: :meth:`check` before asking for the password,
    :meth:`write` each piece, then :meth:`finish` (or :meth:`abort`)."""

    def __init__(self, path: str, overwrite: bool = False):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.overwrite = overwrite
        #: Bytes and messages written so far.
        self.size = 0
        self.messages = 0
        self._tail = b""
        self._file: BinaryIO | None = None
        self._part: str | None = None

    def check(self) -> None:
        """``file_error`` when ``PATH`` exists and may not be replaced, or is a
        directory."""
        if os.path.isdir(self.path):
            raise ServerError("file_error", f"{self.path} is a folder: name a file")
        if os.path.lexists(self.path) and not self.overwrite:
            raise ServerError(
                "file_error", f"{self.path} exists: /export! PATH replaces it, or name another"
            )

    def write(self, data: bytes) -> None:
        if self._file is None:
            self._open()
        assert self._file is not None
        try:
            self._file.write(data)
        except OSError as error:
            raise _file_error(self.path, error) from None
        counted = self._tail[-(len(MESSAGE_KEY) - 1) :] + data
        self.messages += counted.count(MESSAGE_KEY)
        self.size += len(data)
        self._tail = (self._tail + data)[-_TAIL:]

    def _open(self) -> None:
        folder, name = os.path.split(self.path)
        try:
            fd, self._part = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        except OSError as error:
            raise _file_error(self.path, error) from None
        self._file = os.fdopen(fd, "wb")

    @property
    def complete(self) -> bool:
        return _COMPLETE.search(self._tail) is not None

    def finish(self) -> None:
        """The export is in: ``PATH`` now, if it is whole (else ``cut_off``, and
        nothing is kept)."""
        if not self.complete:
            self.abort()
            raise ServerError(
                "cut_off",
                f"The export was cut off after {self.size} bytes (the server stopped or "
                "the connection broke): nothing was saved, try again",
            )
        assert self._file is not None and self._part is not None  # whole: written to
        try:
            # On disk before it takes PATH's name: after a crash of the machine, PATH is
            # the whole export or absent, never an empty or partial file.
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if self.overwrite:
                os.replace(self._part, self.path)
            else:
                _place(self._part, self.path)
        except OSError as error:
            self.abort()
            if isinstance(error, FileExistsError):
                self.check()
            raise _file_error(self.path, error) from None
        self._part = None

    def abort(self) -> None:
        """Drop what was written (idempotent)."""
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self._part is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._part)
            self._part = None


def _place(part: str, path: str) -> None:
    """Move ``part`` to ``path`` unless ``path`` exists (``FileExistsError``): a hard
    link fails rather than replace; where links are not to be had (some file
    systems), a rename once ``path`` is checked absent."""
    try:
        os.link(part, path)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(path) from None
        os.rename(part, path)
        return
    os.unlink(part)
