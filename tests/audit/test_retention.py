"""History retention on real SQLite: which runs are pruned, in which transaction, when compacting
happens (and when it must not), the CLI around it and the config keys."""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from camscan.cli import main
from camscan.config import DEFAULT_KEEP_DAYS, DEFAULT_KEEP_RUNS, load_config
from camscan.errors import CamscanError
from camscan.model import Severity
from camscan.reports.history import SCHEMA_VERSION, HistoryStore, Retention
from camscan.reports.history_retention import free_pages
from camscan.reports.history_schema import MIGRATIONS
from tests.audit.builders import T0, Cam, audit_of, leaf_for

REPO = Path(__file__).resolve().parents[2]
DAY = dt.timedelta(days=1)


def _cams(n: int = 12) -> list[Cam]:
    return [
        Cam(f"127.0.3.{i}", leaf_for(f"127.0.3.{i}"),
            findings=[("CS121", Severity.WARNING, f"expires in {i} days")])
        for i in range(1, n + 1)
    ]  # fmt: skip


def _record(db: Path, runs: int, cams: list[Cam] | None = None) -> None:
    """`runs` runs, one a day from T0 (run n finished at T0 + (n - 1) days)."""
    fleet = cams or _cams()
    with HistoryStore(db) as store:
        for n in range(runs):
            store.record_run(audit_of(fleet, when=T0 + n * DAY))


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def _run_ids(db: Path) -> list[int]:
    with HistoryStore(db, create=False) as store:
        return [r.id for r in store.runs()]


# --- which runs ----------------------------------------------------------------------------------


