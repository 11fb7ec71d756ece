"""CS112: serial numbers that are zero, negative or longer than 20 octets.

cryptography refuses to build such certificates, so the failing cases are x509-limbo's own
(tests/data/conformance, Apache-2.0): real DER with a zero, a negative and a 22-octet serial."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning

from camscan import pki
from camscan.model import AuditContext, Endpoint, Observation, Severity
from camscan.rules import cs112_serial_number as cs112
from camscan.rules.registry import evaluate

CASES = Path(__file__).resolve().parents[1] / "data" / "conformance" / "x509-limbo-cases.json"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _limbo_leaf(case_id: str) -> bytes:
    case = next(c for c in json.loads(CASES.read_text())["cases"] if c["id"] == case_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        cert = x509.load_pem_x509_certificate(case["leaf"].encode())
    return cert.public_bytes(serialization.Encoding.DER)


def _observe(der: bytes) -> Observation:
    return Observation(Endpoint("127.0.0.1", 443), (der,), "TLSv1.3", "TLS_AES_128_GCM_SHA256", NOW)


@pytest.mark.parametrize(
    ("case_id", "severity", "words"),
    [
        ("rfc5280::serial::zero", Severity.ERROR, "is zero"),
        ("rfc5280::serial::negative", Severity.ERROR, "is negative"),
        ("rfc5280::serial::too-long", Severity.WARNING, "octets long"),
    ],
)
def test_bad_serials_are_reported(case_id: str, severity: Severity, words: str) -> None:
    obs = _observe(_limbo_leaf(case_id))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        findings = [f for f in evaluate([obs], AuditContext(now=NOW)) if f.rule_id == "CS112"]
    assert len(findings) == 1
    assert findings[0].severity is severity
    assert words in findings[0].message
    assert findings[0].evidence["role"] == "leaf"


def test_a_normal_random_serial_passes() -> None:
    leaf = pki.make_leaf(pki.make_ca("root"), common_name="cam", ips=["127.0.0.1"])
    assert list(cs112.check(_observe(leaf.cert_der), AuditContext(now=NOW))) == []


@pytest.mark.parametrize(
    ("serial", "octets"),
    [(1, 1), (127, 1), (128, 2), (2**159 - 1, 20), (2**159, 21), (-1, 1), (-128, 1), (-129, 2)],
)
def test_serial_octets_follow_der_integer_encoding(serial: int, octets: int) -> None:
    assert cs112.serial_octets(serial) == octets


def test_the_cli_reports_it_as_a_finding_not_as_a_python_warning(tmp_path: Path) -> None:
    cert = tmp_path / "negative.der"
    cert.write_bytes(_limbo_leaf("rfc5280::serial::negative"))
    # A fresh interpreter with default warning filters, as a user runs it.
    run = subprocess.run(
        [sys.executable, "-W", "default", "-m", "camscan", "check", str(cert), "--dns", "example.com",
         "--offline"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 1, run.stderr
    assert "CS112" in run.stdout + run.stderr
    assert "Warning" not in run.stderr
