"""Read a JSON report (schema report-v1) back into the model: the inverse of json_report.

`load_report(path)` returns the AuditResult the report was written from (times to the second,
as the report keeps them) and what the report says about itself: camscan version, schema
version, rules fingerprint and shard. A file that is not a camscan report, is damaged, or was
written by a newer schema is refused with one line (CamscanError, exit code 2).
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camscan.errors import UsageError
from camscan.model import (
    SCHEMA_VERSION,
    AuditResult,
    DeviceIdentity,
    DiscoveryMethodStats,
    DiscoverySummary,
    Endpoint,
    FailureKind,
    Finding,
    HTTPFacts,
    MergeCoverage,
    Observation,
    ProbeFailure,
    ProbeStage,
    ScanParameters,
    ScanResult,
    Severity,
    SiteStatus,
)


@dataclass(frozen=True)
class LoadedReport:
    path: str
    audit: AuditResult
    tool_version: str
    schema_version: str
    rules_fingerprint: str | None  # None: written before 1.1 recorded it
    shard: str | None
    # Endpoint -> its own findings, in the report's order (an AuditResult keeps them flat).
    findings_by_endpoint: Mapping[Endpoint, tuple[Finding, ...]]


class _Bad(Exception):
    """Something in the document is not what the schema says; the message says what and where."""


def _version(text: object) -> tuple[int, int] | None:
    if not isinstance(text, str):
        return None
    major, dot, minor = text.partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


def load_report(path: str | Path) -> LoadedReport:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise UsageError(f"cannot read report {name!r}: {reason}") from exc
    return parse_report(name, text)


def parse_report(name: str, text: str) -> LoadedReport:
    """A report from its text (a site worker's result, camscan.sites); UsageError naming `name`."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{name}: not a JSON document ({exc})") from None
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("tool"), dict)
        or document["tool"].get("name") != "camscan"
        or "schema_version" not in document
    ):
        raise UsageError(f"{name}: not a camscan JSON report (no schema_version and tool camscan)")
    found, ours = _version(document["schema_version"]), _version(SCHEMA_VERSION)
    assert ours is not None
    if found is None:
        raise UsageError(f"{name}: schema_version {document['schema_version']!r} is not MAJOR.MINOR")
    if found[0] != ours[0] or found > ours:
        raise UsageError(
            f"{name}: schema_version {document['schema_version']} is newer than this camscan reads "
            f"({SCHEMA_VERSION}); use the camscan that wrote it, or a newer one"
            if found > ours
            else f"{name}: schema_version {document['schema_version']} is not one this camscan reads "
            f"({ours[0]}.x)"
        )
    try:
        return _loaded(name, document)
    except _Bad as exc:
        raise UsageError(f"{name}: malformed report: {exc}") from None


def _loaded(name: str, document: dict[str, Any]) -> LoadedReport:
    params = _field(document, "parameters", dict)
    observations: list[Observation] = []
    failures: list[ProbeFailure] = []
    findings: list[Finding] = []
    by_endpoint: dict[Endpoint, tuple[Finding, ...]] = {}
    sites_of: dict[Endpoint, str] = {}
    found_by: dict[str, str] = {}
    for index, entry in enumerate(_field(document, "endpoints", list)):
        try:
            if not isinstance(entry, dict):
                raise _Bad("not an object")
            how = _optional(entry, "found_by", str)
            if how is not None and how != "none":
                found_by[_field(entry, "address", str)] = how
            endpoint = Endpoint(
                _field(entry, "address", str),
                _field(entry, "port", int),
                _optional(entry, "server_name", str),
            )
            endpoint.ip  # noqa: B018 - raises ValueError for a non-address
            status = _field(entry, "status", str)
            site = _optional(entry, "site", str)
            if site is not None:
                sites_of[endpoint] = site
            if status == "observed":
                observations.append(_observation(endpoint, entry))
            elif status == "failed":
                failures.append(_failure(endpoint, entry))
            else:
                raise _Bad(f"status {status!r}")
            own = tuple(_finding(endpoint, f) for f in _field(entry, "findings", list))
        except (_Bad, ValueError, TypeError, KeyError) as exc:
            raise _Bad(f"endpoints[{index}]: {exc}") from None
        by_endpoint[endpoint] = by_endpoint.get(endpoint, ()) + own
        findings.extend(own)
    try:
        parameters = ScanParameters(
            targets=tuple(_strings(params, "targets")),
            ports=tuple(int(p) for p in _field(params, "ports", list)),
            excluded=tuple(_strings(params, "excluded")),
            concurrency=_field(params, "concurrency", int),
            per_host=_field(params, "per_host", int),
            rate=_optional(params, "rate", float),
            connect_timeout=float(_field(params, "connect_timeout", float)),
            handshake_timeout=float(_field(params, "handshake_timeout", float)),
            http_facts=_optional(params, "http_facts", bool),
            http_timeout=_optional(params, "http_timeout", float),
            legacy_probe=_optional(params, "legacy_probe", bool),
            ws_discovery=_optional(params, "ws_discovery", bool),
            shard=_optional(params, "shard", str),
            merge=_merge(params.get("merge")),
        )
        scan = ScanResult(
            parameters=parameters,
            started_at=_time(_field(document, "started_at", str)),
            finished_at=_time(_field(document, "finished_at", str)),
            observations=tuple(observations),
            failures=tuple(failures),
            discovery=_discovery(document.get("discovery"), found_by),
        )
        audit = AuditResult(
            scan, tuple(findings), _time(_field(document, "as_of", str)),
            judging=_optional(params, "judging_fingerprint", str),
            sites=tuple(_site(entry) for entry in _optional(document, "sites", list) or ()),
            endpoint_sites=sites_of,
        )
    except (ValueError, TypeError) as exc:
        raise _Bad(str(exc)) from None
    return LoadedReport(
        path=name,
        audit=audit,
        tool_version=str(document["tool"].get("version")),
        schema_version=str(document["schema_version"]),
        rules_fingerprint=_optional(params, "rules_fingerprint", str),
        shard=parameters.shard,
        findings_by_endpoint=by_endpoint,
    )


