"""Small helpers for the XML the personalities read (defusedxml only) and write."""

from __future__ import annotations

import base64
import binascii
import re
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as DET

ParseError = DET.ParseError


def parse(data: bytes) -> Element:
    """Parse device-bound XML safely (no entities, no DTDs)."""
    element: Element = DET.fromstring(data, forbid_dtd=True)
    return element


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def find_local(element: Element, *names: str) -> Element | None:
    """Follow a path of local names, ignoring namespaces (vendors disagree on them)."""
    current: Element | None = element
    for name in names:
        if current is None:
            return None
        current = next((child for child in current if local(child.tag) == name), None)
    return current


def text_local(element: Element, *names: str, default: str = "") -> str:
    found = find_local(element, *names)
    return (found.text or "").strip() if found is not None else default


def all_local(element: Element, name: str) -> list[Element]:
    return [e for e in element.iter() if local(e.tag) == name]


def b64decode(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("bad base64") from exc


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def el(tag: str, text: object = "") -> str:
    return f"<{tag}>{escape(str(text))}</{tag}>"


_PEM_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S)


def pem_private_key_block(data: bytes) -> bytes | None:
    """The first PEM private-key block in `data` (PKCS#8, RSA or EC headers), if any."""
    match = _PEM_KEY.search(data)
    return match.group(0) if match else None
