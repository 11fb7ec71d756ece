#!/usr/bin/env python3
"""The default scan against its peers, side by side, over one lab fleet of N devices.

Starts the built-in lab fleet resized to N devices (the same mix of healthy and broken
cameras) in this process, on its own loopback block, then runs over the same targets, each run
followed by a bare trio client (connect + handshake + chain, 200 at once) so that every wall
time is read as a ratio to the floor measured moments later (the machine is shared):

- camscan default: `-q --json` (HTTP HEAD, the TLS 1.0/1.1 probe, WS-Discovery, every rule);
- camscan with the optional probes off (`--no-legacy-probe --no-ws-discovery --no-http`);
- nmap's ssl-cert script (`-sT -T4 --min-parallelism 256`), when nmap is installed;
- sslyze's API (certinfo only, 100 servers at once), when SSLYZE_PYTHON names a Python that
  has sslyze (for example a separate venv: `python3 -m venv /tmp/sslyze && /tmp/sslyze/bin/pip
  install sslyze`).

Connections per device are counted on the server side (the lab counts accepted HTTPS
connections). CPU time and peak RSS come from /usr/bin/time; "fleet CPU" is what the lab (this
process) spent serving each run: on 2 shared cores a client that makes the fleet work harder
(WS-Discovery, a legacy hello) pays for it in wall time, where real cameras bring their own CPUs.

    python -m bench.scan_bench --sizes 1000,5000 --rounds 3 > table.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import trio

from camscan.lab import Lab, open_lab

BLOCK = "127.81.0.0/16"
PORT = 8443  # in nmap's list of likely TLS ports: ssl-cert runs on it without -sV
TIME = "/usr/bin/time"


@dataclass
class Run:
    client: str
    wall: float
    cpu: float
    rss_mib: float
    chains: int
    connections: float
    bare_wall: float
    fleet_cpu: float = 0.0  # CPU seconds the lab (this process) spent serving the run


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + sys), peak RSS MiB, stdout."""
    done = subprocess.run(
        [TIME, "-v", *command], capture_output=True, text=True, env=env, timeout=1800, check=False
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[:3]} failed: {done.stderr[-2000:]}")
    err = done.stderr

    def field(name: str) -> float:
        match = re.search(rf"{re.escape(name)}: ([\d.:]+)", err)
        assert match, name
        value = match.group(1)
        if ":" in value:  # h:mm:ss or m:ss.ss
            parts = [float(p) for p in value.split(":")]
            return sum(p * 60**i for i, p in enumerate(reversed(parts)))
        return float(value)

    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    cpu = field("User time (seconds)") + field("System time (seconds)")
    return wall, cpu, field("Maximum resident set size (kbytes)") / 1024, done.stdout


class LabThread:
    """The lab on its own trio loop in a thread, so its counters can be read between runs."""

    def __init__(self, size: int) -> None:
        self.ready = threading.Event()
        self.lab: Lab | None = None
        self.size = size
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self.thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        self._stop = trio.Event()
        async with open_lab(
            size=self.size, block=BLOCK, https_port=PORT, http_port=None, ws_discovery=True
        ) as lab:
            self.lab, self._token = lab, trio.lowlevel.current_trio_token()
            self.ready.set()
            await self._stop.wait()

    def __enter__(self) -> Lab:
        self.thread.start()
        if not self.ready.wait(300):
            raise SystemExit("the lab did not start")
        assert self.lab is not None
        return self.lab

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None and self._stop is not None
        trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self.thread.join(60)

    def connections(self) -> int:
        assert self.lab is not None
        return sum(d.https_connections for d in self.lab.devices)

    def reset(self) -> None:
        assert self.lab is not None
        for device in self.lab.devices:
            device.https_connections = 0


