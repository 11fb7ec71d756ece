"""`acme`: RFC 8555 with IP identifiers (RFC 8738) and external account binding (8555 7.3.4).

The protocol (JWS, nonces, orders, polling) is the `acme` library's, the one certbot uses;
this module only drives it. Its calls block, so they run in a worker thread, each bounded.

An order's identifiers are the CSR's names, so a device CSR must carry the device's address
(needs_csr_names). Each pending authorization is answered with http-01 (RFC 8738 section 3:
for an IP identifier the server fetches http://ADDRESS:PORT/.well-known/acme-challenge/TOKEN):
camscan listens on `http01_bind` (default: the device's own address) and `http01_port` while
the server validates. That works only where the ACME server's validation of the camera's
address reaches camscan (see the issuers documentation); authorizations the server already
holds as valid (pre-authorized accounts) need no challenge at all.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import requests
import trio
from acme import challenges, crypto_util, errors, messages
from acme.client import ClientNetwork, ClientV2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from camscan.atomic import write_bytes_atomic
from camscan.remediate.issuers.base import Enrolment, IssuerError, parse_pem_chain, quote_remote
from camscan.remediate.issuers.http01 import responder

T = TypeVar("T")
REASONS = {"unspecified": 0, "keycompromise": 1, "superseded": 4, "cessationofoperation": 5}
AUTH_PROBLEMS = ("unauthorized", "externalAccountRequired", "accountDoesNotExist", "badSignatureAlgorithm")


class _Client(ClientV2):
    """The library's client, with one correction to how an order's identifiers are read from
    the CSR: the library takes the subject's CN as a DNS name even when it is an IP address
    (a camera's CSR names it by its address), which servers refuse as a malformed DNS
    identifier. Here a CN that parses as an IP address is the IP identifier RFC 8738 defines.
    Everything on the wire (JWS, nonces, the order itself) stays the library's."""

    def new_order(self, csr_pem: bytes, profile: str | None = None) -> messages.OrderResource:
        csr = x509.load_pem_x509_csr(csr_pem)
        dns_names, ip_addrs = crypto_util.get_identifiers_from_x509(csr.subject, csr.extensions)
        ips = [str(ipaddress.ip_address(ip)) for ip in ip_addrs]
        names = []
        for name in dns_names:
            try:
                address = str(ipaddress.ip_address(name))
            except ValueError:
                names.append(name)
                continue
            if address not in ips:
                ips.append(address)
        identifiers = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=n) for n in names]
        identifiers += [messages.Identifier(typ=messages.IDENTIFIER_IP, value=ip) for ip in ips]
        order = messages.NewOrder(identifiers=identifiers, profile=profile or "")
        response = self._post(self.directory["newOrder"], order)
        body = messages.Order.from_json(response.json())
        authorizations = [
            self._authzr_from_response(self._post_as_get(url), uri=url) for url in body.authorizations
        ]
        return messages.OrderResource(
            body=body, uri=response.headers.get("Location"), authorizations=authorizations, csr_pem=csr_pem
        )


