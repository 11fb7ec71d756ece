"""Host discovery on a real LAN built from network namespaces (tests/support/lan.py).

    scanner 10.77.0.1/16 ── bridge ── cams: 10.77.3.10 (AXIS), 10.77.3.11 (Hikvision), one MAC, :443
                                 ├─ odd: 10.77.200.7 (Hikvision), HTTPS on 9443 only
                                 ├─ mon: no address (sniffs what the bridge floods: ARP requests)
                                 └─ router 10.77.255.254 ── far: 10.78.5.5 (ONVIF) :8443,
                                    nft there: 4443 DROP (filtered), 7443 REJECT tcp reset

Every address exists only inside these namespaces; they are deleted when the module ends.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from camscan.reports.json_report import load_schema
from tests.support.lan import ROOT, Lan, have_netns, ip

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(not have_netns(), reason="network namespaces need root and iproute2"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="nftables' `nft` is not installed"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux's `setpriv` is not installed"),
]

CAM_MAC = "00:40:8c:00:00:01"  # an Axis OUI
ON_LINK = ["10.77.3.0/24", "10.77.200.0/24"]  # netns
ROUTED = ["10.78.5.0/24"]  # netns
LIVE = {"10.77.3.10", "10.77.3.11", "10.77.200.7", "10.78.5.5"}  # netns
OBSERVED = {("10.77.3.10", 443), ("10.77.3.11", 443), ("10.77.200.7", 9443), ("10.78.5.5", 8443)}
FAR_PORTS = {443: "refused", 4443: "timeout", 7443: "refused", 8443: "observed", 9443: "refused"}
FIREWALL = """table inet camscan_test {
  chain inp {
    type filter hook input priority 0;
    tcp dport 4443 drop
    tcp dport 7443 reject with tcp reset
  }
}
"""
FAST = ["--offline", "-q", "--json", "-", "--no-legacy-probe", "--discovery-wait", "0.5",
        "--connect-timeout", "1.5"]


class Net:
    def __init__(self, lan: Lan, monitor: str, router: str) -> None:
        self.lan, self.monitor, self.router = lan, monitor, router

    def scan(self, *args: str, user: str | None = None, timeout: float = 180) -> dict[str, Any]:
        done = self.lan.run(*args, *FAST, user=user, timeout=timeout)
        assert done.returncode == 0, done.stderr[-3000:]
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    def sniff(self, ns: str, seconds: float) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.support.lan_sniff", "--netns", ns,
             "--seconds", str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.lan.processes.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr
        return proc


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with Lan("dt") as lan:
        scanner = lan.scanner("10.77.0.1/16")  # netns
        cams = lan.devices("cams", ["10.77.3.10", "10.77.3.11"], mac=CAM_MAC)  # netns
        odd = lan.devices("odd", ["10.77.200.7"], mac="44:47:cc:00:00:02")  # netns
        monitor = lan.devices("mon", [])
        router, far = lan.router("10.77.255.254", "10.78.0.1", "10.78.0.0/16")  # netns
        ip("-n", far, "addr", "add", "10.78.5.5/16", "dev", "eth0")  # netns
        lan.route(far, "default", "10.78.0.1")  # netns
        lan.route(scanner, "10.78.0.0/16", "10.77.255.254")  # netns
        lan.nft(far, FIREWALL)
        lan.start_lab(cams, ["10.77.3.10:axis", "10.77.3.11:hikvision"], interface="10.77.3.10", mdns=True)
        lan.start_lab(odd, ["10.77.200.7:hikvision"], interface="10.77.200.7", https_port=9443)
        lan.start_lab(far, ["10.78.5.5:onvif"], interface="10.78.5.5", https_port=8443)
        yield Net(lan, monitor, router)


def _endpoints(report: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(e["address"], e["port"]): e for e in report["endpoints"]}


def _observed(report: dict[str, Any]) -> set[tuple[str, int]]:
    return {key for key, e in _endpoints(report).items() if e["status"] == "observed"}


@pytest.mark.parametrize(
    ("method", "targets", "found_by"),
    [
        ("auto", ON_LINK + ROUTED, {"10.78.5.5": "syn"}),
        ("arp", ON_LINK, {}),
        ("syn", ON_LINK + ROUTED, {"10.78.5.5": "syn"}),  # on-link: ARP first, then SYN
        ("connect", ON_LINK + ROUTED, {}),
    ],
)
def test_every_live_device_is_found_and_no_empty_address_is_reported(
    net: Net, method: str, targets: list[str], found_by: dict[str, str]
) -> None:
    report = net.scan(*targets, "--discovery", method)
    jsonschema.validate(report, load_schema())
    live = {a for a in LIVE if any(a.startswith(t.rsplit(".", 1)[0]) for t in targets)}
    assert _observed(report) == {(a, p) for a, p in OBSERVED if a in live}
    # Only live hosts appear: none of the 500-odd empty addresses is reported, alive or failed.
    assert {address for address, _ in _endpoints(report)} == live
    discovery = report["discovery"]
    assert discovery["answered"] == len(live)
    assert discovery["addresses"] == 254 * len(targets)
    default = "arp" if method in ("auto", "syn") else method
    assert {e["found_by"] for a, e in _endpoints(report).items() if a[0] not in found_by} == {default}
    for address, how in found_by.items():
        assert {e["found_by"] for a, e in _endpoints(report).items() if a[0] == address} == {how}
    # The host with HTTPS on 9443 only is found whatever the method (ARP, or its ports tried together).
    assert ("10.77.200.7", 9443) in _observed(report)


def test_arp_puts_the_mac_and_its_vendor_into_the_identity_and_notes_a_shared_mac(net: Net) -> None:
    report = net.scan(*ON_LINK, "--discovery", "arp", "--no-ws-discovery")
    identity = _endpoints(report)[("10.77.3.10", 443)]["identity"]
    assert identity["mac"] == CAM_MAC
    assert identity["vendor"] == "Axis Communications AB"
    assert any(f"one MAC {CAM_MAC} answered for 2 addresses" in n for n in report["discovery"]["notes"])


@pytest.mark.parametrize("method", ["syn", "connect"])
def test_filtered_and_refused_ports_are_told_apart(net: Net, method: str) -> None:
    report = net.scan("10.78.5.5", "--discovery", method)
    states = {port: e["status"] if e["status"] == "observed" else e["failure"]["kind"]
              for (_, port), e in _endpoints(report).items()}
    assert states == FAR_PORTS
    assert report["discovery"]["methods"][0]["method"] == method


def test_arp_refuses_a_routed_target(net: Net) -> None:
    done = net.lan.run(*ROUTED, "--discovery", "arp", *FAST)
    assert done.returncode == 2
    assert "--discovery arp reaches on-link targets only; 10.78.5.1 is routed" in done.stderr


def test_without_cap_net_raw_discovery_falls_back_to_connects(net: Net) -> None:
    report = net.scan(*ON_LINK, *ROUTED, user="nobody")
    discovery = report["discovery"]
    assert discovery["privileged"] is False
    assert [m["method"] for m in discovery["methods"]] == ["connect"]
    assert any("unprivileged" in note for note in discovery["notes"])
    assert _observed(report) == OBSERVED
    assert {address for address, _ in _endpoints(report)} == LIVE
    refused = net.lan.run(*ON_LINK, "--discovery", "syn", *FAST, user="nobody")
    assert refused.returncode == 2
    assert "--discovery syn needs raw sockets" in refused.stderr


def _max_in_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, moment in enumerate(stamps):
        while moment - stamps[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_the_rate_cap_holds_on_the_wire(net: Net) -> None:
    rate = 2000
    arp_sniffer = net.sniff(net.monitor, 12)
    syn_sniffer = net.sniff(net.router, 12)
    report = net.scan("10.77.16.0/21", "10.78.8.0/22", "-p", "443,8443", "--discovery-rate", str(rate),
                      "--discovery-retries", "0")
    seen_arp = json.loads(arp_sniffer.communicate(timeout=30)[0])["arp"]
    seen_syn = json.loads(syn_sniffer.communicate(timeout=30)[0])["syn"]
    methods = {m["method"]: m for m in report["discovery"]["methods"]}
    assert len(seen_arp) == methods["arp"]["packets"] == 2046
    assert len(seen_syn) == methods["syn"]["packets"] == 1022 * 2
    # One cap for both methods together: at most `rate` a second plus the 10 ms bucket, with
    # 5% for the kernel's batching of receive timestamps.
    together = seen_arp + seen_syn
    assert _max_in_window(together, 1.0) <= rate * 1.05 + rate / 100
    assert _max_in_window(together, 0.25) <= rate * 0.25 * 1.1 + rate / 100
    assert (max(together) - min(together)) >= (len(together) / rate) * 0.9


def test_ctrl_c_stops_discovery_at_once(net: Net) -> None:
    sniffer = net.sniff(net.monitor, 8)
    proc = net.lan.popen("10.77.0.0/16", "--discovery", "arp", "--discovery-rate", "2000", "-q",
                         "--offline", "--json", os.devnull)
    time.sleep(3)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    stopped_at = time.time()
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "camscan: error" not in err and "Traceback" not in err
    stamps = json.loads(sniffer.communicate(timeout=30)[0])["arp"]
    assert stamps, "no ARP request was seen before the interrupt"
    assert 500 <= len(stamps) <= 2000 * 3.1  # sent for up to 3 s (after start-up), at the cap
    assert max(stamps) <= stopped_at + 0.3  # nothing after the interrupt


def _discover(net: Net, *args: str) -> dict[str, Any]:
    done = net.lan.run("discover", "--json", "-", "-q", *DISCOVER, *args, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


DISCOVER = ["--timeout", "2.5", "--discovery-rate", "20000"]
ON_LINK_CAMS = {"10.77.3.10", "10.77.3.11", "10.77.200.7"}  # netns


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("ws-discovery", ON_LINK_CAMS),
        ("ssdp", ON_LINK_CAMS),
        ("mdns", {"10.77.3.10", "10.77.3.11"}),  # the odd camera does not announce itself by mDNS
        ("arp", ON_LINK_CAMS | {"10.77.255.254"}),  # the router answers ARP too
    ],
)
def test_camscan_discover_finds_each_device_by_each_method(net: Net, method: str, expected: set[str]) -> None:
    result = _discover(net, "--methods", method)
    assert {d["address"] for d in result["devices"]} == expected
    assert all(d["found_by"] == [method] for d in result["devices"])
    assert result["network"] == "10.77.0.0/16" and result["interface"] == "eth0"


def test_camscan_discover_merges_what_devices_announce(net: Net) -> None:
    devices = {d["address"]: d for d in _discover(net)["devices"]}
    axis = devices["10.77.3.10"]
    assert axis["found_by"] == ["arp", "mdns", "ssdp", "ws-discovery"]
    assert axis["mac"] == CAM_MAC  # ARP's MAC first
    assert (axis["vendor"], axis["model"], axis["firmware"]) == ("AXIS", "M1065-LW", "9.80.1")
    assert axis["name"].startswith("AXIS M1065-LW - ")
    assert axis["xaddrs"] == ["https://10.77.3.10:443/onvif/device_service"]
    assert axis["https_ports"] == [443]
    assert devices["10.77.200.7"]["https_ports"] == [9443]
    assert devices["10.77.255.254"]["https_ports"] == [] and devices["10.77.255.254"]["found_by"] == ["arp"]


def test_scan_at_devices_json_scans_exactly_what_was_discovered(net: Net, tmp_path_factory: Any) -> None:
    found = tmp_path_factory.mktemp("discover") / "devices.json"
    done = net.lan.run("discover", "--json", str(found), "-q", *DISCOVER, timeout=120)
    assert done.returncode == 0, done.stderr
    report = net.scan(f"@{found}", "--no-discovery")
    endpoints = _endpoints(report)
    # Announced HTTPS ports only for the cameras; the router (ARP only) on every --ports port.
    assert set(endpoints) == {("10.77.3.10", 443), ("10.77.3.11", 443), ("10.77.200.7", 9443)} | {
        ("10.77.255.254", p) for p in (443, 4443, 7443, 8443, 9443)}
    assert _observed(report) == {("10.77.3.10", 443), ("10.77.3.11", 443), ("10.77.200.7", 9443)}


def test_discover_without_cap_net_raw_skips_arp_and_says_so(net: Net) -> None:
    done = net.lan.run("discover", "--json", "-", "-q", "--timeout", "2.5", user="nobody", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert {d["address"] for d in result["devices"]} == ON_LINK_CAMS
    assert "arp" not in {m for d in result["devices"] for m in d["found_by"]}
    assert any("ARP sweep skipped" in note for note in result["notes"])
