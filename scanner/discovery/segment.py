"""`camscan discover`: who is on this segment, without a target list.

ONVIF WS-Discovery and SSDP multicast (announce.py), mDNS/DNS-SD (mdns.py) and an ARP sweep of
the interface's own subnet (arp.py, with CAP_NET_RAW) run together on one interface; their
answers are merged per address into one record: MAC, vendor, model, name, firmware where a
device announced them, its XAddrs and HTTPS ports, and which methods found it.

Which source wins: mac  ARP > WS-Discovery scope > mDNS macaddress; vendor  WS-Discovery name
scope > the MAC's OUI registrant; model  WS-Discovery hardware scope > SSDP SERVER product;
firmware  SSDP SERVER product version; name  mDNS instance name.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import socket
import struct
from array import array
from dataclasses import dataclass, field

import trio

from camscan.errors import UsageError
from camscan.scanner.discovery import announce, mdns
from camscan.scanner.discovery.pacer import Pacer
from camscan.scanner.discovery.plan import interface_mac, load_routes, own_addresses
from camscan.scanner.idtext import clean, normalize_mac
from camscan.scanner.wsdiscovery import DiscoveryFacts

METHODS = ("ws-discovery", "ssdp", "mdns", "arp")
MAX_ARP_ADDRESSES = 65_536


@dataclass
class Device:
    address: str
    mac: str | None = None
    vendor: str | None = None
    model: str | None = None
    name: str | None = None
    firmware: str | None = None
    serial: str | None = None
    xaddrs: list[str] = field(default_factory=list)
    https_ports: set[int] = field(default_factory=set)
    found_by: set[str] = field(default_factory=set)


@dataclass
class SegmentResult:
    interface: str
    address: str
    network: str
    started_at: dt.datetime
    finished_at: dt.datetime
    devices: list[Device]
    answered: dict[str, int]  # method -> addresses that answered it
    notes: list[str]


def _ioctl_address(iface: str, request: int) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), request, struct.pack("256s", iface.encode()[:15]))
        except OSError:
            return None
    value: int = struct.unpack("!I", answer[20:24])[0]
    return value


def choose_interface(name: str | None) -> tuple[str, int, int]:
    """(interface, its IPv4 address, prefix length): the named one, else the default route's,
    else the only interface with an IPv4 address besides loopback."""
    if name is None:
        routes = load_routes()
        default = [r.iface for r in routes if r.prefix == 0 and not r.reject and r.iface != "lo"]
        candidates = default[:1] or sorted({r.iface for r in routes if r.gateway is None and r.iface != "lo"
                                            and not r.reject})
        if len(candidates) != 1:
            raise UsageError("cannot choose an interface (" + (", ".join(candidates) or "none found")
                             + "): name one with --interface")
        name = candidates[0]
    address = _ioctl_address(name, 0x8915)  # SIOCGIFADDR
    mask = _ioctl_address(name, 0x891B)  # SIOCGIFNETMASK
    if address is None or mask is None:
        raise UsageError(f"interface {name!r} does not exist or has no IPv4 address")
    return name, address, bin(mask).count("1")


def _text(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))


async def discover_segment(
    interface: str | None, methods: tuple[str, ...], *, window: float, rate: float, retries: int,
) -> SegmentResult:
    from camscan.scanner.discovery.stage import privileged

    iface, own, prefix = choose_interface(interface)
    network = own & ((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF)
    size = 1 << (32 - prefix)
    notes: list[str] = []
    pacer = Pacer(rate)
    started = dt.datetime.now(dt.UTC)
    wsd: dict[str, DiscoveryFacts] = {}
    ssdp: dict[str, announce.SsdpAnswer] = {}
    services: list[mdns.MdnsService] = []
    arp_alive: dict[int, bytes] = {}
    do_arp = "arp" in methods
    if do_arp and not privileged():
        notes.append("ARP sweep skipped: it needs raw sockets (root or CAP_NET_RAW)")
        do_arp = False
    if do_arp and size > MAX_ARP_ADDRESSES:
        raise UsageError(f"{iface}'s subnet /{prefix} has more than {MAX_ARP_ADDRESSES:,} addresses: "
                         "leave arp out of --methods")

    async def run_wsd() -> None:
        wsd.update(await announce.ws_discovery(_text(own), window, pacer))

    async def run_ssdp() -> None:
        ssdp.update(await announce.ssdp(_text(own), window, pacer))

    async def run_mdns() -> None:
        found = await trio.to_thread.run_sync(mdns.browse, _text(own), window, abandon_on_cancel=True)
        services.extend(found)

    async def run_arp() -> None:
        from camscan.scanner.discovery.arp import arp_sweep

        mac = interface_mac(iface)
        if mac is None:
            notes.append(f"ARP sweep skipped: {iface} has no MAC address")
            return
        mine = own_addresses([iface])
        first, last = (network + 1, network + size - 2) if prefix < 31 else (network, network + size - 1)
        hosts = array("I", (a for a in range(first, last + 1) if a not in mine))
        found = await arp_sweep(iface, mac, own, hosts, pacer, retries=retries, wait=min(window, 1.0))
        arp_alive.update(found.alive)

    async with trio.open_nursery() as nursery:
        for method, runner in (("ws-discovery", run_wsd), ("ssdp", run_ssdp), ("mdns", run_mdns)):
            if method in methods:
                nursery.start_soon(runner)
        if do_arp:
            nursery.start_soon(run_arp)

    devices: dict[str, Device] = {}

    def device(address: str) -> Device:
        return devices.setdefault(address, Device(address))

    for value, raw_mac in arp_alive.items():
        record = device(_text(value))
        record.found_by.add("arp")
        record.mac = ":".join(f"{b:02x}" for b in raw_mac)
    for address, facts in wsd.items():
        record = device(address)
        record.found_by.add("ws-discovery")
        record.mac = record.mac or facts.mac
        record.vendor = clean(facts.vendor)
        record.model = clean(facts.model)
        record.serial = clean(facts.serial)
        record.xaddrs = [clean(x) or "" for x in facts.xaddrs]
        record.https_ports.update(p for p in map(announce.https_port, facts.xaddrs) if p)
    for address, answer in ssdp.items():
        record = device(address)
        record.found_by.add("ssdp")
        product, version = announce.server_product(answer.server)
        record.model = record.model or clean(product)
        record.firmware = record.firmware or clean(version)
        port = announce.https_port(answer.location or "")
        if port:
            record.https_ports.add(port)
    for service in services:
        record = device(service.address)
        record.found_by.add("mdns")
        record.name = record.name or clean(service.instance)
        record.mac = record.mac or normalize_mac(service.mac)
        if service.service_type.startswith("_https.") and service.port:
            record.https_ports.add(service.port)
    from camscan.scanner.identity import oui_vendor

    for record in devices.values():
        record.mac = normalize_mac(record.mac)
        record.vendor = record.vendor or oui_vendor(record.mac)
    answered = {
        "ws-discovery": len(wsd), "ssdp": len(ssdp), "mdns": len({s.address for s in services}),
        "arp": len(arp_alive),
    }
    ordered = sorted(devices.values(), key=lambda d: socket.inet_aton(d.address))
    return SegmentResult(iface, _text(own), f"{_text(network)}/{prefix}", started, dt.datetime.now(dt.UTC),
                         ordered, {m: answered[m] for m in methods}, notes)
