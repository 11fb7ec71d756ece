"""`camscan discover`: who is on this segment (WS-Discovery, SSDP, mDNS, ARP), as a table or JSON.

Kept light at import time: trio, scapy and zeroconf are imported inside run() only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from camscan.argtypes import bounded, positive
from camscan.scanner.discovery.devices_file import FORMAT

DESCRIPTION = """\
Find the devices on one network segment without a target list: an ONVIF WS-Discovery Probe and
an SSDP M-SEARCH sent multicast (TTL 1) out of the interface, mDNS/DNS-SD browsing, and an ARP
sweep of the interface's own subnet (needs root or CAP_NET_RAW; skipped otherwise). Prints one
row per address with MAC, vendor, model, name, firmware, HTTPS ports and how it was found.

`camscan scan @devices.json` then scans exactly what was discovered: each device's announced
HTTPS ports, or the --ports list for a device that announced none."""

EPILOG = """\
examples:
  camscan discover
  camscan discover --interface eth1 --json devices.json && camscan scan @devices.json
  camscan discover --methods ws-discovery,mdns --timeout 5

exit codes: 0 done, 2 bad input (no such interface, bad option), 3 the report could not be
written, 130 interrupted"""



def _methods(text: str) -> tuple[str, ...]:
    from camscan.scanner.discovery.segment import METHODS

    chosen = tuple(dict.fromkeys(m.strip().lower() for m in text.split(",") if m.strip()))
    bad = [m for m in chosen if m not in METHODS]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown method {bad[0] if bad else text!r} (choose from {', '.join(METHODS)})")
    return chosen


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interface", "-i", metavar="IFACE",
                        help="the interface to discover on; without it the default route's")
    parser.add_argument("--methods", type=_methods, default=("ws-discovery", "ssdp", "mdns", "arp"),
                        metavar="LIST",
                        help="comma-separated: ws-discovery, ssdp, mdns, arp; without it all four")
    parser.add_argument("--timeout", type=positive(float), default=3.0, metavar="SECONDS",
                        help="how long to listen for answers (default: 3; SSDP devices answer within MX=2)")
    parser.add_argument("--discovery-rate", type=positive(float), default=10_000.0, metavar="PER_SECOND",
                        help="packets per second, every method together (default: 10000)")
    parser.add_argument("--discovery-retries", type=bounded(int, 0, 10), default=1, metavar="N",
                        help="ARP: ask silent addresses again N times (default: 1)")
    parser.add_argument("--json", metavar="FILE",
                        help=f"write the devices as JSON ({FORMAT}) to FILE, '-' for stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no table")


def document(result: Any) -> dict[str, Any]:
    from camscan import __version__
    from camscan.reports.json_report import utc_iso

    return {
        "format": FORMAT,
        "tool": {"name": "camscan", "version": __version__},
        "interface": result.interface,
        "address": result.address,
        "network": result.network,
        "started_at": utc_iso(result.started_at),
        "finished_at": utc_iso(result.finished_at),
        "answered": result.answered,
        "notes": result.notes,
        "devices": [
            {
                "address": d.address, "mac": d.mac, "vendor": d.vendor, "model": d.model, "name": d.name,
                "firmware": d.firmware, "serial": d.serial, "xaddrs": d.xaddrs,
                "https_ports": sorted(d.https_ports), "found_by": sorted(d.found_by),
            }
            for d in result.devices
        ],
    }


def _render(result: Any, file: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    from camscan.scanner.output import _console, plural
    from camscan.termtext import sanitize

    console = _console(file)
    table = Table(title=f"Devices on {result.interface} ({result.network}): {len(result.devices)}",
                  title_justify="left")
    for column in ("address", "MAC", "vendor", "model", "name", "firmware", "HTTPS", "found by"):
        table.add_column(column, overflow="fold")
    for d in result.devices:
        cells = [d.address, d.mac or "", d.vendor or "", d.model or "", d.name or "", d.firmware or "",
                 ",".join(map(str, sorted(d.https_ports))), ",".join(sorted(d.found_by))]
        table.add_row(*(Text(sanitize(cell, max_len=80)) for cell in cells))
    console.print(table)
    counts = ", ".join(f"{method} {count}" for method, count in result.answered.items())
    elapsed = (result.finished_at - result.started_at).total_seconds()
    console.print(Text(f"{plural(len(result.devices), 'device')} in {elapsed:.1f}s (answered: {counts})"))
    for note in result.notes:
        console.print(Text(f"note: {sanitize(note, max_len=300)}"))


def run(args: argparse.Namespace) -> int:
    import json

    from camscan import runtime
    from camscan.atomic import AtomicFile
    from camscan.errors import CamscanError
    from camscan.reports.options import check_output_path
    from camscan.scanner.discovery.segment import discover_segment
    from camscan.termtext import json_safe

    if args.json and args.json != "-":
        check_output_path("--json", args.json)

    async def main() -> Any:
        return await discover_segment(args.interface, args.methods, window=args.timeout,
                                      rate=args.discovery_rate, retries=args.discovery_retries)

    result = runtime.run(main)
    if args.json:
        text = json_safe(json.dumps(document(result), indent=2, ensure_ascii=False)) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            try:
                with AtomicFile(args.json) as out:
                    out.write_text(text)
            except OSError as exc:
                raise CamscanError(f"cannot write {args.json!r}: {exc.strerror or exc}") from exc
    if not args.quiet:
        _render(result, sys.stderr if args.json == "-" else sys.stdout)
    return 0
