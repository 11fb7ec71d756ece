"""Who answered: MAC, serial, vendor and model from cheap, unauthenticated sources.

Four sources, each optional and bounded, tried after a successful handshake:

1. The kernel's neighbour table. After the TCP connection to a host on the local segment the
   kernel holds its MAC: IPv4 from /proc/net/arp, IPv6 from `ip -6 neigh show` (iproute2; no
   netlink library is a dependency). Nothing is sent and no privilege is needed. Only the entry
   for the target address itself is used, so a routed device never gets its router's MAC.
2. The HTTP facts already captured: a Dahua Digest realm `DH_<MAC>` (device-protocols.md
   section 0) gives the MAC; a distinctive Server header gives the vendor (SERVER_VENDORS).
3. One unicast WS-Discovery Probe to <address>:3702/udp (device-protocols.md section 2): the
   ProbeMatches scopes give MAC, model (hardware), vendor (name) and serial when present.
4. The IEEE OUI of a known MAC (netaddr's bundled registry), when nothing better names the vendor.

Which source wins (first listed first):
  mac     neighbour table > WS-Discovery scope > Dahua realm
  serial  WS-Discovery scope
  vendor  Server header table > WS-Discovery name scope > OUI registry
  model   WS-Discovery hardware scope

Everything a device sends is hostile: XML goes through defusedxml, datagrams and strings are
bounded, and strings are kept as sent (trimmed, cut to MAX_FIELD): every output escapes them by
camscan.termtext's one policy, and the JSON report keeps them exact. The parsers are pure; the
trio edge (NeighbourTable, ws_discover, IdentityGatherer) is thin.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import Any

import trio

from camscan.model import DeviceIdentity, HTTPFacts, Observation
from camscan.scanner.idtext import MAX_FIELD, clean, normalize_mac
from camscan.scanner.wsdiscovery import (
    MATCHES_ACTION,
    PROBE_ACTION,
    WSD_MAX_DATAGRAM,
    WSD_PORT,
    DiscoveryFacts,
    parse_probe_matches,
    parse_scopes,
    probe_message,
    ws_discover,
)

__all__ = [
    "MATCHES_ACTION", "MAX_FIELD", "PROBE_ACTION", "WSD_MAX_DATAGRAM", "WSD_PORT", "DiscoveryFacts",
    "IdentityGatherer", "NeighbourTable", "clean", "merge", "normalize_mac", "oui_vendor",
    "parse_probe_matches", "parse_scopes", "probe_message", "ws_discover",
]

PROC_NET_ARP = "/proc/net/arp"
IP_NEIGH_TIMEOUT = 2.0
_ATF_COM = 0x2  # a completed ARP entry (linux/if_arp.h)

# Server headers that name a camera vendor on their own. Only exact product tokens, matched
# case-insensitively before any "/version"; generic embedded servers (GoAhead "Webs", Boa,
# uc-httpd, lighttpd, Apache, nginx) are shared by many vendors and deliberately absent.
# Dahua firmware sends no Server header at all (Greenbone's Dahua detection relies on that).
# Sources: "Hikvision-Webs": WhatWeb plugins/hikvision.rb; "DNVRS-Webs": intrigue-ident
# checks/http/hikvision.rb; "App-webs" and "DVRDVS-Webs": Hikvision's own firmware, as listed by
# several independent public fingerprint sets (camera scanners' Hikvision signatures).
SERVER_VENDORS: Mapping[str, str] = {
    "app-webs": "Hikvision",
    "dnvrs-webs": "Hikvision",
    "dvrdvs-webs": "Hikvision",
    "hikvision-webs": "Hikvision",
}

# MACs as devices write them: aa:bb:cc:dd:ee:ff, AA-BB-..., aabb.ccdd.eeff or 12 bare digits.
_DAHUA_REALM = re.compile(r'\brealm\s*=\s*"?DH_([0-9a-f]{12})(?![0-9a-f])', re.IGNORECASE)

# --- 1. the neighbour table -------------------------------------------------------------------


def parse_proc_net_arp(text: str) -> dict[str, str]:
    """/proc/net/arp -> {IPv4 address: MAC} for completed entries only."""
    table: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        try:
            flags = int(fields[2], 16)
        except ValueError:
            continue
        mac = normalize_mac(fields[3])
        if flags & _ATF_COM and mac:
            table[fields[0]] = mac
    return table


def parse_ip_neigh(text: str) -> dict[str, str]:
    """`ip neigh show` -> {address: MAC}; FAILED/INCOMPLETE entries have no lladdr and drop out."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields or "lladdr" not in fields:
            continue
        at = fields.index("lladdr")
        mac = normalize_mac(fields[at + 1]) if at + 1 < len(fields) else None
        if mac:
            table[_canonical(fields[0])] = mac
    return table


