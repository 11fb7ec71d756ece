"""A site worker's allow-list: the ranges it may scan, which the central side cannot widen.

Pure: every requested target (address interval, host:port endpoint, host name) must lie inside
the worker's own `allow` targets, and every port inside its `ports` when it restricts them.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from camscan.errors import UsageError
from camscan.scanner.targets import TargetSet, address_text, parse_targets


class AllowList:
    def __init__(self, specs: Sequence[str], ports: Sequence[int] | None = None) -> None:
        if not specs:
            raise UsageError("the allow-list is empty: a worker scans nothing it is not allowed to")
        # Port 1 is a placeholder: only the addresses and names of the allow-list matter here.
        allowed = parse_targets(specs, ports=[1], allow_large=True)
        self.specs = tuple(specs)
        self._intervals = allowed.intervals
        self._starts = [(i.version, i.first) for i in self._intervals]
        self._names = {h.name.lower() for h in allowed.hostnames}
        self._names |= {e.server_name.lower() for e in allowed.explicit_endpoints if e.server_name}
        self._points = {(e.ip.version, int(e.ip)) for e in allowed.explicit_endpoints}
        self.ports = tuple(sorted(set(ports))) if ports else None

    def _covers(self, version: int, first: int, last: int) -> bool:
        if first == last and (version, first) in self._points:
            return True
        index = bisect.bisect_right(self._starts, (version, first)) - 1
        if index < 0:
            return False
        interval = self._intervals[index]
        return interval.version == version and interval.first <= first and last <= interval.last

    def allows(self, address: str, port: int, server_name: str | None = None) -> bool:
        """One endpoint (as a site's report lists it): its address or its name allowed, and its port."""
        import ipaddress

        if self.ports is not None and port not in self.ports:
            return False
        if server_name is not None and server_name.lower() in self._names:
            return True
        ip = ipaddress.ip_address(address)
        return self._covers(ip.version, int(ip), int(ip))

    def refusal(self, targets: TargetSet) -> str | None:
        """None when every target is allowed; else one line naming the first one that is not."""
        if self.ports is not None:
            outside = sorted(set(targets.ports) - set(self.ports))
            if outside:
                return f"port {outside[0]} is not among this worker's allowed ports"
        for interval in targets.intervals:
            if not self._covers(interval.version, interval.first, interval.last):
                first = address_text(interval.version, interval.first)
                last = address_text(interval.version, interval.last)
                shown = first if first == last else f"{first}-{last}"
                return f"{shown} is outside this worker's allow-list ({', '.join(self.specs)})"
        for endpoint in targets.explicit_endpoints:
            if endpoint.server_name is not None:
                if endpoint.server_name.lower() not in self._names:
                    return f"host name {endpoint.server_name} is not in this worker's allow-list"
                continue
            value = int(endpoint.ip)
            if not self._covers(endpoint.ip.version, value, value):
                return f"{endpoint.address} is outside this worker's allow-list ({', '.join(self.specs)})"
        for host in targets.hostnames:
            if host.name.lower() not in self._names:
                return f"host name {host.name} is not in this worker's allow-list"
        return None
