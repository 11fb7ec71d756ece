"""An RFC 7030 EST server for tests: TLS on loopback, HTTP/1.1 on h11 (the lab's server).

It answers as the RFC's examples show (RFC 7030 4.1.3, 4.2.3): /cacerts and the enrolment
replies are certs-only CMS, base64, `application/pkcs7-mime`; a missing or wrong HTTP Basic
credential gets `401` with `WWW-Authenticate: Basic`; a pending enrolment gets `202 Accepted`
with `Retry-After`. The CA signs what the CSR asks (its SAN), like an EST CA that follows the
request, which is why camscan checks the answer.

Modes: "ok"; "refuse" (400 with a reason, as a CA policy rejection); "pending" (202 forever);
"pending-once" (202 then the certificate on the retry).
"""

from __future__ import annotations

import base64
import datetime as dt
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from camscan import pki
from camscan.lab.httpserver import Request, Response, serve_http
from tests.support.tls_servers import run_in_thread

PKCS7 = "application/pkcs7-mime"


@dataclass
class ESTServer:
    ca: pki.Issued  # the issuing CA (its root is what /cacerts returns)
    tls: pki.Issued  # the server's own TLS certificate (from `tls_ca`)
    tls_ca: pki.Issued
    username: str = "camscan"
    password: str = "Est-Pw-51b2"
    label: str | None = None
    mode: str = "ok"
    client_ca: pki.Issued | None = None  # accept a TLS client certificate from this CA instead
    days: int = 90
    requests: list[str] = field(default_factory=list)
    issued: list[x509.Certificate] = field(default_factory=list)
    pending: set[bytes] = field(default_factory=set)
    address: str = ""
    port: int = 0

    @property
    def url(self) -> str:
        return f"https://{self.address}:{self.port}/.well-known/est"

    def _authorised(self, request: Request, client_cert: bytes | None) -> bool:
        if self.client_ca is not None and client_cert is not None:
            return True  # the TLS layer verified it against client_ca
        value = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return value == f"Basic {expected}"

    async def handle(self, request: Request, client_cert: bytes | None) -> Response:
        self.requests.append(f"{request.method} {request.path}")
        base = "/.well-known/est" + (f"/{self.label}" if self.label else "")
        op = request.path[len(base) + 1 :] if request.path.startswith(base + "/") else ""
        if op == "cacerts" and request.method == "GET":
            return _certs_only([self.ca.cert])
        if op not in ("simpleenroll", "simplereenroll") or request.method != "POST":
            return Response.text("not found\n", 404)
        if not self._authorised(request, client_cert):
            return Response.text("authentication required\n", 401,
                                 headers=[("WWW-Authenticate", 'Basic realm="estrealm"')])
        try:
            der = base64.b64decode(b"".join(request.body.split()), validate=True)
            csr = x509.load_der_x509_csr(der)
        except ValueError:
            return Response.text("the body is not a base64 PKCS#10 request\n", 400)
        if not csr.is_signature_valid:
            return Response.text("bad CSR signature\n", 400)
        if self.mode == "refuse":
            return Response.text("certificate request rejected by CA policy: camera profile disabled\n", 400)
        if self.mode == "pending" or (self.mode == "pending-once" and der not in self.pending):
            self.pending.add(der)  # the same request, sent again, is then answered
            return Response.text("", 202, headers=[("Retry-After", "1")])
        try:
            san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return Response.text("the request carries no subjectAltName\n", 400)
        leaf = _sign(self.ca, csr, san, self.days)
        self.issued.append(leaf)
        return _certs_only([leaf])


def _sign(ca: pki.Issued, csr: x509.CertificateSigningRequest, san: x509.SubjectAlternativeName,
          days: int) -> x509.Certificate:
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = pki.utcnow() - dt.timedelta(minutes=1)
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(san, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),  # type: ignore[arg-type]
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)  # type: ignore[arg-type]
        .sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )


def _certs_only(certs: list[x509.Certificate]) -> Response:
    body = base64.encodebytes(pkcs7.serialize_certificates(certs, serialization.Encoding.DER))
    return Response(200, body, f"{PKCS7}; smime-type=certs-only",
                    headers=[("Content-Transfer-Encoding", "base64")])


async def _serve(
    server: ESTServer, *, task_status: trio.TaskStatus[ESTServer] = trio.TASK_STATUS_IGNORED
) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "tls.pem", Path(tmp) / "tls.key"
        cert.write_bytes(pki.pem_chain([server.tls.cert]))
        key.write_bytes(server.tls.key_pem)
        context.load_cert_chain(str(cert), str(key))
        if server.client_ca is not None:
            context.load_verify_locations(cadata=server.client_ca.cert.public_bytes(serialization.Encoding.PEM).decode())
            context.verify_mode = ssl.CERT_OPTIONAL
    listeners = await trio.open_tcp_listeners(0, host=server.address)
    server.port = listeners[0].socket.getsockname()[1]

    async def connection(stream: trio.SocketStream) -> None:
        tls = trio.SSLStream(stream, context, server_side=True)
        try:
            with trio.fail_after(10):
                await tls.do_handshake()
        except (trio.BrokenResourceError, trio.TooSlowError):
            await stream.aclose()
            return
        peer = tls.getpeercert(binary_form=True)

        async def handler(request: Request) -> Response:
            return await server.handle(request, peer)

        await serve_http(tls, handler)
        await tls.aclose()

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, connection, listeners)
        task_status.started(server)


@contextmanager
def est_server(address: str, **options: object) -> Iterator[ESTServer]:
    """An EST server on `address` (a loopback address), port chosen by the system."""
    tls_ca = pki.make_ca("EST test server CA")
    ca = pki.make_ca("EST test issuing CA")
    tls = pki.make_leaf(tls_ca, common_name=address, ips=[address])
    server = ESTServer(ca=ca, tls=tls, tls_ca=tls_ca, address=address, **options)  # type: ignore[arg-type]
    with run_in_thread(_serve, server) as running:
        yield running
