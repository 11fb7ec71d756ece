"""`camscan scan @devices.json`: the targets of a `camscan discover --json` document (pure).

Each device becomes address:port for every HTTPS port it announced (WS-Discovery XAddrs, SSDP
LOCATION, mDNS `_https._tcp`), or its bare address, scanned on --ports, when it announced none
(found by ARP alone, say).
"""

from __future__ import annotations

import ipaddress
import json

from camscan.errors import UsageError

FORMAT = "camscan-discover-1"


def device_targets(path_text: str, content: str) -> list[str]:
    try:
        document = json.loads(content)
    except ValueError as exc:
        raise UsageError(f"{path_text}: not a target list nor valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UsageError(f"{path_text}: a JSON target file must be `camscan discover --json` output")
    devices = document.get("devices")
    if not isinstance(devices, list):
        raise UsageError(f"{path_text}: 'devices' must be a list")
    specs: list[str] = []
    for number, device in enumerate(devices, start=1):
        try:
            address = ipaddress.ip_address(str(device["address"]))
            ports = device.get("https_ports", [])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UsageError(f"{path_text}: device #{number} has no IP address") from None
        if not isinstance(ports, list) or not all(
                isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65535 for p in ports):
            raise UsageError(f"{path_text}: device #{number}: https_ports must be port numbers (1-65535)")
        host = f"[{address}]" if address.version == 6 else str(address)
        specs.extend(f"{host}:{port}" for port in ports) if ports else specs.append(str(address))
    return specs
