from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from camscan.model import AuditResult
from camscan.reports.prometheus_report import render_prometheus


def _samples(audit: AuditResult) -> dict[str, list[Any]]:
    text = render_prometheus(audit).decode("utf-8")
    out: dict[str, list[Any]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name].append(sample)
    return out


def test_certificate_expiry_timestamps(audit: AuditResult) -> None:
    samples = _samples(audit)
    not_after = samples["camscan_certificate_not_after_timestamp_seconds"]
    presented = sum(len(o.chain_der) for o in audit.scan.observations)
    assert len(not_after) == presented
    by_key = {(s.labels["address"], s.labels["port"], s.labels["depth"]): s for s in not_after}
    vms_obs = next(o for o in audit.scan.observations if o.endpoint.port == 7443)
    vms = by_key[("127.20.0.15", "7443", "0")]
    assert vms.value == vms_obs.leaf.not_valid_after_utc.timestamp()
    assert vms.labels["server_name"] == "vms.example.net"
    assert vms.labels["sha256"] == vms_obs.leaf_sha256
    assert vms.labels["subject"] == "CN=vms.example.net"
    assert ("127.20.0.14", "443", "1") in by_key  # the intermediate the device sends
    not_before = samples["camscan_certificate_not_before_timestamp_seconds"]
    assert len(not_before) == presented


def test_findings_by_severity_and_rule(audit: AuditResult) -> None:
    samples = _samples(audit)
    counts = {(s.labels["severity"], s.labels["rule"]): s.value for s in samples["camscan_findings"]}
    assert counts[("error", "CS106")] == 2
    assert counts[("warning", "CS121")] == 1
    assert counts[("notice", "CS121")] == 1
    assert counts[("notice", "CS106")] == 0  # zeros are explicit: alerts see 0, not "absent"
    assert sum(counts.values()) == len(audit.findings)
    per_endpoint = {
        (s.labels["address"], s.labels["severity"]): s.value
        for s in samples["camscan_endpoint_findings"]
    }
    assert per_endpoint[("127.20.0.11", "warning")] == 2
    assert per_endpoint[("127.20.0.14", "error")] == 0


def test_run_gauges(audit: AuditResult) -> None:
    samples = _samples(audit)
    endpoints = {s.labels["status"]: s.value for s in samples["camscan_endpoints"]}
    assert endpoints == {"ok": 6, "failed": 2}
    up = {s.labels["address"]: s.value for s in samples["camscan_endpoint_up"]}
    assert up["127.20.0.11"] == 1 and up["127.20.0.17"] == 0
    assert samples["camscan_devices"][0].value == 6
    assert samples["camscan_last_run_timestamp_seconds"][0].value == audit.scan.finished_at.timestamp()
    assert samples["camscan_last_run_duration_seconds"][0].value == 4.2


def test_hostile_subject_cannot_forge_a_series(audit: AuditResult) -> None:
    # A subject with quotes, a newline and a fake sample must stay inside its label value.
    obs = audit.scan.observations[0]
    from camscan import pki

    evil_name = pki.name('x"} 1\ncamscan_devices 999\n#')
    evil = pki.make_leaf(None, subject=evil_name)
    doctored_obs = dataclasses.replace(obs, chain_der=(evil.cert_der,))
    scan = dataclasses.replace(
        audit.scan, observations=(doctored_obs, *audit.scan.observations[1:])
    )
    samples = _samples(dataclasses.replace(audit, scan=scan))
    assert [s.value for s in samples["camscan_devices"]] == [6]
    subjects = [s.labels["subject"] for s in samples["camscan_certificate_not_after_timestamp_seconds"]]
    assert any("camscan_devices 999" in subject for subject in subjects)


def test_no_observations_still_reports_the_run(audit: AuditResult) -> None:
    scan = dataclasses.replace(audit.scan, observations=(), failures=())
    samples = _samples(dataclasses.replace(audit, scan=scan, findings=()))
    assert "camscan_certificate_not_after_timestamp_seconds" not in samples
    assert {s.labels["status"]: s.value for s in samples["camscan_endpoints"]} == {"ok": 0, "failed": 0}
    assert samples["camscan_last_run_timestamp_seconds"]
