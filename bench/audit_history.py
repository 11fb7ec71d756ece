"""The audit history at fleet scale: recording runs, opening (integrity check), facts, diff.

    .venv/bin/python -m bench.audit_history [--endpoints 5000] [--runs 30] [--keep 5]

Builds one in-memory fleet (real certificates from camscan.pki, 127.x addresses, one finding
per endpoint, nothing contacted), records it --runs times into a fresh SQLite file in a
temporary directory, moving one device per run, and times each step; then prunes the history
to the newest --keep runs (HistoryStore.prune, one transaction) and compacts it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from camscan import pki
from camscan.model import Severity
from camscan.reports.diff import diff_runs
from camscan.reports.history import HistoryStore, Retention
from tests.audit.builders import T0, Cam, audit_of


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoints", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", type=int, default=5, help="runs kept by the prune step")
    args = parser.parse_args()

    # A few hundred distinct certificates are enough: sharing changes nothing in the storage cost.
    leaves = [pki.make_leaf(None, common_name=f"cam {i}", ips=[f"127.1.0.{i % 250 + 1}"]) for i in range(256)]
    cams = [
        Cam(f"127.1.{i // 250}.{i % 250 + 1}", leaves[i % 256],
            mac=f"00:40:8c:00:{i // 256:02x}:{i % 256:02x}",
            findings=[("CS121", Severity.WARNING, "expires in 30 days")])
        for i in range(args.endpoints)
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.sqlite"
        record = []
        with HistoryStore(db) as store:
            for n in range(args.runs):
                moved = cams[n % len(cams)]
                moved.address = f"127.2.{n // 250}.{n % 250 + 1}"
                audit = audit_of(cams, when=T0 + dt.timedelta(days=n))
                started = time.perf_counter()
                store.record_run(audit)
                record.append(time.perf_counter() - started)
        size = db.stat().st_size
        started = time.perf_counter()
        store = HistoryStore(db, create=False)
        opened = time.perf_counter() - started
        started = time.perf_counter()
        facts = store.facts()
        facts_s = time.perf_counter() - started
        started = time.perf_counter()
        diff = diff_runs(store.snapshot(args.runs - 1), store.snapshot(args.runs))
        diff_s = time.perf_counter() - started
        started = time.perf_counter()
        pruned = store.prune(Retention(keep_runs=args.keep, keep_days=0))
        prune_s = time.perf_counter() - started
        started = time.perf_counter()
        compaction = store.compact()
        compact_s = time.perf_counter() - started
        store.close()
        compacted_size = db.stat().st_size
    print(f"endpoints per run:  {args.endpoints}   runs: {args.runs}   database: {size / 1e6:.1f} MB")
    median = sorted(record)[len(record) // 2]
    print(f"record_run:         median {median * 1000:.0f} ms, max {max(record) * 1000:.0f} ms")
    print(f"open (quick_check): {opened * 1000:.0f} ms")
    print(f"facts():            {facts_s * 1000:.0f} ms ({len(facts)} distinct sightings)")
    print(f"snapshot x2 + diff: {diff_s * 1000:.0f} ms ({diff.summary()})")
    print(f"prune to {args.keep} runs:    {prune_s * 1000:.0f} ms ({pruned.summary()})")
    print(f"compact:            {compact_s * 1000:.0f} ms ({compaction.summary()}; "
          f"file {compacted_size / 1e6:.1f} MB after closing)")


if __name__ == "__main__":
    main()
