"""Fleet scenarios: how each simulated device's certificate and clock are broken (or not).

A scenario either installs a certificate at "commissioning" (as if an administrator had uploaded
it: it survives reboots, Sunell HTTPS FAQ Q2) or leaves the firmware default in place (a certificate
generated at every boot by the built-in CA, Sunell HTTPS FAQ Q1, or a factory-default certificate shared
by every unit of a model). `rules` lists the camscan rule ids the scenario is meant to trigger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

from camscan import pki
from camscan.lab.certs import Credentials, LabPKI, previous_address
from camscan.lab.der import resign
from camscan.lab.identity import Identity

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class ScenarioInput:
    pki: LabPKI
    ip: str
    identity: Identity
    now: dt.datetime  # the real time at commissioning
    key_kind: str = "ec-p256"
    group: str = ""  # devices of one fleet entry share it (for shared uploads)


Installer = Callable[[ScenarioInput], Credentials]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    rules: tuple[str, ...] = ()
    install: Installer | None = None  # None: the firmware's own certificate is served
    firmware: str = "builtin-ca"  # or "factory-default"
    clock_offset: float = 0.0  # seconds the device clock is off
    clock_1970: bool = False  # RTC lost: the clock starts at 1970 at every boot (no NTP)
    legacy_tls: bool = False  # accepts TLS 1.0 / 1.1
    weak: bool = False  # needs OpenSSL security level 0 to be served at all


def _site_leaf(inp: ScenarioInput, *, full_chain: bool = True, **kwargs: object) -> Credentials:
    key = pki.new_key(str(kwargs.pop("key_kind", inp.key_kind)))
    kwargs.setdefault("ips", [inp.ip])
    kwargs.setdefault("common_name", inp.ip)
    issued = pki.make_leaf(inp.pki.intermediate, key=key, **kwargs)  # type: ignore[arg-type]
    chain = (issued.cert, inp.pki.intermediate.cert) if full_chain else (issued.cert,)
    return Credentials(chain, key)


def _healthy(inp: ScenarioInput) -> Credentials:
    return _site_leaf(inp)


def _missing_intermediate(inp: ScenarioInput) -> Credentials:
    return _site_leaf(inp, full_chain=False)


def _expired(inp: ScenarioInput) -> Credentials:
    return _site_leaf(inp, not_before=inp.now - 400 * DAY, not_after=inp.now - 35 * DAY)


def _expiring(inp: ScenarioInput) -> Credentials:
    return _site_leaf(inp, not_before=inp.now - 355 * DAY, not_after=inp.now + 10 * DAY)


def _long_validity(inp: ScenarioInput) -> Credentials:
    return _site_leaf(inp, not_before=inp.now - DAY, not_after=inp.now + 5 * 365 * DAY)


def _weak_key(inp: ScenarioInput) -> Credentials:
    return _site_leaf(inp, key_kind="rsa-1024")


def _cn_only(inp: ScenarioInput) -> Credentials:
    return _site_leaf(inp, include_san=False)


def _ip_as_dns(inp: ScenarioInput) -> Credentials:
    return _site_leaf(inp, ips=[], dns=[inp.ip])


def _stale_ip(inp: ScenarioInput) -> Credentials:
    old = previous_address(inp.ip)
    return _site_leaf(inp, ips=[old], common_name=old)


def _leaf_is_ca(inp: ScenarioInput) -> Credentials:
    return _site_leaf(inp, is_ca=True)


def _client_auth(inp: ScenarioInput) -> Credentials:
    return _site_leaf(inp, server_auth=False)


def _sha1(inp: ScenarioInput) -> Credentials:
    creds = _site_leaf(inp)
    leaf = resign(creds.leaf, inp.pki.intermediate.key, hash_name="sha1")
    return Credentials((leaf, inp.pki.intermediate.cert), creds.key)


def _x509_v1(inp: ScenarioInput) -> Credentials:
    creds = _site_leaf(inp)
    leaf = resign(creds.leaf, inp.pki.intermediate.key, hash_name="sha256", version1=True)
    return Credentials((leaf, inp.pki.intermediate.cert), creds.key)


def _self_signed(inp: ScenarioInput) -> Credentials:
    issued = pki.make_leaf(None, common_name=inp.ip, ips=[inp.ip], key=pki.new_key(inp.key_kind))
    return Credentials((issued.cert,), issued.key)


def _unrelated_chain(inp: ScenarioInput) -> Credentials:
    creds = _site_leaf(inp)
    return Credentials((creds.leaf, inp.pki.rogue.cert), creds.key)


def _issuer_not_ca(inp: ScenarioInput) -> Credentials:
    # An end-entity certificate used as an issuer: the signature is fine, the path is not.
    fake_issuer = pki.make_leaf(inp.pki.intermediate, common_name="not-a-ca.lab.invalid",
                                hash_algorithm=hashes.SHA256())
    key = pki.new_key(inp.key_kind)
    leaf = pki.make_leaf(fake_issuer, common_name=inp.ip, ips=[inp.ip], key=key)
    return Credentials((leaf.cert, fake_issuer.cert, inp.pki.intermediate.cert), key)


def _duplicate(inp: ScenarioInput) -> Credentials:
    return inp.pki.shared_upload(inp.group or "shared", inp.ip)


_ALL = [
    Scenario("healthy", "site-CA signed, IP in SAN, full chain", (), _healthy),
    # The device sends only its leaf; the issuer is the firmware's root (never sent), so the
    # verdict is an untrusted root (CS202, inferred), not a missing intermediate.
    Scenario("firmware-ca", "per-boot certificate from the firmware's built-in root (Sunell HTTPS FAQ Q1)",
             ("CS202", "CS109")),
    Scenario("factory-default", "self-signed certificate and key shared by every unit of the model",
             ("CS401", "CS402", "CS403", "CS106", "CS109", "CS111", "CS202"), firmware="factory-default"),
    Scenario("missing-intermediate", "leaf sent without its intermediate (OpenMV TLS guide)", ("CS201",),
             _missing_intermediate),
    Scenario("expired", "expired 35 days ago", ("CS120",), _expired),
    Scenario("expiring", "expires in 10 days", ("CS121",), _expiring),
    Scenario("long-validity", "valid for five years", ("CS109",), _long_validity),
    Scenario("weak-key", "RSA-1024 key", ("CS101",), _weak_key, weak=True),
    Scenario("sha1", "leaf signed with SHA-1", ("CS102",), _sha1, weak=True),
    Scenario("cn-only", "IP only in the CN, no subjectAltName", ("CS106",), _cn_only),
    Scenario("ip-as-dns", "IP written as a dNSName SAN", ("CS107", "CS105"), _ip_as_dns),
    Scenario("stale-ip", "certificate for the address the device had before", ("CS105",), _stale_ip),
    Scenario("leaf-is-ca", "leaf has basicConstraints CA=TRUE", ("CS103",), _leaf_is_ca),
    Scenario("client-auth-eku", "EKU allows clientAuth only", ("CS104",), _client_auth),
    Scenario("x509-v1", "X.509 version 1 leaf (no extensions)", ("CS110", "CS106"), _x509_v1, weak=True),
    Scenario("self-signed", "self-signed leaf with the IP in SAN", ("CS111", "CS202"), _self_signed),
    Scenario("unrelated-chain", "leaf presented with an unrelated intermediate", ("CS203",),
             _unrelated_chain),
    Scenario("issuer-not-ca", "leaf issued by an end-entity certificate", ("CS204",), _issuer_not_ca),
    Scenario("duplicate-cert", "one certificate and key uploaded to several devices (Sunell HTTPS FAQ Q4)",
             ("CS401", "CS402"), _duplicate),
    Scenario("not-yet-valid", "clock 3 days ahead when the firmware made its certificate",
             ("CS122", "CS302", "CS202"), clock_offset=3 * 86400.0),
    Scenario("clock-1970", "RTC lost, no NTP: clock in 1970, certificate made in 1970",
             ("CS120", "CS302", "CS202"), clock_1970=True),
    Scenario("clock-skew", "healthy certificate, clock 3 hours slow", ("CS302",), _healthy,
             clock_offset=-3 * 3600.0),
    Scenario("legacy-tls", "healthy certificate, accepts TLS 1.0 and 1.1", ("CS301",), _healthy,
             legacy_tls=True),
]
SCENARIOS: dict[str, Scenario] = {s.name: s for s in _ALL}
