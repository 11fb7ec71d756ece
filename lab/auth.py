"""Server side of device authentication: HTTP Digest (RFC 2617, MD5, qop=auth) and ONVIF's
WS-Security UsernameToken (PasswordDigest) with the clock check real devices make.

Nonces are stateless (a timestamp and an HMAC over it), so thousands of devices keep no
per-client state; replayed nonce counts are not tracked (a lab simplification).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import time
import urllib.request
from xml.etree.ElementTree import Element

NONCE_LIFETIME = 300.0
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
CREATED_TOLERANCE = dt.timedelta(minutes=5)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def digest_response(*, username: str, realm: str, password: str, method: str, uri: str, nonce: str,
                    nc: str, cnonce: str, qop: str = "auth") -> str:
    """The `response` value of RFC 2617 section 3.2.2.1 (qop=auth, algorithm MD5)."""
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def parse_auth_header(value: str) -> tuple[str, dict[str, str]]:
    """`Digest a="b", c=d` -> ("digest", {"a": "b", "c": "d"})."""
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    for item in urllib.request.parse_http_list(rest):
        key, sep, val = item.partition("=")
        if not sep:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[key.strip().lower()] = val
    return scheme.lower(), params


class DigestAuth:
    """One device's Digest credentials and realm."""

    def __init__(self, username: str, password: str, realm: str, secret: bytes | None = None) -> None:
        self.username = username
        self.password = password
        self.realm = realm
        self._secret = secret or secrets.token_bytes(16)

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:24]

    def new_nonce(self) -> str:
        stamp = f"{int(time.time()):x}"
        return f"{stamp}{self._sign(stamp)}"

    def _nonce_fresh(self, nonce: str) -> bool:
        stamp, mac = nonce[:-24], nonce[-24:]
        try:
            issued = int(stamp, 16)
        except ValueError:
            return False
        return hmac.compare_digest(mac, self._sign(stamp)) and 0 <= time.time() - issued <= NONCE_LIFETIME

    def challenge(self, *, stale: bool = False) -> str:
        header = (f'Digest realm="{self.realm}", qop="auth", nonce="{self.new_nonce()}", '
                  f'opaque="{self._sign("opaque")[:16]}", algorithm=MD5')
        return header + (", stale=TRUE" if stale else "")

    def check(self, method: str, target: str, authorization: str | None) -> str:
        """"ok", "missing", "stale" (good password, expired nonce) or "denied"."""
        if not authorization:
            return "missing"
        scheme, p = parse_auth_header(authorization)
        if scheme != "digest":
            return "missing"
        needed = ("username", "realm", "nonce", "uri", "response", "nc", "cnonce", "qop")
        if any(k not in p for k in needed) or p["qop"] != "auth":
            return "denied"
        if p.get("algorithm", "MD5").upper() != "MD5" or p["uri"] != target or p["realm"] != self.realm:
            return "denied"
        if not hmac.compare_digest(p["username"], self.username):
            return "denied"
        expected = digest_response(username=self.username, realm=self.realm, password=self.password,
                                   method=method, uri=p["uri"], nonce=p["nonce"], nc=p["nc"],
                                   cnonce=p["cnonce"])
        if not hmac.compare_digest(expected, p["response"].lower()):
            return "denied"
        return "ok" if self._nonce_fresh(p["nonce"]) else "stale"


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-Security UsernameToken PasswordDigest = Base64(SHA1(nonce + created + password))."""
    raw = hashlib.sha1(nonce + created.encode() + password.encode(), usedforsecurity=False).digest()
    return base64.b64encode(raw).decode("ascii")


def parse_created(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def check_username_token(header: Element | None, *, username: str, password: str,
                         device_now: dt.datetime) -> str:
    """"ok", "missing", "stale" (Created too far from the device clock) or "denied"."""
    if header is None:
        return "missing"
    token = header.find(f"{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken")
    if token is None:
        return "missing"
    user = (token.findtext(f"{{{WSSE_NS}}}Username") or "").strip()
    pw_el = token.find(f"{{{WSSE_NS}}}Password")
    nonce_text = token.findtext(f"{{{WSSE_NS}}}Nonce") or ""
    created_text = token.findtext(f"{{{WSU_NS}}}Created") or ""
    if pw_el is None or not hmac.compare_digest(user, username):
        return "denied"
    kind = pw_el.get("Type", "")
    given = (pw_el.text or "").strip()
    if kind.endswith("#PasswordText"):
        return "ok" if hmac.compare_digest(given, password) else "denied"
    try:
        nonce = base64.b64decode(nonce_text, validate=True)
        created = parse_created(created_text)
    except (ValueError, binascii.Error):
        return "denied"
    if not hmac.compare_digest(password_digest(nonce, created_text.strip(), password), given):
        return "denied"
    if abs(created - device_now) > CREATED_TOLERANCE:
        return "stale"
    return "ok"