def _merge(value: Any) -> MergeCoverage | None:
    """parameters.merge (since 1.2): what a merged report covers."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad("'parameters.merge' is not an object")
    return MergeCoverage(
        reports=_field(value, "reports", int),
        shards=tuple(_strings(value, "shards")),
        missing_shards=tuple(_strings(value, "missing_shards")),
    )


def _site(entry: Any) -> SiteStatus:
    if not isinstance(entry, dict):
        raise _Bad("sites: an entry is not an object")
    return SiteStatus(
        name=_field(entry, "name", str),
        queue=_field(entry, "queue", str),
        state=_field(entry, "state", str),
        shards=_field(entry, "shards", int),
        shards_done=_field(entry, "shards_done", int),
        endpoints=_field(entry, "endpoints", int),
        detail=_field(entry, "detail", str),
        workers=tuple(_strings(entry, "workers")),
    )


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list",
               dict: "an object"}


def _discovery(section: Any, found_by: dict[str, str]) -> DiscoverySummary | None:
    """The report's discovery section (schema 1.2), with found_by read back from the endpoints.
    The ARP MACs are not in the section (they are in each endpoint's identity)."""
    if section is None:
        return None
    if not isinstance(section, dict):
        raise _Bad("'discovery' is not an object")
    methods = []
    for item in _field(section, "methods", list):
        if not isinstance(item, dict):
            raise _Bad("discovery.methods: not an object")
        methods.append(DiscoveryMethodStats(
            _field(item, "method", str), _field(item, "addresses", int), _field(item, "alive", int),
            _field(item, "packets", int), float(_field(item, "seconds", float)),
        ))
    return DiscoverySummary(
        requested=_field(section, "requested", str),
        privileged=_field(section, "privileged", bool),
        rate=float(_field(section, "rate", float)),
        retries=_field(section, "retries", int),
        methods=tuple(methods),
        found_by=found_by,
        unreachable=_field(section, "unreachable", int),
        notes=tuple(_strings(section, "notes")),
    )


def _check(value: Any, kind: type, key: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Bad(f"{key!r} is not {_TYPE_NAMES[kind]}")
    return value


def _field(table: Mapping[str, Any], key: str, kind: type) -> Any:
    if key not in table:
        raise _Bad(f"{key!r} is missing")
    return _check(table[key], kind, key)


def _optional(table: Mapping[str, Any], key: str, kind: type) -> Any:
    value = table.get(key)
    return None if value is None else _check(value, kind, key)


def _strings(table: Mapping[str, Any], key: str) -> list[str]:
    values = _field(table, key, list)
    return [_check(v, str, key) for v in values]


def _time(text: str) -> dt.datetime:
    if not text.endswith("Z"):
        raise ValueError(f"time {text!r} is not UTC ISO-8601 (…Z)")
    return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.UTC)


def _observation(endpoint: Endpoint, entry: Mapping[str, Any]) -> Observation:
    tls = _field(entry, "tls", dict)
    chain = _field(entry, "chain", list)
    if not chain:
        raise _Bad("'chain' is empty")
    ordered = sorted(chain, key=lambda c: _field(c, "position", int))
    http = _optional(entry, "http", dict)
    identity = _field(entry, "identity", dict)
    legacy = _optional(entry, "legacy_versions", list)
    return Observation(
        endpoint=endpoint,
        chain_der=tuple(ssl.PEM_cert_to_DER_cert(_field(c, "pem", str)) for c in ordered),
        tls_version=_field(tls, "version", str),
        cipher=_field(tls, "cipher", str),
        observed_at=_time(_field(entry, "observed_at", str)),
        http=None if http is None else HTTPFacts(
            status=_optional(http, "status", int),
            server=_optional(http, "server", str),
            date=_optional(http, "date", str),
            device_time=None if http.get("device_time") is None else _time(_field(http, "device_time", str)),
            www_authenticate=_optional(http, "www_authenticate", str),
        ),
        identity=DeviceIdentity(**{
            key: _optional(identity, key, str) for key in DeviceIdentity.__dataclass_fields__
        }),
        legacy_versions=None if legacy is None else tuple(_check(v, str, "legacy_versions") for v in legacy),
    )


def _failure(endpoint: Endpoint, entry: Mapping[str, Any]) -> ProbeFailure:
    failure = _field(entry, "failure", dict)
    return ProbeFailure(
        endpoint=endpoint,
        stage=ProbeStage(_field(failure, "stage", str)),
        kind=FailureKind(_field(failure, "kind", str)),
        detail=_field(failure, "detail", str),
        observed_at=_time(_field(entry, "observed_at", str)),
    )


def _finding(endpoint: Endpoint, entry: Any) -> Finding:
    if not isinstance(entry, dict):
        raise _Bad("a finding is not an object")
    return Finding(
        rule_id=_field(entry, "rule_id", str),
        severity=Severity(_field(entry, "severity", str)),
        endpoint=endpoint,
        title=_field(entry, "title", str),
        message=_field(entry, "message", str),
        evidence=_field(entry, "evidence", dict),
        remediation=_field(entry, "remediation", str),
    )
