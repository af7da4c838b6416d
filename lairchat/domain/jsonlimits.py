"""Bounds on untrusted JSON, shared by every transport that parses it."""

from __future__ import annotations

from typing import Any

#: Deepest nesting accepted (the top-level object is 1). Real messages and bodies
#: need 3; the bound keeps what handlers are given small and cheap to walk.
MAX_DEPTH = 32


def too_deep(raw: bytes, parsed: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``parsed`` (decoded from ``raw``) nests deeper than ``limit``.

    Cheap for ordinary input: fewer opening brackets than the limit cannot nest past
    it. Otherwise breadth-first, one level per step, without recursion."""
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return False
    level: list[Any] = [parsed]
    for _ in range(limit):
        level = [
            child
            for node in level
            if type(node) is dict or type(node) is list
            for child in (node.values() if type(node) is dict else node)
            if type(child) is dict or type(child) is list
        ]
        if not level:
            return False
    return True
