"""Iterating targets writes each address exactly as ipaddress would (IPv4 takes a shortcut)."""

from __future__ import annotations

import ipaddress

from camscan.model import Endpoint
from camscan.scanner.targets import parse_targets


def text(address: str) -> str:
    return str(ipaddress.ip_address(address))


def test_addresses_read_as_ipaddress_writes_them() -> None:
    specs = ["127.0.0.0/30", "127.255.255.250-127.255.255.255", "::ffff:127.0.0.1", "::7f00:1", "::1"]
    targets = parse_targets(specs, ports=(443,))
    expected = [
        str(ipaddress.ip_address(n))
        for first, last in ((0x7F000001, 0x7F000002), (0x7FFFFFFA, 0x7FFFFFFF))
        for n in range(first, last + 1)
    ] + [str(ipaddress.IPv6Address(n)) for n in (1, 0x7F000001, 0xFFFF7F000001)]
    assert [e.address for e in targets] == expected
    # IPv6 keeps ipaddress's text where inet_ntop writes these two differently.
    assert expected[-2:] == ["::7f00:1", text("::ffff:127.0.0.1")]


def test_exclusions_see_the_same_text() -> None:
    targets = parse_targets(
        ["127.0.0.0/29", "::ffff:127.0.0.0/126"], ports=(443, 8443),
        exclude=["127.0.0.2", "127.0.0.5:8443", "[::ffff:127.0.0.2]:443", "::ffff:127.0.0.1"],
    )
    v6 = [text(f"::ffff:127.0.0.{n}") for n in range(4)]
    assert list(targets) == [
        Endpoint("127.0.0.1", 443), Endpoint("127.0.0.3", 443), Endpoint("127.0.0.4", 443),
        Endpoint("127.0.0.5", 443), Endpoint("127.0.0.6", 443),
        Endpoint(v6[0], 443), Endpoint(v6[3], 443),
        Endpoint("127.0.0.1", 8443), Endpoint("127.0.0.3", 8443), Endpoint("127.0.0.4", 8443),
        Endpoint("127.0.0.6", 8443),
        Endpoint(v6[0], 8443), Endpoint(v6[2], 8443), Endpoint(v6[3], 8443),
    ]
