"""SOAP 1.2 pieces the ONVIF and Axis drivers share: namespaces, the WS-Security
UsernameToken, reading answers namespace-agnostically, and SOAP faults as DriverError.

Sources: ONVIF Core Specification (SOAP 1.2, UsernameToken), https://www.onvif.org/specs/core/ONVIF-Core-Specification.pdf;
OASIS WS-Security UsernameToken Profile 1.0 (PasswordDigest = Base64(SHA1(nonce + created + password))).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from camscan.remediate.drivers.base import Credentials, DriverError

SOAP = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TAS = "http://www.onvif.org/ver10/advancedsecurity/wsdl"
TT = "http://www.onvif.org/ver10/schema"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST_TYPE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)
REJECTING_FAULTS = (
    "ReferenceExists",  # advancedsecurity.wsdl Delete*: "a reference exists" (env:Sender/ter:InvalidArgVal)
    "KeyDeletion",
    "CertificateDeletion",
    "CertificationPathDeletion",
    "NoMatchingPrivateKey",
    "NoPrivateKey",
    "BadCertificate",
    "KeyMismatch",
    "InvalidCertificateChain",
    "BadPrivateKey",
    "BadPKCS12File",
    "CertificateRejected",
    "InvalidCertificateConfigurationFault",
)


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def find(element: Element, *names: str) -> Element | None:
    current: Element | None = element
    for name in names:
        if current is None:
            return None
        current = next((c for c in current if local(c.tag) == name), None)
    return current


def text(element: Element, *names: str) -> str:
    found = find(element, *names)
    return (found.text or "").strip() if found is not None else ""


def el(tag: str, value: object) -> str:
    return f"<{tag}>{escape(str(value))}</{tag}>"


def username_token(credentials: Credentials, created: dt.datetime, nonce: bytes | None = None) -> str:
    """WS-Security UsernameToken, PasswordDigest = Base64(SHA1(nonce + created + password))."""
    nonce = nonce if nonce is not None else os.urandom(16)
    stamp = created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(
        hashlib.sha1(nonce + stamp.encode() + credentials.password.encode(), usedforsecurity=False).digest()
    ).decode()
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"{el('wsse:Username', credentials.username)}"
        f'<wsse:Password Type="{DIGEST_TYPE}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{stamp}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def envelope(body: str, header: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:tds="{TDS}" '
        f'xmlns:tas="{TAS}" xmlns:tt="{TT}">{header}<s:Body>{body}</s:Body></s:Envelope>'
    )


def parse_datetime(element: Element | None, zone: dt.tzinfo = dt.UTC) -> dt.datetime | None:
    """A tt:DateTime (Time then Date), read in `zone`."""
    if element is None:
        return None
    try:
        return dt.datetime(
            int(text(element, "Date", "Year")),
            int(text(element, "Date", "Month")),
            int(text(element, "Date", "Day")),
            int(text(element, "Time", "Hour")),
            int(text(element, "Time", "Minute")),
            int(text(element, "Time", "Second")),
            tzinfo=zone,
        )
    except ValueError:
        return None


def datetime_xml(tag: str, moment: dt.datetime) -> str:
    """A tt:DateTime in UTC: devicemgmt.wsdl's UTCDateTime (tt:Time first, then tt:Date)."""
    utc = moment.astimezone(dt.UTC)
    return (
        f"<{tag}><tt:Time>{el('tt:Hour', utc.hour)}{el('tt:Minute', utc.minute)}"
        f"{el('tt:Second', utc.second)}</tt:Time><tt:Date>{el('tt:Year', utc.year)}"
        f"{el('tt:Month', utc.month)}{el('tt:Day', utc.day)}</tt:Date></{tag}>"
    )


def fault_error(fault: Element) -> DriverError:
    codes = [local((v.text or "").strip().split(":")[-1]) for v in fault.iter() if local(v.tag) == "Value"]
    reason = next(((t.text or "").strip() for t in fault.iter() if local(t.tag) == "Text"), "")
    detail = f"{'/'.join(codes)}: {reason}"[:300]
    if "NotAuthorized" in codes:
        return DriverError("auth", "the device refused the user name or password")
    if "ActionNotSupported" in codes:
        return DriverError("unsupported", detail)
    if any(code in REJECTING_FAULTS for code in codes) or "Receiver" in codes:
        return DriverError("rejected", detail)
    return DriverError("protocol", detail)
