"""The HTML report: one self-contained file (inline CSS, JS and SVG) that works offline and prints.

Security model: every string in the page that came from a device (subjects, SANs, HTTP
headers, finding messages that quote them) goes through jinja2's autoescape, in text and in
attributes alike, and through camscan.termtext's policy first (the environment's finalize):
control, bidi and invisible format characters show as visible escapes (\\x1b, \\u202e), so a
right-to-left override cannot reorder what the reader sees. The page's own script never
evaluates data: it sorts and filters by reading textContent and data-* attributes, never
innerHTML. A Content-Security-Policy meta tag allows exactly our own inline style and script
(by SHA-256 hash, so the output stays deterministic), no other script, no network fetch: even
a payload that escaped the escaping could not run.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from camscan import __version__
from camscan.model import SCHEMA_VERSION, AuditResult, Severity
from camscan.reports.common import (
    SEVERITIES,
    EndpointReport,
    certificate_records,
    device_count,
    endpoint_reports,
    failure_record,
    iso,
    leaf_summary,
    rule_counts,
    severity_counts,
)
from camscan.termtext import visible

TIMELINE_DAYS = 90
TIMELINE_MAX_ROWS = 60  # more rows than this and the SVG says how many it left out

# SVG geometry (px): a label column, then the 0..90-day plot.
_SVG_WIDTH = 960
_PLOT_LEFT = 300
_PLOT_RIGHT = 930
_ROW_HEIGHT = 22
_AXIS_TOP = 34


def _read_asset(name: str) -> str:
    return resources.files("camscan.reports").joinpath("templates", name).read_text("utf-8")


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


class OwnAsset(Markup):
    """Our own CSS or script, hashed into the CSP: the one text printed as it is (its newlines
    and tabs are layout, not device text)."""

    __slots__ = ()


def show_visibly(value: Any) -> Any:
    """jinja2 finalize: every printed value through the text policy, before autoescape.

    Markup that is not ours (what |join builds from escaped items) is HTML already: the policy
    only inserts backslashes and hex digits, so it stays safe markup.
    """
    if isinstance(value, OwnAsset):
        return value
    if isinstance(value, Markup):
        return Markup(visible(str(value)))  # noqa: S704
    if isinstance(value, str):
        return visible(value)
    return value


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("camscan.reports", "templates"),
        # Autoescape every template whatever its name: the report is all HTML.
        autoescape=True,
        finalize=show_visibly,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class TimelineRow:
    label: str
    detail: str
    days_left: float
    y: float
    x_end: float
    css: str  # expired / soon / later
    note: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    plot_left: int
    plot_right: int
    axis_top: int
    ticks: list[tuple[float, str, str]]  # x, "+30 d", "2026-12-23"
    warn_x: float | None
    rows: list[TimelineRow]
    omitted: int
    total: int


def _days_between(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier).total_seconds() / 86400


def _x_for(days: float) -> float:
    clamped = min(max(days, 0.0), float(TIMELINE_DAYS))
    return round(_PLOT_LEFT + clamped / TIMELINE_DAYS * (_PLOT_RIGHT - _PLOT_LEFT), 1)


def build_timeline(
    reports: list[EndpointReport], as_of: dt.datetime, expiry_warn_days: int
) -> Timeline:
    """Every presented certificate that has expired or expires within 90 days, soonest first."""
    entries: list[tuple[float, str, str]] = []
    for report in reports:
        if report.observation is None:
            continue
        for cert in certificate_records(report.observation):
            if "error" in cert:
                continue
            not_after = dt.datetime.strptime(cert["not_after"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.UTC
            )
            days = _days_between(not_after, as_of)
            if days > TIMELINE_DAYS:
                continue
            role = "leaf" if cert["depth"] == 0 else f"chain #{cert['depth']}"
            name = ", ".join(cert["common_names"]) or cert["subject"] or "(empty subject)"
            label = f"{report.endpoint} {role}"
            detail = f"{name} — notAfter {cert['not_after']}"
            entries.append((days, label, detail))
    entries.sort(key=lambda e: (e[0], e[1]))
    shown = entries[:TIMELINE_MAX_ROWS]
    rows = []
    for index, (days, label, detail) in enumerate(shown):
        if days < 0:
            css, note = "expired", f"expired {int(-days) + (0 if -days == int(-days) else 1)} d ago"
        elif days <= expiry_warn_days:
            css, note = "soon", f"{int(days)} d left"
        else:
            css, note = "later", f"{int(days)} d left"
        rows.append(
            TimelineRow(
                label=label[:60],
                detail=detail,
                days_left=days,
                y=_AXIS_TOP + 14 + index * _ROW_HEIGHT,
                x_end=_x_for(days),
                css=css,
                note=note,
            )
        )
    ticks = [
        (_x_for(d), f"+{d} d" if d else "today", _tick_date(as_of, d))
        for d in range(0, TIMELINE_DAYS + 1, 15)
    ]
    warn_x = _x_for(expiry_warn_days) if 0 < expiry_warn_days < TIMELINE_DAYS else None
    height = _AXIS_TOP + 14 + max(len(rows), 1) * _ROW_HEIGHT + (24 if len(entries) > len(shown) else 8)
    return Timeline(
        width=_SVG_WIDTH,
        height=height,
        plot_left=_PLOT_LEFT,
        plot_right=_PLOT_RIGHT,
        axis_top=_AXIS_TOP,
        ticks=ticks,
        warn_x=warn_x,
        rows=rows,
        omitted=len(entries) - len(shown),
        total=len(entries),
    )


def _tick_date(as_of: dt.datetime, days: int) -> str:
    """The date `days` after the audit clock; --as-of 9999-12-31 has no date 90 days on."""
    try:
        return (as_of + dt.timedelta(days=days)).strftime("%Y-%m-%d")
    except OverflowError:
        return "after 9999-12-31"


def _days_left(not_after: str, as_of: dt.datetime) -> int | None:
    if not not_after:
        return None
    moment = dt.datetime.strptime(not_after, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return int(_days_between(moment, as_of) // 1)


def _endpoint_view(report: EndpointReport, as_of: dt.datetime) -> dict[str, Any]:
    obs = report.observation
    leaf = leaf_summary(obs)
    worst = report.worst
    return {
        "id": f"ep-{report.endpoint.address.replace(':', '-')}-{report.endpoint.port}",
        "label": str(report.endpoint),
        "address": report.endpoint.address,
        "port": report.endpoint.port,
        "sort_key": "{:02d}{:040d}{:05d}".format(*report.endpoint.sort_key[:3]),
        "status": report.status,
        "ok": obs is not None,
        "leaf": leaf,
        "days_left": _days_left(leaf["not_after"], as_of),
        "tls_version": obs.tls_version if obs else "",
        "cipher": obs.cipher if obs else "",
        "legacy": (
            ", ".join(obs.legacy_versions)
            if obs and obs.legacy_versions
            else ("none accepted" if obs and obs.legacy_versions is not None else "not probed")
        ),
        "http_server": (obs.http.server or "") if obs and obs.http else "",
        "http_date": (obs.http.date or "") if obs and obs.http else "",
        "chain": certificate_records(obs) if obs else [],
        "failure": failure_record(report.failure) if report.failure else None,
        "findings": [
            {
                "rule_id": f.rule_id,
                "severity": f.severity.value,
                "rank": f.severity.rank,
                "title": f.title,
                "message": f.message,
                "remediation": f.remediation,
                "evidence": json.dumps(dict(f.evidence), indent=2, sort_keys=True, ensure_ascii=False),
            }
            for f in report.findings
        ],
        "worst": worst.value if worst else "none",
        "worst_rank": worst.rank if worst else 0,
        "counts": severity_counts(report.findings),
    }


def _devices(views: list[dict[str, Any]], reports: list[EndpointReport]) -> list[dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for view, report in zip(views, reports, strict=True):
        device = grouped.setdefault(
            report.device_key,
            {"key": report.device_key, "addresses": [], "endpoints": [], "identity": None},
        )
        if report.endpoint.address not in device["addresses"]:
            device["addresses"].append(report.endpoint.address)
        device["endpoints"].append(view)
        if report.observation is not None and device["identity"] is None:
            identity = report.observation.identity
            facts = [
                ("Vendor", identity.vendor),
                ("Model", identity.model),
                ("Firmware", identity.firmware),
                ("MAC", identity.mac),
                ("Serial", identity.serial),
            ]
            device["identity"] = [(k, v) for k, v in facts if v]
    out = list(grouped.values())
    for device in out:
        device["worst_rank"] = max(e["worst_rank"] for e in device["endpoints"])
        device["findings"] = sum(len(e["findings"]) for e in device["endpoints"])
    return out


def render_html(audit: AuditResult, *, expiry_warn_days: int = 30, title: str | None = None,
                fix_plans: Sequence[Mapping[str, Any]] = ()) -> str:
    """`fix_plans`: the fix-v1 "devices" entries (camscan fix, or an audit with plan = true),
    shown as a "How to fix" section; plain data, so reports never import remediation."""
    reports = endpoint_reports(audit)
    as_of = audit.as_of if audit.as_of.tzinfo else audit.as_of.replace(tzinfo=dt.UTC)
    views = [_endpoint_view(r, as_of) for r in reports]
    for view, report in zip(views, reports, strict=True):
        site = audit.site_of(report.endpoint)
        if site is not None:  # a central audit across sites: the filter boxes match the site name
            view["label"] = f"{view['label']} [{site}]"
    css = _read_asset("report.css")
    js = _read_asset("report.js")
    csp = (
        "default-src 'none'; "
        f"style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    failed = [v for v in views if not v["ok"] and v["failure"]]
    context = {
        "title": title or "camscan certificate audit",
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
        "csp": csp,
        # Our own files, hashed into the CSP above; never device text.
        "css": OwnAsset(css),
        "js": OwnAsset(js),
        "as_of": iso(as_of),
        "started_at": iso(audit.scan.started_at),
        "finished_at": iso(audit.scan.finished_at),
        "duration": max((audit.scan.finished_at - audit.scan.started_at).total_seconds(), 0.0),
        "targets": " ".join(audit.scan.parameters.targets),
        "ports": ", ".join(str(p) for p in audit.scan.parameters.ports),
        "endpoints": views,
        "endpoint_count": len(views),
        "ok_count": sum(1 for v in views if v["ok"]),
        "failed": failed,
        "device_count": device_count(reports),
        "devices": _devices(views, reports),
        "severities": [s.value for s in SEVERITIES],
        "by_severity": severity_counts(audit.findings),
        "by_rule": rule_counts(audit.findings),
        "finding_count": len(audit.findings),
        # Worst first: the reader starts with what needs fixing now (headers re-sort).
        "findings": sorted(
            ((view, finding) for view in views for finding in view["findings"]),
            key=lambda pair: (-pair[1]["rank"], pair[0]["sort_key"], pair[1]["rule_id"]),
        ),
        "timeline": build_timeline(reports, as_of, expiry_warn_days),
        "expiry_warn_days": expiry_warn_days,
        "timeline_days": TIMELINE_DAYS,
        "error": Severity.ERROR.value,
        "fix_plans": list(fix_plans),
        "sites": [
            {
                "name": s.name, "state": s.state, "shards": s.shards, "shards_done": s.shards_done,
                "endpoints": s.endpoints, "detail": s.detail, "workers": s.workers,
                "findings": sum(1 for f in audit.findings if audit.site_of(f.endpoint) == s.name),
            }
            for s in audit.sites
        ],
    }
    return _environment().get_template("report.html.j2").render(context)
