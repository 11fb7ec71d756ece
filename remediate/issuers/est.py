"""`est`: Enrollment over Secure Transport (RFC 7030) with httpx.

    GET  {base}/cacerts          the CA certificates (certs-only CMS, base64; RFC 7030 4.1)
    POST {base}/simpleenroll     a base64 PKCS#10 CSR -> the certificate (4.2.1)
    POST {base}/simplereenroll   the same for a renewal (4.2.2)

where {base} is `url` (normally https://host/.well-known/est) plus `/label` when one is set
(RFC 7030 3.2.2). The server is pinned: its TLS certificate must chain to `server_ca`, never the
system store. Authentication is HTTP Basic (password from the environment, a 0600 file or a
prompt) or a TLS client certificate, or both. A `202 Accepted` with Retry-After (4.2.3) is
retried after the time the server asks, for at most `max_wait` seconds in all.
"""

from __future__ import annotations

import base64
import email.utils
import ssl
from collections.abc import Sequence
from pathlib import Path

import httpx
import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from camscan.remediate.issuers.base import Enrolment, IssuerError, quote_remote

PKCS7 = "application/pkcs7-mime"


def retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    import datetime as dt

    return max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds())


def certs_only(body: bytes, where: str) -> list[x509.Certificate]:
    """The certificates of a certs-only CMS, base64 as RFC 7030 4.1.3 / 4.2.3 send it."""
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
        return list(pkcs7.load_der_pkcs7_certificates(der))
    except ValueError:
        raise IssuerError("protocol", f"{where}: the answer is not a base64 certs-only CMS") from None


