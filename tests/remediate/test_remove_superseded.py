"""Removing the superseded certificate after a renewal, driver by driver against the lab: what
camscan installed before goes (ONVIF: path, certificates, key; Axis: the alias and its key);
the certificate the device serves, a factory certificate and anything still referenced stay;
a device that refuses the delete keeps serving the new certificate."""

from __future__ import annotations

import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.lab import Lab
from camscan.lab.device import Device
from camscan.remediate.drivers.base import Driver, DriverError, Kept, Session
from tests.remediate.test_drivers_lab import SPECS, _driver
from tests.remediate.test_drivers_lab import lab as lab

DRIVERS = {"axis": "axis", "old": "onvif", "new": "onvif", "hik": "hikvision"}


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


async def install(lab: Lab, device: Device) -> tuple[x509.Certificate, Driver, Session]:
    """One `camscan fix` install (a fresh driver, as each run has): on-device key, CSR, chain."""
    driver, session = _driver(device, DRIVERS[device.name])
    csr = await driver.create_csr(device.ip, [device.ip], [])
    cert = pki.sign_csr(csr, lab.pki.intermediate, ips=[device.ip])
    await driver.install_signed([cert, lab.pki.intermediate.cert])
    assert device.served().leaf == cert
    return cert, driver, session


def holds(device: Device, cert: x509.Certificate) -> list[str]:
    """Where the device's keystore still has `cert` or its private key."""
    store = device.firmware.keystore
    found = [f"key {k}" for k in [store.key_for(cert)] if k is not None]
    if device.name == "axis":
        aliases = device.personality_state.get("axis_aliases", {})
        assert isinstance(aliases, dict)
        return found + [f"alias {a}" for a, c in aliases.items() if c == cert]
    ids = {i for i, c in store.certificates.items() if c == cert}
    return found + [f"certificate {i}" for i in ids] + [
        f"path {p}" for p, members in store.paths.items() if ids & set(members)
    ]


@pytest.mark.parametrize("name", list(DRIVERS))
async def test_the_renewal_removes_what_it_replaced_and_keeps_what_it_serves(lab: Lab, name: str) -> None:
    device = lab.device(name)
    with trio.fail_after(90):
        one, _, first = await install(lab, device)
        await first.aclose()
        two, driver, session = await install(lab, device)
        try:
            assert holds(device, one)  # beside the new one until removed
            removed = await driver.remove_superseded(der(one))
            assert ("alias camscan-https-" if name == "axis" else "certification path") in removed
            assert holds(device, one) == [], removed
            assert device.served().leaf == two and holds(device, two)
            if name != "axis":  # the old path's own copy of the intermediate went too; the new one stays
                store = device.firmware.keystore
                assert list(store.certificates.values()).count(lab.pki.intermediate.cert) == 1
        finally:
            await session.aclose()


@pytest.mark.parametrize("name", ["axis", "new", "old"])
async def test_the_certificate_the_device_serves_is_never_deleted(lab: Lab, name: str) -> None:
    # The install of `two` is undone (rollback): `one` serves again and is what the driver
    # recorded as replaced. Asked to remove it, the driver checks the binding and keeps it; the
    # lab would refuse a delete anyway (ReferenceExists / certificate in use), so a driver that
    # skipped its check fails here with a DriverError, not Kept.
    device = lab.device(name)
    with trio.fail_after(90):
        one, _, first = await install(lab, device)
        await first.aclose()
        _two, driver, session = await install(lab, device)
        try:
            assert await driver.rollback() is True
            assert device.served().leaf == one
            with pytest.raises(Kept):
                await driver.remove_superseded(der(one))
            assert device.served().leaf == one and holds(device, one)
        finally:
            await session.aclose()


@pytest.mark.parametrize("name", ["axis", "new"])
async def test_a_factory_certificate_or_another_certificate_is_left_alone(lab: Lab, name: str) -> None:
    device = lab.device(name)
    factory = device.served().leaf
    with trio.fail_after(90):
        one, driver, session = await install(lab, device)
        try:
            with pytest.raises(Kept):  # the first install replaced the factory certificate
                await driver.remove_superseded(der(factory))
        finally:
            await session.aclose()
        _two, driver, session = await install(lab, device)
        try:
            stranger = pki.make_leaf(None, common_name="someone-else").cert
            with pytest.raises(Kept, match="superseded certificate"):
                await driver.remove_superseded(der(stranger))  # not what the replaced path/alias holds
            assert holds(device, one)
        finally:
            await session.aclose()


@pytest.mark.parametrize("name", ["axis", "new", "old"])
async def test_a_device_that_refuses_keeps_both_and_serves_the_new_one(lab: Lab, name: str) -> None:
    device = lab.device(name)
    with trio.fail_after(90):
        one, _, first = await install(lab, device)
        await first.aclose()
        two, driver, session = await install(lab, device)
        device.firmware.refuses_deletes = "the keystore is read-only"
        try:
            with pytest.raises(DriverError) as refused:
                await driver.remove_superseded(der(one))
            assert refused.value.kind == "rejected", refused.value
            assert device.served().leaf == two and holds(device, one)
        finally:
            await session.aclose()


def test_the_specs_cover_every_driver() -> None:
    assert {s.name for s in SPECS} == set(DRIVERS)


@pytest.mark.parametrize("name", ["new", "old"])
async def test_the_onvif_lab_refuses_deleting_what_is_referenced(lab: Lab, name: str) -> None:
    # The lab's own guard (advancedsecurity.wsdl: "if a reference exists ... shall not delete"),
    # hit directly with the driver's transport: the assigned path, a certificate a path names,
    # the key of the served certificate.
    device = lab.device(name)
    with trio.fail_after(90):
        cert, driver, session = await install(lab, device)
        try:
            store = device.firmware.keystore
            path = str(device.personality_state["onvif_path"])
            leaf_id = store.paths[path][0]
            key_id = store.key_for(cert)
            assert key_id is not None
            call = driver.keystore.call  # type: ignore[attr-defined]
            for body in (
                f"<tas:DeleteCertificationPath><tas:CertificationPathID>{path}</tas:CertificationPathID>"
                "</tas:DeleteCertificationPath>",
                f"<tas:DeleteCertificate><tas:CertificateID>{leaf_id}</tas:CertificateID></tas:DeleteCertificate>",
                f"<tas:DeleteKey><tas:KeyID>{key_id}</tas:KeyID></tas:DeleteKey>",
            ):
                with pytest.raises(DriverError, match="ReferenceExists") as refused:
                    await call(body)
                assert refused.value.kind == "rejected"
            assert device.served().leaf == cert and store.paths[path][0] == leaf_id
        finally:
            await session.aclose()


async def test_the_axis_lab_refuses_deleting_the_certificate_bound_to_https(lab: Lab) -> None:
    device = lab.device("axis")
    with trio.fail_after(90):
        cert, driver, session = await install(lab, device)
        try:
            bound = str(device.personality_state["axis_https"])
            with pytest.raises(DriverError, match="in use") as refused:
                await driver._rest("DELETE", f"certificates/{bound}")  # type: ignore[attr-defined]
            assert refused.value.kind == "rejected"
            assert device.served().leaf == cert and holds(device, cert)
        finally:
            await session.aclose()
