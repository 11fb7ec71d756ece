"""Build AuditResults in memory (real certificates from camscan.pki, no network) for the
history and diff tests. The integration tests use real TLS servers instead."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from camscan import pki
from camscan.certinfo import cert_der
from camscan.model import (
    AuditResult,
    DeviceIdentity,
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

T0 = dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC)


@dataclass
class Cam:
    """One simulated device for in-memory audits: an address, a certificate, an identity."""

    address: str
    leaf: pki.Issued
    mac: str | None = None
    serial: str | None = None
    port: int = 443
    findings: list[tuple[str, Severity, str]] = field(default_factory=list)

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.address, self.port)


def leaf_for(ip: str, key: pki.PrivateKey | None = None, cn: str | None = None) -> pki.Issued:
    return pki.make_leaf(None, common_name=cn or f"cam {ip}", ips=[ip], key=key)


def audit_of(
    cams: Sequence[Cam],
    *,
    when: dt.datetime = T0,
    failures: Sequence[tuple[str, FailureKind]] = (),
    extra_findings: Sequence[Finding] = (),
) -> AuditResult:
    observations = tuple(
        Observation(
            endpoint=c.endpoint,
            chain_der=(cert_der(c.leaf.cert),),
            tls_version="TLSv1.3",
            cipher="TLS_AES_128_GCM_SHA256",
            observed_at=when,
            identity=DeviceIdentity(mac=c.mac, serial=c.serial),
        )
        for c in cams
    )
    probe_failures = tuple(
        ProbeFailure(Endpoint(address, 443), ProbeStage.HANDSHAKE, kind, f"{kind} detail", when)
        for address, kind in failures
    )
    findings = [
        Finding(rule, sev, c.endpoint, f"title {rule}", message, {"n": 1}, "fix it")
        for c in cams
        for rule, sev, message in c.findings
    ]
    findings += list(extra_findings)
    scan = ScanResult(
        parameters=ScanParameters(targets=("127.0.0.0/24",), ports=(443,)),
        started_at=when - dt.timedelta(seconds=30),
        finished_at=when,
        observations=observations,
        failures=probe_failures,
    )
    return AuditResult(scan=scan, findings=tuple(findings), as_of=when)
