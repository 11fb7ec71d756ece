"""CS401: the same public key is used by several devices in this scan.

## What it checks
Groups every endpoint by the SHA-256 of its leaf's subjectPublicKeyInfo. A group that spans
more than one device is reported on each of its endpoints, with the key fingerprint, the number
of devices and the other endpoints (the first 20, sorted). Endpoints count as one device when
they share an address (two ports), a MAC address or a serial number, so a camera serving
443 and 8443 with one key is not a finding. When the devices present the very same
certificate, CS402 reports that as well.

## Why it matters
A private key is meant to live on one device. The same key on many devices is a factory
default baked into the firmware (the Hikvision intercom key of a public DS-KV6113
teardown), or one certificate and key copied to every camera (Sunell HTTPS FAQ, Q4 describes exactly that).
Either way, extracting the key from one device, or from a firmware image anyone can download,
lets an attacker impersonate every one of them and, without forward secrecy, decrypt their
recorded traffic. The Sunell HTTPS FAQ, A3: each device should create its own private key.

## How to fix
Have each device generate its own key (create the CSR on the device), get each CSR signed,
and upload the certificates one by one. Replace firmware that ships a fixed key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from camscan import certinfo
from camscan.model import AuditContext, Endpoint, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import groups_by, leaf_of, listed


def _spki(obs: Observation) -> str | None:
    leaf = leaf_of(obs)
    if leaf is None:
        return None
    try:
        return certinfo.spki_sha256(leaf)
    except Exception:
        return None


def check_fleet(
    observations: Sequence[Observation], ctx: AuditContext
) -> Iterator[tuple[Endpoint, Violation]]:
    keys = {obs.endpoint: k for obs in observations if (k := _spki(obs)) is not None}
    for spki, group, devices in groups_by(observations, keys):
        certificates = len({obs.leaf_sha256 for obs in group})
        members = [o.endpoint for o in group]  # sorted by groups_by
        for obs in group:
            yield obs.endpoint, Violation(
                f"the same private key is used by {devices} devices in this scan",
                {
                    "spki_sha256": spki,
                    "devices": devices,
                    "endpoints": len(group),
                    "distinct_certificates": certificates,
                    "shared_with": listed(members, exclude=obs.endpoint),
                },
            )


RULE = Rule(
    id="CS401",
    title="Same public key on several devices",
    severity=Severity.ERROR,
    citation="Sunell HTTPS FAQ (Q3/A3, Q4); camscan vendor PKI table; CWE-321; ETSI EN 303 645 "
    "provision 5.4-2",
    rationale="A key shared by many devices is compromised for all of them as soon as it leaks "
    "from one device or firmware image.",
    remediation="Have each device generate its own key and CSR, sign each CSR and upload the "
    "certificates one by one; replace firmware that ships a fixed key.",
    doc=__doc__ or "",
    check_fleet=check_fleet,
)
