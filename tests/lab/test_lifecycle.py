"""Seed 001's firmware model, walked through real TLS handshakes with camscan's probe:
boot -> change IP (stale certificate) -> reboot (fresh certificate for the new IP), uploads,
on-device CSR, factory reset, clocks."""

from __future__ import annotations

import datetime as dt
import ssl
import warnings

import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from camscan import certinfo, pki
from camscan.lab import Lab, default_fleet, open_lab, parse_fleet
from camscan.lab.certs import previous_address
from camscan.lab.firmware import CertificateRejected
from camscan.model import FailureKind, ProbeFailure
from camscan.scanner.tls_probe import ProbeSettings, probe
from tests.lab.conftest import first, observe, san_ips, wait_online


async def test_ip_change_keeps_the_stale_certificate_until_reboot(lab: Lab) -> None:
    device = first(lab, personality="dahua", scenario="firmware-ca")
    old_ip = device.ip
    booted = await observe(device)
    leaf = booted.leaf
    assert san_ips(leaf) == [old_ip]
    assert leaf.issuer == device.firmware.builtin_ca.cert.subject  # the built-in root signed it

    new_ip = lab.allocate_address()
    with trio.fail_after(10):
        await device.change_ip(new_ip)
    stale = await observe(device)
    assert stale.endpoint.address == new_ip
    assert stale.chain_der == booted.chain_der  # same certificate, still naming the old IP
    assert san_ips(stale.leaf) == [old_ip]
    with trio.fail_after(5):
        gone = await probe(booted.endpoint, ProbeSettings(connect_timeout=1, http_facts=False))
    assert isinstance(gone, ProbeFailure) and gone.kind is FailureKind.REFUSED

    with trio.fail_after(10):
        await device.reboot()
    fresh = await observe(device)
    assert san_ips(fresh.leaf) == [new_ip]
    assert fresh.leaf_sha256 != stale.leaf_sha256
    assert certinfo.spki_sha256(fresh.leaf) != certinfo.spki_sha256(stale.leaf)  # a new key per boot
    assert device.boot_count == 2


async def test_reboot_over_the_api_drops_the_listener_for_the_downtime(lab: Lab) -> None:
    device = first(lab, personality="hikvision")
    before = await observe(device)
    device.schedule_reboot(downtime=1.0)
    with trio.fail_after(5):
        while device.online:
            await trio.sleep(0.01)
        down = await probe(device.endpoint, ProbeSettings(connect_timeout=1, http_facts=False))
        assert isinstance(down, ProbeFailure) and down.kind is FailureKind.REFUSED
    await wait_online(device, boots_at_least=2, timeout=5)
    after = await observe(device)
    # An uploaded (commissioned) certificate survives the reboot (seed 001, Q2).
    assert after.chain_der == before.chain_der


async def test_upload_certificate_and_key_is_served(lab: Lab) -> None:
    device = first(lab, personality="dahua", scenario="firmware-ca")
    own_ca = pki.make_ca("Upload Test CA")
    issued = pki.make_leaf(own_ca, common_name=device.ip, ips=[device.ip])
    device.firmware.upload([issued.cert, own_ca.cert], issued.key)
    seen = await observe(device)
    assert seen.chain_der == (issued.cert_der, own_ca.cert.public_bytes(Encoding.DER))
    with pytest.raises(CertificateRejected, match="does not match"):
        device.firmware.upload([issued.cert], pki.new_key())
    with trio.fail_after(10):
        await device.reboot()
    assert (await observe(device)).leaf_sha256 == certinfo.sha256_hex(issued.cert_der)


def _spki(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


async def test_on_device_csr_sign_install_then_factory_reset(lab: Lab) -> None:
    device = first(lab, personality="onvif")
    firmware = device.firmware
    key_id = firmware.create_csr_key()
    csr = firmware.csr(key_id, device.ip, ips=[device.ip])
    second = firmware.csr(firmware.create_csr_key(), device.ip)
    assert _spki(csr) != _spki(second)  # Q3: every CSR creation makes a new key
    signed = pki.sign_csr(csr, lab.pki.intermediate)
    firmware.install_signed([signed, lab.pki.intermediate.cert])
    seen = await observe(device)
    assert seen.leaf == signed and len(seen.chain) == 2

    with trio.fail_after(10):
        await device.factory_reset(downtime=0.1)
    assert not firmware.keystore.keys  # the key is gone (Q3)
    after_reset = await observe(device)
    assert after_reset.leaf != signed
    assert after_reset.leaf.issuer == firmware.builtin_ca.cert.subject  # firmware default again
    with pytest.raises(CertificateRejected, match="no private key"):
        firmware.install_signed([signed])  # the old certificate is useless now


async def test_factory_default_units_share_one_key(lab: Lab) -> None:
    units = [d for d in lab.devices if d.scenario.name == "factory-default"]
    assert len(units) >= 2
    seen = [await observe(d) for d in units]
    assert len({o.leaf_sha256 for o in seen}) == 1
    assert seen[0].leaf.subject == seen[0].leaf.issuer  # self-signed, CN-only
    with pytest.raises(x509.ExtensionNotFound):
        seen[0].leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)


