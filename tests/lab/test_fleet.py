"""Fleet files: the built-in mix, resizing, and clear one-line errors for bad input. Pure."""

from __future__ import annotations

from collections import Counter

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from camscan import pki
from camscan.errors import UsageError
from camscan.lab import default_fleet, load_fleet, parse_fleet
from camscan.lab.der import resign
from camscan.lab.identity import PERSONALITIES, make_identity
from camscan.lab.scenarios import SCENARIOS
from camscan.rules.registry import all_rules


def test_default_fleet_is_mostly_healthy_with_every_scenario() -> None:
    fleet = default_fleet()
    counts = Counter(d.scenario for d in fleet.devices)
    assert set(counts) == set(SCENARIOS)  # every scenario is planted at least once
    assert counts["healthy"] > len(fleet.devices) / 3
    assert {d.personality for d in fleet.devices} == set(PERSONALITIES)
    assert fleet.settings.block == "127.77.0.0/16"


def test_scenarios_name_only_rules_that_exist() -> None:
    known = {rule.id for rule in all_rules()}
    planted = {rule for s in SCENARIOS.values() for rule in s.rules}
    assert planted <= known, planted - known
    # Every rule the lab can show without a second run or a host name is planted somewhere.
    # CS112 (zero/negative serial) is tested on x509-limbo's own certificates instead: the
    # scanner parses device chains with cryptography, which deprecates loading such serials.
    # The WebPKI profile's rules (CS6xx) judge publicly trusted VMS certificates, not cameras:
    # tests/rules/test_webpki.py and the x509-limbo cases exercise them.
    # CS205 (a leaf outside its CA's name constraints) needs a name-constrained CA, which no
    # camera firmware has: x509-limbo's nc cases (tests/rules/test_cs205.py) and the site CA's
    # tests against openssl verify (tests/remediate/test_ca_hardening.py) exercise it.
    webpki = {rule.id for rule in all_rules() if rule.profile == "webpki"}
    assert known - planted - webpki <= {"CS000", "CS108", "CS112", "CS205", "CS404", "CS501"}, known - planted


def test_resize_keeps_the_mix() -> None:
    fleet = default_fleet()
    big = fleet.resized(450)
    assert len(big.devices) == 450
    base, scaled = Counter(d.scenario for d in fleet.devices), Counter(d.scenario for d in big.devices)
    assert all(scaled[name] == 10 * count for name, count in base.items())
    small = fleet.resized(5)
    assert len(small.devices) == 5
    with pytest.raises(UsageError, match="--size 0"):
        fleet.resized(0)


def test_fleet_file_round_trip(tmp_path: object) -> None:
    text = """
[lab]
block = "127.88.4.0/24"
https_port = 9443
http_port = false
reboot_downtime = 0.5

[[devices]]
personality = "axis"
scenario = "expired"
count = 3
axis_cert_api = "v1beta"

[[devices]]
name = "lobby"
personality = "hikvision"
isapi_namespace = "hikvision.com"
clock_offset = -7200
"""
    fleet = parse_fleet(text, "site.toml")
    assert fleet.settings.block == "127.88.4.0/24" and fleet.settings.http_port is None
    assert [d.scenario for d in fleet.devices] == ["expired"] * 3 + ["healthy"]
    assert fleet.devices[-1].name == "lobby" and fleet.devices[-1].clock_offset == -7200.0


@pytest.mark.parametrize(("text", "message"), [
    ("[[devices]]\nscenario = 'broken-ish'\n", "scenario 'broken-ish' is unknown"),
    ("[[devices]]\npersonality = 'bosch'\n", "personality 'bosch' is unknown"),
    ("[[devices]]\ncolour = 'red'\n", "unknown key 'colour'"),
    ("[lab]\nblock = '198.51.100.0/24'\n[[devices]]\n", "must be inside 127.0.0.0/8"),  # documentation range
    ("[lab]\nblock = 'nonsense'\n[[devices]]\n", "'nonsense' is not a network"),
    ("[lab]\nhttps_port = 70000\n[[devices]]\n", "70000 is not a port"),
    ("[[devices]]\ncount = 0\n", "count 0"),
    ("[[devices]]\nclock_offset = 'late'\n", "clock_offset 'late'"),
    ("[[devices]]\nname = 'a'\ncount = 2\n", "name needs count = 1"),
    ("[lab]\n", "no [[devices]]"),
    ("this is = = not toml", "not valid TOML"),
])
def test_bad_fleet_files_get_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        parse_fleet(text, "bad.toml")
    assert "\n" not in str(info.value) and "bad.toml" in str(info.value)


def test_missing_fleet_file() -> None:
    with pytest.raises(UsageError, match=r"cannot read fleet file ./nonexistent/fleet\.toml."):
        load_fleet("/nonexistent/fleet.toml")


def test_identities_use_vendor_ouis_and_are_unique() -> None:
    ids = [make_identity(p, i) for i in range(2000) for p in ("axis",)]
    assert len({i.mac for i in ids}) == 2000
    assert all(i.mac[:8] in ("ac:cc:8e", "b8:a4:4f", "e8:27:25", "00:40:8c") for i in ids)
    assert all(i.serial == i.mac_bare for i in ids)  # Axis serials are the MAC
    assert make_identity("dahua", 3).mac.startswith(("90:02:a9", "3c:ef:8c", "e0:50:8b", "bc:32:5f"))


def test_sha1_and_v1_certificates_verify_with_the_issuer_key() -> None:
    for key_kind in ("ec-p256", "rsa-2048"):
        ca = pki.make_ca("weak issuer", key=pki.new_key(key_kind))
        leaf = pki.make_leaf(ca, common_name="127.0.0.1", ips=["127.0.0.1"])
        sha1 = resign(leaf.cert, ca.key)
        assert sha1.signature_hash_algorithm is not None and sha1.signature_hash_algorithm.name == "sha1"
        public = ca.key.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(sha1.signature, sha1.tbs_certificate_bytes, ec.ECDSA(hashes.SHA1()))
        else:
            public.verify(sha1.signature, sha1.tbs_certificate_bytes, padding.PKCS1v15(),  # type: ignore[union-attr]
                          hashes.SHA1())
        v1 = resign(leaf.cert, ca.key, hash_name="sha256", version1=True)
        assert v1.version.name == "v1" and len(v1.extensions) == 0
        v1.verify_directly_issued_by(ca.cert)
        assert v1.subject == leaf.cert.subject and v1.serial_number == leaf.cert.serial_number
