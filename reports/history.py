"""Audit history in SQLite: every run, every endpoint's certificate and identity, every finding.

- One run is written in one transaction: a crash mid-run leaves the history exactly as it was
  before that run (no half run), and loses nothing committed earlier.
- WAL journal, so `camscan history` / `camscan diff` can read while an audit writes.
- An explicit schema version table and ordered migrations.
- A file that is not a camscan history (garbage bytes, a truncated database, another program's
  schema) raises CamscanError (exit 3) and is left byte-for-byte untouched: the user decides
  what to do with it, camscan never replaces it.

Only endpoints that answered are stored: observations, plus failures where something spoke
(not TLS, handshake failure, reset). Refused and silent addresses of a /16 sweep are counted in
the run row but not stored one by one.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from camscan.errors import CamscanError, UsageError
from camscan.model import (
    AuditResult,
    DeviceIdentity,
    Endpoint,
    FailureKind,
    Finding,
    HistoryFact,
    Observation,
    ProbeFailure,
    canonical_mac,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
STATUS_OK = "ok"
# Failures worth remembering: the address answered, so it is a device, just not a healthy one.
STORED_FAILURES = frozenset(
    {FailureKind.NOT_TLS, FailureKind.HANDSHAKE_FAILED, FailureKind.RESET, FailureKind.ERROR}
)

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
)
SCHEMA_VERSION = len(MIGRATIONS)
_TABLES = {"schema_version", "runs", "endpoints", "findings"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class RunRecord:
    id: int
    started_at: datetime
    finished_at: datetime
    as_of: datetime
    parameters: dict[str, Any]
    observations: int
    failures: int
    findings: int
    by_severity: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "as_of": _iso(self.as_of),
            "targets": list(self.parameters.get("targets", [])),
            "ports": list(self.parameters.get("ports", [])),
            "observations": self.observations,
            "failures": self.failures,
            "findings": self.findings,
            "findings_by_severity": dict(self.by_severity),
        }


@dataclass(frozen=True)
class EndpointRecord:
    endpoint: Endpoint
    status: str  # "ok", or the FailureKind of a failure worth remembering
    observed_at: datetime
    detail: str | None = None
    tls_version: str | None = None
    leaf_sha256: str | None = None
    spki_sha256: str | None = None
    subject: str | None = None
    not_after: str | None = None
    identity: DeviceIdentity = field(default_factory=DeviceIdentity)

    @property
    def observed(self) -> bool:
        return self.status == STATUS_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.endpoint.address,
            "port": self.endpoint.port,
            "server_name": self.endpoint.server_name,
            "status": self.status,
            "detail": self.detail,
            "leaf_sha256": self.leaf_sha256,
            "spki_sha256": self.spki_sha256,
            "subject": self.subject,
            "not_after": self.not_after,
            "mac": self.identity.mac,
            "serial": self.identity.serial,
        }


@dataclass(frozen=True)
class FindingRecord:
    endpoint: Endpoint
    rule_id: str
    severity: str
    title: str
    message: str
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.endpoint.address,
            "port": self.endpoint.port,
            "server_name": self.endpoint.server_name,
            "rule_id": self.rule_id,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
        }


@dataclass(frozen=True)
class RunSnapshot:
    """One run as the diff sees it. `run` is None for the empty run before the first audit."""

    run: RunRecord | None
    endpoints: tuple[EndpointRecord, ...] = ()
    findings: tuple[FindingRecord, ...] = ()


def _leaf_facts(obs: Observation) -> tuple[str | None, str | None, str | None]:
    """(spki_sha256, subject, not_after) of the leaf; None where a strange certificate won't parse."""
    try:
        from camscan import certinfo

        leaf = obs.leaf
        return (
            certinfo.spki_sha256(leaf),
            leaf.subject.rfc4514_string(),
            certinfo.utc(leaf.not_valid_after_utc),
        )
    except Exception:
        return (None, None, None)


