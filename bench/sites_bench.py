#!/usr/bin/env python3
"""Many sites, one audit: 2 sites x N lab devices through Celery site workers, beside one machine.

Everything runs on this machine, on loopback: two lab fleets (one per "site", each in its own
process on its own 127.x block, certificates made before timing), a redis-server with a
password on 127.0.0.1, and for each round 1, 2 and 4 `camscan worker` processes per site. Each
round times `camscan scan --sites FILE --json` (discovery of the workers, the shards, the
sweeps, the results through Redis, one judgement of all sites); the single-machine run times
`camscan A B --json` over the same 2 x N devices in one process. Both use the same probes (the
default ones except WS-Discovery, which the labs do not serve here) and the same trust flags,
and each run's report must hold a chain for every device. Worker start-up is not timed (a site
worker is a long-running service).

On this machine the workers, the labs and the central side share 2 cores: the table measures
the overhead of going through sites, not the speed-up that separate machines per site give.

    .venv/bin/python bench/sites_bench.py --size 2500 --workers 1,2,4 > sites.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
BLOCKS = ("127.93.0.0/20", "127.94.0.0/20")  # loopback: one block per site
PORT = 8443

LAB = r"""
import json, sys, trio
from camscan.lab import open_lab

async def main():
    block, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    async with open_lab(size=size, block=block, https_port=8443, http_port=None, ws_discovery=False) as lab:
        await lab.prewarm()
        lab.write_bundles(out)
        addresses = [e.address for e in lab.endpoints()]
        print(json.dumps([addresses[0], addresses[-1]]), flush=True)
        await trio.sleep_forever()

trio.run(main)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(path: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if needle in line:
                return line
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited: {path.read_text()[-2000:]}")
        time.sleep(0.2)
    raise SystemExit(f"no {needle!r} in {path} within {timeout} s")


class Procs:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, **(env or {})})
        self.started.append(proc)
        return proc

    def stop(self, procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
            if proc in self.started:
                self.started.remove(proc)

    def stop_all(self) -> None:
        self.stop(list(reversed(self.started)))


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env}, timeout=3600)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv[:4]} exited {done.returncode}: {done.stderr[-2000:]}")
    return wall


def _chains(report: Path) -> tuple[int, int, int]:
    """(chains, endpoints that timed out, findings) of a report."""
    document = json.loads(report.read_text())
    summary = document["summary"]
    chains = sum(1 for e in document["endpoints"] if e.get("chain"))
    return chains, summary["failures_by_kind"]["timeout"], summary["findings"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2500, help="devices per site (default 2500)")
    parser.add_argument("--workers", default="1,2,4", help="workers per site, one round each (default 1,2,4)")
    parser.add_argument("--split-concurrency", action="store_true",
                        help="give each worker 256 / (workers per site) connections, so a site has 256 in "
                        "flight whatever its worker count (default: 256 per worker, as deployed)")
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    rounds = [int(w) for w in args.workers.split(",")]
    procs = Procs()
    work = Path(tempfile.mkdtemp(prefix="camscan-sites-bench-"))
    try:
        password, port = secrets.token_hex(16), _free_port()
        conf = work / "redis.conf"
        conf.write_text(f"port {port}\nbind 127.0.0.1\nrequirepass {password}\nsave \"\"\nappendonly no\n"
                        f"dir {work}\nlogfile {work / 'redis.log'}\n")
        conf.chmod(0o600)
        redis = procs.start(["redis-server", str(conf)], work / "redis.out")
        (work / "redis.log").touch()
        _wait_for(work / "redis.log", "Ready to accept connections", redis, 30)
        env = {"CAMSCAN_BROKER_URL": f"redis://:{password}@127.0.0.1:{port}/0"}

        ranges, bundles = [], []
        started = time.perf_counter()
        for index, block in enumerate(BLOCKS):
            out = work / f"lab{index}"
            out.mkdir()
            log = work / f"lab{index}.log"
            log.touch()
            lab = procs.start([PY, "-c", LAB, block, str(args.size), str(out)], log)
            first, last = json.loads(_wait_for(log, '["', lab, 900))
            ranges.append(f"{first}-{last}")
            bundles += ["--ca-bundle", str(out / "site-ca.pem")]
        lab_start = time.perf_counter() - started
        common = ["-p", str(PORT), "-q", "--no-ws-discovery", "--trust", "site", "--offline", *bundles]
        sites_file = work / "sites.toml"
        sites_file.write_text("".join(
            f'[[sites]]\nname = "site{i}"\ntargets = ["{r}"]\nports = "{PORT}"\n'
            for i, r in enumerate(ranges)
        ) + "[dispatch]\ntimeout = 1800\ndiscover_timeout = 1.0\n")

        rows: list[tuple[str, int, float, int, int, int]] = []
        single = work / "single.json"
        wall = _timed([PY, "-m", "camscan", *ranges, *common, "--json", str(single)], env)
        rows.append(("one machine, one run", 0, wall, *_chains(single)))
        for count in rounds:
            workers = []
            for index in range(len(BLOCKS)):
                config = work / f"worker{index}.toml"
                concurrency = 256 // count if args.split_concurrency else 256
                config.write_text(f'[worker]\nsite = "site{index}"\nallow = ["{BLOCKS[index]}"]\n\n'
                                  f"[scan]\nws_discovery = false\nconcurrency = {concurrency}\n\n[broker]\n")
                for n in range(count):
                    log = work / f"w{index}-{count}-{n}.log"
                    log.touch()
                    name = f"site{index}-{n}@bench"
                    workers.append(procs.start([PY, "-m", "camscan", "worker", "--config", str(config),
                                                "--name", name, "--loglevel", "INFO"], log, env))
            for proc, log in zip(workers, sorted(work.glob(f"w*-{count}-*.log")), strict=False):
                _wait_for(log, " ready.", proc, 120)
            report = work / f"sites-{count}.json"
            wall = _timed([PY, "-m", "camscan", "scan", "--sites", str(sites_file), *common,
                           "--json", str(report)], env)
            rows.append((f"2 sites, {count} worker{'s' if count > 1 else ''} per site", count, wall,
                         *_chains(report)))
            procs.stop(workers)
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    total = args.size * len(BLOCKS)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{now}, {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"2 sites x {args.size:,} lab devices (labs up in {lab_start:.0f} s, certificates made before "
          f"timing), load average at end {os.getloadavg()[0]:.2f}")
    print()
    per_worker = "256 / workers per site" if args.split_concurrency else "256"
    print(f"Connections in flight: 256 for the one-machine run, {per_worker} per worker.")
    print()
    print("| run | wall | devices/s | wall / one machine | chains | timed out | findings |")
    print("|---|---|---|---|---|---|---|")
    base = rows[0][2]
    for label, _, wall, chains, timeouts, findings in rows:
        ratio = wall / base
        print(f"| {label} | {wall:.1f} s | {total / wall:.0f} | {ratio:.2f}x | {chains:,} | {timeouts:,} | "
              f"{findings:,} |")


if __name__ == "__main__":
    main()
