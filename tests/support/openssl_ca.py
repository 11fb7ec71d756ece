"""A real `openssl ca` in a directory of its own, for the `command` issuer's tests.

The device's names reach openssl through the environment camscan sets (CAMSCAN_SAN), read by
the extension section with ${ENV::CAMSCAN_SAN}; `policy_strict` refuses any CSR whose
organisation is not the CA's, as a site policy would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from camscan import pki

CONFIG = """\
[ ca ]
default_ca = CA_default

[ CA_default ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
x509_extensions = device_ext

[ policy_any ]
commonName = optional

[ policy_strict ]
organizationName = match
commonName = supplied

[ device_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${{ENV::CAMSCAN_SAN}}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class OpenSSLCA:
    directory: Path
    config: Path
    ca: pki.Issued

    @property
    def cert_path(self) -> Path:
        return self.directory / "ca.pem"

    def index(self) -> list[str]:
        return (self.directory / "index.txt").read_text().splitlines()


def openssl_ca(directory: Path) -> OpenSSLCA:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "newcerts").mkdir()
    ca = pki.make_ca("Corp Camera Issuing CA", subject=pki.name("Corp Camera Issuing CA", O="Corp"))
    (directory / "ca.pem").write_bytes(ca.cert_pem)
    key = directory / "ca.key"
    key.write_bytes(ca.key_pem)
    key.chmod(0o600)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("1000\n")
    config = directory / "ca.cnf"
    config.write_text(CONFIG.format(dir=directory))
    return OpenSSLCA(directory, config, ca)
