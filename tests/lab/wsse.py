"""A minimal ONVIF client side for the tests: WS-UsernameToken headers built per
device-protocols.md section 1.1 (as python-onvif-zeep does), and SOAP envelopes."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os

SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
NAMESPACES = ('xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
              'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
              'xmlns:tt="http://www.onvif.org/ver10/schema" '
              'xmlns:tas="http://www.onvif.org/ver10/advancedsecurity/wsdl"')


def security_header(username: str, password: str, *, created: str | None = None,
                    nonce: bytes | None = None) -> str:
    nonce = os.urandom(16) if nonce is None else nonce
    created = created or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    return (
        '<s:Header><wsse:Security s:mustUnderstand="1" '
        'xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" '
        'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">'
        f"<wsse:UsernameToken><wsse:Username>{username}</wsse:Username>"
        '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/'
        f'oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</wsse:Password>'
        '<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/'
        f'oasis-200401-wss-soap-message-security-1.0#Base64Binary">{base64.b64encode(nonce).decode()}'
        f"</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>"
    )


def envelope(body: str, header: str = "") -> bytes:
    head = f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {NAMESPACES}>'
    return f"{head}{header}<s:Body>{body}</s:Body></s:Envelope>".encode()
