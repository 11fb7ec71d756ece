"""`camscan history [--db FILE | --config FILE] [--json] [--prune]`: list (or prune) past audit runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from camscan.argtypes import bounded

DESCRIPTION = """\
List the audit runs recorded in the history database (oldest first): when each ran, what it
swept, how many endpoints answered and how many findings it had, by severity.

--prune drops the runs beyond the retention limits now (the audit does it after every run):
the config's [history] keep_runs / keep_days, or --keep-runs / --keep-days, or the defaults
(1000 runs, 400 days). The newest two runs are always kept. The database is then compacted
if more than a quarter of it is free space and nobody else has it open."""

EPILOG = """\
examples:
  camscan history --config /etc/camscan/camscan.toml
  camscan history --db /var/lib/camscan/history.sqlite --limit 10 --json
  camscan history --config /etc/camscan/camscan.toml --prune
  camscan history --db history.sqlite --prune --keep-runs 30 --keep-days 0"""


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


# SQLite's INTEGER is 64-bit: a larger number overflowed in the query instead of being refused.
SQLITE_MAX = 2**63 - 1


def _positive(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= SQLITE_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number up to {SQLITE_MAX}")
    return int(text)


def _keep_runs(text: str) -> int:
    value = bounded(int, 0, 10_000_000)(text)
    if value == 1:
        raise argparse.ArgumentTypeError("1 is too few: 0 for no limit, or at least 2")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    add_database_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    parser.add_argument("--limit", type=_positive, metavar="N", help="only the newest N runs")
    parser.add_argument("--site", metavar="NAME",
                        help="only the runs that covered this site (a central audit across sites)")
    retention = parser.add_argument_group("retention")
    retention.add_argument(
        "--prune", action="store_true", help="prune runs beyond the retention limits now, then compact"
    )
    retention.add_argument(
        "--keep-runs", type=_keep_runs, metavar="N",
        help="with --prune: keep at most N runs (0: no limit; default: the config's, else 1000)",
    )
    retention.add_argument(
        "--keep-days", type=bounded(int, 0, 36_500), metavar="DAYS",
        help="with --prune: drop runs older than DAYS (0: no limit; default: the config's, else 400)",
    )


def _prune(args: argparse.Namespace) -> int:
    import json

    from camscan.config import DEFAULT_KEEP_DAYS, DEFAULT_KEEP_RUNS, load_config
    from camscan.lock import RunLock
    from camscan.reports.history import HistoryStore, Retention

    keep_runs, keep_days = DEFAULT_KEEP_RUNS, DEFAULT_KEEP_DAYS
    if args.config:
        cfg = load_config(args.config)
        db, lock = cfg.history_path, cfg.lock_path
        keep_runs, keep_days = cfg.keep_runs, cfg.keep_days
    else:
        db = database_path(args)
        lock = Path(f"{db}.lock")  # the audit config's default lock beside the history
    retention = Retention(
        keep_runs=keep_runs if args.keep_runs is None else args.keep_runs,
        keep_days=keep_days if args.keep_days is None else args.keep_days,
    )
    # The audit's own lock: a prune never races a running audit (it exits 4 instead). The
    # database is opened first, so a wrong path leaves no lock file behind.
    with HistoryStore(db, create=False) as store, RunLock(lock):
        result = store.prune(retention)
        compaction = store.compact()
    if args.json:
        print(json.dumps({
            "retention": {"keep_runs": retention.keep_runs, "keep_days": retention.keep_days},
            "pruned": [vars(p) for p in result.pruned],
            "kept": result.kept,
            "compacted": compaction.compacted,
            "compaction": compaction.detail,
            "bytes_before": compaction.bytes_before,
            "bytes_after": compaction.bytes_after,
        }, indent=2, sort_keys=True))
        return 0
    print(f"{result.summary()} [{retention.describe()}]")
    print(compaction.summary())
    return 0


def run(args: argparse.Namespace) -> int:
    import json

    from camscan.errors import UsageError
    from camscan.reports.history import HistoryStore

    if args.prune:
        return _prune(args)
    if args.keep_runs is not None or args.keep_days is not None:
        raise UsageError("--keep-runs and --keep-days go with --prune")
    with HistoryStore(database_path(args), create=False) as store:
        runs = store.runs(limit=args.limit)
        pruned = store.pruned_count()
    if args.site:
        runs = [r for r in runs if r.site_state(args.site) is not None]
    if args.json:
        print(json.dumps({"runs": [r.to_dict() for r in runs], "pruned": pruned}, indent=2, sort_keys=True))
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
        if r.sites:
            from camscan.termtext import sanitize

            states = ", ".join(f"{s.get('name')} {s.get('state')}" for s in r.sites)
            print(f"{'':>5}  sites: {sanitize(states)}")
    if pruned:
        print(f"({pruned} older run{'s' if pruned != 1 else ''} pruned by the retention limits)")
    return 0
