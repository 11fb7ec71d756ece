"""Issue 5 end to end: two `camscan audit` runs over the camera lab (WS-Discovery on), a Dahua-like
and an ONVIF camera re-addressed in between (change_ip, no reboot). The identity the scan now
gathers names the devices, so the diff reports both moves by MAC, the history holds MACs, and
CS404 fires with the history's MAC as evidence; a camera that stayed put is no move."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio

from camscan.cli import main
from camscan.lab import DeviceSpec, Fleet, LabSettings
from camscan.reports.history import HistoryStore
from tests.support.lab_thread import lab_audit_config, lab_in_thread, random_block
from tests.support.tls_servers import unused_port

BLOCK = random_block(98)
_NET = BLOCK.rsplit(".", 1)[0]
FIRST, LAST = f"{_NET}.1", f"{_NET}.20"  # the lab hands out addresses from the start of its block


def report(tmp_path: Path) -> dict[str, dict[str, Any]]:
    document: dict[str, Any] = json.loads((tmp_path / "report.json").read_text())
    return {e["address"]: e for e in document["endpoints"]}


def test_moves_are_matched_by_mac_and_cs404_cites_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = unused_port(FIRST)
    fleet = Fleet(
        LabSettings(block=BLOCK, https_port=port, http_port=None, reboot_downtime=0.0, ws_discovery=True),
        (
            # Dahua's firmware CA makes the certificate for the address at boot (seed 001 Q1).
            DeviceSpec("dahua", "firmware-ca", name="gate"),
            DeviceSpec("onvif", "healthy", name="lobby"),
            DeviceSpec("hikvision", "healthy", name="yard"),
        ),
    )
    with lab_in_thread(fleet) as (lab, token):
        config = lab_audit_config(tmp_path, lab, port, FIRST, LAST)
        moved = {name: lab.device(name) for name in ("gate", "lobby")}
        macs = {name: device.identity.mac for name, device in moved.items()}
        old = {name: device.ip for name, device in moved.items()}

        assert main(["audit", "--config", str(config), "--quiet"]) == 0
        capsys.readouterr()
        first = report(tmp_path)
        for name, address in old.items():
            assert first[address]["identity"]["mac"] == macs[name]
        assert first[old["lobby"]]["identity"]["model"] == moved["lobby"].identity.model

        new = {}
        for name, device in moved.items():
            new[name] = trio.from_thread.run_sync(lab.allocate_address, trio_token=token)
            trio.from_thread.run(device.change_ip, new[name], trio_token=token)

        assert main(["audit", "--config", str(config), "--quiet"]) == 0
        text = capsys.readouterr().out
        second = report(tmp_path)

    # The history sits next to the config by default; it keeps both addresses under one MAC.
    with HistoryStore(tmp_path / "camscan-history.sqlite") as store:
        seen = {(f.endpoint.address, f.mac) for f in store.facts()}
    for name in moved:
        assert (old[name], macs[name]) in seen and (new[name], macs[name]) in seen

    for name in moved:
        assert f"{old[name]} -> {new[name]}  same mac {macs[name][:16]}" in text
        cs404 = [f for f in second[new[name]]["findings"] if f["rule_id"] == "CS404"]
        assert len(cs404) == 1, second[new[name]]["findings"]
        evidence = cs404[0]["evidence"]
        assert evidence["previous_address"] == old[name]
        by_mac = [e for e in evidence["evidence"] if e["basis"] == "history_mac"]
        assert by_mac and by_mac[0]["address"] == old[name]
        assert by_mac[0]["matched"].replace(":", "") == macs[name].replace(":", "")
    # The ONVIF camera's certificate is site-CA signed: only the history proves the move, and the
    # MAC is its strongest evidence.
    lobby_cs404 = next(f for f in second[new["lobby"]]["findings"] if f["rule_id"] == "CS404")
    assert lobby_cs404["evidence"]["evidence"][0]["basis"] == "history_mac"
    yard = lab.device("yard").ip
    assert "CS404" not in {f["rule_id"] for f in second[yard]["findings"]}

    assert main(["diff", "--config", str(config), "1", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(
        (m["old_address"], m["new_address"], m["matched_by"], m["value"]) for m in doc["moves"]
    ) == sorted((old[name], new[name], "mac", macs[name]) for name in moved)
    assert all(m["certificate_unchanged"] for m in doc["moves"])
