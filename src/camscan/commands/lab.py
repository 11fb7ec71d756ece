"""`camscan lab`: run simulated cameras on loopback until interrupted.

Kept light at import time (`camscan --help` builds this parser): the lab is imported in run().
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping

from camscan.argtypes import bounded

DESCRIPTION = """\
Run a fleet of simulated IP cameras on 127.x loopback addresses (no real device is touched):
Hikvision-, Axis-, Dahua-like and generic ONVIF firmware, each with its own address, MAC,
serial, clock and certificate, HTTPS (and HTTP) with Digest authentication. Most devices are
healthy; a few show each problem camscan detects. Stop with Ctrl-C."""

EPILOG = """\
examples:
  camscan lab                               the built-in 45-device fleet on 127.77.0.x
  camscan lab --size 5000 --quiet           5,000 devices for a benchmark
  camscan lab --fleet site.toml --out lab/  your own fleet file; CA bundles into lab/
  camscan lab --list-scenarios              what each scenario breaks, and the rules it trips

then, in another terminal:
  camscan 127.77.0.1-127.77.0.45 -p 8443 --ca-bundle camscan-lab/site-ca.pem --trust site
  curl -s http://127.0.0.1:8470/devices                     (the control endpoint)
  curl -s -X POST http://127.0.0.1:8470/devices/dahua-0020/reboot"""


def fleet_size(limit: int) -> Callable[[str], int]:
    """argparse type of --size: 1 to `limit` devices (the lab's and the demo's)."""
    return bounded(int, 1, limit, unit="devices")


_port = bounded(int, 0, 65535)
_seconds = bounded(float, 0, 600, unit="seconds")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fleet", metavar="FILE", help="fleet file (TOML); default: the built-in fleet")
    parser.add_argument("--size", type=fleet_size(65000), metavar="N",
                        help="run N devices with the fleet's mix of personalities and scenarios")
    parser.add_argument("--block", metavar="CIDR",
                        help="address block inside 127.0.0.0/8 (default 127.77.0.0/16)")
    parser.add_argument("--https-port", type=_port, metavar="PORT",
                        help="HTTPS port of every device (default 8443)")
    parser.add_argument("--http-port", type=_port, metavar="PORT", help="plain HTTP port (default 8080)")
    parser.add_argument("--no-http", action="store_true", help="no plain-HTTP listeners (fewer sockets)")
    parser.add_argument("--no-discovery", action="store_true",
                        help="do not answer WS-Discovery probes on <device>:3702/udp (fewer sockets)")
    parser.add_argument("--downtime", type=_seconds, metavar="SECONDS",
                        help="how long a rebooting device is off the network (default 2)")
    parser.add_argument("--out", default="camscan-lab", metavar="DIR",
                        help="where to write site-ca.pem, firmware-cas.pem and inventory.json "
                        "(default: ./camscan-lab)")
    parser.add_argument("--control-port", type=_port, default=8470, metavar="PORT",
                        help="control endpoint on 127.0.0.1 (default 8470; 0 = any free port)")
    parser.add_argument("--show", type=int, default=60, metavar="N",
                        help="list at most N devices on the terminal (all are in inventory.json)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print the summary only")
    parser.add_argument("--prewarm", action="store_true",
                        help="make every certificate and TLS context before reporting ready "
                        "(benchmarks; otherwise each is made on the device's first connection)")
    parser.add_argument("--list-scenarios", action="store_true", help="list the scenarios and exit")


