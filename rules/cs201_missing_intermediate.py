"""CS201: the device does not send an intermediate certificate its chain needs.

## What it checks
Whether a path from the leaf to a trust anchor exists only with a certificate the device did
not send. camscan tries, in order: the chain as presented; the intermediates of
`--intermediates FILE`; its local cache of intermediates; the leaf's AIA caIssuers URL (not
with `--offline`). The evidence says where the missing intermediate was found (`found_in`:
`intermediates-file`, `cache`, `aia`) or that it was found nowhere (`found_in: null`: the
issuer is not an anchor, is not self-signed, and no AIA URL gave it).

An issuer found nowhere may also be a root the device never sends: the firmware's built-in CA
of Sunell HTTPS FAQ signs the leaf directly. When camscan can infer that (the issuer is a known
firmware CA, or signs the leaves of several devices of the scan none of which sends it and
none with an AIA URL, or calls itself a root and no AIA URL points at it), the verdict is an
untrusted root (CS202, which says it is an inference and why), not this rule.

## Why it matters
A TLS server must send its intermediates (RFC 8446 4.4.2, RFC 5246 7.4.2). Browsers that
cached the intermediate or fetch AIA connect anyway, which hides the fault; VMS clients,
HTTPS libraries, curl and Python's ssl do not, and fail (OpenMV TLS guide: a camera that loads a
single certificate cannot send the chain). Unlike sslyze and testssl.sh, camscan keeps this
apart from an untrusted root.

## How to fix
Upload the full chain to the device: the leaf followed by the intermediate(s), without the
root (the "fullchain" file). If the firmware accepts only one certificate, have the CA issue
the leaf directly from a root the clients trust, or accept that only AIA-fetching clients
connect.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation
from camscan.rules.trust import chain_verdict

_WHERE = {
    "aia": "at the leaf's AIA caIssuers URL",
    "intermediates-file": "in the --intermediates file",
    "cache": "in camscan's local intermediate cache",
}


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    if not obs.chain_der:  # nothing presented: the probe's failure record says why
        return
    verdict = chain_verdict(obs, ctx)
    for missing in verdict.missing:
        evidence = verdict.summary() | missing.evidence()
        if missing.found_in is not None:
            place = _WHERE.get(missing.found_in, missing.found_in)
            where = f" ({missing.where})" if missing.where else ""
            message = (
                f"the device does not send the intermediate {missing.subject}; "
                f"camscan found it {place}{where}"
            )
        else:
            tried = "; ".join(missing.aia_errors) or "no AIA URL"
            message = (
                f"the issuer of {missing.issuer_of} ({missing.subject}) is not sent by the device, "
                f"is not a trust anchor, and was found nowhere ({tried}); if it is a private "
                "root, pass it with --ca-bundle"
            )
        yield Violation(message, evidence)


RULE = Rule(
    id="CS201",
    title="Missing intermediate certificate",
    severity=Severity.ERROR,
    citation="RFC 8446 4.4.2; RFC 5246 7.4.2; RFC 5280 4.2.2.1 (AIA caIssuers); OpenMV TLS guide",
    rationale="Clients that do not fetch or cache intermediates (VMS software, HTTPS libraries, "
    "curl) cannot build a path and refuse the connection; browsers hide the fault. An unsent issuer "
    "camscan takes for a root (a built-in CA) is CS202 instead.",
    remediation="Upload the leaf together with its intermediate(s) (the fullchain file, leaf "
    "first, root left out); the evidence says where the missing intermediate can be found.",
    doc=__doc__ or "",
    check=check,
)
