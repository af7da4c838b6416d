"""A login storm: N password logins a second over ``POST /api/v1/auth/login``.

Each login costs the server one argon2id verification (about 50 ms of CPU in its
two hashing threads). Logins are offered at a fixed rate from a few keep-alive
connections, whatever the answers' latency (open loop), until stopped.
"""

from __future__ import annotations

import http.client
import itertools
import queue
import threading
import time

import orjson

from bench.wire import PASSWORD


class LoginStorm:
    def __init__(self, port: int, usernames: list[str], rate: float, workers: int = 8):
        self.port = port
        self.rate = rate
        self.names = itertools.cycle(usernames)
        self.tickets: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        self.latencies: list[float] = []
        self.failures = 0
        self.offered = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(workers)]
        self.threads.append(threading.Thread(target=self._pace, daemon=True))

    def __enter__(self) -> LoginStorm:
        self.started = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for _ in self.threads:
            self.tickets.put(None)
        for t in self.threads:
            t.join(timeout=30)
        self.elapsed = time.monotonic() - self.started

    def _pace(self) -> None:
        start = time.monotonic()
        for k in itertools.count():
            due = start + k / self.rate
            if self.stopping.wait(max(0.0, due - time.monotonic())):
                return
            self.offered += 1
            self.tickets.put((next(self.names), due))

    def _worker(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while True:
            ticket = self.tickets.get()
            if ticket is None or self.stopping.is_set():
                return
            name, due = ticket
            body = orjson.dumps({"identifier": name, "password": PASSWORD})
            try:
                conn.request(
                    "POST", "/api/v1/auth/login", body, {"Content-Type": "application/json"}
                )
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                ok = False
            with self.lock:
                if ok:
                    self.latencies.append(time.monotonic() - due)
                else:
                    self.failures += 1

    def summary(self) -> dict[str, float]:
        lat = sorted(self.latencies)

        def pct(q: float) -> float:
            return round(1000 * lat[int(q * (len(lat) - 1))], 1) if lat else 0.0

        return {
            "offered_per_s": round(self.offered / self.elapsed, 1),
            "logins_per_s": round(len(lat) / self.elapsed, 1),
            "failures": self.failures,
            "login_p50_ms": pct(0.5),
            "login_p99_ms": pct(0.99),
        }
