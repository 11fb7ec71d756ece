"""The issue's end-to-end case over the camera lab: two scheduled audits with an IP change between
them (device.change_ip, no reboot). The diff shows the move; CS404 fires on the second run because
the history saw the certificate at the old address (the device's certificate is site-CA signed, so
nothing but the history proves the move); moved back, the finding is resolved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio

from camscan.cli import main
from camscan.lab import DeviceSpec, Fleet, LabSettings
from tests.support.lab_thread import lab_audit_config, lab_in_thread, random_block
from tests.support.tls_servers import unused_port

BLOCK = random_block(96)
_NET = BLOCK.rsplit(".", 1)[0]
FIRST, LAST = f"{_NET}.1", f"{_NET}.20"  # the lab hands out addresses from the start of its block


def _findings(tmp_path: Path) -> dict[str, set[str]]:
    report: dict[str, Any] = json.loads((tmp_path / "report.json").read_text())
    return {e["address"]: {f["rule_id"] for f in e.get("findings", [])} for e in report["endpoints"]}


def test_two_audits_over_the_lab_with_an_ip_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = unused_port(FIRST)
    fleet = Fleet(
        # No WS-Discovery: no MAC reaches the scan, so the move is matched by key (tests/scanner/
        # test_identity_audit.py covers the match by MAC).
        LabSettings(block=BLOCK, https_port=port, http_port=None, reboot_downtime=0.0, ws_discovery=False),
        (
            DeviceSpec("hikvision", "healthy", name="lobby"),
            DeviceSpec("axis", "healthy", name="gate"),
        ),
    )
    with lab_in_thread(fleet) as (lab, token):
        config = lab_audit_config(tmp_path, lab, port, FIRST, LAST)
        lobby = lab.device("lobby")
        old_ip = lobby.ip

        assert main(["audit", "--config", str(config), "--quiet"]) == 0
        first = capsys.readouterr().out
        assert first.startswith("changes from an empty history to run 1: 2 new endpoints")
        assert "CS404" not in str(_findings(tmp_path))

        new_ip = trio.from_thread.run_sync(lab.allocate_address, trio_token=token)
        trio.from_thread.run(lobby.change_ip, new_ip, trio_token=token)

        assert main(["audit", "--config", str(config), "--quiet"]) == 0
        second = capsys.readouterr().out
        assert f"{old_ip} -> {new_ip}  same key" in second
        assert "still presenting the certificate of its old address" in second
        assert "CS404" in _findings(tmp_path)[new_ip]
        assert not any("CS404" in rules for ip, rules in _findings(tmp_path).items() if ip != new_ip)

        # The installer puts it back on its old address: the certificate fits again, CS404 resolves.
        trio.from_thread.run(lobby.change_ip, old_ip, trio_token=token)
        assert main(["audit", "--config", str(config), "--quiet"]) == 0
        third = capsys.readouterr().out
        assert f"{new_ip} -> {old_ip}  same key" in third
        assert "CS404" not in _findings(tmp_path)[old_ip]

    assert main(["diff", "--config", str(config), "1", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(m["old_address"], m["new_address"], m["certificate_unchanged"]) for m in doc["moves"]] == [
        (old_ip, new_ip, True)
    ]
    assert "CS404" in {f["rule_id"] for f in doc["new_findings"]}
    assert "resolved findings:" in third and "CS404" in third.split("resolved findings:")[1]
