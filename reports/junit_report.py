"""JUnit XML for CI pipelines: one test case per endpoint, one <failure> per finding.

Decisions (so a CI gate means something):
- error and warning findings are <failure> elements (type = rule id, message = the finding);
- notices do not fail the case: they are <property name="notice:CSnnn"> on the case and a
  line in its <system-out>, visible without turning the pipeline red;
- an endpoint whose probe failed (refused, timeout, not TLS...) is <skipped>: camscan could
  not judge it, which is not a certificate defect; gate on reachability separately.
Built with xml.etree, which escapes all text and attributes. Device text goes through
camscan.termtext's policy first (control, bidi and format characters as visible escapes:
\\x1b, \\u202e), which also removes every character XML 1.0 cannot carry; the two
non-characters U+FFFE and U+FFFF, which XML forbids too, become U+FFFD.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from camscan.model import AuditResult, Severity
from camscan.reports.common import endpoint_reports, iso, leaf_summary
from camscan.termtext import visible

# What XML 1.0 forbids and the text policy leaves alone (it escapes all the C0 controls).
_XML_NONCHARACTERS = re.compile("[\ufffe\uffff]")


def _clean(text: object) -> str:
    """Device (or user) text for an attribute or a line of a text node."""
    return _XML_NONCHARACTERS.sub("\ufffd", visible(text))


def _case_name(report_endpoint: object) -> str:
    return _clean(report_endpoint)


def render_junit(audit: AuditResult) -> str:
    reports = endpoint_reports(audit)
    duration = max((audit.scan.finished_at - audit.scan.started_at).total_seconds(), 0.0)
    failures = sum(
        1 for r in reports for f in r.findings if f.severity.at_least(Severity.WARNING)
    )
    skipped = sum(1 for r in reports if r.observation is None and r.failure is not None)

    root = ET.Element("testsuites", name="camscan")
    suite = ET.SubElement(
        root,
        "testsuite",
        name="camscan certificate audit",
        tests=str(len(reports)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{duration:.3f}",
        timestamp=iso(audit.scan.started_at) or "",
    )
    suite_props = ET.SubElement(suite, "properties")
    ET.SubElement(suite_props, "property", name="as_of", value=iso(audit.as_of) or "")
    ET.SubElement(
        suite_props, "property", name="targets", value=_clean(" ".join(audit.scan.parameters.targets))
    )

    for report in reports:
        endpoint = report.endpoint
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"camscan.{endpoint.address}",
            name=_case_name(endpoint),
            time="0",
        )
        notices = [f for f in report.findings if f.severity is Severity.NOTICE]
        leaf = leaf_summary(report.observation)
        site = audit.site_of(endpoint)  # a central audit across sites (camscan.sites)
        if report.observation is not None or notices or site is not None:
            props = ET.SubElement(case, "properties")
            if site is not None:
                ET.SubElement(props, "property", name="site", value=_clean(site))
            if report.observation is not None:
                for key in ("subject", "issuer", "not_after", "sha256"):
                    ET.SubElement(props, "property", name=f"leaf.{key}", value=_clean(leaf[key]))
            for finding in notices:
                ET.SubElement(
                    props,
                    "property",
                    name=f"notice:{finding.rule_id}",
                    value=_clean(finding.message),
                )
        if report.observation is None and report.failure is not None:
            failure = report.failure
            ET.SubElement(
                case,
                "skipped",
                message=_clean(f"probe failed at {failure.stage.value}: {failure.kind.value}"),
            ).text = _clean(failure.detail)
        for finding in report.findings:
            if finding.severity is Severity.NOTICE:
                continue
            element = ET.SubElement(
                case,
                "failure",
                type=finding.rule_id,
                message=_clean(f"[{finding.severity.value}] {finding.rule_id} {finding.message}"),
            )
            # Cleaned part by part: the newlines between them are ours, not the device's.
            evidence = json.dumps(dict(finding.evidence), sort_keys=True, indent=2)
            element.text = (
                f"{_clean(finding.title)}\n{_clean(finding.message)}\n\n"
                f"Remediation: {_clean(finding.remediation)}\n\n"
                "Evidence: " + "\n".join(_clean(line) for line in evidence.split("\n"))
            )
        if notices:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(
                _clean(f"notice {f.rule_id}: {f.title}: {f.message}") for f in notices
            )
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
