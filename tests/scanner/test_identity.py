"""Device identity: the pure parsers (neighbour tables, Dahua realm, Server header, WS-Discovery,
OUI, precedence) and the trio edge against real servers on 127.x (a WS-Discovery responder, the
camera lab). The neighbour table on a real L2 segment is in test_identity_netns.py."""

from __future__ import annotations

import datetime as dt
import errno
import random
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest
import trio

from camscan import pki
from camscan.lab import open_lab
from camscan.lab.discovery import answer_to
from camscan.lab.fleet import DeviceSpec, Fleet, LabSettings
from camscan.model import AuditResult, Endpoint, HTTPFacts, ScanParameters, ScanResult
from camscan.reports.json_report import build_document, load_schema
from camscan.scanner import identity
from camscan.scanner.identity import (
    DiscoveryFacts,
    NeighbourTable,
    merge,
    normalize_mac,
    parse_ip_neigh,
    parse_probe_matches,
    parse_proc_net_arp,
    probe_message,
    ws_discover,
)
from camscan.scanner.sweep import SweepOptions, sweep
from tests.support.tls_servers import ServerSpec, serve

# --- pure parsers -----------------------------------------------------------------------------


def test_normalize_mac_accepts_the_usual_spellings_only() -> None:
    for text in (
        "00:40:8c:12:34:56",
        "00-40-8C-12-34-56",
        "00408C123456",
        "0040.8c12.3456",
        " 00:40:8C:12:34:56 ",
    ):
        assert normalize_mac(text) == "00:40:8c:12:34:56", text
    for text in (
        "1",
        "",
        None,
        "00:40:8c:12:34",
        "00:40-8c:12:34:56",
        "00:40:8c:12:34:56:78",
        "zz:40:8c:12:34:56",
        "00:00:00:00:00:00",
        "ff:ff:ff:ff:ff:ff",
        "01:00:5e:00:00:fb",
        "0" * 40,
    ):
        assert normalize_mac(text) is None, text


PROC_NET_ARP = """\
IP address       HW type     Flags       HW address            Mask     Device
198.51.100.7         0x1         0x2         00:40:8C:12:34:56     *        eth0
198.51.100.8         0x1         0x0         00:00:00:00:00:00     *        eth0
198.51.100.9         0x1         0x6         ac:cc:8e:01:02:03     *        eth0
garbage line
198.51.100.10        0x1         zz          ac:cc:8e:01:02:04     *        eth0
"""  # addresses as a real table shows them; only parsed, never contacted


def test_proc_net_arp_keeps_completed_entries() -> None:
    assert parse_proc_net_arp(PROC_NET_ARP) == {
        "198.51.100.7": "00:40:8c:12:34:56",
        "198.51.100.9": "ac:cc:8e:01:02:03",
    }
    assert parse_proc_net_arp("") == {}


IP_NEIGH = """\
2001:db8::2 dev veth0 lladdr 00:40:8c:12:34:56 REACHABLE
2001:DB8::3 dev veth0 lladdr 44:47:cc:11:22:33 STALE
2001:db8::4 dev veth0  FAILED
2001:db8::5 dev veth0 INCOMPLETE
fe80::1 dev eth0 lladdr 52:54:00:12:34:56 router DELAY
2001:db8::6 dev veth0 lladdr
"""


def test_ip_neigh_output_is_parsed_by_canonical_address() -> None:
    assert parse_ip_neigh(IP_NEIGH) == {
        "2001:db8::2": "00:40:8c:12:34:56",
        "2001:db8::3": "44:47:cc:11:22:33",
        "fe80::1": "52:54:00:12:34:56",
    }


