"""ONVIF (SOAP 1.2): device management and the Advanced Security keystore, device-protocols.md 1 and 3.

Authentication is a WS-Security UsernameToken (what most cameras and onvif-zeep use) whose
Created time is the *device's* clock, learnt from the unauthenticated GetSystemDateAndTime: a
camera whose clock is hours off refuses a token stamped with ours. The session's Digest answers
a 401 from devices that insist on it.

Certificates (Flow A, the key never leaves the device): CreateECCKeyPair -> GetKeyStatus until
ok -> CreatePKCS10CSR -> (signed by the site CA) UploadCertificate -> CreateCertificationPath ->
Replace (or Add) ServerCertificateAssignment. The old assignment stays in force until the new
one replaces it, and is what rollback() puts back. Flow B (key made here) uploads a PKCS#12.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Sequence
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as DET
import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from camscan.pki import PrivateKey
from camscan.remediate.drivers.base import Credentials, DeviceFacts, Driver, DriverError, Session

SOAP = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TAS = "http://www.onvif.org/ver10/advancedsecurity/wsdl"
TT = "http://www.onvif.org/ver10/schema"
DEVICE_PATH = "/onvif/device_service"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST_TYPE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
KEY_WAIT_POLLS = 60  # GetKeyStatus polls, one a second: key generation on a camera takes seconds
REJECTING_FAULTS = (
    "NoMatchingPrivateKey",
    "NoPrivateKey",
    "BadCertificate",
    "KeyMismatch",
    "InvalidCertificateChain",
    "BadPrivateKey",
    "BadPKCS12File",
    "CertificateRejected",
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


def parse_datetime(element: Element | None) -> dt.datetime | None:
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
            tzinfo=dt.UTC,
        )
    except ValueError:
        return None


class OnvifDriver(Driver):
    name = "onvif"

    def __init__(self, session: Session, credentials: Credentials) -> None:
        super().__init__(session)
        self.credentials = credentials
        self.clock_offset: dt.timedelta | None = None
        self.security_path: str | None = None
        self.key_id: str | None = None
        self.previous_path: str | None = None
        self.installed_path: str | None = None

    # --- transport ---------------------------------------------------------------------------

    async def call(self, body: str, *, path: str = DEVICE_PATH, authenticate: bool = True) -> Element:
        header = ""
        if authenticate:
            if self.clock_offset is None:
                await self.device_clock()
            assert self.clock_offset is not None
            created = dt.datetime.now(dt.UTC) + self.clock_offset
            header = f"<s:Header>{username_token(self.credentials, created)}</s:Header>"
        envelope = (
            f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:tds="{TDS}" '
            f'xmlns:tas="{TAS}" xmlns:tt="{TT}">{header}<s:Body>{body}</s:Body></s:Envelope>'
        )
        response = await self.session.request(
            "POST",
            path,
            content=envelope.encode(),
            ok=(200, 400, 500),
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        )
        try:
            root: Element = DET.fromstring(response.content, forbid_dtd=True)
        except (DET.ParseError, ValueError):
            raise DriverError(
                "protocol", f"{path}: the answer is not XML (HTTP {response.status_code})"
            ) from None
        answer = find(root, "Body")
        if answer is None or len(answer) == 0:
            raise DriverError("protocol", f"{path}: a SOAP envelope without a body")
        result = answer[0]
        if local(result.tag) == "Fault":
            raise _fault_error(result)
        return result

    async def device_clock(self) -> dt.datetime | None:
        """The device's UTC clock (pre-auth), and the offset every token's Created carries."""
        answer = await self.call("<tds:GetSystemDateAndTime/>", authenticate=False)
        moment = parse_datetime(find(answer, "SystemDateAndTime", "UTCDateTime"))
        self.clock_offset = (moment - dt.datetime.now(dt.UTC)) if moment else dt.timedelta(0)
        return moment

    async def _security(self) -> str:
        if self.security_path is None:
            answer = await self.call(
                "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>"
            )
            for service in answer:
                if text(service, "Namespace") == TAS:
                    address = text(service, "XAddr")
                    self.security_path = "/" + address.split("://", 1)[-1].split("/", 1)[-1]
                    break
            else:
                raise DriverError("unsupported", "the device offers no ONVIF Advanced Security service")
        return self.security_path

    # --- operations --------------------------------------------------------------------------

    async def facts(self) -> DeviceFacts:
        clock = await self.device_clock()
        info = await self.call("<tds:GetDeviceInformation/>")
        mac: str | None = None
        try:
            interfaces = await self.call("<tds:GetNetworkInterfaces/>")
            mac = text(interfaces, "NetworkInterfaces", "Info", "HwAddress") or None
        except DriverError as exc:
            if exc.kind == "auth":
                raise
        return DeviceFacts(
            self.name,
            text(info, "Manufacturer") or None,
            text(info, "Model") or None,
            text(info, "FirmwareVersion") or None,
            text(info, "SerialNumber") or None,
            mac,
            clock,
        )

    async def set_clock(self, moment: dt.datetime) -> None:
        utc = moment.astimezone(dt.UTC)
        await self.call(
            "<tds:SetSystemDateAndTime><tds:DateTimeType>Manual</tds:DateTimeType>"
            "<tds:DaylightSavings>false</tds:DaylightSavings><tds:TimeZone><tt:TZ>UTC0</tt:TZ></tds:TimeZone>"
            f"<tds:UTCDateTime><tt:Time>{el('tt:Hour', utc.hour)}{el('tt:Minute', utc.minute)}"
            f"{el('tt:Second', utc.second)}</tt:Time><tt:Date>{el('tt:Year', utc.year)}"
            f"{el('tt:Month', utc.month)}{el('tt:Day', utc.day)}</tt:Date></tds:UTCDateTime>"
            "</tds:SetSystemDateAndTime>"
        )
        self.clock_offset = moment.astimezone(dt.UTC) - dt.datetime.now(dt.UTC)

    async def create_csr(
        self, common_name: str, ips: Sequence[str], dns: Sequence[str]
    ) -> x509.CertificateSigningRequest:
        path = await self._security()
        made = await self.call(
            "<tas:CreateECCKeyPair><tas:EllipticCurve>secp256r1</tas:EllipticCurve>"
            "<tas:Alias>camscan-https</tas:Alias></tas:CreateECCKeyPair>",
            path=path,
        )
        key_id = text(made, "KeyID")
        for _ in range(KEY_WAIT_POLLS):
            status = text(
                await self.call(f"<tas:GetKeyStatus>{el('tas:KeyID', key_id)}</tas:GetKeyStatus>", path=path),
                "KeyStatus",
            )
            if status == "ok":
                break
            if status == "corrupt":
                raise DriverError("rejected", "the device reports the new key pair as corrupt")
            await trio.sleep(1)
        else:
            raise DriverError("unreachable", f"the key pair was not ready after {KEY_WAIT_POLLS} s")
        answer = await self.call(
            f"<tas:CreatePKCS10CSR><tas:Subject>{el('tas:CommonName', common_name)}</tas:Subject>"
            f"{el('tas:KeyID', key_id)}<tas:SignatureAlgorithm>{el('tas:algorithm', ECDSA_SHA256)}"
            "</tas:SignatureAlgorithm></tas:CreatePKCS10CSR>",
            path=path,
        )
        self.key_id = key_id
        try:
            return x509.load_der_x509_csr(base64.b64decode(text(answer, "PKCS10CSR")))
        except ValueError:
            raise DriverError("protocol", "the device's CSR cannot be read") from None

    async def _assigned(self, path: str) -> str | None:
        answer = await self.call("<tas:GetAssignedServerCertificates/>", path=path)
        return text(answer, "CertificationPathID") or None

    async def _assign(self, path: str, new_path: str) -> None:
        self.previous_path = await self._assigned(path)
        if self.previous_path:
            await self.call(
                "<tas:ReplaceServerCertificateAssignment>"
                f"{el('tas:OldCertificationPathID', self.previous_path)}"
                f"{el('tas:NewCertificationPathID', new_path)}"
                "</tas:ReplaceServerCertificateAssignment>",
                path=path,
            )
        else:
            await self.call(
                "<tas:AddServerCertificateAssignment>"
                f"{el('tas:CertificationPathID', new_path)}</tas:AddServerCertificateAssignment>",
                path=path,
            )
        self.installed_path = new_path

    async def install_signed(self, chain: Sequence[x509.Certificate]) -> None:
        path = await self._security()
        ids = []
        for index, cert in enumerate(chain):
            der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
            required = "true" if index == 0 else "false"
            answer = await self.call(
                f"<tas:UploadCertificate>{el('tas:Certificate', der)}<tas:Alias>camscan</tas:Alias>"
                f"{el('tas:PrivateKeyRequired', required)}</tas:UploadCertificate>",
                path=path,
            )
            ids.append(text(answer, "CertificateID"))
        ids_xml = "".join(el("tas:CertificateID", i) for i in ids)
        made = await self.call(
            f"<tas:CreateCertificationPath><tas:CertificateIDs>{ids_xml}</tas:CertificateIDs>"
            "<tas:Alias>camscan-https</tas:Alias></tas:CreateCertificationPath>",
            path=path,
        )
        await self._assign(path, text(made, "CertificationPathID"))

    async def upload(self, chain: Sequence[x509.Certificate], key: PrivateKey) -> None:
        path = await self._security()
        passphrase = secrets.token_urlsafe(18)  # one-time: protects the key in transit inside TLS
        bundle = pkcs12.serialize_key_and_certificates(
            b"camscan-https",
            key,
            chain[0],
            list(chain[1:]) or None,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
        made = await self.call(
            "<tas:UploadCertificateWithPrivateKeyInPKCS12>"
            f"{el('tas:CertWithPrivateKey', base64.b64encode(bundle).decode())}"
            f"<tas:CertificationPathAlias>camscan-https</tas:CertificationPathAlias>"
            f"{el('tas:Passphrase', passphrase)}</tas:UploadCertificateWithPrivateKeyInPKCS12>",
            path=path,
        )
        await self._assign(path, text(made, "CertificationPathID"))

    async def reboot(self) -> None:
        await self.call("<tds:SystemReboot/>")

    async def rollback(self) -> bool:
        if not (self.previous_path and self.installed_path and self.security_path):
            return False
        await self.call(
            "<tas:ReplaceServerCertificateAssignment>"
            f"{el('tas:OldCertificationPathID', self.installed_path)}"
            f"{el('tas:NewCertificationPathID', self.previous_path)}"
            "</tas:ReplaceServerCertificateAssignment>",
            path=self.security_path,
        )
        return True


def _fault_error(fault: Element) -> DriverError:
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
