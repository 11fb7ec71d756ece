"""Seed 001 cameras in the lab, scanned over real TLS on 127.x: a device that sends only the leaf its
firmware's built-in root made at boot gets an untrusted root (CS202, inferred), not a missing
intermediate; with the exported built-in CA passed as --ca-bundle its chain is trusted."""

from __future__ import annotations

import argparse
from pathlib import Path

import trio

from camscan.lab.fleet import DeviceSpec, Fleet, LabSettings
from camscan.lab.runner import open_lab
from camscan.model import AuditContext, AuditResult, Finding, ScanParameters, ScanResult
from camscan.pipeline import judge, run_scan
from camscan.rules.options import context_from_args
from camscan.rules.trust import ChainStatus, chain_verdict
from camscan.scanner.sweep import SweepOptions

FLEET = Fleet(
    LabSettings(block="127.97.0.0/24", https_port=0, http_port=None, reboot_downtime=0.0),
    (
        DeviceSpec("dahua", "firmware-ca", name="dahua-1"),
        DeviceSpec("dahua", "firmware-ca", name="dahua-2"),
        # One model, one built-in CA ("<model> Root CA", not in camscan's vendor table).
        DeviceSpec("hikvision", "firmware-ca", name="hik-1"),
        DeviceSpec("hikvision", "firmware-ca", name="hik-2"),
        DeviceSpec("hikvision", "firmware-ca", name="hik-3"),
        DeviceSpec("axis", "missing-intermediate", name="axis-mi"),
        DeviceSpec("axis", "healthy", name="axis-ok"),
    ),
)


async def _audit(scan: ScanResult, bundles: list[Path]) -> tuple[AuditResult, AuditContext]:
    args = argparse.Namespace(ca_bundle=[str(b) for b in bundles], trust="site", intermediates=[],
                              offline=True, as_of=None, expiry_warn=30)
    ctx = context_from_args(args)
    return await judge(scan, ctx), ctx


def _chain(audit: AuditResult) -> dict[str, dict[str, Finding]]:
    found: dict[str, dict[str, Finding]] = {}
    for f in audit.findings:
        if f.rule_id.startswith("CS2"):
            found.setdefault(str(f.endpoint), {})[f.rule_id] = f
    return found


async def test_firmware_ca_devices_get_an_inferred_untrusted_root_and_trust_with_the_exported_ca(
    tmp_path: Path,
) -> None:
    with trio.fail_after(60):
        async with open_lab(FLEET) as lab:
            bundles = lab.write_bundles(tmp_path)
            options = SweepOptions(connect_timeout=3, handshake_timeout=5, legacy_probe=False)
            scan = await run_scan(lab.endpoints(), options, ScanParameters(targets=("lab",), ports=()))
            endpoints = {d.name: str(d.endpoint) for d in lab.devices}
        assert scan.failures == () and len(scan.observations) == len(endpoints)
        site_only, _ = await _audit(scan, [bundles["site"]])
        exported, ctx = await _audit(scan, [bundles["site"], bundles["firmware"]])

    found = _chain(site_only)
    for name in ("dahua-1", "dahua-2"):
        assert set(found[endpoints[name]]) == {"CS202"}, found[endpoints[name]]
        f = found[endpoints[name]]["CS202"]
        root = f.evidence["untrusted_root"]
        assert root["inferred"] is True and root["inferred_as"] == "built_in_ca"
        assert root["inference"][0]["basis"] == "vendor_pattern"
        assert root["inference"][0]["pattern"] == "dahua-product-root-ca"
        assert "CN=Product Root CA" in root["subject"]
        assert "built-in CA" in f.message and "inference" in f.message
    for name in ("hik-1", "hik-2", "hik-3"):
        assert set(found[endpoints[name]]) == {"CS202"}, found[endpoints[name]]
        root = found[endpoints[name]]["CS202"].evidence["untrusted_root"]
        assert [b["basis"] for b in root["inference"]] == ["fleet", "root_name"]
        assert root["inference"][0]["devices"] == 3 and root["inferred_as"] == "built_in_ca"
    # The site's missing intermediate (which the healthy device sends) stays CS201.
    assert set(found[endpoints["axis-mi"]]) == {"CS201"}
    assert endpoints["axis-ok"] not in found

    # Seed 001, Solution 1: with the exported built-in CAs as --ca-bundle, the chains are trusted.
    trusted = _chain(exported)
    for name in ("dahua-1", "dahua-2", "hik-1", "hik-2", "hik-3"):
        assert endpoints[name] not in trusted, trusted.get(endpoints[name])
    for obs in scan.observations:
        if str(obs.endpoint) in {endpoints[n] for n in ("dahua-1", "hik-1")}:
            verdict = chain_verdict(obs, ctx)
            assert verdict.status is ChainStatus.TRUSTED
            assert verdict.anchor_source == f"--ca-bundle {bundles['firmware']}"
    assert set(trusted[endpoints["axis-mi"]]) == {"CS201"}