async def test_scenarios_present_what_they_promise(lab: Lab) -> None:
    by_scenario = {d.scenario.name: d for d in lab.devices}
    now = dt.datetime.now(dt.UTC)
    missing = await observe(by_scenario["missing-intermediate"])
    assert len(missing.chain) == 1 and missing.leaf.issuer == lab.pki.intermediate.cert.subject
    healthy = await observe(by_scenario["healthy"])
    assert len(healthy.chain) == 2
    assert (await observe(by_scenario["expired"])).leaf.not_valid_after_utc < now
    expiring = (await observe(by_scenario["expiring"])).leaf.not_valid_after_utc
    assert now < expiring < now + dt.timedelta(days=30)
    assert certinfo.key_description((await observe(by_scenario["weak-key"])).leaf) == ("RSA", 1024)
    sha1 = await observe(by_scenario["sha1"])
    assert sha1.leaf.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ECDSA_WITH_SHA1
    assert (await observe(by_scenario["x509-v1"])).leaf.version == x509.Version.v1
    stale = by_scenario["stale-ip"]
    assert san_ips((await observe(stale)).leaf) == [previous_address(stale.ip)]
    future = (await observe(by_scenario["not-yet-valid"])).leaf.not_valid_before_utc
    assert future > now + dt.timedelta(days=2)
    epoch = await observe(by_scenario["clock-1970"])
    assert epoch.leaf.not_valid_before_utc.year == 1970
    assert epoch.http is not None and epoch.http.device_time is not None
    assert epoch.http.device_time.year == 1970  # the HTTP Date comes from the device clock
    skew = await observe(by_scenario["clock-skew"])
    assert skew.http is not None and skew.http.device_time is not None
    assert abs((now - skew.http.device_time).total_seconds() - 3 * 3600) < 120


async def test_healthy_device_verifies_against_the_site_ca(lab: Lab) -> None:
    device = first(lab, personality="axis")
    ctx = ssl.create_default_context(cadata=lab.pki.site_bundle_pem().decode())
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream(device.ip, device.https_port)
        tls = trio.SSLStream(stream, ctx, server_hostname=device.ip)
        await tls.do_handshake()  # verifies the chain and the IP SAN
        await tls.aclose()


async def test_legacy_tls_only_where_planted(lab: Lab) -> None:
    async def handshake_tls10(address: str, port: int) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # asking for TLS 1.0 is the point
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with trio.fail_after(10):
            stream = await trio.open_tcp_stream(address, port)
            tls = trio.SSLStream(stream, ctx)
            try:
                await tls.do_handshake()
            except trio.BrokenResourceError:
                return False
            finally:
                await trio.aclose_forcefully(tls)
            return tls.version() == "TLSv1"

    legacy = first(lab, scenario="legacy-tls")
    modern = first(lab, personality="hikvision")
    assert await handshake_tls10(legacy.ip, legacy.https_port)
    assert not await handshake_tls10(modern.ip, modern.https_port)


async def test_prewarm_makes_every_context_up_front(lab: Lab) -> None:
    assert all(d._ctx is None for d in lab.devices)  # lazy by default
    with trio.fail_after(30):
        await lab.prewarm()
    assert all(d._ctx is not None for d in lab.devices)
    device = first(lab, personality="onvif")
    assert (await observe(device)).leaf == device.served().leaf


async def test_hostile_clients_do_not_stall_a_device(lab: Lab) -> None:
    device = first(lab, personality="axis")
    with trio.fail_after(10):
        silent = [await trio.open_tcp_stream(device.ip, device.https_port) for _ in range(5)]
        garbage = await trio.open_tcp_stream(device.ip, device.https_port)
        await garbage.send_all(b"GET / HTTP/1.1\r\n\r\n" + bytes(range(256)) * 8)
        plain = await trio.open_tcp_stream(device.ip, device.http_port)
        await plain.send_all(b"\x16\x03\x01garbage that is not HTTP\r\n\r\n")
    with trio.fail_after(5):
        assert b"400" in await plain.receive_some(4096)
    await observe(device)  # still answers while the others hang
    for stream in [*silent, garbage, plain]:
        await stream.aclose()
    assert device.errors == []


async def test_an_error_inside_the_lab_comes_out_as_itself() -> None:
    with pytest.raises(ValueError, match="boom"):
        async with open_lab(default_fleet(), size=2, https_port=0, http_port=None):
            raise ValueError("boom")


async def test_fleet_clock_offset_reaches_the_http_date() -> None:
    fleet = parse_fleet('[[devices]]\npersonality = "axis"\nclock_offset = -7200\n', "clock.toml")
    async with open_lab(fleet, https_port=0, http_port=None) as small:
        seen = await observe(small.devices[0])
    assert seen.http is not None and seen.http.device_time is not None
    assert abs((dt.datetime.now(dt.UTC) - seen.http.device_time).total_seconds() - 7200) < 60


async def test_camscan_scan_flags_the_stale_certificate_until_reboot(lab: Lab) -> None:
    from camscan.model import AuditContext, ScanParameters
    from camscan.pipeline import judge, run_scan
    from camscan.scanner.sweep import SweepOptions

    device = first(lab, personality="dahua", scenario="firmware-ca")

    async def rules_fired() -> set[str]:
        with trio.fail_after(30):
            scan = await run_scan(
                [device.endpoint], SweepOptions(), ScanParameters((device.ip,), (device.https_port,))
            )
            audit = await judge(scan, AuditContext(now=dt.datetime.now(dt.UTC)))
        assert len(scan.observations) == 1
        return {f.rule_id for f in audit.findings}

    assert "CS105" not in await rules_fired()
    with trio.fail_after(10):
        await device.change_ip(lab.allocate_address())
    assert "CS105" in await rules_fired()  # the certificate still names the old address
    with trio.fail_after(10):
        await device.reboot()
    assert "CS105" not in await rules_fired()
