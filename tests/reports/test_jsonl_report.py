from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from camscan.model import AuditContext, AuditResult, Endpoint, Observation, Rule, Severity, Violation
from camscan.reports.json_report import load_schema
from camscan.reports.jsonl_report import JsonlStream, per_endpoint_judge, render_jsonl
from camscan.rules.registry import evaluate
from tests.reports.sample import AS_OF


def _lines(text: str) -> list[dict[str, Any]]:
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _validator(definition: str) -> jsonschema.Draft202012Validator:
    schema = load_schema()
    wrapper = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(wrapper)


def _check_expired(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if obs.leaf.not_valid_after_utc < ctx.now:
        yield Violation("expired", {"not_after": obs.leaf.not_valid_after_utc.isoformat()})


def _check_fleet(
    observations: Sequence[Observation], ctx: AuditContext
) -> Iterator[tuple[Endpoint, Violation]]:
    for obs in observations:
        if obs.identity.vendor == "Hikvision":
            yield obs.endpoint, Violation("fleet says hello")


EXPIRED = Rule(id="CS990", title="test: expired", severity=Severity.ERROR, citation="test",
               rationale="test", remediation="renew", doc="test", check=_check_expired)
FLEET = Rule(id="CS991", title="test: fleet", severity=Severity.NOTICE, citation="test",
             rationale="test", remediation="none", doc="test", check_fleet=_check_fleet)


def _judged_audit(audit: AuditResult) -> AuditResult:
    ctx = AuditContext(now=AS_OF)
    findings = evaluate(audit.scan.observations, ctx, rules=[EXPIRED, FLEET])
    return dataclasses.replace(audit, findings=tuple(findings))


def _judge(observation: Observation) -> list[Any]:
    return evaluate([observation], AuditContext(now=AS_OF), rules=[EXPIRED])


def test_render_lines_match_the_json_schema(audit: AuditResult) -> None:
    lines = _lines(render_jsonl(audit))
    *endpoints, summary = lines
    assert [line["type"] for line in endpoints] == ["endpoint"] * 8 and summary["type"] == "summary"
    observed, failed = _validator("observed_endpoint"), _validator("failed_endpoint")
    for line in endpoints:
        (observed if line["status"] == "observed" else failed).validate(line)
        assert line["schema_version"] == "1.2"
    assert summary["endpoints"] == 8 and summary["endpoints_failed"] == 2
    assert summary["findings"] == len(audit.findings)
    assert summary["late_findings"] == [] and summary["withdrawn_findings"] == []
    assert sum(len(line["findings"]) for line in endpoints) == len(audit.findings)


def test_stream_writes_as_results_arrive_and_renames_at_the_end(
    audit: AuditResult, tmp_path: Path
) -> None:
    target = tmp_path / "scan.jsonl"
    target.write_text("previous report\n")
    stream = JsonlStream(str(target), _judge)
    results = [*audit.scan.observations, *audit.scan.failures]
    for count, result in enumerate(results[:3], start=1):
        stream(result)
        temps = list(tmp_path.glob(".scan.jsonl.*.tmp"))
        assert len(temps) == 1
        # Each line is flushed as it completes; the old report stays until the run ends.
        assert len(temps[0].read_text().splitlines()) == count
        assert target.read_text() == "previous report\n"
    stream(results[0])  # a duplicate result is ignored
    for result in results[3:]:
        stream(result)
    stream.finish(_judged_audit(audit))
    assert list(tmp_path.glob(".*.tmp")) == []
    *endpoints, summary = _lines(target.read_text())
    assert len(endpoints) == len(results)
    vms = next(line for line in endpoints if line["port"] == 7443)
    assert [f["rule_id"] for f in vms["findings"]] == ["CS990"]  # judged when it completed
    # The fleet rule could only speak at the end: its findings are late, with their endpoint.
    late = summary["late_findings"]
    assert {(f["rule_id"], f["endpoint"]["address"]) for f in late} == {
        ("CS991", "127.20.0.12"), ("CS991", "127.20.0.13"),
    }
    assert summary["withdrawn_findings"] == []


def test_withdrawn_findings_are_listed(audit: AuditResult, tmp_path: Path) -> None:
    target = tmp_path / "scan.jsonl"
    stream = JsonlStream(str(target), _judge)
    for result in audit.scan.observations:
        stream(result)
    stream.finish(dataclasses.replace(audit, findings=()))  # the final audit dropped CS990
    summary = _lines(target.read_text())[-1]
    assert [f["rule_id"] for f in summary["withdrawn_findings"]] == ["CS990"]


def test_abort_keeps_the_previous_file(audit: AuditResult, tmp_path: Path) -> None:
    target = tmp_path / "scan.jsonl"
    target.write_text("previous report\n")
    stream = JsonlStream(str(target), _judge)
    stream(audit.scan.observations[0])
    stream.abort()
    assert target.read_text() == "previous report\n"
    assert list(tmp_path.iterdir()) == [target]


def test_unfinished_stream_leaves_no_temp_file(audit: AuditResult, tmp_path: Path) -> None:
    target = tmp_path / "scan.jsonl"
    stream = JsonlStream(str(target), None)
    stream(audit.scan.observations[0])
    del stream  # a crash: the stream is dropped without finish()
    import gc

    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_stdout_stream_is_flushed_per_line(
    audit: AuditResult, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = JsonlStream("-", _judge)
    stream(audit.scan.failures[0])
    first = capsys.readouterr().out
    assert json.loads(first)["status"] == "failed"
    stream.finish(audit)
    rest = _lines(capsys.readouterr().out)
    assert rest[-1]["type"] == "summary"
    assert len(rest) == 8  # the 7 endpoints not streamed, then the summary


def test_hostile_text_is_json_escaped(audit: AuditResult) -> None:
    text = render_jsonl(audit)
    nvr = next(line for line in _lines(text) if line.get("address") == "127.20.0.16")
    assert "<script>document.title='pwned'</script>" in nvr["chain"][0]["common_names"]
    assert all(ord(ch) < 128 for ch in text)  # control and bidi characters arrive as \u escapes


def test_per_endpoint_judge_uses_only_observation_rules() -> None:
    from camscan.rules.registry import all_rules

    judge = per_endpoint_judge(AuditContext(now=AS_OF))
    from tests.reports.sample import build_audit

    audit = build_audit(hostile=False)
    vms = next(o for o in audit.scan.observations if o.endpoint.port == 7443)
    ids = {f.rule_id for f in judge(vms)}
    assert "CS120" in ids  # the real expiry rule, judged at once
    fleet_ids = {r.id for r in all_rules() if r.check_fleet is not None}
    hik = next(o for o in audit.scan.observations if o.endpoint.address == "127.20.0.12")
    assert not ({f.rule_id for f in judge(hik)} & fleet_ids)


def test_unwritable_directory_is_a_usage_error(tmp_path: Path) -> None:
    from camscan.errors import UsageError

    with pytest.raises(UsageError, match=r"--jsonl .*missing"):
        JsonlStream(str(tmp_path / "missing" / "scan.jsonl"))
