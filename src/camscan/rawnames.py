"""Names and subjectAltNames read straight from a certificate's DER, for the ones cryptography refuses.

cryptography loads a certificate whose subject holds a UTF8String with invalid bytes, or whose
dNSName holds non-ASCII bytes, but raises ValueError the moment `.subject` or the SAN extension
is read. A device can send exactly that, and the report must still say what the certificate
claims. This is the fallback: a minimal DER walk over the TBSCertificate that decodes every
string leniently (UTF-8 with U+FFFD for bad bytes). It never raises: what it cannot read it
leaves out. The text is as hostile as any other device text; outputs escape it (termtext).
"""

from __future__ import annotations

from collections.abc import Iterator

# RFC 4514 short names (and the ones OpenSSL prints) for the attributes devices use.
_SHORT_NAMES: dict[str, str] = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "STREET",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "title",
    "2.5.4.42": "GN",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
}
_COMMON_NAME = "2.5.4.3"
_SAN_OID = bytes.fromhex("0603551d11")  # 2.5.29.17, tag and length included

_SEQUENCE, _SET, _OID, _OCTET_STRING, _BOOLEAN = 0x30, 0x31, 0x06, 0x04, 0x01
# GeneralName choices (RFC 5280 4.2.1.6), context-specific tags.
_GN_RFC822, _GN_DNS, _GN_URI, _GN_IP = 0x81, 0x82, 0x86, 0x87


class _Malformed(Exception):
    pass


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of element) of the DER element at `pos`."""
    if pos + 2 > len(data):
        raise _Malformed
    tag, length = data[pos], data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise _Malformed
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise _Malformed
    return tag, start, end


def _children(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(tag, start of value, end) of each element between `start` and `end`."""
    pos = start
    while pos < end:
        tag, value_start, value_end = _tlv(data, pos)
        yield tag, value_start, value_end
        pos = value_end


def _element_starts(data: bytes, start: int, end: int) -> list[int]:
    starts, pos = [], start
    while pos < end:
        starts.append(pos)
        pos = _tlv(data, pos)[2]
    return starts


def _oid(value: bytes) -> str:
    if not value:
        raise _Malformed
    arcs: list[int] = []
    current = 0
    for byte in value:
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def decode_string(tag: int, value: bytes) -> str:
    """A directory string of any ASN.1 type, decoded without ever raising."""
    if tag == 0x1E:  # BMPString
        return value.decode("utf-16-be", errors="replace")
    if tag == 0x1C:  # UniversalString
        return value.decode("utf-32-be", errors="replace")
    # UTF8String, and the "ASCII" types (Printable, IA5, Teletex...) that devices fill with UTF-8.
    return value.decode("utf-8", errors="replace")


def _tbs_field_starts(der: bytes) -> list[int]:
    """Where each top-level element of the TBSCertificate starts ([0] version left out):
    serial, signature, issuer, validity, subject, spki, then [1], [2], [3] when present."""
    _, cert_start, _ = _tlv(der, 0)
    _, tbs_start, tbs_end = _tlv(der, cert_start)
    starts = _element_starts(der, tbs_start, tbs_end)
    if starts and der[starts[0]] == 0xA0:
        starts = starts[1:]
    return starts


def _tbs_fields(der: bytes) -> list[tuple[int, int, int]]:
    return [_tlv(der, pos) for pos in _tbs_field_starts(der)]


def name_der(der: bytes, which: str) -> bytes:
    """The raw DER of the certificate's "subject" or "issuer" Name (b"" when unreadable)."""
    try:
        start = _tbs_field_starts(der)[2 if which == "issuer" else 4]
        return der[start : _tlv(der, start)[2]]
    except (_Malformed, IndexError):
        return b""


def name_attributes(der: bytes, which: str) -> list[tuple[str, str]]:
    """[(attribute OID dotted, text)] of the certificate's "subject" or "issuer", in DER order."""
    try:
        fields = _tbs_fields(der)
        _, start, end = fields[2 if which == "issuer" else 4]
        attributes: list[tuple[str, str]] = []
        for _, rdn_start, rdn_end in _children(der, start, end):
            for _, atv_start, atv_end in _children(der, rdn_start, rdn_end):
                (oid_tag, oid_start, oid_end), (value_tag, value_start, value_end) = list(
                    _children(der, atv_start, atv_end)
                )[:2]
                if oid_tag != _OID:
                    raise _Malformed
                text = decode_string(value_tag, der[value_start:value_end])
                attributes.append((_oid(der[oid_start:oid_end]), text))
        return attributes
    except (_Malformed, ValueError, IndexError, StopIteration):
        return []


def _escape_rfc4514(value: str) -> str:
    """RFC 4514 section 2.4, spelled as cryptography's rfc4514_string spells it (NUL as \\00)."""
    if not value:
        return ""
    out = "".join("\\" + ch if ch in '\\"+,;<>' else ("\\00" if ch == "\x00" else ch) for ch in value)
    if out[0] in "# ":
        out = "\\" + out
    if out[-1] == " ":
        out = out[:-1] + "\\ "
    return out


def name_text(der: bytes, which: str) -> str:
    """The subject or issuer as an RFC 4514 string (most significant attribute first)."""
    attributes = name_attributes(der, which)
    return ",".join(
        f"{_SHORT_NAMES.get(oid, oid)}={_escape_rfc4514(text)}" for oid, text in reversed(attributes)
    )


def common_names(der: bytes) -> list[str]:
    return [text for oid, text in name_attributes(der, "subject") if oid == _COMMON_NAME]


def subject_alt_names(der: bytes) -> dict[str, list[str]] | None:
    """{"dns", "ip", "other"} like certinfo.subject_alt_names, or None without a readable SAN."""
    try:
        fields = _tbs_fields(der)
        extensions = next((f for f in fields if f[0] == 0xA3), None)
        if extensions is None:
            return None
        _, seq_start, seq_end = _tlv(der, extensions[1])
        for _, ext_start, ext_end in _children(der, seq_start, seq_end):
            if der[ext_start : ext_start + len(_SAN_OID)] != _SAN_OID:
                continue
            parts = list(_children(der, ext_start, ext_end))
            tag, value_start, _ = parts[-1]
            if tag != _OCTET_STRING:
                raise _Malformed
            _, names_start, names_end = _tlv(der, value_start)
            result: dict[str, list[str]] = {"dns": [], "ip": [], "other": []}
            for gn_tag, start, end in _children(der, names_start, names_end):
                raw = der[start:end]
                if gn_tag == _GN_DNS:
                    result["dns"].append(raw.decode("utf-8", errors="replace"))
                elif gn_tag == _GN_IP:
                    result["ip"].append(_ip_text(raw))
                elif gn_tag == _GN_RFC822:
                    result["other"].append("RFC822Name:" + raw.decode("utf-8", errors="replace"))
                elif gn_tag == _GN_URI:
                    result["other"].append(
                        "UniformResourceIdentifier:" + raw.decode("utf-8", errors="replace")
                    )
                else:
                    result["other"].append(f"GeneralName[{gn_tag & 0x1F}]:{raw.hex()}")
            return result
        return None
    except (_Malformed, ValueError, IndexError, StopIteration):
        return None


def _ip_text(raw: bytes) -> str:
    import ipaddress

    if len(raw) in (4, 16):
        return str(ipaddress.ip_address(raw))
    return raw.hex()
