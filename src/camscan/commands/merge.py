"""`camscan merge REPORT.json...`: one report from the JSON reports of several shards.

Kept light at import time: the loader, the rules and the renderers are imported in run().
"""

from __future__ import annotations

import argparse
import sys

from camscan.reports import options as report_options
from camscan.rules import options as rule_options

DESCRIPTION = """\
Combine the JSON reports of a sharded scan (camscan TARGET... --shard I/N --json shardI.json on
N machines or cron jobs) into one report, in every format a scan writes. The merged
observations are judged again, together (a key shared by cameras in two shards is found), with
the trust options below: pass the ones the shards were scanned with (a report records their
fingerprint, and merge refuses others). The audit clock is the earliest shard's unless --as-of.

Refused, with one line: files that are not camscan JSON reports or come from a newer schema,
reports of different camscan versions, rule sets or judging settings, shards of different
splits, audit clocks farther apart than --max-skew, and an endpoint found in two reports
(unless --duplicates latest)."""

EPILOG = """\
examples:
  camscan 10.20.0.0/16 --shard 1/3 --json shard1.json -q     # on three machines: 1/3, 2/3, 3/3
  camscan merge shard1.json shard2.json shard3.json --json estate.json --html estate.html
  camscan merge shard*.json --ca-bundle site-ca.pem --trust site --csv - --max-skew 7200"""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    # At most 100 years: inf (or 1e999) passed "0 or more" and then overflowed a timedelta.
    if not 0 <= value <= MAX_SKEW:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and {MAX_SKEW:.0f} seconds")
    return value


MAX_SKEW = 100 * 365 * 86400.0


# reports.merge.DUPLICATE_CHOICES, spelled out: `camscan merge --help` must not load the model.
DUPLICATE_CHOICES: tuple[str, ...] = ("refuse", "latest")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT.json", help="JSON reports (--json) to merge")
    parser.add_argument("--json", metavar="FILE", help="write the merged JSON report to FILE, '-' for stdout")
    parser.add_argument(
        "--max-skew", type=_seconds, default=3600.0, metavar="SECONDS",
        help="refuse reports whose audit clocks (as_of) are farther apart (default: 3600)",
    )
    parser.add_argument(
        "--duplicates", choices=DUPLICATE_CHOICES, default="refuse",
        help="an endpoint in two reports: refuse (default) or keep the latest sighting",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary line on stderr")
    rule_options.add_arguments(parser)
    report_options.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import datetime as dt

    from camscan import runtime
    from camscan.errors import UsageError
    from camscan.pipeline import judge
    from camscan.reports.json_load import load_report
    from camscan.reports.merge import check_compatible, combine, keep_history_findings, missing_shards
    from camscan.rules.registry import judging_fingerprint

    if args.json == "-" and report_options.writes_stdout(args):
        raise UsageError("only one report can go to stdout: --json - and another '-' report")
    if args.json and args.json != "-":
        report_options.check_output_path("--json", args.json)
    ctx = rule_options.context_from_args(args, history=())
    loaded = [load_report(path) for path in args.reports]
    check_compatible(loaded, judging=judging_fingerprint(ctx), max_skew=dt.timedelta(seconds=args.max_skew))
    if not args.as_of:
        ctx = dataclasses.replace(ctx, now=min(report.audit.as_of for report in loaded))
    scan = combine(loaded, duplicates=args.duplicates)
    audit = keep_history_findings(runtime.run(judge, scan, ctx), loaded)
    written = report_options.write_reports(audit, args, json_target=args.json)
    missing = missing_shards(loaded)
    if missing:
        # Even with -q: without it a partial merge looks like the whole estate.
        print(f"camscan merge: warning: no report for shard {', '.join(missing)}: the merge covers "
              "part of the split (the report records it in parameters.merge)", file=sys.stderr)
    if not args.quiet:
        print(
            f"merged {len(loaded)} reports: {len(scan.observations) + len(scan.failures)} endpoints, "
            f"{len(scan.observations)} HTTPS, {len(audit.findings)} findings",
            file=sys.stderr,
        )
        for path in ([args.json] if args.json else []) + written:
            if path != "-":
                print(f"wrote {path}", file=sys.stderr)
    return report_options.exit_code(audit, args)
