"""`camscan demo`: start the built-in lab in-process, scan it, print and write the findings.

The README's first command: it needs no camera and no network beyond loopback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from camscan.commands.lab import fleet_size
from camscan.reports import options as report_options
from camscan.rules import options as rule_options

DESCRIPTION = """\
Start the built-in lab of simulated cameras on 127.x loopback addresses (most healthy, a few
with each certificate problem camscan detects), scan it exactly as `camscan scan` would, print
the findings, and write every report format into --out (default: a new temporary directory).
The lab's site CA is trusted (--trust site), as a site would trust its own CA."""

EPILOG = """\
examples:
  camscan demo                       scan the built-in 45-device lab; reports in a temp dir
  camscan demo --out demo/           reports into demo/ (report.json, report.html, ...)
  camscan demo --as-of +30d          the same lab, judged 30 days from now
  camscan demo --fleet site.toml     your own fleet file"""

# Report file names the demo fills in for each format the reports area provides.
DEFAULT_REPORTS = {"html": "report.html", "csv": "findings.csv", "junit": "junit.xml",
                   "prometheus": "camscan.prom", "jsonl": "report.jsonl", "sarif": "camscan.sarif"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR",
                        help="directory for the reports and the lab's CA bundles (created if needed; "
                        "default: a new temporary directory)")
    parser.add_argument("--fleet", metavar="FILE", help="fleet file (TOML) instead of the built-in fleet")
    parser.add_argument("--size", type=fleet_size(5000), metavar="N",
                        help="scale the fleet to N devices (same mix)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no table; print where reports went")
    parser.add_argument("--no-legacy-probe", dest="legacy_probe", action="store_false",
                        help="skip the TLS 1.0/1.1 probe")
    rule_options.add_arguments(parser)
    # The demo trusts the lab's own site CA and never leaves loopback (no AIA fetches).
    parser.set_defaults(trust="site", offline=True)
    for action in parser._actions:
        if action.dest == "trust":
            action.help = ("site: the --ca-bundle files alone, with the lab's site CA (default for the "
                           "demo); public: Mozilla roots plus --ca-bundle")
    report_options.add_arguments(parser)


def _scenario_check(lab: Any, audit: Any) -> list[tuple[str, str, str, str, bool]]:
    """Per device: did the scan find at least the rules its scenario is meant to trigger?"""
    rows = []
    for device in lab.devices:
        found = {f.rule_id for f in audit.findings_for(device.endpoint)}
        expected = set(device.scenario.rules)
        ok = expected <= found if expected else not found
        rows.append((device.name, device.scenario.name, " ".join(sorted(expected)) or "-",
                     " ".join(sorted(found)) or "-", ok))
    return rows


def run(args: argparse.Namespace) -> int:
    import tempfile
    import time
    from pathlib import Path

    from camscan import runtime
    from camscan.errors import UsageError
    from camscan.lab import default_fleet, load_fleet, open_lab
    from camscan.model import AuditResult
    from camscan.pipeline import judge, run_scan
    from camscan.scanner.options import scan_parameters, sweep_options
    from camscan.scanner.output import plural, render

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="camscan-demo-"))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {str(out)!r}: {exc.strerror}") from None
    fleet = load_fleet(args.fleet) if args.fleet is not None else default_fleet()
    for fmt, filename in DEFAULT_REPORTS.items():
        if getattr(args, fmt) is None:
            setattr(args, fmt, str(out / filename))
    # `camscan scan`'s sweep with its defaults (and --no-legacy-probe), at the demo's own
    # concurrency of 64.
    options = sweep_options(args, concurrency=64)
    started = time.perf_counter()

    async def main() -> tuple[AuditResult, list[tuple[str, str, str, str, bool]], dict[str, Path], int]:
        async with open_lab(fleet, size=args.size, http_port=None, reboot_downtime=0.5) as lab:
            bundles = lab.write_bundles(out)
            args.ca_bundle = [*args.ca_bundle, str(bundles["site"])]
            ctx = rule_options.context_from_args(args, history=())
            endpoints = lab.endpoints()
            first, last = endpoints[0].address, endpoints[-1].address
            ports = sorted({e.port for e in endpoints})
            parameters = scan_parameters([f"{first}-{last}"], ports, options)
            jsonl = report_options.jsonl_callback(args, ctx)
            scan = await run_scan(endpoints, options, parameters, on_result=jsonl)
            audit = await judge(scan, ctx)
            return audit, _scenario_check(lab, audit), bundles, len(endpoints)

    audit, checks, bundles, count = runtime.run(main)
    elapsed = time.perf_counter() - started
    written = [str(out / "report.json")]
    written += report_options.write_reports(audit, args, json_target=written[0])
    if not args.quiet:
        render(audit, sys.stdout)
        _print_checks(checks)
    mismatched = [c for c in checks if not c[4]]
    print(f"\ncamscan demo: scanned {count} simulated cameras in {elapsed:.1f} s: "
          f"{plural(len(audit.findings), 'finding')}; {len(checks) - len(mismatched)}/{len(checks)} devices "
          "showed what their scenario plants")
    print(f"  lab site CA:  {bundles['site']}")
    for path in written:
        print(f"  wrote {path}")
    # --fail-on defaults to none: the demo is meant to find problems.
    return report_options.exit_code(audit, args)


def _print_checks(checks: list[tuple[str, str, str, str, bool]]) -> None:
    print("\nscenario check (planted problems -> rules that fired):")
    seen: set[str] = set()
    for name, scenario, expected, found, ok in checks:
        if scenario == "healthy" and ok and "healthy" in seen:
            continue  # one healthy line is enough unless one of them is wrong
        seen.add(scenario)
        mark = "ok " if ok else "MISSING"
        print(f"  {mark:<7} {name:<16} {scenario:<21} planted {expected:<34} found {found}")
