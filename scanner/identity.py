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
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import trio
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from camscan.model import DeviceIdentity, HTTPFacts, Observation

MAX_FIELD = 128  # longest identity string kept; serials and model names are far shorter
WSD_PORT = 3702
WSD_MAX_DATAGRAM = 65507
PROBE_ACTION = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
MATCHES_ACTION = "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches"
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
_MAC_SHAPES = re.compile(
    r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}|[0-9a-f]{12}",
    re.IGNORECASE,
)
# realm="DH_9002A9112233" (quoted or not) anywhere in the WWW-Authenticate value.
_DAHUA_REALM = re.compile(r'\brealm\s*=\s*"?DH_([0-9a-f]{12})(?![0-9a-f])', re.IGNORECASE)
_SCOPE_PREFIX = "onvif://www.onvif.org/"
_SCOPE_FIELDS = {
    "mac": "mac",
    "macaddress": "mac",
    "hardware": "model",
    "name": "vendor",
    "serialnumber": "serial",
    "serial": "serial",
}


def normalize_mac(text: str | None) -> str | None:
    """A unicast MAC as "aa:bb:cc:dd:ee:ff", or None for anything else (incl. all-zero, broadcast).

    Strict on purpose: netaddr.EUI would read "1" as 00:00:00:00:00:01.
    """
    if not text:
        return None
    text = text.strip()
    if len(text) > 17 or not _MAC_SHAPES.fullmatch(text):
        return None
    digits = re.sub(r"[^0-9a-f]", "", text.lower())
    if int(digits[:2], 16) & 1:  # group bit: broadcast or multicast, never a device's own
        return None
    if digits == "0" * 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def clean(text: str | None) -> str | None:
    """Device text as kept in an identity: trimmed and bounded, otherwise exact (outputs escape it)."""
    if text is None:
        return None
    text = text.strip()[:MAX_FIELD]
    return text or None


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


# --- 3. WS-Discovery --------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscoveryFacts:
    """What a device's ProbeMatch scopes said about it (raw device text, cleaned later)."""

    mac: str | None = None
    serial: str | None = None
    vendor: str | None = None
    model: str | None = None
    scopes: tuple[str, ...] = ()


def probe_message(message_id: str) -> bytes:
    """A WS-Discovery Probe without Types: it matches every target service (WS-Discovery 5.1),
    so an NVR that only advertises tds:Device answers as well as a camera."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
        "<s:Header>"
        f'<a:Action s:mustUnderstand="1">{PROBE_ACTION}</a:Action>'
        f"<a:MessageID>{escape(message_id)}</a:MessageID>"
        '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
        "</s:Header>"
        "<s:Body><d:Probe/></s:Body></s:Envelope>"
    ).encode()


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    return next((c for c in element if _local(c.tag) == name), None)


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def parse_scopes(scopes: str) -> DiscoveryFacts:
    """`onvif://www.onvif.org/<category>/<value>` scopes -> facts (values percent-decoded)."""
    found: dict[str, str] = {}
    listed = tuple(scopes.split())
    for scope in listed:
        if not scope.lower().startswith(_SCOPE_PREFIX):
            continue
        category, _, value = scope[len(_SCOPE_PREFIX) :].partition("/")
        field = _SCOPE_FIELDS.get(category.lower())
        value = unquote(value).strip()
        if field and value and field not in found:
            found[field] = value
    return DiscoveryFacts(
        mac=normalize_mac(found.get("mac")),
        serial=found.get("serial"),
        vendor=found.get("vendor"),
        model=found.get("model"),
        scopes=listed[:32],
    )


def parse_probe_matches(data: bytes, message_id: str) -> DiscoveryFacts | None:
    """The facts in a ProbeMatches answering `message_id`, or None for anything else.

    defusedxml refuses DTDs and entity tricks; a RelatesTo naming another probe is not ours.
    """
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        return None
    header, body = _child(root, "Header"), _child(root, "Body")
    if _local(root.tag) != "Envelope" or body is None:
        return None
    if _text(_child(header, "Action")) not in ("", MATCHES_ACTION):
        return None
    relates_to = _text(_child(header, "RelatesTo"))
    if relates_to and relates_to != message_id:
        return None
    match = _child(_child(body, "ProbeMatches"), "ProbeMatch")
    if match is None:
        return None
    return parse_scopes(_text(_child(match, "Scopes"))[:16384])


async def ws_discover(address: str, timeout: float) -> DiscoveryFacts | None:
    """One unicast Probe to address:3702; the first ProbeMatches answering it, within `timeout`.

    The socket is connected, so only the device's own address can answer, and a host with
    nothing on 3702 ends the wait at once (the ICMP port-unreachable surfaces as ECONNREFUSED).
    """
    message_id = f"urn:uuid:{uuid.uuid4()}"
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with trio.socket.socket(family, socket.SOCK_DGRAM) as sock, trio.move_on_after(timeout):
        try:
            await sock.connect((address, WSD_PORT))
            await sock.send(probe_message(message_id))
            while True:
                data = await sock.recv(WSD_MAX_DATAGRAM)
                facts = parse_probe_matches(data, message_id)
                if facts is not None:
                    return facts
        except OSError:
            return None
    return None


# --- 4. OUI, and putting it together ----------------------------------------------------------


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
