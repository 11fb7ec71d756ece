"""The `command` issuer against a real `openssl ca`: the lab's expired and stale devices
re-issued through it, and every way a command-line CA can fail leaving the device as it was."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from camscan.cli import main
from camscan.lab import DeviceSpec
from tests.remediate.issuer_lab import apply_with, assert_all_fixed_by, fleet, outcome, write_issuers
from tests.remediate.test_apply_lab import make_run  # noqa: F401  (the lab fixture)
from tests.support.openssl_ca import OpenSSLCA, openssl_ca

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def issuers_file(tmp: Path, ca: OpenSSLCA) -> Path:
    return write_issuers(
        tmp,
        f"""
[issuer.corp]
kind = "command"
command = "openssl ca -batch -notext -config {ca.config} -in {{csr}} -out {{out}} -days {{days}}"
revoke = "openssl ca -batch -config {ca.config} -revoke {{cert}} -crl_reason {{reason}}"
roots = "{ca.cert_path}"
timeout = 30
days = 90

[issuer.strict]
kind = "command"
command = "openssl ca -batch -notext -config {ca.config} -policy policy_strict -in {{csr}} -out {{out}}"
roots = "{ca.cert_path}"

[issuer.hangs]
kind = "command"
command = "sleep 60"
timeout = 1

[issuer.missing]
kind = "command"
command = "/nonexistent/bin/camera-ca {{csr}} {{out}}"
""",
    )


def test_openssl_ca_reissues_expired_and_stale_devices_and_the_rescan_is_clean(
    make_run: Any, tmp_path: Path  # noqa: F811
) -> None:
    ca = openssl_ca(tmp_path / "openssl-ca")
    run = make_run(*fleet())
    assert apply_with(run, "corp", issuers_file(tmp_path, ca)) == 0
    assert_all_fixed_by(run, ca.ca.cert.subject.rfc4514_string())
    assert len(ca.index()) == len(run.lab.devices)  # openssl recorded every certificate it issued
    # The plan names the issuer, not the site CA, in its summary and its commands.
    step = next(iter(run.outcomes().values()))["steps"][0]
    assert "from issuer corp" in step["summary"] and "--issuer corp --issuers" in step["commands"][0]
    assert not any("camscan ca " in c for c in step["commands"])
    issued = [line for line in run.audit_log() if line["action"] in ("sign-csr", "issue")]
    assert {line["issuer"] for line in issued} == {"corp"}
    # The lifetime asked (days = 90) is the lifetime openssl gave.
    from cryptography import x509

    pem = next((ca.directory / "newcerts").iterdir()).read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 90


@pytest.mark.parametrize(
    ("issuer", "kind", "words"),
    [
        ("strict", "refused", "openssl exited 1"),
        ("hangs", "timeout", "did not finish within 1 s"),
        ("missing", "config", "cannot run"),
    ],
)
def test_a_failing_command_leaves_the_device_serving_its_certificate(
    make_run: Any, tmp_path: Path, issuer: str, kind: str, words: str  # noqa: F811
) -> None:
    ca = openssl_ca(tmp_path / "openssl-ca")
    run = make_run(DeviceSpec("axis", "expired", name="cam"), DeviceSpec("hikvision", "expired", name="cam2"))
    before = {d.name: run.fingerprint(d) for d in run.lab.devices}
    assert apply_with(run, issuer, issuers_file(tmp_path, ca)) == 1
    for device in run.lab.devices:
        entry = outcome(run, device.name)["outcome"]
        assert entry["status"] == "failed"
        assert f"issuer {kind}:" in entry["reason"] and words in entry["reason"], entry["reason"]
        assert "device unchanged" in entry["reason"]
        assert run.fingerprint(device) == before[device.name]  # still serving, untouched
    assert ca.index() == []


def test_issuer_test_signs_a_throw_away_csr_or_says_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = openssl_ca(tmp_path / "openssl-ca")
    path = issuers_file(tmp_path, ca)
    assert main(["issuer", "test", "corp", "--issuers", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("corp: ok: command: openssl") and "Corp Camera Issuing CA" in out
    assert main(["issuer", "test", "hangs", "--issuers", str(path)]) == 3
    err = capsys.readouterr().err.strip()
    assert err == "hangs: FAILED: issuer timeout: hangs: sleep did not finish within 1 s (killed)"
    assert main(["issuer", "test", "nope", "--issuers", str(path)]) == 2
    assert "unknown issuer 'nope'" in capsys.readouterr().err


def test_the_command_never_sees_the_device_password(monkeypatch: pytest.MonkeyPatch) -> None:
    import trio

    from camscan import pki
    from camscan.remediate.issuers.base import Enrolment, IssuerError
    from camscan.remediate.issuers.command import CommandIssuer

    monkeypatch.setenv("CAMSCAN_PASSWORD", "Device-Pw-123")
    monkeypatch.setenv("CAMSCAN_EST_PASSWORD", "Est-Pw-456")
    probe = (
        "sh -c 'env | grep -q Pw- && {{ echo leaked >&2; exit 9; }}; "
        "[ \"$CAMSCAN_SAN\" = IP:192.0.2.7 ] || exit 8; echo no certificate >&2; exit 3'"
    )
    issuer = CommandIssuer("probe", probe, timeout=10)
    key = pki.new_key("ec-p256")
    enrolment = Enrolment(pki.make_csr(key, common_name="cam", ips=["192.0.2.7"]), ("192.0.2.7",), (), 30)
    with pytest.raises(IssuerError) as caught:
        trio.run(issuer.issue, enrolment)
    assert str(caught.value) == "issuer refused: probe: sh exited 3: no certificate"
