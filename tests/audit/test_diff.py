"""Diffs between runs, over real histories built from in-memory audits."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from camscan import pki
from camscan.cli import main
from camscan.model import FailureKind, Severity
from camscan.reports.diff import RunDiff, diff_runs, render_text
from camscan.reports.history import HistoryStore, RunSnapshot
from tests.audit.builders import T0, Cam, audit_of, leaf_for

DAY = dt.timedelta(days=1)


def _diff(tmp_path: Path, before: Sequence[Cam], after: Sequence[Cam], **kw: object) -> RunDiff:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        a = store.record_run(audit_of(before))
        b = store.record_run(audit_of(after, when=T0 + DAY, **kw))  # type: ignore[arg-type]
        return diff_runs(store.snapshot(a), store.snapshot(b))


def test_identical_runs_have_an_empty_diff(tmp_path: Path) -> None:
    cams = [Cam("127.0.0.5", leaf_for("127.0.0.5"), findings=[("CS121", Severity.WARNING, "in 30 days")])]
    diff = _diff(tmp_path, cams, cams)
    assert diff.empty and diff.summary() == "no changes"
    assert diff.to_dict()["changed"] is False


def test_new_and_resolved_findings_ignore_changing_numbers(tmp_path: Path) -> None:
    leaf = leaf_for("127.0.0.5")
    before = [
        Cam(
            "127.0.0.5",
            leaf,
            findings=[
                ("CS121", Severity.WARNING, "expires in 30 days"),
                ("CS111", Severity.WARNING, "self-signed"),
            ],
        )
    ]
    after = [
        Cam(
            "127.0.0.5",
            leaf,
            findings=[
                ("CS121", Severity.WARNING, "expires in 29 days"),
                ("CS105", Severity.ERROR, "IP not in SAN"),
            ],
        )
    ]
    diff = _diff(tmp_path, before, after)
    assert [f.rule_id for f in diff.new_findings] == ["CS105"]
    assert [f.rule_id for f in diff.resolved_findings] == ["CS111"]
    assert not diff.new_endpoints and not diff.vanished_endpoints and not diff.certificate_changes
    assert diff.summary() == "1 new finding, 1 resolved finding"


def test_a_second_finding_of_the_same_rule_is_new(tmp_path: Path) -> None:
    leaf = leaf_for("127.0.0.5")
    before = [Cam("127.0.0.5", leaf, findings=[("CS120", Severity.ERROR, "leaf expired")])]
    after = [
        Cam(
            "127.0.0.5",
            leaf,
            findings=[
                ("CS120", Severity.ERROR, "leaf expired"),
                ("CS120", Severity.ERROR, "intermediate expired"),
            ],
        )
    ]
    diff = _diff(tmp_path, before, after)
    assert len(diff.new_findings) == 1


def test_new_and_vanished_endpoints(tmp_path: Path) -> None:
    a, b, c = (Cam(f"127.0.0.{i}", leaf_for(f"127.0.0.{i}")) for i in (5, 6, 7))
    diff = _diff(tmp_path, [a, b], [a, c])
    assert [e.endpoint.address for e in diff.new_endpoints] == ["127.0.0.7"]
    assert [e.endpoint.address for e in diff.vanished_endpoints] == ["127.0.0.6"]
    assert not diff.moves


def test_an_endpoint_that_now_fails_the_handshake_has_vanished(tmp_path: Path) -> None:
    a = Cam("127.0.0.5", leaf_for("127.0.0.5"))
    diff = _diff(tmp_path, [a], [], failures=[("127.0.0.5", FailureKind.HANDSHAKE_FAILED)])
    assert [e.endpoint.address for e in diff.vanished_endpoints] == ["127.0.0.5"]


def test_certificate_changed_with_and_without_a_new_key(tmp_path: Path) -> None:
    key = pki.new_key()
    old_a, old_b = leaf_for("127.0.0.5", key=key), leaf_for("127.0.0.6")
    new_a, new_b = leaf_for("127.0.0.5", key=key), leaf_for("127.0.0.6")  # renewed, same key / new key
    diff = _diff(
        tmp_path,
        [Cam("127.0.0.5", old_a), Cam("127.0.0.6", old_b)],
        [Cam("127.0.0.5", new_a), Cam("127.0.0.6", new_b)],
    )
    assert [(c.endpoint.address, c.key_changed) for c in diff.certificate_changes] == [
        ("127.0.0.5", False),
        ("127.0.0.6", True),
    ]
    assert not diff.moves and not diff.new_endpoints


def test_a_device_moved_matched_by_mac(tmp_path: Path) -> None:
    old = Cam("127.0.0.5", leaf_for("127.0.0.5"), mac="ac:cc:8e:11:22:33")
    # it rebooted at the new address and made a new certificate, new key: only the MAC tells
    new = Cam("127.0.0.9", leaf_for("127.0.0.9"), mac="AC-CC-8E-11-22-33")
    diff = _diff(tmp_path, [old], [new])
    (move,) = diff.moves
    assert (move.old_address, move.new_address, move.matched_by) == ("127.0.0.5", "127.0.0.9", "mac")
    assert not move.certificate_unchanged
    assert not diff.new_endpoints and not diff.vanished_endpoints  # explained by the move


def test_a_device_moved_matched_by_certificate_without_reboot(tmp_path: Path) -> None:
    leaf = leaf_for("127.0.0.5")
    other = Cam("127.0.0.6", leaf_for("127.0.0.6"))
    diff = _diff(tmp_path, [Cam("127.0.0.5", leaf), other], [Cam("127.0.0.8", leaf), other])
    (move,) = diff.moves
    assert (move.old_address, move.new_address, move.matched_by) == ("127.0.0.5", "127.0.0.8", "key")
    assert move.certificate_unchanged
    text = render_text(diff)
    assert "127.0.0.5 -> 127.0.0.8" in text and "still presenting the certificate" in text


def test_a_shared_factory_key_is_not_evidence_of_a_move(tmp_path: Path) -> None:
    key = pki.new_key()
    before = [
        Cam("127.0.0.5", leaf_for("127.0.0.5", key=key)),
        Cam("127.0.0.6", leaf_for("127.0.0.6", key=key)),
    ]
    after = [Cam("127.0.0.7", leaf_for("127.0.0.7", key=key)), Cam("127.0.0.6", before[1].leaf)]
    diff = _diff(tmp_path, before, after)
    assert not diff.moves
    assert [e.endpoint.address for e in diff.new_endpoints] == ["127.0.0.7"]
    assert [e.endpoint.address for e in diff.vanished_endpoints] == ["127.0.0.5"]


def test_a_device_moved_onto_an_address_another_device_left(tmp_path: Path) -> None:
    a = Cam("127.0.0.5", leaf_for("127.0.0.5"), mac="00:40:8c:00:00:05")
    b = Cam("127.0.0.6", leaf_for("127.0.0.6"), mac="00:40:8c:00:00:06")
    a_moved = Cam("127.0.0.6", leaf_for("127.0.0.6"), mac="00:40:8c:00:00:05")
    diff = _diff(tmp_path, [a, b], [a_moved])
    assert [(m.old_address, m.new_address) for m in diff.moves] == [("127.0.0.5", "127.0.0.6")]
    assert [e.endpoint.address for e in diff.vanished_endpoints] == []  # .5 is explained by the move
    assert [c.endpoint.address for c in diff.certificate_changes] == ["127.0.0.6"]


def test_first_run_against_the_empty_history(tmp_path: Path) -> None:
    cams = [Cam("127.0.0.5", leaf_for("127.0.0.5"), findings=[("CS111", Severity.WARNING, "self")])]
    with HistoryStore(tmp_path / "h.sqlite") as store:
        run = store.record_run(audit_of(cams))
        diff = diff_runs(RunSnapshot(run=None), store.snapshot(run))
    assert diff.old_run_id is None and diff.new_run_id == 1
    assert diff.counts() == {
        "new_findings": 1,
        "resolved_findings": 0,
        "new_endpoints": 1,
        "vanished_endpoints": 0,
        "certificate_changes": 0,
        "moves": 0,
    }
    assert render_text(diff).startswith("changes from an empty history to run 1:")


def test_terminal_text_is_sanitized(tmp_path: Path) -> None:
    evil = "\x1b]0;pwned\x07"
    cams = [Cam("127.0.0.5", leaf_for("127.0.0.5", cn=evil), findings=[("CS105", Severity.ERROR, evil)])]
    with HistoryStore(tmp_path / "h.sqlite") as store:
        diff = diff_runs(RunSnapshot(run=None), store.snapshot(store.record_run(audit_of(cams))))
    text = render_text(diff)
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;pwned\\x07" in text


def _db_with_runs(tmp_path: Path) -> Path:
    db = tmp_path / "h.sqlite"
    leaf = leaf_for("127.0.0.5")
    with HistoryStore(db) as store:
        store.record_run(audit_of([Cam("127.0.0.5", leaf)]))
        store.record_run(audit_of([Cam("127.0.0.5", leaf)], when=T0 + DAY))
        store.record_run(audit_of([Cam("127.0.0.8", leaf)], when=T0 + 2 * DAY))
    return db


def test_diff_command_defaults_to_the_last_two_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _db_with_runs(tmp_path)
    assert main(["diff", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("changes from run 2 to run 3: 1 device moved")
    assert "127.0.0.5 -> 127.0.0.8" in out
    assert main(["diff", "--db", str(db), "1", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["changed"] is False and (doc["old_run"], doc["new_run"]) == (1, 2)
    assert main(["diff", "--db", str(db), "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["old_run"] == 2 and doc["moves"][0]["new_address"] == "127.0.0.8"


def test_diff_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _db_with_runs(tmp_path)
    assert main(["diff", "--db", str(db), "1", "9"]) == 2
    assert "no run 9" in capsys.readouterr().err
    assert main(["diff", "--db", str(db), "1"]) == 2
    assert "first run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["diff", "--db", str(db), "x"])
    assert info.value.code == 2
