"""Which discovery method reaches each target, read from the kernel's IPv4 routing table (pure).

A target covered by a route without a gateway is on-link: it answers ARP on that route's
interface, and only there. A target reached through a gateway is routed: ARP would only ever
find the gateway, so it gets SYN discovery. A target under a reject route (`ip route add
unreachable ...`) or under no route at all is unreachable: nothing is sent to it. Loopback and
the machine's own addresses need no discovery (a connect there never waits).

/proc/net/route lists the main table (what `ip route` shows): destination, gateway and mask in
host byte order of the kernel, which on Linux is little-endian on every architecture camscan
runs on; the parser reads them with the byte order the file was written in. It does not list
the local table, where the machine's own addresses live, and with them whole blocks routed to
this host (`ip route add local 198.51.100.0/24 dev lo`, "AnyIP"): those come from
/proc/net/fib_trie, whose entries of type LOCAL are this host (a connect there never waits).
"""

from __future__ import annotations

import enum
import socket
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PROC_NET_ROUTE = "/proc/net/route"
PROC_FIB_TRIE = "/proc/net/fib_trie"
_RTF_UP = 0x0001
_RTF_GATEWAY = 0x0002
_RTF_REJECT = 0x0200


class Reach(enum.Enum):
    LOCAL = "local"  # loopback or one of our own addresses: swept without discovery
    ON_LINK = "on-link"  # ARP on `route.iface`
    ROUTED = "routed"  # through a gateway: SYN (or connect)
    UNREACHABLE = "unreachable"  # reject route or no route: nothing is sent


@dataclass(frozen=True)
class Route:
    network: int
    prefix: int
    iface: str
    gateway: int | None
    metric: int = 0
    reject: bool = False

    @property
    def mask(self) -> int:
        return (0xFFFFFFFF << (32 - self.prefix)) & 0xFFFFFFFF if self.prefix else 0

    def covers(self, address: int) -> bool:
        return address & self.mask == self.network

    @property
    def broadcast(self) -> int:
        return self.network | (~self.mask & 0xFFFFFFFF)


def _hex_address(text: str) -> int:
    """A /proc/net/route address field (native byte order) as a host integer."""
    raw = int(text, 16).to_bytes(4, sys.byteorder)
    value: int = struct.unpack("!I", raw)[0]
    return value


def parse_routes(text: str) -> list[Route]:
    """/proc/net/route -> routes that are up, most specific first (then lowest metric)."""
    routes: list[Route] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination, gateway, flags = _hex_address(fields[1]), _hex_address(fields[2]), int(fields[3], 16)
            metric, mask = int(fields[6]), _hex_address(fields[7])
        except ValueError:
            continue
        if not flags & _RTF_UP:
            continue
        prefix = bin(mask).count("1")
        routes.append(Route(
            network=destination & mask, prefix=prefix, iface=fields[0],
            gateway=gateway if flags & _RTF_GATEWAY else None, metric=metric,
            reject=bool(flags & _RTF_REJECT),
        ))
    routes.sort(key=lambda r: (-r.prefix, r.metric))
    return routes


def load_routes(path: str = PROC_NET_ROUTE) -> list[Route]:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return parse_routes(handle.read())
    except OSError:
        return []  # no /proc: every routed target falls back to connect discovery


def ipv4_int(text: str) -> int:
    value: int = struct.unpack("!I", socket.inet_aton(text))[0]
    return value


def parse_local_networks(text: str) -> tuple[tuple[int, int], ...]:
    """(network, prefix) of every LOCAL entry of /proc/net/fib_trie: "|-- ADDRESS" then
    "/PREFIX scope TYPE" lines under it."""
    found: set[tuple[int, int]] = set()
    address: int | None = None
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "|--":
            try:
                address = ipv4_int(words[1])
            except OSError:
                address = None
        elif address is not None and len(words) == 3 and words[0].startswith("/") and words[2] == "LOCAL":
            prefix = int(words[0][1:]) if words[0][1:].isdigit() else -1
            if 0 <= prefix <= 32:
                mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0
                found.add((address & mask, prefix))
    return tuple(sorted(found))


def load_local_networks(path: str = PROC_FIB_TRIE) -> tuple[tuple[int, int], ...]:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return parse_local_networks(handle.read())
    except OSError:
        return ()


@dataclass(frozen=True)
class Planner:
    routes: Sequence[Route]
    own: frozenset[int] = frozenset()  # this machine's own IPv4 addresses
    # Blocks of the local table (own addresses, AnyIP blocks): (network, prefix).
    local: tuple[tuple[int, int], ...] = ()

    def is_local(self, address: int) -> bool:
        for network, prefix in self.local:
            mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0
            if address & mask == network:
                return True
        return False

    def route_for(self, address: int) -> Route | None:
        for route in self.routes:  # most specific first: a handful of routes, linear is enough
            if route.covers(address):
                return route
        return None

    def reach(self, address: int) -> tuple[Reach, Route | None]:
        if address >> 24 == 127 or address in self.own or self.is_local(address):
            return Reach.LOCAL, None
        route = self.route_for(address)
        if route is None or route.reject:
            return Reach.UNREACHABLE, route
        if route.gateway is None:
            if route.iface == "lo":
                return Reach.LOCAL, route
            if route.prefix < 31 and address in (route.network, route.broadcast):
                # The network's own and broadcast addresses are no host: never ARP or SYN them.
                return Reach.UNREACHABLE, route
            return Reach.ON_LINK, route
        return Reach.ROUTED, route


def own_addresses(ifaces: Iterable[str]) -> frozenset[int]:
    """The IPv4 address of each named interface (SIOCGIFADDR); interfaces without one are skipped."""
    import fcntl

    found: set[int] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for iface in ifaces:
            request = struct.pack("256s", iface.encode()[:15])
            try:
                answer = fcntl.ioctl(sock.fileno(), 0x8915, request)  # SIOCGIFADDR
            except OSError:
                continue
            found.add(struct.unpack("!I", answer[20:24])[0])
    return frozenset(found)


def interface_mac(iface: str) -> bytes | None:
    """The interface's hardware address (SIOCGIFHWADDR), or None for an interface without one."""
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), 0x8927, struct.pack("256s", iface.encode()[:15]))
        except OSError:
            return None
    mac = answer[18:24]
    return mac if any(mac) else None


def source_for(address: int) -> int | None:
    """The source address the kernel would use toward `address` (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((socket.inet_ntoa(address.to_bytes(4, "big")), 9))
        except OSError:
            return None
        return ipv4_int(sock.getsockname()[0])