def test_dahua_realm_gives_the_mac() -> None:
    header = 'Digest realm="DH_9002A9112233", qop="auth", nonce="1a2b", opaque="x"'
    assert identity.mac_from_www_authenticate(header) == "90:02:a9:11:22:33"
    assert (
        identity.mac_from_www_authenticate('Basic realm="x", Digest REALM=DH_e0508b005012')
        == "e0:50:8b:00:50:12"
    )
    for other in (
        'Digest realm="DH_9002A91122334"',
        'Digest realm="IP Camera(52799)"',
        'Digest realm="xDH_9002A9112233"',
        "",
        None,
    ):
        assert identity.mac_from_www_authenticate(other) is None, other


def test_server_header_vendor_table_is_conservative() -> None:
    for server in ("App-webs/", "DNVRS-Webs", "DVRDVS-Webs", "Hikvision-Webs", "hikvision-webs/1.0"):
        assert identity.vendor_from_server(server) == "Hikvision", server
    for server in (
        "Webs",
        "GoAhead-Webs",
        "Apache",
        "nginx",
        "Boa/0.94.14rc21",
        "lighttpd/1.4",
        "uc-httpd 1.0.0",
        "",
        None,
    ):
        assert identity.vendor_from_server(server) is None, server


MESSAGE_ID = "urn:uuid:2de9f5ad-abd2-4c0e-9ba8-178098d67f01"


def matches(scopes: str, relates_to: str = MESSAGE_ID, action: str = identity.MATCHES_ACTION) -> bytes:
    """A ProbeMatches shaped like a real camera's (device-protocols.md section 2)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
        "<s:Header><a:MessageID>urn:uuid:2419d68a-2dd2-21b2-a205-78a5dd0f9593</a:MessageID>"
        f"<a:RelatesTo>{relates_to}</a:RelatesTo>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:Action>{action}</a:Action>"
        '<d:AppSequence InstanceId="1" MessageNumber="1"/></s:Header>'
        "<s:Body><d:ProbeMatches><d:ProbeMatch>"
        "<a:EndpointReference><a:Address>urn:uuid:2419d68a-2dd2-21b2-a205-78a5dd0f9593</a:Address>"
        "</a:EndpointReference><d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
        f"<d:Scopes>{scopes}</d:Scopes><d:XAddrs>http://127.0.0.1/onvif/device_service</d:XAddrs>"
        "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"
    ).encode()


HIK_SCOPES = (
    "onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/hardware/DS-2CD2143G2-I "
    "onvif://www.onvif.org/name/HIKVISION onvif://www.onvif.org/MAC/44:47:cc:11:22:33"
)


def test_probe_matches_scopes() -> None:
    facts = parse_probe_matches(matches(HIK_SCOPES), MESSAGE_ID)
    assert facts is not None
    assert (facts.mac, facts.model, facts.vendor, facts.serial) == (
        "44:47:cc:11:22:33",
        "DS-2CD2143G2-I",
        "HIKVISION",
        None,
    )
    spec_style = (
        "onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/Front%20Door%20Cam "
        "onvif://www.onvif.org/MacAddress/AC-CC-8E-01-02-03 onvif://www.onvif.org/SerialNumber/ACCC8E010203 "
        "onvif://www.onvif.org/hardware/M1065-LW http://example.invalid/MAC/00:40:8c:00:00:01"
    )
    facts = parse_probe_matches(matches(spec_style), MESSAGE_ID)
    assert facts is not None
    assert (facts.mac, facts.model, facts.vendor, facts.serial) == (
        "ac:cc:8e:01:02:03",
        "M1065-LW",
        "Front Door Cam",
        "ACCC8E010203",
    )


def test_probe_matches_rejects_what_is_not_our_answer() -> None:
    assert parse_probe_matches(matches(HIK_SCOPES, relates_to="urn:uuid:someone-else"), MESSAGE_ID) is None
    assert parse_probe_matches(matches(HIK_SCOPES, action=identity.PROBE_ACTION), MESSAGE_ID) is None
    assert parse_probe_matches(probe_message(MESSAGE_ID), MESSAGE_ID) is None  # our own probe echoed
    assert parse_probe_matches(b"\x00\x01 not xml", MESSAGE_ID) is None
    assert parse_probe_matches(b"", MESSAGE_ID) is None
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&b;</s:Body></s:Envelope>'
    )
    assert parse_probe_matches(bomb, MESSAGE_ID) is None
    external = (
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + matches(HIK_SCOPES.replace("HIKVISION", "&x;")).split(b"?>", 1)[1]
    )
    assert parse_probe_matches(external, MESSAGE_ID) is None


def test_our_probe_is_one_the_lab_answers() -> None:
    """Interop with an independent parser: the lab's WS-Discovery service accepts the Probe."""
    assert answer_to(probe_message(MESSAGE_ID)) == MESSAGE_ID


