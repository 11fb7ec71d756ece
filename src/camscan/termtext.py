"""Device-controlled text is hostile: the one policy every output applies to it.

A certificate subject, a SAN, an HTTP header or a WS-Discovery scope is written by whoever
controls the device. Some characters in it act on the reader instead of being read: an ESC
sequence retitles a terminal or hides a line, CR/LF forge log lines and CSV rows, a
right-to-left override (U+202E) reorders what an admin sees ("moc.evil" that reads as
"live.com"), zero-width characters make two names look equal.

The policy, defined once here (ESCAPED_RANGES): every code point Unicode classes as a control
(Cc: C0, DEL, C1), a format character (Cf: bidi embeddings, overrides, isolates and marks,
zero-width characters, the BOM...), a surrogate (Cs, which UTF-8 cannot even encode), or a
line/paragraph separator (Zl, Zp) is shown as a visible escape: \\x1b, \\u202e, \\U000e0041.
Everything else, accents and scripts included, is kept as sent.

Who applies it:
- terminal tables, logs, e-mail bodies and notifications: `sanitize` (visible escapes, bounded);
- HTML: jinja2 autoescape plus `visible` on every value the template prints;
- CSV, JUnit XML, Prometheus label values: `visible` on every device string, then the format's
  own quoting (csv, xml.etree, prometheus_client);
- JSON and JSON Lines keep the exact text: `json_safe` turns what the JSON encoder leaves raw
  into \\uXXXX escapes, so a reader gets the very same string back and no raw control or
  bidi character reaches a file or a terminal that shows it.
Invalid UTF-8 from a device (certificate strings, HTTP headers) is decoded with U+FFFD
replacement by `decode_device_bytes`, never an exception.
"""

from __future__ import annotations

import re

_MAX_LEN = 512

# Inclusive ranges: Unicode categories Cc, Cf, Cs, Zl and Zp (a test checks this table covers
# every such code point the running Python knows of). Written out rather than computed from
# unicodedata so the policy does not change with the Python version and costs nothing at import.
ESCAPED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),  # C0 controls: NUL, BEL, BS, TAB, LF, CR, ESC...
    (0x007F, 0x009F),  # DEL and the C1 controls (0x9B is a one-byte CSI on some terminals)
    (0x00AD, 0x00AD),  # soft hyphen (invisible)
    (0x0600, 0x0605),  # Arabic number signs (format)
    (0x061C, 0x061C),  # Arabic letter mark (bidi)
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),  # Mongolian vowel separator (invisible)
    (0x200B, 0x200F),  # zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x2029),  # line and paragraph separators
    (0x202A, 0x202E),  # bidi embeddings and overrides (LRE, RLE, PDF, LRO, RLO)
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x206F),  # bidi isolates (LRI, RLI, FSI, PDI) and deprecated format characters
    (0xD800, 0xDFFF),  # surrogates: only reachable through surrogateescape, never encodable
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFF9, 0xFFFB),  # interlinear annotation controls
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls (Unicode 15 extended the range)
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),  # language tag
    (0xE0020, 0xE007F),  # tag characters (invisible text)
)


def _char_class(ranges: tuple[tuple[int, int], ...]) -> str:
    def char(code: int) -> str:
        return f"\\U{code:08x}"

    return "[" + "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in ranges) + "]"


ESCAPED = re.compile(_char_class(ESCAPED_RANGES))
_ASCII_ESCAPED = re.compile(_char_class(tuple(r for r in ESCAPED_RANGES if r[0] < 0x80)))
# What JSON encoders leave raw (they escape only C0, quote and backslash with ensure_ascii off).
_JSON_LEFT_RAW = re.compile(_char_class(tuple(r for r in ESCAPED_RANGES if r[0] > 0x1F)))


def escape_char(ch: str) -> str:
    """The visible escape of one character: \\x1b, \\u202e, \\U000e0041."""
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def needs_escape(text: str) -> bool:
    return ESCAPED.search(text) is not None


def visible(text: object) -> str:
    """`text` with every character of the policy replaced by its visible escape; nothing cut."""
    value = str(text)
    if value.isascii():  # the common case: only C0 and DEL can be there, a cheaper search
        if _ASCII_ESCAPED.search(value) is None:
            return value
    elif ESCAPED.search(value) is None:
        return value
    return ESCAPED.sub(lambda m: escape_char(m.group()), value)


def sanitize(text: object, *, max_len: int = _MAX_LEN) -> str:
    """Text for a terminal, a log line or a notification: visible escapes, at most `max_len` long.

    A certificate CN such as "\\x1b]0;pwned\\x07" must not retitle the terminal, and a
    right-to-left override must not reorder what the admin reads.
    """
    result = visible(text)
    if len(result) > max_len:
        result = result[: max_len - 1] + "…"
    return result


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON spells a code point above the BMP as a UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_safe(encoded: str) -> str:
    """JSON text (from json.dumps, ensure_ascii=False) with no raw control, bidi or format character.

    Such characters can only sit inside JSON strings (the syntax itself is ASCII), where a
    \\uXXXX escape is the same character to every parser: the text round-trips exactly.
    """
    if encoded.isascii():  # the common case, checked in C: only DEL can be left raw there
        return encoded.replace("\x7f", "\\u007f") if "\x7f" in encoded else encoded
    if _JSON_LEFT_RAW.search(encoded) is None:
        return encoded
    return _JSON_LEFT_RAW.sub(_json_escape, encoded)


def decode_device_bytes(data: bytes) -> str:
    """Bytes a device sent as text (a header, a certificate string): UTF-8, bad bytes as U+FFFD."""
    return data.decode("utf-8", errors="replace")
