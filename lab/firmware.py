"""A camera's certificate firmware (Sunell HTTPS FAQ) and its clock, without any networking.

- At every boot the firmware makes a server certificate for its *current* IP, signed by its
  built-in root CA (Q1); changing the IP without a reboot leaves the old one in place.
- An uploaded certificate and key replace it and survive reboots (Q2).
- A key created on the device for a CSR stays on the device; the signed certificate installs
  against it. Every CSR creation makes a new key; a factory reset deletes the keys (Q3).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from cryptography import x509

from camscan import pki
from camscan.lab.certs import Credentials, LabPKI, key_matches
from camscan.lab.identity import Identity
from camscan.lab.scenarios import Scenario, ScenarioInput
from camscan.pki import PrivateKey

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
BOOT_CERT_DAYS = 3650  # firmware-made certificates are long-lived (10 years, like the CA)


class CertificateRejected(ValueError):
    """An upload or install the firmware refuses (the message is what the device reports)."""


class DeviceClock:
    """The device's own wall clock: the real clock plus an offset the device can get wrong."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset = offset_seconds

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset)

    def set(self, moment: dt.datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("device time must be timezone-aware")
        self.offset = (moment - dt.datetime.now(dt.UTC)).total_seconds()

    def reset_to_epoch(self) -> None:
        """Power-on without a battery-backed clock and without NTP: the clock starts at 1970."""
        self.set(EPOCH)


@dataclass
class Keystore:
    """On-device keys and certificates, with ids (ONVIF Advanced Security shape)."""

    keys: dict[str, PrivateKey] = field(default_factory=dict)
    certificates: dict[str, x509.Certificate] = field(default_factory=dict)
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    path_aliases: dict[str, str] = field(default_factory=dict)
    certificate_keys: dict[str, str] = field(default_factory=dict)  # CertificateID -> KeyID
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    def add_key(self, key: PrivateKey, key_id: str | None = None) -> str:
        key_id = key_id or self.new_id("Key")
        self.keys[key_id] = key
        return key_id

    def key_for(self, cert: x509.Certificate) -> str | None:
        return next((kid for kid, key in self.keys.items() if key_matches(cert, key)), None)

    def clear(self) -> None:
        self.keys.clear()
        self.certificates.clear()
        self.paths.clear()
        self.path_aliases.clear()
        self.certificate_keys.clear()


class Firmware:
    """Which certificate the HTTPS server presents, and why."""

    def __init__(self, identity: Identity, lab_pki: LabPKI, scenario: Scenario, *,
                 key_kind: str = "ec-p256", group: str = "") -> None:
        self.identity = identity
        self.pki = lab_pki
        self.scenario = scenario
        self.key_kind = key_kind
        self.group = group
        self.keystore = Keystore()
        self.installed: Credentials | None = None  # uploaded / CSR-installed: survives reboots
        self._commissioned = scenario.install is None
        self._boot_credentials: Credentials | None = None
        self.boot_ip = ""
        self.boot_time = EPOCH  # device clock at the last boot
        self.generation = 0  # bumped whenever the presented certificate may change
        # Lab knobs for remediation's bad paths: a reason to refuse every certificate install
        # (a full keystore, a firmware that takes none), and an extra SAN address every CSR
        # carries (firmware that writes its factory-default address into CSRs).
        self.rejects_certificates: str | None = None
        self.csr_extra_ip: str | None = None
        # A firmware that cannot delete from its keystore (ONVIF: the *Deletion faults the
        # WSDL names; Axis: an error answer): the reason, or None.
        self.refuses_deletes: str | None = None

    @property
    def builtin_ca(self) -> pki.Issued:
        return self.pki.vendor_ca(self.identity)

    def boot(self, ip: str, device_now: dt.datetime) -> None:
        """Power-on: remember the IP and clock; the per-boot certificate is made on first use."""
        self.boot_ip = ip
        self.boot_time = device_now
        self._boot_credentials = None
        self.generation += 1

    def served(self) -> Credentials:
        if not self._commissioned:
            # What the administrator installed when the device was commissioned (lazily, so a
            # fleet of thousands starts without making thousands of certificates up front).
            assert self.scenario.install is not None
            self.installed = self.scenario.install(ScenarioInput(
                self.pki, self.boot_ip, self.identity, dt.datetime.now(dt.UTC).replace(microsecond=0),
                self.key_kind, self.group))
            self._commissioned = True
        if self.installed is not None:
            return self.installed
        if self.scenario.firmware == "factory-default":
            return self.pki.factory_default(self.identity)
        if self._boot_credentials is None:
            self._boot_credentials = self._make_boot_certificate()
        return self._boot_credentials

    def _make_boot_certificate(self) -> Credentials:
        ca = self.builtin_ca
        key = pki.new_key(self.key_kind)
        not_before = self.boot_time.replace(microsecond=0) - dt.timedelta(minutes=1)
        issued = pki.make_leaf(
            ca, key=key, common_name=self.boot_ip, ips=[self.boot_ip],
            subject=pki.name(self.boot_ip, O=self.identity.vendor.manufacturer),
            not_before=max(not_before, EPOCH),
            not_after=not_before + dt.timedelta(days=BOOT_CERT_DAYS))
        return Credentials((issued.cert,), key)

    # --- operations the device APIs expose -------------------------------------------------

    def upload(self, chain: list[x509.Certificate], key: PrivateKey) -> None:
        """Certificate + private key from outside (Sunell HTTPS FAQ Solution 2 / Q2)."""
        if self.rejects_certificates:
            raise CertificateRejected(self.rejects_certificates)
        if not chain:
            raise CertificateRejected("no certificate")
        if not key_matches(chain[0], key):
            raise CertificateRejected("the private key does not match the certificate")
        self._commission_now()
        self.installed = Credentials(tuple(chain), key)
        self.generation += 1

    def create_csr_key(self, *, key_kind: str | None = None) -> str:
        """A new key on the device for a CSR (a different key every time, Q3)."""
        return self.keystore.add_key(pki.new_key(key_kind or self.key_kind))

    def csr(self, key_id: str, common_name: str, *, ips: list[str] | None = None,
            dns: list[str] | None = None) -> x509.CertificateSigningRequest:
        key = self.keystore.keys.get(key_id)
        if key is None:
            raise CertificateRejected(f"no key {key_id!r} on the device")
        extra = [self.csr_extra_ip] if self.csr_extra_ip else []
        return pki.make_csr(key, common_name=common_name, ips=[*(ips or []), *extra], dns=dns or [])

    def install_signed(self, chain: list[x509.Certificate]) -> str:
        """Install a CA-signed certificate for a key made on the device; returns the key id."""
        if self.rejects_certificates:
            raise CertificateRejected(self.rejects_certificates)
        if not chain:
            raise CertificateRejected("no certificate")
        key_id = self.keystore.key_for(chain[0])
        if key_id is None:
            raise CertificateRejected("no private key on the device matches this certificate")
        self._commission_now()
        self.installed = Credentials(tuple(chain), self.keystore.keys[key_id])
        self.generation += 1
        return key_id

    def factory_reset(self) -> None:
        """Restore defaults: uploaded certificates and every on-device key are deleted (Q3)."""
        self.keystore.clear()
        self.installed = None
        self._commissioned = True
        self._boot_credentials = None
        self.generation += 1

    def _commission_now(self) -> None:
        self._commissioned = True
