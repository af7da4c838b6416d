"""Which JSON library the hot path should use: the candidates on lairchat's own frames.

``python -m bench.jsonlibs`` times, for every library installed of orjson (what
lairchat uses), msgspec, ujson and the standard library's json:

- *decode*: a ``send_message`` frame, bytes to dict (once per message received);
- *decode typed*: the same frame through msgspec's decoder for that one shape, which
  checks its fields as it parses (lairchat's ``realtime/codec.py`` does this first;
  any other frame takes orjson and the schema table);
- *encode response* and *encode event*: the ``send_message_response`` and
  ``message_received`` lairchat builds for it, dict to UTF-8 bytes (once each per
  message; an event's bytes are then shared by all its recipients).

Each figure is the best of five timings of 20,000 calls, in µs per call, on the
core the process runs on: a comparison of libraries on one machine, not a
figure to compare across machines. Only orjson is a dependency; install the others
to compare (``pip install msgspec ujson``).
"""

from __future__ import annotations

import importlib
import json
import timeit
from collections.abc import Callable
from typing import Any

CALLS = 20_000
REPEATS = 5

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


def _best(call: Callable[[], Any], calls: int = CALLS) -> float:
    """µs per call, the best of REPEATS timings of ``calls`` calls."""
    return min(timeit.repeat(call, number=calls, repeat=REPEATS)) / calls * 1e6


def measure(calls: int = CALLS) -> dict[str, dict[str, float]]:
    """library -> µs per call of each operation; checks each library's output first."""
    results = {}
    for name, (decode, encode) in _installed().items():
        if decode(FRAME)["content"] != json.loads(FRAME)["content"]:
            raise RuntimeError(f"{name} decodes the frame differently")
        if json.loads(encode(EVENT)) != EVENT:
            raise RuntimeError(f"{name} encodes the event differently")
        results[name] = {
            "decode": _best(lambda d=decode: d(FRAME), calls),
            "encode response": _best(lambda e=encode: e(RESPONSE), calls),
            "encode event": _best(lambda e=encode: e(EVENT), calls),
        }
    return results


def typed_decode(calls: int = CALLS) -> float:
    """µs per call of lairchat's typed decode of the frame (msgspec)."""
    from lairchat.realtime.codec import _SEND_TO_ROOM

    if _SEND_TO_ROOM.decode(FRAME).content != json.loads(FRAME)["content"]:
        raise RuntimeError("the typed decoder decodes the frame differently")
    return _best(lambda: _SEND_TO_ROOM.decode(FRAME), calls)


def main() -> None:
    results = measure()
    columns = ["decode", "encode response", "encode event"]
    print("| library | " + " | ".join(f"{c} (µs)" for c in columns) + " | per message |")
    print("|---|" + "---|" * (len(columns) + 1))
    for name, row in sorted(results.items(), key=lambda item: sum(item[1].values())):
        cells = " | ".join(f"{row[c]:.2f}" for c in columns)
        print(f"| {name} | {cells} | {sum(row.values()):.2f} |")
    print(f"\nmsgspec, typed to the send_message shape (lairchat): decode {typed_decode():.2f} µs")


if __name__ == "__main__":
    main()
