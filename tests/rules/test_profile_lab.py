"""The profile/expiry/protocol/fleet rules against the lab's simulated cameras (engineer L's
in-process API): every scenario's expected findings appear, healthy devices get none, and a
camera re-addressed without a reboot gets CS404 until it reboots. Loopback only, bounded."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import trio

from camscan import pki
from camscan.lab.fleet import DeviceSpec, Fleet, LabSettings
from camscan.lab.runner import open_lab
from camscan.model import (
    AuditContext,
    AuditResult,
    Endpoint,
    Finding,
    HistoryFact,
    ScanParameters,
    ScanResult,
)
from camscan.pipeline import run_scan
from camscan.reports.history import HistoryStore
from camscan.rules.registry import evaluate
from camscan.scanner.sweep import SweepOptions

MINE = {f"CS{n}" for n in (101, 102, 103, 104, 109, 110, 111, 120, 121, 122, 301, 302, 401, 402, 403, 404)}


async def _scan(endpoints: list[Endpoint]) -> ScanResult:
    options = SweepOptions(connect_timeout=3, handshake_timeout=5, legacy_probe=True)
    return await run_scan(endpoints, options, ScanParameters(targets=("lab",), ports=()))


def _ctx(history: list[HistoryFact] | None = None) -> AuditContext:
    return AuditContext(now=pki.utcnow(), history=history or ())


def _by_endpoint(found: list[Finding]) -> dict[Endpoint, dict[str, Finding]]:
    grouped: dict[Endpoint, dict[str, Finding]] = defaultdict(dict)
    for finding in found:
        grouped[finding.endpoint][finding.rule_id] = finding
    return grouped


# The lab's legacy-tls camera sets TLSv1 as its minimum; the stdlib warns, pytest makes it an error.
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1 is deprecated:DeprecationWarning")
async def test_default_fleet_scenarios_get_their_findings() -> None:
    with trio.fail_after(60):
        async with open_lab(block="127.93.0.0/16", https_port=0, http_port=None) as lab:
            scan = await _scan(lab.endpoints())
            devices = {d.endpoint: d for d in lab.devices}
    assert scan.failures == () and len(scan.observations) == len(devices)
    found = _by_endpoint(evaluate(scan.observations, AuditContext(now=pki.utcnow())))
    for endpoint, device in devices.items():
        got = set(found[endpoint]) & MINE
        expected = set(device.scenario.rules) & MINE
        assert expected <= got, (device.name, device.scenario.name, sorted(got))
        if device.scenario.name == "healthy":
            assert got == set(), (device.name, sorted(got))
        assert "CS404" not in got  # nobody moved


async def test_readdressed_camera_is_stale_until_it_reboots(tmp_path: Path) -> None:
    fleet = Fleet(
        LabSettings(block="127.94.0.0/24", https_port=0, http_port=None, reboot_downtime=0.0),
        (
            DeviceSpec("dahua", "firmware-ca", name="dahua"),
            DeviceSpec("hikvision", "firmware-ca", name="hik"),
        ),
    )
    with trio.fail_after(60), HistoryStore(tmp_path / "history.sqlite") as store:
        async with open_lab(fleet) as lab:
            first = await _scan(lab.endpoints())
            store.record_run(AuditResult(first, tuple(evaluate(first.observations, _ctx())), pki.utcnow()))
            old = {d.name: d.ip for d in lab.devices}
            for device in lab.devices:
                await device.change_ip(lab.allocate_address())
            moved = await _scan(lab.endpoints())
            history: list[HistoryFact] = store.facts()
            stale = _by_endpoint(evaluate(moved.observations, _ctx(history)))
            for device in lab.devices:
                await device.reboot(0)
            rebooted = await _scan(lab.endpoints())
            fresh = _by_endpoint(evaluate(rebooted.observations, _ctx(history)))
            endpoints = {d.name: d.endpoint for d in lab.devices}

    dahua = stale[endpoints["dahua"]]["CS404"]
    assert dahua.evidence["previous_address"] == old["dahua"]
    bases = [b["basis"] for b in dahua.evidence["evidence"]]
    assert bases[0] == "built_in_ca" and "history_certificate" in bases
    # The Hikvision firmware CA is not in the vendor table: only the history proves the move
    # (by key and certificate; by MAC too when the scan learns the device's MAC).
    hik = stale[endpoints["hik"]]["CS404"]
    assert hik.evidence["previous_address"] == old["hik"]
    hik_bases = {b["basis"] for b in hik.evidence["evidence"]}
    assert {"history_key", "history_certificate"} <= hik_bases <= {
        "history_mac", "history_serial", "history_key", "history_certificate"}
    # Both also fail the plain name check, which is R1's rule; after the reboot, neither finding.
    assert all("CS404" not in fresh[e] for e in endpoints.values())
