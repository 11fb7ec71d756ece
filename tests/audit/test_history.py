"""The SQLite history: round trip, facts, transactions (raise and SIGKILL mid-run), corruption."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from camscan.cli import main
from camscan.errors import CamscanError, UsageError
from camscan.model import Endpoint, FailureKind, Finding, Severity
from camscan.reports.history import SCHEMA_VERSION, HistoryStore
from tests.audit.builders import T0, Cam, audit_of, leaf_for

REPO = Path(__file__).resolve().parents[2]


def _fleet() -> list[Cam]:
    return [
        Cam(
            "127.0.0.21",
            leaf_for("127.0.0.21"),
            mac="AC-CC-8E-00-00-21",
            serial="SN21",
            findings=[("CS121", Severity.WARNING, "expires in 29 days")],
        ),
        Cam(
            "127.0.0.22",
            leaf_for("127.0.0.22"),
            findings=[("CS111", Severity.WARNING, "self-signed"), ("CS105", Severity.ERROR, "ip")],
        ),
    ]


def test_round_trip_of_a_run(tmp_path: Path) -> None:
    cams = _fleet()
    audit = audit_of(
        cams, failures=[("127.0.0.30", FailureKind.NOT_TLS), ("127.0.0.31", FailureKind.REFUSED)]
    )
    with HistoryStore(tmp_path / "h.sqlite") as store:
        run_id = store.record_run(audit)
        (run,) = store.runs()
        snap = store.snapshot(run_id)
    assert run.id == run_id == 1
    assert (run.observations, run.failures, run.findings) == (2, 2, 3)
    assert run.by_severity == {"error": 1, "warning": 2, "notice": 0}
    assert run.parameters["targets"] == ["127.0.0.0/24"]
    # refused addresses are counted, not stored; a non-TLS answer is stored
    assert {(e.endpoint.address, e.status) for e in snap.endpoints} == {
        ("127.0.0.21", "ok"),
        ("127.0.0.22", "ok"),
        ("127.0.0.30", "not_tls"),
    }
    first = next(e for e in snap.endpoints if e.endpoint.address == "127.0.0.21")
    assert first.leaf_sha256 == audit.scan.observations[0].leaf_sha256
    assert first.identity.mac == "ac:cc:8e:00:00:21"  # normalized
    assert first.identity.serial == "SN21"
    assert first.subject == "CN=cam 127.0.0.21"
    assert first.not_after is not None and first.spki_sha256 and len(first.spki_sha256) == 64
    assert sorted((f.endpoint.address, f.rule_id) for f in snap.findings) == [
        ("127.0.0.21", "CS121"),
        ("127.0.0.22", "CS105"),
        ("127.0.0.22", "CS111"),
    ]


def test_schema_version_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    before = path.read_bytes()
    with HistoryStore(path, create=False) as store:  # an up-to-date history is opened read-only
        assert store.runs() == []
    assert path.read_bytes() == before


def test_facts_feed_the_stale_certificate_rule(tmp_path: Path) -> None:
    cams = _fleet()
    later = T0 + dt.timedelta(days=1)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record_run(audit_of(cams))
        store.record_run(audit_of(cams, when=later))  # same sightings: one fact each, latest time
        facts = store.facts()
        assert store.facts(since=later + dt.timedelta(seconds=1)) == []
    assert len(facts) == 2
    fact = facts[0]
    assert fact.endpoint == Endpoint("127.0.0.21", 443)
    assert fact.seen_at == later
    assert fact.mac == "ac:cc:8e:00:00:21" and fact.serial == "SN21"
    assert fact.leaf_sha256 == audit_of(cams).scan.observations[0].leaf_sha256


def test_a_run_that_raises_mid_transaction_leaves_no_trace(tmp_path: Path) -> None:
    cams = _fleet()
    bad = Finding("CS999", Severity.ERROR, cams[1].endpoint, "t", "m", {"x": object()}, "r")
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record_run(audit_of(cams))
        with pytest.raises(TypeError):  # evidence that is not JSON fails while writing findings
            store.record_run(audit_of(cams, extra_findings=[bad]))
        assert [r.id for r in store.runs()] == [1]
    conn = sqlite3.connect(tmp_path / "h.sqlite")
    try:
        assert conn.execute("SELECT COUNT(*) FROM endpoints").fetchone() == (2,)
        assert conn.execute("SELECT COUNT(*) FROM findings").fetchone() == (3,)
    finally:
        conn.close()


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from tests.audit.builders import Cam, audit_of, leaf_for
    from camscan.reports.history import HistoryStore

    cams = [Cam(f"127.0.1.{i}", leaf_for(f"127.0.1.{i}")) for i in range(1, 121)]
    store = HistoryStore(sys.argv[1])
    store.record_run(audit_of(cams[:10]))
    inserts = 0

    def trace(sql):
        global inserts
        if sql.startswith("INSERT INTO endpoints"):
            inserts += 1
            if inserts == 10 + 60:  # half way through the second run's endpoints
                os.kill(os.getpid(), signal.SIGKILL)

    store._conn.set_trace_callback(trace)
    store.record_run(audit_of(cams))
    print("not killed")
    """
)


