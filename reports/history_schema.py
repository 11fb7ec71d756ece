"""The history database file: opening it safely, checking it is ours, migrating its schema.

A file that is not a camscan history (garbage bytes, a truncated database, another program's
schema, a newer schema) raises CamscanError and is left byte-for-byte untouched: nothing is
written until the file is known to be ours.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from camscan.errors import CamscanError, UsageError

SQLITE_MAGIC = b"SQLite format 3\x00"

# MIGRATIONS[i] takes the schema from version i to version i + 1. Append only; never edit.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        as_of TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        parameters TEXT NOT NULL,
        observations INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        findings INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        warnings INTEGER NOT NULL,
        notices INTEGER NOT NULL
    );
    CREATE TABLE endpoints (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        address TEXT NOT NULL,
        port INTEGER NOT NULL,
        server_name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        detail TEXT,
        observed_at TEXT NOT NULL,
        tls_version TEXT,
        leaf_sha256 TEXT,
        spki_sha256 TEXT,
        subject TEXT,
        not_after TEXT,
        mac TEXT,
        serial TEXT,
        vendor TEXT,
        model TEXT,
        firmware TEXT,
        UNIQUE (run_id, address, port, server_name)
    );
    CREATE INDEX endpoints_by_leaf ON endpoints (leaf_sha256);
    CREATE INDEX endpoints_by_mac ON endpoints (mac);
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
        rule_id TEXT NOT NULL,
        severity TEXT NOT NULL,
        title TEXT NOT NULL,
        message TEXT NOT NULL,
        evidence TEXT NOT NULL
    );
    CREATE INDEX findings_by_run ON findings (run_id);
    """,
    # 2: retention. Pruning deletes runs, whose endpoints cascade to their findings: without an
    # index on findings.endpoint_id every deleted endpoint would scan the whole findings table.
    """
    CREATE INDEX findings_by_endpoint ON findings (endpoint_id);
    CREATE TABLE pruned_runs (
        id INTEGER PRIMARY KEY,
        finished_at TEXT NOT NULL,
        pruned_at TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    """,
    # 3: sites (a central audit across sites): the run's site statuses (JSON, NULL for a
    # single-machine run) and each endpoint's site (NULL before, or without, sites). Older
    # databases migrate in place; their rows read back with no site.
    """
    ALTER TABLE runs ADD COLUMN sites TEXT;
    ALTER TABLE endpoints ADD COLUMN site TEXT;
    CREATE INDEX endpoints_by_site ON endpoints (site);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
_TABLES = {"schema_version", "runs", "endpoints", "findings", "pruned_runs"}


def _corrupt(path: Path, why: str) -> CamscanError:
    return CamscanError(
        f"history database {path} is unusable: {why}. It was left untouched; "
        "move it aside (or restore a backup) to start a new history"
    )


def open_history(path: Path, create: bool) -> sqlite3.Connection:
    """A connection to the history at `path`, checked and migrated; CamscanError if unusable."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        if not create:
            raise UsageError(f"no history database at {path} (run `camscan audit` first)") from None
        size = None
    except OSError as exc:
        raise CamscanError(f"cannot read history database {path}: {exc.strerror}") from None
    if size:  # an empty (0-byte) file holds nothing to lose: it becomes a new history
        try:
            with path.open("rb") as handle:
                magic = handle.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise CamscanError(f"cannot read history database {path}: {exc.strerror}") from None
        if magic != SQLITE_MAGIC:
            raise _corrupt(path, "not an SQLite database (garbage bytes or another file type)")
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    except sqlite3.Error as exc:
        raise CamscanError(f"cannot open history database {path}: {exc}") from None
    try:
        # Read-only checks first: nothing below writes until the file is known to be ours.
        version = _check(path, conn)
        conn.execute("PRAGMA foreign_keys=ON")
        if version < SCHEMA_VERSION:  # an up-to-date history is opened without any write
            conn.execute("PRAGMA journal_mode=WAL")
            _migrate(conn)
    except CamscanError:
        conn.close()
        raise
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _corrupt(path, str(exc)) from None
    return conn


def _check(path: Path, conn: sqlite3.Connection) -> int:
    """The schema version of a database that is ours (0 if empty); CamscanError otherwise."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        # Damage bad enough that SQLite cannot even walk the file ("database disk image is
        # malformed") is the same finding as a failed check: say it the same way.
        problems = [str(exc)]
    if problems != ["ok"]:
        raise _corrupt(path, "integrity check failed: " + "; ".join(problems[:3]))
    if not tables:
        return 0  # a new, empty database
    if "schema_version" not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise _corrupt(path, f"not a camscan history database (it has tables {shown})")
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    if len(rows) != 1 or not isinstance(rows[0][0], int):
        raise _corrupt(path, "its schema_version table is malformed")
    version = rows[0][0]
    if version > SCHEMA_VERSION:
        raise CamscanError(
            f"history database {path} has schema version {version}, newer than this camscan "
            f"understands ({SCHEMA_VERSION}); upgrade camscan"
        )
    if version == SCHEMA_VERSION and not _TABLES <= tables:
        raise _corrupt(path, f"tables missing: {', '.join(sorted(_TABLES - tables))}")
    return version


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = row[0] if row else 0
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("UPDATE schema_version SET version = ?", (step + 1,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
