"""Pure tests of target and port parsing: every accepted form and every bad-input case."""

from __future__ import annotations

import itertools
import tracemalloc
from pathlib import Path

import pytest

from camscan.errors import UsageError
from camscan.model import Endpoint
from camscan.scanner.targets import CAMERA_PORTS, VMS_PORTS, parse_ports, parse_targets

# Addresses in this file are parsing data only; nothing here opens a socket.


def addresses(specs: list[str], **kwargs: object) -> list[str]:
    targets = parse_targets(specs, ports=(443,), **kwargs)  # type: ignore[arg-type]
    return [e.address for e in targets]


# ---- ports ---------------------------------------------------------------------------------


def test_ports_list_range_and_dedup() -> None:
    assert parse_ports("8443, 443,443,8000-8002") == (443, 8000, 8001, 8002, 8443)


def test_port_presets() -> None:
    assert parse_ports("cameras") == CAMERA_PORTS
    assert 443 in CAMERA_PORTS and 8443 in CAMERA_PORTS
    assert set(CAMERA_PORTS) < set(VMS_PORTS)
    assert {7563, 8082} <= set(parse_ports("vms"))
    assert parse_ports("CAMERAS,1") == (1, *CAMERA_PORTS)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("0", "port 0 is out of range"),
        ("70000", "port 70000 is out of range"),
        ("65536", "out of range"),
        ("https", "bad port 'https'"),
        ("443,", "empty entry"),
        ("", "empty port list"),
        ("9000-8000", "runs backwards"),
        ("-5", "bad port ''"),
        ("1-2-3", "bad port '2-3'"),
        ("44 3", "bad port '44 3'"),
    ],
)
def test_bad_ports(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_ports(spec)


# ---- targets -------------------------------------------------------------------------------


def test_cidr_skips_network_and_broadcast() -> None:
    assert addresses(["127.1.2.0/30"]) == ["127.1.2.1", "127.1.2.2"]
    assert addresses(["127.1.2.8/31"]) == ["127.1.2.8", "127.1.2.9"]
    assert addresses(["127.1.2.9/32"]) == ["127.1.2.9"]


def test_cidr_with_host_bits_is_its_network() -> None:
    assert addresses(["127.1.2.1/30"]) == ["127.1.2.1", "127.1.2.2"]


def test_ipv6_cidr_and_address() -> None:
    assert addresses(["2001:db8::/126"]) == ["2001:db8::", "2001:db8::1", "2001:db8::2", "2001:db8::3"]
    assert addresses(["::1"]) == ["::1"]


def test_ranges_full_and_short() -> None:
    assert addresses(["127.0.1.10-127.0.1.12"]) == ["127.0.1.10", "127.0.1.11", "127.0.1.12"]
    assert addresses(["127.0.1.254-127.0.2.1"]) == ["127.0.1.254", "127.0.1.255", "127.0.2.0", "127.0.2.1"]
    assert addresses(["127.0.1.10-12"]) == ["127.0.1.10", "127.0.1.11", "127.0.1.12"]
    assert addresses(["::1-::3"]) == ["::1", "::2", "::3"]


def test_overlaps_are_merged_and_sorted() -> None:
    assert addresses(["127.0.0.5", "127.0.0.3-127.0.0.6", "127.0.0.4/32", "127.0.0.1"]) == [
        "127.0.0.1", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6",
    ]


def test_ports_are_outer_loop_and_host_port_is_exact() -> None:
    targets = parse_targets(["127.0.0.1-2", "127.0.0.9:8443", "[::1]:9443"], ports=(443, 8443))
    assert list(targets) == [
        Endpoint("127.0.0.1", 443), Endpoint("127.0.0.2", 443),
        Endpoint("127.0.0.1", 8443), Endpoint("127.0.0.2", 8443),
        Endpoint("127.0.0.9", 8443), Endpoint("::1", 9443),
    ]
    assert targets.estimated_size() == 6


def test_host_names_are_kept_for_the_sweep() -> None:
    targets = parse_targets(["Cam1.Example.LAN.", "cam1.example.lan:8443", "nvr-2"], ports=(443,))
    assert list(targets) == []
    assert [(h.name, h.ports) for h in targets.hostnames] == [
        ("cam1.example.lan", (443, 8443)),
        ("nvr-2", (443,)),
    ]


def test_name_with_only_a_port_uses_only_that_port() -> None:
    targets = parse_targets(["cam.example.lan:8443"], ports=(443,))
    assert [(h.name, h.ports) for h in targets.hostnames] == [("cam.example.lan", (8443,))]


def test_exclusions_of_every_form() -> None:
    targets = parse_targets(
        ["127.0.0.0/28", "cam.example.lan"],
        ports=(443, 8443),
        exclude=["127.0.0.2", "127.0.0.4-127.0.0.13", "127.0.0.1:8443", "cam.example.lan"],
    )
    assert [str(e) for e in targets] == ["127.0.0.1:443", "127.0.0.3:443", "127.0.0.14:443",
                                         "127.0.0.3:8443", "127.0.0.14:8443"]
    assert targets.exclusions.excludes_name("cam.example.lan", 443)
    assert targets.exclusions.excludes(Endpoint("127.0.0.5", 1))
    assert not targets.exclusions.excludes(Endpoint("127.0.0.15", 1))
    assert not targets.exclusions.excludes(Endpoint("::5", 443))


def test_target_file_with_comments(tmp_path: Path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text(
        "# site A\n127.0.3.1   # the NVR\n\n127.0.3.8-127.0.3.9 127.0.3.20\n  cam.example.lan:8443\n"
    )
    targets = parse_targets([f"@{listing}"], ports=(443,))
    assert [e.address for e in targets] == ["127.0.3.1", "127.0.3.8", "127.0.3.9", "127.0.3.20"]
    assert [h.name for h in targets.hostnames] == ["cam.example.lan"]


def test_exclude_file(tmp_path: Path) -> None:
    skip = tmp_path / "skip.txt"
    skip.write_text("127.0.0.2\n")
    assert addresses(["127.0.0.1-3"], exclude=[f"@{skip}"]) == ["127.0.0.1", "127.0.0.3"]


def test_a_slash_16_is_allowed_and_lazy() -> None:
    tracemalloc.start()
    try:
        targets = parse_targets(["127.5.0.0/16"], ports=(443, 8443))
        first = list(itertools.islice(targets, 3))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.address for e in first] == ["127.5.0.1", "127.5.0.2", "127.5.0.3"]
    assert targets.estimated_size() == 65534 * 2
    # 131,068 Endpoint objects would take megabytes; the lazy set takes a few kilobytes.
    assert peak < 200_000


def test_large_needs_allow_large() -> None:
    with pytest.raises(UsageError, match=r"16,777,214 addresses.*--allow-large"):
        parse_targets(["127.0.0.0/8"], ports=(443,))
    with pytest.raises(UsageError, match="--allow-large"):
        parse_targets(["127.0.0.0/17", "127.1.0.0/17", "127.2.0.0/24"], ports=(443,))
    targets = parse_targets(["127.0.0.0/8"], ports=(443,), allow_large=True)
    assert targets.address_count == 16_777_214
    assert next(iter(targets)) == Endpoint("127.0.0.1", 443)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("127.0.0.0/33", "malformed CIDR '127.0.0.0/33'"),
        ("127.0.0/24x", "malformed CIDR"),
        ("fe80::/129", "malformed CIDR"),
        ("127.0.0.300", "not a valid target '127.0.0.300'"),
        ("127.0.0.5-127.0.0.1", "runs backwards"),
        ("127.0.0.1-::1", "mixes IPv4 and IPv6"),
        ("127.0.0.1-banana", "'banana' is not an IP address"),
        ("127.0.0.1-300", "'300' is not an IP address"),
        ("127.0.0.1:0", "port 0 is out of range"),
        ("127.0.0.1:70000", "port 70000 is out of range"),
        ("127.0.0.1:https", "bad port 'https'"),
        ("[::1]:", "bad port ''"),
        ("[::1", "missing ']'"),
        ("[::1]443", r"expected \[address\]:port"),
        ("cam_ex ample", "not a valid target"),
        ("-cam.example.lan", "not a valid target"),
        ("a" * 64 + ".lan", "not a valid target"),
        ("@", "must be followed by a file name"),
        ("  ", "empty target"),
    ],
)
def test_bad_targets(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_targets([spec], ports=(443,))


def test_bad_exclusion_is_reported_too() -> None:
    with pytest.raises(UsageError, match="malformed CIDR"):
        parse_targets(["127.0.0.1"], ports=(443,), exclude=["127.0.0.0/40"])


def test_unreadable_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read target file .*missing\.txt.*No such file"):
        parse_targets([f"@{tmp_path / 'missing.txt'}"], ports=(443,))
    with pytest.raises(UsageError, match="cannot read target file"):
        parse_targets([f"@{tmp_path}"], ports=(443,))  # a directory
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UsageError, match="cannot read target file"):
        parse_targets([f"@{binary}"], ports=(443,))
    bad_line = tmp_path / "bad.txt"
    bad_line.write_text("127.0.0.1\n127.0.0.0/99\n")
    with pytest.raises(UsageError, match=r"bad.txt:2: malformed CIDR"):
        parse_targets([f"@{bad_line}"], ports=(443,))
    loop = tmp_path / "loop.txt"
    loop.write_text(f"@{loop}\n")
    with pytest.raises(UsageError, match="nest deeper"):
        parse_targets([f"@{loop}"], ports=(443,))


def test_no_targets_or_ports() -> None:
    with pytest.raises(UsageError, match="no targets"):
        parse_targets([], ports=(443,))
    with pytest.raises(UsageError, match="no ports"):
        parse_targets(["127.0.0.1"], ports=())
    with pytest.raises(UsageError, match="port 0 is out of range"):
        parse_targets(["127.0.0.1"], ports=(0,))


def test_empty_file_means_no_targets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    with pytest.raises(UsageError, match="no targets"):
        parse_targets([f"@{empty}"], ports=(443,))
