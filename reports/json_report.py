"""The versioned JSON document (schema: camscan/schemas/report-v1.schema.json).

Deterministic: endpoints sorted by address then port, keys in a fixed order, UTC ISO-8601
times. Every device string is data here, kept exactly; consumers escape it where they render
it. The text itself holds no raw control, bidi or format character: camscan.termtext.json_safe
writes those as \\uXXXX escapes, which every parser reads back as the same string.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
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
    DiscoverySummary,
    Endpoint,
    FailureKind,
    Finding,
    HTTPFacts,
    Observation,
    ProbeFailure,
    Severity,
    SiteStatus,
)
from camscan.rules.registry import rules_fingerprint
from camscan.termtext import json_safe

SCHEMA_RESOURCE = "schemas/report-v1.schema.json"


# One encoder for every endpoint line (json.dumps with options builds a new one per call), and
# the function it writes a str with (ensure_ascii=False), for the lines written by hand below.
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_json_str = json.encoder.encode_basestring


def utc_iso(moment: dt.datetime) -> str:
    # isoformat, not strftime: faster (65,534 failures in a /16), and strftime's %Y does not
    # pad years before 1000 ("1-01-01"), which no ISO-8601 reader, camscan merge included, takes.
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")[:19] + "Z"


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


def _endpoint_head(endpoint: Endpoint, site: str | None = None) -> dict[str, Any]:
    head: dict[str, Any] = {
        "address": endpoint.address, "port": endpoint.port, "server_name": endpoint.server_name
    }
    if site is not None:  # 1.2: a central audit across sites (camscan.sites)
        head["site"] = site
    return head


def observation_entry(
    obs: Observation, findings: Iterable[Finding], site: str | None = None
) -> dict[str, Any]:
    # Every DeviceIdentity field, in declaration order: a fact added to the model is reported too.
    identity = {f.name: getattr(obs.identity, f.name) for f in dataclasses.fields(obs.identity)}
    return {
        **_endpoint_head(obs.endpoint, site),
        "status": "observed",
        "observed_at": utc_iso(obs.observed_at),
        "tls": {"version": obs.tls_version, "cipher": obs.cipher},
        "chain": [certificate_entry(i, der) for i, der in enumerate(obs.chain_der)],
        "http": _http(obs.http),
        "legacy_versions": list(obs.legacy_versions) if obs.legacy_versions is not None else None,
        "identity": identity,
        "findings": [finding_entry(f) for f in findings],
    }


def failure_entry(failure: ProbeFailure, site: str | None = None) -> dict[str, Any]:
    return {
        **_endpoint_head(failure.endpoint, site),
        "status": "failed",
        "observed_at": utc_iso(failure.observed_at),
        "failure": {
            "stage": failure.stage.value,
            "kind": failure.kind.value,
            "detail": failure.detail,
        },
        "findings": [],
    }


class _FailureLines:
    """failure_entry(f) as _LINE_ENCODER writes it, without the dict: a /16 has 65,534 of them.

    The part after the endpoint is the same for every failure with the same second, stage,
    kind and detail (all the refusals of a sweep, mostly), so it is kept for reuse.
    """

    def __init__(self) -> None:
        self._tails: dict[tuple[dt.datetime, str, str, str], str] = {}

    def line(self, failure: ProbeFailure) -> str:
        endpoint = failure.endpoint
        utc = failure.observed_at.astimezone(dt.UTC)
        key = (utc.replace(microsecond=0), failure.stage.value, failure.kind.value, failure.detail)
        tail = self._tails.get(key)
        if tail is None:
            if len(self._tails) >= 256:  # a long sweep: seconds go by, keep the memory flat
                self._tails.clear()
            tail = self._tails[key] = (
                f',"status":"failed","observed_at":"{utc_iso(utc)}","failure":{{"stage":'
                f'{_json_str(key[1])},"kind":{_json_str(key[2])},"detail":{_json_str(key[3])}}},'
                '"findings":[]}'
            )
        name = endpoint.server_name
        return (
            f'{{"address":{_json_str(endpoint.address)},"port":{endpoint.port:d},'
            f'"server_name":{"null" if name is None else _json_str(name)}{tail}'
        )


def _endpoint_key(item: Observation | ProbeFailure) -> tuple[int, int, int, str]:
    return endpoint_order(item.endpoint)


def _in_order(items: Iterable[Observation | ProbeFailure]) -> bool:
    keys = map(_endpoint_key, items)
    previous = next(keys, None)
    for key in keys:
        if previous is not None and key < previous:
            return False
        previous = key
    return True


def _ordered(audit: AuditResult) -> Iterable[Observation | ProbeFailure]:
    """Every endpoint by address, port and name; an endpoint's observation before its failure."""
    scan = audit.scan
    if _in_order(scan.observations) and _in_order(scan.failures):
        # run_scan sorted both already: merging them lazily (a stable merge, observations
        # first on a tie, as the sort below) spares a /16 another 65,534 keys held at once.
        return heapq.merge(scan.observations, scan.failures, key=_endpoint_key)
    items: list[tuple[tuple[int, int, int, str], int, Observation | ProbeFailure]] = []
    items += [(endpoint_order(obs.endpoint), 0, obs) for obs in scan.observations]
    items += [(endpoint_order(failure.endpoint), 1, failure) for failure in scan.failures]
    items.sort(key=lambda item: (item[0], item[1]))
    return [item for _, _, item in items]


