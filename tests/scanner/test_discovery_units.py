"""The pure parts of host discovery: route planning, packet templates, reply parsing, pacing,
options, and the report's discovery section (the packet paths run in test_discovery_netns.py)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import struct
from pathlib import Path

import jsonschema
import pytest
import trio
import trio.testing
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import ARP, Ether

from camscan.cli import main
from camscan.errors import UsageError
from camscan.model import (
    AuditResult,
    DiscoveryMethodStats,
    DiscoverySummary,
    Endpoint,
    FailureKind,
    ProbeFailure,
    ProbeStage,
    ScanParameters,
    ScanResult,
)
from camscan.reports.json_report import build_document, iter_json, load_schema
from camscan.scanner.discovery import arp, syn
from camscan.scanner.discovery.pacer import Pacer
from camscan.scanner.discovery.plan import Planner, Reach, ipv4_int, parse_local_networks, parse_routes
from camscan.scanner.sweep import SweepOptions

# /proc/net/route as Linux writes it (little-endian hex): 10.77.0.0/16 on eth0 (on-link),
# 10.78.0.0/16 via 10.77.255.254, a reject route for 10.79.0.0/16, no default route.
PROC_NET_ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00004D0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t00004E0A\tFEFF4D0A\t0003\t0\t0\t0\t0000FFFF\t0\t0\t0
*\t00004F0A\t00000000\t0201\t0\t0\t0\t0000FFFF\t0\t0\t0
eth1\t00000000\t00000000\t0000\t0\t0\t0\t00000000\t0\t0\t0
"""


def planner() -> Planner:
    return Planner(parse_routes(PROC_NET_ROUTE), own=frozenset({ipv4_int("10.77.0.1")}))


@pytest.mark.parametrize(
    ("address", "reach", "iface"),
    [
        ("10.77.3.10", Reach.ON_LINK, "eth0"),
        ("10.78.5.5", Reach.ROUTED, "eth0"),
        ("10.79.1.1", Reach.UNREACHABLE, "*"),  # reject route: nothing is sent
        ("192.0.2.1", Reach.UNREACHABLE, None),  # no route (the down default route does not count)
        ("127.0.0.1", Reach.LOCAL, None),
        ("10.77.0.1", Reach.LOCAL, None),  # our own address
        ("10.77.255.255", Reach.UNREACHABLE, "eth0"),  # the on-link broadcast address: never probed
        ("10.77.0.0", Reach.UNREACHABLE, "eth0"),
    ],
)
def test_the_routing_table_picks_each_targets_method(address: str, reach: Reach, iface: str | None) -> None:
    found, route = planner().reach(ipv4_int(address))
    assert found is reach
    assert (route.iface if route else None) == iface


# /proc/net/fib_trie of a namespace with `ip route add local 198.51.100.0/24 dev lo` (an AnyIP
# block: this host answers for all of it) beside its loopback. Found when site workers in such
# namespaces reported nothing: /proc/net/route does not list the local table.
FIB_TRIE = """\
Local:
  +-- 0.0.0.0/0 2 0 2
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     |-- 198.51.100.0
        /24 host LOCAL
"""


def test_blocks_of_the_local_table_are_this_host() -> None:
    local = parse_local_networks(FIB_TRIE)
    assert (ipv4_int("198.51.100.0"), 24) in local
    assert all(prefix != 32 or network != ipv4_int("127.255.255.255") for network, prefix in local)
    routes = parse_routes(PROC_NET_ROUTE.replace("00000000\t00000000\t0000\t", "00000000\t0101A8C0\t0003\t"))
    planner = Planner(routes, local=local)
    assert planner.reach(ipv4_int("198.51.100.7"))[0] is Reach.LOCAL  # not "routed" via the default
    assert planner.reach(ipv4_int("198.51.101.7"))[0] is not Reach.LOCAL


def test_routes_are_read_most_specific_first() -> None:
    routes = parse_routes(PROC_NET_ROUTE)
    gateway = ipv4_int("10.77.255.254")
    assert [(r.prefix, r.gateway) for r in routes] == [(16, None), (16, gateway), (16, None)]
    assert routes[2].reject


def test_the_syn_template_patched_per_packet_has_scapys_checksum() -> None:
    src, dst = ipv4_int("10.77.0.1"), ipv4_int("10.78.5.5")
    builder = syn.SynBuilder(syn.syn_template(40000), src, b"k" * 16)
    for port in (443, 8443, 65535):
        raw = bytes(builder.packet(dst, port))
        segment = TCP(raw)
        assert (segment.sport, segment.dport, segment.flags, segment.seq) == (
            40000, port, "S", builder.cookie(dst, port))
        # scapy computes the checksum itself when the field is left unset.
        reference = IP(src="10.77.0.1", dst="10.78.5.5") / TCP(raw)
        reference[TCP].chksum = None
        rebuilt = IP(bytes(reference))
        assert rebuilt[TCP].chksum == segment.chksum, port