def _canonical(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return address


def has_neighbour(address: str) -> bool:
    """Whether a neighbour entry could exist: not loopback, unspecified or multicast."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_unspecified or ip.is_multicast)


class NeighbourTable:
    """The kernel's neighbour table, read at most every `min_interval` seconds per family.

    A sweep finishes many hosts a second; every lookup needs a read taken after that host's
    connection (the entry appears then), and waiters share one read instead of each parsing
    the whole table (up to gc_thresh3 = 1024 entries by default).
    """

    def __init__(self, *, min_interval: float = 0.05, arp_path: str = PROC_NET_ARP) -> None:
        self._min_interval = min_interval
        self._arp_path = arp_path
        self._tables: dict[int, tuple[float, dict[str, str]]] = {}
        self._locks = {4: trio.Lock(), 6: trio.Lock()}
        self._disabled: set[int] = set()

    async def mac_for(self, address: str, since: float) -> str | None:
        """The MAC of `address` from a table read at or after `since` (trio.current_time())."""
        if not has_neighbour(address):
            return None
        version = 6 if ":" in address else 4
        if version in self._disabled:
            return None
        read_at, table = self._tables.get(version, (-float("inf"), {}))
        if read_at < since:
            async with self._locks[version]:
                read_at, table = self._tables.get(version, (-float("inf"), {}))
                if read_at < since:  # nobody read it for us while we waited
                    await trio.sleep_until(read_at + self._min_interval)
                    read_at = trio.current_time()
                    loaded = await self._read(version)
                    if loaded is None:
                        self._disabled.add(version)
                        return None
                    table = loaded
                    self._tables[version] = (read_at, table)
        return table.get(_canonical(address))

    async def _read(self, version: int) -> dict[str, str] | None:
        if version == 4:
            try:
                with open(self._arp_path, encoding="ascii", errors="replace") as handle:
                    return parse_proc_net_arp(handle.read())  # procfs: memory, not disk
            except OSError:
                return None  # not Linux, or /proc not mounted: no MACs from here
        ip = shutil.which("ip")
        if ip is None:
            return None
        with trio.move_on_after(IP_NEIGH_TIMEOUT):
            try:
                done = await trio.run_process(
                    [ip, "-6", "neigh", "show"], capture_stdout=True, capture_stderr=True, check=False
                )
            except OSError:
                return None
            if done.returncode != 0:
                return None
            return parse_ip_neigh(done.stdout.decode("ascii", "replace"))
        return {}  # slow this once: try again on the next lookup


# --- 2. HTTP facts ----------------------------------------------------------------------------


def mac_from_www_authenticate(value: str | None) -> str | None:
    """Dahua's Digest realm is "DH_" + the MAC without separators."""
    if not value:
        return None
    match = _DAHUA_REALM.search(value[:4096])
    return normalize_mac(match.group(1)) if match else None


def vendor_from_server(value: str | None) -> str | None:
    """The vendor a Server header names (SERVER_VENDORS), or None when it is not distinctive."""
    if not value:
        return None
    product = value.split("/", 1)[0].strip().lower()
    return SERVER_VENDORS.get(product)


# --- 3. OUI, and putting it together (WS-Discovery: camscan.scanner.wsdiscovery) -------------


@lru_cache(maxsize=4096)
def oui_vendor(mac: str | None) -> str | None:
    """The IEEE registrant of the MAC's OUI; None for unknown or locally administered MACs."""
    import netaddr

    mac = normalize_mac(mac)
    if mac is None or int(mac[:2], 16) & 2:  # locally administered: random, nobody's OUI
        return None
    try:
        org: Any = netaddr.EUI(mac).oui.registration().org
    except (netaddr.NotRegisteredError, netaddr.AddrFormatError, IndexError, KeyError, ValueError):
        return None
    return clean(str(org)) if org else None


def merge(
    *,
    neighbour_mac: str | None = None,
    http: HTTPFacts | None = None,
    discovery: DiscoveryFacts | None = None,
) -> DeviceIdentity:
    """One identity from every source, by the precedence in the module docstring."""
    wsd = discovery or DiscoveryFacts()
    mac = (
        normalize_mac(neighbour_mac)
        or wsd.mac
        or mac_from_www_authenticate(http.www_authenticate if http else None)
    )
    vendor = vendor_from_server(http.server if http else None) or clean(wsd.vendor) or oui_vendor(mac)
    return DeviceIdentity(mac=mac, serial=clean(wsd.serial), vendor=vendor, model=clean(wsd.model))


class IdentityGatherer:
    """The identity of every observation in one sweep: one WS-Discovery probe per address.

    `pace` is awaited before each datagram, so the sweep's --rate covers it; the caller holds
    the per-host slot while gathering, so --per-host does too.
    """

    def __init__(
        self,
        *,
        ws_discovery: bool,
        ws_discovery_timeout: float,
        pace: Callable[[], Awaitable[None]],
        neighbours: NeighbourTable | None = None,
    ) -> None:
        self._ws_discovery = ws_discovery
        self._timeout = ws_discovery_timeout
        self._pace = pace
        self._neighbours = neighbours or NeighbourTable()
        self._discovered: dict[str, DiscoveryFacts | None] = {}
        self._pending: dict[str, trio.Event] = {}

    async def identity(self, obs: Observation, since: float) -> DeviceIdentity:
        """`since`: trio.current_time() once the TCP connection stood (the kernel knew the MAC)."""
        address = obs.endpoint.address
        discovery = await self._discover(address) if self._ws_discovery else None
        mac = await self._neighbours.mac_for(address, since)
        return merge(neighbour_mac=mac, http=obs.http, discovery=discovery)

    async def _discover(self, address: str) -> DiscoveryFacts | None:
        if address in self._discovered:
            return self._discovered[address]
        pending = self._pending.get(address)
        if pending is not None:  # another port of this host asked already: share its answer
            await pending.wait()
            return self._discovered.get(address)
        done = self._pending[address] = trio.Event()
        try:
            await self._pace()
            self._discovered[address] = await ws_discover(address, self._timeout)
        finally:
            del self._pending[address]
            done.set()
        return self._discovered.get(address)
