"""Errors connect() reports at once (no route), in a network namespace of the test's own.

The namespace has only its loopback up and one `unreachable` route: the kernel refuses those
connects inside the connect() call itself, which is the path a sweep of a routed-away subnet
takes. Needs root and iproute2; the namespace is always deleted, and nothing is configured
outside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0, reason="creating network namespaces needs root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's `ip` is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
NO_ROUTE = "198.51.100.7"  # netns: no route at all inside the namespace
UNREACHABLE = "203.0.113.7"  # netns: behind an `unreachable` route inside the namespace

PROBE = r"""
import json, sys, trio
from camscan.model import Endpoint
from camscan.scanner.tls_probe import ProbeSettings, probe

async def main():
    results = []
    with trio.fail_after(20):
        for address in sys.argv[1:]:
            failure = await probe(Endpoint(address, 443), ProbeSettings(connect_timeout=5))
            results.append([failure.stage.value, failure.kind.value, failure.detail])
    print(json.dumps(results))

trio.run(main)
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"camscan-connect-{os.getpid()}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        ip("-n", name, "route", "add", "unreachable", "203.0.113.0/24")  # netns
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True, timeout=20)


def test_unroutable_addresses_are_unreachable_at_once(namespace: str) -> None:
    proc = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", PROBE, NO_ROUTE, UNREACHABLE],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [
        ["connect", "unreachable", "Network is unreachable"],
        ["connect", "unreachable", "No route to host"],
    ]
