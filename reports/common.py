"""What every report format shares: endpoints in a stable order, counts, and JSON-ready records.

Pure functions over camscan.model; no I/O. Every string that comes out of a certificate or a
device is still hostile here: each renderer escapes it for its own format.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from camscan import certinfo
from camscan.model import (
    AuditResult,
    Endpoint,
    Finding,
    Observation,
    ProbeFailure,
    Severity,
)

SEVERITIES: tuple[Severity, ...] = (Severity.ERROR, Severity.WARNING, Severity.NOTICE)


def iso(moment: dt.datetime | None) -> str | None:
    """UTC ISO-8601 with a Z, seconds precision: the one time format of every report."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    # Not strftime: its %Y does not pad years before 1000 (--as-of 0001-01-01).
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")[:19] + "Z"


@dataclass(frozen=True)
class EndpointReport:
    """One endpoint with what the probe returned and the findings that name it."""

    endpoint: Endpoint
    observation: Observation | None
    failure: ProbeFailure | None
    findings: tuple[Finding, ...]

    @property
    def status(self) -> str:
        if self.observation is not None:
            return "ok"
        if self.failure is not None:
            return f"failed: {self.failure.kind.value}"
        return "unknown"

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    @property
    def device_key(self) -> str:
        """Which physical device this endpoint belongs to: the MAC or serial when known, else the IP."""
        if self.observation is not None:
            identity = self.observation.identity
            if identity.mac:
                return f"mac:{identity.mac.lower()}"
            if identity.serial:
                return f"serial:{identity.serial}"
        return f"ip:{self.endpoint.address}"


def endpoint_reports(audit: AuditResult) -> list[EndpointReport]:
    """Every endpoint the audit knows (observed, failed, or only named by a finding), sorted."""
    observations = {o.endpoint: o for o in audit.scan.observations}
    failures = {f.endpoint: f for f in audit.scan.failures}
    by_endpoint: dict[Endpoint, list[Finding]] = {}
    for finding in audit.findings:
        by_endpoint.setdefault(finding.endpoint, []).append(finding)
    endpoints = set(observations) | set(failures) | set(by_endpoint)
    return [
        EndpointReport(
            endpoint=endpoint,
            observation=observations.get(endpoint),
            failure=None if endpoint in observations else failures.get(endpoint),
            findings=tuple(sort_findings(by_endpoint.get(endpoint, ()))),
        )
        for endpoint in sorted(endpoints, key=lambda e: e.sort_key)
    ]


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(
        findings, key=lambda f: (f.endpoint.sort_key, -f.severity.rank, f.rule_id, f.message)
    )


def device_count(reports: Sequence[EndpointReport]) -> int:
    """Devices that answered with TLS (several ports or addresses of one MAC count once)."""
    return len({r.device_key for r in reports if r.observation is not None})


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.severity.value for f in findings)
    return {s.value: counts.get(s.value, 0) for s in SEVERITIES}


@dataclass(frozen=True)
class RuleCount:
    rule_id: str
    title: str
    severity: Severity  # the worst severity this rule reported in this audit
    count: int


def rule_counts(findings: Iterable[Finding]) -> list[RuleCount]:
    """Findings per rule, worst first, then by id."""
    grouped: dict[str, list[Finding]] = {}
    for finding in sort_findings(findings):  # sorted: the title shown is the same every run
        grouped.setdefault(finding.rule_id, []).append(finding)
    counts = [
        RuleCount(
            rule_id=rule_id,
            title=items[0].title,
            severity=max((f.severity for f in items), key=lambda s: s.rank),
            count=len(items),
        )
        for rule_id, items in grouped.items()
    ]
    return sorted(counts, key=lambda c: (-c.severity.rank, c.rule_id))


def at_or_above(findings: Iterable[Finding], threshold: Severity) -> list[Finding]:
    return [f for f in findings if f.severity.at_least(threshold)]


# --- JSON-ready records (JSONL, CSV and HTML read the same facts) -------------------------------


def endpoint_record(endpoint: Endpoint) -> dict[str, Any]:
    return {"address": endpoint.address, "port": endpoint.port, "server_name": endpoint.server_name}


def certificate_records(observation: Observation) -> list[dict[str, Any]]:
    """The presented chain, leaf first; a certificate that does not parse becomes an error entry."""
    records: list[dict[str, Any]] = []
    for depth, der in enumerate(observation.chain_der):
        try:
            cert = observation.chain[depth]
            record: dict[str, Any] = {"depth": depth, **certinfo.describe(cert)}
        except Exception as exc:
            record = {
                "depth": depth,
                "sha256": certinfo.sha256_hex(der),
                "error": f"unparseable certificate: {type(exc).__name__}",
            }
        records.append(record)
    return records


def observation_record(observation: Observation) -> dict[str, Any]:
    http = observation.http
    identity = observation.identity
    return {
        "tls_version": observation.tls_version,
        "cipher": observation.cipher,
        "observed_at": iso(observation.observed_at),
        "legacy_versions": (
            list(observation.legacy_versions) if observation.legacy_versions is not None else None
        ),
        "http": None
        if http is None
        else {
            "status": http.status,
            "server": http.server,
            "date": http.date,
            "device_time": iso(http.device_time),
        },
        "identity": {
            "mac": identity.mac,
            "serial": identity.serial,
            "vendor": identity.vendor,
            "model": identity.model,
            "firmware": identity.firmware,
        },
        "chain": certificate_records(observation),
    }




def failure_record(failure: ProbeFailure) -> dict[str, Any]:
    return {
        "stage": failure.stage.value,
        "kind": failure.kind.value,
        "detail": failure.detail,
        "observed_at": iso(failure.observed_at),
    }


def leaf_summary(observation: Observation | None) -> dict[str, Any]:
    """The leaf's headline facts, or empty strings when there is no parseable leaf."""
    empty: dict[str, Any] = {
        "subject": "",
        "issuer": "",
        "common_name": "",
        "not_before": "",
        "not_after": "",
        "key": "",
        "sha256": "",
    }
    if observation is None or not observation.chain_der:
        return empty
    try:
        cert = observation.leaf
        info = certinfo.describe(cert)
    except Exception:
        return {**empty, "sha256": certinfo.sha256_hex(observation.chain_der[0])}
    bits = info["key_bits"]
    return {
        "subject": info["subject"],
        "issuer": info["issuer"],
        "common_name": ", ".join(info["common_names"]),
        "not_before": info["not_before"],
        "not_after": info["not_after"],
        "key": f"{info['key_type']} {bits}" if bits else info["key_type"],
        "sha256": info["sha256"],
    }
