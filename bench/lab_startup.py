#!/usr/bin/env python3
"""Lab start-up time and peak memory (RSS) for N simulated devices.

For each size: start `camscan lab --size N` under /usr/bin/time -v, time from process launch to
"ready" (the summary line), optionally make every device serve one TLS handshake (a real
`camscan scan` of the whole lab, which creates each device's certificate and SSLContext on
first use), stop it with SIGINT and read the peak RSS. A bare `python -c "import camscan.lab"`
is measured alongside as the floor.

    bench/lab_startup.py                     # 1000 and 5000: idle, prewarmed, after a full scan
    bench/lab_startup.py --sizes 200 --no-scan
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

TIME = "/usr/bin/time"
BLOCK = "127.78.0.0/16"  # away from the default lab block, so a running `camscan lab` is not hit


def peak_rss_mib(stderr: str) -> float:
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if not match:
        raise SystemExit("no RSS in /usr/bin/time output (install Debian's `time` package)")
    return int(match.group(1)) / 1024


def baseline() -> float:
    done = subprocess.run([TIME, "-v", sys.executable, "-c", "import camscan.lab, camscan.commands.lab"],
                          capture_output=True, text=True, check=True)
    return peak_rss_mib(done.stderr)


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    """Every line of `stream`, then "" at its end."""
    for line in stream:
        lines.put(line)
    lines.put("")


def run(size: int, scan: bool, prewarm: bool = False) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [TIME, "-v", sys.executable, "-m", "camscan", "lab", "--size", str(size), "--block", BLOCK,
             "--control-port", "0", "--out", out, "-q", *(["--prewarm"] if prewarm else [])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        summary = ""
        # Lines come through a thread, so the wait for each is bounded (a bare readline is not).
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
        while "Ctrl-C stops the lab" not in summary:
            try:
                line = lines.get(timeout=max(0.0, 600 - (time.perf_counter() - started)))
            except queue.Empty:
                proc.kill()
                raise SystemExit("lab did not start within 600 s") from None
            if not line:
                raise SystemExit(f"lab exited early: {proc.stderr.read() if proc.stderr else ''}")
            summary += line
        ready = time.perf_counter() - started
        internal = float(re.search(r"started in ([\d.]+) s", summary).group(1))  # type: ignore[union-attr]
        result: dict[str, object] = {"devices": size, "prewarm": prewarm, "ready_s": round(ready, 2),
                                     "lab_start_s": internal}
        if scan:
            inventory = json.loads((Path(out) / "inventory.json").read_text())
            first, last = inventory[0]["address"], inventory[-1]["address"]
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "camscan", f"{first}-{last}", "-p", "8443", "--no-legacy-probe",
                 "--no-http", "-q", "--concurrency", "256", "--json", str(Path(out) / "scan.json")],
                capture_output=True, text=True, timeout=1200)
            report = json.loads((Path(out) / "scan.json").read_text())
            result["scan_s"] = round(time.perf_counter() - t0, 2)
            result["handshakes"] = sum(1 for e in report["endpoints"] if e["status"] == "observed")
            kinds: dict[str, int] = {}
            for entry in report["endpoints"]:
                if entry["status"] != "observed":
                    kind = str(entry.get("failure", {}).get("kind", entry["status"]))
                    kinds[kind] = kinds.get(kind, 0) + 1
            result["failures"] = kinds
            result["scan_exit"] = done.returncode
        # GNU time does not forward SIGINT: interrupt the lab itself (time's only child).
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        for child in children:
            os.kill(int(child), signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        result["peak_rss_mib"] = round(peak_rss_mib(err), 1)
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000", help="comma-separated fleet sizes")
    parser.add_argument("--no-scan", action="store_true", help="measure idle start-up only")
    args = parser.parse_args()
    print(f"python -c 'import camscan.lab': peak RSS {baseline():.1f} MiB")
    for size in (int(s) for s in args.sizes.split(",")):
        print(json.dumps(run(size, scan=False)))
        print(json.dumps(run(size, scan=False, prewarm=True)))
        if not args.no_scan:
            print(json.dumps(run(size, scan=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
