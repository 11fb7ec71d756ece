"""CS205: the leaf names something its CA's name constraints do not allow.

## What it checks
Every CA certificate on the path a client builds for the device's leaf (the certificates it
sends, the intermediates found, and the trust anchor when the path reaches one) that carries
a NameConstraints extension: each iPAddress and dNSName entry of the leaf's subjectAltName
must lie in a permitted subtree of its form (when the CA lists any) and in no excluded
subtree (RFC 5280 4.2.1.10; a dNSName constraint "example.internal" holds that name and every
name below it). Like OpenSSL, a leaf whose SAN has no dNSName also has its host-name-like
Common Name (an address such as "192.0.2.7" included) judged against the dNSName constraints:
OpenSSL refuses an IP-only leaf with CN=<its address> under a CA that permits only DNS
subtrees besides its address ranges. Constraints on other name forms are left to path
validation (CS204).

## Why it matters
A site CA restricted to the site's address ranges and DNS subtrees cannot be turned against
anything else even if its key is stolen: clients refuse whatever it signs outside them
(OpenSSL, browsers and the cryptography verifier all enforce critical name constraints). A
leaf outside them is refused by every such client, whoever signed it: either a mistake (the
device was re-addressed out of the site's range) or a certificate that should not exist.

## How to fix
Re-issue the certificate for names inside the CA's constraints (for the site CA: `camscan
ca issue` / `camscan fix --apply`, which refuse to sign anything else), or move the device
into the permitted range. If the site legitimately grew, create a CA whose constraints
cover the new ranges and move the devices to it.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509

from camscan.certinfo import cert_sha256, common_names
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.nameconstraints import (
    cn_violations,
    constraints_of,
    describe,
    leaf_names,
    violations,
)
from camscan.rules.trust import chain_verdict


def _path(obs: Observation, ctx: AuditContext) -> list[x509.Certificate]:
    verdict = chain_verdict(obs, ctx)
    return list(verdict.path_certs) if verdict.path_certs else list(obs.chain)


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if not obs.chain_der:  # nothing presented: the probe's failure record says why
        return
    leaf = obs.leaf
    names = leaf_names(leaf)
    if not names and not common_names(leaf):
        return
    for ca in _path(obs, ctx)[1:]:
        constraints = constraints_of(ca)
        if constraints is None:
            continue
        bad = violations(names, constraints) + cn_violations(common_names(leaf), names, constraints)
        if not bad:
            continue
        subject = ca.subject.rfc4514_string()
        listed = ", ".join(f"{v.name} ({v.reason})" for v in bad)
        yield Violation(
            f"{listed} outside the name constraints of {subject}",
            {
                "ca_subject": subject,
                "ca_sha256": cert_sha256(ca),
                "constraints": describe(constraints),
                "outside": [{"name": v.name, "reason": v.reason} for v in bad],
            },
        )


RULE = Rule(
    id="CS205",
    title="Leaf outside its CA's name constraints",
    severity=Severity.ERROR,
    citation="RFC 5280 4.2.1.10",
    rationale="Clients refuse a certificate whose names fall outside a CA's name constraints; "
    "a constrained site CA limits what a stolen key can impersonate.",
    remediation="Re-issue the certificate for names inside the CA's constraints, or move the "
    "device into the permitted range.",
    doc=__doc__ or "",
    check=check,
)
