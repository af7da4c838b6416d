"""Server processes under test, pinned to a core, and what /proc says about them."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from lairchat.testing import Readiness

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVER_CORE = "0"
LOADGEN_CORE = "1"
JWT_SECRET = "bench-secret-0123456789abcdef-0123456789abcdef"
STARTUP_TIMEOUT = 60.0
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


#: The machine may be shared: as root, the measured processes run at the highest
#: priority, so that other work on their core cannot take more than a sliver of it.
#: Linux divides CPU time between sessions first (autogroups), so each one also gets
#: a session of its own whose priority is raised (see ``spawn``).
PRIORITY = ["nice", "-n", "-20"] if os.geteuid() == 0 else []


def pinned(cores: str | None, argv: list[str]) -> list[str]:
    return [*PRIORITY, "taskset", "-c", cores, *argv] if cores else [*PRIORITY, *argv]


def spawn(argv: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen:
    """Start a measured process in a session of its own, at the top priority if allowed.

    It imports ``lairchat`` from this checkout (``PYTHONPATH``), not from wherever the
    package is installed: measuring another tree with an installed one would time
    the installed code."""
    env = {**(os.environ if env is None else env), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(argv, start_new_session=True, env=env, **kwargs)
    if PRIORITY:
        with contextlib.suppress(OSError):
            Path(f"/proc/{process.pid}/autogroup").write_text("-20")
    return process


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a whole process (every thread) and of its live children
    (lairchat's message writer process is part of the server)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if stat.parent.name == str(pid) or fields[1] == str(pid):
                total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def core_times(core: str) -> dict[str, float]:
    """Seconds one CPU spent running tasks, in interrupts, stolen by the hypervisor, and
    idle, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            v = [int(x) / TICK for x in line.split()[1:9]]
            user, nice, system, idle, iowait, irq, softirq, steal = v
            return {
                "tasks": user + nice + system,
                "irq": irq + softirq,
                "steal": steal,
                "idle": idle + iowait,
            }
    return {"tasks": 0.0, "irq": 0.0, "steal": 0.0, "idle": 0.0}


#: A bucket of lairchat's message commit histogram, as /metrics shows it.
_COMMIT_BUCKET = re.compile(
    r'^lair_chat_db_transaction_duration_seconds_bucket\{le="([^"]+)",pool="messages"\} (\S+)$',
    re.M,
)


