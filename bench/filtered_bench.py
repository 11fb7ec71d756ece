#!/usr/bin/env python3
"""A /24 of filtered hosts (every SYN dropped): does the sweep end within one connect timeout?

Needs root and iproute2. Builds a network namespace of its own with a veth pair, a route for
198.19.0.0/24 (RFC 2544's benchmark range, only inside that namespace) through a next hop whose
permanent neighbour entry names a MAC nobody has: the SYNs leave at once and the far end of the
veth drops them (a frame for another MAC, no forwarding), as a firewall that drops would. Then
it times `camscan 198.19.0.0/24` inside the namespace and deletes the namespace. Nothing outside
the namespace is configured or contacted.

    sudo .venv/bin/python bench/filtered_bench.py --connect-timeout 3
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

NS = f"camscan-filtered-{os.getpid()}"
SUBNET = "198.19.0.0/24"  # inside the namespace only


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def in_ns(*args: str) -> None:
    ip("netns", "exec", NS, *args)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connect-timeout", type=float, default=3.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
    ip("netns", "add", NS)
    try:
        in_ns("ip", "link", "set", "lo", "up")
        in_ns("ip", "link", "add", "scan0", "type", "veth", "peer", "name", "drop0")
        in_ns("ip", "addr", "add", "198.18.0.1/24", "dev", "scan0")
        in_ns("ip", "link", "set", "scan0", "up")
        in_ns("ip", "link", "set", "drop0", "up")
        in_ns(
            "ip",
            "neigh",
            "add",
            "198.18.0.254",
            "lladdr",
            "02:00:00:00:00:fe",
            "dev",
            "scan0",
            "nud",
            "permanent",
        )
        in_ns("ip", "route", "add", SUBNET, "via", "198.18.0.254", "dev", "scan0")
        command = [
            "ip",
            "netns",
            "exec",
            NS,
            sys.executable,
            "-m",
            "camscan",
            SUBNET,
            "-p",
            "443",
            "-q",
            "--offline",
            "--connect-timeout",
            str(args.connect_timeout),
            "--json",
            "-",
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        wall = time.perf_counter() - started
    finally:
        subprocess.run(["ip", "netns", "delete", NS], check=False, capture_output=True, timeout=30)
    timeouts = len(re.findall(r'"kind":\s*"timeout"', done.stdout))
    print(
        f"filtered /24 ({SUBNET} in a namespace of its own, SYNs dropped): {wall:.2f} s wall with "
        f"--connect-timeout {args.connect_timeout:g} ({wall / args.connect_timeout:.2f}x the timeout), "
        f"{timeouts} endpoints reported as timeout, exit {done.returncode}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
