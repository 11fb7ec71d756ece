"""The site CA signs nothing camscan's own rules would flag, and nothing for another name
(issue 15): the CSR's subject, SANs, key and signature are checked before signing, in
`ca sign` and in the signing function `fix --apply` calls; `ca issue` writes all its outputs
or none; one PKCS#12 password variable; a missing --out directory is one line, exit 2."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from camscan import pki
from camscan.cli import main
from camscan.remediate import inventory
from camscan.remediate.ca import CSRMismatch, LocalCA
from camscan.remediate.signcheck import SigningRefused

IP = "127.0.0.7"


@pytest.fixture(autouse=True)
def _ca_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMSCAN_CA_PASSPHRASE", "site CA test passphrase")


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA.init(tmp_path / "site-ca")


def _csr(key: pki.PrivateKey, cn: str, ips: list[str]) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    if ips:
        builder = builder.add_extension(x509.SubjectAlternativeName(pki.san_entries(ips)), critical=False)
    return builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]


def _write_csr(path: Path, csr: x509.CertificateSigningRequest) -> Path:
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


def test_a_csr_whose_common_name_is_another_site_is_refused_even_with_the_devices_ip(ca: LocalCA) -> None:
    csr = _csr(pki.new_key(), "www.bank.example", [IP])
    with pytest.raises(CSRMismatch, match=r"Common Name 'www.bank.example' is not the device's"):
        ca.sign_csr(csr, [IP])
    assert inventory.list_issued(ca.directory) == []  # nothing was signed, nothing recorded
    corrected = ca.sign_csr(csr, [IP], correct=True)
    assert corrected.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == IP
    assert "bank" not in corrected.subject.rfc4514_string()


def test_cli_sign_refuses_the_foreign_common_name_and_writes_nothing(
    ca: LocalCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = _write_csr(tmp_path / "dev.csr", _csr(pki.new_key(), "www.bank.example", [IP]))
    out = str(tmp_path / "c")
    code = main(["ca", "sign", "--ca", str(ca.directory), str(request), "--ip", IP, "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and "www.bank.example" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c.pem").exists()


def test_a_weak_key_is_refused_by_camscans_own_rules(ca: LocalCA) -> None:
    # The CSR names only the device; its 1024-bit RSA key is what CS101 flags on the result.
    weak = _csr(pki.new_key("rsa-1024"), IP, [IP])
    with pytest.raises(SigningRefused, match=r"rules flag the result: CS101"):
        ca.sign_csr(weak, [IP])
    with pytest.raises(SigningRefused, match=r"CS101"):
        ca.issue([IP], key=pki.new_key("rsa-1024"))
    assert inventory.list_issued(ca.directory) == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_a_sha1_signed_csr_is_refused(ca: LocalCA, tmp_path: Path) -> None:
    # cryptography no longer makes SHA-1 signatures; old camera firmware (and openssl) still can.
    key = tmp_path / "k.pem"
    key.write_bytes(pki.key_to_pem(pki.new_key()))
    subprocess.run(
        ["openssl", "req", "-new", "-key", str(key), "-sha1", "-subj", f"/CN={IP}",
         "-addext", f"subjectAltName=IP:{IP}", "-out", str(tmp_path / "x.csr")],
        check=True, capture_output=True,
    )
    csr = x509.load_pem_x509_csr((tmp_path / "x.csr").read_bytes())
    with pytest.raises(SigningRefused, match=r"signed with SHA1"):
        ca.sign_csr(csr, [IP])


def test_sign_needs_the_devices_names(
    ca: LocalCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = _write_csr(tmp_path / "dev.csr", _csr(pki.new_key(), IP, [IP]))
    code = main(["ca", "sign", "--ca", str(ca.directory), str(request), "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and "--ip" in err and "the device is :" not in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(SigningRefused, match=r"--ip"):
        ca.sign_csr(_csr(pki.new_key(), IP, [IP]), [])


def test_issue_checks_every_output_first_and_leaves_no_orphan_key(
    ca: LocalCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cam7"
    Path(f"{out}.pem").write_text("an older certificate\n")
    assert main(["ca", "issue", "--ca", str(ca.directory), "--ip", IP, "--out", str(out)]) == 2
    assert "cam7.pem exists" in capsys.readouterr().err
    assert not Path(f"{out}.key").exists()  # the retry is not blocked by a key written first
    assert inventory.list_issued(ca.directory) == []  # and nothing was signed
    Path(f"{out}.pem").unlink()
    assert main(["ca", "issue", "--ca", str(ca.directory), "--ip", IP, "--out", str(out)]) == 0
    assert Path(f"{out}.key").exists() and Path(f"{out}.pem").exists()


@pytest.mark.parametrize("action", ["issue", "sign", "csr"])
def test_out_in_a_missing_directory_is_one_line_exit_2(
    action: str, ca: LocalCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "nodir" / "x")
    request = _write_csr(tmp_path / "dev.csr", _csr(pki.new_key(), IP, [IP]))
    argv = {
        "issue": ["ca", "issue", "--ca", str(ca.directory), "--ip", IP, "--out", out],
        "sign": ["ca", "sign", "--ca", str(ca.directory), str(request), "--ip", IP, "--out", out],
        "csr": ["ca", "csr", "--dns", "cam7.example.com", "--out", out],
    }[action]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert inventory.list_issued(ca.directory) == []


def test_one_pkcs12_variable_everywhere_and_the_old_name_warns(
    ca: LocalCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO())  # not a terminal: no prompt
    monkeypatch.delenv("CAMSCAN_P12_PASSPHRASE", raising=False)
    monkeypatch.setenv("CAMSCAN_P12_PASSWORD", "correct horse")
    base = ["ca", "issue", "--ca", str(ca.directory), "--ip", IP, "--format", "p12"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert "deprecated" not in capsys.readouterr().err
    # `camscan check` opens it with the same variable.
    assert main(["check", str(tmp_path / "a.p12"), "--ip", IP, "--ca-bundle", str(ca.cert_path),
                 "--trust", "site", "--offline"]) == 0
    capsys.readouterr()
    monkeypatch.delenv("CAMSCAN_P12_PASSWORD")
    monkeypatch.setenv("CAMSCAN_P12_PASSPHRASE", "battery staple")
    assert main([*base, "--out", str(tmp_path / "b")]) == 0
    assert "CAMSCAN_P12_PASSPHRASE is deprecated; set CAMSCAN_P12_PASSWORD" in capsys.readouterr().err
    key, _, _ = pkcs12.load_key_and_certificates((tmp_path / "b.p12").read_bytes(), b"battery staple")
    assert key is not None
    assert main(["check", str(tmp_path / "b.p12"), "--ip", IP, "--ca-bundle", str(ca.cert_path),
                 "--trust", "site", "--offline"]) == 0
    assert "deprecated" in capsys.readouterr().err
