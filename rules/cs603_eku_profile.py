"""CS603: extended key usage beyond serverAuth / clientAuth, or misplaced (WebPKI profile).

## What it checks
Under `--profile webpki`: the leaf carries an extKeyUsage extension that lists serverAuth,
optionally clientAuth, and nothing else (no anyExtendedKeyUsage, no empty list); a root of
the path carries no extKeyUsage; an intermediate, if it has one, does not list
anyExtendedKeyUsage.

## Why it matters
BR 7.1.2.7.10 fixes a TLS server certificate's EKU to serverAuth (+ clientAuth); a certificate
usable for code signing or e-mail as well, or for anything (anyEKU), widens what a stolen
device key can do, and browsers' root programs reject such certificates. Roots with an EKU
constrain every path below them in ways clients disagree on (BR 7.1.2.1).

## How to fix
Re-issue the leaf with `extendedKeyUsage = serverAuth` (`, clientAuth` if the VMS needs it);
use a CA profile without EKU on the root.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import extension
from camscan.rules.webpki import BR, WEBPKI, path_certificates, role

ALLOWED = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def _name(oid: x509.ObjectIdentifier) -> str:
    return oid._name if oid._name != "Unknown OID" else oid.dotted_string


def problems(path: tuple[x509.Certificate, ...]) -> Iterator[tuple[str, str]]:
    for index, cert in enumerate(path):
        kind = role(index, cert, len(path))
        ext = extension(cert, x509.ExtendedKeyUsage)
        usages = list(ext.value) if ext is not None else None
        if kind == "leaf":
            if usages is None:
                yield kind, "no extKeyUsage (serverAuth is required)"
            elif not usages:
                yield kind, "an empty extKeyUsage"
            elif ExtendedKeyUsageOID.SERVER_AUTH not in usages:
                yield kind, "extKeyUsage without serverAuth"
            else:
                extra = [_name(u) for u in usages if u not in ALLOWED]
                if extra:
                    yield kind, f"extKeyUsage beyond serverAuth/clientAuth: {', '.join(extra)}"
        elif kind == "root" and usages is not None:
            yield kind, "a root with an extKeyUsage"
        elif usages is not None and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages:
            yield kind, "anyExtendedKeyUsage on an intermediate"


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    found = [{"certificate": kind, "problem": what} for kind, what in problems(path_certificates(obs, ctx))]
    if found:
        summary = "; ".join(f"{f['certificate']}: {f['problem']}" for f in found[:3])
        yield Violation(f"extended key usage outside the BR profile ({summary})", {"problems": found})


RULE = Rule(
    id="CS603",
    title="Extended key usage outside the BR profile (WebPKI)",
    severity=Severity.WARNING,
    citation=f"{BR} 7.1.2.7.10 (subscriber EKU), 7.1.2.1 (root), 7.1.2.2 (subordinate CA); RFC 5280 4.2.1.12",
    rationale="A TLS server certificate is for serverAuth (and clientAuth) only; more usages widen what a "
    "stolen key can do, and root programs reject them.",
    remediation="Re-issue with extendedKeyUsage = serverAuth (, clientAuth); no EKU on roots, no anyEKU.",
    doc=__doc__ or "",
    check=check,
    profile=WEBPKI,
)
