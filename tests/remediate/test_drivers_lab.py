"""Each driver against the lab personality that would have caught its old guess: the Axis TLS
configuration sent back whole (and rolled back whole), the ONVIF keystore chosen by
capabilities (Advanced Security 1.0.2 has RSA only and no PKCS#12), a CSR carrying the
device's names, and Hikvision certificates through ONVIF with a rollback."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from camscan import pki
from camscan.lab import DeviceSpec, Fleet, Lab, LabSettings, open_lab
from camscan.lab.device import Device
from camscan.remediate.drivers import make_driver
from camscan.remediate.drivers.base import Credentials, Driver, DriverError, Session
from tests.lab.conftest import private_block

SPECS = (
    DeviceSpec("axis", "expired", name="axis"),
    DeviceSpec("onvif", "expired", name="old", onvif_security="1.0.2"),
    DeviceSpec("onvif", "expired", name="new"),
    DeviceSpec("hikvision", "expired", name="hik", isapi_namespace="hikvision.com"),
)


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    fleet = Fleet(LabSettings(block=private_block(), https_port=0, http_port=None, ws_discovery=False), SPECS)
    async with open_lab(
        fleet, block=fleet.settings.block, https_port=0, http_port=None, reboot_downtime=0.3
    ) as running:
        yield running


def _driver(device: Device, name: str) -> tuple[Driver, Session]:
    creds = Credentials(device.settings.username, device.settings.password)
    session = Session(device.ip, device.https_port, creds, set())
    return make_driver(name, session, creds), session


def _sans(csr: x509.CertificateSigningRequest) -> set[str]:
    names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in names.get_values_for_type(x509.IPAddress)} | set(
        names.get_values_for_type(x509.DNSName)
    )


async def test_axis_sends_its_tls_configuration_back_whole_and_rolls_back(lab: Lab) -> None:
    device = lab.device("axis")
    before = device.served().leaf
    driver, session = _driver(device, "axis")
    try:
        with trio.fail_after(30):
            csr = await driver.create_csr(device.ip, [device.ip], ["axis.example.test"])
            assert _sans(csr) == {device.ip, "axis.example.test"}
            cert = pki.sign_csr(csr, lab.pki.intermediate, ips=[device.ip])
            await driver.install_signed([cert, lab.pki.intermediate.cert])
            served = device.served()
            assert served.leaf == cert and served.chain[1] == lab.pki.intermediate.cert
            tls = device.personality_state["axis_tls"]
            assert isinstance(tls, dict)
            assert tls["admin"] == "HttpAndHttps" and len(tls["ciphers"]) == 6  # as the device had them
            assert str(tls["cert"]).startswith("camscan-https-") and len(tls["cas"]) == 1  # + intermediate
            assert list(device.personality_state["axis_ca"]) == tls["cas"]  # type: ignore[call-overload]
            assert await driver.rollback() is True
            assert device.served().leaf == before
            assert tls["cert"] == "default" and tls["cas"] == []
    finally:
        await session.aclose()


async def test_axis_without_the_cert_api_says_so_instead_of_probing(lab: Lab) -> None:
    device = lab.device("axis")
    device.settings = type(device.settings)(**{**device.settings.__dict__, "axis_cert_api": "v0"})
    driver, session = _driver(device, "axis")
    try:
        with trio.fail_after(10), pytest.raises(DriverError) as failure:
            await driver.create_csr(device.ip, [device.ip], [])
        assert failure.value.kind == "unsupported" and "cert v1 or v1beta" in str(failure.value)
    finally:
        await session.aclose()


@pytest.mark.parametrize(
    ("name", "key_type", "takes_pkcs12"),
    [("old", rsa.RSAPublicKey, False), ("new", ec.EllipticCurvePublicKey, True)],
)
async def test_onvif_keys_follow_the_keystore_capabilities(
    lab: Lab, name: str, key_type: type, takes_pkcs12: bool
) -> None:
    device = lab.device(name)
    driver, session = _driver(device, "onvif")
    try:
        with trio.fail_after(60):
            csr = await driver.create_csr(device.ip, [device.ip], ["cam.example.test"])
            assert isinstance(csr.public_key(), key_type)  # RSA on 1.0.2, EC on current
            assert _sans(csr) == {device.ip, "cam.example.test"}
            issued = pki.make_leaf(
                lab.pki.intermediate, common_name=device.ip, ips=[device.ip], key=pki.new_key("rsa-2048")
            )
            if takes_pkcs12:
                await driver.upload([issued.cert, lab.pki.intermediate.cert], issued.key)
                assert device.served().leaf == issued.cert
                assert await driver.rollback() is False  # no assignment before: nothing to put back
            else:
                with pytest.raises(DriverError) as refused:
                    await driver.upload([issued.cert], issued.key)
                assert refused.value.kind == "unsupported" and "PKCS#12" in str(refused.value)
    finally:
        await session.aclose()


async def test_hikvision_installs_through_onvif_and_rolls_back(lab: Lab) -> None:
    device = lab.device("hik")
    driver, session = _driver(device, "hikvision")
    try:
        with trio.fail_after(60):
            first = await driver.create_csr(device.ip, [device.ip], [])
            one = pki.sign_csr(first, lab.pki.intermediate, ips=[device.ip])
            await driver.install_signed([one])
            assert device.served().leaf == one
            driver, session2 = _driver(device, "hikvision")
            await session.aclose()
            session = session2
            second = await driver.create_csr(device.ip, [device.ip], [])
            two = pki.sign_csr(second, lab.pki.intermediate, ips=[device.ip])
            await driver.install_signed([two])
            assert device.served().leaf == two
            assert await driver.rollback() is True  # the previously assigned certificate
            assert device.served().leaf == one
    finally:
        await session.aclose()


async def test_hikvision_sets_its_clock_in_its_own_namespace_zone_and_mode(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = lab.device("hik")  # older firmware: answers in the hikvision.com namespace
    device.clock.offset = -3 * 3600.0
    seen: list[bytes] = []
    original = Device.dispatch

    async def spy(self: Device, request: object) -> object:
        if getattr(request, "path", "") == "/ISAPI/System/time" and getattr(request, "method", "") == "PUT":
            seen.append(getattr(request, "body", b""))
        return await original(self, request)  # type: ignore[arg-type]

    monkeypatch.setattr(Device, "dispatch", spy)
    before = (device.time.mode, device.time.tz)
    driver, session = _driver(device, "hikvision")
    try:
        with trio.fail_after(30):
            done = await driver.set_clock(dt.datetime.now(dt.UTC))
    finally:
        await session.aclose()
    assert "NTP mode and zone kept" in done
    assert (device.time.mode, device.time.tz) == before
    assert abs((device.clock.now() - dt.datetime.now(dt.UTC)).total_seconds()) < 30
    assert len(seen) == 2  # manual once, then NTP back
    for body in seen:
        assert b'xmlns="http://www.hikvision.com/ver20/XMLSchema"' in body
        assert b"<timeZone>CST-8:00:00</timeZone>" in body and b"+08:00</localTime>" in body
