"""JSON Lines: one object per endpoint, streamed as each probe completes, then one summary object.

Line shapes (every line has "type" and "schema_version"):

    {"type": "endpoint", "address": ..., "port": ..., "status": "observed" | "failed", ...,
     "findings": [...]}        (the endpoint's entry of the JSON document, report-v1 schema)
    {"type": "summary", "as_of": ..., "endpoints": N, "devices": N,
     "findings_by_severity": {...}, "late_findings": [...], "withdrawn_findings": [...]}

An endpoint's line carries the findings of the per-endpoint rules, judged the moment it
completes. Fleet rules (a key shared by several devices, a certificate that moved with a
device) can only judge the whole scan, and the trust prefetch (AIA) happens after the sweep:
what those add comes in the summary's "late_findings" (each with its endpoint), and a streamed
finding the final audit no longer holds is listed in "withdrawn_findings". So the streamed
findings plus late_findings minus withdrawn_findings are exactly the audit's findings.

A file target is written beside its final name and renamed over it only when the run ends,
so a crash or an interrupt leaves the previous file whole; "-" streams to stdout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from camscan.atomic import AtomicFile
from camscan.model import (
    SCHEMA_VERSION,
    AuditContext,
    AuditResult,
    Endpoint,
    Finding,
    Observation,
    ProbeResult,
)
from camscan.reports.common import (
    device_count,
    endpoint_record,
    endpoint_reports,
    iso,
    severity_counts,
    sort_findings,
)
from camscan.reports.json_report import failure_entry, finding_entry, observation_entry, site_entry
from camscan.termtext import json_safe

# Judges one observation with the per-endpoint rules (no fleet rules): returns its findings.
EndpointJudge = Callable[[Observation], Iterable[Finding]]


def _dumps(record: dict[str, Any]) -> str:
    # sort_keys: stable lines for diffing; ensure_ascii: a device's bidi/control characters
    # arrive as \u escapes, never raw on a terminal that tails the stream (json_safe: DEL too).
    return json_safe(json.dumps(record, sort_keys=True, ensure_ascii=True, separators=(",", ":")))


def endpoint_line(
    result: ProbeResult, findings: Iterable[Finding], site: str | None = None
) -> dict[str, Any]:
    """The endpoint's entry exactly as in the JSON document (report-v1 schema), plus its line type."""
    if isinstance(result, Observation):
        entry = observation_entry(result, sort_findings(findings), site)
    else:
        entry = failure_entry(result, site)
        entry["findings"] = [finding_entry(f) for f in sort_findings(findings)]
    return {"type": "endpoint", "schema_version": SCHEMA_VERSION, **entry}


def _finding_key(finding: Finding) -> tuple[Endpoint, str, str]:
    return (finding.endpoint, finding.rule_id, finding.message)


def summary_line(audit: AuditResult, streamed: Iterable[Finding]) -> dict[str, Any]:
    streamed_keys = {_finding_key(f) for f in streamed}
    final_keys = {_finding_key(f) for f in audit.findings}
    late = [f for f in sort_findings(audit.findings) if _finding_key(f) not in streamed_keys]
    withdrawn = [f for f in sort_findings(streamed) if _finding_key(f) not in final_keys]
    reports = endpoint_reports(audit)

    def with_endpoint(finding: Finding) -> dict[str, Any]:
        return {"endpoint": endpoint_record(finding.endpoint), **finding_entry(finding)}

    return {
        "type": "summary",
        "schema_version": SCHEMA_VERSION,
        "as_of": iso(audit.as_of),
        "started_at": iso(audit.scan.started_at),
        "finished_at": iso(audit.scan.finished_at),
        "endpoints": len(reports),
        "endpoints_ok": sum(1 for r in reports if r.observation is not None),
        "endpoints_failed": sum(1 for r in reports if r.observation is None),
        "devices": device_count(reports),
        "findings": len(audit.findings),
        "findings_by_severity": severity_counts(audit.findings),
        "late_findings": [with_endpoint(f) for f in late],
        "withdrawn_findings": [with_endpoint(f) for f in withdrawn],
        **({"sites": [site_entry(s) for s in audit.sites]} if audit.sites else {}),
    }


