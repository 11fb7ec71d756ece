"""Fixtures for the lab's tests: a fresh in-process lab per test, on ephemeral ports."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import trio
from cryptography import x509

from camscan.lab import Lab, default_fleet, open_lab
from camscan.lab.device import Device
from camscan.model import Observation
from camscan.scanner.tls_probe import ProbeSettings, probe
from tests.support import soapcheck


def private_block() -> str:
    """A random /24 of its own, away from the default block (127.77.0.0/16).

    A device that reboots gives up its address for the downtime; a `camscan lab` the developer
    left running, or another test run, allocating from the same block takes it, and the device
    can never come back (seen as a TooSlowError in test_lifecycle while another suite ran).
    """
    return f"127.{random.randrange(160, 200)}.{random.randrange(256)}.0/24"


@pytest.fixture(autouse=True)
def soap_answers_conform(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every SOAP answer the lab gives must validate against the official ONVIF schemas (these
    tests also send malformed requests on purpose, so only the answers are checked here)."""
    problems = soapcheck.install(monkeypatch, requests=False)
    yield
    assert problems == [], "lab SOAP answers that do not validate:\n" + "\n".join(problems[:20])


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    # Port 0: every device gets its own ephemeral ports, so parallel runs never collide.
    async with open_lab(default_fleet(), block=private_block(), https_port=0, http_port=0,
                        reboot_downtime=0.3) as running:
        yield running


async def wait_online(device: Device, *, boots_at_least: int = 0, timeout: float = 10) -> None:
    """Wait, bounded, until the device is back (and has booted that often); a failed reboot
    (device.errors) fails at once with its reason instead of running into the timeout."""
    with trio.fail_after(timeout):
        while device.boot_count < boots_at_least or not device.online:
            assert not device.errors, device.errors
            await trio.sleep(0.02)


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
