#!/usr/bin/env python3
"""A sparse camera LAN in network namespaces: camscan's discovery methods side by side with nmap.

    sudo .venv/bin/python bench/lan_bench.py [--skip-nmap]

Builds (tests/support/lan.py; every address exists only inside the namespaces made here, all
deleted at the end):

    scanner 10.77.0.1/16 ── bridge ── 4 camera namespaces x 10 lab cameras (HTTPS 443), spread
                                      over the on-link /16 (3 of them inside 10.77.0.0/20, none  # netns
                                      in 10.77.224.0/20)  # netns
                                  └── router 10.77.255.254: the routed 10.78.0.0/16 behind it,  # netns
                                      forwarding off (every SYN dropped, no ICMP)

and runs the whole audit (discovery, TLS, rules, JSON report) with default camera ports, each
run timed with its peak memory (ru_maxrss of the camscan process). nmap -T4 (7.93, SYN scan
with ARP ping as root) runs on the /20 only: on the /16 it takes about 44 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.lan import ROOT, Lan

CAMERAS = 40
PER_NAMESPACE = 10
PERSONALITIES = ("axis", "hikvision", "dahua", "onvif")
PORTS = "443,4443,7443,8443,9443"  # camscan's "cameras" preset, for nmap
# camscan under a wrapper that reports its own peak memory on stderr.
WRAPPER = (
    "import resource, sys\n"
    "from camscan.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def camera_addresses() -> list[str]:
    rng = random.Random(13)
    chosen = ["10.77.3.10", "10.77.9.200", "10.77.14.77"]  # inside 10.77.0.0/20  # netns
    while len(chosen) < CAMERAS:
        third = rng.randrange(16, 224)  # outside the /20s the runs below single out
        candidate = f"10.77.{third}.{rng.randrange(1, 255)}"
        if candidate not in chosen:
            chosen.append(candidate)
    return chosen


def run_camscan(lan: Lan, label: str, args: list[str], *, user: str | None = None,
                timeout: float = 900) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        os.chmod(tmp, 0o777)  # an unprivileged run writes its report here too
        command = ["ip", "netns", "exec", str(lan.scanner_ns)]
        if user:
            import pwd

            account = pwd.getpwnam(user)
            command += ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                        "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
        command += [sys.executable, "-c", WRAPPER, *args, "--offline", "-q", "--json", str(report)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)
        wall = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise SystemExit(f"{label}: exit {done.returncode}: {done.stderr[-2000:]}")
        document = json.loads(report.read_text())
    rss = next((int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("MAXRSS_KB")), 0)
    discovery = document.get("discovery") or {}
    methods = ", ".join(
        f"{m['method']} {m['alive']}/{m['addresses']} ({m['packets']:,} pkts, {m['seconds']:.1f}s)"
        for m in discovery.get("methods", []))
    return {
        "label": label, "wall": wall, "rss_mb": rss / 1024, "observed": document["summary"]["observed"],
        "endpoints": document["summary"]["endpoints"], "discovery": methods or "none",
    }


def run_nmap(lan: Lan, target: str) -> dict[str, object]:
    command = ["ip", "netns", "exec", str(lan.scanner_ns), "nmap", "-T4", "-n", "-p", PORTS, "--open",
               "-oG", "-", target]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    wall = time.perf_counter() - started
    opened = sum(line.count("/open/") for line in done.stdout.splitlines() if line.startswith("Host:"))
    return {"label": f"nmap -T4 {target}", "wall": wall, "rss_mb": None, "observed": opened,
            "endpoints": None, "discovery": "nmap ARP ping + SYN scan"}


def _median(rows: list[dict[str, object]]) -> dict[str, object]:
    """The median run by wall time, its label saying the rounds and the range."""
    ordered = sorted(rows, key=lambda r: float(str(r["wall"])))
    middle = dict(ordered[len(ordered) // 2])
    if len(ordered) > 1:
        low, high = float(str(ordered[0]["wall"])), float(str(ordered[-1]["wall"]))
        middle["label"] = f"{middle['label']} (median of {len(ordered)}: {low:.1f}-{high:.1f} s)"
        middle["base"] = str(rows[0]["label"])
    return middle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-nmap", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the /20 comparison (default: 3)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
    if not args.skip_nmap and shutil.which("nmap") is None:
        raise SystemExit("nmap is not installed (apt-get install nmap), or pass --skip-nmap")
    rows: list[dict[str, object]] = []
    with Lan("bench") as lan:
        lan.scanner("10.77.0.1/16")  # netns
        addresses = camera_addresses()
        for index in range(CAMERAS // PER_NAMESPACE):
            mine = addresses[index * PER_NAMESPACE : (index + 1) * PER_NAMESPACE]
            ns = lan.devices(f"cam{index}", mine, mac=f"00:40:8c:00:01:{index:02x}")  # netns
            devices = [f"{a}:{PERSONALITIES[(index + n) % 4]}" for n, a in enumerate(mine)]
            lan.start_lab(ns, devices, interface=mine[0], https_port=443, timeout=120)
        lan.router("10.77.255.254", "10.78.0.1", "10.78.0.0/16", forward=False)  # netns
        lan.route(str(lan.scanner_ns), "10.78.0.0/16", "10.77.255.254")  # netns
        time.sleep(1)
        rows.append(run_camscan(lan, "camscan on-link /16, auto (ARP)", ["10.77.0.0/16"]))  # netns
        rows.append(run_camscan(lan, "camscan on-link /16, --discovery syn (ARP, then SYN)",
                                ["10.77.0.0/16", "--discovery", "syn"]))  # netns
        routed = ["10.78.0.0/16"]  # netns
        rows.append(run_camscan(lan, "camscan routed /16 (SYNs dropped), auto (SYN)", routed))
        # nmap's time on the /20 varies a lot from run to run: three rounds each, interleaved,
        # and the median of each is compared.
        pairs: list[tuple[dict[str, object], dict[str, object] | None]] = []
        for _ in range(args.rounds):
            ours = run_camscan(lan, "camscan on-link /20 (3 cameras), auto (ARP)", ["10.77.0.0/20"])  # netns
            pairs.append((ours, None if args.skip_nmap else run_nmap(lan, "10.77.0.0/20")))  # netns
        rows.append(_median([p[0] for p in pairs]))
        # What the gentle default costs: the same /20 with the cap raised (nmap -T4 has none).
        rows.append(run_camscan(lan, "camscan on-link /20 (3 cameras), --discovery-rate 100000",
                                ["10.77.0.0/20", "--discovery-rate", "100000"]))  # netns
        rows.append(run_camscan(lan, "camscan on-link /20 (3 cameras), --discovery connect (root)",
                                ["10.77.0.0/20", "--discovery", "connect"]))  # netns
        rows.append(run_camscan(lan, "camscan on-link /20 (empty), unprivileged (connect)",
                                ["10.77.224.0/20"], user="nobody"))  # netns
        rows.append(run_camscan(lan, "camscan on-link /24 (empty), --no-discovery (as before)",
                                ["10.77.224.0/24", "--no-discovery"]))  # netns
        if not args.skip_nmap:
            rows.append(_median([p[1] for p in pairs if p[1] is not None]))
    print("| run | wall (s) | peak RSS (MB) | HTTPS found | endpoints reported | discovery |")
    print("|---|---:|---:|---:|---:|---|")
    for row in rows:
        rss = f"{row['rss_mb']:.0f}" if row["rss_mb"] is not None else "-"
        endpoints = row["endpoints"] if row["endpoints"] is not None else "-"
        print(f"| {row['label']} | {row['wall']:.1f} | {rss} | {row['observed']} | {endpoints} "
              f"| {row['discovery']} |")
    by = {str(r.get("base", r["label"])): r for r in rows}
    print()
    checks = [
        ("on-link /16 <= 30 s, all 40 cameras", by["camscan on-link /16, auto (ARP)"], 30.0, CAMERAS),
        ("routed dropped /16 <= 60 s", by["camscan routed /16 (SYNs dropped), auto (SYN)"], 60.0, 0),
        ("unprivileged empty /20 <= 60 s", by["camscan on-link /20 (empty), unprivileged (connect)"],
         60.0, 0),
    ]
    for name, row, limit, cameras in checks:
        wall = float(str(row["wall"]))
        ok = wall <= limit and row["observed"] == cameras
        print(f"- {name}: {wall:.1f} s, {row['observed']} HTTPS -> {'met' if ok else 'NOT met'}")
    for label in ("camscan on-link /16, auto (ARP)", "camscan routed /16 (SYNs dropped), auto (SYN)"):
        rss = float(str(by[label]["rss_mb"]))
        print(f"- peak memory {label}: {rss:.0f} MB -> {'met' if rss < 150 else 'NOT met'} (< 150 MB)")
    if not args.skip_nmap:
        ours = float(str(by["camscan on-link /20 (3 cameras), auto (ARP)"]["wall"]))
        theirs = float(str(by["nmap -T4 10.77.0.0/20"]["wall"]))  # netns
        print(f"- /20: nmap -T4 {theirs:.1f} s vs camscan {ours:.1f} s = {theirs / ours:.1f}x "
              f"-> {'met' if theirs / ours >= 10 else 'NOT met'} (>= 10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
