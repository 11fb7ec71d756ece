"""Lab cameras on a real LAN segment: run inside a network namespace a test harness created.

    ip netns exec NS python -m tests.support.lan_device --netns NS --interface 10.77.3.10 \
        --device 10.77.3.10:axis --https-port 443 [--mdns]

Starts the lab devices (camscan.lab) on the given addresses, their multicast WS-Discovery and
SSDP responders (camscan.lab.multicast) and, with --mdns, their mDNS/DNS-SD records (zeroconf),
prints one JSON line (the inventory) and runs until killed. It refuses to run outside the named
namespace: non-loopback lab addresses exist only inside namespaces a harness made.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import trio

from camscan.lab.fleet import DeviceSpec, Fleet, LabSettings
from camscan.lab.runner import Lab


class _Addresses:
    """Lab's address pool, handing out exactly the addresses given."""

    def __init__(self, addresses: list[str]) -> None:
        self._left = list(addresses)

    def allocate(self) -> str:
        return self._left.pop(0)


def inside(netns: str) -> bool:
    try:
        return os.stat(f"/run/netns/{netns}").st_ino == os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return False


def _register_mdns(devices: list[dict[str, object]], interface: str) -> object:
    import socket

    from zeroconf import ServiceInfo, Zeroconf

    zc = Zeroconf(interfaces=[interface])
    for item in devices:
        mac = str(item["mac"]).replace(":", "").upper()
        address = [socket.inet_aton(str(item["address"]))]
        label = f"{item['manufacturer']} {item['model']} - {mac}"
        services = [("_https._tcp.local.", int(str(item["https_port"])), {})]
        if item["personality"] == "axis":
            # Axis units announce their web interface as _axis-video._tcp with the MAC in TXT.
            services.append(("_axis-video._tcp.local.", 80, {"macaddress": mac}))
        for kind, port, properties in services:
            zc.register_service(ServiceInfo(kind, f"{label}.{kind}", addresses=address, port=port,
                                            server=f"cam-{mac.lower()}.local.", properties=properties))
    return zc


async def main(args: argparse.Namespace) -> None:
    addresses = [spec.split(":", 1)[0] for spec in args.device]
    personalities = [spec.split(":", 1)[1] if ":" in spec else "onvif" for spec in args.device]
    fleet = Fleet(
        LabSettings(block=f"{addresses[0]}/32", https_port=args.https_port,
                    http_port=args.http_port or None, ws_discovery=True),
        tuple(DeviceSpec(personality=p, scenario="healthy", group="lan") for p in personalities),
    )
    from camscan.lab import multicast

    with tempfile.TemporaryDirectory(prefix="camscan-lan-") as workdir:
        lab = Lab(fleet, Path(workdir))
        lab.pool = _Addresses(addresses)  # type: ignore[assignment]
        async with trio.open_nursery() as nursery:
            await lab.start(nursery)
            await lab.prewarm()
            nursery.start_soon(multicast.serve_ws_discovery, lab.devices, args.interface)
            nursery.start_soon(multicast.serve_ssdp, lab.devices, args.interface)
            inventory = lab.inventory()
            if args.mdns:
                await trio.to_thread.run_sync(_register_mdns, inventory, args.interface)
            print(json.dumps(inventory), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--netns", required=True)
    parser.add_argument("--interface", required=True, help="this namespace's address on the LAN")
    parser.add_argument("--device", action="append", required=True, metavar="ADDRESS[:PERSONALITY]")
    parser.add_argument("--https-port", type=int, default=443)
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--mdns", action="store_true")
    arguments = parser.parse_args()
    if not inside(arguments.netns):
        sys.exit(f"refusing to run: not inside network namespace {arguments.netns!r}")
    trio.run(main, arguments)
