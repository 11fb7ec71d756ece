"""`camscan lab` (a real process, driven through its control endpoint) and `camscan demo`."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import jsonschema
import trio

from camscan.lab import Lab
from camscan.lab.control import ControlAPI
from camscan.reports.json_report import load_schema
from tests.lab.conftest import first, observe, san_ips, wait_online

CAMSCAN = [sys.executable, "-m", "camscan"]


async def test_control_api_drives_devices(lab: Lab) -> None:
    device = first(lab, personality="dahua", scenario="firmware-ca")
    api = ControlAPI(lab)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(api.serve, 0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            with trio.fail_after(20):
                listing = (await http.get("/devices")).json()
                assert len(listing) == len(lab.devices) and listing[0]["password"] == "camscan-lab"
                old_ip = device.ip
                moved = await http.post(f"/devices/{device.name}/change-ip", json={})
                assert moved.status_code == 200 and moved.json()["device"]["address"] != old_ip
                assert san_ips((await observe(device)).leaf) == [old_ip]  # stale until reboot
                assert (
                    await http.post(f"/devices/{device.name}/reboot", json={"downtime": 0.1})
                ).status_code == 200
                await wait_online(device, boots_at_least=2)
                assert san_ips((await observe(device)).leaf) == [device.ip]
                clock = await http.post(
                    f"/devices/{device.name}/set-clock", json={"utc": "1970-01-01T00:00:00Z"}
                )
                assert clock.status_code == 200 and device.clock.now().year == 1970
                bad = await http.post(f"/devices/{device.name}/change-ip", json={"address": "192.0.2.1"})
                assert bad.status_code == 400 and "not a 127.x address" in bad.json()["error"]
                assert (
                    await http.post(f"/devices/{device.name}/set-clock", json={"utc": "noon"})
                ).status_code == 400
                assert (await http.post("/devices/nobody/reboot")).status_code == 404
                reset = await http.post(f"/devices/{device.name}/factory-reset", json={"downtime": 0})
                assert reset.status_code == 200
                await wait_online(device, boots_at_least=3)
        nursery.cancel_scope.cancel()


async def test_camscan_lab_runs_until_interrupted(tmp_path: Path) -> None:
    block = f"127.77.{random.randint(100, 250)}.0/24"
    proc = subprocess.Popen(
        [*CAMSCAN, "lab", "--size", "6", "--block", block, "--control-port", "0", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        with trio.fail_after(30):
            while not lines or "Ctrl-C stops the lab" not in lines[-1]:
                line = await trio.to_thread.run_sync(proc.stdout.readline)
                assert line, "the lab exited early: " + "".join(lines)
                lines.append(line)
        text = "".join(lines)
        assert "admin / camscan-lab" in text and "6 devices" in text
        control = re.search(r"http://127\.0\.0\.1:(\d+)/devices", text)
        assert control is not None
        inventory = json.loads((tmp_path / "inventory.json").read_text())
        assert len(inventory) == 6 and all(e["address"].startswith(block[:-5]) for e in inventory)
        assert (tmp_path / "site-ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
        async with httpx.AsyncClient(timeout=5) as http:
            with trio.fail_after(10):
                listing = (await http.get(f"http://127.0.0.1:{control.group(1)}/devices")).json()
        assert [e["name"] for e in listing] == [e["name"] for e in inventory]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = await trio.to_thread.run_sync(lambda: proc.communicate(timeout=20))
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err


def test_camscan_lab_rejects_a_block_outside_loopback(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CAMSCAN, "lab", "--block", "198.51.100.0/24", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "camscan: error: --block '198.51.100.0/24' must be inside 127.0.0.0/8 (the lab stays on loopback)"
    )


def test_camscan_demo(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CAMSCAN, "demo", "--out", str(tmp_path), "-q"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"(\d+)/\1 devices showed what their scenario plants", done.stdout), done.stdout
    document = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(document, load_schema())
    assert len(document["endpoints"]) == 45
    rule_ids = {f["rule_id"] for e in document["endpoints"] for f in e["findings"]}
    assert {"CS101", "CS120", "CS201", "CS301", "CS302", "CS402"} <= rule_ids
    for name in ("report.html", "findings.csv", "junit.xml", "camscan.prom", "camscan.sarif", "site-ca.pem"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_camscan_demo_honours_fail_on(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *CAMSCAN,
            "demo",
            "--out",
            str(tmp_path),
            "-q",
            "--size",
            "8",
            "--fail-on",
            "error",
            "--no-legacy-probe",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "scanned 8 simulated cameras" in done.stdout
