"""Build and drive bench/loadgen.c (pinned to the load generator's core)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.procs import BENCH, LOADGEN_CORE, Sample, pinned, spawn

#: Room id placed in the frames sent to the relays (they never read it).
NO_ROOM = "00000000-0000-4000-8000-000000000000"


def build(outdir: Path) -> Path:
    """Compile the load generator with gcc; it is our own code, built for this run."""
    binary = outdir / "loadgen"
    subprocess.run(
        ["gcc", "-O2", "-Wall", "-o", str(binary), str(BENCH / "loadgen.c")],
        check=True,
    )
    return binary


class LoadgenError(RuntimeError):
    pass


class Loadgen:
    def __init__(self, binary: Path, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.count = 0

    def _conns_file(self, conns: Sequence[tuple[str, str, str]]) -> Path:
        self.count += 1
        path = self.workdir / f"conns-{self.count}.txt"
        path.write_text("".join(f"{token} {room} {role}\n" for token, room, role in conns))
        return path

    def _argv(self, mode: str, conns: Sequence[tuple[str, str, str]], **opts: Any) -> list[str]:
        argv = [str(self.binary), mode, "--conns", str(self._conns_file(conns))]
        for key, value in opts.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        return pinned(LOADGEN_CORE, argv)

    def run(
        self,
        conns: Sequence[tuple[str, str, str]],
        sample: Callable[[], Sample],
        time_limit: float,
        **opts: Any,
    ) -> dict[str, Any]:
        """One ``loadgen run``; ``sample`` is taken at the start and end of the
        measurement window, so the server's CPU covers exactly that window."""
        stderr = (self.workdir / f"loadgen-{self.count + 1}.err").open("wb")
        proc = spawn(self._argv("run", conns, **opts), stdout=subprocess.PIPE, stderr=stderr)
        stderr.close()
        timer = threading.Timer(time_limit, proc.kill)
        timer.start()
        samples: list[Sample] = []
        result: dict[str, Any] | None = None
        try:
            for line in proc.stdout:
                msg = orjson.loads(line)
                if msg.get("event") in ("measure_start", "measure_end"):
                    samples.append(sample())
                else:
                    result = msg
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0 or result is None:
            err = (self.workdir / f"loadgen-{self.count}.err").read_text(errors="replace")
            raise LoadgenError(f"loadgen failed ({proc.returncode}): {err[-2000:]}")
        if len(samples) == 2:
            result.update(Sample.usage(*samples))
        return result

    def hold(self, conns: Sequence[tuple[str, str, str]], time_limit: float, **opts: Any) -> Hold:
        return Hold(self, conns, time_limit, **opts)


class Hold:
    """``loadgen idle``: connections opened and authenticated, held until released."""

    def __init__(self, lg: Loadgen, conns: Sequence[tuple[str, str, str]], limit: float, **opts):
        self.err_path = lg.workdir / f"loadgen-{lg.count + 1}.err"
        stderr = self.err_path.open("wb")
        self.proc = spawn(
            lg._argv("idle", conns, **opts),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        stderr.close()
        self.timer = threading.Timer(limit, self.proc.kill)
        self.timer.start()
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.timer.cancel()
            raise LoadgenError(f"loadgen idle failed: {self.err_path.read_text()[-2000:]}")
        self.ready = orjson.loads(line)

    def release(self) -> dict[str, Any]:
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        self.proc.wait()
        self.timer.cancel()
        return orjson.loads(out.strip().splitlines()[-1])
