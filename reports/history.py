"""Audit history in SQLite: every run, every endpoint's certificate and identity, every finding.

- One run is written in one transaction: a crash mid-run leaves the history exactly as it was
  before that run (no half run), and loses nothing committed earlier.
- WAL journal, so `camscan history` / `camscan diff` can read while an audit writes.
- Opening, checking and migrating the file: reports.history_schema (a file that is not a camscan
  history is refused and left byte-for-byte untouched). Retention: reports.history_retention.

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
from camscan.reports.history_records import (
    STATUS_OK,
    EndpointRecord,
    FindingRecord,
    RunRecord,
    RunSnapshot,
    iso_z,
    parse_iso,
)
from camscan.reports.history_retention import (
    Compaction,
    PrunedRun,
    PruneResult,
    Retention,
    compact_if_worthwhile,
    prune_runs,
)
from camscan.reports.history_schema import SCHEMA_VERSION, open_history
from camscan.reports.history_sites import SiteHistory, sites_json

# The records are part of this module's interface (the diff, notify and tests read them here).
__all__ = [
    "SCHEMA_VERSION",
    "EndpointRecord",
    "FindingRecord",
    "HistoryStore",
    "PruneResult",
    "PrunedRun",
    "Retention",
    "RunRecord",
    "RunSnapshot",
]

# Failures worth remembering: the address answered, so it is a device, just not a healthy one.
STORED_FAILURES = frozenset(
    {FailureKind.NOT_TLS, FailureKind.HANDSHAKE_FAILED, FailureKind.RESET, FailureKind.ERROR}
)


def _leaf_facts(obs: Observation) -> tuple[str | None, str | None, str | None]:
    """(spki_sha256, subject, not_after) of the leaf; None where a strange certificate won't parse."""
    try:
        from camscan import certinfo

        leaf = obs.leaf
        return (
            certinfo.spki_sha256(leaf),
            certinfo.subject_text(leaf),  # names cryptography cannot decode too
            certinfo.utc(leaf.not_valid_after_utc),
        )
    except Exception:
        return (None, None, None)


