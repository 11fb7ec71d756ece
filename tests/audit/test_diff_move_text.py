"""The diff text names a device that moved by its whole MAC address.

Found in the README acceptance run: after a lab camera was re-addressed, `camscan audit` printed
`127.77.0.2 -> 127.77.0.48  same mac bc:ad:28:00:31:2`: the MAC was cut to 16 characters like
the key and certificate fingerprints, so its last digit was lost (a serial likewise)."""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from camscan.lab import DeviceSpec, Fleet, LabSettings, open_lab
from tests.support.tls_servers import unused_port

BLOCK = "127.49.0.0/24"
FIRST, LAST = "127.49.0.1", "127.49.0.10"  # the lab hands out addresses from the start of its block


async def _audit(config: Path) -> str:
    done = await trio.run_process(
        [sys.executable, "-m", "camscan", "audit", "--config", str(config), "--quiet"],
        capture_stdout=True, capture_stderr=True, check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


async def test_a_move_matched_by_mac_shows_the_whole_mac(tmp_path: Path) -> None:
    port = unused_port(FIRST)
    fleet = Fleet(
        # WS-Discovery on: it gives the scan the device's MAC, the strongest evidence of a move.
        LabSettings(block=BLOCK, https_port=port, http_port=None, reboot_downtime=0.0, ws_discovery=True),
        (DeviceSpec("onvif", "healthy", name="lobby"),),
    )
    with trio.fail_after(120):
        async with open_lab(fleet) as lab:
            bundles = lab.write_bundles(tmp_path)
            config = tmp_path / "camscan.toml"
            config.write_text(
                f'[scan]\ntargets = ["{FIRST}-{LAST}"]\nports = [{port}]\nconnect_timeout = 1.0\n'
                f'legacy_probe = false\n[trust]\nmode = "site"\nca_bundles = ["{bundles["site"]}"]\n'
                "offline = true\n"
            )
            lobby = lab.device("lobby")
            old_ip, mac = lobby.ip, lobby.identity.mac
            assert mac is not None and len(mac) == 17

            await _audit(config)
            new_ip = lab.allocate_address()
            await lobby.change_ip(new_ip)
            text = await _audit(config)

    assert f"{old_ip} -> {new_ip}  same mac {mac} (still presenting" in text, text
