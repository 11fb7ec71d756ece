"""mDNS/DNS-SD browsing (RFC 6762, RFC 6763) with the zeroconf library, on one interface.

Browses the service types cameras announce (Axis: `_axis-video._tcp` with a `macaddress` TXT
key, per Axis' Bonjour support notes; many devices: `_https._tcp`, `_http._tcp`) for a bounded
window, then resolves each instance. zeroconf runs its own thread; the browse runs in a worker
thread the caller may abandon on Ctrl-C (zeroconf is closed in every case).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

SERVICE_TYPES = ("_axis-video._tcp.local.", "_https._tcp.local.", "_http._tcp.local.")
_MAX_INSTANCES = 4096


@dataclass(frozen=True)
class MdnsService:
    address: str
    service_type: str
    instance: str  # the instance label (before the service type), device-controlled
    port: int
    mac: str | None


def browse(interface: str, window: float) -> list[MdnsService]:
    from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

    zc = Zeroconf(interfaces=[interface])
    seen: set[tuple[str, str]] = set()
    try:

        def on_change(zeroconf: object, service_type: str, name: str,
                      state_change: ServiceStateChange) -> None:
            if state_change is ServiceStateChange.Added and len(seen) < _MAX_INSTANCES:
                seen.add((service_type, name))

        browser = ServiceBrowser(zc, list(SERVICE_TYPES), handlers=[on_change])
        time.sleep(window)
        browser.cancel()
        found: list[MdnsService] = []
        for service_type, name in sorted(seen):
            info = zc.get_service_info(service_type, name, timeout=1000)
            if info is None:
                continue
            instance = name[: -len(service_type) - 1] if name.endswith("." + service_type) else name
            raw_mac = (info.properties or {}).get(b"macaddress")
            mac = raw_mac.decode("ascii", "replace")[:64] if isinstance(raw_mac, bytes) else None
            for packed in info.addresses[:16]:
                if len(packed) == 4:
                    found.append(MdnsService(socket.inet_ntoa(packed), service_type, instance[:256],
                                             int(info.port or 0), mac))
        return found
    finally:
        zc.close()
