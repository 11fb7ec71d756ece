"""CS401 shared key, CS402 shared certificate, CS404 stale certificate after an IP change."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from camscan import certinfo, pki
from camscan.model import DeviceIdentity, Endpoint, HistoryFact, Observation, Severity
from camscan.rules import (
    cs401_shared_key,
    cs402_shared_certificate,
    cs404_stale_after_ip_change,
)
from camscan.rules.profile_helpers import MAX_LISTED
from tests.rules.profile_support import NOW, context, findings, fleet, observation

DAY = dt.timedelta(days=1)
NB = NOW - 30 * DAY


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.make_ca("fleet site CA", not_before=NOW - 400 * DAY)


def own_cert(ca: pki.Issued, address: str, key: pki.PrivateKey | None = None) -> x509.Certificate:
    return pki.make_leaf(ca, ips=[address], key=key, not_before=NB).cert


# --- CS401 ---------------------------------------------------------------------------------------


def test_cs401_same_key_in_different_certificates(ca: pki.Issued) -> None:
    factory_key = pki.new_key("ec-p256")
    addresses = ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
    observations = [observation([own_cert(ca, a, factory_key)], address=a) for a in addresses]
    observations.append(observation([own_cert(ca, "127.0.1.4")], address="127.0.1.4"))
    found = fleet(cs401_shared_key, observations)
    assert sorted(e.address for e, _ in found) == addresses
    _, v = found[0]
    assert v.evidence["devices"] == 3 and v.evidence["distinct_certificates"] == 3
    assert v.evidence["spki_sha256"] == certinfo.spki_sha256(observations[0].leaf)
    assert v.evidence["shared_with"] == ["127.0.1.2:443", "127.0.1.3:443"]
    via_registry = findings("CS401", observations)
    assert len(via_registry) == 3 and all(f.severity is Severity.ERROR for f in via_registry)


def test_cs401_one_device_on_two_ports_or_two_addresses_passes(ca: pki.Issued) -> None:
    key = pki.new_key("ec-p256")
    cert = own_cert(ca, "127.0.1.5", key)
    two_ports = [observation([cert], address="127.0.1.5", port=p) for p in (443, 8443)]
    assert fleet(cs401_shared_key, two_ports) == []
    # Two addresses, one MAC (a dual-homed camera): one device.
    mac = DeviceIdentity(mac="00:40:8C:12:34:56")
    dual = [
        observation([cert], address="127.0.1.5", identity=mac),
        observation([own_cert(ca, "127.0.1.6", key)], address="127.0.1.6", identity=mac),
    ]
    assert fleet(cs401_shared_key, dual) == []
    # Different MACs: two devices.
    other = DeviceIdentity(mac="00-40-8c-65-43-21")
    split = [dual[0], observation([own_cert(ca, "127.0.1.6", key)], address="127.0.1.6", identity=other)]
    assert len(fleet(cs401_shared_key, split)) == 2


def test_cs401_distinct_keys_pass(ca: pki.Issued) -> None:
    observations = [observation([own_cert(ca, a)], address=a) for a in ("127.0.1.7", "127.0.1.8")]
    assert fleet(cs401_shared_key, observations) == []
    assert findings("CS401", observations) == []


# --- CS402 ---------------------------------------------------------------------------------------


def test_cs402_identical_certificate_on_several_devices(ca: pki.Issued) -> None:
    copied = pki.make_leaf(ca, ips=["127.0.2.1"], dns=["cams.example.test"], not_before=NB).cert
    observations = [observation([copied], address=f"127.0.2.{i}") for i in (1, 2)]
    found = fleet(cs402_shared_certificate, observations)
    assert [e.address for e, _ in found] == ["127.0.2.1", "127.0.2.2"]
    assert found[0][1].evidence["shared_with"] == ["127.0.2.2:443"]
    assert found[0][1].evidence["san_ip"] == ["127.0.2.1"]
    assert found[0][1].evidence["sha256"] == certinfo.cert_sha256(copied)
    assert [f.severity for f in findings("CS402", observations)] == [Severity.WARNING] * 2
    # An identical certificate means an identical key: CS401 says so too.
    assert len(findings("CS401", observations)) == 2


def test_cs402_same_host_two_ports_and_distinct_certificates_pass(ca: pki.Issued) -> None:
    cert = own_cert(ca, "127.0.2.3")
    assert fleet(cs402_shared_certificate, [observation([cert], port=p) for p in (443, 8443)]) == []
    distinct = [observation([own_cert(ca, a)], address=a) for a in ("127.0.2.4", "127.0.2.5")]
    assert fleet(cs402_shared_certificate, distinct) == []


def test_cs402_evidence_is_capped_but_counted(ca: pki.Issued) -> None:
    copied = own_cert(ca, "127.0.3.1")
    observations = [observation([copied], address=f"127.0.3.{i}") for i in range(1, 31)]
    found = fleet(cs402_shared_certificate, observations)
    assert len(found) == 30
    evidence = found[0][1].evidence
    assert evidence["devices"] == 30 and len(evidence["shared_with"]) == MAX_LISTED


# --- CS404 ---------------------------------------------------------------------------------------

OLD, NEW = "127.0.4.5", "127.0.4.9"
MAC = "AC:CC:8E:00:00:01"


def fact(
    obs_cert: x509.Certificate, address: str, *, mac: str | None = None, days_ago: int = 7
) -> HistoryFact:
    return HistoryFact(
        endpoint=Endpoint(address, 443),
        seen_at=NOW - days_ago * DAY,
        leaf_sha256=certinfo.cert_sha256(obs_cert),
        spki_sha256=certinfo.spki_sha256(obs_cert),
        mac=mac,
    )


def moved(cert: x509.Certificate, mac: str | None = MAC) -> Observation:
    return observation([cert], address=NEW, identity=DeviceIdentity(mac=mac))


def test_cs404_history_same_mac_at_the_named_address(ca: pki.Issued) -> None:
    cert = own_cert(ca, OLD)
    earlier_cert = own_cert(ca, OLD)  # a different certificate then: the MAC is what ties them
    ctx = context(history=[fact(earlier_cert, OLD, mac=MAC.lower())])
    [(endpoint, v)] = fleet(cs404_stale_after_ip_change, [moved(cert)], ctx)
    assert endpoint.address == NEW
    assert v.evidence["previous_address"] == OLD and v.evidence["named_addresses"] == [OLD]
    assert [b["basis"] for b in v.evidence["evidence"]] == ["history_mac"]
    [f] = findings("CS404", [moved(cert)], ctx)
    assert f.severity is Severity.ERROR and "reboot" in f.remediation.lower()


def test_cs404_history_same_key(ca: pki.Issued) -> None:
    cert = own_cert(ca, OLD)
    ctx = context(history=[fact(cert, OLD)])
    [(_, v)] = fleet(cs404_stale_after_ip_change, [moved(cert, mac=None)], ctx)
    assert [b["basis"] for b in v.evidence["evidence"]] == ["history_key", "history_certificate"]


def test_cs404_wrong_ip_without_evidence_is_not_stale(ca: pki.Issued) -> None:
    cert = own_cert(ca, OLD)
    assert fleet(cs404_stale_after_ip_change, [moved(cert)], context()) == []
    # History about another device (other MAC, other key) at the named address proves nothing.
    stranger = own_cert(ca, OLD)
    ctx = context(history=[fact(stranger, OLD, mac="00:40:8c:99:99:99")])
    assert fleet(cs404_stale_after_ip_change, [moved(cert)], ctx) == []
    # Nor does a sighting at the named address after this observation.
    later = context(history=[fact(cert, OLD, mac=MAC, days_ago=-1)])
    assert fleet(cs404_stale_after_ip_change, [moved(cert)], later) == []


def test_cs404_certificate_naming_the_current_address_passes(ca: pki.Issued) -> None:
    both = pki.make_leaf(ca, ips=[NEW, OLD], not_before=NB).cert
    ctx = context(history=[fact(both, OLD, mac=MAC)])
    assert fleet(cs404_stale_after_ip_change, [moved(both)], ctx) == []


def test_cs404_shared_key_in_this_scan_is_no_identity(ca: pki.Issued) -> None:
    factory = pki.new_key("ec-p256")
    cert = own_cert(ca, OLD, factory)
    twin = observation([own_cert(ca, "127.0.4.7", factory)], address="127.0.4.7")
    ctx = context(history=[fact(cert, OLD)])
    assert fleet(cs404_stale_after_ip_change, [moved(cert, mac=None), twin], ctx) == []


def test_cs404_built_in_ca_names_the_boot_address() -> None:
    dahua = pki.name("Product Root CA", C="CN", ST="ZheJiang", L="HangZhou", O="DahuaTech")
    firmware_ca = pki.make_ca("Product Root CA", subject=dahua, not_before=NOW - 400 * DAY)
    booted_at_old = pki.make_leaf(firmware_ca, common_name=OLD, include_san=False, not_before=NB).cert
    [(_, v)] = fleet(cs404_stale_after_ip_change, [moved(booted_at_old, mac=None)], context())
    assert v.evidence["evidence"][0]["basis"] == "built_in_ca"
    assert v.evidence["evidence"][0]["vendor"] == "Dahua" and v.evidence["previous_address"] == OLD
    assert "built-in CA" in v.message
    # After a reboot the firmware names the current address: nothing to report.
    rebooted = pki.make_leaf(firmware_ca, common_name=NEW, ips=[NEW], not_before=NB).cert
    assert fleet(cs404_stale_after_ip_change, [moved(rebooted, mac=None)], context()) == []


def test_cs404_serial_number_and_ipv6_spellings(ca: pki.Issued) -> None:
    # Pure data (never contacted): documentation-prefix IPv6 addresses written two ways.
    old_v6, new_v6 = "2001:db8::5", "2001:db8::9"
    cert = pki.make_leaf(ca, ips=[old_v6], not_before=NB).cert
    seen = HistoryFact(
        Endpoint("2001:0db8:0000::0005", 443), NOW - DAY, "0" * 64, "1" * 64, serial="ACCC8E000001"
    )
    obs = observation([cert], address=new_v6, identity=DeviceIdentity(serial="accc8e000001"))
    [(_, v)] = fleet(cs404_stale_after_ip_change, [obs], context(history=[seen]))
    assert v.evidence["evidence"][0]["basis"] == "history_serial"
    assert v.evidence["previous_address"] == "2001:0db8:0000::0005"
    # Another serial: no evidence.
    other = HistoryFact(Endpoint(old_v6, 443), NOW - DAY, "0" * 64, "1" * 64, serial="B8A44F000002")
    assert fleet(cs404_stale_after_ip_change, [obs], context(history=[other])) == []
