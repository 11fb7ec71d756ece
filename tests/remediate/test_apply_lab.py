"""`camscan fix --apply` end to end against the real lab, for each device API, and every way it
can go wrong: each bad path leaves the device serving the certificate it served before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from cryptography.hazmat.primitives import hashes

from camscan.cli import main
from camscan.lab import DeviceSpec, Fleet, Lab, LabSettings
from camscan.lab.device import Device
from camscan.remediate.ca import LocalCA
from tests.support.lab_thread import lab_in_thread, random_block
from tests.support.tls_servers import unused_port

PASSWORD = "Lab-Pw-7f3c9a"
PERSONALITIES = ("onvif", "hikvision", "axis", "dahua")


class Run:
    """One lab on its own thread, its site CA, and `camscan fix` pointed at it."""

    def __init__(self, tmp_path: Path, lab: Lab, token: trio.lowlevel.TrioToken, port: int) -> None:
        self.tmp, self.lab, self.token, self.port = tmp_path, lab, token, port
        self.ca = LocalCA.init(tmp_path / "site-ca")
        self.bundles = lab.write_bundles(tmp_path / "lab")

    def fingerprint(self, device: Device) -> bytes:
        leaf = trio.from_thread.run_sync(device.served, trio_token=self.token).leaf
        return leaf.fingerprint(hashes.SHA256())

    def issuer(self, device: Device) -> str:
        leaf = trio.from_thread.run_sync(device.served, trio_token=self.token).leaf
        return leaf.issuer.rfc4514_string()

    def args(self, *extra: str) -> list[str]:
        targets = [d.ip for d in self.lab.devices]
        return [
            "fix",
            *targets,
            "-p",
            str(self.port),
            "--ca",
            str(self.ca.directory),
            "--ca-bundle",
            str(self.bundles["site"]),
            "--offline",
            "-q",
            "--no-legacy-probe",
            "--no-ws-discovery",
            "--connect-timeout",
            "1",
            "--json",
            str(self.tmp / "fix.json"),
            "--html",
            str(self.tmp / "fix.html"),
            *extra,
        ]

    def fix(self, *extra: str) -> int:
        return main(self.args(*extra))

    def outcomes(self) -> dict[str, dict[str, Any]]:
        document = json.loads((self.tmp / "fix.json").read_text())
        return {d["endpoint"]["address"]: d for d in document["devices"]}

    def audit_log(self) -> list[dict[str, Any]]:
        path = self.ca.directory / "audit.log"
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def make_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("CAMSCAN_PASSWORD", PASSWORD)
    stack: list[Any] = []

    def start(*specs: DeviceSpec, downtime: float = 0.3) -> Run:
        block = random_block(97)
        port = unused_port(block.rsplit(".", 1)[0] + ".1")
        fleet = Fleet(
            LabSettings(
                block=block,
                https_port=port,
                http_port=None,
                password=PASSWORD,
                reboot_downtime=downtime,
                ws_discovery=False,
            ),
            specs,
        )
        manager = lab_in_thread(fleet)
        lab, token = manager.__enter__()
        stack.append(manager)
        return Run(tmp_path, lab, token, port)

    yield start
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


def _apply(run: Run, *extra: str) -> int:
    return run.fix("--apply", "--yes", "--user", "admin", "--reboot-timeout", "10", *extra)


def test_expired_certificates_are_reissued_through_each_api_and_rescan_clean(
    make_run: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(*(DeviceSpec(p, "expired", name=p) for p in PERSONALITIES))
    assert _apply(run) == 0
    out = capsys.readouterr().out
    # The plan printed before an --apply run must not claim that nothing is sent.
    assert "Dry run" not in out and "automatic steps (--apply)" in out
    assert "4 fixed, 0 improved, 0 not_fixed" in out
    outcomes = run.outcomes()
    for personality in PERSONALITIES:
        device = run.lab.device(personality)
        entry = outcomes[device.ip]
        assert entry["outcome"]["driver"] == personality  # asked of the device: no vendor in the scan
        assert entry["outcome"]["status"] == "fixed", entry["outcome"]
        assert "CS120" in entry["findings"]
        assert run.issuer(device) == run.ca.certificate.subject.rfc4514_string()
        # The key was made on the device: it is in the device's keystore, never here.
        assert entry["outcome"]["actions"] == ["reissue (on-device key + CSR)"]
    assert not list((run.ca.directory).glob("**/*.key")) or [
        p.name for p in run.ca.directory.glob("*.key")
    ] == ["ca.key"]


def test_a_stale_certificate_on_built_in_ca_firmware_is_fixed_by_a_reboot(
    make_run: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Three units per model: the fleet is how camscan tells a firmware's built-in CA from a
    # private root when the vendor's CA name is not in its table (CS202's fleet inference).
    run = make_run(*(DeviceSpec(p, "firmware-ca", name=f"{p}{i}") for p in PERSONALITIES for i in range(3)))
    for personality in PERSONALITIES:
        device = run.lab.device(f"{personality}0")
        new_ip = trio.from_thread.run_sync(run.lab.allocate_address, trio_token=run.token)
        trio.from_thread.run(device.change_ip, new_ip, trio_token=run.token)
    boots = {p: run.lab.device(f"{p}0").boot_count for p in PERSONALITIES}
    assert _apply(run) == 0
    outcomes = run.outcomes()
    for personality in PERSONALITIES:
        device = run.lab.device(f"{personality}0")
        entry = outcomes[device.ip]
        assert "CS105" in entry["findings"]
        assert [s["strategy"] for s in entry["steps"]][:2] == ["reboot", "trust-device-ca"], entry["steps"]
        # The reboot cleared CS105, but trusting the built-in CA (CS202) is a person's step: a
        # device with a finding left is "improved", never "fixed".
        assert entry["outcome"]["status"] == "improved", entry["outcome"]
        assert entry["outcome"]["actions"] == ["reboot"]
        assert entry["outcome"]["driver"] == personality
        assert device.boot_count == boots[personality] + 1
        assert "CS105" not in entry["outcome"]["remaining"]
        assert "CS202" in entry["outcome"]["remaining"]  # the manual step: trust the built-in CA
        # The untouched units of the model needed nothing automatic: trusting the CA is manual.
        assert outcomes[run.lab.device(f"{personality}1").ip]["outcome"]["status"] == "skipped"
    html = (run.tmp / "fix.html").read_text()
    assert "How to fix" in html and "trust-device-ca" in html
    out = capsys.readouterr().out
    assert not [line for line in out.splitlines() if line.startswith("fixed") and "remaining" in line]
    assert "0 fixed, 4 improved, 0 not_fixed" in out


def test_built_in_ca_devices_move_to_the_site_ca_with_an_on_device_csr(make_run: Any) -> None:
    run = make_run(*(DeviceSpec(p, "firmware-ca", name=p) for p in PERSONALITIES))
    assert _apply(run, "--move-to-site-ca") == 0
    for personality in PERSONALITIES:
        device = run.lab.device(personality)
        entry = run.outcomes()[device.ip]
        # One certificate step (new-key where the vendor default CS403 was found too).
        assert [s["strategy"] for s in entry["steps"]] in (["reissue"], ["new-key"])
        assert entry["outcome"]["status"] == "fixed", entry["outcome"]
        assert run.issuer(device) == run.ca.certificate.subject.rfc4514_string()
        assert entry["outcome"]["remaining"] == []


def test_a_wrong_password_changes_nothing(
    make_run: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(DeviceSpec("hikvision", "expired", name="cam"))
    before = run.fingerprint(run.lab.device("cam"))
    monkeypatch.setenv("CAMSCAN_PASSWORD", "not-the-password")
    assert _apply(run) == 1
    entry = run.outcomes()[run.lab.device("cam").ip]["outcome"]
    assert entry["status"] == "failed"
    assert "refused the user name or password" in entry["reason"] and "device unchanged" in entry["reason"]
    assert run.fingerprint(run.lab.device("cam")) == before
    assert "failed" in capsys.readouterr().out


def test_a_device_that_rejects_the_certificate_keeps_the_old_one(make_run: Any) -> None:
    run = make_run(*(DeviceSpec(p, "expired", name=p) for p in PERSONALITIES))
    before = {}
    for personality in PERSONALITIES:
        device = run.lab.device(personality)
        device.firmware.rejects_certificates = "the keystore is full"
        before[personality] = run.fingerprint(device)
    assert _apply(run) == 1
    for personality in PERSONALITIES:
        device = run.lab.device(personality)
        entry = run.outcomes()[device.ip]["outcome"]
        assert entry["status"] == "failed", (personality, entry)
        assert entry["reason"].startswith("rejected"), entry["reason"]
        assert run.fingerprint(device) == before[personality]


def test_a_csr_naming_another_address_is_refused_and_nothing_is_installed(make_run: Any) -> None:
    run = make_run(DeviceSpec("onvif", "expired", name="cam"))
    device = run.lab.device("cam")
    device.firmware.csr_extra_ip = "127.0.0.99"
    before = run.fingerprint(device)
    assert _apply(run) == 1
    entry = run.outcomes()[device.ip]["outcome"]
    assert entry["status"] == "failed"
    assert "127.0.0.99" in entry["reason"] and "refusing to sign" in entry["reason"]
    assert run.fingerprint(device) == before
    assert any(line["action"] == "failed" and line["result"] == "refused" for line in run.audit_log())


def test_a_device_that_never_comes_back_is_reported_failed(
    make_run: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(DeviceSpec("dahua", "firmware-ca", name="cam"))
    device = run.lab.device("cam")
    new_ip = trio.from_thread.run_sync(run.lab.allocate_address, trio_token=run.token)
    trio.from_thread.run(device.change_ip, new_ip, trio_token=run.token)
    device.hangs_on_reboot = True
    assert run.fix("--apply", "--yes", "--user", "admin", "--reboot-timeout", "2") == 1
    entry = run.outcomes()[device.ip]["outcome"]
    assert entry["status"] == "failed"
    assert "did not come back" in entry["reason"]
    # Not "after: 0" as if it were clean: the silent device is counted as such.
    out = capsys.readouterr().out
    summary = next(line for line in out.splitlines() if line.startswith("findings before"))
    assert "1 device(s) did not answer the rescan" in summary and device.ip in summary
    assert [line["action"] for line in run.audit_log()][-2:] == ["reboot", "failed"]


def test_no_output_ever_carries_the_password(make_run: Any, capfd: pytest.CaptureFixture[str]) -> None:
    run = make_run(
        DeviceSpec("axis", "expired", name="a"),
        DeviceSpec("hikvision", "clock-skew", name="h"),
        DeviceSpec("onvif", "self-signed", name="o"),
    )
    # A device that echoes the password in its error text (Axis's SOAP faults carry the reason).
    run.lab.device("a").firmware.rejects_certificates = f"rejected (debug: password={PASSWORD})"
    assert _apply(run) == 1  # the device that rejects fails; the others are fixed
    captured = capfd.readouterr()
    outputs = {"stdout": captured.out, "stderr": captured.err}
    for path in [run.tmp / "fix.json", run.tmp / "fix.html", *run.ca.directory.rglob("*")]:
        if path.is_file():
            outputs[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert len(outputs) > 5
    leaks = [name for name, text in outputs.items() if PASSWORD in text]
    assert leaks == []
    # The device's own error text made it to the audit log, with the secret redacted.
    assert any("<redacted>" in line["detail"] for line in run.audit_log())


def test_passwords_are_refused_on_the_command_line(make_run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(DeviceSpec("onvif", "expired", name="cam"))
    assert run.fix("--apply", "--yes", "--user", "admin", "--password", "x") == 2
    assert "never taken from the command line" in capsys.readouterr().err


def test_a_credentials_file_others_can_read_is_refused(
    make_run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(DeviceSpec("onvif", "expired", name="cam"))
    creds = tmp_path / "creds.toml"
    creds.write_text(f'[default]\nuser = "admin"\npassword = "{PASSWORD}"\n')
    creds.chmod(0o644)
    assert run.fix("--apply", "--yes", "--credentials", str(creds)) == 2
    err = capsys.readouterr().err
    assert "chmod 600" in err and PASSWORD not in err
    creds.chmod(0o600)
    assert run.fix("--apply", "--yes", "--credentials", str(creds)) == 0


def test_dry_run_sends_nothing_and_apply_off_a_terminal_needs_yes(
    make_run: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(DeviceSpec("hikvision", "expired", name="cam"))
    device = run.lab.device("cam")
    before = run.fingerprint(device)
    assert run.fix() == 0
    assert "Dry run: nothing was sent" in capsys.readouterr().out
    assert run.outcomes()[device.ip]["outcome"] is None
    assert run.fix("--apply", "--user", "admin") == 2  # stdin is not a terminal here
    assert "--yes" in capsys.readouterr().err
    assert run.fingerprint(device) == before
    assert not (run.ca.directory / "audit.log").exists()


def test_ctrl_c_in_the_middle_leaves_every_device_working_and_logs_it(make_run: Any) -> None:
    run = make_run(*(DeviceSpec("dahua", "firmware-ca", name=f"cam{i}") for i in range(4)), downtime=1.5)
    for device in run.lab.devices:
        new_ip = trio.from_thread.run_sync(run.lab.allocate_address, trio_token=run.token)
        trio.from_thread.run(device.change_ip, new_ip, trio_token=run.token)
    env = {**os.environ, "CAMSCAN_PASSWORD": PASSWORD}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camscan",
            *run.args("--apply", "--yes", "--user", "admin", "--parallel", "1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    log = run.ca.directory / "audit.log"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and '"reboot", "result": "sent"' not in (
            log.read_text() if log.exists() else ""
        ):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "camscan: interrupted"
    assert any(line["action"] == "interrupted" for line in run.audit_log())
    # Every device serves a certificate again once its reboot is over (none was left without one).
    time.sleep(2.0)
    for device in run.lab.devices:
        assert device.online, device.name
        assert run.fingerprint(device)
