"""The HTML report in a real headless Chromium: it renders, our script runs, device script doesn't."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from camscan.reports.html_report import render_html

from camscan.model import AuditResult
from tests.reports.browser import dump_dom, find_chromium, print_pdf, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="headless Chromium not installed (Debian: apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory, audit: AuditResult) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(audit), encoding="utf-8")
    return path


def test_renders_and_hostile_certificate_text_does_not_run(report_file: Path) -> None:
    dom = dump_dom(report_file)
    # Our own script ran (allowed by its CSP hash) and marked the document...
    assert re.search(r'<html lang="en" data-report-script="ready">', dom)
    # ...and the certificate's script and the OU's onerror handler did not.
    assert "<title>camscan certificate audit — 2026-11-23T12:00:00Z</title>" in dom
    assert "pwned</title>" not in dom.split("<svg", 1)[0]
    assert "data-pwned" not in dom
    assert "<img" not in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    # The page rendered its rows: every finding, every endpoint.
    assert len(re.findall(r'<tr data-severity="\w+" data-rule="CS\d+"', dom)) == 15
    assert 'data-count-for="findings-table">(15 of 15)</span>' in dom
    assert 'data-count-for="endpoints-table">(8 of 8)</span>' in dom


def test_filters_from_the_url_fragment(report_file: Path) -> None:
    dom = dump_dom(report_file, "#q=127.20.0.12&severity=error")
    assert 'data-count-for="findings-table">(3 of 15)</span>' in dom
    visible = re.findall(r'<tr data-severity="(\w+)" data-rule="(CS\d+)">', dom)
    hidden = re.findall(r'<tr data-severity="\w+" data-rule="(CS\d+)" hidden="">', dom)
    assert sorted(rule for _, rule in visible) == ["CS106", "CS402", "CS403"]
    assert len(hidden) == 12


def test_screenshot_and_print(report_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    screenshot(report_file, png, width=1280, height=1200)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1200)
    assert len(data) > 50_000  # a blank page compresses to a few KiB
    pdf = tmp_path / "report.pdf"
    print_pdf(report_file, pdf)
    content = pdf.read_bytes()
    assert content[:5] == b"%PDF-"
    # The whole report prints (every section on its pages), not just the first screen.
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", content))
    assert pages >= 4, pages
