"""CS204: a path to a trust anchor exists but path validation rejects it.

## What it checks
When the chain does reach a trust anchor, camscan validates the path with
cryptography's x509.verification (RFC 5280 and the CA/B Forum profile, at the audit time;
the peer's name is left to CS105-CS108). A rejection is reported here with the verifier's own
words and a `kind`: `not_a_ca` (an intermediate without basicConstraints cA), `path_length`,
`key_usage` (keyCertSign on a leaf, or missing on a CA), `eku`, `name_constraints`,
`weak_key` or `signature_algorithm` in a certificate the device did not send (an anchor),
`validity` of an anchor or a fetched intermediate, `extension`, `key_identifier`, `serial`...
Problems of certificates the device sends that another rule already reports (expired: CS120,
not yet valid: CS122, weak key: CS101, SHA-1: CS102, X.509 v1: CS110, a leaf EKU without
serverAuth: CS104) are not repeated here.
`verifier_disagreement` (notice) marks a path whose every signature verifies but which the
verifier still refuses (x509-limbo pathlen::self-issued-certs-pathlen; camscan follows
x509-limbo there).

## Why it matters
Clients apply the same RFC 5280 checks: a path that fails them is refused, however
trustworthy its root.

## How to fix
Depends on the `kind`: have the CA re-issue the offending certificate correctly (an
intermediate needs basicConstraints cA=TRUE and keyUsage keyCertSign; a leaf needs neither,
and EKU serverAuth), or replace an expired or weak anchor in the bundle.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.trust import chain_verdict


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if not obs.chain_der:  # nothing presented: the probe's failure record says why
        return
    verdict = chain_verdict(obs, ctx)
    for failure in verdict.policy_failures:
        if failure.covered_by is not None:
            continue
        evidence = verdict.summary() | {
            "kind": failure.kind,
            "verifier_error": failure.error,
            "certificates": list(failure.certificates),
        }
        if failure.kind == "verifier_disagreement":
            yield Violation(
                "cryptography's verifier refuses this path although every signature on it "
                f"verifies; camscan follows x509-limbo and RFC 5280 here ({failure.error})",
                evidence,
                Severity.NOTICE,
            )
        else:
            yield Violation(f"path validation failed ({failure.kind}): {failure.error}", evidence)


RULE = Rule(
    id="CS204",
    title="Path validation failure (CA flags, path length, key usage, EKU, name constraints...)",
    severity=Severity.ERROR,
    citation="RFC 5280 6.1 and 4.2.1.3, 4.2.1.9, 4.2.1.10, 4.2.1.12; CA/B Forum BRs 7.1.2",
    rationale="Clients run the same path validation; a path that fails it is refused even "
    "when it ends at a trusted root.",
    remediation="Have the CA re-issue the certificate named in the evidence with the extensions "
    "RFC 5280 requires, or replace the expired or weak anchor.",
    doc=__doc__ or "",
    check=check,
)
