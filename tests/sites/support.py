"""Real processes for the sites tests: redis-server, `camscan worker`, a lab, a TLS server.

Every process is started by the test, in a temporary directory, and stopped by it; network
processes listen on loopback or on addresses inside network namespaces the tests create.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

LAB = r"""
import json, sys, trio
from camscan.lab import open_lab

async def main():
    block, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    async with open_lab(size=size, block=block, https_port=8443, http_port=None, ws_discovery=False) as lab:
        lab.write_bundles(out)
        print(json.dumps([str(e.address) for e in lab.endpoints()]), flush=True)
        await trio.sleep_forever()

trio.run(main)
"""

TLS_SERVER = r"""
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((sys.argv[3], int(sys.argv[4])))
sock.listen(16)
print("ready", flush=True)
while True:
    conn, _ = sock.accept()
    conn.settimeout(5)
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError:
        conn.close()
"""


def camscan(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`camscan ARGS` in a child process (this machine's namespace), with extra environment."""
    return subprocess.run(
        [PYTHON, "-m", "camscan", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def in_ns(ns: str | None, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv] if ns else list(argv)


def wait_for_line(path: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        for line in text.splitlines():
            if needle in line:
                return line
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited ({proc.returncode}):\n{text[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"no {needle!r} in {path} within {timeout} s:\n{path.read_text()[-3000:]}")


@dataclass
class Procs:
    """Processes started with their own process group, all stopped by stop_all()."""

    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        self.started.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            self.kill(proc, signal.SIGTERM if proc.poll() is None else signal.SIGKILL)
        self.started.clear()


@dataclass
class Redis:
    port: int
    password: str
    proc: subprocess.Popen[bytes]

    def url(self, host: str = "127.0.0.1") -> str:
        return f"redis://:{self.password}@{host}:{self.port}/0"


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def start_redis(
    procs: Procs, workdir: Path, *, binds: Sequence[str], port: int, ns: str | None = None
) -> Redis:
    """redis-server with a password, no persistence, its files in `workdir`."""
    password = secrets.token_hex(16)
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "redis.conf"
    conf.write_text(
        f"port {port}\nbind {' '.join(binds)}\nrequirepass {password}\nprotected-mode yes\n"
        f'save ""\nappendonly no\ndir {workdir}\nlogfile {workdir / "redis.log"}\ndaemonize no\n'
    )
    conf.chmod(0o600)
    proc = procs.start(in_ns(ns, ["redis-server", str(conf)]), workdir / "redis.out")
    wait_for_line(workdir / "redis.log", "Ready to accept connections", proc, 20)
    return Redis(port, password, proc)


def write_worker_config(
    path: Path, site: str, allow: Sequence[str], *, rate: float | None = None, queue: str | None = None
) -> Path:
    limits = f"rate = {rate}\n" if rate else ""
    quoted = ", ".join(f'"{a}"' for a in allow)
    queue_line = f'queue = "{queue}"\n' if queue else ""
    path.write_text(
        f'[worker]\nsite = "{site}"\n{queue_line}allow = [{quoted}]\n\n'
        f"[scan]\nconcurrency = 64\nws_discovery = false\n{limits}\n"
        '[broker]\nurl_env = "CAMSCAN_BROKER_URL"\n'
    )
    return path


def start_worker(
    procs: Procs, config: Path, name: str, broker_url: str, log: Path, ns: str | None = None
) -> subprocess.Popen[bytes]:
    argv = [PYTHON, "-m", "camscan", "worker", "--config", str(config), "--name", name, "--loglevel", "INFO"]
    proc = procs.start(in_ns(ns, argv), log, env={"CAMSCAN_BROKER_URL": broker_url})
    wait_for_line(log, " ready.", proc, 90)
    return proc


ROGUE_WORKER = r"""
import sys
from camscan.sites.broker import TASK_NAME, BrokerSettings, make_app

app = make_app(BrokerSettings())

@app.task(name=TASK_NAME)
def sweep(request):
    # Answers in the right envelope, but the report is not JSON: the central side must refuse it.
    return {"site": request["site"], "shard": request["shard"], "worker": "rogue", "report": "{not json"}

app.worker_main(["worker", "--queues", sys.argv[1], "--hostname", sys.argv[2], "--concurrency", "1",
                 "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"])
"""
