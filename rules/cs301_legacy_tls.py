"""CS301: the device accepts TLS 1.0 or TLS 1.1 (or SSL).

## What it checks
Two facts from the probe: the protocol version the normal handshake negotiated (if a modern
client ends up on TLS 1.0/1.1, the device offers nothing better: an error), and the legacy
versions a separate probe found accepted (hellos built with scapy; a device that still
accepts them while preferring TLS 1.2+ gets a warning). When the legacy probe did not run
(`legacy_versions` is None), only the negotiated version is judged: camscan never guesses.

## Why it matters
RFC 8996 deprecates TLS 1.0 and 1.1 (no SHA-256 in the handshake, CBC padding oracles such as
BEAST and POODLE-TLS, SHA-1/MD5 in the PRF); NIST SP 800-52 Rev. 2 requires TLS 1.2 or later,
PCI DSS forbids early TLS. Browsers no longer connect over them, so a camera that only speaks
TLS 1.0 is reachable solely by old, unpatched software; accepting them on the side leaves a
downgrade target.

## How to fix
Disable TLS 1.0/1.1 (and SSL) in the device's security or HTTPS settings ("TLS 1.2 only"), or
update the firmware to one that supports TLS 1.2/1.3.
"""

from __future__ import annotations

from collections.abc import Iterator

from camscan.model import AuditContext, Observation, Rule, Severity, Violation

# Names as Python's ssl module and the scapy probe spell them -> canonical label.
LEGACY = {
    "SSLv2": "SSLv2",
    "SSLv3": "SSLv3",
    "TLSv1": "TLSv1.0",
    "TLSv1.0": "TLSv1.0",
    "TLSv1.1": "TLSv1.1",
}


def canonical(version: str) -> str | None:
    return LEGACY.get(version.strip().replace(" ", ""))


def check(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    negotiated = canonical(obs.tls_version)
    accepted = sorted({v for v in map(canonical, obs.legacy_versions or ()) if v is not None})
    evidence = {
        "negotiated": obs.tls_version,
        "legacy_accepted": accepted if obs.legacy_versions is not None else None,
        "legacy_probed": obs.legacy_versions is not None,
    }
    if negotiated is not None:
        yield Violation(
            f"the handshake negotiated {negotiated}: the device offers no TLS 1.2 or later",
            evidence,
            Severity.ERROR,
        )
    elif accepted:
        yield Violation(f"the device still accepts {', '.join(accepted)}", evidence)


RULE = Rule(
    id="CS301",
    title="Legacy TLS 1.0/1.1 accepted",
    severity=Severity.WARNING,
    citation="RFC 8996; NIST SP 800-52 Rev. 2, section 3.1",
    rationale="TLS 1.0 and 1.1 are deprecated and attackable; browsers no longer use them.",
    remediation="Allow only TLS 1.2 and 1.3 in the device's HTTPS settings, or update its firmware.",
    doc=__doc__ or "",
    check=check,
)
