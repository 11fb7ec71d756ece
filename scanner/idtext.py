"""Device-supplied identity text: MAC spellings and bounded strings, shared by every source."""

from __future__ import annotations

import re

MAX_FIELD = 128  # longest identity string kept; serials and model names are far shorter
_MAC_SHAPES = re.compile(
    r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}|[0-9a-f]{12}",
    re.IGNORECASE,
)
# realm="DH_9002A9112233" (quoted or not) anywhere in the WWW-Authenticate value.


def normalize_mac(text: str | None) -> str | None:
    """A unicast MAC as "aa:bb:cc:dd:ee:ff", or None for anything else (incl. all-zero, broadcast).

    Strict on purpose: netaddr.EUI would read "1" as 00:00:00:00:00:01.
    """
    if not text:
        return None
    text = text.strip()
    if len(text) > 17 or not _MAC_SHAPES.fullmatch(text):
        return None
    digits = re.sub(r"[^0-9a-f]", "", text.lower())
    if int(digits[:2], 16) & 1:  # group bit: broadcast or multicast, never a device's own
        return None
    if digits == "0" * 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def clean(text: str | None) -> str | None:
    """Device text as kept in an identity: trimmed and bounded, otherwise exact (outputs escape it)."""
    if text is None:
        return None
    text = text.strip()[:MAX_FIELD]
    return text or None