def test_precedence_and_cleaning() -> None:
    wsd = DiscoveryFacts(
        mac="44:47:cc:11:22:33", serial=" SN\x1b[31m1 ", vendor="HIKVISION", model="DS-2CD\n2143"
    )
    dahua = HTTPFacts(
        status=401,
        server=None,
        date=None,
        device_time=None,
        www_authenticate='Digest realm="DH_9002A9112233"',
    )
    hik = HTTPFacts(status=200, server="App-webs/", date=None, device_time=None)
    # MAC: the neighbour table, then WS-Discovery, then the realm.
    assert merge(neighbour_mac="00:40:8C:12:34:56", http=dahua, discovery=wsd).mac == "00:40:8c:12:34:56"
    assert merge(http=dahua, discovery=wsd).mac == "44:47:cc:11:22:33"
    assert merge(http=dahua).mac == "90:02:a9:11:22:33"
    # Vendor: the Server table, then the WS-Discovery name, then the OUI registry.
    assert merge(http=hik, discovery=DiscoveryFacts(vendor="Front door")).vendor == "Hikvision"
    assert (
        merge(discovery=DiscoveryFacts(vendor="Front door", mac="00:40:8c:12:34:56")).vendor == "Front door"
    )
    assert merge(http=dahua).vendor == "Zhejiang Dahua Technology Co., Ltd."  # 90:02:A9 in the IEEE list
    assert merge(neighbour_mac="02:40:8c:12:34:56").vendor is None  # locally administered: no OUI
    # Device text is trimmed and kept exact (every output escapes it; the JSON report keeps it).
    ident = merge(discovery=wsd)
    assert ident.serial == "SN\x1b[31m1" and ident.model == "DS-2CD\n2143"
    assert merge().mac is None and merge().vendor is None
    long_model = merge(discovery=DiscoveryFacts(model="M" * 5000)).model
    assert long_model is not None and len(long_model) == identity.MAX_FIELD


async def test_neighbour_table_reads_once_per_interval_and_never_for_loopback(tmp_path: Path) -> None:
    path = tmp_path / "arp"
    path.write_text(PROC_NET_ARP)
    table = NeighbourTable(min_interval=0.2, arp_path=str(path))
    assert await table.mac_for("127.0.0.1", trio.current_time()) is None
    assert await table.mac_for("198.51.100.7", trio.current_time()) == "00:40:8c:12:34:56"
    path.write_text(PROC_NET_ARP.replace("00:40:8C:12:34:56", "00:40:8C:65:43:21"))
    # A read taken after `since` answers without reading again.
    assert await table.mac_for("198.51.100.7", trio.current_time() - 10) == "00:40:8c:12:34:56"
    start = trio.current_time()
    assert await table.mac_for("198.51.100.7", trio.current_time()) == "00:40:8c:65:43:21"
    assert trio.current_time() - start >= 0.15  # waited out the interval instead of re-reading at once
    missing = NeighbourTable(arp_path=str(tmp_path / "absent"))
    assert await missing.mac_for("198.51.100.7", trio.current_time()) is None


# --- the trio edge on 127.x ---------------------------------------------------------------------


@dataclass
class Responder:
    """A WS-Discovery service on host:3702 answering with `reply(message_id)` datagrams."""

    reply: Callable[[str], list[bytes]]
    probes: list[bytes] = field(default_factory=list)
    at: list[float] = field(default_factory=list)


