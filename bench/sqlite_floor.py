"""The durable-acceptance floor: a raw sqlite3 insert loop with the server's settings.

    python bench/sqlite_floor.py DB AUTHOR_ID ROOM_ID BATCH SECONDS

Inserts message rows shaped like the server's (same table, same indexes, a fresh
time-ordered UUID per row, as the server mints them) into a copy of the benchmark
database, with WAL, synchronous=FULL and foreign keys on, committing every BATCH
rows (1 = one commit per message), for SECONDS; prints
``{"inserts_per_s": ..., "commit_ms": {...}}`` (the time each ``commit()`` took: the
fsyncs). No server, no network, no JSON.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time

from lairchat.domain.ids import new_ordered_id

INSERT = (
    "INSERT INTO messages (id, author_id, target_type, target_id, content, is_edited, "
    "created_at, updated_at) VALUES (?, ?, 'room', ?, ?, 0, ?, ?)"
)


def main() -> None:
    path, author, room, batch, seconds = sys.argv[1:6]
    batch, seconds = int(batch), float(seconds)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    content = "x" * 64
    rows = 0
    commits: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(batch):
            now = int(time.time())
            conn.execute(INSERT, (new_ordered_id(), author, room, content, now, now))
        t = time.perf_counter()
        conn.commit()
        commits.append(time.perf_counter() - t)
        rows += batch
    elapsed = time.perf_counter() - start
    conn.close()
    commits.sort()

    def pct(q: float) -> float:
        return round(1000 * commits[int(q * (len(commits) - 1))], 3)

    result = {
        "inserts_per_s": round(rows / elapsed, 1),
        "rows": rows,
        "batch": batch,
        "commit_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
