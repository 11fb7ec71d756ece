"""Chain verdicts and the chain rules CS201-CS204 on certificates built in-process.

The verdicts are kept apart (trusted / missing intermediate / untrusted root / broken chain /
other path failure), and names are judged separately: an IP mismatch never hides a missing
intermediate.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.certinfo import cert_sha256
from camscan.errors import UsageError
from camscan.model import AuditContext, Endpoint, Finding, Observation, Severity
from camscan.rules.registry import evaluate, violation_entries
from camscan.rules.trust import (
    PUBLIC,
    SITE,
    Bundle,
    ChainStatus,
    TrustConfig,
    chain_verdict,
    classify,
    load_bundle,
)

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
START = NOW - dt.timedelta(days=30)
ADDRESS = "127.0.0.7"
WEAK = Path(__file__).resolve().parent.parent / "data" / "weak"


def ca(name: str, issuer: pki.Issued | None = None, **kw: object) -> pki.Issued:
    return pki.make_ca(name, issuer=issuer, not_before=START, **kw)  # type: ignore[arg-type]


ROOT = ca("Site Root")
INTER = ca("Site Issuing CA", ROOT)
LEAF = pki.make_leaf(INTER, common_name="cam01", ips=[ADDRESS], not_before=START)


def site(*anchors: pki.Issued, **kw: object) -> TrustConfig:
    bundle = Bundle("site.pem", tuple(a.cert for a in anchors))
    return TrustConfig(mode=SITE, site_bundles=(bundle,), offline=True, **kw)  # type: ignore[arg-type]


def observe(*certs: x509.Certificate | pki.Issued, address: str = ADDRESS) -> Observation:
    ders = tuple(
        (c.cert if isinstance(c, pki.Issued) else c).public_bytes(serialization.Encoding.DER) for c in certs
    )
    return Observation(Endpoint(address, 443), ders, "TLSv1.3", "x", NOW)


def findings(obs: Observation, trust: TrustConfig, now: dt.datetime = NOW) -> list[Finding]:
    return evaluate([obs], AuditContext(now=now, trust=trust))


def by_rule(found: list[Finding], rule_id: str) -> list[Finding]:
    return [f for f in found if f.rule_id == rule_id]


def chain_ids(found: list[Finding]) -> set[str]:
    return {f.rule_id for f in found if f.rule_id.startswith("CS2")}


def test_complete_chain_to_a_site_anchor_is_trusted() -> None:
    obs = observe(LEAF, INTER)
    ctx = AuditContext(now=NOW, trust=site(ROOT))
    verdict = chain_verdict(obs, ctx)
    assert verdict.status is ChainStatus.TRUSTED
    assert verdict.path == ("CN=cam01", "CN=Site Issuing CA", "CN=Site Root")
    assert verdict.anchor_source == "--ca-bundle site.pem"
    # with --trust site, the public verdict is information: the site root is no public root
    assert verdict.public_status == "untrusted_root"
    assert chain_verdict(obs, ctx) is verdict  # computed once, cached in ctx.cache
    assert chain_ids(findings(obs, site(ROOT))) == set()


def test_missing_intermediate_found_nowhere() -> None:
    found = findings(observe(LEAF), site(ROOT))
    (f,) = by_rule(found, "CS201")
    assert f.severity is Severity.ERROR
    assert f.evidence["found_in"] is None
    assert f.evidence["missing_subject"] == "CN=Site Issuing CA"
    assert "no AIA" in f.message
    assert chain_ids(found) == {"CS201"}  # not also "untrusted root"


def test_missing_intermediate_found_in_the_intermediates_file() -> None:
    trust = site(ROOT, intermediates=(Bundle("inter.pem", (INTER.cert,)),))
    found = findings(observe(LEAF), trust)
    (f,) = by_rule(found, "CS201")
    assert f.evidence["found_in"] == "intermediates-file" and f.evidence["where"] == "inter.pem"
    assert f.evidence["sha256"] == cert_sha256(INTER.cert)
    assert f.evidence["path"][-1] == "CN=Site Root"
    assert chain_ids(found) == {"CS201"}


def test_missing_intermediate_found_in_the_local_cache(tmp_path: Path) -> None:
    (tmp_path / f"{cert_sha256(INTER.cert)}.der").write_bytes(INTER.cert_der)
    (tmp_path / "corrupt.der").write_bytes(b"not a certificate")  # ignored, not fatal
    found = findings(observe(LEAF), site(ROOT, cache_dir=tmp_path))
    (f,) = by_rule(found, "CS201")
    assert f.evidence["found_in"] == "cache"


def test_ip_mismatch_does_not_hide_the_missing_intermediate() -> None:
    found = findings(observe(LEAF, address="127.0.0.8"), site(ROOT))
    assert {"CS105", "CS201"} <= {f.rule_id for f in found}


def test_untrusted_root_presented_by_the_device() -> None:
    # public trust: the site root is not a Mozilla root
    trust = TrustConfig(mode=PUBLIC, offline=True)
    found = findings(observe(LEAF, INTER, ROOT), trust)
    (f,) = by_rule(found, "CS202")
    assert f.evidence["untrusted_root"]["subject"] == "CN=Site Root"
    assert f.evidence["untrusted_root"]["sent_by_device"] is True
    assert "CS201" not in chain_ids(found)


def test_self_signed_leaf_is_an_untrusted_root_unless_bundled() -> None:
    selfsigned = pki.make_leaf(None, common_name="cam", ips=[ADDRESS], not_before=START)
    found = findings(observe(selfsigned), TrustConfig(offline=True))
    (f,) = by_rule(found, "CS202")
    assert f.evidence["untrusted_root"]["self_signed_leaf"] is True
    assert "self-signed" in f.message
    # the user exported the device certificate and trusts it: no chain finding
    assert chain_ids(findings(observe(selfsigned), site(selfsigned))) == set()


def test_bad_signature_is_a_broken_chain() -> None:
    impostor = ca("Site Issuing CA", ROOT)  # same name, another key: did not sign LEAF
    obs = observe(LEAF, impostor)
    verdict = chain_verdict(obs, AuditContext(now=NOW, trust=site(ROOT)))
    assert verdict.status is ChainStatus.BROKEN_CHAIN
    found = findings(obs, site(ROOT))
    (f,) = by_rule(found, "CS203")  # one finding per rule and endpoint
    bad = [v for v in violation_entries(f) if v["problem"] == "bad_signature"]
    assert bad and bad[0]["severity"] == "error" and f.severity is Severity.ERROR
    assert "does not verify" in bad[0]["message"] and "does not verify" in f.message


def test_wrong_order_unrelated_and_duplicate_are_warnings() -> None:
    upper = ca("Upper CA", ROOT)
    lower = ca("Lower CA", upper)
    leaf = pki.make_leaf(lower, ips=[ADDRESS], not_before=START)
    stray = ca("Old Issuing CA", ROOT)
    found = findings(observe(leaf, upper, lower, stray, stray), site(ROOT))
    # One finding (it used to be one per problem) that counts and lists every problem.
    (f,) = by_rule(found, "CS203")
    entries = violation_entries(f)
    problems = {v["problem"]: v for v in entries}
    assert set(problems) == {"order", "unrelated", "duplicate"}
    assert f.evidence["count"] == len(entries) == 4  # the stray, sent twice, is unrelated twice
    assert f.message.startswith("4 problems: ")
    assert f.severity is Severity.WARNING and all(v["severity"] == "warning" for v in entries)
    assert "Old Issuing CA" in problems["unrelated"]["message"]
    assert problems["unrelated"]["certificates"] == ["CN=Old Issuing CA"]
    assert f.evidence["chain_status"] == "trusted"  # what all four share, said once
    # the path itself is fine: no error-severity chain finding
    assert not [f for f in found if f.rule_id.startswith("CS2") and f.severity is Severity.ERROR]
    # in order, nothing to say
    assert chain_ids(findings(observe(leaf, lower, upper), site(ROOT))) == set()


def test_path_length_violation_is_cs204() -> None:
    upper = ca("Upper CA", ROOT, path_length=0)
    lower = ca("Lower CA", upper)
    leaf = pki.make_leaf(lower, ips=[ADDRESS], not_before=START)
    (f,) = by_rule(findings(observe(leaf, lower, upper), site(ROOT)), "CS204")
    assert f.evidence["kind"] == "path_length" and f.severity is Severity.ERROR
    assert "path length" in f.evidence["verifier_error"]


def test_issuer_that_is_not_a_ca_is_cs204() -> None:
    not_ca = pki.make_leaf(ROOT, common_name="Not A CA", not_before=START, ips=["127.0.0.9"])
    leaf = pki.make_leaf(not_ca, ips=[ADDRESS], not_before=START)
    (f,) = by_rule(findings(observe(leaf, not_ca), site(ROOT)), "CS204")
    assert f.evidence["kind"] in {"not_a_ca", "key_usage"}


def test_expired_anchor_is_cs204_but_an_expired_leaf_is_left_to_cs120() -> None:
    old_root = pki.make_ca("Old Root", not_before=START - dt.timedelta(days=400),
                           not_after=START - dt.timedelta(days=1) + dt.timedelta(days=20))
    inter = pki.make_ca("Old Issuing", issuer=old_root, not_before=START)
    leaf = pki.make_leaf(inter, ips=[ADDRESS], not_before=START)
    (f,) = by_rule(findings(observe(leaf, inter), site(old_root)), "CS204")
    assert f.evidence["kind"] == "validity" and "Old Root" in f.message

    expired_leaf = pki.make_leaf(INTER, ips=[ADDRESS], not_before=START, not_after=NOW - dt.timedelta(days=1))
    found = findings(observe(expired_leaf, INTER), site(ROOT))
    assert by_rule(found, "CS120")  # R2's rule reports the presented certificate
    assert not by_rule(found, "CS204")  # and it is not repeated here


def test_sha1_device_chain_is_built_structurally(request: pytest.FixtureRequest) -> None:
    root = x509.load_pem_x509_certificate((WEAK / "sha1-root.pem").read_bytes())
    inter = x509.load_pem_x509_certificate((WEAK / "sha1-intermediate.pem").read_bytes())
    leaf = x509.load_pem_x509_certificate((WEAK / "sha1-leaf.pem").read_bytes())
    now = leaf.not_valid_before_utc + dt.timedelta(days=1)
    obs = observe(leaf, inter, address="127.0.0.1")
    trust = TrustConfig(mode=SITE, site_bundles=(Bundle("sha1-root.pem", (root,)),), offline=True)
    verdict = chain_verdict(obs, AuditContext(now=now, trust=trust))
    assert verdict.anchored and not verdict.missing and verdict.untrusted_root is None
    found = evaluate([obs], AuditContext(now=now, trust=trust))
    assert by_rule(found, "CS102")  # the SHA-1 signatures are R2's finding...
    assert not by_rule(found, "CS204")  # ...not a second, vaguer one here


def test_bundles_load_pem_and_der_and_refuse_empty_or_unreadable(tmp_path: Path) -> None:
    pem = tmp_path / "a.pem"
    pem.write_bytes(ROOT.cert_pem + INTER.cert_pem)
    der = tmp_path / "a.der"
    der.write_bytes(ROOT.cert_der)
    assert len(load_bundle(pem).certs) == 2 and len(load_bundle(der).certs) == 1
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(UsageError, match=r"empty.pem"):
        load_bundle(empty)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"hello")
    with pytest.raises(UsageError, match=r"junk.pem: no certificate"):
        load_bundle(junk)
    with pytest.raises(UsageError, match=r"missing.pem: cannot read"):
        load_bundle(tmp_path / "missing.pem")
    with pytest.raises(UsageError, match=r"--trust site needs"):
        TrustConfig(mode=SITE)


def test_classify_ignores_device_text_in_the_error() -> None:
    message = ("validation failed: basicConstraints.cA must not be asserted in an EE certificate "
               "(encountered processing <Certificate(subject=<Name(CN=pathlen-expired-rsa)>, ...)>)")
    assert classify(message) == "not_a_ca"
