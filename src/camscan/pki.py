"""Certificate and key building: the lab's firmware CAs, remediation's local CA, the tests' fixtures.

One small, explicit API over cryptography's builders, after x509-limbo's root_ca() /
intermediate_ca() / leaf_cert(). Everything is in memory; writing files is the caller's job
(write key files with camscan.atomic.write_bytes_atomic(path, data, mode=0o600)).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "p256": ec.SECP256R1,
    "p384": ec.SECP384R1,
    "p521": ec.SECP521R1,
}


def new_key(kind: str = "ec-p256") -> PrivateKey:
    """`ec-p256`, `ec-p384`, `ec-p521`, `rsa-1024`, `rsa-2048`, `rsa-3072`, `rsa-4096`, `ed25519`."""
    family, _, size = kind.lower().partition("-")
    if family == "ec" and size in _CURVES:
        return ec.generate_private_key(_CURVES[size]())
    if family == "rsa" and size.isdigit():
        return rsa.generate_private_key(public_exponent=65537, key_size=int(size))
    if family == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key kind {kind!r} (try ec-p256, rsa-2048)")


def name(common_name: str | None = None, **attributes: str) -> x509.Name:
    """x509.Name from keyword attributes: name("cam", O="Acme", C="SE")."""
    oids = {
        "C": NameOID.COUNTRY_NAME,
        "ST": NameOID.STATE_OR_PROVINCE_NAME,
        "L": NameOID.LOCALITY_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    }
    parts = [x509.NameAttribute(oids[key], value) for key, value in attributes.items()]
    if common_name is not None:
        parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(parts)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _hash_for(key: PrivateKey, algorithm: hashes.HashAlgorithm | None) -> hashes.HashAlgorithm | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return algorithm or hashes.SHA256()


def san_entries(ips: Iterable[str] = (), dns: Iterable[str] = ()) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    entries += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    return entries


@dataclass
class Issued:
    """A certificate together with its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return key_to_pem(self.key)


def key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: object,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def make_ca(
    common_name: str,
    *,
    issuer: Issued | None = None,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    path_length: int | None = None,
    subject: x509.Name | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> Issued:
    """A root CA (issuer=None, self-signed) or an intermediate CA signed by `issuer`.

    `extensions`: more (extension, critical) pairs, e.g. NameConstraints.
    """
    key = key or new_key("ec-p256")
    not_before = not_before or utcnow() - dt.timedelta(days=1)
    not_after = not_after or not_before + dt.timedelta(days=3650)
    subject = subject or name(common_name)
    signer_key = issuer.key if issuer else key
    builder = (
        _builder(
            subject,
            issuer.cert.subject if issuer else subject,
            key.public_key(),
            not_before,
            not_after,
            None,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    cert = builder.sign(signer_key, _hash_for(signer_key, hash_algorithm))  # type: ignore[arg-type]
    return Issued(cert, key)


def make_leaf(
    issuer: Issued | None,
    *,
    common_name: str | None = None,
    ips: Sequence[str] = (),
    dns: Sequence[str] = (),
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    subject: x509.Name | None = None,
    server_auth: bool = True,
    is_ca: bool = False,
    include_san: bool = True,
    aia_ca_issuers_url: str | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
    serial: int | None = None,
) -> Issued:
    """A server certificate signed by `issuer`, or self-signed when `issuer` is None.

    Defaults follow RFC 5280 / CA/B Forum shape (SAN, EKU serverAuth, KU digitalSignature);
    each knob exists so a test or a lab scenario can break exactly one thing.
    """
    key = key or new_key("ec-p256")
    not_before = not_before or utcnow() - dt.timedelta(days=1)
    not_after = not_after or not_before + dt.timedelta(days=365)
    if subject is None:
        subject = name(common_name) if common_name else x509.Name([])
    signer_key = issuer.key if issuer else key
    builder = _builder(
        subject,
        issuer.cert.subject if issuer else subject,
        key.public_key(),
        not_before,
        not_after,
        serial,
    ).add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=is_rsa,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=is_ca,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server_auth else [ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    sans = san_entries(ips, dns)
    if include_san and sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=not subject)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if aia_ca_issuers_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(aia_ca_issuers_url),
                    )
                ]
            ),
            critical=False,
        )
    cert = builder.sign(signer_key, _hash_for(signer_key, hash_algorithm))  # type: ignore[arg-type]
    return Issued(cert, key)


def sign_csr(
    csr: x509.CertificateSigningRequest,
    issuer: Issued,
    *,
    ips: Sequence[str] = (),
    dns: Sequence[str] = (),
    days: int = 397,
    not_before: dt.datetime | None = None,
) -> x509.Certificate:
    """Sign a CSR as a server certificate. SANs come from the arguments, else from the CSR."""
    if not csr.is_signature_valid:
        raise ValueError("the CSR's signature does not verify")
    sans = san_entries(ips, dns)
    if not sans:
        try:
            requested = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            sans = list(requested.value)
        except x509.ExtensionNotFound:
            sans = []
    not_before = not_before or utcnow() - dt.timedelta(minutes=5)
    public_key = csr.public_key()
    builder = (
        _builder(csr.subject, issuer.cert.subject, public_key, not_before,
                 not_before + dt.timedelta(days=days), None)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer.key, _hash_for(issuer.key, None))  # type: ignore[arg-type]


def make_csr(
    key: PrivateKey, *, common_name: str, ips: Sequence[str] = (), dns: Sequence[str] = ()
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(name(common_name))
    sans = san_entries(ips, dns)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, _hash_for(key, None))  # type: ignore[arg-type]


def pem_chain(certs: Iterable[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
