"""What the server's helper processes share: their environment and their framing.

The server starts two kinds of helper process (the message writer,
:mod:`lairchat.storage.sqlite.writer`, and the password hashers,
:mod:`lairchat.hashers`). Each reads requests on its standard input and answers on
its standard output, every message framed as on the TCP protocol: a 4-byte
big-endian length, then the bytes (JSON).
"""

from __future__ import annotations

import os
import struct
from typing import IO

PREFIX = struct.Struct("!I")


def frame(data: bytes) -> bytes:
    return PREFIX.pack(len(data)) + data


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next message from ``stream``; None once it has ended (the other side
    closed it, or died)."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    return stream.read(PREFIX.unpack(head)[0])


def write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(frame(data))
    stream.flush()


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The whole messages at the start of ``buffer``, and what is left of it."""
    messages = []
    offset = 0
    while len(buffer) - offset >= 4:
        (size,) = PREFIX.unpack_from(buffer, offset)
        end = offset + 4 + size
        if end > len(buffer):
            break
        messages.append(buffer[offset + 4 : end])
        offset = end
    return messages, buffer[offset:]


def child_environment() -> dict[str, str]:
    """The server's environment without its settings (the JWT secret among them),
    and with this copy of lairchat first on the import path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAIR_")}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env
