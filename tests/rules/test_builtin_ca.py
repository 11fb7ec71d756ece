"""A leaf whose issuer is not sent and found nowhere: a device's built-in root (CS202, inferred)
or a missing intermediate (CS201), on certificates built in-process.

Seed 001: the firmware's built-in root CA signs a leaf for the current address at every boot
and the device sends only that leaf. camscan infers the root from the vendor table, from the
fleet (one unsent issuer signing the leaves of several devices) or from a name that says Root
without an AIA URL; everything else stays a missing intermediate.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.model import AuditContext, Endpoint, Finding, Observation
from camscan.rules.registry import evaluate
from camscan.rules.trust import (
    FLEET_MIN_DEVICES,
    PUBLIC,
    SITE,
    Bundle,
    ChainStatus,
    TrustConfig,
    chain_verdict,
    index_fleet,
)
from camscan.rules.vendor_pki import built_in_ca_named, says_root

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
START = NOW - dt.timedelta(days=30)

# Dahua's built-in CA as scans show it (device-protocols.md section 8); made here with a new key.
DAHUA_NAME = pki.name("Product Root CA", O="DahuaTech", L="HangZhou", ST="ZheJiang", C="CN")
DAHUA_CA = pki.make_ca("Product Root CA", subject=DAHUA_NAME, not_before=START)
# A per-model firmware CA camscan's table does not know, whose name does not say Root.
IPC_CA = pki.make_ca("IPC CA", subject=pki.name("IPC CA", O="Example Cameras"), not_before=START)
SITE_ROOT = pki.make_ca("Site Root", not_before=START)
SITE_INTER = pki.make_ca("Site Issuing CA", issuer=SITE_ROOT, not_before=START)


def leaf(issuer: pki.Issued, address: str, **kw: object) -> x509.Certificate:
    return pki.make_leaf(issuer, common_name=address, ips=[address], not_before=START, **kw).cert  # type: ignore[arg-type]


def observe(*certs: x509.Certificate | pki.Issued, address: str, port: int = 443) -> Observation:
    ders = tuple(
        (c.cert if isinstance(c, pki.Issued) else c).public_bytes(serialization.Encoding.DER) for c in certs
    )
    return Observation(Endpoint(address, port), ders, "TLSv1.3", "x", NOW)


def site(*anchors: x509.Certificate, **kw: object) -> TrustConfig:
    return TrustConfig(mode=SITE, site_bundles=(Bundle("site.pem", anchors),), offline=True, **kw)  # type: ignore[arg-type]


def audit(observations: list[Observation], trust: TrustConfig, *, fleet: bool = True) -> list[Finding]:
    """What `judge` does offline: the fleet pre-pass (unless `fleet` is False), then the rules."""
    ctx = AuditContext(now=NOW, trust=trust)
    if fleet:
        index_fleet(observations, ctx)
    return evaluate(observations, ctx)


def chain_findings(found: list[Finding], endpoint: Endpoint) -> dict[str, list[Finding]]:
    by: dict[str, list[Finding]] = {}
    for f in found:
        if f.endpoint == endpoint and f.rule_id.startswith("CS2"):
            by.setdefault(f.rule_id, []).append(f)
    return by


def bases(f: Finding) -> list[str]:
    return [b["basis"] for b in f.evidence["untrusted_root"]["inference"]]


# --- the vendor table ------------------------------------------------------------------------


def test_dahua_product_root_ca_is_an_untrusted_built_in_root() -> None:
    obs = observe(leaf(DAHUA_CA, "127.0.0.10"), address="127.0.0.10")
    found = chain_findings(audit([obs], site(SITE_ROOT.cert)), obs.endpoint)
    assert set(found) == {"CS202"}  # not CS201: there is no intermediate to upload
    (f,) = found["CS202"]
    root = f.evidence["untrusted_root"]
    assert root["inferred"] is True and root["inferred_as"] == "built_in_ca"
    assert root["subject"] == DAHUA_NAME.rfc4514_string() and root["sha256"] is None
    assert root["sent_by_device"] is False and root["issuer_of"] == "CN=127.0.0.10"
    assert bases(f)[0] == "vendor_pattern"
    assert root["inference"][0]["pattern"] == "dahua-product-root-ca"
    assert "root_name" in bases(f)  # "Product Root CA" says Root too: every reason is listed
    assert "infers" in f.message and "built-in CA" in f.message and "inference" in f.message
    assert "--ca-bundle" in f.remediation and "cacert.crt" in f.remediation  # seed 001, Solution 1
    assert f.evidence["chain_status"] == "untrusted_root"


@pytest.mark.parametrize("mode", [PUBLIC, SITE])
def test_the_exported_built_in_ca_makes_the_chain_trusted(mode: str) -> None:
    # Seed 001, Solution 1: export cacert.crt and trust it (camscan: --ca-bundle cacert.crt).
    obs = observe(leaf(DAHUA_CA, "127.0.0.10"), address="127.0.0.10")
    bundle = Bundle("cacert.crt", (DAHUA_CA.cert,))
    trust = TrustConfig(mode=mode, site_bundles=(bundle,), offline=True)
    verdict = chain_verdict(obs, AuditContext(now=NOW, trust=trust))
    assert verdict.status is ChainStatus.TRUSTED and verdict.policy_checked
    assert verdict.anchor_source == "--ca-bundle cacert.crt"
    assert chain_findings(audit([obs], trust), obs.endpoint) == {}


def test_vendor_matchers() -> None:
    assert built_in_ca_named(DAHUA_NAME) is not None
    assert built_in_ca_named(pki.name("Product Root CA", O="Elsewhere")) is None
    assert built_in_ca_named(pki.name("hikvision.com", O="HIKVISION")) is None  # not a CA pattern
    for name in ("Product Root CA", "DS-2CD2143G2-I Root CA", "RootCA", "device root-ca"):
        assert says_root(pki.name(name)) == name
    for name in ("Site Issuing CA", "Uproot CA", "IPC CA"):
        assert says_root(pki.name(name)) is None
    assert says_root(pki.name(None, O="Root Org")) is None  # only the CN is read


# --- the name says Root -----------------------------------------------------------------------


def test_an_unknown_issuer_named_root_without_aia_is_an_untrusted_root() -> None:
    acme = pki.make_ca("Acme Camera Root CA", not_before=START)
    obs = observe(leaf(acme, "127.0.0.11"), address="127.0.0.11")
    found = chain_findings(audit([obs], site(SITE_ROOT.cert)), obs.endpoint)
    (f,) = found["CS202"]
    assert set(found) == {"CS202"}
    assert bases(f) == ["root_name"]
    # the name alone does not say whose root: the built-in CA or a private one
    assert f.evidence["untrusted_root"]["inferred_as"] == "root"
    assert "a root CA" in f.message and "'Acme Camera Root CA'" in f.message


def test_a_root_named_issuer_with_an_aia_url_stays_a_missing_intermediate() -> None:
    # An AIA URL says the issuer is meant to be fetched, as intermediates are (offline here).
    acme = pki.make_ca("Acme Camera Root CA", not_before=START)
    cert = leaf(acme, "127.0.0.11", aia_ca_issuers_url="http://127.0.0.1:9/acme.der")
    obs = observe(cert, address="127.0.0.11")
    found = chain_findings(audit([obs], site(SITE_ROOT.cert)), obs.endpoint)
    assert set(found) == {"CS201"}
    assert found["CS201"][0].evidence["found_in"] is None


def test_a_presented_intermediate_whose_root_is_not_passed() -> None:
    # Leaf + intermediate sent, the site root not passed (public trust): the top of the chain's
    # issuer says Root and has no AIA, so it is the private root the audit was not told about.
    obs = observe(leaf(SITE_INTER, "127.0.0.12"), SITE_INTER, address="127.0.0.12")
    found = chain_findings(audit([obs], TrustConfig(mode=PUBLIC, offline=True)), obs.endpoint)
    assert set(found) == {"CS202"}
    root = found["CS202"][0].evidence["untrusted_root"]
    assert root["subject"] == "CN=Site Root" and root["issuer_of"] == "CN=Site Issuing CA"


# --- the fleet ---------------------------------------------------------------------------------


def ipc_fleet(count: int, **kw: object) -> list[Observation]:
    addresses = [f"127.0.2.{i}" for i in range(1, count + 1)]
    return [observe(leaf(IPC_CA, a, **kw), address=a) for a in addresses]


def test_an_unknown_issuer_on_several_devices_none_of_which_sends_it_is_a_built_in_root() -> None:
    observations = ipc_fleet(FLEET_MIN_DEVICES)
    found = audit(observations, site(SITE_ROOT.cert))
    for obs in observations:
        by = chain_findings(found, obs.endpoint)
        assert set(by) == {"CS202"}, by
        (f,) = by["CS202"]
        assert bases(f) == ["fleet"]
        assert f.evidence["untrusted_root"]["inferred_as"] == "built_in_ca"
        fleet = f.evidence["untrusted_root"]["inference"][0]
        assert fleet["devices"] == FLEET_MIN_DEVICES
        assert fleet["addresses"] == [o.endpoint.address for o in observations]
        assert f"signs the leaves of {FLEET_MIN_DEVICES} devices" in f.message


def test_fleet_evidence_needs_enough_distinct_devices() -> None:
    # Two devices, one of them on two ports: two devices, below the threshold.
    two = ipc_fleet(FLEET_MIN_DEVICES - 1)
    again = observe(leaf(IPC_CA, two[0].endpoint.address), address=two[0].endpoint.address, port=8443)
    found = audit([*two, again], site(SITE_ROOT.cert))
    for obs in (*two, again):
        assert set(chain_findings(found, obs.endpoint)) == {"CS201"}


def test_fleet_evidence_needs_the_pre_pass() -> None:
    # evaluate() alone (a per-endpoint judge) has no fleet context: a missing intermediate.
    observations = ipc_fleet(FLEET_MIN_DEVICES)
    found = audit(observations, site(SITE_ROOT.cert), fleet=False)
    assert all(set(chain_findings(found, o.endpoint)) == {"CS201"} for o in observations)


def test_an_issuer_another_device_sends_is_an_intermediate() -> None:
    # The same leaf-only pattern from the site's issuing CA, but one device sends that CA: it is
    # an intermediate the others forgot (seed 002's single-certificate cameras).
    observations = [observe(leaf(SITE_INTER, f"127.0.3.{i}"), address=f"127.0.3.{i}") for i in range(1, 5)]
    healthy = observe(leaf(SITE_INTER, "127.0.3.9"), SITE_INTER, address="127.0.3.9")
    found = audit([*observations, healthy], site(SITE_ROOT.cert))
    for obs in observations:
        by = chain_findings(found, obs.endpoint)
        assert set(by) == {"CS201"}, by
        assert by["CS201"][0].evidence["missing_subject"] == "CN=Site Issuing CA"
    assert chain_findings(found, healthy.endpoint) == {}


def test_leaves_with_an_aia_url_are_no_fleet_evidence() -> None:
    observations = ipc_fleet(FLEET_MIN_DEVICES + 1, aia_ca_issuers_url="http://127.0.0.1:9/ipc.der")
    found = audit(observations, site(SITE_ROOT.cert))
    assert all(set(chain_findings(found, o.endpoint)) == {"CS201"} for o in observations)


def test_two_cas_with_one_name_are_two_issuers() -> None:
    # Per-device CAs that share a name (another key on every unit) are no per-model pattern.
    twins = [pki.make_ca("IPC CA", subject=pki.name("IPC CA", O="Example Cameras"), not_before=START)
             for _ in range(FLEET_MIN_DEVICES)]
    observations = [
        observe(leaf(ca, f"127.0.4.{i}"), address=f"127.0.4.{i}") for i, ca in enumerate(twins, 1)
    ]
    found = audit(observations, site(SITE_ROOT.cert))
    assert all(set(chain_findings(found, o.endpoint)) == {"CS201"} for o in observations)


def test_an_intermediate_found_in_a_file_stays_cs201_on_a_fleet() -> None:
    # A real missing intermediate: several devices, none sends it, but --intermediates has it.
    observations = [observe(leaf(SITE_INTER, f"127.0.5.{i}"), address=f"127.0.5.{i}") for i in range(1, 5)]
    trust = site(SITE_ROOT.cert, intermediates=(Bundle("inter.pem", (SITE_INTER.cert,)),))
    found = audit(observations, trust)
    for obs in observations:
        by = chain_findings(found, obs.endpoint)
        assert set(by) == {"CS201"}
        assert by["CS201"][0].evidence["found_in"] == "intermediates-file"


def test_verdicts_cached_before_the_pre_pass_are_recomputed() -> None:
    # A --jsonl stream judges each endpoint as it completes, before the fleet is known.
    observations = ipc_fleet(FLEET_MIN_DEVICES)
    ctx = AuditContext(now=NOW, trust=site(SITE_ROOT.cert))
    assert chain_verdict(observations[0], ctx).status is ChainStatus.MISSING_INTERMEDIATE
    index_fleet(observations, ctx)
    assert chain_verdict(observations[0], ctx).status is ChainStatus.UNTRUSTED_ROOT
