"""Fixtures for the lab's tests: a fresh in-process lab per test, on ephemeral ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import trio
from cryptography import x509

from camscan.lab import Lab, default_fleet, open_lab
from camscan.lab.device import Device
from camscan.model import Observation
from camscan.scanner.tls_probe import ProbeSettings, probe


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    # Port 0: every device gets its own ephemeral ports, so parallel runs never collide.
    async with open_lab(default_fleet(), https_port=0, http_port=0, reboot_downtime=0.3) as running:
        yield running


def first(lab: Lab, *, personality: str | None = None, scenario: str = "healthy") -> Device:
    return next(d for d in lab.devices
                if d.scenario.name == scenario and (personality is None or d.personality.name == personality))


async def observe(device: Device) -> Observation:
    """A real TLS handshake with camscan's own probe; the chain exactly as presented."""
    with trio.fail_after(10):
        result = await probe(device.endpoint, ProbeSettings(http_facts=True, connect_timeout=2,
                                                            handshake_timeout=5))
    assert isinstance(result, Observation), result
    return result


def san_ips(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress)]


def client(device: Device, *, password: str | None = None, scheme: str = "https",
           auth: bool = True) -> httpx.AsyncClient:
    port = device.https_port if scheme == "https" else device.http_port
    credentials = httpx.DigestAuth(device.settings.username, password or device.settings.password)
    return httpx.AsyncClient(base_url=f"{scheme}://{device.ip}:{port}", verify=False,
                             auth=credentials if auth else None, timeout=5)
