"""`camscan scan TARGET...` (also plain `camscan TARGET...`): sweep, pull every chain, judge it.

Kept light at import time: `camscan --help` builds this parser, so trio, cryptography, rich and
scapy are imported inside run() only.
"""

from __future__ import annotations

import argparse
import sys

from camscan.reports import options as report_options
from camscan.rules import options as rule_options
from camscan.scanner import options as scanner_options

DESCRIPTION = """\
Sweep subnets for HTTPS endpoints (cameras, NVRs, VMS servers), record the certificate chain
each one presents (whatever its state: self-signed, expired, SHA-1, RSA-1024), and judge it.

targets: 192.0.2.0/24 (CIDR, IPv4 or IPv6), 192.0.2.7 (address), 192.0.2.10-192.0.2.40 or
192.0.2.10-40 (range), cam1.example.lan (host name: resolved at sweep time, sent as SNI),
192.0.2.9:8443, [2001:db8::7]:443, cam1.example.lan:8443 (one port only), @targets.txt (one
target per line or several per line, # starts a comment)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="what to scan (see above)")
    parser.add_argument("--sites", metavar="FILE",
                        help="scan through site workers instead: the [[sites]] of FILE (docs/sites.md)")
    scanner_options.add_arguments(parser)
    output = parser.add_argument_group("output")
    output.add_argument("--json", metavar="FILE",
                        help="write the JSON report (schema report-v1) to FILE, '-' for stdout")
    output.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar and no table (reports and exit code only)")
    output.add_argument("--show-failures", action="store_true",
                        help="list endpoints that did not complete a handshake, with the reason")
    rule_options.add_arguments(parser)
    report_options.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from camscan import runtime
    from camscan.errors import EXIT_RUNTIME, UsageError
    from camscan.model import AuditResult, ProbeResult
    from camscan.pipeline import judge, run_scan
    from camscan.scanner.output import progress_bar, render

    if bool(args.targets) == bool(args.sites):
        raise UsageError("name the targets to scan, or --sites FILE (not both)")
    sweep = scanner_options.sweep_from_args(args) if not args.sites else None
    sites = None
    if args.sites:
        from camscan.sites.site_config import load_sites

        sites = load_sites(args.sites)
    ctx = rule_options.context_from_args(args, history=())
    other_stdout = report_options.writes_stdout(args)
    if args.json == "-" and other_stdout:
        raise UsageError("only one report can go to stdout: --json - and another '-' report")
    if args.json and args.json != "-":
        # Fail before the sweep, not after it, when the report cannot be written.
        report_options.check_output_path("--json", args.json)
    stdout_taken = args.json == "-" or other_stdout

    async def main() -> AuditResult:
        assert sweep is not None
        targets, options, parameters = sweep
        with progress_bar(targets.estimated_size(), enabled=not args.quiet) as advance:

            def on_result(result: ProbeResult) -> None:
                advance(result)
                if jsonl is not None:
                    jsonl(result)

            scan = await run_scan(targets, options, parameters, on_result=on_result)
        return await judge(scan, ctx)

    try:
        # Validates the report targets too, before the sweep spends any time. Its temporary
        # file exists from here: inside the try, so an interrupt at any moment removes it.
        jsonl = report_options.jsonl_callback(args, ctx)
        if sites is not None:
            from camscan.sites.run import audit_sites

            audit = audit_sites(sites, ctx, on_result=jsonl, quiet=args.quiet)
        else:
            audit = runtime.run(main)
        written = report_options.write_reports(audit, args, json_target=args.json)
    except BaseException:
        report_options.abort_stream(args)
        raise
    if not args.quiet:
        for path in written:
            if path != "-":
                print(f"wrote {path}", file=sys.stderr)
        # The table goes to stdout unless a report already took it; then to stderr.
        render(audit, sys.stderr if stdout_taken else sys.stdout, show_failures=args.show_failures)
    if audit.sites:
        from camscan.sites.run import missing, summary_line

        print(summary_line(audit.sites), file=sys.stderr)
        if sites is not None and sites.dispatch.fail_on_site_down and missing(audit.sites):
            return EXIT_RUNTIME
    return report_options.exit_code(audit, args)
