"""Every renderer survives what a hostile or broken device can present."""

from __future__ import annotations

import dataclasses
import json

import pytest

from camscan.model import AuditResult, DeviceIdentity, HTTPFacts
from camscan.reports.csv_report import render_csv
from camscan.reports.html_report import render_html
from camscan.reports.jsonl_report import render_jsonl
from camscan.reports.junit_report import render_junit
from camscan.reports.prometheus_report import render_prometheus

RENDERERS = [render_html, render_jsonl, render_csv, render_junit, render_prometheus]


@pytest.mark.parametrize("render", RENDERERS, ids=lambda r: r.__name__)
def test_unparseable_certificate_and_hostile_device_facts(audit: AuditResult, render: object) -> None:
    obs = audit.scan.observations[0]
    broken = dataclasses.replace(
        obs,
        chain_der=(b"\x30\x03garbage", obs.chain_der[0]),
        http=HTTPFacts(status=200, server="\x1b[2J\u202eevil\x00", date="not a date", device_time=None),
        identity=DeviceIdentity(mac="<b>", vendor="\"'&<>", model="\ud7ff", firmware=""),
    )
    scan = dataclasses.replace(audit.scan, observations=(broken, *audit.scan.observations[1:]))
    output = render(dataclasses.replace(audit, scan=scan))  # type: ignore[operator]
    text = output.decode() if isinstance(output, bytes) else output
    assert "127.20.0.11" in text
    if render is render_html:
        assert "unparseable certificate" in text and "MAC &lt;b&gt;" in text
    if render is render_jsonl:
        line = json.loads(text.splitlines()[0])
        assert "parse_error" in line["chain"][0] and line["chain"][1]["subject"]


def test_empty_audit_renders_everywhere(audit: AuditResult) -> None:
    scan = dataclasses.replace(audit.scan, observations=(), failures=())
    empty = dataclasses.replace(audit, scan=scan, findings=())
    for render in RENDERERS:
        assert render(empty)
    assert "No findings." in render_html(empty)
