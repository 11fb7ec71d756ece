"""Device-controlled text is hostile: make it safe to print on a terminal."""

from __future__ import annotations

import unicodedata

_MAX_LEN = 512


def sanitize(text: object, *, max_len: int = _MAX_LEN) -> str:
    """Replace control characters (ESC sequences, CR, bidi overrides...) with visible escapes.

    A certificate CN such as "\\x1b]0;pwned\\x07" must not retitle the terminal, and a
    right-to-left override must not reorder what the admin reads.
    """
    out: list[str] = []
    for ch in str(text):
        category = unicodedata.category(ch)
        if category.startswith("C") or category in {"Zl", "Zp"}:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    result = "".join(out)
    if len(result) > max_len:
        result = result[: max_len - 1] + "…"
    return result
