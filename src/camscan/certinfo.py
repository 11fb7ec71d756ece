"""Plain facts about one certificate, for tables, reports and rule evidence.

Every string here comes from the device and is hostile: each output applies the one policy of
camscan.termtext to it. Nothing here raises on a strange certificate: an unparseable extension
becomes an "error" entry instead, and a name cryptography refuses to decode (a UTF8String with
invalid bytes, non-ASCII in a dNSName) is read from the DER by camscan.rawnames, bad bytes
shown as U+FFFD.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from camscan import rawnames


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Derived facts are asked for again and again: by each rule, the chain search, the trust
# verdict and every report, for each of a fleet's endpoints (a site CA's intermediate is in every
# chain). Computed once per certificate (its hash is the DER's, computed by cryptography).
_FACTS_CACHE = 16_384


@functools.lru_cache(maxsize=_FACTS_CACHE)
def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# Names cryptography refuses to decode (invalid UTF-8 in a UTF8String...) raise ValueError on
# access; those are read from the DER instead (camscan.rawnames), so chain building and reports
# go on with what the certificate says.


@functools.lru_cache(maxsize=_FACTS_CACHE)
def subject_der(cert: x509.Certificate) -> bytes:
    try:
        return cert.subject.public_bytes()
    except ValueError:
        return rawnames.name_der(cert_der(cert), "subject")


@functools.lru_cache(maxsize=_FACTS_CACHE)
def issuer_der(cert: x509.Certificate) -> bytes:
    try:
        return cert.issuer.public_bytes()
    except ValueError:
        return rawnames.name_der(cert_der(cert), "issuer")


def name_der(cert: x509.Certificate, which: str) -> bytes:
    """The "subject" or "issuer" Name's DER: what chain building matches names by."""
    return issuer_der(cert) if which == "issuer" else subject_der(cert)


@functools.lru_cache(maxsize=_FACTS_CACHE)
def subject_text(cert: x509.Certificate) -> str:
    """RFC 4514 text of the subject, whatever bytes the device put in it (hostile text)."""
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return rawnames.name_text(cert_der(cert), "subject")


@functools.lru_cache(maxsize=_FACTS_CACHE)
def issuer_text(cert: x509.Certificate) -> str:
    try:
        return cert.issuer.rfc4514_string()
    except ValueError:
        return rawnames.name_text(cert_der(cert), "issuer")


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


# id-dsa (RFC 3279 2.3.2). cryptography 51 deprecates DSA: touching its classes or loading a DSA
# key warns. A device that serves DSA is something camscan reports, not something the user should
# see library warnings about, so DSA is recognised by the key's OID and only its key is loaded
# with that one warning silenced (nothing on the path of the RSA and EC keys every camera has).
DSA_OID = x509.ObjectIdentifier("1.2.840.10040.4.1")


def is_dsa(cert: x509.Certificate) -> bool:
    try:
        return cert.public_key_algorithm_oid == DSA_OID
    except Exception:
        return False


