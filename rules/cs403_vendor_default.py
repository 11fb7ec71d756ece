"""CS403: the device presents a known vendor factory-default certificate.

## What it checks
The leaf's subject and issuer (and the subjects of any CA certificates the device sends)
against a small table of factory certificates documented for camera and network-device
vendors (device-protocols.md, section 8, which cites its sources):

- issuer `CN=Product Root CA, O=DahuaTech` (Dahua and OEMs, warning): a per-device leaf made
  at boot by a CA baked into every firmware image.
- self-signed `CN=hikvision.com, O=HIKVISION` (Hikvision, error): a firmware-baked
  certificate and key shared by every unit (DS-KV6113 teardown).
- `O=Hikvision, OU=HIK` (Hikvision, warning): like the test certificates embedded in older
  SDK code.
- self-signed `CN=www.dlink.com, O=D-Link Corporation` (D-Link, error): a shared self-signed
  firmware certificate (bmork/defogger#9).
- issuer `CN=Axis device ID Intermediate CA ...` (Axis, notice): the factory IEEE 802.1AR
  device-ID certificate, used for HTTPS.
- self-signed with CN `192.168.1.64` or `192.168.1.108` (Hikvision / Dahua, warning): made
  for the vendor's factory-default address.

## Why it matters
A factory certificate was not issued for your deployment. When its key ships in the firmware
(shared certificates, or a built-in CA whose private key is in every image) anyone with the
firmware can impersonate the device; a per-device built-in CA also re-issues its certificate
only at boot, so it goes stale when the address changes (CS404). Trusting such a CA in
clients (seed 001, Solution 1) trusts every device of that vendor, including an attacker's.
The Axis 802.1AR certificate is per device and well protected, but it identifies the hardware
(serial number), not the address clients connect to.

## How to fix
Issue the device its own certificate from your site CA (create the CSR on the device, so the
key is its own) and upload it; do not add vendor built-in CAs to client trust stores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from camscan.certinfo import is_self_signed
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import presented

SOURCE = "device-protocols.md section 8"

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
    severity: Severity
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
        source=f"{SOURCE} (Zeek ssl.log samples)",
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
    for short, pattern in attributes.items():
        values = [str(a.value) for a in name.get_attributes_for_oid(_OIDS[short])]
        if not any(re.fullmatch(pattern, v.strip(), re.IGNORECASE) for v in values):
            return False
    return True


def matches(obs: Observation) -> Iterator[tuple[VendorDefault, int, x509.Name]]:
    """Each table entry the observation matches, with the chain position and name that matched."""
    chain = presented(obs)
    if not chain:
        return
    leaf = chain[0]
    leaf_self_signed: bool | None = None
    for entry in VENDOR_DEFAULTS:
        candidates: list[tuple[int, x509.Name]]
        if entry.where == "issuer":
            candidates = [(0, leaf.issuer)] + [(i, c.subject) for i, c in enumerate(chain) if i > 0]
        else:
            candidates = [(0, leaf.subject)]
        hit = next(((i, n) for i, n in candidates if name_matches(n, entry.attributes)), None)
        if hit is None:
            continue
        if entry.self_signed:
            if leaf_self_signed is None:
                leaf_self_signed = is_self_signed(leaf)
            if not leaf_self_signed:
                continue
        yield entry, hit[0], hit[1]


def built_in_ca(obs: Observation) -> VendorDefault | None:
    """The firmware built-in CA that issued this leaf, if the table knows it (used by CS404)."""
    return next((entry for entry, _, _ in matches(obs) if entry.built_in_ca), None)


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    for entry, position, matched in matches(obs):
        evidence = {
            "pattern": entry.id,
            "vendor": entry.vendor,
            "matched_name": matched.rfc4514_string(),
            "matched_in": "issuer" if entry.where == "issuer" and position == 0 else "subject",
            "position": position,
            "shared_key": entry.shared_key,
            "built_in_ca": entry.built_in_ca,
            "source": entry.source,
        }
        yield Violation(f"{entry.vendor} factory default: {entry.what}", evidence, entry.severity)


RULE = Rule(
    id="CS403",
    title="Known vendor default certificate",
    severity=Severity.WARNING,
    citation="device-protocols.md section 8 (and the sources it cites); seed 001 (Solution 1, Q1)",
    rationale="Factory certificates were not issued for your deployment; many share one key or a "
    "CA key that ships in every firmware image.",
    remediation="Issue the device its own certificate from your site CA (CSR made on the device) and "
    "upload it; never trust vendor built-in CAs on clients.",
    doc=__doc__ or "",
    check=check,
)
