"""What every device driver shares: facts, errors, and one HTTP session per device.

The session speaks HTTPS to the address and port camscan scanned, with Digest authentication
(httpx, which runs under trio through anyio). The device's certificate is broken by definition
(that is why we are here), so it cannot be verified against a CA; instead the session pins the
leaf the scan saw (and, once camscan installs one, the new leaf): a different certificate on
the first answer of a connection, before any credential is sent, aborts the action. Digest
never sends the password itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509

from camscan.pki import PrivateKey

KINDS = ("auth", "rejected", "unsupported", "unreachable", "protocol", "pin")
REQUEST_TIMEOUT = 15.0


class DriverError(Exception):
    """A device action that failed, with a closed kind. Messages never carry credentials."""

    def __init__(self, kind: str, message: str) -> None:
        assert kind in KINDS, kind
        super().__init__(message)
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.kind}: {self.args[0]}"


@dataclass(frozen=True)
class DeviceFacts:
    driver: str
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    mac: str | None = None
    clock: dt.datetime | None = None  # the device's own clock, UTC


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never in a traceback or a log
        return f"Credentials(username={self.username!r}, password=<hidden>)"


def leaf_sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


class Session:
    """HTTPS to one device: Digest auth, the pinned certificate(s), errors mapped to DriverError."""

    def __init__(self, address: str, port: int, credentials: Credentials, pins: set[str]) -> None:
        host = f"[{address}]" if ":" in address else address
        self.base = f"https://{host}:{port}"
        self.pins = pins  # the apply engine adds the new leaf's hash once it installs one
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # pinned below instead
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # weak certificates are what we come to replace
        self.client = httpx.AsyncClient(
            verify=context,
            auth=httpx.DigestAuth(credentials.username, credentials.password),
            timeout=REQUEST_TIMEOUT,
            event_hooks={"response": [self._check_pin]},
        )

    async def _check_pin(self, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None or (self.pins and leaf_sha256(der) not in self.pins):
            raise DriverError(
                "pin",
                "the device presents a certificate other than the one scanned: "
                "refusing to talk to it (rescan first)",
            )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        ok: Sequence[int] = (200,),
    ) -> httpx.Response:
        try:
            response = await self.client.request(
                method, self.base + path, content=content, json=json, headers=headers
            )
        except DriverError:
            raise
        except httpx.TimeoutException:
            raise DriverError(
                "unreachable", f"{method} {path}: no answer within {REQUEST_TIMEOUT:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise DriverError("unreachable", f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code == 401:
            raise DriverError("auth", "the device refused the user name or password")
        if response.status_code == 404:
            raise DriverError("unsupported", f"{method} {path}: not found on this device")
        if response.status_code not in ok:
            raise DriverError("protocol", f"{method} {path}: HTTP {response.status_code}")
        return response


class Driver:
    """The operations `camscan fix --apply` needs. Vendor drivers override what their API does
    natively; the rest goes through ONVIF, which every supported camera also speaks."""

    name = "base"

    def __init__(self, session: Session) -> None:
        self.session = session

    async def facts(self) -> DeviceFacts:
        raise NotImplementedError

    async def set_clock(self, moment: dt.datetime, ntp_server: str | None = None) -> str:
        """Correct the device clock, keeping its NTP mode and time zone; what was done, for the log."""
        raise NotImplementedError

    async def create_csr(
        self, common_name: str, ips: Sequence[str], dns: Sequence[str]
    ) -> x509.CertificateSigningRequest:
        raise NotImplementedError

    async def install_signed(self, chain: Sequence[x509.Certificate]) -> None:
        raise NotImplementedError

    async def upload(self, chain: Sequence[x509.Certificate], key: PrivateKey) -> None:
        raise NotImplementedError

    async def reboot(self) -> None:
        raise NotImplementedError

    async def rollback(self) -> bool:
        """Put back the certificate assignment recorded before install; False if the API cannot."""
        return False

    async def remove_superseded(self, old_leaf: bytes) -> str:
        """After the install is verified over TLS: delete the certificate it replaced (DER
        `old_leaf`, what the device served before), only if camscan installed it and nothing on
        the device still refers to it. Returns what was removed, for the log. Raises DriverError
        "unsupported" when the API has no delete call, "rejected" when the device refuses, and
        Kept when a safety check says leave it."""
        raise DriverError("unsupported", f"the {self.name} driver has no documented delete call")


class Kept(Exception):
    """The superseded certificate stays: it is not camscan's, or something still refers to it."""
