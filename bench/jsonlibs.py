"""Which JSON library the hot path should use: the candidates on lairchat's own frames.

``python -m bench.jsonlibs`` times, for every library installed of orjson and
msgspec (lairchat's), ujson and the standard library's json:

- *decode*: a ``send_message`` frame, bytes to dict (once per message received);
- *encode response* and *encode event*: the ``send_message_response`` and
  ``message_received`` lairchat builds for it, dict to UTF-8 bytes (once each per
  message; an event's bytes are then shared by all its recipients);
- and lairchat's own decoder for that one frame shape (msgspec, typed: it checks
  the fields as it parses; ``realtime/codec.py`` tries it first, and any other
  frame takes orjson and the schema table).

Each figure is the best of nine timings of 20,000 calls, in µs per call, with the
libraries taking turns: a comparison on one machine, not a figure to compare
across machines. Install ujson to include it (``pip install ujson``).
"""

from __future__ import annotations

import importlib
import json
import timeit
from collections.abc import Callable
from typing import Any

CALLS = 20_000
REPEATS = 9
#: lairchat's decoder for the send_message shape (msgspec, typed), in the table.
TYPED = "msgspec, typed to the send_message shape (lairchat)"

FRAME = (
    b'{"type":"send_message","target":{"type":"room","room_id":'
    b'"0199aaaa-bbbb-7ccc-8ddd-000000000042"},"content":"B|x|00000042|'
    b'0000000000000000042|xxxxxxxxxxxxxxxxxxxx","request_id":"42"}'
)
MESSAGE = {
    "id": "0199aaaa-bbbb-7ccc-8ddd-0000000000aa",
    "author": "0199aaaa-bbbb-7ccc-8ddd-0000000000bb",
    "target": {"type": "room", "room_id": "0199aaaa-bbbb-7ccc-8ddd-000000000042"},
    "content": "B|x|00000042|0000000000000000042|xxxxxxxxxxxxxxxxxxxx",
    "edited": False,
    "created_at": "2026-11-22T18:40:01.123456Z",
}
RESPONSE = {
    "type": "send_message_response",
    "request_id": "42",
    "success": True,
    "message": MESSAGE,
}
EVENT = {"type": "message_received", "message": MESSAGE, "author_username": "user0042"}


def _stdlib() -> tuple[Callable[[bytes], Any], Callable[[Any], bytes]]:
    # The compact form lairchat's frames use, and UTF-8 out, as the others give.
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    return json.loads, lambda obj: encoder.encode(obj).encode()


def _installed() -> dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes]]]:
    """name -> (decode, encode to bytes), for each library that imports."""
    libraries = {"json (stdlib)": _stdlib()}
    for name, build in (
        ("orjson", lambda m: (m.loads, m.dumps)),
        ("msgspec", lambda m: (m.json.decode, m.json.encode)),
        ("ujson", lambda m: (m.loads, lambda obj: m.dumps(obj).encode())),
    ):
        try:
            module = importlib.import_module(name)
            if name == "msgspec":
                importlib.import_module("msgspec.json")
        except ImportError:
            continue
        libraries[name] = build(module)
    return libraries


def _checked() -> list[tuple[str, str, Callable[[], Any]]]:
    """(library, operation, a call doing it once) for each library installed, after
    checking that it decodes the frame and encodes the event as the standard library
    does; lairchat's typed decoder is a library of its own here."""
    from lairchat.realtime.codec import _SEND_TO_ROOM

    calls: list[tuple[str, str, Callable[[], Any]]] = []
    for name, (decode, encode) in _installed().items():
        if decode(FRAME)["content"] != json.loads(FRAME)["content"]:
            raise RuntimeError(f"{name} decodes the frame differently")
        if json.loads(encode(EVENT)) != EVENT:
            raise RuntimeError(f"{name} encodes the event differently")
        calls += [
            (name, "decode", lambda d=decode: d(FRAME)),
            (name, "encode response", lambda e=encode: e(RESPONSE)),
            (name, "encode event", lambda e=encode: e(EVENT)),
        ]
    if _SEND_TO_ROOM.decode(FRAME).content != json.loads(FRAME)["content"]:
        raise RuntimeError("the typed decoder decodes the frame differently")
    calls.append((TYPED, "decode", lambda: _SEND_TO_ROOM.decode(FRAME)))
    return calls


def measure(calls: int = CALLS, repeats: int = REPEATS) -> dict[str, dict[str, float]]:
    """library -> operation -> µs per call: the best of ``repeats`` timings of
    ``calls`` calls. The libraries take turns within each repeat, so that a shift
    in the machine's speed (frequent on a shared VM) falls on all of them alike."""
    best: dict[str, dict[str, float]] = {}
    checked = _checked()
    for _ in range(repeats):
        for name, operation, call in checked:
            us = timeit.timeit(call, number=calls) / calls * 1e6
            row = best.setdefault(name, {})
            row[operation] = min(us, row.get(operation, us))
    return best


def main() -> None:
    results = measure()
    columns = ["decode", "encode response", "encode event"]
    print("| library | " + " | ".join(f"{c} (µs)" for c in columns) + " | per message |")
    print("|---|" + "---|" * (len(columns) + 1))
    for name, row in sorted(results.items(), key=lambda item: -len(item[1])):
        cells = " | ".join(f"{row[c]:.2f}" if c in row else "–" for c in columns)
        total = f"{sum(row.values()):.2f}" if len(row) == len(columns) else "–"
        print(f"| {name} | {cells} | {total} |")


if __name__ == "__main__":
    main()
