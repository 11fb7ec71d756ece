"""The versioned JSON document (schema: camscan/schemas/report-v1.schema.json).

Deterministic: endpoints sorted by address then port, keys in a fixed order, UTC ISO-8601
times. Every device string is data here; consumers escape it where they render it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import ssl
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from camscan import __version__
from camscan.atomic import AtomicFile
from camscan.errors import CamscanError
from camscan.model import (
    SCHEMA_VERSION,
    AuditResult,
    Endpoint,
    FailureKind,
    Finding,
    HTTPFacts,
    Observation,
    ProbeFailure,
    Severity,
)

SCHEMA_RESOURCE = "schemas/report-v1.schema.json"


def utc_iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def endpoint_order(endpoint: Endpoint) -> tuple[int, int, int, str]:
    """Endpoint.sort_key, computed with inet_pton: ipaddress parsing dominated sorting a /16."""
    address = endpoint.address
    family, version = (socket.AF_INET6, 6) if ":" in address else (socket.AF_INET, 4)
    try:
        value = int.from_bytes(socket.inet_pton(family, address), "big")
    except OSError:
        return endpoint.sort_key  # let the model raise its own error for a non-address
    return (version, value, endpoint.port, endpoint.server_name or "")


def load_schema() -> dict[str, Any]:
    from importlib.resources import files

    text = files("camscan").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def certificate_entry(position: int, der: bytes) -> dict[str, Any]:
    """PEM, parsed fields and fingerprints; a certificate cryptography cannot parse keeps its PEM."""
    from cryptography import x509

    from camscan.certinfo import describe, sha256_hex

    entry: dict[str, Any] = {"position": position, "pem": ssl.DER_cert_to_PEM_cert(der)}
    try:
        entry.update(describe(x509.load_der_x509_certificate(der)))
    except Exception as exc:
        entry["sha256"] = sha256_hex(der)
        entry["parse_error"] = f"{type(exc).__name__}: {exc}"
    return entry


def _http(facts: HTTPFacts | None) -> dict[str, Any] | None:
    if facts is None:
        return None
    return {
        "status": facts.status,
        "server": facts.server,
        "date": facts.date,
        "device_time": utc_iso(facts.device_time) if facts.device_time else None,
        "www_authenticate": facts.www_authenticate,
    }


def finding_entry(finding: Finding) -> dict[str, Any]:
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity.value,
        "title": finding.title,
        "message": finding.message,
        "evidence": dict(finding.evidence),
        "remediation": finding.remediation,
    }


def _endpoint_head(endpoint: Endpoint) -> dict[str, Any]:
    return {"address": endpoint.address, "port": endpoint.port, "server_name": endpoint.server_name}


def observation_entry(obs: Observation, findings: Iterable[Finding]) -> dict[str, Any]:
    # Every DeviceIdentity field, in declaration order: a fact added to the model is reported too.
    identity = {f.name: getattr(obs.identity, f.name) for f in dataclasses.fields(obs.identity)}
    return {
        **_endpoint_head(obs.endpoint),
        "status": "observed",
        "observed_at": utc_iso(obs.observed_at),
        "tls": {"version": obs.tls_version, "cipher": obs.cipher},
        "chain": [certificate_entry(i, der) for i, der in enumerate(obs.chain_der)],
        "http": _http(obs.http),
        "legacy_versions": list(obs.legacy_versions) if obs.legacy_versions is not None else None,
        "identity": identity,
        "findings": [finding_entry(f) for f in findings],
    }


def failure_entry(failure: ProbeFailure) -> dict[str, Any]:
    return {
        **_endpoint_head(failure.endpoint),
        "status": "failed",
        "observed_at": utc_iso(failure.observed_at),
        "failure": {
            "stage": failure.stage.value,
            "kind": failure.kind.value,
            "detail": failure.detail,
        },
        "findings": [],
    }


def _entries(audit: AuditResult) -> list[tuple[tuple[int, int, int, str], int, Any]]:
    """Sort keys for every endpoint, with what builds its entry (built only when written)."""
    items: list[tuple[tuple[int, int, int, str], int, Any]] = []
    items += [(endpoint_order(obs.endpoint), 0, obs) for obs in audit.scan.observations]
    items += [(endpoint_order(failure.endpoint), 1, failure) for failure in audit.scan.failures]
    items.sort(key=lambda item: (item[0], item[1]))
    return items


def _iter_endpoint_entries(audit: AuditResult) -> Iterator[dict[str, Any]]:
    by_endpoint: dict[Endpoint, list[Finding]] = {}
    for finding in audit.findings:
        by_endpoint.setdefault(finding.endpoint, []).append(finding)
    for _, _, item in _entries(audit):
        if isinstance(item, Observation):
            yield observation_entry(item, by_endpoint.get(item.endpoint, []))
        else:
            yield failure_entry(item)


def _head(audit: AuditResult) -> dict[str, Any]:
    """Every top-level key but "endpoints", in document order."""
    scan = audit.scan
    params = scan.parameters
    kinds = Counter(f.kind.value for f in scan.failures)
    severities = Counter(f.severity.value for f in audit.findings)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "camscan", "version": __version__},
        "parameters": {
            "targets": list(params.targets),
            "ports": list(params.ports),
            "excluded": list(params.excluded),
            "concurrency": params.concurrency,
            "per_host": params.per_host,
            "rate": params.rate,
            "connect_timeout": params.connect_timeout,
            "handshake_timeout": params.handshake_timeout,
            "http_facts": params.http_facts,
            "http_timeout": params.http_timeout,
            "legacy_probe": params.legacy_probe,
            "ws_discovery": params.ws_discovery,
        },
        "started_at": utc_iso(scan.started_at),
        "finished_at": utc_iso(scan.finished_at),
        "as_of": utc_iso(audit.as_of),
        "summary": {
            "endpoints": len(scan.observations) + len(scan.failures),
            "observed": len(scan.observations),
            "failed": len(scan.failures),
            "failures_by_kind": {kind.value: kinds.get(kind.value, 0) for kind in FailureKind},
            "findings": len(audit.findings),
            "findings_by_severity": {s.value: severities.get(s.value, 0) for s in Severity},
        },
    }


def build_document(audit: AuditResult) -> dict[str, Any]:
    """The whole document as one dict (for tests and embedding); write_json streams instead."""
    return {**_head(audit), "endpoints": list(_iter_endpoint_entries(audit))}


def iter_json(audit: AuditResult) -> Iterator[str]:
    """The document as text chunks: top level indented, one endpoint per line.

    Streaming keeps a /16 sweep's report from existing three times in memory (dataclasses,
    dicts, one giant string); the text parses to exactly build_document(audit).
    """
    head = json.dumps(_head(audit), indent=2, ensure_ascii=False)
    yield head[:-2] + ',\n  "endpoints": ['
    first = True
    for entry in _iter_endpoint_entries(audit):
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        yield ("\n    " if first else ",\n    ") + line
        first = False
    yield ("\n  ]" if not first else "]") + "\n}\n"


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_json(audit: AuditResult, path: str) -> None:
    """`-` writes to stdout; a path is written atomically (never half a report)."""
    if path == "-":
        for chunk in iter_json(audit):
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    try:
        with AtomicFile(path) as report:
            for chunk in iter_json(audit):
                report.write_text(chunk)
    except OSError as exc:
        raise CamscanError(f"cannot write JSON report {path!r}: {exc.strerror or exc}") from exc
