"""The HTML report in a real headless Chromium: it renders, our script runs, device script doesn't."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from camscan.model import AuditResult
from camscan.reports.html_report import render_html
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


# A harness script the test adds to a copy of the page (its hash joins the page's CSP): it
# clicks headers and types in a filter box the way a user would, and records what happened.
_HARNESS = """
(function () {
  var table = document.getElementById("endpoints-table");
  var heads = table.tHead.rows[0].cells;
  function order() {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return r.cells[0].textContent.trim();
    }).join("|");
  }
  heads[5].click();
  document.body.setAttribute("data-days-asc", order());
  heads[5].click();
  document.body.setAttribute("data-days-desc", order());
  heads[0].click();
  document.body.setAttribute("data-endpoint-asc", order());
  var box = document.querySelector('[data-filter-for="findings-table"]');
  box.value = "CS106";
  box.dispatchEvent(new Event("input"));
  document.body.setAttribute("data-filtered",
    document.querySelector('[data-count-for="findings-table"]').textContent);
}());
"""


def test_sorting_and_filtering_by_user_actions(audit: AuditResult, tmp_path: Path) -> None:
    import base64
    import hashlib
    import html as html_lib

    page = render_html(audit).replace("</body>", f"<script>{_HARNESS}</script>\n</body>")
    path = tmp_path / "harness.html"
    # Without its hash in the policy, the added script is refused: the CSP is enforced.
    path.write_text(page, encoding="utf-8")
    blocked = dump_dom(path)
    assert 'data-report-script="ready"' in blocked and 'data-days-asc="' not in blocked

    digest = base64.b64encode(hashlib.sha256(_HARNESS.encode()).digest()).decode()
    allowed = page.replace("script-src &#39;sha256-", f"script-src &#39;sha256-{digest}&#39; &#39;sha256-", 1)
    assert allowed != page
    path.write_text(allowed, encoding="utf-8")
    dom = dump_dom(path)

    def attr(name: str) -> list[str]:
        match = re.search(rf'{name}="([^"]*)"', dom)
        assert match, name
        return html_lib.unescape(match.group(1)).split("|")

    # Days left, ascending: expired first, endpoints without a certificate last.
    assert attr("data-days-asc")[:4] == [
        "vms.example.net (127.20.0.15:7443)", "127.20.0.11:443", "127.20.0.16:443", "127.20.0.14:443",
    ]
    assert attr("data-days-asc")[-2:] == ["127.20.0.17:443", "127.20.0.18:443"]
    # Descending: the stable sort keeps the two certificate-less endpoints in their order.
    assert attr("data-days-desc")[:4] == [
        "127.20.0.17:443", "127.20.0.18:443", "127.20.0.12:443", "127.20.0.13:443",
    ]
    assert attr("data-endpoint-asc") == [
        "127.20.0.11:443", "127.20.0.12:443", "127.20.0.13:443", "127.20.0.14:443",
        "vms.example.net (127.20.0.15:7443)", "127.20.0.16:443", "127.20.0.17:443", "127.20.0.18:443",
    ]
    assert attr("data-filtered") == ["(2 of 15)"]
