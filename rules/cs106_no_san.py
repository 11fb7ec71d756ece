"""CS106: the certificate has no subjectAltName at all (Common Name only).

## What it checks
Whether the leaf carries a subjectAltName extension. A certificate that names its device only
in the subject Common Name (typical of X.509 v1 and old firmware certificates) fails here,
whatever the CN says: camscan never matches an address or a name against the CN.

## Why it matters
RFC 6125 6.4.4 deprecates the CN fallback and the CA/B Forum BRs (7.1.2.7.12) require a SAN;
Chrome (since version 58), Firefox, Safari, Go, Python's ssl and cryptography ignore the CN,
so a CN-only certificate matches nothing, even when the CN is the right address.

## How to fix
Issue a certificate whose subjectAltName lists every name and address clients use: IP entries
for addresses (`IP:192.0.2.10`) and DNS entries for host names (`DNS:cam01.example.org`).
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.certinfo import common_names
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.names import san_view, target_of


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if not obs.chain_der:  # nothing presented: the probe's failure record says why
        return
    view = san_view(obs.leaf)
    if view.present:
        return
    kind, target = target_of(obs)
    cns = common_names(obs.leaf)
    cn_text = f" (CN={cns[0]})" if cns else " and no Common Name either"
    yield Violation(
        f"no subjectAltName{cn_text}: clients cannot match {target}, the CN is ignored",
        {"target": target, "target_kind": kind, "common_names": cns, "san_present": False},
    )


RULE = Rule(
    id="CS106",
    title="No subjectAltName (Common Name only)",
    severity=Severity.ERROR,
    citation="RFC 6125 6.4.4; RFC 5280 4.2.1.6; CA/B Forum BRs 7.1.2.7.12",
    rationale="Modern clients ignore the Common Name, so a certificate without a SAN matches "
    "no address and no name at all.",
    remediation="Re-issue the certificate with a subjectAltName listing the device's IP "
    "address(es) as IP entries and its host name(s) as DNS entries.",
    doc=__doc__ or "",
    check=check,
)
