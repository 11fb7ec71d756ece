"""`camscan audit` renewals (--as-of inside the renewal window, [fix] renew = true) remove the
superseded certificate from the device: gone from the keystore of ONVIF (current and 1.0.2),
Hikvision and Dahua (through ONVIF) and Axis devices; a device that refuses the delete still ends renewed,
serving the new certificate, with the refusal in the audit log and the outcome."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.lab import DeviceSpec
from camscan.lab.device import Device
from camscan.remediate.auditlog import AuditLog
from camscan.remediate.drivers.base import Credentials, Driver, Session
from camscan.remediate.supersede import remove_superseded
from tests.remediate.test_apply_lab import (
    Run,
    make_run,  # noqa: F401  (the lab fixture)
)
from tests.remediate.test_renewal_audit import audit_config, renew_once, served

REMOVED = ("onvif", "old", "axis", "hik", "dahua")
REFUSING = ("onvif-ro", "axis-ro")


def keystore_holds(device: Device, cert: x509.Certificate) -> list[str]:
    """Where the lab device still keeps `cert` or its private key."""
    store = device.firmware.keystore
    found = ["key"] if store.key_for(cert) is not None else []
    found += [f"certificate {i}" for i, c in store.certificates.items() if c == cert]
    aliases = device.personality_state.get("axis_aliases", {})
    assert isinstance(aliases, dict)
    return found + [f"alias {a}" for a, c in aliases.items() if c == cert]


def test_renewal_removes_the_superseded_certificate_or_reports_the_refusal(
    make_run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    run: Run = make_run(
        DeviceSpec("onvif", "expired", name="onvif"),
        DeviceSpec("onvif", "expired", name="old", onvif_security="1.0.2"),
        DeviceSpec("axis", "expired", name="axis"),
        DeviceSpec("hikvision", "expired", name="hik"),
        DeviceSpec("dahua", "expired", name="dahua"),
        DeviceSpec("onvif", "expired", name="onvif-ro"),
        DeviceSpec("axis", "expired", name="axis-ro"),
    )
    assert run.fix("--apply", "--yes", "--user", "admin") == 0
    first = {d.name: served(run, d.name) for d in run.lab.devices}
    for name, cert in first.items():
        assert keystore_holds(run.lab.device(name), cert), name  # camscan installed it on the device
    for name in REFUSING:
        run.lab.device(name).firmware.refuses_deletes = "the keystore is write-protected"
    config = audit_config(tmp_path, run, run.ca.cert_path, None, renew=True, name="local")
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=380)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = renew_once(run, config, later, capsys)

    assert out.count("renewal: fixed") == len(first), out
    log = [json.loads(line) for line in (tmp_path / "state" / "audit.log").read_text().splitlines()]
    removal = {entry["device"]: entry for entry in log if entry["action"] == "remove-superseded"}
    for name, old in first.items():
        device = run.lab.device(name)
        new = served(run, name)
        assert new.serial_number != old.serial_number and new.issuer == run.ca.certificate.subject
        assert keystore_holds(device, new), name  # the served certificate is still in the keystore
        entry = next(e for t, e in removal.items() if t.startswith(f"{device.ip}:"))
        assert entry["serial"] == f"{old.serial_number:x}"
        if name in REMOVED:
            assert entry["result"] == "ok", entry
            assert keystore_holds(device, old) == [], name
            assert f"superseded {old.serial_number:x} removed from the device" in out
        else:
            assert entry["result"] == "refused", entry
            assert keystore_holds(device, old), name  # left as it was, unbound
            assert f"superseded {old.serial_number:x} left on the device (the device refused" in out
        assert f"superseded {old.serial_number:x} revoked" in out  # revocation goes on regardless


def test_a_driver_without_a_delete_call_leaves_it_and_says_so(tmp_path: Path) -> None:
    # The base driver (what a driver without a documented delete inherits) is never asked to
    # guess: the renewal stands, the log says unsupported, the outcome asks for a person.
    old = pki.make_leaf(None, common_name="cam").cert
    creds = Credentials("admin", "pw")
    audit = AuditLog(tmp_path / "audit.log")
    actions: list[str] = []

    async def main() -> None:
        session = Session("127.0.0.1", 9, creds, set())
        try:
            await remove_superseded(
                Driver(session), old.public_bytes(serialization.Encoding.DER), actions,
                lambda action, result, **kw: audit.record("127.0.0.1:9", action, result, **kw),
            )
        finally:
            await session.aclose()

    trio.run(main)
    entry = json.loads((tmp_path / "audit.log").read_text().splitlines()[-1])
    assert (entry["action"], entry["result"]) == ("remove-superseded", "unsupported")
    assert actions == [f"superseded {old.serial_number:x} left on the device (no documented delete call: "
                       "remove it by hand)"]