def _findings_by_endpoint(audit: AuditResult) -> dict[Endpoint, list[Finding]]:
    by_endpoint: dict[Endpoint, list[Finding]] = {}
    for finding in audit.findings:
        by_endpoint.setdefault(finding.endpoint, []).append(finding)
    return by_endpoint


def _iter_endpoint_entries(audit: AuditResult) -> Iterator[dict[str, Any]]:
    by_endpoint = _findings_by_endpoint(audit)
    site = audit.endpoint_sites.get
    found_by = audit.scan.discovery.found_by if audit.scan.discovery is not None else None
    for item in _ordered(audit):
        if isinstance(item, Observation):
            entry = observation_entry(item, by_endpoint.get(item.endpoint, []), site(item.endpoint))
        else:
            entry = failure_entry(item, site(item.endpoint))
        if found_by is not None:
            # How discovery found the host ("none": swept without discovery, e.g. loopback).
            entry["found_by"] = found_by.get(item.endpoint.address, "none")
        yield entry


def _iter_endpoint_lines(audit: AuditResult) -> Iterator[str]:
    """_iter_endpoint_entries, each as one line of compact JSON."""
    by_endpoint = _findings_by_endpoint(audit)
    failures = _FailureLines()
    site = audit.endpoint_sites.get
    found_by = audit.scan.discovery.found_by if audit.scan.discovery is not None else None
    for item in _ordered(audit):
        if isinstance(item, Observation):
            entry = observation_entry(item, by_endpoint.get(item.endpoint, []), site(item.endpoint))
            if found_by is not None:
                entry["found_by"] = found_by.get(item.endpoint.address, "none")
            yield _LINE_ENCODER.encode(entry)
        elif audit.endpoint_sites:
            entry = failure_entry(item, site(item.endpoint))
            if found_by is not None:
                entry["found_by"] = found_by.get(item.endpoint.address, "none")
            yield _LINE_ENCODER.encode(entry)
        elif found_by is not None:
            method = found_by.get(item.endpoint.address, "none")
            yield f"{failures.line(item)[:-1]},\"found_by\":{_json_str(method)}}}"
        else:
            yield failures.line(item)


def discovery_section(summary: DiscoverySummary) -> dict[str, Any]:
    """The run's host-discovery stage: what was asked, what each method probed and found."""
    return {
        "requested": summary.requested,
        "privileged": summary.privileged,
        "rate": summary.rate,
        "retries": summary.retries,
        "addresses": sum(m.addresses for m in summary.methods) + summary.unreachable,
        "answered": sum(m.alive for m in summary.methods),
        "unreachable": summary.unreachable,
        "methods": [
            {"method": m.method, "addresses": m.addresses, "alive": m.alive, "packets": m.packets,
             "seconds": m.seconds}
            for m in summary.methods
        ],
        "notes": list(summary.notes),
    }


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
            "shard": params.shard,
            "merge": None if params.merge is None else {
                "reports": params.merge.reports,
                "shards": list(params.merge.shards),
                "missing_shards": list(params.merge.missing_shards),
            },
            "rules_fingerprint": rules_fingerprint(),
            "judging_fingerprint": audit.judging,
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
        **({"sites": [site_entry(status) for status in audit.sites]} if audit.sites else {}),
        **({"discovery": discovery_section(scan.discovery)} if scan.discovery is not None else {}),
    }


def site_entry(status: SiteStatus) -> dict[str, Any]:
    return {
        "name": status.name,
        "queue": status.queue,
        "state": status.state,
        "shards": status.shards,
        "shards_done": status.shards_done,
        "endpoints": status.endpoints,
        "detail": status.detail,
        "workers": list(status.workers),
    }


def build_document(audit: AuditResult) -> dict[str, Any]:
    """The whole document as one dict (for tests and embedding); write_json streams instead."""
    return {**_head(audit), "endpoints": list(_iter_endpoint_entries(audit))}


def iter_json(audit: AuditResult) -> Iterator[str]:
    """The document as text chunks: top level indented, one endpoint per line.

    Streaming keeps a /16 sweep's report from existing three times in memory (dataclasses,
    dicts, one giant string); the text parses to exactly build_document(audit).
    """
    head = json_safe(json.dumps(_head(audit), indent=2, ensure_ascii=False))
    yield head[:-2] + ',\n  "endpoints": ['
    first = True
    for line in _iter_endpoint_lines(audit):
        yield ("\n    " if first else ",\n    ") + json_safe(line)
        first = False
    yield ("\n  ]" if not first else "]") + "\n}\n"


def dumps(document: dict[str, Any]) -> str:
    return json_safe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


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
