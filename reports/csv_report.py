"""CSV: one row per finding, for spreadsheets and ticket imports.

Device text is hostile in a spreadsheet too: a certificate CN of `=HYPERLINK(...)` would become
a live formula. Every text cell that starts with = + - @ (or a tab or carriage return, which
some spreadsheets strip before looking) gets a leading apostrophe, as OWASP recommends for
CSV injection; numbers (the port) are written as numbers. The csv module does the quoting.
Before that every text cell goes through camscan.termtext's policy: a CR or LF from a device
cannot split a row, and control or bidi characters show as visible escapes (\\x0d, \\u202e).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from camscan.model import AuditResult
from camscan.reports.common import endpoint_reports, iso, leaf_summary
from camscan.termtext import visible

COLUMNS: tuple[str, ...] = (
    "address",
    "port",
    "server_name",
    "severity",
    "rule_id",
    "title",
    "message",
    "subject",
    "issuer",
    "not_after",
    "leaf_sha256",
    "remediation",
    "evidence",
    "as_of",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: object) -> object:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def cell(value: object) -> object:
    """A cell as written: text through the policy, then neutralized; numbers untouched."""
    return neutralize(visible(value)) if isinstance(value, str) else value


def rows(audit: AuditResult) -> list[list[object]]:
    as_of = iso(audit.as_of)
    out: list[list[object]] = []
    for report in endpoint_reports(audit):
        leaf = leaf_summary(report.observation)
        for finding in report.findings:
            row: Sequence[object] = (
                report.endpoint.address,
                report.endpoint.port,
                report.endpoint.server_name or "",
                finding.severity.value,
                finding.rule_id,
                finding.title,
                finding.message,
                leaf["subject"],
                leaf["issuer"],
                leaf["not_after"],
                leaf["sha256"],
                finding.remediation,
                json.dumps(dict(finding.evidence), sort_keys=True, ensure_ascii=False),
                as_of,
            )
            if audit.sites:  # a central audit across sites: one more column, last
                row = (*row, audit.site_of(report.endpoint) or "")
            out.append([cell(value) for value in row])
    return out


def render_csv(audit: AuditResult) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow((*COLUMNS, "site") if audit.sites else COLUMNS)
    writer.writerows(rows(audit))
    return buffer.getvalue()
