"""Sweep benchmarks, measured with /usr/bin/time -v, with peers side by side.

    .venv/bin/python -m bench.sweep_bench            # everything (about a minute or two)
    .venv/bin/python -m bench.sweep_bench --quick    # skip the /16 peer run

What it measures (loopback only: 127.200.0.0/24 and 127.201.0.0/16):

1. wall time of a sweep of a /24 with 20 live TLS servers (leaf + intermediate, RSA-2048) and
   the other 234 addresses refused: camscan (with and without the legacy TLS 1.0/1.1 hellos),
   nmap --script ssl-cert, and sslscan (certificate only, on the 20 live servers: it cannot
   sweep a subnet);
2. `camscan --help` start-up time (median of 5), beside `nmap --version`;
3. peak RSS and wall time of a sweep of a /16 where nothing listens, beside nmap -sT.

Prints a Markdown table; --output FILE also writes it there.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAMSCAN = str(Path(sys.executable).with_name("camscan"))
PORT = 18443
FLEET_FIRST, FLEET_COUNT = "127.200.0.10", 20
SUBNET_24 = "127.200.0.0/24"
SUBNET_16 = "127.201.0.0/16"  # nothing listens here (other areas use 127.7x-127.9x)


@dataclass
class Measure:
    label: str
    command: list[str]
    wall: float
    rss_kib: int
    exit_code: int
    note: str = ""


def time_v(label: str, command: list[str], *, note: str = "", timeout: float = 900) -> Measure:
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        proc = subprocess.run(
            ["/usr/bin/time", "-v", "-o", report.name, *command],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        text = Path(report.name).read_text()
    wall_text = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    assert wall_text and rss, text
    parts = [float(p) for p in wall_text.group(1).split(":")]
    wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    measure = Measure(label, command, wall, int(rss.group(1)), proc.returncode, note)
    if proc.returncode not in (0, 1):
        measure.note = (note + f" (exit {proc.returncode}: {proc.stderr.strip()[:200]})").strip()
    return measure


def count_observed(json_path: Path) -> int:
    import json

    return int(json.loads(json_path.read_text())["summary"]["observed"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the nmap /16 run")
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    if not Path("/usr/bin/time").exists():
        sys.exit("needs GNU time: apt-get install time")
    have_nmap, have_sslscan = shutil.which("nmap"), shutil.which("sslscan")

    fleet = subprocess.Popen(
        [sys.executable, "-m", "bench.tls_fleet", "--first", FLEET_FIRST, "--count", str(FLEET_COUNT),
         "--port", str(PORT)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    measures: list[Measure] = []
    try:
        assert fleet.stdout is not None
        # Bounded: a fleet that hangs before "ready" must not hang the benchmark.
        started, _, _ = select.select([fleet.stdout], [], [], 120)
        if not started or fleet.stdout.readline().strip() != "ready":
            sys.exit("the TLS fleet did not start within 120 s")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "scan.json"
            base = [CAMSCAN, SUBNET_24, "-p", str(PORT), "-q", "--offline", "--json", str(out)]
            m = time_v("camscan /24 (20 live), legacy probe on", base)
            m.note = f"{count_observed(out)} HTTPS found; chains + HTTP facts + TLS 1.0/1.1 hellos"
            measures.append(m)
            m = time_v("camscan /24 (20 live), --no-legacy-probe", [*base, "--no-legacy-probe"])
            m.note = f"{count_observed(out)} HTTPS found; chains + HTTP facts"
            measures.append(m)
            if have_nmap:
                measures.append(time_v(
                    "nmap --script ssl-cert /24 (20 live)",
                    ["nmap", "-Pn", "-n", "-T4", "-p", str(PORT), "--script", "ssl-cert", "-oN", os.devnull,
                     SUBNET_24],
                    note="TCP connect + one handshake per open port",
                ))
            if have_sslscan:
                targets = Path(tmp) / "targets.txt"
                first = int(FLEET_FIRST.rsplit(".", 1)[1])
                prefix = FLEET_FIRST.rsplit(".", 1)[0]
                targets.write_text("".join(f"{prefix}.{first + i}:{PORT}\n" for i in range(FLEET_COUNT)))
                measures.append(time_v(
                    "sslscan --show-certificate, 20 live only",
                    ["sslscan", "--no-colour", "--no-ciphersuites", "--no-fallback", "--no-renegotiation",
                     "--no-compression", "--no-heartbleed", "--no-groups", "--show-certificate",
                     f"--targets={targets}"],
                    note="no sweep: only the 20 live servers, one at a time",
                ))
            helps = [time_v("camscan --help", [CAMSCAN, "--help"]) for _ in range(5)]
            median = statistics.median(h.wall for h in helps)
            helps[0].wall = median
            helps[0].label = "camscan --help (median of 5)"
            measures.append(helps[0])
            if have_nmap:
                measures.append(time_v("nmap --version", ["nmap", "--version"]))
            m = time_v("camscan /16, nothing listens",
                       [CAMSCAN, SUBNET_16, "-p", str(PORT), "-q", "--offline", "--json", str(out)])
            m.note = "65,534 refused endpoints; JSON report written"
            measures.append(m)
            if have_nmap and not args.quick:
                measures.append(time_v(
                    "nmap -sT /16, nothing listens",
                    ["nmap", "-Pn", "-n", "-sT", "-T4", "-p", str(PORT), "-oN", os.devnull, SUBNET_16],
                ))
    finally:
        fleet.terminate()
        fleet.wait(timeout=10)

    lines = [
        f"Measured with /usr/bin/time -v on {os.cpu_count()} CPUs; Python {sys.version.split()[0]}.",
        "",
        "| run | wall (s) | peak RSS (MiB) | vs camscan | notes |",
        "|---|---:|---:|---:|---|",
    ]
    reference = {
        "/24": next(m for m in measures if m.label.startswith("camscan /24") and "no-legacy" in m.label),
        "help": next(m for m in measures if m.label.startswith("camscan --help")),
        "/16": next(m for m in measures if m.label.startswith("camscan /16")),
    }
    for m in measures:
        group = "/24" if "/24" in m.label or "sslscan" in m.label else "/16" if "/16" in m.label else "help"
        ref = reference[group]
        ratio = "" if m is ref else f"{m.wall / ref.wall:.2f}x wall"
        lines.append(f"| {m.label} | {m.wall:.2f} | {m.rss_kib / 1024:.1f} | {ratio} | {m.note} |")
    lines += ["", "Commands:", ""]
    lines += [f"- {m.label}: `/usr/bin/time -v {' '.join(m.command)}`" for m in measures]
    table = "\n".join(lines) + "\n"
    print(table)
    if args.output:
        args.output.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
