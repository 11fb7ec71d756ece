"""The lab's certificate authorities: the site CA the demo trusts, the firmware's built-in CAs,
factory-default certificates shared by every unit of a model, and an unrelated CA.

RSA key generation is slow (tens of milliseconds), so RSA keys that real firmware shares anyway
(built-in CA keys, factory-default keys) come from a process-wide pool; per-device keys are EC.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.lab.identity import Identity
from camscan.pki import Issued, PrivateKey

FACTORY_NOT_BEFORE = dt.datetime(2019, 12, 17, tzinfo=dt.UTC)
FACTORY_NOT_AFTER = dt.datetime(2037, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


@functools.cache
def pooled_key(kind: str, slot: str) -> PrivateKey:
    """One key per (kind, slot) for the whole process: shared by design, like firmware keys."""
    return pki.new_key(kind)


@dataclass(frozen=True)
class Credentials:
    """What a device's HTTPS server presents (chain, leaf first) and the leaf's private key."""

    chain: tuple[x509.Certificate, ...]
    key: PrivateKey

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    def chain_pem(self) -> bytes:
        return pki.pem_chain(self.chain)

    def key_pem(self) -> bytes:
        return pki.key_to_pem(self.key)


def public_bytes(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_matches(cert: x509.Certificate, key: PrivateKey) -> bool:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == public_bytes(key)


def previous_address(ip: str) -> str:
    """The address a re-addressed device had before (another 127.x address, for stale certificates)."""
    return str(ipaddress.ip_address(int(ipaddress.ip_address(ip)) ^ 0x00010000))


_VENDOR_CA_NAMES: dict[str, dict[str, str]] = {
    "dahua": {"O": "DahuaTech", "L": "HangZhou", "ST": "ZheJiang", "C": "CN"},
    "hikvision": {"O": "Hikvision", "OU": "HIK", "C": "CN"},
    "axis": {"O": "Axis Communications AB", "C": "SE"},
    "onvif": {"O": "Zhejiang Uniview Technologies", "C": "CN"},
}


@dataclass
class LabPKI:
    """All CAs of one lab. The site CA (root + issuing intermediate) is what the demo trusts."""

    root: Issued
    intermediate: Issued
    rogue: Issued  # unrelated to everything: presented in broken chains
    _vendor_cas: dict[tuple[str, str], Issued] = field(default_factory=dict)
    _factory: dict[tuple[str, str], Credentials] = field(default_factory=dict)
    _shared: dict[str, Credentials] = field(default_factory=dict)

    @classmethod
    def create(cls, organisation: str = "camscan lab") -> LabPKI:
        root = pki.make_ca(f"{organisation} site root CA", subject=pki.name(
            f"{organisation} site root CA", O=organisation))
        intermediate = pki.make_ca(
            f"{organisation} site issuing CA", issuer=root, path_length=0,
            subject=pki.name(f"{organisation} site issuing CA", O=organisation))
        rogue = pki.make_ca("Unrelated Issuing CA", subject=pki.name("Unrelated Issuing CA", O="Elsewhere"))
        return cls(root, intermediate, rogue)

    def vendor_ca(self, identity: Identity) -> Issued:
        """The firmware's built-in root CA (Sunell HTTPS FAQ): one per model, baked into every unit."""
        slot = (identity.vendor.personality, identity.model)
        if slot not in self._vendor_cas:
            attrs = _VENDOR_CA_NAMES[identity.vendor.personality]
            cn = "Product Root CA" if identity.vendor.personality == "dahua" else f"{identity.model} Root CA"
            self._vendor_cas[slot] = pki.make_ca(
                cn, key=pooled_key("rsa-2048", "vendor-ca:" + "/".join(slot)),
                subject=pki.name(cn, **attrs),
                not_before=dt.datetime(2023, 8, 14, tzinfo=dt.UTC),
                not_after=dt.datetime(2033, 8, 11, tzinfo=dt.UTC))
        return self._vendor_cas[slot]

    def vendor_cas(self) -> list[Issued]:
        return list(self._vendor_cas.values())

    def factory_default(self, identity: Identity) -> Credentials:
        """A self-signed certificate and key baked into every unit of a model (same key everywhere)."""
        slot = (identity.vendor.personality, identity.model)
        if slot not in self._factory:
            vendor = identity.vendor
            key = pooled_key("rsa-2048", "factory:" + "/".join(slot))
            if vendor.personality == "hikvision":
                subject = pki.name("hikvision.com", C="CN", ST="ZJ", L="HZ", O="HIKVISION", OU="HZ")
            elif vendor.personality == "dahua":
                subject = pki.name(vendor.default_ip, C="CN", ST="ZHEJIANG", L="HANGZHOU", O="DAHUA",
                                   OU="DAHUATECH")
            else:
                subject = pki.name(vendor.default_ip, O=vendor.manufacturer)
            issued = pki.make_leaf(
                None, subject=subject, key=key, include_san=False,
                not_before=FACTORY_NOT_BEFORE, not_after=FACTORY_NOT_AFTER, serial=0x1001)
            self._factory[slot] = Credentials((issued.cert,), issued.key)
        return self._factory[slot]

    def shared_upload(self, tag: str, ip: str) -> Credentials:
        """One certificate + key an administrator uploaded to several devices (Sunell HTTPS FAQ, Q4)."""
        if tag not in self._shared:
            issued = pki.make_leaf(self.intermediate, common_name=ip, ips=[ip])
            self._shared[tag] = Credentials((issued.cert, self.intermediate.cert), issued.key)
        return self._shared[tag]

    def site_bundle_pem(self) -> bytes:
        """The site root: what a scan passes as --ca-bundle to trust the healthy devices."""
        return pki.pem_chain([self.root.cert])

    def firmware_bundle_pem(self, extra: Iterable[Issued] = ()) -> bytes:
        """Every built-in firmware CA the lab has made (Sunell HTTPS FAQ Solution 1: import cacert.crt)."""
        return pki.pem_chain([ca.cert for ca in [*self._vendor_cas.values(), *extra]])


def load_private_key(data: bytes, *, der: bool = False) -> PrivateKey:
    """An uploaded private key (PKCS#8, PKCS#1 or SEC1); only the kinds a camera can serve."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = (serialization.load_der_private_key(data, password=None) if der
               else serialization.load_pem_private_key(data, password=None))
    except TypeError as exc:
        raise ValueError("the private key is encrypted") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError("unsupported private key type")
    return key