def test_sigkill_mid_run_loses_nothing_committed(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(db)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with HistoryStore(db) as store:
        runs = store.runs()
        assert [r.id for r in runs] == [1]
        assert len(store.snapshot(1).endpoints) == 10
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM endpoints").fetchone() == (10,)
    finally:
        conn.close()


def _assert_refused_untouched(path: Path, needle: str) -> None:
    before = path.read_bytes()
    with pytest.raises(CamscanError) as info:
        HistoryStore(path)
    assert not isinstance(info.value, UsageError)
    assert str(path) in str(info.value) and needle in str(info.value)
    assert "left untouched" in str(info.value) or "newer" in str(info.value)
    assert path.read_bytes() == before  # never replaced, never modified
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def test_garbage_bytes_are_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(os.urandom(8192))
    _assert_refused_untouched(path, "not an SQLite database")


def _populated(path: Path, runs: int = 30) -> None:
    cams = [Cam(f"127.0.2.{i}", leaf_for(f"127.0.2.{i}")) for i in range(1, 40)]
    with HistoryStore(path) as store:
        for n in range(runs):
            store.record_run(audit_of(cams, when=T0 + dt.timedelta(days=n)))
    # fold the WAL into the main file, so truncating the main file really loses pages
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()


def test_truncated_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    _populated(path)
    size = path.stat().st_size
    assert size > 64 * 1024
    with path.open("r+b") as handle:
        handle.truncate(size // 2)
    _assert_refused_untouched(path, "unusable")


def test_a_damaged_page_inside_is_refused_and_left_alone(tmp_path: Path) -> None:
    # Header and schema intact, one data page in the middle overwritten: only the integrity
    # check sees it before a query would read garbage (a truncation fails earlier anyway).
    path = tmp_path / "h.sqlite"
    _populated(path)
    conn = sqlite3.connect(path)
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    pages = path.stat().st_size // page
    assert pages > 8
    with path.open("r+b") as handle:
        handle.seek(pages // 2 * page)
        # Seeded: the same damage every run, so the test cannot pass or fail by luck.
        handle.write(random.Random(5280).randbytes(page))
    _assert_refused_untouched(path, "integrity check failed")


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (id INTEGER, payload TEXT)")
    conn.execute("INSERT INTO runs VALUES (1, 'not ours')")
    conn.commit()
    conn.close()
    _assert_refused_untouched(path, "not a camscan history database")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    _assert_refused_untouched(path, "newer")


def test_empty_file_becomes_a_new_history(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.touch()
    with HistoryStore(path) as store:
        assert store.runs() == []


def test_readers_do_not_create_a_database(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no history database"):
        HistoryStore(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()


def test_history_command_lists_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record_run(audit_of(_fleet()))
        store.record_run(audit_of(_fleet()[:1], when=T0 + dt.timedelta(days=1)))
    assert main(["history", "--db", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["run", "finished", "(UTC)"]
    assert out[1].split()[:3] == ["1", "2026-03-01T03:00:00Z", "2"]
    assert out[2].split()[:3] == ["2", "2026-03-02T03:00:00Z", "1"]
    assert main(["history", "--db", str(db), "--json", "--limit", "1"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in doc["runs"]] == [2]
    assert doc["runs"][0]["findings_by_severity"] == {"error": 0, "notice": 0, "warning": 1}


def test_history_command_on_a_corrupt_database_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "h.sqlite"
    db.write_bytes(b"this is a text file, not a history\n" * 100)
    assert main(["history", "--db", str(db)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("camscan: error: history database") and err.count("\n") == 1


def test_history_command_without_a_database_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history"]) == 2
    assert "--db" in capsys.readouterr().err
    assert main(["history", "--db", str(tmp_path / "none.sqlite")]) == 2