def render_jsonl(audit: AuditResult) -> str:
    """The whole stream at once, for an audit that was not streamed (the same lines, in order)."""
    lines: list[str] = []
    for report in endpoint_reports(audit):
        result = report.observation or report.failure
        if result is None:
            continue  # only fleet findings name it: they are in the summary
        lines.append(_dumps(endpoint_line(result, report.findings)))
    streamed = [
        f for r in endpoint_reports(audit) if (r.observation or r.failure) for f in r.findings
    ]
    lines.append(_dumps(summary_line(audit, streamed)))
    return "\n".join(lines) + "\n"


def per_endpoint_judge(ctx: AuditContext) -> EndpointJudge:
    """The registry's per-observation rules (fleet rules wait for the summary)."""
    from camscan.rules.registry import all_rules, evaluate

    rules = tuple(r for r in all_rules() if r.check is not None)

    def judge(observation: Observation) -> list[Finding]:
        return evaluate([observation], ctx, rules=rules)

    return judge


class JsonlStream:
    """The on_result callback of a scan: writes and flushes one line per completed endpoint.

    Call it with each Observation or ProbeFailure; call finish(audit) once at the end (it
    adds endpoints never streamed, then the summary, then renames the file into place), or
    abort() to drop the temporary file and keep the previous report.
    """

    def __init__(self, target: str, judge: EndpointJudge | None = None) -> None:
        self.target = target
        self._judge = judge
        self._streamed: dict[Endpoint, list[Finding]] = {}
        self._file: AtomicFile | None = None
        self._closed = False
        if target == "-":
            return
        try:
            self._file = AtomicFile(target)
        except OSError as exc:
            from camscan.errors import UsageError

            raise UsageError(f"--jsonl {target}: cannot write there ({exc.strerror})") from exc

    def __call__(self, result: ProbeResult) -> None:
        if self._closed or result.endpoint in self._streamed:
            return
        findings: list[Finding] = []
        if isinstance(result, Observation) and self._judge is not None:
            findings = list(self._judge(result))
        self._streamed[result.endpoint] = findings
        self._write(endpoint_line(result, findings))

    def _write(self, record: dict[str, Any]) -> None:
        line = _dumps(record) + "\n"
        if self._file is None:
            sys.stdout.write(line)
            sys.stdout.flush()
        else:
            # Flushed per line so a reader tailing the temporary file sees progress.
            self._file.write_text(line)
            self._file.handle.flush()

    @property
    def streamed_endpoints(self) -> frozenset[Endpoint]:
        return frozenset(self._streamed)

    def finish(self, audit: AuditResult, *, commit: bool = True) -> None:
        """Write the rest and the summary; with commit=False the file stays a temporary one
        (staged_file()) for the caller to commit with the run's other reports."""
        if self._closed:
            return
        for report in endpoint_reports(audit):
            result = report.observation or report.failure
            if result is None or report.endpoint in self._streamed:
                continue
            # Not streamed (the caller did not pass us as on_result): all its findings are
            # known by now, fleet ones included, so none of them is late.
            self._streamed[report.endpoint] = list(report.findings)
            self._write(endpoint_line(result, report.findings, audit.site_of(report.endpoint)))
        streamed = [f for items in self._streamed.values() for f in items]
        self._write(summary_line(audit, streamed))
        if commit or self._file is None:
            self._close(commit=True)

    def staged_file(self) -> AtomicFile:
        assert self._file is not None, "a stream to stdout has no file"
        return self._file

    def abort(self) -> None:
        self._close(commit=False)

    def _close(self, *, commit: bool) -> None:
        if self._closed:
            return
        self._closed = True
        if self._file is None:
            sys.stdout.flush()
        elif commit:
            self._file.commit()
        else:
            self._file.abort()