@contextmanager
def dsa_tolerated() -> Iterator[None]:
    """cryptography's DSA deprecation silenced, for the DSA keys a device chose."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, message=".*DSA")
        yield


def public_key(cert: x509.Certificate) -> CertificatePublicKeyTypes:
    """cert.public_key(), DSA keys included without a deprecation warning."""
    if not is_dsa(cert):
        return cert.public_key()
    with dsa_tolerated():
        return cert.public_key()


@functools.lru_cache(maxsize=_FACTS_CACHE)
def spki_der(cert: x509.Certificate) -> bytes:
    return public_key(cert).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@functools.lru_cache(maxsize=_FACTS_CACHE)
def cert_sha256(cert: x509.Certificate) -> str:
    return sha256_hex(cert_der(cert))


@functools.lru_cache(maxsize=_FACTS_CACHE)
def spki_sha256(cert: x509.Certificate) -> str:
    """Fingerprint of the public key: the same key on two devices means a shared factory key."""
    return sha256_hex(spki_der(cert))


def key_description(cert: x509.Certificate) -> tuple[str, int | None]:
    """("RSA", 2048), ("EC", 256), ("Ed25519", 256), or ("unknown", None)."""
    try:
        key = public_key(cert)
    except Exception:
        return ("unknown", None)
    if isinstance(key, rsa.RSAPublicKey):
        return ("RSA", key.key_size)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ("EC", key.curve.key_size)
    if is_dsa(cert):
        size = getattr(key, "key_size", None)
        return ("DSA", size if isinstance(size, int) else None)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ("Ed25519", 256)
    if isinstance(key, ed448.Ed448PublicKey):
        return ("Ed448", 456)
    return ("unknown", None)


def common_names(cert: x509.Certificate) -> list[str]:
    try:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    except ValueError:
        return rawnames.common_names(cert_der(cert))


def subject_alt_names(cert: x509.Certificate) -> dict[str, list[str]]:
    """{"dns": [...], "ip": [...], "other": [...]}; empty lists when the extension is absent."""
    result: dict[str, list[str]] = {"dns": [], "ip": [], "other": []}
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return result
    except Exception as exc:
        raw = rawnames.subject_alt_names(cert_der(cert))
        if raw is not None:  # strings cryptography would not decode (non-ASCII dNSName...)
            return raw
        result["other"].append(f"unparseable subjectAltName: {exc}")
        return result
    for entry in san:
        if isinstance(entry, x509.DNSName):
            result["dns"].append(entry.value)
        elif isinstance(entry, x509.IPAddress):
            result["ip"].append(str(entry.value))
        else:
            result["other"].append(f"{type(entry).__name__}:{entry.value}")
    return result


def has_san_extension(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    except Exception:
        return True
    return True


def signature_hash_name(cert: x509.Certificate) -> str | None:
    """"sha256", "sha1", "md5"...; None for algorithms without a separate hash (Ed25519)."""
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:
        return "unknown"
    return algorithm.name if algorithm is not None else None


def signature_algorithm_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    return getattr(oid, "_name", None) or oid.dotted_string


def is_self_issued(cert: x509.Certificate) -> bool:
    try:
        return cert.issuer == cert.subject
    except ValueError:
        return name_der(cert, "issuer") == name_der(cert, "subject")


_DSA_KEY_NAME = "DSAPublicKey"


def signature_verifies(cert: x509.Certificate, key: object) -> bool:
    """Whether `key` verifies `cert`'s signature, whatever the hash (SHA-1 and MD5 too).

    cryptography's verify_directly_issued_by refuses SHA-1/MD5 signatures, which would hide
    exactly the old self-signed device certificates these rules must recognise.
    """
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            params = cert.signature_algorithm_parameters
            pad = params if isinstance(params, padding.PSS | padding.PKCS1v15) else padding.PKCS1v15()
            if algorithm is None:
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, pad, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if algorithm is None:
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        elif _DSA_KEY_NAME == type(key).__name__:
            # Named, not isinstance: the DSA classes warn on access (see DSA_OID).
            if not isinstance(algorithm, hashes.HashAlgorithm):
                return False
            with dsa_tolerated():
                key.verify(cert.signature, cert.tbs_certificate_bytes, algorithm)  # type: ignore[attr-defined]
        else:
            return False
    except Exception:
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    """Self-issued, and its own key verifies its signature (any hash)."""
    if not is_self_issued(cert):
        return False
    try:
        key = public_key(cert)
    except Exception:
        return False
    return signature_verifies(cert, key)


def utc(moment: dt.datetime) -> str:
    # Not strftime: its %Y does not pad years before 1000.
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")[:19] + "Z"


def describe(cert: x509.Certificate) -> dict[str, Any]:
    """The parsed fields every report shows, JSON-ready (strings, ints, lists)."""
    key_type, key_bits = key_description(cert)
    return {
        "subject": subject_text(cert),
        "issuer": issuer_text(cert),
        "common_names": common_names(cert),
        "subject_alt_names": subject_alt_names(cert),
        "serial_number": format(cert.serial_number, "x"),
        "version": cert.version.name,
        "not_before": utc(cert.not_valid_before_utc),
        "not_after": utc(cert.not_valid_after_utc),
        "key_type": key_type,
        "key_bits": key_bits,
        "signature_algorithm": signature_algorithm_name(cert),
        "signature_hash": signature_hash_name(cert),
        "self_issued": is_self_issued(cert),
        "sha256": cert_sha256(cert),
        "spki_sha256": spki_sha256(cert),
    }
