"""Certificates cryptography refuses to build: SHA-1 signatures, X.509 v1, hostile name bytes.

Real cameras still present both, so the lab needs them. cryptography signs only with modern
hashes and always writes v3, so we let it build a normal certificate, then rewrite its
TBSCertificate at the DER level (swap the signature AlgorithmIdentifier, or drop the version and
extensions for v1) and sign the new bytes with the issuer's raw key, which cryptography does allow.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from camscan.pki import PrivateKey

# DER AlgorithmIdentifier values (RFC 3279 / RFC 5758).
_ALG_IDS: dict[tuple[str, str], bytes] = {
    ("rsa", "sha1"): bytes.fromhex("300d06092a864886f70d0101050500"),
    ("rsa", "sha256"): bytes.fromhex("300d06092a864886f70d01010b0500"),
    ("ec", "sha1"): bytes.fromhex("300906072a8648ce3d0401"),
    ("ec", "sha256"): bytes.fromhex("300a06082a8648ce3d040302"),
}
# SHA-1 on purpose: real cameras still present SHA-1 certificates and camscan must flag them.
_HASHES: dict[str, hashes.HashAlgorithm] = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256()}  # noqa: S303


def _read_tlv(data: bytes, pos: int) -> tuple[int, int]:
    """Return (start of value, end of element) for the DER element at `pos`."""
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    return start, start + length


def _encode(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        head = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + head + value


def _elements(sequence: bytes) -> list[bytes]:
    start, end = _read_tlv(sequence, 0)
    items, pos = [], start
    while pos < end:
        _, item_end = _read_tlv(sequence, pos)
        items.append(sequence[pos:item_end])
        pos = item_end
    return items


def resign(
    cert: x509.Certificate, issuer_key: PrivateKey, *, hash_name: str = "sha1", version1: bool = False
) -> x509.Certificate:
    """Re-sign `cert` with `issuer_key` using `hash_name`; `version1` strips version and extensions."""
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        family = "rsa"
    elif isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        family = "ec"
    else:
        raise ValueError("only RSA and EC issuers can make SHA-1 or v1 certificates")
    alg_id = _ALG_IDS[(family, hash_name)]
    items = _elements(cert.tbs_certificate_bytes)
    has_version = items[0][0] == 0xA0
    sig_index = 2 if has_version else 1
    items[sig_index] = alg_id
    if version1:
        items = [item for item in items if item[0] not in (0xA0, 0xA3)]
    tbs = _encode(0x30, b"".join(items))
    digest = _HASHES[hash_name]
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        signature = issuer_key.sign(tbs, padding.PKCS1v15(), digest)
    else:
        signature = issuer_key.sign(tbs, ec.ECDSA(digest))
    der = _encode(0x30, tbs + alg_id + _encode(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def substitute(
    cert: x509.Certificate, issuer_key: PrivateKey, replacements: dict[bytes, bytes]
) -> x509.Certificate:
    """`cert` with placeholder bytes in its TBSCertificate replaced, re-signed by `issuer_key`.

    For the strings cryptography will not write (a UTF8String with invalid UTF-8, a dNSName
    holding a right-to-left override): build the certificate with a placeholder of the same
    length, then swap the bytes. Equal lengths keep every DER length field valid. Each
    placeholder is replaced wherever it occurs (a CA's name in its subject and, in the leaves it
    signs, their issuer alike). The signature stays SHA-256 with the issuer's key family.
    """
    tbs = cert.tbs_certificate_bytes
    for placeholder, hostile in replacements.items():
        if len(placeholder) != len(hostile) or placeholder not in tbs:
            raise ValueError(f"placeholder {placeholder!r}: absent or not {len(hostile)} bytes long")
        tbs = tbs.replace(placeholder, hostile)
    family = "rsa" if isinstance(issuer_key, rsa.RSAPrivateKey) else "ec"
    alg_id = _ALG_IDS[(family, "sha256")]
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        signature = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    else:
        raise ValueError("only RSA and EC issuers can re-sign")
    der = _encode(0x30, tbs + alg_id + _encode(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def general_names(der: bytes) -> tuple[list[str], list[str]]:
    """(IP addresses, DNS names) of a DER GeneralNames (RFC 5280 4.2.1.6: the value of a
    subjectAltName extension); other name forms are skipped. ValueError if it is not one."""
    import ipaddress

    if len(der) < 2 or der[0] != 0x30:
        raise ValueError("not a SEQUENCE")
    start, end = _read_tlv(der, 0)
    if end != len(der):
        raise ValueError("trailing bytes")
    ips: list[str] = []
    dns: list[str] = []
    pos = start
    while pos < end:
        tag = der[pos]
        value_start, value_end = _read_tlv(der, pos)
        if value_end > end:
            raise ValueError("truncated")
        value = der[value_start:value_end]
        if tag == 0x82:  # [2] dNSName, IA5String
            dns.append(value.decode("ascii"))
        elif tag == 0x87:  # [7] iPAddress, 4 or 16 octets
            if len(value) not in (4, 16):
                raise ValueError("bad iPAddress length")
            ips.append(str(ipaddress.ip_address(value)))
        pos = value_end
    return ips, dns
