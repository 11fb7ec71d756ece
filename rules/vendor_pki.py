"""Known vendor firmware PKI: built-in CAs and factory-default certificates (pure data + matchers).

One table, shared by CS403 (known vendor default certificate), CS404 (stale certificate after
an IP change: a built-in CA names the boot-time address) and the chain verdict in trust/verdict.py (a
leaf whose issuer is a firmware built-in CA is an untrusted root, not a missing intermediate).

Every entry cites its public source:

- Dahua (and OEMs): per-device leaf issued at boot by a "Product Root CA" baked into every
  firmware image (issuer `O=DahuaTech,L=HangZhou,ST=ZheJiang,C=CN,CN=Product Root CA`; Zeek
  ssl.log samples quoted in network-analysis repositories). The Sunell HTTPS FAQ describes exactly this
  PKI: "The firmware has a root CA and root CA private key ... every time when the device starts
  up, it will use the root CA and private key to generate a server certificate" (Q1), and the
  administrator can export it as "cacert.crt" (Solution 1).
- Hikvision: a firmware-baked self-signed `CN=hikvision.com,O=HIKVISION` whose key every unit
  shares (DS-KV6113 teardown write-up); `O=Hikvision,OU=HIK` test certificates in older SDK code.
- D-Link: a shared self-signed `CN=www.dlink.com,O=D-Link Corporation` (bmork/defogger#9).
- Axis: factory IEEE 802.1AR device-ID certificates issued by `Axis device ID Intermediate CA
  ...` (AXIS OS research note; Keyfactor DeviceCertValidator.cs).
- Self-signed certificates for the vendors' factory-default addresses (192.168.1.64 Hikvision,
  192.168.1.108 Dahua), the section's heuristic.

The attribute regexes match whole attribute values, ignoring case and surrounding spaces.
Nothing here does I/O or looks at the network.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from camscan.certinfo import is_self_signed
from camscan.model import Severity

SOURCE = "camscan vendor PKI table"

_OIDS = {
    "CN": NameOID.COMMON_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
}


@dataclass(frozen=True)
class VendorDefault:
    """One factory-certificate pattern. Regexes match whole attribute values, ignoring case."""

    id: str
    vendor: str
    what: str
    where: str  # "issuer": the leaf's issuer (or a presented CA's subject); "subject": the leaf's subject
    attributes: Mapping[str, str]
    severity: Severity  # CS403's severity for this pattern
    source: str
    self_signed: bool = False  # the pattern only counts on a self-signed leaf
    shared_key: bool = False  # the private key is the same on every unit
    built_in_ca: bool = False  # a firmware CA that issues the leaf at boot for the current address


VENDOR_DEFAULTS: tuple[VendorDefault, ...] = (
    VendorDefault(
        id="dahua-product-root-ca",
        vendor="Dahua",
        what="leaf issued at boot by the firmware's built-in 'Product Root CA'",
        where="issuer",
        attributes={"CN": r"Product Root CA", "O": r"Dahua ?Tech(nology)?"},
        severity=Severity.WARNING,
        source=f"{SOURCE} (Zeek ssl.log samples); Sunell HTTPS FAQ Q1",
        built_in_ca=True,
    ),
    VendorDefault(
        id="hikvision-firmware-shared",
        vendor="Hikvision",
        what="firmware-baked self-signed certificate whose key every unit shares",
        where="subject",
        attributes={"CN": r"hikvision\.com", "O": r"HIKVISION"},
        severity=Severity.ERROR,
        source=f"{SOURCE} (DS-KV6113 teardown write-up)",
        self_signed=True,
        shared_key=True,
    ),
    VendorDefault(
        id="hikvision-sdk-test",
        vendor="Hikvision",
        what="matches the test certificates embedded in older Hikvision SDK code",
        where="subject",
        attributes={"O": r"Hikvision", "OU": r"HIK"},
        severity=Severity.WARNING,
        source=f"{SOURCE} (older SDK code)",
    ),
    VendorDefault(
        id="dlink-firmware-shared",
        vendor="D-Link",
        what="firmware-baked self-signed certificate shared by every unit",
        where="subject",
        attributes={"CN": r"www\.dlink\.com", "O": r"D-Link Corporation"},
        severity=Severity.ERROR,
        source=f"{SOURCE} (bmork/defogger#9)",
        self_signed=True,
        shared_key=True,
    ),
    VendorDefault(
        id="axis-device-id",
        vendor="Axis",
        what="factory IEEE 802.1AR device-ID certificate (names the serial number, not the address)",
        where="issuer",
        attributes={"CN": r"Axis device ID Intermediate CA.*"},
        severity=Severity.NOTICE,
        source=f"{SOURCE} (AXIS OS research note; Keyfactor DeviceCertValidator.cs)",
    ),
    VendorDefault(
        id="factory-default-address",
        vendor="Hikvision/Dahua",
        what="self-signed certificate made for the vendor's factory-default address",
        where="subject",
        attributes={"CN": r"192\.168\.1\.(64|108)"},  # vendor default IPs: pattern data only
        severity=Severity.WARNING,
        source=f"{SOURCE} (heuristic: 192.168.1.64 Hikvision, 192.168.1.108 Dahua default IPs)",
        self_signed=True,
    ),
)


def name_matches(name: x509.Name, attributes: Mapping[str, str]) -> bool:
    """Every attribute of the pattern is present in `name` with a value its regex matches."""
    for short, pattern in attributes.items():
        values = [str(a.value) for a in name.get_attributes_for_oid(_OIDS[short])]
        if not any(re.fullmatch(pattern, v.strip(), re.IGNORECASE) for v in values):
            return False
    return True


def chain_matches(chain: Sequence[x509.Certificate]) -> Iterator[tuple[VendorDefault, int, x509.Name]]:
    """Each table entry a presented chain matches, with the chain position and name that matched."""
    if not chain:
        return
    leaf = chain[0]
    leaf_self_signed: bool | None = None
    for entry in VENDOR_DEFAULTS:
        candidates: list[tuple[int, x509.Name]]
        if entry.where == "issuer":
            candidates = [(0, n) for n in _decoded(leaf, "issuer")] + [
                (i, n) for i, c in enumerate(chain) if i > 0 for n in _decoded(c, "subject")
            ]
        else:
            candidates = [(0, n) for n in _decoded(leaf, "subject")]
        hit = next(((i, n) for i, n in candidates if name_matches(n, entry.attributes)), None)
        if hit is None:
            continue
        if entry.self_signed:
            if leaf_self_signed is None:
                leaf_self_signed = is_self_signed(leaf)
            if not leaf_self_signed:
                continue
        yield entry, hit[0], hit[1]


def _decoded(cert: x509.Certificate, which: str) -> list[x509.Name]:
    """[the name], or [] when cryptography cannot decode it (invalid bytes from the device): such
    a name matches no vendor pattern, and the rules go on instead of failing."""
    try:
        return [cert.issuer if which == "issuer" else cert.subject]
    except ValueError:
        return []


def built_in_ca(chain: Sequence[x509.Certificate]) -> VendorDefault | None:
    """The firmware built-in CA that issued this chain's leaf, if the table knows it (CS404)."""
    return next((entry for entry, _, _ in chain_matches(chain) if entry.built_in_ca), None)


def built_in_ca_named(issuer: x509.Name) -> VendorDefault | None:
    """The firmware built-in CA whose name `issuer` is, if the table knows it (the chain verdict)."""
    return next(
        (
            entry
            for entry in VENDOR_DEFAULTS
            if entry.built_in_ca and entry.where == "issuer" and name_matches(issuer, entry.attributes)
        ),
        None,
    )


# "Root" as a word at the start of a word of the CN: "Product Root CA", "DS-2CD2143 Root CA",
# "RootCA", "root-ca"; not "Uproot". A CA that calls itself a root is, by its own account, the
# top of its hierarchy, so a leaf it signed directly needs no intermediate.
_ROOT_WORD = re.compile(r"(?<![A-Za-z])root", re.IGNORECASE)


def says_root(name: x509.Name) -> str | None:
    """The Common Name of `name` if it calls itself a root ("... Root CA"), else None."""
    for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = str(attribute.value)
        if _ROOT_WORD.search(value):
            return value
    return None
