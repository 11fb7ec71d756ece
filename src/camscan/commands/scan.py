"""`camscan scan TARGET...` (also plain `camscan TARGET...`): sweep, pull every chain, judge it.

Kept light at import time: `camscan --help` builds this parser, so trio, cryptography, rich and
scapy are imported inside run() only.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

DESCRIPTION = """\
Sweep subnets for HTTPS endpoints (cameras, NVRs, VMS servers), record the certificate chain
each one presents (whatever its state: self-signed, expired, SHA-1, RSA-1024), and judge it.

targets: 192.0.2.0/24 (CIDR, IPv4 or IPv6), 192.0.2.7 (address), 192.0.2.10-192.0.2.40 or
192.0.2.10-40 (range), cam1.example.lan (host name: resolved at sweep time, sent as SNI),
192.0.2.9:8443, [2001:db8::7]:443, cam1.example.lan:8443 (one port only), @targets.txt (one
target per line or several per line, # starts a comment)."""


def _optional(module: str) -> ModuleType | None:
    """Another area's module, if it exists yet (the scan works without it)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", nargs="+", metavar="TARGET", help="what to scan (see above)")
    sweep = parser.add_argument_group("targets and sweep")
    sweep.add_argument(
        "-p", "--ports", default="cameras", metavar="PORTS",
        help="ports: 443,8443 or 8000-8100 or presets 'cameras' (443,4443,7443,8443,9443) and "
        "'vms' (cameras + Milestone XProtect 7563,8082); mix freely (default: cameras)",
    )
    sweep.add_argument(
        "--exclude", action="append", default=[], metavar="TARGET",
        help="skip these (same forms as targets; repeatable or comma-separated)",
    )
    sweep.add_argument(
        "--allow-large", action="store_true",
        help="allow targets covering more than a /16 (65,536 addresses)",
    )
    sweep.add_argument("--concurrency", type=_positive_int, default=256, metavar="N",
                       help="connections in flight at once, all hosts together (default: 256)")
    sweep.add_argument("--per-host", type=_positive_int, default=2, metavar="N",
                       help="connections at once to one address; cameras are fragile (default: 2)")
    sweep.add_argument("--rate", type=_positive_float, default=None, metavar="PER_SECOND",
                       help="at most this many new connections per second (default: unlimited)")
    sweep.add_argument("--connect-timeout", type=_positive_float, default=3.0, metavar="SECONDS",
                       help="TCP connect timeout (default: 3)")
    sweep.add_argument("--handshake-timeout", type=_positive_float, default=5.0, metavar="SECONDS",
                       help="TLS handshake timeout (default: 5)")
    sweep.add_argument("--http-timeout", type=_positive_float, default=3.0, metavar="SECONDS",
                       help="time allowed for the HTTP HEAD after the handshake (default: 3)")
    sweep.add_argument("--no-http", dest="http_facts", action="store_false",
                       help="skip the HTTP HEAD request (no Server/Date facts, no clock-skew rule)")
    sweep.add_argument(
        "--legacy-probe", action=argparse.BooleanOptionalAction, default=True,
        help="also ask each HTTPS endpoint for TLS 1.0 and 1.1 with hand-built hellos "
        "(two more connections per endpoint, within --per-host; default: on)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--json", metavar="FILE",
                        help="write the JSON report (schema report-v1) to FILE, '-' for stdout")
    output.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar and no table (reports and exit code only)")
    output.add_argument("--show-failures", action="store_true",
                        help="list endpoints that did not complete a handshake, with the reason")
    rule_options = _optional("camscan.rules.options")
    if rule_options is not None:
        rule_options.add_arguments(parser)
    report_options = _optional("camscan.reports.options")
    if report_options is not None:
        report_options.add_arguments(parser)


def _excluded(values: list[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _check_output_path(value: str) -> None:
    """Fail before the sweep, not after it, when the report cannot be written."""
    import os
    from pathlib import Path

    from camscan.errors import UsageError

    path = Path(value)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"--json {value!r}: is a directory")
    if not directory.is_dir():
        raise UsageError(f"--json {value!r}: directory {str(directory)!r} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"--json {value!r}: directory {str(directory)!r} is not writable")


def run(args: argparse.Namespace) -> int:
    import datetime as dt

    import trio

    from camscan.errors import UsageError
    from camscan.model import AuditContext, AuditResult, ProbeResult, ScanParameters
    from camscan.pipeline import judge, run_scan
    from camscan.reports.json_report import write_json
    from camscan.scanner.output import progress_bar, render
    from camscan.scanner.sweep import SweepOptions
    from camscan.scanner.targets import parse_ports, parse_targets

    ports = parse_ports(args.ports)
    excluded = _excluded(args.exclude)
    targets = parse_targets(args.targets, ports=ports, exclude=excluded, allow_large=args.allow_large)
    options = SweepOptions(
        concurrency=args.concurrency,
        per_host=args.per_host,
        rate=args.rate,
        connect_timeout=args.connect_timeout,
        handshake_timeout=args.handshake_timeout,
        http_timeout=args.http_timeout,
        http_facts=args.http_facts,
        legacy_probe=args.legacy_probe,
        legacy_timeout=args.handshake_timeout,  # a hello's answer is the start of a handshake
    )
    parameters = ScanParameters(
        targets=tuple(args.targets),
        ports=ports,
        excluded=tuple(excluded),
        concurrency=options.concurrency,
        per_host=options.per_host,
        rate=options.rate,
        connect_timeout=options.connect_timeout,
        handshake_timeout=options.handshake_timeout,
    )
    rule_options = _optional("camscan.rules.options")
    report_options = _optional("camscan.reports.options")
    if rule_options is not None:
        ctx = rule_options.context_from_args(args, history=())
    else:
        ctx = AuditContext(now=dt.datetime.now(dt.UTC))
    other_stdout = report_options is not None and report_options.writes_stdout(args)
    if args.json == "-" and other_stdout:
        raise UsageError("only one report can go to stdout: --json - and another '-' report")
    if args.json and args.json != "-":
        _check_output_path(args.json)
    # Validates the report targets too, before the sweep spends any time.
    jsonl = report_options.jsonl_callback(args, ctx) if report_options is not None else None
    stdout_taken = args.json == "-" or other_stdout

    async def main() -> AuditResult:
        with progress_bar(targets.estimated_size(), enabled=not args.quiet) as advance:

            def on_result(result: ProbeResult) -> None:
                advance(result)
                if jsonl is not None:
                    jsonl(result)

            scan = await run_scan(targets, options, parameters, on_result=on_result)
        return await judge(scan, ctx)

    try:
        audit = trio.run(main)
        if args.json:
            write_json(audit, args.json)
        written = report_options.write_reports(audit, args) if report_options is not None else []
    except BaseException:
        if report_options is not None:
            report_options.abort_stream(args)
        raise
    if not args.quiet:
        for path in written:
            if path != "-":
                print(f"wrote {path}", file=sys.stderr)
        # The table goes to stdout unless a report already took it; then to stderr.
        render(audit, sys.stderr if stdout_taken else sys.stdout, show_failures=args.show_failures)
    if report_options is not None:
        return int(report_options.exit_code(audit, args))
    return 0
