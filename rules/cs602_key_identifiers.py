"""CS602: missing or wrong authority / subject key identifiers (WebPKI profile).

## What it checks
Under `--profile webpki`, every certificate of the path a client builds (the root included):
- a leaf or intermediate carries an authorityKeyIdentifier with a keyIdentifier, equal to its
  issuer's subjectKeyIdentifier when the issuer has one, and without authorityCertIssuer or
  authorityCertSerialNumber;
- a CA certificate (intermediate or root) carries a subjectKeyIdentifier;
- a root's authorityKeyIdentifier, if any, holds only a keyIdentifier equal to its own SKI.

## Why it matters
Clients pick issuers by key identifier when several certificates share a name (cross-signs,
re-keyed CAs); a missing or wrong identifier makes path building fail or pick the wrong path
(RFC 5280 4.2.1.1-4.2.1.2). BR 7.1.2 makes these fields mandatory in exactly these forms.

## How to fix
Re-issue from a CA whose profile sets `authorityKeyIdentifier = keyid:always` and
`subjectKeyIdentifier = hash` (OpenSSL), and replace CA certificates that lack an SKI.
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509

from camscan.certinfo import subject_text
from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.profile_helpers import extension
from camscan.rules.webpki import BR, WEBPKI, path_certificates, role


def _ski(cert: x509.Certificate) -> bytes | None:
    ext = extension(cert, x509.SubjectKeyIdentifier)
    return ext.value.digest if ext is not None else None


def problems(path: tuple[x509.Certificate, ...]) -> Iterator[tuple[str, str]]:
    for index, cert in enumerate(path):
        kind = role(index, cert, len(path))
        aki_ext = extension(cert, x509.AuthorityKeyIdentifier)
        aki = aki_ext.value if aki_ext is not None else None
        if kind != "leaf" and _ski(cert) is None:
            yield kind, "no subjectKeyIdentifier"
        if aki is not None and (
            aki.authority_cert_issuer is not None or aki.authority_cert_serial_number is not None
        ):
            yield kind, "authorityKeyIdentifier carries authorityCertIssuer / authorityCertSerialNumber"
        if kind == "root":
            if aki is not None and aki.key_identifier != _ski(cert):
                yield kind, "authorityKeyIdentifier differs from its own subjectKeyIdentifier"
            continue
        if aki is None or aki.key_identifier is None:
            yield kind, "no authorityKeyIdentifier keyIdentifier"
            continue
        issuer_ski = _ski(path[index + 1]) if index + 1 < len(path) else None
        if issuer_ski is not None and aki.key_identifier != issuer_ski:
            yield kind, "authorityKeyIdentifier does not match the issuer's subjectKeyIdentifier"


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    path = path_certificates(obs, ctx)
    found = [{"certificate": kind, "problem": what} for kind, what in problems(path)]
    if found:
        summary = "; ".join(f"{f['certificate']}: {f['problem']}" for f in found[:3])
        yield Violation(
            f"key identifiers do not follow the BR profile ({summary})",
            {"problems": found, "path": [subject_text(c) for c in path]},
        )


RULE = Rule(
    id="CS602",
    title="Missing or wrong key identifiers (WebPKI)",
    severity=Severity.WARNING,
    citation=f"{BR} 7.1.2.1-7.1.2.7 (authorityKeyIdentifier, subjectKeyIdentifier); "
    "RFC 5280 4.2.1.1, 4.2.1.2",
    rationale="Clients choose issuers by key identifier; missing or wrong identifiers break or misdirect "
    "path building, and the BRs require them in a fixed form.",
    remediation="Re-issue with authorityKeyIdentifier = keyid:always (no issuer/serial) and "
    "subjectKeyIdentifier = hash; replace CA certificates without an SKI.",
    doc=__doc__ or "",
    check=check,
    profile=WEBPKI,
)
