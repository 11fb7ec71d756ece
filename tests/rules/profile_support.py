"""Builders shared by the profile, expiry, protocol and fleet rule tests (engineer R2).

Observations are plain data: these helpers build them from certificates made in-process with
camscan.pki (or the committed weak ones in tests/data/weak), with a fixed audit clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan.model import (
    AuditContext,
    DeviceIdentity,
    Endpoint,
    Finding,
    HTTPFacts,
    Observation,
    Violation,
)
from camscan.rules.registry import evaluate

NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
WEAK = Path(__file__).resolve().parent.parent / "data" / "weak"


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def weak(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((WEAK / name).read_bytes())


def observation(
    chain: Sequence[x509.Certificate],
    *,
    address: str = "127.0.0.1",
    port: int = 443,
    tls_version: str = "TLSv1.3",
    observed_at: dt.datetime = NOW,
    http: HTTPFacts | None = None,
    identity: DeviceIdentity | None = None,
    legacy_versions: tuple[str, ...] | None = None,
) -> Observation:
    return Observation(
        endpoint=Endpoint(address, port),
        chain_der=tuple(der(c) for c in chain),
        tls_version=tls_version,
        cipher="TLS_AES_128_GCM_SHA256",
        observed_at=observed_at,
        http=http,
        identity=identity or DeviceIdentity(),
        legacy_versions=legacy_versions,
    )


def context(**overrides: Any) -> AuditContext:
    overrides.setdefault("now", NOW)
    return AuditContext(**overrides)


def violations(module: ModuleType, obs: Observation, ctx: AuditContext | None = None) -> list[Violation]:
    """The rule's own check, called directly."""
    return list(module.RULE.check(obs, ctx or context()))


def fleet(
    module: ModuleType, observations: Sequence[Observation], ctx: AuditContext | None = None
) -> list[tuple[Endpoint, Violation]]:
    return list(module.RULE.check_fleet(observations, ctx or context()))


def findings(
    rule_id: str, observations: Sequence[Observation], ctx: AuditContext | None = None
) -> list[Finding]:
    """Through the registry, as the scan does: proves the rule is registered and its evidence survives."""
    result = evaluate(observations, ctx or context())
    crashed = [f for f in result if f.rule_id == "CS000" and f.evidence.get("rule_id") == rule_id]
    assert not crashed, crashed
    return [f for f in result if f.rule_id == rule_id]
