"""Server-side authentication: RFC 2617 Digest and ONVIF WS-UsernameToken, with the vectors of
device-protocols.md (section 0 and 1.1). Pure: no sockets."""

from __future__ import annotations

import base64
import datetime as dt
from xml.etree.ElementTree import Element

import httpx
import pytest

from camscan.lab.auth import (
    DigestAuth,
    check_username_token,
    digest_response,
    parse_auth_header,
    password_digest,
)
from camscan.lab.personalities.xmlutil import parse
from tests.lab.wsse import security_header


def test_rfc2617_vector() -> None:
    assert digest_response(
        username="Mufasa", realm="testrealm@host.com", password="Circle Of Life",
        method="GET", uri="/dir/index.html", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        nc="00000001", cnonce="0a4f113b") == "6629fae49393a05397450978507c4ef1"


def _authorization(auth: DigestAuth, *, password: str, method: str = "GET", uri: str = "/x",
                   nonce: str | None = None) -> str:
    nonce = nonce or auth.new_nonce()
    response = digest_response(username=auth.username, realm=auth.realm, password=password, method=method,
                               uri=uri, nonce=nonce, nc="00000001", cnonce="abcdef")
    return (f'Digest username="{auth.username}", realm="{auth.realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", qop=auth, nc=00000001, cnonce="abcdef", algorithm=MD5')


def test_digest_accepts_the_right_password_and_rejects_the_rest() -> None:
    auth = DigestAuth("admin", "s3cret", "IP Camera(1234)")
    assert auth.check("GET", "/x", _authorization(auth, password="s3cret")) == "ok"
    assert auth.check("GET", "/x", _authorization(auth, password="wrong")) == "denied"
    assert auth.check("GET", "/x", None) == "missing"
    assert auth.check("GET", "/x", "Basic YWRtaW46czNjcmV0") == "missing"
    # The response binds the method and the URI: replaying it elsewhere fails.
    assert auth.check("PUT", "/x", _authorization(auth, password="s3cret")) == "denied"
    assert auth.check("GET", "/y", _authorization(auth, password="s3cret")) == "denied"


def test_digest_forged_or_expired_nonce() -> None:
    auth = DigestAuth("admin", "s3cret", "r")
    other = DigestAuth("admin", "s3cret", "r")  # another device: another secret
    forged = _authorization(auth, password="s3cret", nonce=other.new_nonce())
    assert auth.check("GET", "/x", forged) == "stale"
    old_stamp = f"{int(dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp()):x}"
    expired = _authorization(auth, password="s3cret", nonce=old_stamp + auth._sign(old_stamp))
    assert auth.check("GET", "/x", expired) == "stale"


def test_challenge_is_what_httpx_digest_expects() -> None:
    auth = DigestAuth("admin", "pw", "DH_9002A9112233")
    scheme, params = parse_auth_header(auth.challenge())
    assert scheme == "digest" and params["realm"] == "DH_9002A9112233" and params["qop"] == "auth"
    # httpx answers the challenge; the device verifies what httpx computed.
    flow = httpx.DigestAuth("admin", "pw").auth_flow(httpx.Request("GET", "https://cam.invalid/a?b=1"))
    request = next(flow)
    challenged = httpx.Response(401, headers={"WWW-Authenticate": auth.challenge()}, request=request)
    answered = flow.send(challenged)
    assert auth.check("GET", "/a?b=1", answered.headers["Authorization"]) == "ok"


def test_wsse_vector() -> None:
    nonce = bytes(range(16))
    assert base64.b64encode(nonce).decode() == "AAECAwQFBgcICQoLDA0ODw=="
    assert password_digest(nonce, "2024-01-01T00:00:00Z", "admin123") == "3s41cOMFalkdgS4gM3O6f6U8Acs="


def _header(xml: str) -> Element:
    root = parse(f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">{xml}<s:Body/></s:Envelope>'
                 .encode())
    header = root.find("{http://www.w3.org/2003/05/soap-envelope}Header")
    assert header is not None
    return header


@pytest.mark.parametrize(("device_now", "password", "verdict"), [
    (dt.datetime(2024, 1, 1, 0, 2, tzinfo=dt.UTC), "admin123", "ok"),
    (dt.datetime(2024, 1, 1, 0, 6, tzinfo=dt.UTC), "admin123", "stale"),  # Created 6 min off
    (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), "admin123", "stale"),  # device clock in 1970
    (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "wrong", "denied"),
])
def test_username_token_and_its_clock_check(device_now: dt.datetime, password: str, verdict: str) -> None:
    header = _header(security_header("admin", "admin123", created="2024-01-01T00:00:00Z",
                                     nonce=bytes(range(16))))
    assert check_username_token(header, username="admin", password=password, device_now=device_now) == verdict


def test_username_token_missing_or_for_another_user() -> None:
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert check_username_token(None, username="admin", password="x", device_now=now) == "missing"
    assert check_username_token(_header("<s:Header/>"), username="admin", password="x",
                                device_now=now) == "missing"
    header = _header(security_header("root", "x", created="2024-01-01T00:00:00Z", nonce=b"1" * 16))
    assert check_username_token(header, username="admin", password="x", device_now=now) == "denied"