def _list_scenarios() -> int:
    from camscan.lab.scenarios import SCENARIOS

    print(f"{'scenario':<22} {'rules':<40} description")
    for s in SCENARIOS.values():
        print(f"{s.name:<22} {' '.join(s.rules) or '-':<40} {s.description}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list_scenarios:
        return _list_scenarios()
    import json
    import signal
    import time

    import trio

    from camscan.atomic import write_text_atomic
    from camscan.errors import UsageError
    from camscan.lab import default_fleet, load_fleet, open_lab
    from camscan.lab.control import ControlAPI
    from camscan.lab.fleet import validate_block

    # `is not None`: an empty --fleet or --block (an unset variable) is an error, not the default.
    fleet = load_fleet(args.fleet) if args.fleet is not None else default_fleet()
    block = validate_block(args.block, "--block") if args.block is not None else None
    _check_out_dir(args.out)
    http_port: int | bool | None = True
    if args.no_http:
        http_port = None
    elif args.http_port is not None:
        http_port = args.http_port

    async def main() -> None:
        started = time.perf_counter()
        async with open_lab(fleet, size=args.size, block=block, https_port=args.https_port,
                            http_port=http_port, reboot_downtime=args.downtime,
                            ws_discovery=False if args.no_discovery else None) as lab:
            if args.prewarm:
                await lab.prewarm()
            elapsed = time.perf_counter() - started
            control = ControlAPI(lab)
            async with trio.open_nursery() as nursery:
                try:
                    port = await nursery.start(control.serve, args.control_port)
                except OSError as exc:
                    raise UsageError(
                        f"--control-port {args.control_port}: {exc.strerror} (another camscan lab? "
                        "--control-port 0 takes any free port)"
                    ) from None
                # Only now: a second lab that cannot start must not replace the CA bundles and
                # inventory of the one already running in this directory.
                bundles = lab.write_bundles(args.out)
                inventory = lab.inventory()
                write_text_atomic(f"{args.out}/inventory.json", json.dumps(inventory, indent=2) + "\n")
                _print_summary(lab, inventory, bundles, port, elapsed, args)
                # Ctrl-C and SIGTERM (service managers, `timeout`) stop the lab cleanly.
                with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        break

    try:
        trio.run(main)
    except BaseException as exc:
        if not _interrupted(exc):
            raise
    print("camscan lab: stopped", file=sys.stderr)
    return 0


def _check_out_dir(out: str) -> None:
    """One line (exit 2) before the lab starts when --out cannot take the bundles, not a
    traceback once the devices are up."""
    import os
    from pathlib import Path

    from camscan.errors import UsageError

    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out!r}: cannot create the directory ({exc.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out!r}: directory is not writable")


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C, possibly wrapped in trio's exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        _, rest = exc.split(KeyboardInterrupt)
        return rest is None
    return isinstance(exc, KeyboardInterrupt)


def _print_summary(lab: object, inventory: list[dict[str, object]], bundles: Mapping[str, object], port: int,
                   elapsed: float, args: argparse.Namespace) -> None:
    from camscan.lab.runner import Lab

    assert isinstance(lab, Lab)
    out = sys.stdout
    if not args.quiet:
        print(f"{'name':<16} {'address':<15} {'https':>5} {'http':>5}  {'model':<20} scenario", file=out)
        for entry in inventory[: max(args.show, 0)]:
            http = entry["http_port"] if entry["http_port"] is not None else "-"
            print(f"{entry['name']!s:<16} {entry['address']!s:<15} {entry['https_port']!s:>5} {http!s:>5}  "
                  f"{entry['model']!s:<20} {entry['scenario']}", file=out)
        if len(inventory) > args.show:
            print(f"... and {len(inventory) - args.show} more (see {args.out}/inventory.json)", file=out)
        print(file=out)
    first, last = inventory[0]["address"], inventory[-1]["address"]
    settings = lab.settings
    print(f"camscan lab: {len(inventory)} devices on {first} .. {last} (block {settings.block}), "
          f"started in {elapsed:.2f} s{' (prewarmed)' if args.prewarm else ''}", file=out)
    print(f"  credentials (simulated devices): {settings.username} / {settings.password}", file=out)
    print(f"  site CA (trust it to scan):      {bundles['site']}", file=out)
    print(f"  firmware built-in CAs:           {bundles['firmware']}", file=out)
    print(f"  inventory:                       {args.out}/inventory.json", file=out)
    print(f"  control endpoint:                http://127.0.0.1:{port}/devices", file=out)
    print(f"  scan it: camscan {first}-{last} -p {inventory[0]['https_port']} "
          f"--ca-bundle {bundles['site']} --trust site", file=out)
    print("  Ctrl-C stops the lab.", file=out, flush=True)