def test_a_reply_is_ours_only_with_the_cookie_plus_one() -> None:
    dst = ipv4_int("10.78.5.5")
    builder = syn.SynBuilder(syn.syn_template(40000), ipv4_int("10.77.0.1"), b"s" * 16)
    cookie = builder.cookie(dst, 8443)
    synack = bytes(IP(src="10.78.5.5", dst="10.77.0.1") / TCP(sport=8443, dport=40000, flags="SA",
                                                              seq=7, ack=(cookie + 1) & 0xFFFFFFFF))
    parsed = syn.parse_reply(synack, 40000)
    assert parsed is not None
    address, port, ack, flags = parsed
    assert (address, port, (ack - 1) & 0xFFFFFFFF, flags) == (dst, 8443, cookie, 0x12)
    assert builder.cookie(dst, 443) != cookie  # another port: the same ack does not match
    other_port = bytes(IP(src="10.78.5.5", dst="10.77.0.1") / TCP(sport=8443, dport=40001, flags="R"))
    assert syn.parse_reply(other_port, 40000) is None


def test_the_arp_request_asks_only_for_the_patched_target() -> None:
    frame = arp.request_template(bytes.fromhex("020000000001"), ipv4_int("10.77.0.1"))
    struct.pack_into("!I", frame, 38, ipv4_int("10.77.3.10"))
    parsed = Ether(bytes(frame))
    assert parsed.dst == "ff:ff:ff:ff:ff:ff" and parsed.src == "02:00:00:00:00:01"
    assert (parsed[ARP].op, parsed[ARP].psrc, parsed[ARP].pdst) == (1, "10.77.0.1", "10.77.3.10")


def test_only_arp_replies_count() -> None:
    reply = bytes(Ether(src="00:40:8c:00:00:01", dst="02:00:00:00:00:01") / ARP(
        op=2, hwsrc="00:40:8c:00:00:01", psrc="10.77.3.10", hwdst="02:00:00:00:00:01", pdst="10.77.0.1"))
    assert arp.parse_reply(reply) == (ipv4_int("10.77.3.10"), bytes.fromhex("00408c000001"))
    request = bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc="10.77.3.10", pdst="10.77.0.1"))
    assert arp.parse_reply(request) is None
    assert arp.parse_reply(reply[:30]) is None


async def test_the_pacer_never_exceeds_its_rate(autojump_clock: trio.testing.MockClock) -> None:
    pacer = Pacer(1000)
    granted = 0
    start = trio.current_time()
    while trio.current_time() - start < 3.0:
        granted += await pacer.take(64)
    elapsed = trio.current_time() - start
    assert granted <= 1000 * elapsed + 10  # the bucket holds at most 10 ms of tokens
    assert granted >= 1000 * (elapsed - 0.1)


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"discovery": "ping"}, "--discovery must be"),
        ({"discovery_rate": 0}, "--discovery-rate"),
        ({"discovery_retries": 11}, "--discovery-retries"),
        ({"discovery_wait": 0}, "--discovery-wait"),
    ],
)
def test_bad_discovery_settings_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        SweepOptions(**changes)  # type: ignore[arg-type]


def test_a_bad_discovery_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["127.0.0.1", "--discovery", "icmp"])
    assert exited.value.code == 2
    assert "invalid choice: 'icmp'" in capsys.readouterr().err


def _audit_with_discovery() -> AuditResult:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    summary = DiscoverySummary(
        requested="auto", privileged=True, rate=10000.0, retries=1,
        methods=(DiscoveryMethodStats("arp", 254, 1, 507, 1.5),
                 DiscoveryMethodStats("syn", 254, 1, 1524, 1.3)),
        found_by={"10.77.3.10": "arp", "10.78.5.5": "syn"}, macs={"10.77.3.10": "00:40:8c:00:00:01"},
        unreachable=2, notes=("a note",),
    )
    failures = (
        ProbeFailure(Endpoint("10.77.3.10", 443), ProbeStage.CONNECT, FailureKind.REFUSED, "refused", at),
        ProbeFailure(Endpoint("10.78.5.5", 4443), ProbeStage.CONNECT, FailureKind.TIMEOUT,
                     "filtered: no answer (discovery: syn)", at),
        ProbeFailure(Endpoint("127.0.0.1", 443), ProbeStage.CONNECT, FailureKind.REFUSED, "refused", at),
    )
    scan = ScanResult(ScanParameters(targets=("10.77.3.0/24",), ports=(443, 4443)), at, at, (), failures,
                      discovery=summary)
    return AuditResult(scan, (), at)


def test_the_discovery_section_follows_the_schema_and_streams_as_built() -> None:
    audit = _audit_with_discovery()
    document = build_document(audit)
    jsonschema.validate(document, load_schema())
    assert json.loads("".join(iter_json(audit))) == document
    assert document["discovery"] == {
        "requested": "auto", "privileged": True, "rate": 10000.0, "retries": 1, "addresses": 510,
        "answered": 2, "unreachable": 2,
        "methods": [
            {"method": "arp", "addresses": 254, "alive": 1, "packets": 507, "seconds": 1.5},
            {"method": "syn", "addresses": 254, "alive": 1, "packets": 1524, "seconds": 1.3},
        ],
        "notes": ["a note"],
    }
    assert [(e["address"], e["found_by"]) for e in document["endpoints"]] == [
        ("10.77.3.10", "arp"), ("10.78.5.5", "syn"), ("127.0.0.1", "none")]


