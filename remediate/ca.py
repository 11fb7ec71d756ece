"""The site's local CA: a root (or an issuing CA under an offline root) issuing device certificates.

DIR/ca.pem is the certificate that signs device certificates, DIR/ca.key its private key
(0600, encrypted at rest unless created with --no-encrypt; see camscan.remediate.cakey), the
directory 0700. A directory or key readable by anyone else is refused: whoever holds that key
can impersonate every camera of the site. DIR/ca.json holds the CA's settings (the CRL URL,
the layout), DIR/issued.json the inventory (camscan.remediate.inventory).

Layouts: one level (ca.pem is the root clients import), or two levels (`ca init
--two-level`): DIR/root.pem is the root clients import, its key is written to a separate
directory for offline storage, and ca.pem is an issuing CA it signed, sent by devices beside
their certificate. Either may carry critical X.509 name constraints (the site's address
ranges and DNS subtrees), so a stolen key cannot mint a certificate clients accept for any
other name.

Device certificates follow what browsers and VMS clients accept (Sunell HTTPS FAQ Solution 2;
CA/B Forum BRs): the device's address as an IP SAN (and its
DNS names), serverAuth, at most 398 days (CA/B Forum BR 6.3.2), ECDSA P-256 unless the device
needs RSA. Nothing is signed that camscan's own rules would flag (camscan.remediate.signcheck).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from camscan import pki
from camscan.atomic import write_bytes_atomic
from camscan.errors import UsageError
from camscan.remediate import cakey, inventory, signcheck
from camscan.remediate.casettings import (
    Settings,
    check_common_name,
    check_crl_url,
    name_constraints,
    read_settings,
)
from camscan.rules import nameconstraints

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
ROOT_CERT = "root.pem"
ROOT_KEY = "root.key"
SETTINGS = "ca.json"
MAX_DAYS = 398
KEY_TYPES = {"ec-p256": "ec-p256", "rsa2048": "rsa-2048", "rsa-2048": "rsa-2048"}

# Kept under its old name: `fix --apply` and callers catch it for a CSR naming others.
CSRMismatch = signcheck.SigningRefused


def _too_open(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def key_pem(key: pki.PrivateKey) -> bytes:
    return cakey.key_bytes(key, None)


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


@dataclass
class LocalCA:
    directory: Path
    certificate: x509.Certificate  # the CA that signs device certificates
    settings: Settings = field(default_factory=Settings)
    anchor: x509.Certificate | None = None  # the root clients import (two levels); else certificate
    passphrase: cakey.PassphraseSource | None = None
    _key: pki.PrivateKey | None = field(default=None, repr=False)

    @property
    def cert_path(self) -> Path:
        """The file clients import as a trusted root."""
        return self.directory / (ROOT_CERT if self.settings.two_level else CA_CERT)

    @property
    def trust_anchor(self) -> x509.Certificate:
        return self.anchor or self.certificate

    @property
    def chain(self) -> list[x509.Certificate]:
        """What a device sends after its own certificate: the issuing CA under two levels."""
        return [self.certificate] if self.settings.two_level else []

    @property
    def key(self) -> pki.PrivateKey:
        """The CA key, read (and its passphrase asked) on first use: planning never needs it."""
        if self._key is None:
            key = cakey.load_key(self.directory / CA_KEY, self.passphrase)
            if _spki(key.public_key()) != _spki(self.certificate.public_key()):
                raise UsageError(f"{self.directory}: {CA_KEY} does not belong to {CA_CERT}")
            self._key = key
        return self._key

    @property
    def issued_by(self) -> pki.Issued:
        return pki.Issued(self.certificate, self.key)

    @classmethod
    def init(
        cls,
        directory: str | os.PathLike[str],
        *,
        key_type: str = "ec-p256",
        common_name: str = "camscan site CA",
        days: int = 3650,
        passphrase: bytes | None = None,
        permit_ips: Sequence[str] = (),
        permit_dns: Sequence[str] = (),
        root_dir: str | os.PathLike[str] | None = None,
        crl_url: str | None = None,
    ) -> LocalCA:
        """A new CA in `directory`; with `root_dir`, two levels (the root's key goes there)."""
        path = Path(directory)
        if any((path / f).exists() for f in (CA_CERT, CA_KEY, ROOT_CERT)):
            raise UsageError(f"{path} already holds a CA: refusing to replace it")
        kind = KEY_TYPES.get(key_type)
        if kind is None:
            raise UsageError(f"--key-type {key_type!r}: choose ec-p256 or rsa2048")
        check_crl_url(crl_url)
        check_common_name(common_name)
        constraints = name_constraints(permit_ips, permit_dns)
        extensions = [(constraints, True)] if constraints is not None else []
        root_path = Path(root_dir) if root_dir is not None else None
        if root_path is not None:
            if root_path.resolve() == path.resolve():
                raise UsageError("--root-dir must not be the CA directory: the root key goes offline")
            if (root_path / ROOT_KEY).exists():
                raise UsageError(f"{root_path} already holds a root key: refusing to replace it")
        not_after = pki.utcnow() + dt.timedelta(days=days)
        root = None
        if root_path is not None:
            # The root may certify one issuing CA below it (pathLen 1); both carry the constraints.
            root = pki.make_ca(f"{common_name} root", key=pki.new_key(kind),
                               not_after=not_after + dt.timedelta(days=days), path_length=1,
                               extensions=extensions)
        issued = pki.make_ca(common_name, key=pki.new_key(kind), issuer=root, not_after=not_after,
                             path_length=0, extensions=extensions)
        settings = Settings(two_level=root is not None, crl_url=crl_url)
        try:
            for where in (path, root_path):
                if where is not None:
                    where.mkdir(mode=0o700, parents=True, exist_ok=True)
                    where.chmod(0o700)
            if root is not None and root_path is not None:
                cakey.write_key(root_path / ROOT_KEY, root.key, passphrase)
                write_bytes_atomic(root_path / ROOT_CERT, root.cert_pem, mode=0o644)
                write_bytes_atomic(path / ROOT_CERT, root.cert_pem, mode=0o644)
            write_bytes_atomic(path / SETTINGS, (json.dumps(settings.to_json(), indent=2) + "\n").encode())
            # The key before the certificate: a CA directory without ca.pem is not loadable,
            # so an interrupted init is never mistaken for a CA.
            cakey.write_key(path / CA_KEY, issued.key, passphrase)
            write_bytes_atomic(path / CA_CERT, issued.cert_pem, mode=0o644)
        except OSError as exc:
            raise UsageError(f"{path}: cannot create the CA there ({exc.strerror or exc})") from None
        return cls(path, issued.cert, settings, root.cert if root else None, _key=issued.key)

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], *, passphrase: cakey.PassphraseSource | None = None
    ) -> LocalCA:
        """The CA in `directory`. Its key is read when first needed (a passphrase, if encrypted)."""
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
        settings = read_settings(path / SETTINGS)
        try:
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            anchor = (
                x509.load_pem_x509_certificate((path / ROOT_CERT).read_bytes())
                if settings.two_level
                else None
            )
        except (ValueError, OSError) as exc:
            raise UsageError(f"{path}: cannot read the CA ({type(exc).__name__})") from None
        return cls(path, cert, settings, anchor, passphrase)

    # --- issuing -----------------------------------------------------------------------------

    def _leaf(
        self,
        public_key: object,
        common_name: str,
        ips: Sequence[str],
        dns: Sequence[str],
        days: int,
        *,
        rsa_key: bool,
        force_days: bool = False,
        identity: str | None = None,
    ) -> x509.Certificate:
        sans = _sans(ips, dns)
        if not sans:
            raise UsageError("a device certificate needs at least one IP address or DNS name (--ip/--dns)")
        if days < 1 or (days > MAX_DAYS and not force_days):
            raise UsageError(
                f"--days {days}: between 1 and {MAX_DAYS} (browsers refuse longer "
                "server certificates; CA/B Forum BR 6.3.2; camscan reports them as CS109); "
                "--force-days if every client of this device accepts longer ones"
            )
        # Validity counts both ends (RFC 5280 4.1.2.5): `days` days is days*86400 - 1 seconds apart.
        not_before = pki.utcnow() - dt.timedelta(minutes=5)
        ca_end = min(c.not_valid_after_utc for c in (self.certificate, self.trust_anchor))
        if days > (ca_end - not_before).days:
            raise UsageError(
                f"--days {days}: the certificate would outlive the site CA (valid until {ca_end:%Y-%m-%d})"
            )
        self._within_constraints(sans)
        subject = self._subject(common_name, sans)
        ca_key = self.key
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
            # RFC 5280 4.2.1.6: with an empty subject the SAN is critical.
            .add_extension(x509.SubjectAlternativeName(sans), critical=not list(subject))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if self.settings.crl_url:
            point = x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(self.settings.crl_url)],
                relative_name=None, reasons=None, crl_issuer=None,
            )
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        algorithm = None if isinstance(ca_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        cert = builder.sign(ca_key, algorithm)
        # Judged before anyone sees it: a certificate the rules flag is never handed out.
        signcheck.vet_certificate(
            [cert, *self.chain], [self.trust_anchor], ips, dns, force_days=force_days
        )
        address = next(iter(ips), None) or next(iter(dns), "")
        inventory.record_issued(self.directory, cert, address=address, identity=identity)
        return cert

    def _subject(self, common_name: str, sans: Sequence[x509.GeneralName]) -> x509.Name:
        """CN=<the device's name>, or an empty subject when OpenSSL would judge that CN against
        the CA's dNSName constraints and refuse it (an IP-only leaf: see CS205)."""
        for ca in (self.certificate, self.trust_anchor):
            constraints = nameconstraints.constraints_of(ca)
            if constraints and nameconstraints.cn_violations([common_name], sans, constraints):
                return x509.Name([])
        return pki.name(common_name)

    def _within_constraints(self, sans: Sequence[x509.GeneralName]) -> None:
        for ca in (self.certificate, self.trust_anchor):
            constraints = nameconstraints.constraints_of(ca)
            bad = nameconstraints.violations(sans, constraints) if constraints else []
            if bad:
                allowed = ", ".join(nameconstraints.describe(constraints)["permitted"]) if constraints else ""
                raise signcheck.SigningRefused(
                    f"{', '.join(v.name for v in bad)}: outside the site CA's name constraints "
                    f"(it may sign only {allowed}): refusing to sign"
                )

    def issue(
        self,
        ips: Sequence[str],
        dns: Sequence[str] = (),
        *,
        days: int = MAX_DAYS,
        key: pki.PrivateKey | None = None,
        key_type: str = "ec-p256",
        force_days: bool = False,
        identity: str | None = None,
    ) -> pki.Issued:
        """A key generated here and a certificate for it (for devices that take an upload)."""
        ips, dns = signcheck.device_names(ips, dns)
        key = key or pki.new_key(KEY_TYPES.get(key_type, key_type))
        common_name = next(iter(dns), None) or next(iter(ips), "")
        cert = self._leaf(
            key.public_key(), common_name, ips, dns, days, rsa_key=isinstance(key, rsa.RSAPrivateKey),
            force_days=force_days, identity=identity,
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
        identity: str | None = None,
    ) -> x509.Certificate:
        """Sign a CSR made on the device for the device's own names, and nothing else.

        A CSR without a SAN (ONVIF's CreatePKCS10CSR has no way to ask for one) gets the
        device's names. A CSR asking for other names, in its SAN or its Common Name, is
        refused unless `correct`, which signs for the device's names instead: a certificate
        for whatever a device asks would let a misconfigured or hostile device obtain a
        trusted name it does not hold. The request's signature and hash are checked, and the
        result is judged by camscan's rules before it is returned (camscan.remediate.signcheck).
        """
        signcheck.check_request(csr)
        if not ips and not dns:
            raise signcheck.SigningRefused(
                "the device's names are needed to sign its CSR: give --ip and/or --dns"
            )
        valid_ips, valid_dns = signcheck.device_names(ips, dns)
        want_ips, want_dns = set(valid_ips), set(valid_dns)
        asked_ips, asked_dns = requested_names(csr)
        foreign_cn = signcheck.foreign_common_names(csr, [*want_ips, *want_dns])
        wanted = ", ".join(sorted(want_ips | want_dns))
        if (asked_ips or asked_dns) and (asked_ips, asked_dns) != (want_ips, want_dns) and not correct:
            asked = ", ".join(sorted(asked_ips | asked_dns))
            raise CSRMismatch(
                f"the CSR asks for {asked} but the device is {wanted}: refusing to sign "
                "(--correct signs for the device's names instead)"
            )
        if foreign_cn and not correct:
            raise CSRMismatch(
                f"the CSR's Common Name {foreign_cn[0]!r} is not the device's ({wanted}): refusing to "
                "sign (--correct signs for the device's names instead)"
            )
        cns = signcheck.csr_common_names(csr)
        own_cn = cns[0] if cns and not foreign_cn else None
        return self._leaf(
            csr.public_key(),
            own_cn or (sorted(want_dns) or sorted(want_ips))[0],
            sorted(want_ips),
            sorted(want_dns),
            days,
            rsa_key=isinstance(csr.public_key(), rsa.RSAPublicKey),
            force_days=force_days,
            identity=identity,
        )


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