async def respond(
    responder: Responder, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve on a random free 127.43.x.y (3702 is a fixed port: another test run may hold one)."""
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(100):
            host = f"127.43.{random.randrange(256)}.{random.randrange(1, 255)}"
            try:
                await sock.bind((host, identity.WSD_PORT))
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        else:
            raise AssertionError("no free 127.43.x.y:3702")
        task_status.started(host)
        while True:
            data, source = await sock.recvfrom(65535)
            responder.probes.append(data)
            responder.at.append(trio.current_time())
            found = re.search(rb"<a:MessageID>([^<]+)</a:MessageID>", data)
            for datagram in responder.reply(found.group(1).decode() if found else ""):
                await sock.sendto(datagram, source)


async def test_ws_discover_takes_the_first_answer_to_our_probe() -> None:
    responder = Responder(
        lambda mid: [
            b"garbage",
            matches(HIK_SCOPES, relates_to="urn:uuid:other"),
            matches(HIK_SCOPES, relates_to=mid),
        ]
    )
    async with trio.open_nursery() as nursery:
        host = await nursery.start(respond, responder)
        with trio.fail_after(5):
            facts = await ws_discover(host, 3.0)
        nursery.cancel_scope.cancel()
    assert facts is not None and facts.mac == "44:47:cc:11:22:33"
    assert len(responder.probes) == 1


async def test_ws_discover_is_bounded(next_host: Callable[[], str]) -> None:
    closed_host = next_host()  # nothing listens on its 3702
    async with trio.open_nursery() as nursery:
        silent_host = await nursery.start(respond, Responder(lambda mid: []))
        start = trio.current_time()
        with trio.fail_after(5):
            assert await ws_discover(silent_host, 0.4) is None
        assert 0.35 <= trio.current_time() - start < 1.5
        # Nothing on 3702: the port-unreachable ends the wait long before the timeout.
        start = trio.current_time()
        with trio.fail_after(5):
            assert await ws_discover(closed_host, 3.0) is None
        assert trio.current_time() - start < 1.0
        nursery.cancel_scope.cancel()


def tls_spec(host: str, headers: list[tuple[str, str]], status: int = 200) -> ServerSpec:
    leaf = pki.make_leaf(None, ips=[host])
    return ServerSpec(chain=[leaf.cert], key=leaf.key, http_status=status, http_headers=headers)


DAHUA_401 = [("WWW-Authenticate", 'Digest realm="DH_9002A9112233", qop="auth", nonce="abc"')]


async def test_sweep_fills_identity_once_per_host() -> None:
    responder = Responder(
        lambda mid: [
            matches(
                "onvif://www.onvif.org/name/Dahua onvif://www.onvif.org/hardware/IPC-HDW1200S "
                "onvif://www.onvif.org/MAC/90:02:a9:11:22:33 onvif://www.onvif.org/SerialNumber/7K0A0001PAZ2233",
                relates_to=mid,
            )
        ]
    )
    async with trio.open_nursery() as nursery:
        host = await nursery.start(respond, responder)
        ports = [(await nursery.start(serve, tls_spec(host, DAHUA_401, 401), host))[1] for _ in range(2)]
        with trio.fail_after(20):
            observations, failures = await sweep([Endpoint(host, p) for p in ports], SweepOptions(per_host=2))
        nursery.cancel_scope.cancel()
    assert not failures and len(observations) == 2
    for obs in observations:
        assert obs.identity.mac == "90:02:a9:11:22:33"
        assert (obs.identity.vendor, obs.identity.model, obs.identity.serial) == (
            "Dahua",
            "IPC-HDW1200S",
            "7K0A0001PAZ2233",
        )
    assert len(responder.probes) == 1  # one datagram per host, however many ports


async def test_sweep_without_ws_discovery_uses_http_facts_only(next_host: Callable[[], str]) -> None:
    hik = next_host()
    responder = Responder(lambda mid: [matches(HIK_SCOPES, relates_to=mid)])
    async with trio.open_nursery() as nursery:
        dahua = await nursery.start(respond, responder)
        _, dahua_port = await nursery.start(serve, tls_spec(dahua, DAHUA_401, 401), dahua)
        _, hik_port = await nursery.start(serve, tls_spec(hik, [("Server", "App-webs/")]), hik)
        with trio.fail_after(20):
            observations, _ = await sweep(
                [Endpoint(dahua, dahua_port), Endpoint(hik, hik_port)], SweepOptions(ws_discovery=False)
            )
        nursery.cancel_scope.cancel()
    found = {o.endpoint.address: o.identity for o in observations}
    assert found[dahua].mac == "90:02:a9:11:22:33"  # from the realm
    assert found[dahua].vendor == "Zhejiang Dahua Technology Co., Ltd."  # from the OUI
    assert found[dahua].model is None
    assert (found[hik].mac, found[hik].vendor) == (None, "Hikvision")  # Server header only
    assert responder.probes == []


async def test_the_datagram_is_paced_by_rate() -> None:
    responder = Responder(lambda mid: [matches(HIK_SCOPES, relates_to=mid)])
    async with trio.open_nursery() as nursery:
        host = await nursery.start(respond, responder)
        _, port = await nursery.start(serve, tls_spec(host, []), host)
        start = trio.current_time()
        with trio.fail_after(20):
            observations, _ = await sweep([Endpoint(host, port)], SweepOptions(rate=4))
        nursery.cancel_scope.cancel()
    assert observations[0].identity.mac == "44:47:cc:11:22:33"
    # The connection takes the first slot, the datagram the next one, 1/4 s later.
    assert responder.at[0] - start >= 0.2


def test_ws_discovery_timeout_is_validated() -> None:
    from camscan.errors import UsageError

    with pytest.raises(UsageError, match="--ws-discovery-timeout"):
        SweepOptions(ws_discovery_timeout=0)
    with pytest.raises(UsageError, match="--ws-discovery-timeout"):
        SweepOptions(ws_discovery_timeout=float("inf"))


async def test_lab_devices_are_identified_and_reported() -> None:
    fleet = Fleet(
        LabSettings(block="127.95.0.0/24", https_port=0, http_port=None, reboot_downtime=0.0),
        (
            DeviceSpec("hikvision", "healthy"),
            DeviceSpec("dahua", "firmware-ca"),
            DeviceSpec("onvif", "healthy"),
            DeviceSpec("axis", "healthy"),
        ),
    )
    with trio.fail_after(60):
        async with open_lab(fleet, ws_discovery=True) as lab:
            inventory = {d["address"]: d for d in lab.inventory()}
            started = dt.datetime.now(dt.UTC)
            observations, failures = await sweep(lab.endpoints(), SweepOptions())
    assert not failures and len(observations) == 4
    vendors = {}
    for obs in observations:
        device = inventory[obs.endpoint.address]
        assert obs.identity.mac == device["mac"]
        assert obs.identity.model == device["model"]
        vendors[device["personality"]] = obs.identity.vendor
    assert vendors == {"hikvision": "Hikvision", "dahua": "DAHUA", "onvif": "UNIVIEW", "axis": "AXIS"}

    ports = tuple(sorted({o.endpoint.port for o in observations}))
    scan = ScanResult(
        ScanParameters(("127.95.0.0/24",), ports), started, dt.datetime.now(dt.UTC), tuple(observations), ()
    )
    document = build_document(AuditResult(scan, (), started))
    jsonschema.Draft202012Validator(load_schema()).validate(document)
    reported = {e["address"]: e["identity"] for e in document["endpoints"]}
    for address, device in inventory.items():
        assert reported[address]["mac"] == device["mac"]
        assert reported[address]["model"] == device["model"]
        assert set(reported[address]) == {"mac", "serial", "vendor", "model", "firmware"}