def commit_buckets(http_port: int) -> dict[str, float]:
    """lairchat's message commits so far, by duration bucket (``le`` → count): the
    group commit's round trip to the writer process, fsync included."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as r:
        return {le: float(n) for le, n in _COMMIT_BUCKET.findall(r.read().decode())}


class Sample:
    """Server CPU and how the server's core spent its time, at one moment; for
    lairchat also its message commits (``commits``, see :func:`commit_buckets`)."""

    def __init__(self, pid: int | None, commits: dict[str, float] | None = None):
        self.t = time.monotonic()
        self.cpu = cpu_seconds(pid) if pid else 0.0
        self.core = core_times(SERVER_CORE)
        self.loadgen_core = core_times(LOADGEN_CORE)
        self.commits = commits

    @staticmethod
    def usage(a: Sample, b: Sample) -> dict[str, float]:
        wall = max(b.t - a.t, 1e-9)

        def pct(x: float) -> float:
            return round(100 * x / wall, 1)

        d = {k: b.core[k] - a.core[k] for k in a.core}
        server = b.cpu - a.cpu
        commits = {}
        if a.commits and b.commits:
            # The disk's fsync time is in every acknowledgement's latency: how many
            # commits the window had, and how many took longer than 5 ms.
            made = b.commits["+Inf"] - a.commits["+Inf"]
            fast = b.commits["0.005"] - a.commits["0.005"]
            commits = {"commits": int(made), "commits_over_5ms": int(made - fast)}
        # The machine may be shared (other processes) and virtual (steal): both take
        # the server's core away from it, and are reported beside each figure.
        return {
            **commits,
            "server_cpu_pct": pct(server),
            "core0_other_tasks_pct": pct(max(0.0, d["tasks"] - server)),
            "core0_irq_pct": pct(d["irq"]),
            "core0_steal_pct": pct(d["steal"]),
            "core0_idle_pct": pct(d["idle"]),
            "core1_steal_pct": pct(b.loadgen_core["steal"] - a.loadgen_core["steal"]),
        }


class Server:
    """A subprocess listening on loopback; stopped with SIGTERM, or killed."""

    name = "server"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        return self.process.pid

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = self.log_path.open("ab")
        #: Where this process's output starts (a log may hold earlier runs').
        self.log_offset = log.tell()
        self.process = spawn(
            argv,
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def _wait_listening(self) -> int:
        """Until the process prints ``listening PORT`` (bench/relay.py); the port."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                found = re.search(rb"^listening (\d+)$", log.read(), re.M)
            if found:
                return int(found[1])
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}:\n{self.tail()}")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=0.05)
        raise RuntimeError(f"{self.name} did not listen; see {self.log_path}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def sample(self) -> Sample:
        return Sample(self.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: ``BENCH_REACTOR`` values: how to install each reactor lairchat can run on (the
#: default, with none given, is Twisted's default here: epoll).
REACTORS = {
    "epoll": "from twisted.internet import epollreactor; epollreactor.install()",
    "asyncio": "from twisted.internet import asyncioreactor; asyncioreactor.install()",
    "uvloop": "import uvloop; from twisted.internet import asyncioreactor; "
    "asyncioreactor.install(uvloop.new_event_loop())",
}


class LairServer(Server):
    """lairchat itself, started the way an operator would (``twistd -n lairchat``)."""

    name = "lairchat"

    def __init__(self, workdir: Path, database: Path, cores: str | None = SERVER_CORE):
        super().__init__(workdir)
        ready = Readiness()
        env = {
            **os.environ,
            **ready.env,
            # Port 0: the server binds what the kernel gives and reports it (READY=1).
            "LAIR_TCP_PORT": "0",
            "LAIR_HTTP_PORT": "0",
            "LAIR_BIND_ADDRESS": "127.0.0.1",
            "LAIR_DATABASE_URL": f"sqlite:{database}",
            "LAIR_JWT_SECRET": JWT_SECRET,
            "LAIR_RATE_LIMITS": "off",
            "LAIR_TCP_MAX_CONNECTIONS": "0",
            "LAIR_LOG_LEVEL": "warning",
            # Receivers never speak; keep them from idling out in a long phase.
            "LAIR_IDLE_TIMEOUT": "900",
        }
        code = "from twisted.scripts.twistd import run; run()"
        switch = os.environ.get("BENCH_SWITCH_INTERVAL")  # an experiment: the GIL's interval
        if switch:
            code = f"import sys; sys.setswitchinterval({float(switch)}); {code}"
        reactor = os.environ.get("BENCH_REACTOR")  # an experiment: the reactor it runs on
        if reactor:
            code = f"{REACTORS[reactor]}; {code}"
        argv = [sys.executable, "-c", code]
        self._spawn(pinned(cores, [*argv, "-n", "--pidfile=", "lairchat"]), env)
        try:
            ports = ready.wait(self.process, STARTUP_TIMEOUT, self.tail)
        except BaseException:
            self.stop()
            raise
        finally:
            ready.close()
        self.tcp_port, self.http_port = ports["tcp"], ports["http"]

    def sample(self) -> Sample:
        return Sample(self.pid, commit_buckets(self.http_port))


class RelayServer(Server):
    """bench/relay.py: the bare Twisted (``tcp``) or Autobahn (``ws``) relay."""

    def __init__(self, workdir: Path, kind: str, cores: str | None = SERVER_CORE):
        self.name = f"relay-{kind}"
        super().__init__(workdir)
        self._spawn(pinned(cores, [sys.executable, str(BENCH / "relay.py"), kind]))
        try:
            self.port = self._wait_listening()
        except BaseException:
            self.stop()
            raise
