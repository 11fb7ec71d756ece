"""CS402: the identical certificate is presented by several devices in this scan.

## What it checks
Groups every endpoint by the SHA-256 of its leaf certificate; a group that spans more than one
device (devices told apart as in CS401: address, MAC, serial) is reported on each endpoint,
with the fingerprint, the names the certificate carries and the other endpoints. Identical
certificates imply an identical key, so CS401 fires as well: CS402 adds that the certificate
itself was copied.

## Why it matters
One certificate cannot name each device's own address unless it lists them all, so either it
fails the name check (CS105) on most of them, or it is a wildcard of addresses that lets any of
those devices impersonate the others. The Sunell HTTPS FAQ, Q3 and A3: a certificate obtained from a
device's CSR belongs to that one device; copying it (and its key, Q4) to others spreads one
key everywhere. A factory default certificate is the same problem, shipped.

## How to fix
Give every device its own certificate for its own address, from its own key: create the CSR on
each device, have your CA sign it, upload it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from camscan import certinfo
from camscan.model import AuditContext, Endpoint, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import groups_by, leaf_of, listed


def check_fleet(
    observations: Sequence[Observation], ctx: AuditContext
) -> Iterator[tuple[Endpoint, Violation]]:
    fingerprints = {obs.endpoint: obs.leaf_sha256 for obs in observations if obs.chain_der}
    for sha256, group, devices in groups_by(observations, fingerprints):
        leaf = leaf_of(group[0])
        names = certinfo.subject_alt_names(leaf) if leaf is not None else {}
        subject = certinfo.subject_text(leaf) if leaf is not None else None
        members = [o.endpoint for o in group]  # sorted by groups_by
        for obs in group:
            yield obs.endpoint, Violation(
                f"the identical certificate is presented by {devices} devices in this scan",
                {
                    "sha256": sha256,
                    "subject": subject,
                    "san_ip": list(names.get("ip", [])),
                    "san_dns": list(names.get("dns", [])),
                    "devices": devices,
                    "endpoints": len(group),
                    "shared_with": listed(members, exclude=obs.endpoint),
                },
            )


RULE = Rule(
    id="CS402",
    title="Identical certificate on several devices",
    severity=Severity.WARNING,
    citation="Sunell HTTPS FAQ (Q3/A3, Q4); RFC 6125 6.4",
    rationale="A copied certificate cannot name each device and spreads one key over the fleet.",
    remediation="Give each device its own certificate from its own key: CSR on the device, signed "
    "by your CA, uploaded.",
    doc=__doc__ or "",
    check_fleet=check_fleet,
)
