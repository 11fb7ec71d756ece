"""The JSON report: real scan output validated against the shipped JSON Schema."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import trio

from camscan import pki
from camscan.certinfo import cert_sha256, spki_sha256
from camscan.errors import CamscanError
from camscan.model import (
    AuditContext,
    AuditResult,
    Endpoint,
    FailureKind,
    Finding,
    Observation,
    ProbeFailure,
    ProbeStage,
    ScanParameters,
    ScanResult,
    Severity,
)
from camscan.pipeline import judge, run_scan
from camscan.reports.json_report import build_document, dumps, iter_json, load_schema, write_json
from camscan.rules.registry import get_rule
from camscan.scanner.sweep import SweepOptions
from camscan.scanner.targets import parse_targets
from tests.support.tls_servers import ServerSpec, serve

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def validate(document: dict[str, Any]) -> None:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)


@pytest.fixture
async def real_audit(intermediate_ca: pki.Issued, next_host: Callable[[], str]) -> AuditResult:
    """A real sweep: a leaf + intermediate server, a silent one, refused ports around them."""
    hosts = [next_host() for _ in range(3)]
    leaf = pki.make_leaf(intermediate_ca, common_name="cam", ips=[hosts[0]])
    async with trio.open_nursery() as nursery:
        spec = ServerSpec(chain=[leaf.cert, intermediate_ca.cert], key=leaf.key)
        _, port = await nursery.start(serve, spec, hosts[0])
        _, silent_port = await nursery.start(serve, ServerSpec(behaviour="silent"), hosts[1])
        targets = parse_targets([hosts[2], hosts[0], f"{hosts[1]}:{silent_port}"], ports=(port,))
        parameters = ScanParameters(targets=tuple(hosts), ports=(port,), handshake_timeout=0.5)
        with trio.fail_after(20):
            scan = await run_scan(targets, SweepOptions(handshake_timeout=0.5, legacy_probe=True), parameters)
        nursery.cancel_scope.cancel()
    # Without trust options the rules run offline (no AIA fetch leaves loopback).
    return await judge(scan, AuditContext(now=dt.datetime.now(dt.UTC)))


async def test_real_scan_validates_against_the_schema(
    real_audit: AuditResult, intermediate_ca: pki.Issued
) -> None:
    document = build_document(real_audit)
    validate(document)
    assert document["schema_version"] == "1.2"
    assert document["tool"]["name"] == "camscan"
    endpoints = document["endpoints"]
    assert [e["status"] for e in endpoints] == ["observed", "failed", "failed"]
    observed = endpoints[0]
    assert [c["position"] for c in observed["chain"]] == [0, 1]
    assert observed["chain"][1]["sha256"] == cert_sha256(intermediate_ca.cert)
    assert observed["chain"][1]["spki_sha256"] == spki_sha256(intermediate_ca.cert)
    assert observed["chain"][0]["pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert observed["tls"]["version"] == "TLSv1.3"
    assert observed["http"]["server"] == "camscan-test"
    assert observed["http"]["device_time"] == "2023-01-02T03:04:05Z"
    assert observed["legacy_versions"] == []
    kinds = sorted(e["failure"]["kind"] for e in endpoints[1:])
    assert kinds == ["refused", "timeout"]
    assert document["summary"]["observed"] == 1 and document["summary"]["failed"] == 2
    assert document["summary"]["failures_by_kind"]["timeout"] == 1
    # Findings sit on their endpoint: the test server's Date is years behind (clock skew).
    expected = {f.rule_id for f in real_audit.findings if f.endpoint.address == observed["address"]}
    assert {f["rule_id"] for f in observed["findings"]} == expected
    assert get_rule("CS302") is not None and "CS302" in expected
    assert sum(len(e["findings"]) for e in endpoints) == document["summary"]["findings"]


def _endpoint_obs(leaf: pki.Issued, address: str, port: int) -> Observation:
    return Observation(Endpoint(address, port), (leaf.cert_der,), "TLSv1.2", "ECDHE-RSA-AES128-SHA", NOW)


def test_order_findings_and_determinism() -> None:
    leaf = pki.make_leaf(None, ips=["127.0.0.1"])
    observations = (
        _endpoint_obs(leaf, "127.0.0.10", 443),
        _endpoint_obs(leaf, "127.0.0.9", 8443),
        _endpoint_obs(leaf, "::1", 443),
    )
    failure = ProbeFailure(Endpoint("127.0.0.9", 443), ProbeStage.CONNECT, FailureKind.REFUSED,
                           "refused", NOW)
    finding = Finding("CS111", Severity.WARNING, Endpoint("127.0.0.10", 443), "Self-signed leaf",
                      "the leaf certificate is self-signed", {"subject": "CN=x", "bits": [1, 2]},
                      "Replace it.")
    scan = ScanResult(ScanParameters(("127.0.0.0/24",), (443, 8443)), NOW, NOW, observations, (failure,))
    audit = AuditResult(scan, (finding,), NOW)
    document = build_document(audit)
    validate(document)
    assert [(e["address"], e["port"]) for e in document["endpoints"]] == [
        ("127.0.0.9", 443), ("127.0.0.9", 8443), ("127.0.0.10", 443), ("::1", 443),
    ]
    assert document["endpoints"][2]["findings"] == [{
        "rule_id": "CS111", "severity": "warning", "title": "Self-signed leaf",
        "message": "the leaf certificate is self-signed", "evidence": {"subject": "CN=x", "bits": [1, 2]},
        "remediation": "Replace it.",
    }]
    assert document["summary"]["findings_by_severity"] == {"notice": 0, "warning": 1, "error": 0}
    assert document["started_at"] == "2026-01-02T03:04:05Z"
    assert dumps(document) == dumps(build_document(audit))
    # The streamed text (what write_json writes) parses to the same document.
    assert json.loads("".join(iter_json(audit))) == document
    empty = AuditResult(ScanResult(scan.parameters, NOW, NOW, (), ()), (), NOW)
    assert json.loads("".join(iter_json(empty))) == build_document(empty)


def test_unparseable_certificate_keeps_its_pem() -> None:
    obs = Observation(Endpoint("127.0.0.1", 443), (b"\x30\x03\x02\x01\x00",), "TLSv1.2", "x", NOW)
    scan = ScanResult(ScanParameters(("127.0.0.1",), (443,)), NOW, NOW, (obs,), ())
    document = build_document(AuditResult(scan, (), NOW))
    validate(document)
    entry = document["endpoints"][0]["chain"][0]
    assert "parse_error" in entry and entry["pem"].startswith("-----BEGIN CERTIFICATE-----")


def test_schema_rejects_a_broken_document() -> None:
    leaf = pki.make_leaf(None, ips=["127.0.0.1"])
    obs = _endpoint_obs(leaf, "127.0.0.1", 443)
    scan = ScanResult(ScanParameters(("127.0.0.1",), (443,)), NOW, NOW, (obs,), ())
    document = build_document(AuditResult(scan, (), NOW))
    document["endpoints"][0]["chain"][0]["sha256"] = "not-a-hash"
    with pytest.raises(jsonschema.ValidationError):
        validate(document)
    document = build_document(AuditResult(scan, (), NOW))
    document["endpoints"][0]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        validate(document)


def test_write_json_atomic_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scan = ScanResult(ScanParameters(("127.0.0.1",), (443,)), NOW, NOW, (), ())
    audit = AuditResult(scan, (), NOW)
    target = tmp_path / "report.json"
    target.write_text("previous")
    write_json(audit, str(target))
    assert json.loads(target.read_text())["summary"]["endpoints"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left behind
    write_json(audit, "-")
    assert json.loads(capsys.readouterr().out)["schema_version"] == "1.2"
    with pytest.raises(CamscanError, match="cannot write JSON report"):
        write_json(audit, str(tmp_path / "missing-dir" / "r.json"))
    # A parent that is a file: refused for root too (a read-only directory would not be).
    with pytest.raises(CamscanError, match="cannot write JSON report"):
        write_json(audit, str(target / "r.json"))
    assert json.loads(target.read_text())["summary"]["endpoints"] == 0


_CRASH_MID_WRITE = """
import datetime as dt, resource, signal, sys
from camscan.errors import CamscanError
from camscan.model import AuditResult, Endpoint, Observation, ScanParameters, ScanResult
from camscan.pki import make_leaf
from camscan.reports.json_report import write_json

now = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
leaf = make_leaf(None, ips=["127.0.0.1"]).cert_der
observations = tuple(Observation(Endpoint(f"127.0.1.{i}", 443), (leaf,), "TLSv1.3", "x", now)
                     for i in range(1, 60))
scan = ScanResult(ScanParameters(("127.0.1.0/26",), (443,)), now, now, observations, ())
audit = AuditResult(scan, (), now)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
# The disk "fills up" after 4 KiB: the streamed report (tens of KiB) fails part way through.
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_json(audit, sys.argv[1])
except CamscanError as exc:
    print(exc)
    sys.exit(3)
"""


def test_write_json_that_fails_mid_write_keeps_the_old_report(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text('{"previous": true}\n')
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH_MID_WRITE, str(target)],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2], check=False,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"cannot write JSON report {str(target)!r}: File too large")
    assert target.read_text() == '{"previous": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # the temporary file is gone