class ESTIssuer:
    kind = "est"
    needs_csr_names = True  # an EST CA certifies what the CSR asks
    supports_revoke = False  # RFC 7030 defines no revocation

    def __init__(
        self,
        name: str,
        url: str,
        *,
        server_ca: Path,
        label: str | None = None,
        username: str | None = None,
        password: str | None = None,
        client_cert: Path | None = None,
        client_key: Path | None = None,
        timeout: float = 30.0,
        max_wait: float = 300.0,
        roots: Sequence[x509.Certificate] = (),
    ) -> None:
        self.name = name
        self.base = url.rstrip("/") + (f"/{label}" if label else "")
        self.username, self._password = username, password
        self.timeout, self.max_wait = timeout, max_wait
        self.roots = list(roots)
        self._client_cert = client_cert is not None
        try:
            context = ssl.create_default_context(cafile=str(server_ca))
            if client_cert is not None:
                context.load_cert_chain(str(client_cert), str(client_key) if client_key else None)
        except (OSError, ssl.SSLError) as exc:
            from camscan.errors import UsageError

            raise UsageError(f"issuer {name}: cannot load server_ca / client certificate ({exc})") from None
        self._context = context

    def _client(self) -> httpx.AsyncClient:
        auth = (
            httpx.BasicAuth(self.username, self._password)
            if self.username is not None and self._password is not None
            else None
        )
        return httpx.AsyncClient(verify=self._context, auth=auth, timeout=self.timeout)

    async def _request(
        self, client: httpx.AsyncClient, method: str, path: str, body: bytes = b""
    ) -> httpx.Response:
        url = f"{self.base}/{path}"
        headers = (
            {"Content-Type": "application/pkcs10", "Content-Transfer-Encoding": "base64"} if body else {}
        )
        try:
            response = await client.request(method, url, content=body or None, headers=headers)
        except httpx.TimeoutException:
            raise IssuerError(
                "unreachable", f"{self.name}: {path}: no answer within {self.timeout:g} s"
            ) from None
        except httpx.ConnectError as exc:
            if _verify_failed(exc):
                raise IssuerError(
                    "trust", f"{self.name}: the EST server's certificate does not chain to server_ca"
                ) from None
            raise IssuerError("unreachable", f"{self.name}: cannot connect to {self.base}") from None
        except httpx.HTTPError as exc:
            raise IssuerError("unreachable", f"{self.name}: {path}: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise IssuerError(
                "auth",
                f"{self.name}: {path}: the EST server refused the credentials (HTTP {response.status_code})",
            )
        if response.status_code not in (200, 202):
            raise IssuerError(
                "refused",
                f"{self.name}: {path}: HTTP {response.status_code}: "
                + (quote_remote(response.content[:2000]) or "no message"),
            )
        return response

    async def cacerts(self) -> list[x509.Certificate]:
        async with self._client() as client:
            response = await self._request(client, "GET", "cacerts")
        return certs_only(response.content, f"{self.name} /cacerts")

    async def issue(self, enrolment: Enrolment) -> list[x509.Certificate]:
        path = "simplereenroll" if enrolment.renewal else "simpleenroll"
        body = base64.encodebytes(enrolment.csr.public_bytes(serialization.Encoding.DER))
        waited = 0.0
        async with self._client() as client:
            while True:
                response = await self._request(client, "POST", path, body)
                if response.status_code == 200:
                    break
                delay = retry_after(response.headers.get("retry-after"), 10.0)
                if waited + delay > self.max_wait:
                    raise IssuerError(
                        "pending",
                        f"{self.name}: the enrolment is still pending after {waited:g} s "
                        f"(max_wait {self.max_wait:g} s; the server asked for {delay:g} s more)",
                    )
                await trio.sleep(delay)
                waited += delay
        chain = certs_only(response.content, f"{self.name} /{path}")
        # The reply may be the leaf alone (RFC 7030 4.2.3): the chain comes from /cacerts.
        leaf = _leaf_for(chain, enrolment)
        rest = [c for c in chain if c is not leaf]
        if not rest:
            rest = [c for c in await self.cacerts() if c.subject != c.issuer]
        return [leaf, *rest]

    async def revoke(self, cert: x509.Certificate, reason: str) -> None:
        raise IssuerError("config", f"{self.name}: EST has no revocation (RFC 7030); revoke at the CA")

    def describe(self) -> str:
        methods = (("HTTP Basic", self.username), ("client certificate", self._client_cert))
        auth = [w for w, on in methods if on]
        return f"est: {self.base} ({' and '.join(auth)})"

    async def test(self) -> str:
        cas = await self.cacerts()
        if not cas:
            raise IssuerError("protocol", f"{self.name}: /cacerts returned no certificate")
        # Credentials: an empty POST is refused with 401 by a server that wants them, and with
        # 400 by one that accepted them; either way nothing is issued.
        async with self._client() as client:
            try:
                response = await client.post(
                    f"{self.base}/simpleenroll", content=b"", headers={"Content-Type": "application/pkcs10"}
                )
            except httpx.HTTPError:
                raise IssuerError("unreachable", f"{self.name}: /simpleenroll did not answer") from None
        if response.status_code in (401, 403):
            raise IssuerError(
                "auth", f"{self.name}: the EST server refused the credentials (HTTP {response.status_code})"
            )
        names = "; ".join(c.subject.rfc4514_string() for c in cas[:3])
        return f"ok: {self.describe()}; server pinned, /cacerts: {names}; credentials accepted"

    async def trust_anchors(self) -> list[x509.Certificate]:
        # Without configured roots, the self-signed certificates of /cacerts: the explicit trust
        # anchors RFC 7030 4.1.3 says the server distributes (fetched over the pinned channel).
        if self.roots:
            return list(self.roots)
        return [c for c in await self.cacerts() if c.subject == c.issuer]


def _verify_failed(exc: BaseException) -> bool:
    """Whether a connection failed because the server's certificate did not verify."""
    seen: BaseException | None = exc
    for _ in range(10):  # httpx -> httpcore -> anyio -> ssl: the cause is a few links down
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _leaf_for(chain: Sequence[x509.Certificate], enrolment: Enrolment) -> x509.Certificate:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    want = enrolment.csr.public_key().public_bytes(serialization.Encoding.DER, spki)
    for cert in chain:
        if cert.public_key().public_bytes(serialization.Encoding.DER, spki) == want:
            return cert
    if not chain:
        raise IssuerError("protocol", "the EST server returned no certificate")
    return chain[0]  # check_issued then says it is for another key