def test_privilege_probe_matches_a_raw_socket() -> None:
    from camscan.scanner.discovery.stage import privileged

    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP).close()
        expected = True
    except PermissionError:
        expected = False
    assert privileged() is expected


def test_ssdp_answers_are_parsed_by_the_device_architecture() -> None:
    from camscan.scanner.discovery.announce import https_port, parse_ssdp, server_product

    answer = parse_ssdp(b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: https://10.0.0.9:8443/d.xml\r\n"
                        b"SERVER: Linux/4.9 UPnP/2.0 AXIS-M1065/9.80.1\r\nST: upnp:rootdevice\r\n"
                        b"USN: uuid:1::upnp:rootdevice\r\n\r\n")
    assert answer is not None
    assert server_product(answer.server) == ("AXIS-M1065", "9.80.1")
    assert https_port(answer.location or "") == 8443
    assert https_port("https://[2001:db8::1]/x") == 443 and https_port("http://10.0.0.9/x") is None
    assert parse_ssdp(b"M-SEARCH * HTTP/1.1\r\n\r\n") is None
    assert server_product("just a banner") == (None, None)


def test_the_lab_answers_only_a_camera_m_search() -> None:
    from camscan.lab.multicast import msearch_target
    from camscan.scanner.discovery.announce import msearch

    assert msearch_target(msearch()) == ("upnp:rootdevice", 2.0)
    assert msearch_target(msearch().replace(b"upnp:rootdevice", b"urn:x:printer:1")) is None
    assert msearch_target(b"NOTIFY * HTTP/1.1\r\n\r\n") is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"format": "camscan-discover-1", "devices": [{"address": "10.0.0.9", "https_ports": [443, 8443]},'
         ' {"address": "2001:db8::7", "https_ports": [443]}, {"address": "10.0.0.10", "https_ports": []}]}',
         ["10.0.0.9:443", "10.0.0.9:8443", "[2001:db8::7]:443", "10.0.0.10"]),
    ],
)
def test_a_devices_file_names_exactly_the_discovered_endpoints(content: str, expected: list[str]) -> None:
    from camscan.scanner.discovery.devices_file import device_targets

    assert device_targets("devices.json", content) == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a target list nor valid JSON"),
        ('{"format": "other"}', "must be `camscan discover --json` output"),
        ('{"format": "camscan-discover-1", "devices": [{"address": "cam1"}]}', "device #1 has no IP address"),
        ('{"format": "camscan-discover-1", "devices": [{"address": "10.0.0.1", "https_ports": [0]}]}',
         "https_ports must be port numbers"),
    ],
)
def test_a_bad_devices_file_is_a_usage_error(tmp_path: Path, content: str, message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "devices.json"
    bad.write_text(content)
    assert main([f"@{bad}", "--offline", "-q"]) == 2
    assert message in capsys.readouterr().err


def test_a_report_reads_back_its_discovery_and_shards_merge_it(tmp_path: Path) -> None:
    import dataclasses

    from camscan.reports.json_load import load_report
    from camscan.reports.json_report import write_json
    from camscan.reports.merge import combine

    first = _audit_with_discovery()
    summary = first.scan.discovery
    assert summary is not None
    at = first.scan.started_at
    other = DiscoverySummary(
        requested="auto", privileged=True, rate=10000.0, retries=1,
        methods=(DiscoveryMethodStats("arp", 254, 2, 500, 2.5),), found_by={"10.77.4.1": "arp"},
        unreachable=1, notes=("a note", "another"),
    )
    second = AuditResult(dataclasses.replace(first.scan, failures=(
        ProbeFailure(Endpoint("10.77.4.1", 443), ProbeStage.CONNECT, FailureKind.REFUSED, "refused", at),
    ), discovery=other), (), at)
    paths = [tmp_path / "one.json", tmp_path / "two.json"]
    for audit, path in zip((first, second), paths, strict=True):
        write_json(audit, str(path))
    loaded = [load_report(path) for path in paths]
    read_back = loaded[0].audit.scan.discovery
    assert read_back is not None
    assert (read_back.methods, read_back.unreachable, read_back.notes) == (
        summary.methods, summary.unreachable, summary.notes)
    assert dict(read_back.found_by) == {"10.77.3.10": "arp", "10.78.5.5": "syn"}
    merged = combine(loaded).discovery
    assert merged is not None
    assert [(m.method, m.addresses, m.alive, m.packets, m.seconds) for m in merged.methods] == [
        ("arp", 508, 3, 1007, 2.5), ("syn", 254, 1, 1524, 1.3)]
    assert (merged.unreachable, merged.notes) == (3, ("a note", "another"))
    assert dict(merged.found_by) == {"10.77.3.10": "arp", "10.78.5.5": "syn", "10.77.4.1": "arp"}
