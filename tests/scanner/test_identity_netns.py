"""The neighbour table on a real L2 segment: two network namespaces joined by a veth pair.

The device side runs a TLS server (`ip netns exec`); the sweep runs in the scanner's namespace,
so its kernel learns the device's MAC (set explicitly here) by ARP and IPv6 neighbour discovery.
A second address behind a route through the device must not get the device's (the router's)
MAC. Needs root and iproute2; the namespaces are always deleted, and nothing is configured
outside them.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from camscan import pki

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="creating network namespaces needs root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's `ip` is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
DEVICE_MAC = "00:40:8c:12:34:56"  # an Axis OUI, so the registry lookup is exercised too
SCANNER_MAC = "02:00:00:00:00:0a"  # locally administered
PORT = 8443
# Addresses exist only inside the test's namespaces: link-local and documentation ranges.
V4_DEVICE, V4_SCANNER = "169.254.77.2", "169.254.77.1"  # netns
V6_DEVICE, V6_SCANNER = "2001:db8:77::2", "2001:db8:77::1"  # netns
V4_ROUTED, V6_ROUTED = "198.51.100.2", "2001:db8:78::2"  # netns: behind V4_DEVICE / V6_DEVICE

SERVER = r"""
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("::", int(sys.argv[3])))
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

SCAN = r"""
import dataclasses, json, sys, trio
from camscan.model import Endpoint
from camscan.scanner.sweep import SweepOptions, sweep

async def main():
    endpoints = [Endpoint(a, int(sys.argv[1])) for a in sys.argv[2:]]
    with trio.fail_after(60):
        observations, failures = await sweep(endpoints, SweepOptions(ws_discovery_timeout=0.5))
    print(json.dumps({
        "identities": {o.endpoint.address: dataclasses.asdict(o.identity) for o in observations},
        "failures": [f"{f.endpoint} {f.kind} {f.detail}" for f in failures],
    }))

trio.run(main)
"""


@dataclass
class Segment:
    scanner_ns: str
    device_ns: str


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def segment(tmp_path: Path) -> Iterator[Segment]:
    tag = f"{os.getpid()}"
    seg = Segment(f"camscan-id-scan-{tag}", f"camscan-id-dev-{tag}")
    server: subprocess.Popen[str] | None = None
    created: list[str] = []
    try:
        for ns in (seg.scanner_ns, seg.device_ns):
            ip("netns", "add", ns)
            created.append(ns)
        a, b = seg.scanner_ns, seg.device_ns
        # Both ends are made inside the namespaces: the host's own network is never touched.
        ip("-n", a, "link", "add", "csa0", "type", "veth", "peer", "name", "csb0", "netns", b)
        ip("-n", a, "link", "set", "csa0", "address", SCANNER_MAC)
        ip("-n", b, "link", "set", "csb0", "address", DEVICE_MAC)
        ip("-n", a, "addr", "add", f"{V4_SCANNER}/24", "dev", "csa0")  # netns
        ip("-n", b, "addr", "add", f"{V4_DEVICE}/24", "dev", "csb0")  # netns
        ip("-n", a, "addr", "add", f"{V6_SCANNER}/64", "dev", "csa0", "nodad")  # netns
        ip("-n", b, "addr", "add", f"{V6_DEVICE}/64", "dev", "csb0", "nodad")  # netns
        ip("-n", b, "addr", "add", f"{V4_ROUTED}/32", "dev", "lo")  # netns
        ip("-n", b, "addr", "add", f"{V6_ROUTED}/128", "dev", "lo")  # netns
        for ns, link in ((a, "csa0"), (b, "csb0")):
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", link, "up")
        ip("-n", a, "route", "add", "198.51.100.0/24", "via", V4_DEVICE)  # netns
        ip("-n", a, "-6", "route", "add", "2001:db8:78::/64", "via", V6_DEVICE)  # netns

        leaf = pki.make_leaf(None, ips=[V4_DEVICE, V6_DEVICE, V4_ROUTED, V6_ROUTED])
        (tmp_path / "cert.pem").write_bytes(leaf.cert_pem)
        (tmp_path / "key.pem").write_bytes(leaf.key_pem)
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                b,
                sys.executable,
                "-c",
                SERVER,
                str(tmp_path / "cert.pem"),
                str(tmp_path / "key.pem"),
                str(PORT),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 20)
        assert ready and server.stdout.readline().strip() == "ready", "the TLS server did not start"
        yield seg
    finally:
        if server is not None:
            server.kill()
            server.communicate(timeout=10)
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=20)


def test_the_neighbour_table_gives_the_mac_of_on_link_devices_only(segment: Segment) -> None:
    targets = [V4_DEVICE, V6_DEVICE, V4_ROUTED, V6_ROUTED]
    done = subprocess.run(
        ["ip", "netns", "exec", segment.scanner_ns, sys.executable, "-c", SCAN, str(PORT), *targets],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["failures"] == []
    found = result["identities"]
    assert set(found) == set(targets)
    for address in (V4_DEVICE, V6_DEVICE):
        assert found[address]["mac"] == DEVICE_MAC, address
        assert found[address]["vendor"] == "Axis Communications AB", address
    # Reached through the device as a router: its MAC is the router's, never the target's.
    for address in (V4_ROUTED, V6_ROUTED):
        assert found[address]["mac"] is None, address
        assert found[address]["vendor"] is None, address