class ACMEIssuer:
    kind = "acme"
    needs_csr_names = True  # ACME orders are the CSR's identifiers
    supports_revoke = True

    def __init__(
        self,
        name: str,
        directory: str,
        *,
        account_key: Path,
        server_ca: Path | None = None,
        eab_kid: str | None = None,
        eab_hmac: str | None = None,
        email: str | None = None,
        http01_bind: str | None = None,
        http01_port: int = 80,
        timeout: float = 120.0,
        roots: Sequence[x509.Certificate] = (),
    ) -> None:
        self.name = name
        self.directory_url = directory
        self.account_key_path = account_key
        self.server_ca = server_ca
        self.eab_kid, self._eab_hmac = eab_kid, eab_hmac
        self.email = email
        self.http01_bind, self.http01_port = http01_bind, http01_port
        self.timeout = timeout
        self.roots = list(roots)
        self._client: ClientV2 | None = None
        self._setup = trio.Lock()
        # One responder at a time when every challenge is answered on one shared address.
        self._shared = trio.Lock()

    # --- the library's blocking calls, bounded and mapped to IssuerError -----------------------

    async def _call(self, what: str, fn: Callable[..., T], *args: Any, grace: float = 0.0) -> T:
        """`fn(*args)` in a worker thread, within `timeout` (+ `grace` for a call that has a
        deadline of its own, so its own, clearer error comes first)."""
        try:
            with trio.fail_after(self.timeout + grace):
                return await trio.to_thread.run_sync(lambda: fn(*args), abandon_on_cancel=True)
        except trio.TooSlowError:
            raise IssuerError(
                "timeout", f"{self.name}: {what}: no answer within {self.timeout:g} s"
            ) from None
        except requests.exceptions.SSLError:
            raise IssuerError(
                "trust", f"{self.name}: the ACME server's certificate does not chain to server_ca"
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
            raise IssuerError("unreachable", f"{self.name}: cannot reach {self.directory_url}") from None
        except errors.ValidationError as exc:
            problems = [
                f"{a.body.identifier.value}: {quote_remote(str(c.error.detail or c.error.typ))}"
                for a in exc.failed_authzrs
                for c in a.body.challenges
                if c.error is not None
            ]
            raise IssuerError(
                "refused", f"{self.name}: validation failed: {'; '.join(problems) or 'no detail'}"
            ) from None
        except errors.TimeoutError:
            raise IssuerError(
                "pending", f"{self.name}: {what}: the order did not complete within {self.timeout:g} s"
            ) from None
        except messages.Error as exc:
            kind = "auth" if (exc.code or "") in AUTH_PROBLEMS else "refused"
            detail = quote_remote(exc.detail or exc.code or "error")
            raise IssuerError(kind, f"{self.name}: {what}: {exc.code or 'problem'}: {detail}") from None
        except (errors.Error, ValueError) as exc:
            raise IssuerError("protocol", f"{self.name}: {what}: {quote_remote(str(exc))}") from None

    def _key(self) -> JWKEC:
        path = self.account_key_path
        if path.exists():
            from camscan.remediate.issuers.secrets import read_secret_file

            pem = read_secret_file(path, f"issuer {self.name} account_key").encode()
            key = serialization.load_pem_private_key(pem, password=None)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(path, pem, mode=0o600)
            except OSError as exc:
                raise IssuerError(
                    "config", f"{self.name}: cannot write the account key {path} ({exc.strerror})"
                ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise IssuerError("config", f"{self.name}: account_key must be an EC P-256 key")
        return JWKEC(key=key)

    def _connect(self) -> ClientV2:
        key = self._key()
        net = ClientNetwork(key, alg=ES256, user_agent="camscan", timeout=30)
        if self.server_ca is not None:
            # requests takes a CA bundle path where the library documents a bool.
            net.verify_ssl = cast(bool, str(self.server_ca))
        directory = ClientV2.get_directory(self.directory_url, net)
        client = _Client(directory, net)
        eab = None
        if self.eab_kid and self._eab_hmac:
            eab = messages.ExternalAccountBinding.from_data(
                account_public_key=key.public_key(),
                kid=self.eab_kid,
                hmac_key=self._eab_hmac,
                directory=directory,
            )
        registration = messages.NewRegistration.from_data(
            email=self.email, terms_of_service_agreed=True, external_account_binding=eab
        )
        try:
            client.new_account(registration)
        except errors.ConflictError as exc:  # this key's account exists: use it
            net.account = messages.RegistrationResource(uri=exc.location, body=messages.Registration())
        return client

    async def client(self) -> ClientV2:
        async with self._setup:
            if self._client is None:
                self._client = await self._call("account", self._connect)
            return self._client

    # --- issuing ------------------------------------------------------------------------------

    async def issue(self, enrolment: Enrolment) -> list[x509.Certificate]:
        client = await self.client()
        order = await self._call("new order", client.new_order, enrolment.csr_pem)
        tokens: dict[str, str] = {}
        answers: list[tuple[messages.ChallengeBody, challenges.ChallengeResponse]] = []
        for authz in order.authorizations:
            if authz.body.status == messages.STATUS_VALID:
                continue  # already authorized (reuse or a pre-authorized account)
            challb = next((c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)), None)
            if challb is None:
                raise IssuerError(
                    "refused", f"{self.name}: no http-01 challenge offered for {authz.body.identifier.value}"
                )
            response, validation = challb.response_and_validation(client.net.key)
            tokens[challb.chall.encode("token")] = validation
            answers.append((challb, response))
        deadline = dt.datetime.now() + dt.timedelta(seconds=self.timeout)
        if answers:
            address = self.http01_bind or _address(enrolment.ips)
            async with (
                self._shared if self.http01_bind else _nolock(),
                responder(address, self.http01_port, tokens),
            ):
                for challb, response in answers:
                    await self._call("answer challenge", client.answer_challenge, challb, response)
                order = await self._call("finalize", client.poll_and_finalize, order, deadline, grace=30)
        else:
            order = await self._call("finalize", client.finalize_order, order, deadline, grace=30)
        if not order.fullchain_pem:
            raise IssuerError("protocol", f"{self.name}: the order completed without a certificate")
        return parse_pem_chain(order.fullchain_pem.encode(), self.name)

    async def revoke(self, cert: x509.Certificate, reason: str) -> None:
        client = await self.client()
        code = REASONS.get(reason.lower().replace("_", ""), 0)
        await self._call("revoke", client.revoke, cert, code)

    def describe(self) -> str:
        eab = f", EAB kid {self.eab_kid}" if self.eab_kid else ""
        where = self.http01_bind or "the device's address"
        return f"acme: {self.directory_url}{eab}; http-01 answered on {where} port {self.http01_port}"

    async def test(self) -> str:
        client = await self.client()
        account = client.net.account.uri if client.net.account else "?"
        pinned = "server pinned" if self.server_ca else "system trust store"
        return f"ok: {self.describe()}; {pinned}, account {quote_remote(account)}"

    async def trust_anchors(self) -> list[x509.Certificate]:
        return list(self.roots)


def _address(ips: Sequence[str]) -> str:
    if not ips:
        raise IssuerError("config", "an ACME enrolment needs the device's IP address")
    return str(ipaddress.ip_address(ips[0]))


class _nolock:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None
