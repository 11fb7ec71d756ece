"""The WebPKI profile (CS601-CS606): each rule fails the certificate it is about and passes a
BR-shaped one; none runs under the default device profile."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from camscan import pki
from camscan.cli import main
from camscan.model import AuditContext
from camscan.rules.offline import check_chain
from camscan.rules.registry import all_rules, rules_for
from camscan.rules.trust import SITE, Bundle, TrustConfig

WEBPKI_IDS = {"CS601", "CS602", "CS603", "CS604", "CS605", "CS606"}


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return pki.make_ca("webpki test root")


@pytest.fixture(scope="module")
def intermediate(root: pki.Issued) -> pki.Issued:
    return pki.make_ca("webpki test intermediate", issuer=root)


def judged(root: pki.Issued, chain: list[x509.Certificate], dns: str, profile: str = "webpki") -> set[str]:
    trust = TrustConfig(mode=SITE, site_bundles=(Bundle("root", (root.cert,)),), offline=True)
    ctx = AuditContext(now=dt.datetime.now(dt.UTC).replace(microsecond=0), trust=trust, profile=profile)
    return {f.rule_id for f in check_chain(chain, ctx, dns=dns).findings}


def good_leaf(intermediate: pki.Issued, name: str = "vms.example.com") -> x509.Certificate:
    return pki.make_leaf(intermediate, common_name=name, dns=[name]).cert


def test_a_br_shaped_chain_passes_every_profile_rule(root: pki.Issued, intermediate: pki.Issued) -> None:
    found = judged(root, [good_leaf(intermediate), intermediate.cert], "vms.example.com")
    assert not found & WEBPKI_IDS, found


def test_profile_rules_run_only_under_the_webpki_profile(root: pki.Issued, intermediate: pki.Issued) -> None:
    leaf = pki.make_leaf(intermediate, common_name="Other.example.com", dns=["vms.example.com"]).cert
    assert "CS601" in judged(root, [leaf, intermediate.cert], "vms.example.com")
    assert not judged(root, [leaf, intermediate.cert], "vms.example.com", "device") & WEBPKI_IDS
    assert {r.id for r in rules_for("webpki")} - {r.id for r in rules_for("device")} == WEBPKI_IDS
    assert all(r.profile == "webpki" for r in all_rules() if r.id in WEBPKI_IDS)


@pytest.mark.parametrize(
    ("cn", "sans", "ips", "fails"),
    [
        ("vms.example.com", ["vms.example.com"], [], False),
        ("VMS.example.com", ["vms.example.com"], [], True),  # case differs: not a copy
        ("127.0.0.1", [], ["127.0.0.1"], False),
        ("127.000.000.001", [], ["127.0.0.1"], True),  # leading zeros
        ("2001:DB8::1", [], ["2001:db8::1"], True),  # not RFC 5952
    ],
)
def test_cs601_cn_must_be_a_copy_of_a_san(
    root: pki.Issued, intermediate: pki.Issued, cn: str, sans: list[str], ips: list[str], fails: bool
) -> None:
    leaf = pki.make_leaf(intermediate, common_name=cn, dns=sans, ips=ips).cert
    assert ("CS601" in judged(root, [leaf, intermediate.cert], sans[0] if sans else "x.example.com")) is fails


def test_cs602_key_identifiers(root: pki.Issued) -> None:
    # An intermediate without a subjectKeyIdentifier, and a leaf whose AKI cannot name it.
    key = pki.new_key()
    now = pki.utcnow()
    no_ski = (
        x509.CertificateBuilder()
        .subject_name(pki.name("no-ski intermediate"))
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=300))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(root.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    issuer = pki.Issued(no_ski, key)
    leaf = pki.make_leaf(issuer, common_name="vms.example.com", dns=["vms.example.com"]).cert
    assert "CS602" in judged(root, [leaf, no_ski], "vms.example.com")


def test_cs603_eku_beyond_server_and_client_auth(root: pki.Issued, intermediate: pki.Issued) -> None:
    key = pki.new_key()
    now = pki.utcnow()
    leaf = (
        x509.CertificateBuilder()
        .subject_name(pki.name("vms.example.com"))
        .issuer_name(intermediate.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("vms.example.com")]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CODE_SIGNING]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(intermediate.key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(intermediate.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    assert "CS603" in judged(root, [leaf, intermediate.cert], "vms.example.com")


def test_cs604_wildcard_on_a_public_suffix(root: pki.Issued, intermediate: pki.Issued) -> None:
    for name, fails in (("*.co.uk", True), ("*.github.io", True), ("*.vms.example.com", False)):
        leaf = pki.make_leaf(intermediate, dns=[name]).cert
        assert ("CS604" in judged(root, [leaf, intermediate.cert], name.replace("*", "cam"))) is fails, name


def test_cs605_forbidden_key_types(root: pki.Issued, intermediate: pki.Issued) -> None:
    leaf = pki.make_leaf(
        intermediate,
        common_name="vms.example.com",
        dns=["vms.example.com"],
        key=ed25519.Ed25519PrivateKey.generate(),
    ).cert
    assert "CS605" in judged(root, [leaf, intermediate.cert], "vms.example.com")
    rsa_leaf = pki.make_leaf(
        intermediate, common_name="vms.example.com", dns=["vms.example.com"], key=pki.new_key("rsa-2048")
    ).cert
    assert "CS605" not in judged(root, [rsa_leaf, intermediate.cert], "vms.example.com")


def test_cs606_dns_names_must_be_ldh(root: pki.Issued, intermediate: pki.Issued) -> None:
    for name, fails in (
        ("cam_1.example.com", True),
        ("-cam.example.com", True),
        ("cam-1.example.com", False),
    ):
        leaf = pki.make_leaf(intermediate, dns=[name]).cert
        assert ("CS606" in judged(root, [leaf, intermediate.cert], "cam-1.example.com")) is fails, name


def test_cli_rules_lists_the_profile_rules_only_under_the_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--profile", "webpki", "--json"]) == 0
    assert WEBPKI_IDS <= {entry["id"] for entry in json.loads(capsys.readouterr().out)}
    assert main(["rules", "--json"]) == 0
    assert not WEBPKI_IDS & {entry["id"] for entry in json.loads(capsys.readouterr().out)}
