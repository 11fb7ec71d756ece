"""SARIF 2.1.0 for security dashboards and code-scanning services (GitHub code scanning,
DefectDojo, SARIF viewers): one result per finding, the rule registry as tool.driver.rules.

Decisions:
- level: error -> "error", warning -> "warning", notice -> "note" (SARIF's three levels); each
  rule also carries properties.security-severity (the 0-10 score GitHub turns into
  critical/high/medium/low), from the rule's default severity.
- location: there is no source file, and GitHub code scanning refuses a result whose
  artifactLocation.uri has a scheme other than file: (an "https://127.0.0.1:8443" location is
  reported to fail the upload with "unrecognized SARIF location URI scheme") or that has no
  physicalLocation at all. So the physical location is a relative, scheme-less path naming the
  endpoint ("127.20.0.15/7443", plus "/server.name" for a name target): it is the same every run,
  which is what GitHub's alert tracking keys on. The real address is a logicalLocation (kind
  "resource", fullyQualifiedName "https://127.20.0.15:7443"), which SARIF viewers list, and is
  repeated in the result's properties.
- partialFingerprints: endpoint + rule (+ an occurrence number when a rule reports twice on one
  endpoint), not the message: "expires in 29 days" -> "28 days" stays one alert.
- Deterministic: rules by id, results by endpoint, severity, rule id and message.
- Device-controlled text (messages, evidence) goes through camscan.termtext.sanitize: dashboards
  render it, and it must not carry control characters or bidi overrides there either.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from camscan import __version__
from camscan.model import AuditResult, Endpoint, Finding, Rule, Severity
from camscan.reports.common import iso, sort_findings
from camscan.rules.registry import all_rules
from camscan.termtext import sanitize

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "camscanEndpointRule/v1"

LEVELS: dict[Severity, str] = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.NOTICE: "note",
}
# GitHub: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. camscan's error is a
# certificate clients refuse or an attacker can use (high), not a remote code execution.
SECURITY_SEVERITY: dict[Severity, str] = {
    Severity.ERROR: "8.0",
    Severity.WARNING: "5.0",
    Severity.NOTICE: "2.0",
}
_TAGS = ["security", "tls", "x509"]


def _identifier(title: str) -> str:
    """'Certificate expired' -> 'CertificateExpired': SARIF's reportingDescriptor.name."""
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title))


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    doc = inspect.cleandoc(rule.doc).strip()
    tail = f"Citation: {rule.citation}\n\nRemediation: {rule.remediation}"
    return {
        "id": rule.id,
        "name": _identifier(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        # The rule docs are written in Markdown already (## What it checks / Why / How to fix).
        "help": {"text": f"{doc}\n\n{tail}", "markdown": f"{doc}\n\n{tail}"},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": list(_TAGS),
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "citation": rule.citation,
        },
    }


def _unregistered_descriptor(finding: Finding) -> dict[str, Any]:
    """A finding whose id is not in the registry (CS000, a rule that crashed): described by itself."""
    return {
        "id": finding.rule_id,
        "name": _identifier(finding.title),
        "shortDescription": {"text": finding.title},
        "help": {"text": finding.remediation},
        "defaultConfiguration": {"level": LEVELS[finding.severity]},
        "properties": {
            "tags": list(_TAGS),
            "security-severity": SECURITY_SEVERITY[finding.severity],
        },
    }


def endpoint_url(endpoint: Endpoint) -> str:
    host = f"[{endpoint.address}]" if ":" in endpoint.address else endpoint.address
    return f"https://{host}:{endpoint.port}"


def endpoint_path(endpoint: Endpoint) -> str:
    """The relative artifact path of an endpoint: "127.20.0.15/7443[/server.name]".

    Every segment is percent-encoded, so an IPv6 address's colons cannot read as a scheme."""
    parts = [endpoint.address, str(endpoint.port)]
    if endpoint.server_name:
        parts.append(endpoint.server_name)
    return "/".join(quote(part, safe="") for part in parts)


def _location(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "physicalLocation": {"artifactLocation": {"uri": endpoint_path(endpoint)}},
        "logicalLocations": [
            {
                "name": sanitize(endpoint),
                "fullyQualifiedName": sanitize(endpoint_url(endpoint)),
                "kind": "resource",
            }
        ],
    }


def _clean(value: Any) -> Any:
    """Evidence with every string sanitized; numbers, booleans and None as they are."""
    if isinstance(value, str):
        return sanitize(value)
    if isinstance(value, Mapping):
        return {sanitize(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_clean(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, bool | int | float):
        return value
    return sanitize(value)


def _fingerprint(finding: Finding, occurrence: int) -> str:
    endpoint = finding.endpoint
    key = f"{endpoint.address}|{endpoint.port}|{endpoint.server_name or ''}|{finding.rule_id}"
    return f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}:{occurrence}"


def _result(finding: Finding, rule_index: int, occurrence: int, site: str | None = None) -> dict[str, Any]:
    endpoint = finding.endpoint
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": sanitize(f"{endpoint}: {finding.message}", max_len=2048)},
        "locations": [_location(endpoint)],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(finding, occurrence)},
        "properties": {
            "severity": finding.severity.value,
            "title": finding.title,
            "address": endpoint.address,
            "port": endpoint.port,
            "server_name": sanitize(endpoint.server_name) if endpoint.server_name else None,
            "remediation": finding.remediation,
            "evidence": _clean(dict(finding.evidence)),
        },
    }
    if site is not None:  # a central audit across sites (camscan.sites)
        result["properties"]["site"] = sanitize(site)
    return result


def build_sarif(audit: AuditResult) -> dict[str, Any]:
    findings = sort_findings(audit.findings)
    descriptors = {rule.id: rule_descriptor(rule) for rule in all_rules()}
    for finding in findings:
        if finding.rule_id not in descriptors:
            descriptors[finding.rule_id] = _unregistered_descriptor(finding)
    rule_ids = sorted(descriptors)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}

    results = []
    seen: dict[tuple[Endpoint, str], int] = {}
    for finding in findings:
        key = (finding.endpoint, finding.rule_id)
        seen[key] = seen.get(key, 0) + 1
        results.append(_result(finding, index[finding.rule_id], seen[key], audit.site_of(finding.endpoint)))

    scan = audit.scan
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "camscan",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [descriptors[rule_id] for rule_id in rule_ids],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "startTimeUtc": iso(scan.started_at),
                        "endTimeUtc": iso(scan.finished_at),
                    }
                ],
                "results": results,
                "properties": {
                    "as_of": iso(audit.as_of),
                    "targets": [sanitize(t) for t in scan.parameters.targets],
                    "ports": list(scan.parameters.ports),
                    "endpoints_observed": len(scan.observations),
                    "endpoints_failed": len(scan.failures),
                },
            }
        ],
    }


def render_sarif(audit: AuditResult) -> str:
    return json.dumps(build_sarif(audit), indent=2, ensure_ascii=False) + "\n"