def _own_cpu() -> float:
    """CPU seconds of this process: the lab's threads (the clients are children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _clients(
    work: Path, targets: Path, site: Path, first: str, last: str
) -> dict[str, tuple[list[str], str]]:
    py = sys.executable
    scan = [
        py,
        "-m",
        "camscan",
        f"{first}-{last}",
        "-p",
        str(PORT),
        "-q",
        "--ca-bundle",
        str(site),
        "--trust",
        "site",
        "--offline",
    ]
    clients: dict[str, tuple[list[str], str]] = {
        "camscan default": ([*scan, "--json", str(work / "default.json")], "json:default.json"),
        "camscan probes off": (
            [*scan, "--no-legacy-probe", "--no-ws-discovery", "--no-http", "--json", str(work / "off.json")],
            "json:off.json",
        ),
    }
    if shutil.which("nmap"):
        clients["nmap ssl-cert"] = (
            [
                "nmap",
                "-n",
                "-Pn",
                "-sT",
                "-p",
                str(PORT),
                "--script",
                "ssl-cert",
                "-T4",
                "--min-parallelism",
                "256",
                "-iL",
                str(targets),
                "-oX",
                "-",
            ],
            "nmap",
        )
    sslyze = os.environ.get("SSLYZE_PYTHON")
    if sslyze and Path(sslyze).exists():
        clients["sslyze API"] = (
            [
                sslyze,
                str(Path(__file__).with_name("sslyze_client.py")),
                "--targets",
                str(targets),
                "--port",
                str(PORT),
            ],
            "chains",
        )
    return clients


def _chains(kind: str, stdout: str, work: Path) -> int:
    if kind.startswith("json:"):
        report = json.loads((work / kind[5:]).read_text())
        return sum(1 for e in report["endpoints"] if e.get("chain"))
    if kind == "nmap":
        return stdout.count('id="ssl-cert"')
    match = re.search(r"chains (\d+)", stdout)
    return int(match.group(1)) if match else 0


def measure(size: int, rounds: int) -> list[Run]:
    runs: list[Run] = []
    holder = LabThread(size)
    with tempfile.TemporaryDirectory() as tmp, holder as lab:
        work = Path(tmp)
        site = lab.write_bundles(work)["site"]
        addresses = [d.ip for d in lab.devices]
        targets = work / "targets.txt"
        targets.write_text("\n".join(addresses) + "\n")
        bare = [sys.executable, "-m", "bench.bare_client", "--targets", str(targets), "--port", str(PORT)]
        for _ in range(rounds):
            for name, (command, kind) in _clients(work, targets, site, addresses[0], addresses[-1]).items():
                holder.reset()
                fleet_before = _own_cpu()
                wall, cpu, rss, stdout = _timed(command)
                fleet_cpu = _own_cpu() - fleet_before
                connections = holder.connections() / size
                bare_wall, _, _, _ = _timed(bare)
                runs.append(Run(name, wall, cpu, rss, _chains(kind, stdout, work), connections, bare_wall,
                                fleet_cpu))
        holder.reset()
        fleet_before = _own_cpu()
        wall, cpu, rss, stdout = _timed(bare)
        fleet_cpu = _own_cpu() - fleet_before
        runs.append(
            Run(
                "bare trio client",
                wall,
                cpu,
                rss,
                _chains("chains", stdout, work),
                holder.connections() / size,
                wall,
                fleet_cpu,
            )
        )
    return runs


def table(size: int, runs: list[Run]) -> str:
    lines = [
        f"\n### {size:,} devices\n",
        "| client | devices/s | wall / bare trio wall | CPU s | fleet CPU s | peak RSS "
        "| connections per device "
        "| chains |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_client: dict[str, list[Run]] = {}
    for run in runs:
        by_client.setdefault(run.client, []).append(run)
    for client, items in by_client.items():
        wall = statistics.median(r.wall for r in items)
        ratio = statistics.median(r.wall / r.bare_wall for r in items)
        cpu = statistics.median(r.cpu for r in items)
        connections = statistics.median(r.connections for r in items)
        rss = max(r.rss_mib for r in items)
        chains = min(r.chains for r in items)
        fleet = statistics.median(r.fleet_cpu for r in items)
        lines.append(f"| {client} | {size / wall:,.0f} | {ratio:.2f}x | {cpu:.1f} | {fleet:.1f} | "
                     f"{rss:.0f} MiB | "
                     f"{connections:.2f} | {chains} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"## Scan throughput: `python -m bench.scan_bench --sizes {args.sizes} --rounds {args.rounds}`\n")
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average at start {os.getloadavg()[0]:.2f} "
        "(the lab and the clients share the machine; ratios are to a bare trio run moments later)"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        print(table(size, measure(size, args.rounds)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
