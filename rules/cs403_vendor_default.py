"""CS403: the device presents a known vendor factory-default certificate.

## What it checks
The leaf's subject and issuer (and the subjects of any CA certificates the device sends)
against a small table of factory certificates documented for camera and network-device
vendors (rules/vendor_pki.py, shared with CS404 and the chain verdict; each entry cites its
public source):

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
clients (Sunell HTTPS FAQ, Solution 1) trusts every device of that vendor, including an attacker's.
The Axis 802.1AR certificate is per device and well protected, but it identifies the hardware
(serial number), not the address clients connect to.

## How to fix
Issue the device its own certificate from your site CA (create the CSR on the device, so the
key is its own) and upload it; do not add vendor built-in CAs to client trust stores.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import presented
from camscan.rules.vendor_pki import VENDOR_DEFAULTS, VendorDefault, chain_matches

__all__ = ["RULE", "VENDOR_DEFAULTS", "VendorDefault", "check", "matches"]


def matches(obs: Observation) -> Iterator[tuple[VendorDefault, int, x509.Name]]:
    """Each table entry (rules/vendor_pki.py) the observation matches, with position and name."""
    return chain_matches(presented(obs))


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
    citation="camscan vendor PKI table (each entry with its public source); "
    "Sunell HTTPS FAQ (Solution 1, Q1)",
    rationale="Factory certificates were not issued for your deployment; many share one key or a "
    "CA key that ships in every firmware image.",
    remediation="Issue the device its own certificate from your site CA (CSR made on the device) and "
    "upload it; never trust vendor built-in CAs on clients.",
    doc=__doc__ or "",
    check=check,
)
