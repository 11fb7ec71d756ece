"""The site's local CA: a root kept in a directory of its own, issuing device certificates.

DIR/ca.pem is the certificate clients import; DIR/ca.key its private key (0600, the directory
0700). A directory or key readable by anyone else is refused: whoever reads that key can
impersonate every camera of the site.

Device certificates follow what browsers and VMS clients accept (Sunell HTTPS FAQ Solution 2, seed
002): the device's address as an IP SAN (and its DNS names), serverAuth, at most 398 days
(CA/B Forum BR 6.3.2; Apple and Chrome refuse longer server certificates from public CAs and
warn on private ones in some versions), ECDSA P-256 unless the device needs RSA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from camscan import pki
from camscan.atomic import write_bytes_atomic
from camscan.errors import CamscanError, UsageError

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
MAX_DAYS = 398
KEY_TYPES = {"ec-p256": "ec-p256", "rsa2048": "rsa-2048", "rsa-2048": "rsa-2048"}


class CSRMismatch(CamscanError):
    """The CSR asks for names that are not the device's: signing it would mint a wrong certificate."""

    exit_code = 2


def _too_open(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def write_secret(path: Path, data: bytes, *, force: bool = False) -> None:
    """Write key material 0600, refusing to replace an existing file unless `force`."""
    if path.exists() and not force:
        raise UsageError(f"{path} exists: refusing to overwrite key material (use --force to replace it)")
    write_bytes_atomic(path, data, mode=0o600)


def key_pem(key: pki.PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _sans(ips: Sequence[str], dns: Sequence[str]) -> list[x509.GeneralName]:
    try:
        return pki.san_entries(ips, dns)
    except ValueError as exc:
        raise UsageError(f"not an IP address: {exc}") from None


def requested_names(csr: x509.CertificateSigningRequest) -> tuple[set[str], set[str]]:
    """The IP and DNS names a CSR asks for (empty sets when it carries no SAN extension)."""
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return ips, {d.lower() for d in san.get_values_for_type(x509.DNSName)}


@dataclass(frozen=True)
class LocalCA:
    directory: Path
    issued_by: pki.Issued

    @property
    def certificate(self) -> x509.Certificate:
        return self.issued_by.cert

    @property
    def cert_path(self) -> Path:
        return self.directory / CA_CERT

    @classmethod
    def init(
        cls,
        directory: str | os.PathLike[str],
        *,
        key_type: str = "ec-p256",
        common_name: str = "camscan site CA",
        days: int = 3650,
    ) -> LocalCA:
        path = Path(directory)
        if (path / CA_CERT).exists() or (path / CA_KEY).exists():
            raise UsageError(f"{path} already holds a CA: refusing to replace it")
        kind = KEY_TYPES.get(key_type)
        if kind is None:
            raise UsageError(f"--key-type {key_type!r}: choose ec-p256 or rsa2048")
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)
        issued = pki.make_ca(
            common_name,
            key=pki.new_key(kind),
            not_after=pki.utcnow() + dt.timedelta(days=days),
            path_length=0,
        )
        write_secret(path / CA_KEY, key_pem(issued.key))
        write_bytes_atomic(path / CA_CERT, issued.cert_pem, mode=0o644)
        return cls(path, issued)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> LocalCA:
        path = Path(directory)
        cert_file, key_file = path / CA_CERT, path / CA_KEY
        if not cert_file.is_file() or not key_file.is_file():
            raise UsageError(
                f"{path}: no CA there (expected {CA_CERT} and {CA_KEY}; "
                f"create one with `camscan ca init --dir {path}`)"
            )
        if _too_open(path):
            raise UsageError(f"{path}: the CA directory is open to other users; run `chmod 700 {path}`")
        if _too_open(key_file):
            raise UsageError(f"{key_file}: the CA key is readable by other users; run `chmod 600 {key_file}`")
        try:
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        except (ValueError, TypeError, OSError) as exc:
            raise UsageError(f"{path}: cannot read the CA ({exc})") from None
        if not isinstance(key, pki.PrivateKey):
            raise UsageError(f"{key_file}: unsupported key type")
        if cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise UsageError(f"{path}: {CA_KEY} does not belong to {CA_CERT}")
        return cls(path, pki.Issued(cert, key))

    # --- issuing -----------------------------------------------------------------------------

    def _leaf(
        self,
        public_key: object,
        subject: x509.Name,
        ips: Sequence[str],
        dns: Sequence[str],
        days: int,
        *,
        rsa_key: bool,
        force_days: bool = False,
    ) -> x509.Certificate:
        sans = _sans(ips, dns)
        if not sans:
            raise UsageError("a device certificate needs at least one IP address or DNS name")
        if days < 1 or (days > MAX_DAYS and not force_days):
            raise UsageError(
                f"--days {days}: between 1 and {MAX_DAYS} (browsers refuse longer "
                "server certificates; CA/B Forum BR 6.3.2; camscan reports them as CS109); "
                "--force-days if every client of this device accepts longer ones"
            )
        # Validity counts both ends (RFC 5280 4.1.2.5): `days` days is days*86400 - 1 seconds apart.
        not_before = pki.utcnow() - dt.timedelta(minutes=5)
        ca_key = self.issued_by.key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + dt.timedelta(days=days) - dt.timedelta(seconds=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=rsa_key,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        algorithm = None if isinstance(ca_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        return builder.sign(ca_key, algorithm)

    def issue(
        self,
        ips: Sequence[str],
        dns: Sequence[str] = (),
        *,
        days: int = MAX_DAYS,
        key: pki.PrivateKey | None = None,
        key_type: str = "ec-p256",
        force_days: bool = False,
    ) -> pki.Issued:
        """A key generated here and a certificate for it (for devices that take an upload)."""
        key = key or pki.new_key(KEY_TYPES.get(key_type, key_type))
        subject = pki.name(next(iter(dns), None) or next(iter(ips), None))
        cert = self._leaf(
            key.public_key(), subject, ips, dns, days, rsa_key=isinstance(key, rsa.RSAPrivateKey),
            force_days=force_days,
        )
        return pki.Issued(cert, key)

    def sign_csr(
        self,
        csr: x509.CertificateSigningRequest,
        ips: Sequence[str],
        dns: Sequence[str] = (),
        *,
        correct: bool = False,
        days: int = MAX_DAYS,
        force_days: bool = False,
    ) -> x509.Certificate:
        """Sign a CSR made on the device for the device's own names.

        A CSR without a SAN (ONVIF's CreatePKCS10CSR has no way to ask for one) gets the
        device's names. A CSR asking for other names is refused unless `correct`, which signs
        for the device's names instead: a certificate for whatever a device asks would let a
        misconfigured or hostile device obtain a trusted name it does not hold.
        """
        if not csr.is_signature_valid:
            raise UsageError("the CSR's signature does not verify: it was altered or is not a CSR")
        want_ips = {str(ipaddress.ip_address(i)) for i in ips}
        want_dns = {d.lower() for d in dns}
        asked_ips, asked_dns = requested_names(csr)
        if (asked_ips or asked_dns) and (asked_ips, asked_dns) != (want_ips, want_dns) and not correct:
            asked = ", ".join(sorted(asked_ips | asked_dns))
            wanted = ", ".join(sorted(want_ips | want_dns))
            raise CSRMismatch(
                f"the CSR asks for {asked} but the device is {wanted}: refusing to sign "
                "(--correct signs for the device's names instead)"
            )
        cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        subject = pki.name(str(cns[0].value)) if cns else pki.name(next(iter(sorted(want_dns | want_ips))))
        return self._leaf(
            csr.public_key(),
            subject,
            sorted(want_ips),
            sorted(want_dns),
            days,
            rsa_key=isinstance(csr.public_key(), rsa.RSAPublicKey),
            force_days=force_days,
        )


def encode_certificate(cert: x509.Certificate, fmt: str) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER if fmt == "der" else serialization.Encoding.PEM)


def pkcs12_bytes(
    issued: pki.Issued, chain: Sequence[x509.Certificate], passphrase: bytes, name: str
) -> bytes:
    from cryptography.hazmat.primitives.serialization import pkcs12

    return pkcs12.serialize_key_and_certificates(
        name.encode(),
        issued.key,
        issued.cert,
        list(chain),
        serialization.BestAvailableEncryption(passphrase),
    )
