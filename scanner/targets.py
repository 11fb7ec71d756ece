"""Target and port parsing: CIDR, single addresses, ranges, host names, host:port, @files.

Everything is validated when parsed (one clear UsageError naming the bad value), but addresses
are only produced when iterated: a /16 is kept as one interval, never as 65,536 objects.
Host names are kept apart and resolved at sweep time (camscan.scanner.sweep), with SNI.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from camscan.errors import UsageError
from camscan.model import Endpoint

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# HTTPS ports common on IP cameras and NVRs: 443 and 8443 everywhere; 4443 and 7443 (UniFi
# Protect NVR, several OEM firmwares), 9443 (some NVR management UIs).
CAMERA_PORTS: tuple[int, ...] = (443, 4443, 7443, 8443, 9443)
# Video-management servers add (Milestone XProtect, see docs/readme/scanner.md for sources):
# 7563 recording server image server (TLS when encryption is on), 8082 mobile server HTTPS.
VMS_PORTS: tuple[int, ...] = (*CAMERA_PORTS, 7563, 8082)
PORT_PRESETS: dict[str, tuple[int, ...]] = {"cameras": CAMERA_PORTS, "vms": VMS_PORTS}

# More addresses than a /16 need --allow-large: a typo such as /8 for /28 must not start a
# sweep of 16 million addresses.
LARGE_LIMIT = 65_536

_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_MAX_FILE_DEPTH = 4


def parse_ports(spec: str) -> tuple[int, ...]:
    """`443,8443`, `8000-8010`, `cameras`, `vms`, or a mix; sorted, without duplicates."""
    ports: set[int] = set()
    if not spec.strip():
        raise UsageError("empty port list (try -p 443,8443 or -p cameras)")
    for raw in spec.split(","):
        token = raw.strip().lower()
        if not token:
            raise UsageError(f"empty entry in port list {spec!r}")
        if token in PORT_PRESETS:
            ports.update(PORT_PRESETS[token])
            continue
        low_s, dash, high_s = token.partition("-")
        low = _port_number(low_s, spec)
        high = _port_number(high_s, spec) if dash else low
        if high < low:
            raise UsageError(f"port range {token!r} runs backwards")
        ports.update(range(low, high + 1))
    return tuple(sorted(ports))


def _port_number(text: str, spec: str) -> int:
    text = text.strip()
    if not text.isdigit():
        raise UsageError(
            f"bad port {text!r} in {spec!r} (numbers 1-65535, ranges a-b, or presets "
            f"{', '.join(PORT_PRESETS)})"
        )
    value = int(text)
    if not 1 <= value <= 65535:
        raise UsageError(f"port {value} is out of range 1-65535")
    return value


@dataclass(frozen=True, order=True)
class _Interval:
    """An inclusive range of addresses of one IP version, as integers."""

    version: int
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class HostName:
    """A host-name target: resolved at sweep time; SNI and name matching use `name`."""

    name: str
    ports: tuple[int, ...]


@dataclass
class _Parsed:
    intervals: list[_Interval] = field(default_factory=list)
    endpoints: set[Endpoint] = field(default_factory=set)  # explicit host:port with an IP
    names: dict[str, set[int]] = field(default_factory=dict)
    # Exclusions take a CIDR whole: `--exclude 10.1.0.0/16` inside a /8 target must skip
    # 10.1.0.0 and 10.1.255.255 too (they are hosts of the /8).
    whole_networks: bool = False


def _merge(intervals: Iterable[_Interval]) -> list[_Interval]:
    merged: list[_Interval] = []
    for item in sorted(intervals):
        if merged and merged[-1].version == item.version and item.first <= merged[-1].last + 1:
            last = merged[-1]
            merged[-1] = _Interval(last.version, last.first, max(last.last, item.last))
        else:
            merged.append(item)
    return merged


class TargetSet:
    """The parsed, validated targets: iterating yields `Endpoint`s for address targets lazily.

    Host-name targets are in `hostnames`; the sweep resolves them (trio's getaddrinfo) and
    probes each address with SNI = the name. `Exclusions` apply to both.
    """

    def __init__(
        self,
        intervals: Sequence[_Interval],
        endpoints: Iterable[Endpoint],
        hostnames: Sequence[HostName],
        ports: tuple[int, ...],
        exclusions: Exclusions,
    ) -> None:
        self._intervals = tuple(intervals)  # merged and sorted by parse_targets
        self.ports = ports
        # `192.0.2.5:8443` next to `192.0.2.0/24 -p 8443` names an endpoint the range already
        # yields: probing it twice would list it twice in every report.
        starts = [(i.version, i.first) for i in self._intervals]
        self._endpoints = tuple(
            sorted((e for e in endpoints if not self._in_ranges(e, starts)), key=lambda e: e.sort_key)
        )
        self.hostnames = tuple(hostnames)
        self.exclusions = exclusions

    def _in_ranges(self, endpoint: Endpoint, starts: list[tuple[int, int]]) -> bool:
        if endpoint.server_name is not None or endpoint.port not in self.ports:
            return False
        version, value = endpoint.ip.version, int(endpoint.ip)
        index = bisect.bisect_right(starts, (version, value)) - 1
        if index < 0:
            return False
        interval = self._intervals[index]
        return interval.version == version and value <= interval.last

    @property
    def intervals(self) -> tuple[_Interval, ...]:
        """The address targets: merged, sorted intervals (version, first, last)."""
        return self._intervals

    @property
    def explicit_endpoints(self) -> tuple[Endpoint, ...]:
        """host:port targets no interval covers, sorted (exclusions not yet applied)."""
        return self._endpoints

    @property
    def address_count(self) -> int:
        return sum(i.size for i in self._intervals)

    def estimated_size(self) -> int:
        """Endpoints to probe, before exclusions (for a progress bar's total)."""
        return (
            self.address_count * len(self.ports)
            + len(self._endpoints)
            + sum(len(h.ports) for h in self.hostnames)
        )

    def __iter__(self) -> Iterator[Endpoint]:
        # Port-major order spreads consecutive probes over many hosts, so per-host limits
        # rarely make a worker wait.
        # Addresses are made as text straight from their numbers: an ipaddress object per
        # address cost more than the sweep's own connect() on a /16 of refusals.
        exclusions = self.exclusions if self.exclusions else None
        for port in self.ports:
            for interval in self._intervals:
                version = interval.version
                for value in range(interval.first, interval.last + 1):
                    text = address_text(version, value)
                    if exclusions is None or not exclusions.excludes_parts(version, value, text, port):
                        yield Endpoint(text, port)
        for endpoint in self._endpoints:
            if not self.exclusions.excludes(endpoint):
                yield endpoint


def address_text(version: int, value: int) -> str:
    """str(ipaddress.ip_address(value)), quicker for IPv4 (inet_ntoa writes the same dotted quad)."""
    if version == 4:
        return socket.inet_ntoa(value.to_bytes(4, "big"))
    # IPv6 keeps ipaddress's text: inet_ntop writes some forms (::1.2.3.4) differently.
    return str(ipaddress.IPv6Address(value))


class Exclusions:
    """--exclude: networks, ranges and addresses (any port), host:port, and host names."""

    def __init__(self, parsed: _Parsed) -> None:
        merged = _merge(parsed.intervals)
        self._starts = [(i.version, i.first) for i in merged]
        self._intervals = merged
        self._endpoints = {(e.address, e.port) for e in parsed.endpoints}
        self._names = {name: ports for name, ports in parsed.names.items()}

    def __bool__(self) -> bool:
        return bool(self._intervals or self._endpoints or self._names)

    @property
    def intervals(self) -> list[_Interval]:
        """Excluded addresses (every port): merged, sorted intervals."""
        return self._intervals

    def points_on(self, port: int) -> list[tuple[int, int]]:
        """(version, value) of each address excluded on `port` alone (host:port exclusions)."""
        points: list[tuple[int, int]] = []
        for text, excluded_port in self._endpoints:
            if excluded_port == port:
                address = ipaddress.ip_address(text)
                points.append((address.version, int(address)))
        return points

    def excludes_address(self, address: IPAddress, port: int) -> bool:
        return self.excludes_parts(address.version, int(address), str(address), port)

    def excludes_parts(self, version: int, value: int, text: str, port: int) -> bool:
        """excludes_address for an address given as its version, number and str() text."""
        if (text, port) in self._endpoints:
            return True
        index = bisect.bisect_right(self._starts, (version, value)) - 1
        if index >= 0:
            interval = self._intervals[index]
            return interval.version == version and value <= interval.last
        return False

    def excludes(self, endpoint: Endpoint) -> bool:
        if endpoint.server_name is not None:
            if self.excludes_name(endpoint.server_name, endpoint.port):
                return True
        return self.excludes_address(endpoint.ip, endpoint.port)

    def excludes_name(self, name: str, port: int) -> bool:
        ports = self._names.get(name.lower().rstrip("."))
        return ports is not None and (0 in ports or port in ports)


def parse_targets(
    specs: Iterable[str],
    *,
    ports: Sequence[int],
    exclude: Iterable[str] = (),
    allow_large: bool = False,
) -> TargetSet:
    """Validate every target spec now; return a TargetSet that expands lazily when iterated."""
    port_tuple = tuple(sorted(set(ports)))
    if not port_tuple:
        raise UsageError("no ports to scan")
    for port in port_tuple:
        if not 1 <= port <= 65535:
            raise UsageError(f"port {port} is out of range 1-65535")
    included = _Parsed()
    for spec in specs:
        _parse_spec(spec, included, depth=0)
    excluded = _Parsed(whole_networks=True)
    for spec in exclude:
        _parse_spec(spec, excluded, depth=0)
    intervals = _merge(included.intervals)
    if not intervals and not included.endpoints and not included.names:
        raise UsageError("no targets given (addresses, CIDR, ranges, host names or @file)")
    total = sum(i.size for i in intervals)
    if total > LARGE_LIMIT and not allow_large:
        raise UsageError(
            f"targets cover {total:,} addresses, more than a /16 ({LARGE_LIMIT:,}); "
            "pass --allow-large if you mean it"
        )
    hostnames = [
        HostName(name, tuple(sorted((extra - {0}) | (set(port_tuple) if 0 in extra else set()))))
        for name, extra in sorted(included.names.items())
    ]
    return TargetSet(intervals, included.endpoints, hostnames, port_tuple, Exclusions(excluded))


def _parse_spec(spec: str, into: _Parsed, *, depth: int) -> None:
    text = spec.strip()
    if not text:
        raise UsageError("empty target")
    if text.startswith("@"):
        _parse_file(text[1:], into, depth=depth)
        return
    if "/" in text:
        into.intervals.append(_parse_cidr(text, hosts_only=not into.whole_networks))
        return
    if "-" in text and _try_address(text.partition("-")[0].strip()) is not None:
        into.intervals.append(_parse_range(text))
        return
    host, port = _split_host_port(text)
    address = _try_address(host)
    if address is not None:
        if port is None:
            into.intervals.append(_Interval(address.version, int(address), int(address)))
        else:
            into.endpoints.add(Endpoint(str(address), port))
        return
    name = _parse_hostname(host, spec)
    # 0 stands for "the --ports list" (a bare name); explicit ports are kept as given.
    into.names.setdefault(name, set()).add(port if port is not None else 0)


def _parse_file(path_text: str, into: _Parsed, *, depth: int) -> None:
    if not path_text:
        raise UsageError("'@' must be followed by a file name (@targets.txt)")
    if depth >= _MAX_FILE_DEPTH:
        raise UsageError(f"target files nest deeper than {_MAX_FILE_DEPTH} levels at @{path_text}")
    try:
        content = Path(path_text).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise UsageError(f"cannot read target file {path_text!r}: {reason}") from exc
    if content.lstrip().startswith("{"):
        # `camscan discover --json` output: scan exactly what was discovered.
        from camscan.scanner.discovery.devices_file import device_targets

        for spec in device_targets(path_text, content):
            _parse_spec(spec, into, depth=depth + 1)
        return
    for number, line in enumerate(content.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        for token in entry.split():
            try:
                _parse_spec(token, into, depth=depth + 1)
            except UsageError as exc:
                raise UsageError(f"{path_text}:{number}: {exc}") from exc


def _parse_cidr(text: str, *, hosts_only: bool = True) -> _Interval:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise UsageError(f"malformed CIDR {text!r}: {exc}") from exc
    first, last = int(network.network_address), int(network.broadcast_address)
    # The network and broadcast addresses of an IPv4 subnet are not hosts (as ipaddress.hosts()).
    if hosts_only and network.version == 4 and network.prefixlen < 31:
        first, last = first + 1, last - 1
    return _Interval(network.version, first, last)


def _parse_range(text: str) -> _Interval:
    low_text, _, high_text = text.partition("-")
    low = _try_address(low_text.strip())
    if low is None:
        raise UsageError(f"malformed range {text!r}: {low_text.strip()!r} is not an IP address")
    high_text = high_text.strip()
    high = _try_address(high_text)
    if high is None and low.version == 4 and high_text.isdigit() and int(high_text) <= 255:
        # 10.0.1.10-40: the short form replaces the last octet.
        high = ipaddress.IPv4Address((int(low) & ~0xFF) | int(high_text))
    if high is None:
        raise UsageError(f"malformed range {text!r}: {high_text!r} is not an IP address")
    if high.version != low.version:
        raise UsageError(f"range {text!r} mixes IPv4 and IPv6")
    if int(high) < int(low):
        raise UsageError(f"range {text!r} runs backwards")
    return _Interval(low.version, int(low), int(high))


def _split_host_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise UsageError(f"malformed target {text!r}: missing ']'")
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise UsageError(f"malformed target {text!r}: expected [address]:port")
        return host, _port_number(rest[1:], text)
    if text.count(":") == 1:
        host, _, port_text = text.partition(":")
        return host, _port_number(port_text, text)
    return text, None


def _try_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _parse_hostname(host: str, spec: str) -> str:
    name = host.rstrip(".").lower()
    labels = name.split(".")
    if (
        not name
        or len(name) > 253
        or not all(_HOSTNAME_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()  # 10.0.0.300 is a bad address, not a host name
    ):
        raise UsageError(f"not a valid target {spec!r} (expected an address, CIDR, range or host name)")
    return name
