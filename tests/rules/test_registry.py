"""The rule framework: explicit registry, complete metadata, every rule on every endpoint, CS000."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509

from camscan import pki
from camscan.model import AuditContext, Endpoint, Observation, Rule, Severity, Violation
from camscan.rules import registry
from camscan.rules.registry import INTERNAL_ERROR_RULE_ID, RULE_MODULES, all_rules, evaluate, get_rule

RULES_DIR = Path(registry.__file__).resolve().parent
WEAK = Path(__file__).resolve().parent.parent / "data" / "weak"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def test_every_rule_module_is_registered_and_sorted() -> None:
    on_disk = sorted(p.stem for p in RULES_DIR.glob("cs[0-9][0-9][0-9]_*.py"))
    assert sorted(RULE_MODULES) == on_disk
    assert list(RULE_MODULES) == sorted(RULE_MODULES)


def test_ids_are_unique_well_formed_and_match_their_module() -> None:
    rules = all_rules()
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"CS[1-9]\d\d", i) for i in ids)
    assert INTERNAL_ERROR_RULE_ID not in ids
    for module in RULE_MODULES:
        assert module.startswith(next(r.id for r in rules if module.startswith(r.id.lower())).lower())


def test_every_rule_is_fully_described() -> None:
    for rule in all_rules():
        for name in ("title", "citation", "rationale", "remediation", "doc"):
            assert str(getattr(rule, name)).strip(), f"{rule.id}.{name} is empty"
        assert isinstance(rule.severity, Severity)
        for section in ("## What it checks", "## Why it matters", "## How to fix"):
            assert section in rule.doc, f"{rule.id} doc lacks {section!r}"
        assert rule.doc.lstrip().startswith(f"{rule.id}:"), rule.id


def test_my_rules_exist() -> None:
    for rule_id in ("CS105", "CS106", "CS107", "CS108", "CS201", "CS202", "CS203", "CS204", "CS501"):
        assert get_rule(rule_id.lower()) is not None


def test_every_rule_runs_on_every_endpoint_all_problems_reported() -> None:
    # One device with several problems at once: IP mismatch, missing intermediate, expired.
    root = pki.make_ca("R", not_before=NOW - dt.timedelta(days=900))
    inter = pki.make_ca("I", issuer=root, not_before=NOW - dt.timedelta(days=900))
    bad = pki.make_leaf(inter, ips=["127.0.0.9"], not_before=NOW - dt.timedelta(days=800),
                        not_after=NOW - dt.timedelta(days=5))
    good = pki.make_leaf(inter, ips=["127.0.0.10"], not_before=NOW - dt.timedelta(days=5))
    observations = [
        Observation(Endpoint("127.0.0.8", 443), (bad.cert_der,), "TLSv1.3", "x", NOW),
        Observation(Endpoint("127.0.0.10", 443), (good.cert_der, inter.cert_der), "TLSv1.3", "x", NOW),
    ]
    from camscan.rules.trust import SITE, Bundle, TrustConfig

    ctx = AuditContext(now=NOW, trust=TrustConfig(mode=SITE, site_bundles=(Bundle("r", (root.cert,)),),
                                                  offline=True))
    found = evaluate(observations, ctx)
    first = {f.rule_id for f in found if f.endpoint == observations[0].endpoint}
    assert {"CS105", "CS120", "CS201"} <= first
    assert not [f for f in found if f.endpoint == observations[1].endpoint and f.severity is Severity.ERROR]


def _exploding(obs: Observation, ctx: AuditContext) -> Iterator[Violation]:
    # A rule written for v3 certificates meets a v1 one: extensions it expects are absent.
    obs.leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    yield Violation("unreachable")


def test_a_rule_that_raises_on_a_strange_certificate_becomes_cs000() -> None:
    v1 = x509.load_pem_x509_certificate((WEAK / "v1-leaf.pem").read_bytes())
    from cryptography.hazmat.primitives import serialization

    obs = Observation(Endpoint("127.0.0.1", 443), (v1.public_bytes(serialization.Encoding.DER),),
                      "TLSv1.2", "x", v1.not_valid_before_utc + dt.timedelta(days=1))
    fragile = Rule(id="CS999", title="fragile", severity=Severity.ERROR, citation="-", rationale="-",
                   remediation="-", doc="-", check=_exploding)
    ctx = AuditContext(now=obs.observed_at)
    found = evaluate([obs], ctx, rules=[fragile, *all_rules()])
    (crash,) = [f for f in found if f.rule_id == INTERNAL_ERROR_RULE_ID]
    assert crash.evidence["rule_id"] == "CS999"
    assert crash.evidence["exception"] == "ExtensionNotFound"
    # the other rules still ran on the same certificate
    assert {"CS106", "CS110"} <= {f.rule_id for f in found}


def test_evidence_is_json_ready() -> None:
    import json

    leaf = pki.make_leaf(None, common_name="x", include_san=False)
    obs = Observation(Endpoint("127.0.0.3", 443), (leaf.cert_der,), "TLSv1.3", "x", NOW)
    found = evaluate([obs], AuditContext(now=NOW))
    # a self-signed leaf without SAN: several rules fire, so the loop below checks something
    assert {"CS106", "CS111", "CS202"} <= {f.rule_id for f in found}
    for finding in found:
        assert json.loads(json.dumps(dict(finding.evidence))) == dict(finding.evidence), finding.rule_id


def test_an_empty_presented_chain_crashes_no_rule() -> None:
    obs = Observation(Endpoint("127.0.0.4", 443), (), "TLSv1.3", "x", NOW)
    assert [f for f in evaluate([obs], AuditContext(now=NOW)) if f.rule_id == INTERNAL_ERROR_RULE_ID] == []
