"""Prometheus text for node_exporter's textfile collector, built with prometheus_client.

Metrics (every gauge is rebuilt on each run, so a device that vanished vanishes here too):

    camscan_certificate_not_after_timestamp_seconds{address,port,server_name,depth,sha256,subject}
    camscan_certificate_not_before_timestamp_seconds{...same labels}
    camscan_endpoint_up{address,port,server_name}             1 = TLS observed, 0 = probe failed
    camscan_endpoint_findings{address,port,server_name,severity}
    camscan_findings{severity,rule}                           every registered rule, zeros included
    camscan_endpoints{status}                                 ok / failed
    camscan_devices
    camscan_last_run_timestamp_seconds                        when the scan finished
    camscan_last_run_duration_seconds
    camscan_info{version,schema_version}
    camscan_site_up{site,queue}                               audits across sites: 1 complete, 0 not
    camscan_site_endpoints{site}                              what each site returned

Label values from a device (the subject, a server name) go through camscan.termtext's policy
first (control, bidi and format characters as visible escapes: \\x1b, \\u202e); then
prometheus_client escapes backslash, quote and newline, so a hostile subject cannot forge a
series nor put a raw ESC, CR or BEL in the file. prometheus_client's own write_to_textfile
renames a temporary file into place (atomic), but does not fsync it; we render with
generate_latest and write with camscan.atomic (temporary file, fsync, rename), which survives
a power cut as well.
"""

from __future__ import annotations

from collections import Counter

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from camscan import __version__
from camscan.model import SCHEMA_VERSION, AuditResult
from camscan.reports.common import (
    SEVERITIES,
    certificate_records,
    device_count,
    endpoint_reports,
)
from camscan.termtext import sanitize, visible

_SUBJECT_MAX = 200  # keep label values bounded; the sha256 label identifies the certificate


def _timestamp(value: str) -> float:
    import datetime as dt

    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def _registered_rule_ids() -> list[str]:
    try:
        from camscan.rules.registry import all_rules

        return [r.id for r in all_rules()]
    except Exception:
        # A broken rule module must not cost the user the metrics of a finished audit.
        return []


def build_registry(audit: AuditResult) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    endpoint_labels = ("address", "port", "server_name")
    cert_labels = (*endpoint_labels, "depth", "sha256", "subject")
    not_after = Gauge(
        "camscan_certificate_not_after_timestamp_seconds",
        "End of validity (notAfter) of each presented certificate, Unix time",
        cert_labels,
        registry=registry,
    )
    not_before = Gauge(
        "camscan_certificate_not_before_timestamp_seconds",
        "Start of validity (notBefore) of each presented certificate, Unix time",
        cert_labels,
        registry=registry,
    )
    up = Gauge(
        "camscan_endpoint_up",
        "1 when the endpoint completed a TLS handshake, 0 when the probe failed",
        endpoint_labels,
        registry=registry,
    )
    endpoint_findings = Gauge(
        "camscan_endpoint_findings",
        "Findings per endpoint and severity",
        (*endpoint_labels, "severity"),
        registry=registry,
    )
    findings = Gauge(
        "camscan_findings", "Findings by severity and rule", ("severity", "rule"), registry=registry
    )
    endpoints = Gauge("camscan_endpoints", "Endpoints by probe status", ("status",), registry=registry)
    devices = Gauge("camscan_devices", "Devices that answered with TLS", registry=registry)
    last_run = Gauge(
        "camscan_last_run_timestamp_seconds", "When the last scan finished, Unix time", registry=registry
    )
    duration = Gauge(
        "camscan_last_run_duration_seconds", "How long the last scan took", registry=registry
    )
    info = Gauge(
        "camscan_info", "camscan version and report schema", ("version", "schema_version"),
        registry=registry,
    )

    reports = endpoint_reports(audit)
    for report in reports:
        endpoint = report.endpoint
        labels = (endpoint.address, str(endpoint.port), visible(endpoint.server_name or ""))
        if report.observation is None and report.failure is None:
            continue  # named only by a fleet finding: counted below, no probe to report
        up.labels(*labels).set(1 if report.observation is not None else 0)
        for severity in SEVERITIES:
            count = sum(1 for f in report.findings if f.severity is severity)
            endpoint_findings.labels(*labels, severity.value).set(count)
        if report.observation is None:
            continue
        for cert in certificate_records(report.observation):
            if "error" in cert:
                continue
            subject = sanitize(cert["subject"], max_len=_SUBJECT_MAX)
            cert_label = (*labels, str(cert["depth"]), cert["sha256"], subject)
            not_after.labels(*cert_label).set(_timestamp(cert["not_after"]))
            not_before.labels(*cert_label).set(_timestamp(cert["not_before"]))

    rule_ids = sorted(set(_registered_rule_ids()) | {f.rule_id for f in audit.findings})
    counts = Counter((f.severity.value, f.rule_id) for f in audit.findings)
    for severity in SEVERITIES:
        for rule_id in rule_ids:
            findings.labels(severity.value, rule_id).set(counts.get((severity.value, rule_id), 0))

    endpoints.labels("ok").set(sum(1 for r in reports if r.observation is not None))
    endpoints.labels("failed").set(
        sum(1 for r in reports if r.observation is None and r.failure is not None)
    )
    devices.set(device_count(reports))
    last_run.set(audit.scan.finished_at.timestamp())
    duration.set(max((audit.scan.finished_at - audit.scan.started_at).total_seconds(), 0.0))
    info.labels(__version__, SCHEMA_VERSION).set(1)
    if audit.sites:  # a central audit across sites: alert on a site that is down or partial
        site_up = Gauge("camscan_site_up", "1 when every shard of the site came back, else 0",
                        ("site", "queue"), registry=registry)
        site_endpoints = Gauge("camscan_site_endpoints", "Endpoints the site returned", ("site",),
                               registry=registry)
        for status in audit.sites:
            site_up.labels(visible(status.name), visible(status.queue)).set(1 if status.complete else 0)
            site_endpoints.labels(visible(status.name)).set(status.endpoints)
    return registry


def render_prometheus(audit: AuditResult) -> bytes:
    return generate_latest(build_registry(audit))
