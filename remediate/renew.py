"""Renewal planning: certificates the configured issuer issued that enter the renewal window.

Pure, like the planner: an AuditResult and the issuer's trust anchors in, DevicePlans out. A
certificate counts as the issuer's when its signature verifies under one of the anchors (the
issuer's root, or an intermediate the device serves that the root signed, or an anchor that is
itself an intermediate): the issuer *name* alone would let any device claim it. Each one whose
remaining life is at most `renew_before_days` (at the audit's as-of time, so `--as-of` moves
the clock) gets one `renew` step: a new certificate from the same issuer, installed beside the
old one and switched to once verified, as `camscan fix --apply` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from camscan.model import AuditResult, Observation
from camscan.remediate import commands as cmd
from camscan.remediate.model import Action, DevicePlan, Step, Strategy
from camscan.remediate.plan import device_names, guess_driver

DEFAULT_RENEW_BEFORE_DAYS = 30


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def issued_through(chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]) -> bool:
    """Whether the leaf of `chain` (as served) chains to one of `anchors` within the chain."""
    if not chain or not anchors:
        return False
    signers = list(anchors)
    # An intermediate the device serves counts once an anchor verifies it (one level, as the
    # issuers here issue: root -> intermediate -> leaf).
    signers += [c for c in chain[1:] if any(_signed_by(c, a) for a in anchors)]
    return any(_signed_by(chain[0], s) for s in signers)


def days_left(leaf: x509.Certificate, as_of: dt.datetime) -> float:
    return (leaf.not_valid_after_utc - as_of).total_seconds() / 86400


def plan_renewals(
    audit: AuditResult,
    anchors: Sequence[x509.Certificate],
    *,
    issuer: str,
    renew_before_days: int = DEFAULT_RENEW_BEFORE_DAYS,
    renew_before_fraction: float | None = None,
) -> list[DevicePlan]:
    """`renew_before_fraction` (0-1): also renew once less than that share of the certificate's
    lifetime is left (0.33 renews a 90-day certificate 30 days ahead, a 398-day one 131 days
    ahead); whichever window is wider applies."""
    plans = []
    for obs in sorted(audit.scan.observations, key=lambda o: o.endpoint.sort_key):
        plan = _renewal(obs, audit, anchors, issuer, renew_before_days, renew_before_fraction)
        if plan is not None:
            plans.append(plan)
    return plans


def window_days(leaf: x509.Certificate, days: int, fraction: float | None) -> float:
    if fraction is None:
        return float(days)
    lifetime = (leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() / 86400
    return max(float(days), fraction * lifetime)


def _renewal(
    obs: Observation,
    audit: AuditResult,
    anchors: Sequence[x509.Certificate],
    issuer: str,
    days: int,
    fraction: float | None,
) -> DevicePlan | None:
    if not obs.chain_der:
        return None
    try:
        chain = list(obs.chain)
    except ValueError:
        return None
    if not issued_through(chain, anchors):
        return None
    left = days_left(chain[0], audit.as_of)
    window = window_days(chain[0], days, fraction)
    if left > window:
        return None
    ips, dns = device_names(obs.endpoint)
    driver = guess_driver(obs.identity.vendor)
    when = f"expired {-left:.0f} days ago" if left < 0 else f"expires in {left:.0f} days"
    step = Step(
        Strategy.RENEW,
        Action.REISSUE,
        f"renew: the certificate from issuer {issuer} {when} (renewal window {window:.0f} days); a new "
        f"one from {issuer} is installed beside it, switched to once it verifies, and the old one "
        "revoked where the issuer can",
        True,
        (f"camscan fix {cmd.q(obs.endpoint.address)} -p {obs.endpoint.port} --apply --issuer {issuer}",),
        (),
        tuple(sorted({f.rule_id for f in audit.findings_for(obs.endpoint)})),
    )
    return DevicePlan(
        obs.endpoint,
        obs.identity.vendor,
        driver,
        ips,
        dns,
        tuple(sorted({f.rule_id for f in audit.findings_for(obs.endpoint)})),
        (step,),
        obs.leaf_sha256,
    )
