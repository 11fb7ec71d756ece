"""`camscan diff [--db FILE | --config FILE] [RUN_A [RUN_B]] [--json]`: what changed between runs."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Compare two audit runs from the history: new and resolved findings, new and vanished
endpoints, certificates changed at the same endpoint, and devices that moved to another address
(the same MAC, serial, key or certificate now answers elsewhere).

With no run ids, compares the last two runs; with one, compares that run with the one before it."""

EPILOG = """\
examples:
  camscan diff --config /etc/camscan/camscan.toml
  camscan diff --db history.sqlite 12 15 --json

exit codes: 0 (whether or not anything changed), 2 unknown or pruned run id, 3 unreadable
database."""


def _run_id(text: str) -> int:
    from camscan.commands.history import SQLITE_MAX

    if not text.isdigit() or not 1 <= int(text) <= SQLITE_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not a run id (see `camscan history`)")
    return int(text)


def configure(parser: argparse.ArgumentParser) -> None:
    from camscan.commands.history import add_database_arguments

    add_database_arguments(parser)
    parser.add_argument("runs", nargs="*", type=_run_id, metavar="RUN", help="run ids: [RUN_A [RUN_B]]")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")
    parser.add_argument("--site", metavar="NAME",
                        help="only the changes at this site (a central audit across sites)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from camscan.commands.history import database_path
    from camscan.errors import UsageError
    from camscan.reports.diff import diff_runs, render_text
    from camscan.reports.history import HistoryStore

    if len(args.runs) > 2:
        raise UsageError(f"diff takes at most two run ids, got {len(args.runs)}")
    with HistoryStore(database_path(args), create=False) as store:
        if len(args.runs) == 2:
            old_id, new_id = args.runs
        elif len(args.runs) == 1:
            new_id = args.runs[0]
            store.run(new_id)
            previous = store.previous_run_id(new_id)
            if previous is None:
                gone = store.pruned_before(new_id)
                if gone is not None:
                    raise UsageError(
                        f"run {new_id} is the oldest run kept: run {gone.id} before it was pruned "
                        f"({gone.reason})"
                    )
                raise UsageError(f"run {new_id} is the first run: nothing before it to compare with")
            old_id = previous
        else:
            latest = store.runs(limit=2)
            if len(latest) < 2:
                print(f"the history has {len(latest)} run(s); a diff needs two", file=sys.stderr)
                return 0
            old_id, new_id = latest[0].id, latest[1].id
        old, new = store.snapshot(old_id), store.snapshot(new_id)
        if (new.run is not None and new.run.sites) or (old.run is not None and old.run.sites):
            # As the audit diffs: a site that was down is neither "resolved" nor "new".
            from camscan.reports.site_diff import align_sites

            old, new = align_sites(
                old, new, store.last_complete_snapshots(new_id), store.last_whole_run(new_id)
            )
        if args.site:
            from camscan.reports.site_diff import only_site

            old, new = only_site(old, args.site), only_site(new, args.site)
        diff = diff_runs(old, new)
    if args.json:
        from camscan.termtext import json_safe

        print(json_safe(json.dumps(diff.to_dict(), indent=2, sort_keys=True)))
    else:
        print(render_text(diff), end="")
    return 0
