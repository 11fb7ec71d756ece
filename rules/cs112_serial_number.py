"""CS112: a certificate's serial number is not a positive integer of at most 20 octets.

## What it checks
The serialNumber of the leaf and of every presented intermediate: it must be positive
(greater than zero) and its DER encoding at most 20 octets. A self-signed root the device also
sends is not judged (trust anchors are taken for their name and key).

## Why it matters
RFC 5280 4.1.2.2 requires a positive serial of at most 20 octets. Firmware that builds its
certificates by hand often writes a zero or a negative serial (a random 8-byte value whose top
bit happens to be set, encoded without the leading zero byte). Strict clients already refuse
them: Go's crypto/x509 rejects negative serials since Go 1.23 (the `x509negativeserial`
setting), which is what many VMS integrations and exporters are built with, and pyca/cryptography
has deprecated loading them ("will cause an exception in a future release"). An over-long serial
is refused by fewer clients today, so it is a warning.

## How to fix
Re-issue the certificate with a random positive serial of at most 20 octets (OpenSSL and every
CA do this by default: `openssl x509 -req ... -CAcreateserial`, or `-set_serial 0x<hex>` with a
positive value). For a certificate the firmware makes at boot, update the firmware or replace the
certificate with one from your site CA.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, presented, role

MAX_SERIAL_OCTETS = 20


def serial_octets(serial: int) -> int:
    """Length of the DER INTEGER content for `serial` (two's complement, minimal)."""
    if serial >= 0:
        return serial.bit_length() // 8 + 1
    return (~serial).bit_length() // 8 + 1


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    for index, cert in enumerate(presented(obs)):
        cert_role = role(index, cert)
        if cert_role == "root":
            continue
        serial = cert.serial_number
        evidence = cert_ref(index, cert, cert_role) | {"serial_number": str(serial)}
        if serial <= 0:
            yield Violation(
                f"the {cert_role}'s serial number is {'zero' if serial == 0 else 'negative'} "
                f"({serial}): RFC 5280 requires a positive serial, and strict clients refuse it",
                evidence,
                severity=Severity.ERROR,
            )
        elif (octets := serial_octets(serial)) > MAX_SERIAL_OCTETS:
            yield Violation(
                f"the {cert_role}'s serial number is {octets} octets long, more than the "
                f"{MAX_SERIAL_OCTETS} RFC 5280 allows",
                evidence | {"serial_octets": octets},
                severity=Severity.WARNING,
            )


RULE = Rule(
    id="CS112",
    title="Serial number not positive or longer than 20 octets",
    severity=Severity.ERROR,
    citation="RFC 5280 4.1.2.2; Go crypto/x509 (x509negativeserial, Go 1.23)",
    rationale="A zero or negative serial is invalid and refused by strict clients; one longer "
    "than 20 octets breaks RFC 5280's limit.",
    remediation="Re-issue with a random positive serial of at most 20 octets (any CA or "
    "`openssl x509 -req -CAcreateserial` does this), or replace a firmware-made certificate.",
    doc=__doc__ or "",
    check=check,
)
