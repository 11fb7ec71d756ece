"""A site CA that cannot be turned against its own clients (issue 17 item 3): its key
encrypted at rest, critical name constraints honoured by OpenSSL and reported by CS205, and
a two-level layout whose root key stays out of the CA directory."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.cli import main
from camscan.remediate.ca import LocalCA

PASSPHRASE = "a long site CA passphrase"
INSIDE_IP, OUTSIDE_IP = "127.77.0.5", "127.0.0.7"
openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO())  # never a prompt in tests
    monkeypatch.delenv("CAMSCAN_CA_PASSPHRASE_FILE", raising=False)
    monkeypatch.setenv("CAMSCAN_CA_PASSPHRASE", PASSPHRASE)


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", "verify", *args], capture_output=True, text=True, check=False)


def test_ca_init_encrypts_the_key_and_issuing_needs_the_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = tmp_path / "site-ca"
    assert main(["ca", "init", "--dir", str(ca_dir)]) == 0
    out, err = capsys.readouterr()
    key_text = (ca_dir / "ca.key").read_bytes()
    assert key_text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):  # not loadable without a password
        serialization.load_pem_private_key(key_text, None)
    assert PASSPHRASE not in out + err and "encrypted" in out

    monkeypatch.delenv("CAMSCAN_CA_PASSPHRASE")
    issue = ["ca", "issue", "--ca", str(ca_dir), "--ip", INSIDE_IP, "--out", str(tmp_path / "a")]
    assert main(issue) == 2
    err = capsys.readouterr().err
    assert "CAMSCAN_CA_PASSPHRASE" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a.key").exists() and not (tmp_path / "a.pem").exists()

    monkeypatch.setenv("CAMSCAN_CA_PASSPHRASE", "the wrong passphrase")
    assert main(issue) == 2
    err = capsys.readouterr().err
    assert "wrong passphrase" in err and "the wrong passphrase" not in err
    assert not (tmp_path / "a.key").exists()

    # Unattended: a 0600 file named by the environment; a file others can read is refused.
    monkeypatch.delenv("CAMSCAN_CA_PASSPHRASE")
    secret = tmp_path / "ca-passphrase"
    secret.write_text(PASSPHRASE + "\n")
    secret.chmod(0o644)
    monkeypatch.setenv("CAMSCAN_CA_PASSPHRASE_FILE", str(secret))
    assert main(issue) == 2
    assert "chmod 600" in capsys.readouterr().err
    secret.chmod(0o600)
    assert main(issue) == 0
    out, err = capsys.readouterr()
    assert PASSPHRASE not in out + err
    x509.load_pem_x509_certificate((tmp_path / "a.pem").read_bytes()).verify_directly_issued_by(
        LocalCA.load(ca_dir).certificate
    )


@openssl
def test_the_encrypted_key_is_refused_by_openssl_without_its_passphrase(tmp_path: Path) -> None:
    LocalCA.init(tmp_path / "ca", passphrase=PASSPHRASE.encode())
    key = str(tmp_path / "ca" / "ca.key")
    wrong = subprocess.run(["openssl", "pkey", "-in", key, "-passin", "pass:nope", "-noout"],
                           capture_output=True, check=False)
    right = subprocess.run(["openssl", "pkey", "-in", key, "-passin", f"pass:{PASSPHRASE}", "-noout"],
                           capture_output=True, check=False)
    assert wrong.returncode != 0 and right.returncode == 0


def test_an_unencrypted_ca_keeps_working_with_a_warning_and_can_be_encrypted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = tmp_path / "old-ca"
    LocalCA.init(ca_dir)  # as every CA made before encryption existed
    assert b"ENCRYPTED" not in (ca_dir / "ca.key").read_bytes()
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", OUTSIDE_IP, "--out", str(tmp_path / "a")]) == 0
    assert "is not encrypted at rest" in capsys.readouterr().err
    assert main(["ca", "encrypt-key", "--ca", str(ca_dir)]) == 0
    assert (ca_dir / "ca.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert oct((ca_dir / "ca.key").stat().st_mode & 0o777) == "0o600"
    capsys.readouterr()
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", OUTSIDE_IP, "--out", str(tmp_path / "b")]) == 0
    assert "not encrypted" not in capsys.readouterr().err


def _constrained(tmp_path: Path) -> Path:
    ca_dir = tmp_path / "site-ca"
    assert main(["ca", "init", "--dir", str(ca_dir), "--permit-ip", "127.77.0.0/16",
                 "--permit-dns", "example.internal"]) == 0
    return ca_dir


@openssl
def test_name_constraints_are_critical_honoured_by_openssl_and_reported_by_cs205(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir = _constrained(tmp_path)
    authority = LocalCA.load(ca_dir)
    ext = authority.certificate.extensions.get_extension_for_class(x509.NameConstraints)
    assert ext.critical
    assert [str(t.value) for t in ext.value.permitted_subtrees or ()] == ["127.77.0.0/16", "example.internal"]

    # Inside: issued, and OpenSSL accepts it.
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", INSIDE_IP, "--dns", "cam5.example.internal",
                 "--out", str(tmp_path / "in")]) == 0
    ok = _verify("-CAfile", str(ca_dir / "ca.pem"), str(tmp_path / "in.pem"))
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # IP only: OpenSSL would judge a CN of "127.77.0.6" against DNS:example.internal and refuse
    # it, so the leaf gets an empty subject and a critical SAN instead.
    issue_ip = ["ca", "issue", "--ca", str(ca_dir), "--ip", "127.77.0.6", "--out", str(tmp_path / "ip")]
    assert main(issue_ip) == 0
    ip_only = x509.load_pem_x509_certificate((tmp_path / "ip.pem").read_bytes())
    assert list(ip_only.subject) == []
    assert ip_only.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    ok = _verify("-CAfile", str(ca_dir / "ca.pem"), str(tmp_path / "ip.pem"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert main(["check", str(tmp_path / "ip.pem"), "--ip", "127.77.0.6", "--ca-bundle",
                 str(ca_dir / "ca.pem"), "--trust", "site", "--offline"]) == 0
    # The same with CN=<address>: OpenSSL refuses it, and CS205 says why.
    cn_leaf = pki.make_leaf(authority.issued_by, common_name="127.77.0.6", ips=["127.77.0.6"])
    (tmp_path / "cn.pem").write_bytes(cn_leaf.cert_pem)
    refused = _verify("-CAfile", str(ca_dir / "ca.pem"), str(tmp_path / "cn.pem"))
    assert refused.returncode != 0 and "subtree violation" in refused.stdout + refused.stderr
    capsys.readouterr()
    assert main(["check", str(tmp_path / "cn.pem"), "--ip", "127.77.0.6", "--ca-bundle",
                 str(ca_dir / "ca.pem"), "--trust", "site", "--offline"]) == 1
    assert "CN:127.77.0.6 (not permitted (OpenSSL checks" in capsys.readouterr().out

    # Outside: camscan refuses to sign it.
    capsys.readouterr()
    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", OUTSIDE_IP, "--out", str(tmp_path / "out")]) == 2
    assert "outside the site CA's name constraints" in capsys.readouterr().err
    assert not (tmp_path / "out.pem").exists()

    # A stolen key mints one anyway: OpenSSL refuses it, and camscan check reports CS205.
    stolen = pki.make_leaf(authority.issued_by, common_name="www.bank.example",
                           ips=[OUTSIDE_IP], dns=["www.bank.example"])
    (tmp_path / "stolen.pem").write_bytes(stolen.cert_pem)
    refused = _verify("-CAfile", str(ca_dir / "ca.pem"), str(tmp_path / "stolen.pem"))
    assert refused.returncode != 0 and "subtree violation" in refused.stdout + refused.stderr
    capsys.readouterr()
    code = main(["check", str(tmp_path / "stolen.pem"), "--ip", OUTSIDE_IP, "--ca-bundle",
                 str(ca_dir / "ca.pem"), "--trust", "site", "--offline"])
    out = capsys.readouterr().out
    assert code == 1 and "CS205" in out and "IP:127.0.0.7 (not permitted)" in out
    assert "DNS:www.bank.example (not permitted)" in out
    # The certificate camscan issued is clean for the same check.
    assert main(["check", str(tmp_path / "in.pem"), "--ip", INSIDE_IP, "--ca-bundle",
                 str(ca_dir / "ca.pem"), "--trust", "site", "--offline"]) == 0


def test_init_says_which_name_form_stays_unconstrained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ca", "init", "--dir", str(tmp_path / "a"), "--permit-ip", "127.77.0.0/16"]) == 0
    assert "DNS names are not constrained" in capsys.readouterr().out
    assert main(["ca", "init", "--dir", str(tmp_path / "b"), "--permit-dns", "example.internal"]) == 0
    assert "IP addresses are not constrained" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [["--permit-ip", "127.77.0.5/16"], ["--permit-dns", "*.example.internal"],
                                 ["--two-level"], ["--crl-url", "ldap://x"]])
def test_init_refuses_bad_constraints_and_options(
    bad: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ca", "init", "--dir", str(tmp_path / "ca"), *bad]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "ca" / "ca.key").exists()


@openssl
def test_two_level_root_key_stays_out_and_the_chain_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_dir, root_dir = tmp_path / "site-ca", tmp_path / "offline-root"
    assert main(["ca", "init", "--dir", str(ca_dir), "--two-level", "--root-dir", str(root_dir),
                 "--permit-ip", "127.77.0.0/16"]) == 0
    assert "move it to offline storage" in capsys.readouterr().out
    assert sorted(p.name for p in root_dir.iterdir()) == ["root.key", "root.pem"]
    assert not (ca_dir / "root.key").exists()
    assert (root_dir / "root.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    root = x509.load_pem_x509_certificate((ca_dir / "root.pem").read_bytes())
    issuing = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    issuing.verify_directly_issued_by(root)
    assert issuing.extensions.get_extension_for_class(x509.NameConstraints).critical
    assert LocalCA.load(ca_dir).cert_path == ca_dir / "root.pem"  # what clients import

    assert main(["ca", "issue", "--ca", str(ca_dir), "--ip", INSIDE_IP, "--out", str(tmp_path / "cam")]) == 0
    served = x509.load_pem_x509_certificates((tmp_path / "cam.pem").read_bytes())
    assert [c.subject for c in served[1:]] == [issuing.subject]  # the leaf, then the issuing CA
    (tmp_path / "leaf.pem").write_bytes(served[0].public_bytes(serialization.Encoding.PEM))
    ok = _verify("-CAfile", str(ca_dir / "root.pem"), "-untrusted", str(ca_dir / "ca.pem"),
                 str(tmp_path / "leaf.pem"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # Trusting the root alone, camscan check accepts what the device will serve.
    assert main(["check", str(tmp_path / "cam.pem"), "--ip", INSIDE_IP, "--ca-bundle",
                 str(ca_dir / "root.pem"), "--trust", "site", "--offline"]) == 0


def test_fix_apply_asks_for_the_ca_passphrase_before_touching_any_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    LocalCA.init(tmp_path / "site-ca", passphrase=PASSPHRASE.encode())
    monkeypatch.delenv("CAMSCAN_CA_PASSPHRASE")
    monkeypatch.setenv("CAMSCAN_PASSWORD", "device password")
    code = main(["fix", "127.0.0.1", "-p", "9", "--ca", str(tmp_path / "site-ca"), "--apply", "--yes",
                 "--user", "admin", "--json", str(tmp_path / "fix.json"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "CAMSCAN_CA_PASSPHRASE" in err and "device password" not in err
    assert not (tmp_path / "fix.json").exists()  # stopped before the scan
    # A dry run plans without the key.
    assert main(["fix", "127.0.0.1", "-p", "9", "--ca", str(tmp_path / "site-ca"), "-q",
                 "--connect-timeout", "1", "--no-legacy-probe", "--no-ws-discovery"]) in (0, 1)
