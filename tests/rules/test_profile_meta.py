"""The profile/expiry/protocol/fleet rules are registered, fully documented, and never crash on
certificates that do not parse (a crash would surface as CS000)."""

from __future__ import annotations

import importlib
import json

import pytest

from camscan import pki
from camscan.model import Endpoint, HTTPFacts, Observation
from camscan.rules.registry import RULE_MODULES, all_rules, evaluate
from tests.rules.profile_support import NOW, context, observation, weak

MODULES = {
    "CS101": "cs101_weak_key",
    "CS102": "cs102_weak_signature",
    "CS103": "cs103_leaf_is_ca",
    "CS104": "cs104_key_usage",
    "CS109": "cs109_long_validity",
    "CS110": "cs110_x509_v1",
    "CS111": "cs111_self_signed_leaf",
    "CS120": "cs120_expired",
    "CS121": "cs121_expiring_soon",
    "CS122": "cs122_not_yet_valid",
    "CS301": "cs301_legacy_tls",
    "CS302": "cs302_clock_skew",
    "CS401": "cs401_shared_key",
    "CS402": "cs402_shared_certificate",
    "CS403": "cs403_vendor_default",
    "CS404": "cs404_stale_after_ip_change",
}
FLEET = {"CS401", "CS402", "CS404"}


@pytest.mark.parametrize("rule_id", sorted(MODULES))
def test_registered_and_documented(rule_id: str) -> None:
    module_name = MODULES[rule_id]
    assert module_name in RULE_MODULES
    rule = importlib.import_module(f"camscan.rules.{module_name}").RULE
    assert rule.id == rule_id and rule in all_rules()
    assert (rule.check_fleet is not None) == (rule_id in FLEET)
    assert rule.doc.startswith(f"{rule_id}: ")
    for section in ("## What it checks", "## Why it matters", "## How to fix"):
        assert section in rule.doc, (rule_id, section)
    assert rule.title and rule.citation and rule.rationale and rule.remediation


def _strange_observations() -> list[Observation]:
    good = pki.make_leaf(None, ips=["127.0.0.1"], not_before=NOW).cert
    strange = [
        observation([good], address="127.0.5.1"),
        observation([weak("v1-leaf.pem")], address="127.0.5.2", tls_version="SSLv3"),
        observation([weak("md5-leaf.pem")], address="127.0.5.5"),
    ]
    garbage = Observation(
        endpoint=Endpoint("127.0.5.3", 443),
        chain_der=(b"\x30\x03\x02\x01\x00", b"not a certificate"),
        tls_version="unknown",
        cipher="unknown",
        observed_at=NOW,
        http=HTTPFacts(None, None, "garbage", None),
        legacy_versions=("TLSv1.3", "nonsense"),
    )
    half = Observation(
        endpoint=Endpoint("127.0.5.4", 443),
        chain_der=(strange[0].chain_der[0], b"\x00junk"),
        tls_version="TLSv1.2",
        cipher="x",
        observed_at=NOW,
    )
    return [*strange, garbage, half]


def test_unparseable_chains_do_not_crash_and_evidence_is_json() -> None:
    found = evaluate(_strange_observations(), context(history=()))
    crashes = [f for f in found if f.rule_id == "CS000" and f.evidence["rule_id"] in MODULES]
    assert crashes == []
    mine = [f for f in found if f.rule_id in MODULES]
    # The v1 and MD5 observations still get their verdicts beside the garbage.
    assert {"CS102", "CS110", "CS111", "CS301"} <= {f.rule_id for f in mine}
    # A chain whose second certificate is junk is still judged on its leaf.
    assert ("127.0.5.4", "CS111") in {(f.endpoint.address, f.rule_id) for f in mine}
    for finding in mine:
        json.dumps(dict(finding.evidence), allow_nan=False)
