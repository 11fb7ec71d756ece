"""A host:port target that a range target already covers is probed once, not twice.

Found in the README acceptance run: `camscan 127.77.0.0/29 @site.txt -p 8443`, where the file
names 127.77.0.6:8443, listed 127.77.0.6:8443 twice in the JSON report and counted it twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from camscan import pki
from camscan.cli import main
from camscan.model import Endpoint
from camscan.scanner.targets import parse_targets
from tests.support.tls_servers import ServerSpec, serve_in_thread

HOST = "127.47.0.6"


def test_a_covered_host_port_is_yielded_once() -> None:
    targets = parse_targets(
        ["127.47.0.0/29", "127.47.0.6:8443", "127.47.0.6:443", "127.47.0.9:8443", "[::1]:8443", "::1"],
        ports=(8443,),
    )
    listed = list(targets)
    assert listed.count(Endpoint("127.47.0.6", 8443)) == 1
    # A port the range does not scan, or an address outside it, is still probed.
    assert Endpoint("127.47.0.6", 443) in listed and Endpoint("127.47.0.9", 8443) in listed
    assert listed.count(Endpoint("::1", 8443)) == 1
    assert len(listed) == len(set(listed)) == 6 + 2 + 1
    assert targets.estimated_size() == len(listed)


def test_a_scan_reports_a_covered_host_port_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    leaf = pki.make_leaf(pki.make_ca("camscan overlap CA"), common_name="cam", ips=[HOST])
    with serve_in_thread([(ServerSpec(chain=[leaf.cert], key=leaf.key), HOST)]) as [(_, port)]:
        report = tmp_path / "scan.json"
        code = main([HOST, f"{HOST}:{port}", "-p", str(port), "--json", str(report), "-q", "--offline",
                     "--no-legacy-probe", "--no-ws-discovery", "--connect-timeout", "2"])
    capsys.readouterr()
    assert code == 0
    document = json.loads(report.read_text())
    assert [(e["address"], e["port"]) for e in document["endpoints"]] == [(HOST, port)]
    assert document["summary"]["endpoints"] == 1


def test_an_excluded_network_is_excluded_whole() -> None:
    """A /24 target keeps its network and broadcast addresses out (they are not hosts); an
    excluded network inside a bigger target is excluded whole, .0 and .255 included."""
    targets = parse_targets(["10.1.0.0/23"], ports=(443,), exclude=["10.1.1.0/24"])
    listed = [e.address for e in targets]
    assert listed[0] == "10.1.0.1" and listed[-1] == "10.1.0.255"
    assert len(listed) == 255 and "10.1.1.0" not in listed