class HistoryStore(SiteHistory):
    """`HistoryStore(path)` opens (or creates) a history database; use it as a context manager."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self.last_prune: PruneResult | None = None
        self._conn = open_history(self.path, create)

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

    def record_run(
        self, audit: AuditResult, *, retention: Retention | None = None, now: datetime | None = None
    ) -> int:
        """Store one audit as one run, atomically; return the new run's id.

        With `retention`, the runs beyond it are pruned in the same transaction (their ages
        counted from `now`, default the wall clock): a crash leaves either the old history
        whole or the new run with the pruning done. What was pruned is in `last_prune`."""
        self.last_prune = None
        scan = audit.scan
        by_severity = {"error": 0, "warning": 0, "notice": 0}
        for finding in audit.findings:
            by_severity[finding.severity.value] = by_severity.get(finding.severity.value, 0) + 1
        parameters = json.dumps(dataclasses.asdict(scan.parameters), sort_keys=True)
        try:
            with self._transaction() as conn:
                cursor = conn.execute(
                    "INSERT INTO runs (started_at, finished_at, as_of, recorded_at, parameters, "
                    "observations, failures, findings, errors, warnings, notices, sites) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        iso_z(scan.started_at),
                        iso_z(scan.finished_at),
                        iso_z(audit.as_of),
                        iso_z(datetime.now(UTC)),
                        parameters,
                        len(scan.observations),
                        len(scan.failures),
                        len(audit.findings),
                        by_severity["error"],
                        by_severity["warning"],
                        by_severity["notice"],
                        sites_json(audit),
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
                if audit.endpoint_sites:
                    conn.executemany(
                        "UPDATE endpoints SET site = ? WHERE id = ?",
                        [(audit.endpoint_sites[e], i) for e, i in ids.items() if e in audit.endpoint_sites],
                    )
                if retention is not None:
                    pruned = prune_runs(conn, self._run_times(conn), retention, now or datetime.now(UTC))
        except sqlite3.DatabaseError as exc:
            raise CamscanError(f"could not record the run in {self.path}: {exc}") from None
        if retention is not None:
            self.last_prune = pruned
        return run_id

    @staticmethod
    def _run_times(conn: sqlite3.Connection) -> list[tuple[int, datetime]]:
        return [(row[0], parse_iso(row[1])) for row in conn.execute("SELECT id, finished_at FROM runs")]

    # --- retention -----------------------------------------------------------------------------

    def prune(self, retention: Retention, *, now: datetime | None = None) -> PruneResult:
        """Prune the runs beyond `retention` now, in one transaction (`camscan history --prune`)."""
        try:
            with self._transaction() as conn:
                return prune_runs(conn, self._run_times(conn), retention, now or datetime.now(UTC))
        except sqlite3.DatabaseError as exc:
            raise CamscanError(f"could not prune {self.path}: {exc}") from None

    def compact(self) -> Compaction:
        """VACUUM when enough of the file is free pages and no other connection uses it."""
        try:
            return compact_if_worthwhile(self._conn)
        except sqlite3.DatabaseError as exc:
            raise CamscanError(f"could not compact {self.path}: {exc}") from None

    def pruned_run(self, run_id: int) -> PrunedRun | None:
        row = self._conn.execute(
            "SELECT id, finished_at, pruned_at, reason FROM pruned_runs WHERE id = ?", (run_id,)
        ).fetchone()
        return PrunedRun(*row) if row else None

    def pruned_before(self, run_id: int) -> PrunedRun | None:
        """The newest pruned run older than `run_id` (why a run has no predecessor left)."""
        row = self._conn.execute(
            "SELECT id, finished_at, pruned_at, reason FROM pruned_runs WHERE id < ? "
            "ORDER BY id DESC LIMIT 1",
            (run_id,),
        ).fetchone()
        return PrunedRun(*row) if row else None

    def pruned_count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM pruned_runs").fetchone()[0])

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
                iso_z(obs.observed_at),
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
                iso_z(failure.observed_at),
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
                iso_z(when),
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
            started_at=parse_iso(row[1]),
            finished_at=parse_iso(row[2]),
            as_of=parse_iso(row[3]),
            parameters=json.loads(row[4]),
            observations=row[5],
            failures=row[6],
            findings=row[7],
            by_severity={"error": row[8], "warning": row[9], "notice": row[10]},
            sites=tuple(json.loads(row[11])) if row[11] else (),
        )

    _RUN_COLUMNS = (
        "id, started_at, finished_at, as_of, parameters, observations, failures, findings, "
        "errors, warnings, notices, sites"
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
            pruned = self.pruned_run(run_id)
            if pruned is not None:
                raise UsageError(
                    f"run {run_id} was pruned ({pruned.reason}) on {pruned.pruned_at[:10]}; "
                    "it ran " + pruned.finished_at + " (see `camscan history` for the runs kept)"
                )
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
            "leaf_sha256, spki_sha256, subject, not_after, mac, serial, vendor, model, firmware, site "
            "FROM endpoints WHERE run_id = ? ORDER BY id",
            (run_id,),
        ):
            endpoints[row[0]] = EndpointRecord(
                endpoint=Endpoint(row[1], row[2], row[3] or None),
                status=row[4],
                detail=row[5],
                observed_at=parse_iso(row[6]),
                tls_version=row[7],
                leaf_sha256=row[8],
                spki_sha256=row[9],
                subject=row[10],
                not_after=row[11],
                identity=DeviceIdentity(
                    mac=row[12], serial=row[13], vendor=row[14], model=row[15], firmware=row[16]
                ),
                site=row[17],
            )
        findings = tuple(
            FindingRecord(
                endpoint=endpoints[row[0]].endpoint,
                rule_id=row[1],
                severity=row[2],
                title=row[3],
                message=row[4],
                evidence=json.loads(row[5]),
                site=endpoints[row[0]].site,
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
            params = (iso_z(since),)
        sql += " GROUP BY address, port, server_name, leaf_sha256, spki_sha256, mac, serial"
        facts = [
            HistoryFact(
                endpoint=Endpoint(row[0], row[1], row[2] or None),
                seen_at=parse_iso(row[3]),
                leaf_sha256=row[4],
                spki_sha256=row[5] or "",
                mac=row[6],
                serial=row[7],
            )
            for row in self._conn.execute(sql, params)
        ]
        facts.sort(key=lambda f: (f.seen_at, f.endpoint.sort_key, f.leaf_sha256))
        return facts
