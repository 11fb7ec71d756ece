"""CS501: the private key does not belong to the certificate (offline check only).

## What it checks
With `camscan check CERT --key FILE` (or a PKCS#12 or PEM file holding both), whether the
private key's public half is the certificate's public key. Scans never see private keys, so
this rule only speaks in the offline check.

## Why it matters
A device given a certificate with the wrong key cannot complete a single handshake: its HTTPS
service fails to start or every client gets a handshake failure, usually after the old
certificate was already deleted. It happens when CSRs are regenerated, or when files from two
renewals are mixed up.

## How to fix
Upload the certificate together with the key that made its CSR (compare
`openssl x509 -noout -pubkey -in cert.pem` with `openssl pkey -pubout -in key.pem`), or
have the CA sign a new CSR made from the key you have.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.certinfo import sha256_hex, spki_sha256
from camscan.model import AuditContext, Observation, Rule, Severity, Violation

KEY_SPKI_CACHE = "camscan.rules.offline.key_spki"  # filled by camscan.rules.offline.check_chain


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    keys = ctx.cache.get(KEY_SPKI_CACHE) or {}
    if not keys or not obs.chain_der:
        return
    key_spki = keys.get(obs.leaf_sha256)
    if key_spki is None:
        return
    cert_spki = spki_sha256(obs.leaf)
    if sha256_hex(key_spki) != cert_spki:
        yield Violation(
            "the private key does not match the certificate's public key",
            {"certificate_spki_sha256": cert_spki, "key_spki_sha256": sha256_hex(key_spki)},
        )


RULE = Rule(
    id="CS501",
    title="Private key does not match the certificate",
    severity=Severity.ERROR,
    citation="RFC 5280 4.1.2.7 (subjectPublicKeyInfo); RFC 8446 4.4.3 (CertificateVerify)",
    rationale="A server whose key does not match its certificate cannot prove possession of "
    "it: every handshake fails.",
    remediation="Pair the certificate with the key its CSR was made from, or get a new "
    "certificate for the key you have.",
    doc=__doc__ or "",
    check=check,
)
