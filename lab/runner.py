"""Run a fleet of simulated devices in one process, each on its own 127.x address.

In-process use (tests of any area, the demo):

    async with open_lab(default_fleet(), size=8, reboot_downtime=0.1) as lab:
        device = lab.devices[0]
        lab.endpoints()                     # [Endpoint("127.77.0.1", 8443), ...]
        lab.write_bundles(tmp_path)         # site-ca.pem (trust this), firmware-cas.pem
        await device.change_ip(lab.allocate_address())
"""

from __future__ import annotations

import contextlib
import ipaddress
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from camscan.atomic import write_bytes_atomic
from camscan.errors import CamscanError, UsageError
from camscan.lab.certs import LabPKI
from camscan.lab.device import AddressInUse, Device, DeviceSettings
from camscan.lab.firmware import Firmware
from camscan.lab.fleet import ISAPI_NAMESPACES, Fleet, LabSettings, default_fleet
from camscan.lab.identity import make_identity
from camscan.lab.personalities import get as get_personality
from camscan.lab.scenarios import SCENARIOS
from camscan.model import Endpoint
from camscan.runtime import raise_fd_limit

BIND_RETRIES = 256  # addresses to skip when another lab (or test) holds one


class AddressPool:
    """Hands out host addresses of the block in order, skipping .0 and .255."""

    def __init__(self, block: str) -> None:
        self.network = ipaddress.IPv4Network(block, strict=False)
        self._hosts: Iterator[ipaddress.IPv4Address] = self.network.hosts()
        self._used: set[str] = set()

    def allocate(self) -> str:
        for address in self._hosts:
            text = str(address)
            if address.packed[-1] in (0, 255) or text in self._used:
                continue
            self._used.add(text)
            return text
        raise CamscanError(f"the lab's address block {self.network} is exhausted")


