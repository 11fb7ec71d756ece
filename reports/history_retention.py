"""History retention: which runs to prune (by count and by age), and when compacting pays.

Pruning runs inside the caller's transaction (HistoryStore.record_run prunes in the very
transaction that adds the new run, so a crash leaves the previous history whole). Each pruned
run leaves one small row in `pruned_runs` (id, when it ran, when and why it was pruned), so
`camscan diff` can say "run 3 was pruned (keep_runs=30)" instead of "no such run".

Compaction (VACUUM) rewrites the whole file, so it runs only when worthwhile: at least
MIN_FREE_PAGES free pages making up more than WORTHWHILE_FREE_FRACTION of the file. It never
waits for another connection: with anyone else reading or writing, it is skipped for this time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from camscan.reports.history_records import iso_z

# The newest runs are never pruned: the newest is the run just recorded, the one before it is
# the baseline the next audit's diff needs (after a long pause, keep_days alone would drop it).
PROTECTED_NEWEST = 2
WORTHWHILE_FREE_FRACTION = 0.25
MIN_FREE_PAGES = 16


@dataclass(frozen=True)
class Retention:
    keep_runs: int  # keep at most this many runs; 0: no limit by count
    keep_days: int  # drop runs that finished more than this many days ago; 0: no limit by age

    def describe(self) -> str:
        parts = [
            f"keep_runs={self.keep_runs}" if self.keep_runs else "keep_runs unlimited",
            f"keep_days={self.keep_days}" if self.keep_days else "keep_days unlimited",
        ]
        return ", ".join(parts)


@dataclass(frozen=True)
class PrunedRun:
    id: int
    finished_at: str
    pruned_at: str
    reason: str  # "keep_runs=30", "keep_days=90" or both


@dataclass(frozen=True)
class PruneResult:
    pruned: tuple[PrunedRun, ...]
    kept: int

    def summary(self) -> str:
        if not self.pruned:
            return f"nothing to prune ({self.kept} run{'s' if self.kept != 1 else ''} kept)"
        ids = [p.id for p in self.pruned]
        reasons = sorted({part for p in self.pruned for part in p.reason.split(", ")})
        return (
            f"pruned {len(ids)} run{'s' if len(ids) != 1 else ''} ({_ranges(ids)}; "
            f"{', '.join(reasons)}); {self.kept} kept"
        )


def _ranges(ids: Sequence[int]) -> str:
    """[1, 2, 3, 7] -> "runs 1-3, 7"."""
    spans: list[str] = []
    ordered = sorted(ids)
    start = prev = ordered[0]
    for run_id in [*ordered[1:], None]:
        if run_id is not None and run_id == prev + 1:
            prev = run_id
            continue
        spans.append(str(start) if start == prev else f"{start}-{prev}")
        if run_id is not None:
            start = prev = run_id
    return ("run " if len(ordered) == 1 else "runs ") + ", ".join(spans)


def select_pruned(
    runs: Sequence[tuple[int, datetime]], retention: Retention, now: datetime
) -> dict[int, str]:
    """{run id: reason} for the runs beyond the retention limits. `runs` are (id, finished_at)."""
    cutoff = now - timedelta(days=retention.keep_days) if retention.keep_days else None
    doomed: dict[int, str] = {}
    newest_first = sorted(runs, key=lambda r: r[0], reverse=True)
    for position, (run_id, finished_at) in enumerate(newest_first):
        if position < PROTECTED_NEWEST:
            continue
        reasons = []
        if retention.keep_runs and position >= retention.keep_runs:
            reasons.append(f"keep_runs={retention.keep_runs}")
        if cutoff is not None and finished_at < cutoff:
            reasons.append(f"keep_days={retention.keep_days}")
        if reasons:
            doomed[run_id] = ", ".join(reasons)
    return doomed


def prune_runs(
    conn: sqlite3.Connection,
    runs: Sequence[tuple[int, datetime]],
    retention: Retention,
    now: datetime,
) -> PruneResult:
    """Delete the runs beyond `retention` (their endpoints and findings cascade) and note each
    one in pruned_runs. The caller holds the transaction."""
    doomed = select_pruned(runs, retention, now)
    finished = dict(runs)
    pruned = tuple(
        PrunedRun(run_id, iso_z(finished[run_id]), iso_z(now), reason)
        for run_id, reason in sorted(doomed.items())
    )
    if pruned:
        conn.executemany(
            "INSERT OR REPLACE INTO pruned_runs (id, finished_at, pruned_at, reason) VALUES (?, ?, ?, ?)",
            [(p.id, p.finished_at, p.pruned_at, p.reason) for p in pruned],
        )
        conn.executemany("DELETE FROM runs WHERE id = ?", [(p.id,) for p in pruned])
    return PruneResult(pruned=pruned, kept=len(runs) - len(pruned))


@dataclass(frozen=True)
class Compaction:
    compacted: bool
    detail: str
    bytes_before: int
    bytes_after: int

    def summary(self) -> str:
        if self.compacted:
            return f"compacted the history: {_size(self.bytes_before)} -> {_size(self.bytes_after)}"
        return f"history not compacted: {self.detail}"


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB"


def free_pages(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(page_count, freelist_count, page_size) of the main database."""
    page_count = int(conn.execute("PRAGMA page_count").fetchone()[0])
    freelist = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    return page_count, freelist, page_size


def worthwhile(page_count: int, freelist: int) -> bool:
    return freelist >= MIN_FREE_PAGES and freelist > page_count * WORTHWHILE_FREE_FRACTION


def _touch(conn: sqlite3.Connection) -> None:
    """Write one page (the header) to the WAL and change nothing: user_version there and back.

    SQLite skips an UPDATE that stores identical bytes, but a page made dirty is written."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"PRAGMA user_version = {version + 1:d}")
        conn.execute(f"PRAGMA user_version = {version:d}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def compact_if_worthwhile(conn: sqlite3.Connection) -> Compaction:
    """VACUUM when worthwhile and nobody else uses the database; never wait for a lock.

    The connection must not be inside a transaction. With busy_timeout 0: the write lock is
    taken at once or another connection is writing; then one page is written to the WAL and a
    TRUNCATE checkpoint must finish at once, which it cannot while any other connection holds a
    read snapshot (one reading the WAL pins it; one reading only the main file blocks the
    backfill). In either case the file is left as it is, to be compacted another time.
    """
    pages, free, page_size = free_pages(conn)
    before = pages * page_size
    if not worthwhile(pages, free):
        share = free / pages if pages else 0.0
        return Compaction(
            False,
            f"{free} of {pages} pages free ({share:.0%}); compacting pays from "
            f"{MIN_FREE_PAGES} free pages making up over {WORTHWHILE_FREE_FRACTION:.0%} of the file",
            before,
            before,
        )
    timeout = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        _touch(conn)
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            return Compaction(False, "the database is in use by another connection", before, before)
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as exc:
        # "database is locked" / "busy": another connection writes. Anything else (a full disk)
        # leaves the file as it was too: VACUUM is one transaction.
        text = str(exc)
        why = "the database is in use by another connection" if "lock" in text or "busy" in text else text
        return Compaction(False, why, before, before)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {timeout:d}")
    pages, free, page_size = free_pages(conn)
    return Compaction(True, "compacted", before, pages * page_size)
