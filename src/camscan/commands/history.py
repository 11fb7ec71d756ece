"""`camscan history [--db FILE | --config FILE] [--json]`: list past audit runs."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
List the audit runs recorded in the history database (oldest first): when each ran, what it
swept, how many endpoints answered and how many findings it had, by severity."""

EPILOG = """\
examples:
  camscan history --config /etc/camscan/camscan.toml
  camscan history --db /var/lib/camscan/history.sqlite --limit 10 --json"""


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", metavar="FILE", help="the history database (SQLite)")
    where.add_argument("--config", "-c", metavar="FILE", help="take the database path from this audit config")


def database_path(args: argparse.Namespace) -> Path:
    from camscan.errors import UsageError

    if args.db:
        return Path(args.db)
    if args.config:
        from camscan.config import load_config

        return load_config(args.config).history_path
    raise UsageError("name the history database with --db FILE or --config FILE")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def configure(parser: argparse.ArgumentParser) -> None:
    add_database_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    parser.add_argument("--limit", type=_positive, metavar="N", help="only the newest N runs")


def run(args: argparse.Namespace) -> int:
    import json

    from camscan.reports.history import HistoryStore

    with HistoryStore(database_path(args), create=False) as store:
        runs = store.runs(limit=args.limit)
    if args.json:
        print(json.dumps({"runs": [r.to_dict() for r in runs]}, indent=2, sort_keys=True))
        return 0
    if not runs:
        print("no runs recorded yet")
        return 0
    header = f"{'run':>5}  {'finished (UTC)':<20}  {'answered':>8}  {'failed':>6}  {'errors':>6}  "
    header += f"{'warnings':>8}  {'notices':>7}  targets"
    print(header)
    for r in runs:
        d = r.to_dict()
        targets = ", ".join(d["targets"])
        if len(targets) > 40:
            targets = targets[:39] + "…"
        print(
            f"{r.id:>5}  {d['finished_at']:<20}  {r.observations:>8}  {r.failures:>6}  "
            f"{r.by_severity['error']:>6}  {r.by_severity['warning']:>8}  {r.by_severity['notice']:>7}  "
            f"{targets}"
        )
    return 0
