"""CS111: the device presents a self-signed certificate.

## What it checks
The leaf is self-issued (subject equals issuer) and its own public key verifies its
signature. The check is cryptographic, whatever the signature hash (SHA-1 and MD5 included):
a leaf whose subject merely equals its issuer's is not called self-signed (tlsx confuses the
two and calls IP-only certificates self-signed).

## Why it matters
Nobody vouches for a self-signed certificate: a client can only trust it by pinning it, so in
practice users learn to click through the browser warning, and then an attacker's
certificate looks exactly the same to them. Cameras make one at first boot. The Sunell HTTPS FAQ
(Solutions 2 and 3) and the Milestone XProtect guide describe the fix: certificates issued by a
CA the clients trust. A self-signed certificate deliberately pinned in a VMS is a decision
worth recording, not an error, hence a warning.

## How to fix
Issue the device a certificate from your site CA or a public CA, and
install the CA certificate on the clients rather than the device certificate.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan import certinfo
from camscan.certinfo import is_self_signed
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import cert_ref, iso, leaf_of


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    leaf = leaf_of(obs)
    if leaf is None or not is_self_signed(leaf):
        return
    evidence = cert_ref(0, leaf, "leaf") | {
        "spki_sha256": certinfo.spki_sha256(leaf),
        "not_before": iso(leaf.not_valid_before_utc),
        "common_names": certinfo.common_names(leaf),
    }
    yield Violation("the leaf certificate is self-signed: no CA vouches for it", evidence)


RULE = Rule(
    id="CS111",
    title="Self-signed leaf certificate",
    severity=Severity.WARNING,
    citation="RFC 5280 6.1; Sunell HTTPS FAQ (Solutions 2 and 3); Milestone XProtect certificates guide",
    rationale="A self-signed certificate can only be pinned or clicked through, which trains users "
    "to accept an attacker's certificate.",
    remediation="Issue the device a certificate from your site CA or a public CA and trust the CA "
    "on the clients.",
    doc=__doc__ or "",
    check=check,
)