class HistoryStore:
    """`HistoryStore(path)` opens (or creates) a history database; use it as a context manager."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self._conn = self._open(create)

    # --- opening and checking ----------------------------------------------------------------

    def _corrupt(self, why: str) -> CamscanError:
        return CamscanError(
            f"history database {self.path} is unusable: {why}. It was left untouched; "
            "move it aside (or restore a backup) to start a new history"
        )

    def _open(self, create: bool) -> sqlite3.Connection:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            if not create:
                raise UsageError(f"no history database at {self.path} (run `camscan audit` first)") from None
            size = None
        except OSError as exc:
            raise CamscanError(f"cannot read history database {self.path}: {exc.strerror}") from None
        if size:  # an empty (0-byte) file holds nothing to lose: it becomes a new history
            try:
                with self.path.open("rb") as handle:
                    magic = handle.read(len(SQLITE_MAGIC))
            except OSError as exc:
                raise CamscanError(f"cannot read history database {self.path}: {exc.strerror}") from None
            if magic != SQLITE_MAGIC:
                raise self._corrupt("not an SQLite database (garbage bytes or another file type)")
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        except sqlite3.Error as exc:
            raise CamscanError(f"cannot open history database {self.path}: {exc}") from None
        try:
            # Read-only checks first: nothing below writes until the file is known to be ours.
            version = self._check(conn)
            conn.execute("PRAGMA foreign_keys=ON")
            if version < SCHEMA_VERSION:  # an up-to-date history is opened without any write
                conn.execute("PRAGMA journal_mode=WAL")
                self._migrate(conn)
        except CamscanError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._corrupt(str(exc)) from None
        return conn

    def _check(self, conn: sqlite3.Connection) -> int:
        """The schema version of a database that is ours (0 if empty); CamscanError otherwise."""
        try:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            # Damage bad enough that SQLite cannot even walk the file ("database disk image is
            # malformed") is the same finding as a failed check: say it the same way.
            problems = [str(exc)]
        if problems != ["ok"]:
            raise self._corrupt("integrity check failed: " + "; ".join(problems[:3]))
        if not tables:
            return 0  # a new, empty database
        if "schema_version" not in tables:
            shown = ", ".join(sorted(tables)[:5])
            raise self._corrupt(f"not a camscan history database (it has tables {shown})")
        rows = conn.execute("SELECT version FROM schema_version").fetchall()
        if len(rows) != 1 or not isinstance(rows[0][0], int):
            raise self._corrupt("its schema_version table is malformed")
        version = rows[0][0]
        if version > SCHEMA_VERSION:
            raise CamscanError(
                f"history database {self.path} has schema version {version}, newer than this camscan "
                f"understands ({SCHEMA_VERSION}); upgrade camscan"
            )
        if version == SCHEMA_VERSION and not _TABLES <= tables:
            raise self._corrupt(f"tables missing: {', '.join(sorted(_TABLES - tables))}")
        return version

    def _migrate(self, conn: sqlite3.Connection) -> None:
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

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- writing -----------------------------------------------------------------------------

    def record_run(self, audit: AuditResult) -> int:
        """Store one audit as one run, atomically; return the new run's id."""
        scan = audit.scan
        by_severity = {"error": 0, "warning": 0, "notice": 0}
        for finding in audit.findings:
            by_severity[finding.severity.value] = by_severity.get(finding.severity.value, 0) + 1
        parameters = json.dumps(dataclasses.asdict(scan.parameters), sort_keys=True)
        try:
            with self._transaction() as conn:
                cursor = conn.execute(
                    "INSERT INTO runs (started_at, finished_at, as_of, recorded_at, parameters, "
                    "observations, failures, findings, errors, warnings, notices) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        _iso(scan.started_at),
                        _iso(scan.finished_at),
                        _iso(audit.as_of),
                        _iso(datetime.now(UTC)),
                        parameters,
                        len(scan.observations),
                        len(scan.failures),
                        len(audit.findings),
                        by_severity["error"],
                        by_severity["warning"],
                        by_severity["notice"],
                    ),
                )
                run_id = cursor.lastrowid
                assert run_id is not None
                ids: dict[Endpoint, int] = {}
                for obs in sorted(scan.observations, key=lambda o: o.endpoint.sort_key):
                    ids[obs.endpoint] = self._insert_observation(conn, run_id, obs)
                for failure in sorted(scan.failures, key=lambda f: f.endpoint.sort_key):
                    if failure.kind in STORED_FAILURES and failure.endpoint not in ids:
                        ids[failure.endpoint] = self._insert_failure(conn, run_id, failure)
                for finding in audit.findings:
                    endpoint_id = ids.get(finding.endpoint)
                    if endpoint_id is None:  # a finding on an endpoint the scan did not list
                        endpoint_id = ids[finding.endpoint] = self._insert_unlisted(
                            conn, run_id, finding, scan.finished_at
                        )
                    self._insert_finding(conn, run_id, endpoint_id, finding)
        except sqlite3.DatabaseError as exc:
            raise CamscanError(f"could not record the run in {self.path}: {exc}") from None
        return run_id

    @staticmethod
    def _insert_observation(conn: sqlite3.Connection, run_id: int, obs: Observation) -> int:
        spki, subject, not_after = _leaf_facts(obs)
        ident = obs.identity
        cursor = conn.execute(
            "INSERT INTO endpoints (run_id, address, port, server_name, status, observed_at, tls_version, "
            "leaf_sha256, spki_sha256, subject, not_after, mac, serial, vendor, model, firmware) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                obs.endpoint.address,
                obs.endpoint.port,
                obs.endpoint.server_name or "",
                STATUS_OK,
                _iso(obs.observed_at),
                obs.tls_version,
                obs.leaf_sha256 if obs.chain_der else None,
                spki,
                subject,
                not_after,
                canonical_mac(ident.mac),
                ident.serial,
                ident.vendor,
                ident.model,
                ident.firmware,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @staticmethod
    def _insert_failure(conn: sqlite3.Connection, run_id: int, failure: ProbeFailure) -> int:
        cursor = conn.execute(
            "INSERT INTO endpoints (run_id, address, port, server_name, status, detail, observed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                failure.endpoint.address,
                failure.endpoint.port,
                failure.endpoint.server_name or "",
                failure.kind.value,
                failure.detail,
                _iso(failure.observed_at),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @staticmethod
    def _insert_unlisted(conn: sqlite3.Connection, run_id: int, finding: Finding, when: datetime) -> int:
        cursor = conn.execute(
            "INSERT INTO endpoints (run_id, address, port, server_name, status, observed_at) "
            "VALUES (?, ?, ?, ?, 'unlisted', ?)",
            (
                run_id,
                finding.endpoint.address,
                finding.endpoint.port,
                finding.endpoint.server_name or "",
                _iso(when),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @staticmethod
    def _insert_finding(conn: sqlite3.Connection, run_id: int, endpoint_id: int, finding: Finding) -> None:
        conn.execute(
            "INSERT INTO findings (run_id, endpoint_id, rule_id, severity, title, message, evidence) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                endpoint_id,
                finding.rule_id,
                finding.severity.value,
                finding.title,
                finding.message,
                json.dumps(finding.evidence, sort_keys=True),
            ),
        )

    # --- reading -----------------------------------------------------------------------------

    @staticmethod
    def _run_from_row(row: Sequence[Any]) -> RunRecord:
        return RunRecord(
            id=row[0],
            started_at=_parse_iso(row[1]),
            finished_at=_parse_iso(row[2]),
            as_of=_parse_iso(row[3]),
            parameters=json.loads(row[4]),
            observations=row[5],
            failures=row[6],
            findings=row[7],
            by_severity={"error": row[8], "warning": row[9], "notice": row[10]},
        )

    _RUN_COLUMNS = (
        "id, started_at, finished_at, as_of, parameters, observations, failures, findings, "
        "errors, warnings, notices"
    )

    def runs(self, limit: int | None = None) -> list[RunRecord]:
        """Runs oldest first; with `limit`, only the newest `limit` of them."""
        sql = f"SELECT {self._RUN_COLUMNS} FROM runs ORDER BY id DESC"  # noqa: S608 (constant columns)
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        rows = self._conn.execute(sql, params).fetchall()
        return [self._run_from_row(row) for row in reversed(rows)]

    def run(self, run_id: int) -> RunRecord:
        row = self._conn.execute(
            f"SELECT {self._RUN_COLUMNS} FROM runs WHERE id = ?",  # noqa: S608 (constant columns)
            (run_id,),
        ).fetchone()
        if row is None:
            raise UsageError(f"no run {run_id} in {self.path} (see `camscan history`)")
        return self._run_from_row(row)

    def previous_run_id(self, run_id: int) -> int | None:
        row = self._conn.execute("SELECT MAX(id) FROM runs WHERE id < ?", (run_id,)).fetchone()
        return row[0] if row and row[0] is not None else None

    def snapshot(self, run_id: int) -> RunSnapshot:
        run = self.run(run_id)
        endpoints: dict[int, EndpointRecord] = {}
        for row in self._conn.execute(
            "SELECT id, address, port, server_name, status, detail, observed_at, tls_version, "
            "leaf_sha256, spki_sha256, subject, not_after, mac, serial, vendor, model, firmware "
            "FROM endpoints WHERE run_id = ? ORDER BY id",
            (run_id,),
        ):
            endpoints[row[0]] = EndpointRecord(
                endpoint=Endpoint(row[1], row[2], row[3] or None),
                status=row[4],
                detail=row[5],
                observed_at=_parse_iso(row[6]),
                tls_version=row[7],
                leaf_sha256=row[8],
                spki_sha256=row[9],
                subject=row[10],
                not_after=row[11],
                identity=DeviceIdentity(
                    mac=row[12], serial=row[13], vendor=row[14], model=row[15], firmware=row[16]
                ),
            )
        findings = tuple(
            FindingRecord(
                endpoint=endpoints[row[0]].endpoint,
                rule_id=row[1],
                severity=row[2],
                title=row[3],
                message=row[4],
                evidence=json.loads(row[5]),
            )
            for row in self._conn.execute(
                "SELECT endpoint_id, rule_id, severity, title, message, evidence FROM findings "
                "WHERE run_id = ? ORDER BY id",
                (run_id,),
            )
        )
        return RunSnapshot(run=run, endpoints=tuple(endpoints.values()), findings=findings)

    def facts(self, *, since: datetime | None = None) -> list[HistoryFact]:
        """Every distinct sighting (endpoint, certificate, key, MAC, serial), with when it was last seen.

        Feeds AuditContext.history, so the stale-certificate rule (CS404) can tell that a
        certificate or device now answering at one address was seen at another before.
        """
        sql = (
            "SELECT address, port, server_name, MAX(observed_at), leaf_sha256, spki_sha256, mac, serial "
            "FROM endpoints WHERE status = 'ok' AND leaf_sha256 IS NOT NULL"
        )
        params: tuple[str, ...] = ()
        if since is not None:
            sql += " AND observed_at >= ?"
            params = (_iso(since),)
        sql += " GROUP BY address, port, server_name, leaf_sha256, spki_sha256, mac, serial"
        facts = [
            HistoryFact(
                endpoint=Endpoint(row[0], row[1], row[2] or None),
                seen_at=_parse_iso(row[3]),
                leaf_sha256=row[4],
                spki_sha256=row[5] or "",
                mac=row[6],
                serial=row[7],
            )
            for row in self._conn.execute(sql, params)
        ]
        facts.sort(key=lambda f: (f.seen_at, f.endpoint.sort_key, f.leaf_sha256))
        return facts