def test_keep_runs_keeps_exactly_the_newest_n(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _record(db, 10)
    with HistoryStore(db) as store:
        result = store.prune(Retention(keep_runs=4, keep_days=0), now=T0 + 400 * DAY)
        assert [p.id for p in result.pruned] == [1, 2, 3, 4, 5, 6]
        assert {p.reason for p in result.pruned} == {"keep_runs=4"}
        assert result.summary() == "pruned 6 runs (runs 1-6; keep_runs=4); 4 kept"
    assert _run_ids(db) == [7, 8, 9, 10]
    # the pruned runs' endpoints and findings went with them (cascade), nothing else did
    assert _count(db, "SELECT COUNT(*) FROM endpoints") == 4 * 12
    assert _count(db, "SELECT COUNT(*) FROM findings") == 4 * 12
    assert _count(db, "SELECT COUNT(*) FROM endpoints WHERE run_id < 7") == 0
    assert _count(db, "SELECT COUNT(*) FROM pruned_runs") == 6


def test_keep_days_keeps_runs_younger_than_the_cutoff(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _record(db, 10)  # run 10 finished at T0 + 9 days
    with HistoryStore(db) as store:
        result = store.prune(Retention(keep_runs=0, keep_days=3), now=T0 + 9 * DAY)
    # cutoff T0 + 6 days: run 7 finished exactly then and is kept; runs 1-6 are older
    assert [p.id for p in result.pruned] == [1, 2, 3, 4, 5, 6]
    assert {p.reason for p in result.pruned} == {"keep_days=3"}
    assert _run_ids(db) == [7, 8, 9, 10]


def test_both_limits_the_stricter_wins_and_both_reasons_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _record(db, 10)
    with HistoryStore(db) as store:
        # count allows 6 (runs 5-10), age allows runs 6-10 (cutoff T0 + 5 days)
        result = store.prune(Retention(keep_runs=6, keep_days=4), now=T0 + 9 * DAY)
        reasons = {p.id: p.reason for p in result.pruned}
    assert reasons == {
        1: "keep_runs=6, keep_days=4", 2: "keep_runs=6, keep_days=4", 3: "keep_runs=6, keep_days=4",
        4: "keep_runs=6, keep_days=4", 5: "keep_days=4",
    }  # fmt: skip
    assert _run_ids(db) == [6, 7, 8, 9, 10]
    with HistoryStore(db) as store:  # already within both limits: a second prune does nothing
        again = store.prune(Retention(keep_runs=6, keep_days=4), now=T0 + 9 * DAY)
    assert again.pruned == () and again.summary() == "nothing to prune (5 runs kept)"


def test_the_newest_two_runs_survive_any_age_limit(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _record(db, 5)
    with HistoryStore(db) as store:
        store.prune(Retention(keep_runs=0, keep_days=1), now=T0 + 1000 * DAY)
    assert _run_ids(db) == [4, 5]  # the next audit still has a baseline to diff against


def test_record_run_prunes_in_its_own_transaction(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _record(db, 5)
    with HistoryStore(db) as store:
        run_id = store.record_run(
            audit_of(_cams(), when=T0 + 5 * DAY), retention=Retention(3, 0), now=T0 + 5 * DAY
        )
        assert run_id == 6
        assert store.last_prune is not None
        assert [p.id for p in store.last_prune.pruned] == [1, 2, 3]
        store.record_run(audit_of(_cams(), when=T0 + 6 * DAY))  # no retention: no pruning
        assert store.last_prune is None
    assert _run_ids(db) == [4, 5, 6, 7]


# --- same transaction: a failure leaves the previous history whole ---------------------------------


def _snapshot(db: Path) -> tuple[list[int], int, int, int]:
    return (
        _run_ids(db),
        _count(db, "SELECT COUNT(*) FROM endpoints"),
        _count(db, "SELECT COUNT(*) FROM findings"),
        _count(db, "SELECT COUNT(*) FROM pruned_runs"),
    )


def test_a_failure_while_pruning_undoes_the_new_run_too(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _record(db, 6)
    before = _snapshot(db)
    with HistoryStore(db) as store:
        # A real SQLite error raised by the DELETE itself, after the new run's rows are written.
        store._conn.execute(
            "CREATE TEMP TRIGGER refuse BEFORE DELETE ON runs BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
        with pytest.raises(CamscanError, match=r"could not record the run.*disk says no"):
            store.record_run(audit_of(_cams(), when=T0 + 6 * DAY), retention=Retention(2, 0))
        assert store.last_prune is None
    assert _snapshot(db) == before == ([1, 2, 3, 4, 5, 6], 6 * 12, 6 * 12, 0)


def test_a_failure_while_recording_prunes_nothing(tmp_path: Path) -> None:
    from camscan.model import Finding

    db = tmp_path / "h.sqlite"
    _record(db, 6)
    before = _snapshot(db)
    cams = _cams()
    bad = Finding("CS999", Severity.ERROR, cams[0].endpoint, "t", "m", {"x": object()}, "r")
    with HistoryStore(db) as store, pytest.raises(TypeError):
        store.record_run(audit_of(cams, extra_findings=[bad]), retention=Retention(2, 0))
    assert _snapshot(db) == before


KILL_MID_PRUNE = textwrap.dedent(
    """
    import os, signal, sys
    from tests.audit.builders import T0, Cam, audit_of, leaf_for
    from camscan.reports.history import HistoryStore, Retention

    cams = [Cam(f"127.0.4.{i}", leaf_for(f"127.0.4.{i}")) for i in range(1, 21)]
    store = HistoryStore(sys.argv[1])
    for n in range(5):
        store.record_run(audit_of(cams, when=T0))
    deletes = 0

    def trace(sql):
        global deletes
        if sql.startswith("DELETE FROM runs"):
            deletes += 1
            if deletes == 2:  # the second of the three runs to prune
                os.kill(os.getpid(), signal.SIGKILL)

    store._conn.set_trace_callback(trace)
    store.record_run(audit_of(cams, when=T0), retention=Retention(keep_runs=3, keep_days=0))
    print("not killed")
    """
)


def test_sigkill_mid_prune_leaves_the_previous_history(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", KILL_MID_PRUNE, str(db)], cwd=REPO, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _snapshot(db) == ([1, 2, 3, 4, 5], 5 * 20, 0, 0)


# --- compaction ----------------------------------------------------------------------------------


def _big(db: Path) -> None:
    _record(db, 30, _cams(39))


def _free(db: Path) -> tuple[int, int]:
    conn = sqlite3.connect(db)
    try:
        pages, free, _ = free_pages(conn)
        return pages, free
    finally:
        conn.close()


def test_compaction_when_a_quarter_of_the_pages_are_free(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _big(db)
    with HistoryStore(db) as store:
        store.prune(Retention(keep_runs=5, keep_days=0))
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages, free = _free(db)
    assert free > pages // 4
    with HistoryStore(db) as store:
        result = store.compact()
        assert result.compacted, result.detail
        assert result.bytes_after < result.bytes_before
        assert result.summary().startswith("compacted the history: ")
    pages_after, free_after = _free(db)
    assert free_after == 0 and pages_after < pages - free // 2
    assert _run_ids(db) == [26, 27, 28, 29, 30]
    assert _count(db, "SELECT COUNT(*) FROM endpoints") == 5 * 39
    with HistoryStore(db, create=False):  # the compacted file passes the integrity check
        pass


def test_no_compaction_when_little_is_free(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _big(db)
    with HistoryStore(db) as store:
        store.prune(Retention(keep_runs=28, keep_days=0))  # 2 of 30 runs: ~7% of the pages
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = _free(db)
        result = store.compact()
    assert not result.compacted and "making up over 25% of the file" in result.detail
    assert _free(db) == before


@pytest.mark.parametrize("other", ["writer", "reader"])
def test_never_compacts_a_database_someone_else_holds(tmp_path: Path, other: str) -> None:
    db = tmp_path / "h.sqlite"
    _big(db)
    with HistoryStore(db) as store:
        store.prune(Retention(keep_runs=5, keep_days=0))
    conn = sqlite3.connect(db, isolation_level=None, timeout=0)
    try:
        if other == "writer":
            conn.execute("BEGIN IMMEDIATE")
        else:
            conn.execute("BEGIN")
            conn.execute("SELECT COUNT(*) FROM endpoints").fetchone()  # holds a read snapshot
        with HistoryStore(db) as store:
            pages, free, _ = free_pages(store._conn)
            assert free > pages // 4  # worthwhile: only the other connection stops it
            result = store.compact()
            assert not result.compacted and "in use" in result.detail
            assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000  # restored
            assert free_pages(store._conn)[:2] == (pages, free)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    with HistoryStore(db) as store:  # once the other connection is gone it goes ahead
        assert store.compact().compacted


# --- migration -----------------------------------------------------------------------------------


def test_a_version_1_history_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _record(db, 3)
    # Turn it back into what camscan wrote before retention existed (schema version 1).
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP INDEX findings_by_endpoint")
    conn.execute("DROP TABLE pruned_runs")
    conn.execute("DROP INDEX endpoints_by_site")  # and without schema 3's site columns
    conn.execute("ALTER TABLE endpoints DROP COLUMN site")
    conn.execute("ALTER TABLE runs DROP COLUMN sites")
    conn.execute("UPDATE schema_version SET version = 1")
    conn.close()
    assert len(MIGRATIONS) == SCHEMA_VERSION == 3
    with HistoryStore(db) as store:
        assert [r.id for r in store.runs()] == [1, 2, 3]
        assert store.prune(Retention(2, 0)).summary() == "pruned 1 run (run 1; keep_runs=2); 2 kept"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT version FROM schema_version").fetchone() == (SCHEMA_VERSION,)
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "findings_by_endpoint" in indexes
    finally:
        conn.close()


# --- the CLI -------------------------------------------------------------------------------------


def _config(tmp_path: Path, history: str = "") -> Path:
    path = tmp_path / "camscan.toml"
    path.write_text(
        '[scan]\ntargets = ["127.0.0.1"]\nports = "9"\nhttp_facts = false\nlegacy_probe = false\n'
        f'ws_discovery = false\nconnect_timeout = 1.0\n[history]\npath = "h.sqlite"\n{history}'
    )
    return path


def test_history_prune_with_a_db_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.sqlite"
    _record(db, 8)
    assert main(["history", "--db", str(db), "--prune", "--keep-runs", "3", "--keep-days", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "pruned 5 runs (runs 1-5; keep_runs=3); 3 kept [keep_runs=3, keep_days unlimited]"
    assert out[1].startswith(("history not compacted: ", "compacted the history: "))
    assert _run_ids(db) == [6, 7, 8]

    assert main(["history", "--db", str(db)]) == 0
    listing = capsys.readouterr().out
    assert listing.rstrip().endswith("(5 older runs pruned by the retention limits)")

    assert main(["history", "--db", str(db), "--keep-runs", "2"]) == 2  # without --prune: refused
    assert capsys.readouterr().err == "camscan: error: --keep-runs and --keep-days go with --prune\n"
    assert _run_ids(db) == [6, 7, 8]

    # the default limits (1000 runs, 400 days) count age from today: these 2026-03 runs are
    # younger than 400 days until 2027-04, and the newest two are kept whatever the date
    assert main(["history", "--db", str(db), "--prune", "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["retention"] == {"keep_runs": DEFAULT_KEEP_RUNS, "keep_days": DEFAULT_KEEP_DAYS}
    assert doc["kept"] + len(doc["pruned"]) == 3 and doc["kept"] >= 2


def test_history_prune_with_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "keep_runs = 4\nkeep_days = 0\n")
    _record(tmp_path / "h.sqlite", 7)
    assert main(["history", "--config", str(config), "--prune"]) == 0
    assert capsys.readouterr().out.startswith("pruned 3 runs (runs 1-3; keep_runs=4); 4 kept")
    # a flag overrides the config's value
    assert main(["history", "--config", str(config), "--prune", "--keep-runs", "2"]) == 0
    assert capsys.readouterr().out.startswith("pruned 2 runs (runs 4-5; keep_runs=2); 2 kept")
    assert _run_ids(tmp_path / "h.sqlite") == [6, 7]


def test_history_prune_respects_the_audit_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from camscan.lock import RunLock

    config = _config(tmp_path, "keep_runs = 2\n")
    _record(tmp_path / "h.sqlite", 4)
    with RunLock(load_config(config).lock_path):
        assert main(["history", "--config", str(config), "--prune"]) == 4
    assert _run_ids(tmp_path / "h.sqlite") == [1, 2, 3, 4]
    capsys.readouterr()


def test_diff_against_a_pruned_run_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.sqlite"
    _record(db, 6)
    with HistoryStore(db) as store:
        store.prune(Retention(keep_runs=3, keep_days=0))
    assert main(["diff", "--db", str(db), "2", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("camscan: error: run 2 was pruned (keep_runs=3) on ") and err.count("\n") == 1
    assert main(["diff", "--db", str(db), "3"]) == 2
    assert "run 3 was pruned (keep_runs=3)" in capsys.readouterr().err
    assert main(["diff", "--db", str(db), "4"]) == 2
    assert capsys.readouterr().err == (
        "camscan: error: run 4 is the oldest run kept: run 3 before it was pruned (keep_runs=3)\n"
    )
    assert main(["diff", "--db", str(db), "99"]) == 2
    assert "no run 99" in capsys.readouterr().err  # never existed: the old message
    assert main(["diff", "--db", str(db), "4", "6"]) == 0


def test_audit_prunes_after_each_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "keep_runs = 2\n")
    for _ in range(3):
        assert main(["audit", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "history: pruned 1 run (run 1; keep_runs=2); 2 kept [keep_runs=2, keep_days=400]" in out
    assert _run_ids(tmp_path / "h.sqlite") == [2, 3]
    assert main(["diff", "--config", str(config), "1", "3"]) == 2
    assert "run 1 was pruned (keep_runs=2)" in capsys.readouterr().err


def test_audit_compacts_after_a_big_prune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _big(tmp_path / "h.sqlite")
    size = (tmp_path / "h.sqlite").stat().st_size
    assert main(["audit", "--config", str(_config(tmp_path, "keep_runs = 2\n"))]) == 0
    out = capsys.readouterr().out
    assert "history: pruned 29 runs (runs 1-29; keep_runs=2); 2 kept" in out
    assert "history: compacted the history: " in out
    assert _run_ids(tmp_path / "h.sqlite") == [30, 31]
    assert (tmp_path / "h.sqlite").stat().st_size < size // 4


# --- config --------------------------------------------------------------------------------------


def test_retention_defaults_and_values(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    assert (cfg.keep_runs, cfg.keep_days) == (DEFAULT_KEEP_RUNS, DEFAULT_KEEP_DAYS) == (1000, 400)
    cfg = load_config(_config(tmp_path, "keep_runs = 0\nkeep_days = 30\n"))
    assert (cfg.keep_runs, cfg.keep_days) == (0, 30)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("keep_runs = -1", "[history] keep_runs: -1 is out of range (must be between 0 and 10000000)"),
        ("keep_runs = 1", "[history] keep_runs: 1 is too few (0 for no limit, or at least 2)"),
        ("keep_runs = \"ten\"", "[history] keep_runs: expected an integer, got a string 'ten'"),
        ("keep_runs = true", "[history] keep_runs: expected an integer, got true/false True"),
        ("keep_days = -3", "[history] keep_days: -3 is out of range (must be between 0 and 36500)"),
        ("keep_days = 1.5", "[history] keep_days: expected an integer, got a number 1.5"),
        ("keep_dayz = 3", "[history] keep_dayz: unknown key (did you mean 'keep_days'?)"),
    ],
)
def test_bad_retention_values_are_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, expected: str
) -> None:
    config = _config(tmp_path, setting + "\n")
    assert main(["audit", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err == f"camscan: error: {config}: {expected}\n"
    assert not (tmp_path / "h.sqlite").exists()
