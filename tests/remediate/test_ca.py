"""The site CA and `camscan ca`: permissions, refusals, formats, and certificates camscan's own
rules judge clean (and the openssl equivalents a plan prints, run for real)."""

from __future__ import annotations

import io
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from camscan import pki
from camscan.cli import main
from camscan.errors import UsageError
from camscan.model import Endpoint
from camscan.remediate import commands as cmd
from camscan.remediate.ca import CSRMismatch, LocalCA

IP = "127.0.0.7"
CA_PASSPHRASE = "site CA test passphrase"


@pytest.fixture(autouse=True)
def _ca_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ca init` encrypts the CA key by default; the CLI tests read its passphrase from here."""
    monkeypatch.setenv("CAMSCAN_CA_PASSPHRASE", CA_PASSPHRASE)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA.init(tmp_path / "site-ca")


def test_init_writes_a_private_directory_and_key_and_refuses_to_replace_it(tmp_path: Path) -> None:
    authority = LocalCA.init(tmp_path / "site-ca")
    assert _mode(authority.directory) == 0o700
    assert _mode(authority.directory / "ca.key") == 0o600
    assert authority.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    with pytest.raises(UsageError, match="already holds a CA"):
        LocalCA.init(tmp_path / "site-ca")
    assert LocalCA.load(tmp_path / "site-ca").certificate == authority.certificate


def test_load_refuses_a_directory_or_key_other_users_can_read(ca: LocalCA) -> None:
    ca.directory.chmod(0o755)
    with pytest.raises(UsageError, match="chmod 700"):
        LocalCA.load(ca.directory)
    ca.directory.chmod(0o700)
    (ca.directory / "ca.key").chmod(0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        LocalCA.load(ca.directory)


def test_issued_certificate_carries_the_ip_server_auth_and_at_most_398_days(ca: LocalCA) -> None:
    issued = ca.issue([IP], ["cam7.example.lan"])
    cert = issued.cert
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == [IP]
    assert san.get_values_for_type(x509.DNSName) == ["cam7.example.lan"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    period = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert period.total_seconds() + 1 == 398 * 86400
    cert.verify_directly_issued_by(ca.certificate)
    with pytest.raises(UsageError, match=r"between 1 and 398.*--force-days"):
        ca.issue([IP], days=399)
    # Longer only when asked for explicitly (and CS109 still reports it).
    long = ca.issue([IP], days=825, force_days=True).cert
    assert (long.not_valid_after_utc - long.not_valid_before_utc).total_seconds() + 1 == 825 * 86400
    with pytest.raises(UsageError, match=r"between 1 and 398"):
        ca.issue([IP], days=0, force_days=True)


def test_cli_refuses_more_than_398_days_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    LocalCA.init(tmp_path / "ca")
    base = ["ca", "issue", "--ca", str(tmp_path / "ca"), "--ip", IP, "--days", "825"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 2
    assert "--force-days" in capsys.readouterr().err and not (tmp_path / "a.key").exists()
    assert main([*base, "--out", str(tmp_path / "b"), "--force-days"]) == 0
    cert = x509.load_pem_x509_certificate((tmp_path / "b.pem").read_bytes())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 824


def test_sign_csr_fills_in_a_missing_san_refuses_a_wrong_one_unless_corrected(ca: LocalCA) -> None:
    key = pki.new_key()
    bare = pki.make_csr(key, common_name=IP)
    signed = ca.sign_csr(bare, [IP])
    assert [
        str(i)
        for i in signed.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.IPAddress)
    ] == [IP]
    wrong = pki.make_csr(key, common_name=IP, ips=["127.0.0.99"])
    with pytest.raises(CSRMismatch, match=r"127.0.0.99"):
        ca.sign_csr(wrong, [IP])
    corrected = ca.sign_csr(wrong, [IP], correct=True)
    assert "127.0.0.99" not in str(corrected.extensions.get_extension_for_class(x509.SubjectAlternativeName))


def test_sign_csr_refuses_a_csr_whose_signature_does_not_verify(ca: LocalCA) -> None:
    der = bytearray(pki.make_csr(pki.new_key(), common_name=IP).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature
    with pytest.raises(UsageError, match=r"signature does not verify"):
        ca.sign_csr(x509.load_der_x509_csr(bytes(der)), [IP])


def test_cli_issue_pem_der_p12_with_0600_keys_and_no_silent_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = tmp_path / "site-ca"
    assert main(["ca", "init", "--dir", str(ca_dir)]) == 0
    out = tmp_path / "cam7"
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", IP, "--out", str(out)]) == 0
    assert _mode(Path(f"{out}.key")) == 0o600
    cert = x509.load_pem_x509_certificate(Path(f"{out}.pem").read_bytes())
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", IP, "--out", str(out)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (
        main(
            ["ca", "issue", "--ca", str(ca_dir), "--ip", IP, "--out", str(out), "--format", "der", "--force"]
        )
        == 0
    )
    assert x509.load_der_x509_certificate(Path(f"{out}.der").read_bytes()).public_key() != cert.public_key()
    monkeypatch.delenv("CAMSCAN_P12_PASSPHRASE", raising=False)
    monkeypatch.delenv("CAMSCAN_P12_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO())  # not a terminal: no prompt
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", IP, "--out", str(out), "--format", "p12"]) == 2
    assert "CAMSCAN_P12_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("CAMSCAN_P12_PASSWORD", "correct horse")
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", IP, "--out", str(out), "--format", "p12"]) == 0
    assert _mode(Path(f"{out}.p12")) == 0o600
    key, leaf, extra = pkcs12.load_key_and_certificates(Path(f"{out}.p12").read_bytes(), b"correct horse")
    assert (
        key is not None and leaf is not None and extra[0].subject == LocalCA.load(ca_dir).certificate.subject
    )


def test_cli_issued_certificate_passes_camscan_check_for_its_ip(tmp_path: Path) -> None:
    ca_dir = tmp_path / "site-ca"
    assert main(["ca", "init", "--dir", str(ca_dir)]) == 0
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", IP, "--out", str(tmp_path / "c")]) == 0
    assert (
        main(
            [
                "check",
                str(tmp_path / "c.pem"),
                "--key",
                str(tmp_path / "c.key"),
                "--ip",
                IP,
                "--ca-bundle",
                str(ca_dir / "ca.pem"),
                "--trust",
                "site",
                "--offline",
            ]
        )
        == 0
    )


def test_cli_csr_for_a_public_ca_takes_dns_names_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "vms"
    assert main(["ca", "csr", "--dns", "vms.example.com", "--ip", IP, "--out", str(out)]) == 2
    assert "public CAs do not certify IP addresses" in capsys.readouterr().err
    assert main(["ca", "csr", "--dns", "vms.example.com", "--out", str(out)]) == 0
    csr = x509.load_pem_x509_csr(Path(f"{out}.csr").read_bytes())
    assert csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ["vms.example.com"]
    assert _mode(Path(f"{out}.key")) == 0o600


def test_cli_sign_shows_the_requested_names_and_refuses_a_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = tmp_path / "site-ca"
    assert main(["ca", "init", "--dir", str(ca_dir)]) == 0
    csr_file = tmp_path / "device.csr"
    csr_file.write_bytes(
        pki.make_csr(pki.new_key(), common_name=IP, ips=["127.0.0.99"]).public_bytes(
            serialization.Encoding.PEM
        )
    )
    assert (
        main(["ca", "sign", "--ca", str(ca_dir), str(csr_file), "--ip", IP, "--out", str(tmp_path / "d")])
        == 2
    )
    captured = capsys.readouterr()
    assert "the CSR asks for: 127.0.0.99" in captured.out
    assert "refusing to sign" in captured.err
    assert (
        main(
            [
                "ca",
                "sign",
                "--ca",
                str(ca_dir),
                str(csr_file),
                "--ip",
                IP,
                "--correct",
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 0
    )
    assert not Path(tmp_path / "d.key").exists()  # the key stays on the device


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_openssl_commands_a_plan_prints_make_a_certificate_camscan_judges_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = tmp_path / "site-ca"
    LocalCA.init(ca_dir)
    ctx = cmd.Context(Endpoint(IP, 8443), (IP,), (), "onvif", str(ca_dir), "admin")
    for line in cmd.reissue_openssl(ctx):
        shell_line = line.split("  # ")[0]
        subprocess.run(["bash", "-c", shell_line], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    capsys.readouterr()
    assert (
        main(
            [
                "check",
                str(tmp_path / f"{IP}.crt"),
                "--key",
                str(tmp_path / f"{IP}.key"),
                "--ip",
                IP,
                "--ca-bundle",
                str(ca_dir / "ca.pem"),
                "--trust",
                "site",
                "--offline",
            ]
        )
        == 0
    )
    # Clean, not merely passing: a warning such as CS109 (openssl's -days counts one second more
    # than camscan's own issuer) would make the printed commands a lesser certificate.
    assert "no findings" in capsys.readouterr().out
    assert (tmp_path / f"{IP}.der").read_bytes()[:1] == b"\x30"
