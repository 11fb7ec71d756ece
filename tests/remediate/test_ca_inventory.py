"""The site CA's inventory, revocation and CRL (issue 17 item 4): every certificate recorded
atomically (by `ca issue`, `ca sign` and `fix --apply`), `ca list` / `revoke` / `crl`, the CRL
distribution point in issued leaves, and OpenSSL refusing a revoked leaf with the CRL."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from cryptography import x509

from camscan.cli import main
from camscan.lab import DeviceSpec
from camscan.remediate import inventory
from camscan.remediate.ca import LocalCA
from tests.remediate.test_apply_lab import _apply, make_run  # noqa: F401 - the lab fixture

IP = "127.0.0.7"
PASSPHRASE = "inventory test passphrase"
CRL_URL = "http://127.0.0.1:8080/site-ca.crl"
openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture(autouse=True)
def _passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO())
    monkeypatch.setenv("CAMSCAN_CA_PASSPHRASE", PASSPHRASE)


def _issue(ca_dir: Path, out: Path, ip: str = IP) -> x509.Certificate:
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", ip, "--out", str(out)]) == 0
    return x509.load_pem_x509_certificate(Path(f"{out}.pem").read_bytes())


@openssl
def test_list_revoke_crl_end_to_end_and_openssl_refuses_the_revoked_leaf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = tmp_path / "site-ca"
    assert main(["ca", "init", "--dir", str(ca_dir), "--crl-url", CRL_URL]) == 0
    first = _issue(ca_dir, tmp_path / "cam7")
    second = _issue(ca_dir, tmp_path / "cam8", "127.0.0.8")
    points = first.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for n in points[0].full_name or ()] == [CRL_URL]
    assert (ca_dir / "issued.json").stat().st_mode & 0o777 == 0o600

    capsys.readouterr()
    assert main(["ca", "list", "--ca", str(ca_dir), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["certificates"]
    assert [c["serial"] for c in listed] == [f"{first.serial_number:x}", f"{second.serial_number:x}"]
    assert listed[0]["address"] == IP and listed[0]["names"] == [f"IP:{IP}"]
    assert listed[0]["status"] == "valid" and listed[0]["issuer"] == "CN=camscan site CA"
    assert listed[0]["not_after"] == first.not_valid_after_utc.isoformat()

    serial = f"{first.serial_number:x}"
    assert main(["ca", "revoke", "--ca", str(ca_dir), serial, "--reason", "key-compromise"]) == 0
    assert main(["ca", "revoke", "--ca", str(ca_dir), serial, "--reason", "superseded"]) == 2
    assert "already revoked" in capsys.readouterr().err
    assert main(["ca", "revoke", "--ca", str(ca_dir), "abc123", "--reason", "superseded"]) == 2
    assert main(["ca", "revoke", "--ca", str(ca_dir), serial, "--reason", "bored"]) == 2
    capsys.readouterr()
    assert main(["ca", "list", "--ca", str(ca_dir)]) == 0
    table = capsys.readouterr().out
    # Serials are random, so their hex lengths differ and the column pads the shorter one.
    assert re.search(rf"^{serial} +revoked \(keyCompromise\)", table, re.MULTILINE) and "valid" in table

    assert main(["ca", "crl", "--ca", str(ca_dir), "--days", "3"]) == 0
    assert "CRL number 1, 1 revoked" in capsys.readouterr().out
    crl = x509.load_der_x509_crl((ca_dir / "crl.der").read_bytes())
    assert crl == x509.load_pem_x509_crl((ca_dir / "crl.pem").read_bytes())
    assert crl.is_signature_valid(LocalCA.load(ca_dir).certificate.public_key())  # type: ignore[arg-type]
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=3)
    entry = crl.get_revoked_certificate_by_serial_number(first.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(second.serial_number) is None

    def verify(leaf: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["openssl", "verify", "-crl_check", "-CAfile", str(ca_dir / "ca.pem"), "-CRLfile",
             str(ca_dir / "crl.pem"), leaf], capture_output=True, text=True, check=False,
        )

    revoked = verify(str(tmp_path / "cam7.pem"))
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr
    assert verify(str(tmp_path / "cam8.pem")).returncode == 0
    # The next CRL takes the next number (RFC 5280 5.2.3).
    assert main(["ca", "crl", "--ca", str(ca_dir)]) == 0
    assert "CRL number 2" in capsys.readouterr().out


def test_cli_records_the_identity_it_is_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca_dir = tmp_path / "site-ca"
    assert main(["ca", "init", "--dir", str(ca_dir)]) == 0
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", IP, "--identity", "AXIS P1375 ACCC8E012345",
                 "--out", str(tmp_path / "cam")]) == 0
    assert inventory.list_issued(ca_dir)[0].identity == "AXIS P1375 ACCC8E012345"
    capsys.readouterr()
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", IP, "--identity", "bad\x1b[2Jtext",
                 "--out", str(tmp_path / "cam2")]) == 2
    assert "--identity" in capsys.readouterr().err and not (tmp_path / "cam2.key").exists()


def test_crl_needs_the_passphrase_and_list_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = tmp_path / "site-ca"
    assert main(["ca", "init", "--dir", str(ca_dir)]) == 0
    _issue(ca_dir, tmp_path / "cam7")
    monkeypatch.delenv("CAMSCAN_CA_PASSPHRASE")
    capsys.readouterr()
    assert main(["ca", "list", "--ca", str(ca_dir)]) == 0
    assert main(["ca", "crl", "--ca", str(ca_dir)]) == 2
    assert "CAMSCAN_CA_PASSPHRASE" in capsys.readouterr().err
    assert not (ca_dir / "crl.der").exists()


def test_parallel_issuers_lose_no_record(tmp_path: Path) -> None:
    """Four `camscan ca issue` processes at once: the lock serialises the rewrites."""
    ca_dir = tmp_path / "site-ca"
    LocalCA.init(ca_dir, passphrase=PASSPHRASE.encode())
    env = {**os.environ, "CAMSCAN_CA_PASSPHRASE": PASSPHRASE}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "camscan", "ca", "issue", "--ca", str(ca_dir), "--ip", f"127.0.0.{i}",
             "--out", str(tmp_path / f"cam{i}")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for i in range(10, 14)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    records = inventory.list_issued(ca_dir)
    assert sorted(r.address for r in records) == [f"127.0.0.{i}" for i in range(10, 14)]
    assert not list(ca_dir.glob(".issued.json.*.tmp"))


def test_api_for_other_issuers(tmp_path: Path) -> None:
    """The stable API the `local` issuer calls: record, list, revoke (superseded), build the CRL."""
    ca = LocalCA.init(tmp_path / "site-ca")
    issued = ca.issue([IP], identity="axis M3045 serial ACCC8E000001")
    [record] = inventory.list_issued(ca.directory)
    assert record.serial == f"{issued.cert.serial_number:x}"
    assert record.identity == "axis M3045 serial ACCC8E000001"
    revoked = inventory.revoke(ca.directory, issued.cert.serial_number, "superseded")
    assert revoked.status() == "revoked" and revoked.reason == "superseded"
    assert inventory.find_issued(ca.directory, f"0x{record.serial.upper()}").revoked_at is not None
    crl = inventory.build_crl(ca, days=1)
    assert crl.get_revoked_certificate_by_serial_number(issued.cert.serial_number) is not None
    later = dt.datetime.fromisoformat(record.not_after) + dt.timedelta(days=1)
    assert inventory.list_issued(ca.directory)[0].status(later) == "revoked"


def test_fix_apply_records_what_it_installed(make_run: Any) -> None:  # noqa: F811
    run = make_run(DeviceSpec("onvif", "expired", name="cam"))
    assert _apply(run) == 0
    device = run.lab.device("cam")
    leaf = trio.from_thread.run_sync(device.served, trio_token=run.token).leaf
    [record] = inventory.list_issued(run.ca.directory)
    assert record.serial == f"{leaf.serial_number:x}" and record.address == device.ip
    assert record.names == (f"IP:{device.ip}",) and "(onvif, port" in (record.identity or "")


def test_fix_apply_from_a_two_level_ca_installs_the_issuing_ca_too(
    make_run: Any, tmp_path: Path  # noqa: F811
) -> None:
    # Axis is left out: its driver installs the leaf alone (reported; drivers are out of scope here).
    names = ("hikvision", "onvif", "dahua")
    run = make_run(*(DeviceSpec(p, "expired", name=p) for p in names))
    run.ca = LocalCA.init(tmp_path / "two-level", root_dir=tmp_path / "root", permit_ips=["127.0.0.0/8"])
    assert _apply(run) == 0  # the rescan trusts root.pem alone: the chain must be served
    outcomes = run.outcomes()
    for name in names:
        device = run.lab.device(name)
        served = trio.from_thread.run_sync(device.served, trio_token=run.token)
        assert outcomes[device.ip]["outcome"]["status"] == "fixed", (name, outcomes[device.ip]["outcome"])
        assert [c.subject for c in served.chain] == [served.leaf.subject, run.ca.certificate.subject], name
        served.leaf.verify_directly_issued_by(run.ca.certificate)
        assert "CS201" not in outcomes[device.ip]["outcome"].get("remaining", []), name
    assert len(inventory.list_issued(run.ca.directory)) == len(names)


def test_fix_apply_refuses_what_the_site_ca_may_not_sign_and_leaves_the_device_alone(
    make_run: Any, tmp_path: Path  # noqa: F811
) -> None:
    """The signing checks are inside the signing function: `fix --apply` gets them too."""
    run = make_run(DeviceSpec("hikvision", "expired", name="cam"), DeviceSpec("axis", "expired", name="ax"))
    run.ca = LocalCA.init(tmp_path / "elsewhere", permit_ips=["10.0.0.0/8"])  # not the lab's: not contacted
    before = {name: run.fingerprint(run.lab.device(name)) for name in ("cam", "ax")}
    run.fix("--apply", "--yes", "--user", "admin", "--reboot-timeout", "10")
    outcomes = run.outcomes()
    for name in ("cam", "ax"):
        device = run.lab.device(name)
        outcome = outcomes[device.ip]["outcome"]
        assert outcome["status"] == "failed" and "outside the site CA's name constraints" in outcome["reason"]
        assert run.fingerprint(device) == before[name]  # still serving its previous certificate
    assert inventory.list_issued(run.ca.directory) == []
    refusals = [e for e in run.audit_log() if e["action"] == "failed"]
    assert len(refusals) == 2 and all(e["result"] == "refused" for e in refusals)


def test_appending_keeps_every_record_whatever_shape_the_file_is_in(tmp_path: Path) -> None:
    from camscan.errors import CamscanError

    ca = LocalCA.init(tmp_path / "site-ca")
    first = ca.issue(["127.0.0.1"]).cert
    second = ca.issue(["127.0.0.2"]).cert
    inventory.revoke(ca.directory, first.serial_number, "superseded")  # a whole rewrite
    third = ca.issue(["127.0.0.3"]).cert  # appended
    path = ca.directory / inventory.INVENTORY
    json.loads(path.read_text())  # still one JSON document
    # Someone pretty-printed it: the next record reads and rewrites the whole file instead.
    path.write_text(json.dumps(json.loads(path.read_text()), indent=2))
    fourth = ca.issue(["127.0.0.4"]).cert
    records = inventory.list_issued(ca.directory)
    assert [r.serial for r in records] == [f"{c.serial_number:x}" for c in (first, second, third, fourth)]
    assert records[0].status() == "revoked" and records[3].status() == "valid"
    with pytest.raises(CamscanError, match="already in the inventory"):
        inventory.record_issued(ca.directory, third, address="127.0.0.3")
    with pytest.raises(CamscanError, match="already in the inventory"):
        inventory.record_issued(ca.directory, fourth, address="127.0.0.4")
    assert len(inventory.list_issued(ca.directory)) == 4
