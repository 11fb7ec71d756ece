"""A real LAN in network namespaces: a bridge, a scanner, lab cameras, a router, firewalls.

    with Lan() as lan:                                   # namespaces named with this pid
        lan.scanner("10.77.0.1/16")                      # netns: the scanner's segment
        cams = lan.devices("cams", ["10.77.3.10"], mac="00:40:8c:00:00:01")
        lan.start_lab(cams, ["10.77.3.10:axis"], https_port=443)
        lan.run("camscan", "10.77.3.0/24")               # inside the scanner namespace

Every address exists only inside the namespaces made here, the host's own interfaces are never
touched, and every namespace (and every process started in one) is removed on exit.
The bridge has multicast snooping off, so multicast reaches every port as on a plain switch.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def have_netns() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


class Lan:
    def __init__(self, tag: str = "lan") -> None:
        self.tag = f"{tag}{os.getpid() % 100000}"
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen[str]] = []
        self.switch = self._namespace("sw")
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        ip("-n", self.switch, "link", "set", "br0", "up")
        self._ports = 0
        self.scanner_ns: str | None = None

    # --- building ------------------------------------------------------------------------------

    def _namespace(self, role: str) -> str:
        name = f"cs-{role}-{self.tag}"
        ip("netns", "add", name)
        self.namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    def _plug(self, ns: str, mac: str | None) -> None:
        """A veth from `ns` (eth0 there) into the bridge."""
        self._ports += 1
        port = f"p{self._ports}"
        ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("-n", self.switch, "link", "set", port, "master", "br0")
        ip("-n", self.switch, "link", "set", port, "up")
        if mac:
            ip("-n", ns, "link", "set", "eth0", "address", mac)
        ip("-n", ns, "link", "set", "eth0", "up")

    def scanner(self, cidr: str, mac: str = "02:00:00:00:00:01") -> str:
        ns = self.scanner_ns = self._namespace("scan")
        self._plug(ns, mac)
        ip("-n", ns, "addr", "add", cidr, "dev", "eth0")  # netns
        return ns

    def devices(self, role: str, addresses: list[str], *, prefix: int = 16, mac: str | None = None,
                gateway: str | None = None) -> str:
        """A device namespace on the bridge holding `addresses` (one MAC for all of them)."""
        ns = self._namespace(role)
        self._plug(ns, mac)
        for address in addresses:
            ip("-n", ns, "addr", "add", f"{address}/{prefix}", "dev", "eth0")  # netns
        if gateway:
            ip("-n", ns, "route", "add", "default", "via", gateway)  # netns
        return ns

    def router(self, lan_address: str, far_address: str, far_cidr: str, *,
               forward: bool = True) -> tuple[str, str]:
        """A router on the bridge (lan_address/16) to a far segment: returns (router ns, far ns).

        The router holds far_address on the far segment; the caller adds far devices' addresses
        in the far namespace. With forward=False the router drops what it should forward (a
        firewall that drops SYNs: no answer, no ICMP).
        """
        router = self._namespace("rt")
        self._plug(router, None)
        ip("-n", router, "addr", "add", f"{lan_address}/16", "dev", "eth0")  # netns
        far = self._namespace("far")
        ip("-n", router, "link", "add", "far0", "type", "veth", "peer", "name", "eth0", "netns", far)
        ip("-n", router, "addr", "add", far_address + "/" + far_cidr.split("/")[1], "dev", "far0")  # netns
        ip("-n", router, "link", "set", "far0", "up")
        ip("-n", far, "link", "set", "eth0", "up")
        self.in_ns(router, "sysctl", "-qw", f"net.ipv4.ip_forward={1 if forward else 0}")
        return router, far

    def route(self, ns: str, cidr: str, via: str) -> None:
        ip("-n", ns, "route", "add", cidr, "via", via)  # netns

    def nft(self, ns: str, ruleset: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=ruleset, text=True,
                       check=True, capture_output=True, timeout=30)

    def in_ns(self, ns: str, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", ns, *command], check=True, capture_output=True,
                              text=True, timeout=60)

    # --- running ---------------------------------------------------------------------------------

    def start_lab(self, ns: str, devices: list[str], *, interface: str, https_port: int = 443,
                  http_port: int = 0, mdns: bool = False, timeout: float = 60) -> list[dict[str, Any]]:
        """Lab cameras (tests/support/lan_device.py) in `ns`; their inventory once they listen."""
        command = ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.support.lan_device",
                   "--netns", ns, "--interface", interface, "--https-port", str(https_port),
                   "--http-port", str(http_port)]
        for device in devices:
            command += ["--device", device]
        if mdns:
            command.append("--mdns")
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.processes.append(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if not line:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise RuntimeError(f"lab in {ns} did not start: {err[-2000:]}")
        inventory: list[dict[str, Any]] = json.loads(line)
        return inventory

    def run(self, *args: str, ns: str | None = None, user: str | None = None, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`python -m camscan ARGS` inside the scanner namespace (as `user` without any capability)."""
        target = ns or self.scanner_ns
        assert target is not None
        command = ["ip", "netns", "exec", target]
        if user is not None:
            # setpriv drops every capability (CAP_NET_RAW included) along with root.
            import pwd

            account = pwd.getpwnam(user)
            command += ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups",
                        "--inh-caps=-all", "--bounding-set=-all"]
        command += [sys.executable, "-m", "camscan", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              env={**os.environ, **(env or {})}, check=False)

    def popen(self, *args: str, ns: str | None = None) -> subprocess.Popen[str]:
        target = ns or self.scanner_ns
        assert target is not None
        proc = subprocess.Popen(["ip", "netns", "exec", target, sys.executable, "-m", "camscan", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.processes.append(proc)
        return proc

    # --- cleanup ---------------------------------------------------------------------------------

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.communicate(timeout=10)
            except (subprocess.TimeoutExpired, ValueError):
                pass
        for ns in reversed(self.namespaces):
            ip("netns", "del", ns, check=False)
        self.namespaces.clear()

    def __enter__(self) -> Lan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