class Lab:
    def __init__(self, fleet: Fleet, workdir: Path, lab_pki: LabPKI | None = None) -> None:
        self.fleet = fleet
        self.settings: LabSettings = fleet.settings
        self.pki = lab_pki or LabPKI.create()
        self.pool = AddressPool(self.settings.block)
        self.workdir = workdir
        self.devices: list[Device] = []
        self._by_name: dict[str, Device] = {}

    def allocate_address(self) -> str:
        """A free address in the lab's block (for change_ip in tests)."""
        return self.pool.allocate()

    def _build(self, index: int) -> Device:
        spec = self.fleet.devices[index]
        identity = make_identity(spec.personality, index, model=spec.model, firmware=spec.firmware)
        scenario = SCENARIOS[spec.scenario]
        firmware = Firmware(identity, self.pki, scenario, key_kind=spec.key, group=spec.group)
        s = self.settings
        settings = DeviceSettings(
            username=s.username, password=s.password, https_port=s.https_port, http_port=s.http_port,
            reboot_downtime=s.reboot_downtime, isapi_namespace=ISAPI_NAMESPACES[spec.isapi_namespace],
            axis_cert_api=spec.axis_cert_api, onvif_security=spec.onvif_security,
            clock_offset=spec.clock_offset,
            ws_discovery=s.ws_discovery)
        name = spec.name or f"{spec.personality}-{index + 1:04d}"
        return Device(name, identity, scenario, firmware, self.pool.allocate(), settings,
                      get_personality(spec.personality), self.workdir)

    async def start(self, nursery: trio.Nursery) -> None:
        listeners = 1 + (self.settings.http_port is not None) + self.settings.ws_discovery
        needed = len(self.fleet.devices) * listeners + 256
        limit = raise_fd_limit(needed)
        if limit < needed:
            raise UsageError(f"{len(self.fleet.devices)} devices need about {needed} open files, but the "
                             f"limit is {limit}: lower --size or raise `ulimit -n`")
        for index in range(len(self.fleet.devices)):
            device = self._build(index)
            for _ in range(BIND_RETRIES):
                try:
                    await device.start(nursery)
                    break
                except AddressInUse:
                    device.ip = self.pool.allocate()  # someone else is there: take the next one
            else:
                raise CamscanError(f"no free address in {self.settings.block} for {device.name}")
            self.devices.append(device)
            self._by_name[device.name] = device

    async def prewarm(self) -> None:
        """Make every device's certificate and TLS context now rather than on first connection
        (for benchmarks that should measure the scanner, not the lab's lazy start)."""
        for device in self.devices:
            device.ssl_context()
            await trio.sleep(0)  # stay responsive while thousands are made

    def device(self, name: str) -> Device:
        try:
            return self._by_name[name]
        except KeyError:
            raise UsageError(f"no lab device named {name!r}") from None

    def endpoints(self) -> list[Endpoint]:
        return [d.endpoint for d in self.devices]

    def inventory(self) -> list[dict[str, Any]]:
        return [{
            "name": d.name, "address": d.ip, "https_port": d.https_port, "http_port": d.http_port,
            "personality": d.personality.name, "manufacturer": d.identity.vendor.manufacturer,
            "model": d.identity.model, "serial": d.identity.serial, "mac": d.identity.mac,
            "firmware": d.identity.firmware, "scenario": d.scenario.name,
            "expected_rules": list(d.scenario.rules), "username": d.settings.username,
            "password": d.settings.password, "online": d.online,
        } for d in self.devices]

    def write_bundles(self, directory: str | Path) -> dict[str, Path]:
        """site-ca.pem (the lab's site root: pass it as --ca-bundle) and firmware-cas.pem."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for device in self.devices:  # the firmware CAs exist once a device of the model needs them
            self.pki.vendor_ca(device.identity)
        paths = {"site": out / "site-ca.pem", "firmware": out / "firmware-cas.pem"}
        write_bytes_atomic(paths["site"], self.pki.site_bundle_pem())
        write_bytes_atomic(paths["firmware"], self.pki.firmware_bundle_pem())
        return paths


@contextlib.asynccontextmanager
async def open_lab(fleet: Fleet | None = None, *, size: int | None = None, block: str | None = None,
                   https_port: int | None = None, http_port: int | bool | None = True,
                   reboot_downtime: float | None = None, ws_discovery: bool | None = None,
                   lab_pki: LabPKI | None = None) -> AsyncIterator[Lab]:
    """Start a fleet (default: the built-in one) in this trio run; stop it on exit.

    `http_port=True` keeps the fleet's setting; None or False turns plain HTTP off.
    """
    fleet = fleet or default_fleet()
    if size is not None:
        fleet = fleet.resized(size)
    settings = fleet.settings
    if block is not None:
        settings = replace(settings, block=block)
    if https_port is not None:
        settings = replace(settings, https_port=https_port)
    if http_port is not True:
        plain = http_port if isinstance(http_port, int) and http_port is not False else None
        settings = replace(settings, http_port=plain)
    if reboot_downtime is not None:
        settings = replace(settings, reboot_downtime=reboot_downtime)
    if ws_discovery is not None:
        settings = replace(settings, ws_discovery=ws_discovery)
    fleet = replace(fleet, settings=settings)
    with tempfile.TemporaryDirectory(prefix="camscan-lab-") as workdir:
        try:
            async with trio.open_nursery() as nursery:
                lab = Lab(fleet, Path(workdir), lab_pki)
                try:
                    await lab.start(nursery)
                    yield lab
                finally:
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # One error inside the lab (a UsageError, a failed assertion in a test) comes out
            # as itself, not wrapped in the nursery's group, so callers can catch it plainly.
            single = _single_error(group)
            if single is None:
                raise
            raise single from None


def _single_error(group: BaseExceptionGroup[BaseException]) -> Exception | None:
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        item = pending.pop()
        if isinstance(item, BaseExceptionGroup):
            pending.extend(item.exceptions)
        else:
            leaves.append(item)
    if len(leaves) == 1 and isinstance(leaves[0], Exception):
        return leaves[0]
    return None
