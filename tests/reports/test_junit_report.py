from __future__ import annotations

import dataclasses

import defusedxml.ElementTree as DET

from camscan.model import AuditResult, Severity
from camscan.reports.junit_report import render_junit


def _cases(xml: str) -> dict[str, object]:
    root = DET.fromstring(xml.encode("utf-8"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return {"suite": suite, "cases": {c.get("name"): c for c in suite.findall("testcase")}}


def test_one_case_per_endpoint_and_a_failure_per_error_or_warning(audit: AuditResult) -> None:
    parsed = _cases(render_junit(audit))
    suite, cases = parsed["suite"], parsed["cases"]
    assert isinstance(cases, dict)
    endpoints = {o.endpoint for o in audit.scan.observations} | {
        f.endpoint for f in audit.scan.failures
    }
    assert set(cases) == {str(e) for e in endpoints}
    gating = [f for f in audit.findings if f.severity.at_least(Severity.WARNING)]
    assert suite.get("tests") == str(len(endpoints))  # type: ignore[attr-defined]
    assert suite.get("failures") == str(len(gating))  # type: ignore[attr-defined]
    assert suite.get("skipped") == "2"  # type: ignore[attr-defined]

    axis = cases["127.20.0.11:443"]
    assert sorted(f.get("type") for f in axis.findall("failure")) == ["CS111", "CS121", "CS202"]
    expired = cases["vms.example.net (127.20.0.15:7443)"]
    failure = next(f for f in expired.findall("failure") if f.get("type") == "CS120")
    assert failure.get("message").startswith("[error] CS120 the leaf certificate expired")
    assert "Remediation: Issue and install a new certificate now" in failure.text


def test_notices_do_not_fail_the_case(audit: AuditResult) -> None:
    cases = _cases(render_junit(audit))["cases"]
    assert isinstance(cases, dict)
    good = cases["127.20.0.14:443"]
    assert good.findall("failure") == []
    props = {p.get("name"): p.get("value") for p in good.iter("property")}
    assert props["notice:CS121"] == "the leaf certificate expires in 64 days"
    assert props["leaf.subject"] == "CN=cam-dock-2.example.net"
    assert "notice CS121" in good.find("system-out").text


def test_failed_probes_are_skipped_not_failed(audit: AuditResult) -> None:
    cases = _cases(render_junit(audit))["cases"]
    assert isinstance(cases, dict)
    timeout = cases["127.20.0.17:443"]
    skipped = timeout.find("skipped")
    assert skipped is not None and skipped.get("message") == "probe failed at handshake: timeout"
    assert timeout.findall("failure") == []


def test_hostile_text_is_escaped_and_control_characters_shown_as_escapes(audit: AuditResult) -> None:
    finding = dataclasses.replace(
        audit.findings[0],
        message="bad\x1b]0;title\x07 <b>&amp; \"quoted\" ]]> \x00end",
    )
    doctored = dataclasses.replace(audit, findings=(finding, *audit.findings[1:]))
    xml = render_junit(doctored)
    assert "\x1b" not in xml and "\x00" not in xml
    cases = _cases(xml)["cases"]
    assert isinstance(cases, dict)
    failure = next(
        f for f in cases[str(finding.endpoint)].findall("failure") if "bad" in f.get("message")
    )
    assert failure.get("message").endswith('bad\\x1b]0;title\\x07 <b>&amp; "quoted" ]]> \\x00end')
    nvr = cases["127.20.0.16:443"]
    subject = next(p for p in nvr.iter("property") if p.get("name") == "leaf.subject")
    assert "<script>document.title='pwned'" in subject.get("value").replace("\\", "")


def test_clean_fleet_has_no_failures(audit: AuditResult) -> None:
    clean = dataclasses.replace(audit, findings=())
    suite = _cases(render_junit(clean))["suite"]
    assert suite.get("failures") == "0"  # type: ignore[attr-defined]
    assert list(suite.iter("failure")) == []  # type: ignore[attr-defined]
