"""The HTML report, parsed as HTML: self-contained, escaped, CSP-locked, complete."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from html.parser import HTMLParser

from camscan.model import AuditResult, Endpoint
from camscan.reports.html_report import TIMELINE_MAX_ROWS, render_html
from tests.reports.sample import HOSTILE_CN, HOSTILE_OU


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.raw:
            self._in = tag
            self.raw[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.raw[self._in][-1] += data
        else:
            self.text.append(data)

    def elements(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def by_id(self, ident: str) -> dict[str, str | None]:
        return next(attrs for _, attrs in self.tags if attrs.get("id") == ident)


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_device_text_is_escaped_and_no_foreign_markup_exists(audit: AuditResult) -> None:
    html = render_html(audit)
    page = _page(html)
    assert len(page.raw["script"]) == 1 and len(page.elements("script")) == 1
    assert page.elements("script")[0] == {}  # inline, no src
    assert page.elements("img") == []  # the OU's <img onerror> stayed text
    assert not [t for t, a in page.tags if any(k.startswith("on") for k in a)]
    text = "".join(page.text)
    assert HOSTILE_CN in text  # shown to the reader, as text
    # The OU shows in the RFC 4514 subject (which backslash-escapes < and "), as text.
    assert HOSTILE_OU.replace("<", "\\<").replace('"', '\\"').replace(">", "\\>") in text
    assert "document.title" not in page.raw["script"][0]


def test_content_security_policy_allows_only_our_own_style_and_script(audit: AuditResult) -> None:
    page = _page(render_html(audit))
    csp = next(
        m["content"] for m in page.elements("meta") if m.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp is not None
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == _sha256(page.raw["script"][0])
    assert directives["style-src"] == _sha256(page.raw["style"][0])
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_self_contained_no_external_resource(audit: AuditResult) -> None:
    html = render_html(audit)
    page = _page(html)
    for _tag, attrs in page.tags:
        for key in ("src", "href", "xlink:href", "action"):
            value = attrs.get(key)
            assert value is None or value.startswith("#"), (key, value)
    assert not re.search(r"url\(|@import|https?://", page.raw["style"][0])
    assert "fetch(" not in page.raw["script"][0] and "XMLHttpRequest" not in page.raw["script"][0]
    assert "innerHTML" not in page.raw["script"][0].replace("no innerHTML", "")


def test_summary_counts(audit: AuditResult) -> None:
    html = render_html(audit)
    numbers = dict(re.findall(r'id="count-([a-z]+)">(\d+)<', html))
    assert numbers == {"devices": "6", "endpoints": "8", "error": "10", "warning": "4", "notice": "1"}
    page = _page(html)
    rules_rows = re.findall(r'<tr data-severity="(\w+)"><td><code>(CS\d+)</code>', html)
    assert ("error", "CS106") in rules_rows and ("notice", "CS121") not in rules_rows
    assert page.by_id("findings-table")
    findings_rows = re.findall(r'<tr data-severity="\w+" data-rule="(CS\d+)">', html)
    assert len(findings_rows) == len(audit.findings)


def test_expiry_timeline_shows_the_next_90_days(audit: AuditResult) -> None:
    html = render_html(audit, expiry_warn_days=30)
    svg = html[html.index("<svg"): html.index("</svg>")]
    rows = re.findall(r'<g class="tl-row (\w+)">\s*<title>([^<]*)</title>', svg)
    assert [(css, title.split(" ")[0]) for css, title in rows] == [
        ("expired", "vms.example.net"),
        ("soon", "127.20.0.11:443"),
        ("later", "127.20.0.16:443"),
        ("later", "127.20.0.14:443"),
    ]
    assert "expired 5 d ago" in svg and "12 d left" in svg and "64 d left" in svg
    assert "2027-02-21" in svg  # the +90 d tick
    assert "warn: 30 d" in svg
    assert "127.20.0.12" not in svg  # a 10-year certificate is off the chart


def test_timeline_empty_and_overflow(audit: AuditResult) -> None:
    hik = next(o for o in audit.scan.observations if o.endpoint.address == "127.20.0.12")
    quiet = dataclasses.replace(audit.scan, observations=(hik,), failures=())
    html = render_html(dataclasses.replace(audit, scan=quiet, findings=()))
    assert "<svg" not in html
    assert "No presented certificate has expired or expires in the next 90 days." in html
    assert "No findings: every presented chain passed every rule." in html

    vms = next(o for o in audit.scan.observations if o.endpoint.port == 7443)
    many = tuple(
        dataclasses.replace(vms, endpoint=Endpoint(f"127.21.0.{i}", 443)) for i in range(1, 81)
    )
    crowded = dataclasses.replace(audit.scan, observations=many, failures=())
    html = render_html(dataclasses.replace(audit, scan=crowded, findings=()))
    assert html.count('<g class="tl-row expired">') == TIMELINE_MAX_ROWS
    assert f"… and {80 - TIMELINE_MAX_ROWS} more" in html


def test_device_sections_carry_the_chain_and_remediation(audit: AuditResult) -> None:
    html = render_html(audit)
    good = next(o for o in audit.scan.observations if o.endpoint.address == "127.20.0.14")
    section = html[html.index('id="ep-127.20.0.14-443"'):]
    section = section[: section.index("</article>")]
    assert good.leaf_sha256 in section
    assert "CN=Example Site Issuing CA" in section  # the intermediate's row
    assert "Plan the renewal." in section
    assert "Axis" in html and "P3265-LVE" in html and "ac:cc:8e:01:23:45" in html
    failures = html[html.index('id="failures"'):]
    assert "127.20.0.17:443" in failures and "timeout" in failures
    assert "answered with &#39;HTTP/1.0 400 Bad Request&#39;" in failures


def test_rendering_is_deterministic(audit: AuditResult) -> None:
    shuffled = dataclasses.replace(audit, findings=tuple(reversed(audit.findings)))
    assert render_html(shuffled) == render_html(audit)
