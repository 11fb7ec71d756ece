"""The explicit rule registry and the evaluator.

Adding a rule: write rules/csNNN_<topic>.py exposing RULE, then add its module name to
RULE_MODULES below. Ids are never reused; a test checks that every rule is registered and
fully documented.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Iterable, Sequence
from functools import cache

from camscan.model import AuditContext, Finding, Observation, Rule, Severity, Violation

# Sorted by id. Each entry is a module in this package that defines RULE.
RULE_MODULES: tuple[str, ...] = (
    "cs101_weak_key",
    "cs102_weak_signature",
    "cs103_leaf_is_ca",
    "cs104_key_usage",
    "cs105_ip_not_in_san",
    "cs106_no_san",
    "cs107_ip_as_dnsname",
    "cs108_hostname_mismatch",
    "cs109_long_validity",
    "cs110_x509_v1",
    "cs111_self_signed_leaf",
    "cs112_serial_number",
    "cs120_expired",
    "cs121_expiring_soon",
    "cs122_not_yet_valid",
    "cs201_missing_intermediate",
    "cs202_untrusted_root",
    "cs203_broken_chain",
    "cs204_path_validation",
    "cs301_legacy_tls",
    "cs302_clock_skew",
    "cs401_shared_key",
    "cs402_shared_certificate",
    "cs403_vendor_default",
    "cs404_stale_after_ip_change",
    "cs501_key_mismatch",
    "cs601_cn_not_in_san",
    "cs602_key_identifiers",
    "cs603_eku_profile",
    "cs604_wildcard_public_suffix",
    "cs605_forbidden_key_type",
    "cs606_invalid_dns_san",
)

INTERNAL_ERROR_RULE_ID = "CS000"


@cache
def rules_fingerprint() -> str:
    """"sha256:<hex>" of every module of this package (the registry, each rule, trust and chain
    logic), so two reports judged by different rule code or documentation can be told apart
    (`camscan merge` refuses to mix them) even between two builds of one camscan version."""
    import hashlib
    from importlib.resources import files
    from importlib.resources.abc import Traversable

    digest = hashlib.sha256()
    folders: list[tuple[str, Traversable]] = [("", files("camscan.rules"))]
    while folders:  # breadth first, each folder's entries by name: one order everywhere
        prefix, folder = folders.pop(0)
        for entry in sorted(folder.iterdir(), key=lambda item: item.name):
            name = prefix + entry.name
            if entry.is_dir() and entry.name != "__pycache__":
                folders.append((name + "/", entry))
            elif entry.name.endswith(".py") and entry.is_file():
                digest.update(name.encode() + b"\0" + entry.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


def judging_fingerprint(ctx: AuditContext) -> str:
    """"sha256:<hex>" of the settings the rules judge with, the clock aside: trust mode, the
    anchors and intermediates by content (not file name), offline, and the thresholds. Two
    reports judged alike have the same one; `camscan merge` judges again only with it."""
    import hashlib
    import json

    from cryptography.hazmat.primitives import hashes

    def digests(bundles: Iterable[object]) -> list[str]:
        certs = (cert for bundle in bundles for cert in getattr(bundle, "certs", ()))
        return sorted(cert.fingerprint(hashes.SHA256()).hex() for cert in certs)

    trust = ctx.trust
    settings = {
        "trust": None if trust is None else {
            "mode": trust.mode,
            "anchors": digests(trust.site_bundles),
            "intermediates": digests(trust.intermediates),
            "offline": bool(trust.offline),
        },
        "expiry_warn_days": ctx.expiry_warn_days,
        "max_validity_days": ctx.max_validity_days,
        "clock_skew_warn_seconds": ctx.clock_skew_warn_seconds,
    }
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@cache
def all_rules() -> tuple[Rule, ...]:
    rules = tuple(
        importlib.import_module(f"camscan.rules.{module}").RULE for module in RULE_MODULES
    )
    return tuple(sorted(rules, key=lambda r: r.id))


PROFILES: tuple[str, ...] = ("device", "webpki")


def rules_for(profile: str) -> tuple[Rule, ...]:
    """The rules a profile judges with: the device rules, plus the profile's own."""
    return tuple(r for r in all_rules() if r.profile is None or r.profile == profile)


def get_rule(rule_id: str) -> Rule | None:
    wanted = rule_id.strip().upper()
    return next((r for r in all_rules() if r.id == wanted), None)


def _finding(rule: Rule, obs_endpoint: object, violation: Violation) -> Finding:
    from camscan.model import Endpoint

    assert isinstance(obs_endpoint, Endpoint)
    return Finding(
        rule_id=rule.id,
        severity=violation.severity or rule.severity,
        endpoint=obs_endpoint,
        title=rule.title,
        message=violation.message,
        evidence=dict(violation.evidence),
        remediation=rule.remediation,
    )


def _crash_finding(rule: Rule, endpoint: object, exc: BaseException) -> Finding:
    """A rule that raises on a strange certificate becomes a finding; the audit goes on."""
    from camscan.model import Endpoint

    assert isinstance(endpoint, Endpoint)
    return Finding(
        rule_id=INTERNAL_ERROR_RULE_ID,
        severity=Severity.WARNING,
        endpoint=endpoint,
        title="A rule could not evaluate this certificate",
        message=f"rule {rule.id} failed on this endpoint: {type(exc).__name__}: {exc}",
        evidence={
            "rule_id": rule.id,
            "exception": type(exc).__name__,
            "where": "".join(traceback.format_tb(exc.__traceback__, limit=-1)).strip(),
        },
        remediation="Report this to the camscan developers with the certificate (it is public).",
    )


def evaluate(
    observations: Sequence[Observation],
    ctx: AuditContext,
    rules: Iterable[Rule] | None = None,
) -> list[Finding]:
    """Run every applicable rule on every observation; return all findings, deterministically sorted."""
    selected = tuple(rules) if rules is not None else rules_for(ctx.profile)
    findings: list[Finding] = []
    for rule in selected:
        if rule.check is not None:
            for obs in observations:
                try:
                    findings.extend(_finding(rule, obs.endpoint, v) for v in rule.check(obs, ctx))
                except Exception as exc:
                    findings.append(_crash_finding(rule, obs.endpoint, exc))
        elif rule.check_fleet is not None:
            try:
                findings.extend(
                    _finding(rule, endpoint, v) for endpoint, v in rule.check_fleet(observations, ctx)
                )
            except Exception as exc:
                for obs in observations:
                    findings.append(_crash_finding(rule, obs.endpoint, exc))
    findings.sort(key=lambda f: (f.endpoint.sort_key, -f.severity.rank, f.rule_id, f.message))
    return findings
