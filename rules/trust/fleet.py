"""Unsent roots: what the fleet and the names let camscan infer about an issuer it never sees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from camscan.certinfo import is_self_issued, issuer_der, subject_der
from camscan.model import AuditContext, Endpoint, Observation
from camscan.rules.chains import (
    aia_ca_issuer_urls,
)
from camscan.rules.trust.anchors import FLEET_KEY, VERDICT_KEY
from camscan.rules.vendor_pki import built_in_ca_named, says_root

# An empty Name in DER (and what certinfo gives for one it cannot even find).
_EMPTY_NAMES = (b"\x30\x00", b"")

# Devices (distinct addresses) whose leaves one unsent, unfetchable issuer must sign before
# camscan infers a per-model firmware CA from the fleet alone. Two devices with leaf-only
# uploads from a private intermediate are plausible; three of one issuer, with no device of
# the scan ever sending it and no AIA URL anywhere, is the firmware pattern of Sunell HTTPS FAQ.
FLEET_MIN_DEVICES = 3
FLEET_LISTED = 5  # addresses named in the evidence




# ---------------------------------------------------------------- unsent roots (inference)


@dataclass
class _IssuerGroup:
    endpoints: dict[str, Endpoint]  # address -> one endpoint there (two ports: one device)
    leaves_with_aia: int = 0


@dataclass(frozen=True)
class FleetIssuers:
    """The scan's leaf issuers: which devices each one signs for, and every name the scan sent."""

    groups: dict[tuple[bytes, bytes], _IssuerGroup]
    sent_subjects: frozenset[bytes]


def issuer_key(cert: x509.Certificate) -> tuple[bytes, bytes]:
    """The issuer's name and (when present) key id: two CAs that share a name are two CAs."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        key_id = aki.key_identifier or b""
    except Exception:
        key_id = b""  # absent or malformed: group by name alone
    return (issuer_der(cert), key_id)


def index_fleet(observations: Sequence[Observation], ctx: AuditContext) -> FleetIssuers:
    """Index the leaf issuers of a whole scan into ctx.cache (pure; run before evaluation).

    A chain verdict is computed per chain and sees one observation; whether an unsent issuer
    signs leaves all over the fleet is only visible here. Verdicts cached before (by a --jsonl
    stream judging endpoints as they complete) were made without this context: dropped, so the
    audit recomputes them (the stream reports the difference as late/withdrawn findings).
    """
    groups: dict[tuple[bytes, bytes], _IssuerGroup] = {}
    sent: set[bytes] = set()
    for obs in observations:
        if not obs.chain_der:
            continue
        try:
            chain = obs.chain
        except ValueError:
            continue  # an unparseable chain is a rule's finding (CS000), not fleet context
        sent.update(subject_der(c) for c in chain)
        leaf = chain[0]
        if is_self_issued(leaf) or issuer_der(leaf) in _EMPTY_NAMES:
            continue
        group = groups.setdefault(issuer_key(leaf), _IssuerGroup({}))
        group.endpoints.setdefault(obs.endpoint.address, obs.endpoint)
        if aia_ca_issuer_urls(leaf):
            group.leaves_with_aia += 1
    fleet = FleetIssuers(groups, frozenset(sent))
    ctx.cache[FLEET_KEY] = fleet
    ctx.cache.pop(VERDICT_KEY, None)
    return fleet


def unsent_root_bases(
    cert: x509.Certificate, aia_urls: Sequence[str], ctx: AuditContext, *, leaf: bool
) -> list[dict[str, Any]]:
    """Why `cert`'s issuer, not sent and found nowhere, is taken for a root (empty: it is not).

    `leaf`: `cert` is the presented leaf (the fleet index knows leaf issuers only). The rules
    and their reasons are in the module docstring, point 5.
    """
    try:
        issuer = cert.issuer
    except ValueError:
        return []  # a name cryptography cannot decode matches no pattern: nothing to infer from
    if not len(issuer):
        return []  # nothing to reason about: the path failure is about the empty name itself
    bases: list[dict[str, Any]] = []
    entry = built_in_ca_named(issuer)
    if entry is not None:
        bases.append(
            {"basis": "vendor_pattern", "pattern": entry.id, "vendor": entry.vendor, "source": entry.source}
        )
    fleet = ctx.cache.get(FLEET_KEY)
    if leaf and isinstance(fleet, FleetIssuers):
        group = fleet.groups.get(issuer_key(cert))
        if (
            group is not None
            and len(group.endpoints) >= FLEET_MIN_DEVICES
            and group.leaves_with_aia == 0
            and issuer.public_bytes() not in fleet.sent_subjects
        ):
            ordered = sorted(group.endpoints.values(), key=lambda e: e.sort_key)
            bases.append(
                {
                    "basis": "fleet",
                    "devices": len(ordered),
                    "addresses": [e.address for e in ordered[:FLEET_LISTED]],
                    "min_devices": FLEET_MIN_DEVICES,
                }
            )
    common_name = says_root(issuer)
    if common_name is not None and not aia_urls:
        bases.append({"basis": "root_name", "common_name": common_name})
    return bases
