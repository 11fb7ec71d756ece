"""`camscan fix` as a dry run over the real lab: real handshakes on loopback, real rules, the
planner; the plan printed, the fix-v1 JSON validated against its schema, the HTML "How to fix"
section present and escaped, and no device changed."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import trio
from cryptography.hazmat.primitives import hashes

from camscan import pki
from camscan.cli import main
from camscan.lab import DeviceSpec, Fleet, LabSettings
from camscan.model import (
    AuditContext,
    AuditResult,
    DeviceIdentity,
    Endpoint,
    Observation,
    ScanParameters,
    ScanResult,
)
from camscan.remediate.ca import LocalCA
from camscan.remediate.plan import plan_fixes
from camscan.remediate.render import fix_document, plan_text
from camscan.reports.html_report import render_html
from camscan.rules.registry import evaluate
from tests.support.lab_thread import lab_in_thread, random_block
from tests.support.tls_servers import unused_port

BLOCK = random_block(98)
_NET = BLOCK.rsplit(".", 1)[0]
FIRST, LAST = f"{_NET}.1", f"{_NET}.30"

FLEET = (
    DeviceSpec("dahua", "firmware-ca", name="moved"),  # re-addressed without a reboot below
    DeviceSpec("dahua", "firmware-ca", name="builtin"),
    DeviceSpec("hikvision", "factory-default", name="factory1"),
    DeviceSpec("hikvision", "factory-default", name="factory2"),
    DeviceSpec("axis", "missing-intermediate", name="leafonly"),
    DeviceSpec("dahua", "not-yet-valid", name="ahead"),
    DeviceSpec("axis", "clock-skew", name="slow"),
    DeviceSpec("hikvision", "expired", name="expired"),
    DeviceSpec("onvif", "cn-only", name="cnonly"),
    DeviceSpec("onvif", "healthy", name="healthy"),
)
# name -> the strategies of its plan, in order.
EXPECTED: dict[str, list[str]] = {
    "moved": ["reboot", "trust-device-ca", "manual"],  # CS105/CS404 by reboot; CS109/CS403 stay
    "builtin": ["trust-device-ca", "manual"],
    "factory1": ["new-key"],
    "factory2": ["new-key"],
    "leafonly": ["intermediate"],
    "ahead": ["set-clock", "reboot", "trust-device-ca", "manual"],
    "slow": ["set-clock"],
    "expired": ["reissue"],
    "cnonly": ["reissue"],
}


def _schema() -> dict[str, Any]:
    text = resources.files("camscan.schemas").joinpath("fix-v1.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def test_dry_run_plans_each_lab_device_by_its_findings_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = unused_port(FIRST)
    ca = LocalCA.init(tmp_path / "site-ca")
    fleet = Fleet(LabSettings(block=BLOCK, https_port=port, http_port=None, reboot_downtime=0.0), FLEET)
    with lab_in_thread(fleet) as (lab, token):
        bundles = lab.write_bundles(tmp_path / "lab")
        moved = lab.device("moved")
        new_ip = trio.from_thread.run_sync(lab.allocate_address, trio_token=token)
        trio.from_thread.run(moved.change_ip, new_ip, trio_token=token)

        def served() -> dict[str, bytes]:
            return {d.name: trio.from_thread.run_sync(d.served, trio_token=token).leaf.fingerprint(
                hashes.SHA256()) for d in lab.devices}

        before = served()
        boots = {d.name: d.boot_count for d in lab.devices}
        names = {d.ip: d.name for d in lab.devices}
        capsys.readouterr()
        code = main([
            "fix", f"{FIRST}-{LAST}", "-p", str(port), "--ca", str(ca.directory),
            "--ca-bundle", str(bundles["site"]), "--trust", "site", "--offline", "--no-legacy-probe",
            "--json", str(tmp_path / "fix.json"), "--html", str(tmp_path / "fix.html"),
        ])
        assert served() == before  # a dry run touches no device
        assert {d.name: d.boot_count for d in lab.devices} == boots
    assert code == 0
    text = capsys.readouterr().out
    document = json.loads((tmp_path / "fix.json").read_text())
    jsonschema.validate(document, _schema())
    assert document["applied"] is False

    plans = {names[d["endpoint"]["address"]]: d for d in document["devices"]}
    assert set(plans) == set(EXPECTED), sorted(plans)
    for name, strategies in EXPECTED.items():
        plan = plans[name]
        assert [s["strategy"] for s in plan["steps"]] == strategies, (name, plan["findings"], plan["steps"])
        covered = {r for s in plan["steps"] for r in s["rule_ids"]}
        assert set(plan["findings"]) <= covered, name  # never silence
        assert plan["names"]["ips"] == [plan["endpoint"]["address"]]
        assert plan["outcome"] is None
        assert str(plan["endpoint"]["address"]) in text
    assert "CS404" in plans["moved"]["findings"] and plans["moved"]["endpoint"]["address"] == new_ip
    assert plans["moved"]["driver"] == "dahua" and plans["factory1"]["driver"] == "hikvision"
    assert "CS122" in plans["ahead"]["steps"][1]["rule_ids"]
    reissue = "\n".join(plans["expired"]["steps"][0]["commands"] + plans["expired"]["steps"][0]["openssl"])
    assert f"--ca {ca.directory}" in reissue and f"IP:{plans['expired']['endpoint']['address']}" in reissue
    assert "Dry run: nothing was sent to any device" in text

    html = (tmp_path / "fix.html").read_text()
    section = html[html.index('<section id="fixes">'):]
    assert section.count('<section class="device">') == len(EXPECTED)
    assert "<script" not in section.split("</main>")[0]


HOSTILE = '<img src=x onerror=alert(1)>\x1b]0;pwned\x07'


def test_hostile_device_text_is_escaped_in_html_sanitized_on_the_terminal_and_exact_in_json() -> None:
    now = pki.utcnow()
    leaf = pki.make_leaf(None, common_name=HOSTILE, ips=["127.0.0.40"])
    obs = Observation(Endpoint("127.0.0.40", 443), (leaf.cert_der,), "TLSv1.3", "x", now,
                      identity=DeviceIdentity(vendor=HOSTILE, model="m"))
    scan = ScanResult(ScanParameters(targets=("t",), ports=(443,)), now, now, (obs,), ())
    audit = AuditResult(scan, tuple(evaluate([obs], AuditContext(now=now))), now)
    plans = plan_fixes(audit)
    document = fix_document(plans, as_of=now, applied=False)
    jsonschema.validate(document, _schema())
    assert document["devices"][0]["vendor"] == HOSTILE
    html = render_html(audit, fix_plans=document["devices"])
    section = html[html.index('<section id="fixes">'):]
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in section
    text = plan_text(plans)
    assert "\x1b" not in text and "\\x1b]0;pwned\\x07" in text
