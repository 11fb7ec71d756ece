"""Legacy TLS 1.0/1.1 detection with scapy-built hellos, against real Python ssl servers."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import trio

from camscan import pki
from camscan.model import Endpoint, Observation
from camscan.scanner.legacy import LEGACY_VERSIONS, client_hello, parse_answer, probe_legacy
from camscan.scanner.sweep import SweepOptions, sweep
from tests.support.tls_servers import ServerSpec, serve, unused_port


async def legacy_of(spec: ServerSpec, host: str) -> tuple[str, ...] | None:
    async with trio.open_nursery() as nursery:
        address, port = await nursery.start(serve, spec, host)
        with trio.fail_after(15):
            result = await probe_legacy(Endpoint(address, port), connect_timeout=2, timeout=2)
        nursery.cancel_scope.cancel()
    return result


def tls_spec(host: str, **kwargs: object) -> ServerSpec:
    leaf = pki.make_leaf(None, ips=[host], key=pki.new_key("rsa-2048"))
    return ServerSpec(chain=[leaf.cert], key=leaf.key, **kwargs)  # type: ignore[arg-type]


async def test_server_allowing_tls10_and_11(next_host: Callable[[], str]) -> None:
    host = next_host()
    spec = tls_spec(host, min_version=ssl.TLSVersion.TLSv1)
    # One hello offers both: the server picks the highest, and that is what is reported.
    assert await legacy_of(spec, host) == ("TLSv1.1",)


async def test_modern_server_refuses_both(next_host: Callable[[], str]) -> None:
    host = next_host()
    assert await legacy_of(tls_spec(host, min_version=ssl.TLSVersion.TLSv1_2), host) == ()


async def test_tls10_only_server_downgrades_a_tls11_hello(next_host: Callable[[], str]) -> None:
    host = next_host()
    spec = tls_spec(host, min_version=ssl.TLSVersion.TLSv1, max_version=ssl.TLSVersion.TLSv1)
    assert await legacy_of(spec, host) == ("TLSv1.0",)


async def test_ec_keyed_server(next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(None, ips=[host])  # P-256: needs the ECDSA suites in the hello
    spec = ServerSpec(chain=[leaf.cert], key=leaf.key, min_version=ssl.TLSVersion.TLSv1)
    assert await legacy_of(spec, host) == ("TLSv1.1",)


async def test_tls11_only_server(next_host: Callable[[], str]) -> None:
    host = next_host()
    spec = tls_spec(host, min_version=ssl.TLSVersion.TLSv1_1, max_version=ssl.TLSVersion.TLSv1_1)
    assert await legacy_of(spec, host) == ("TLSv1.1",)


async def test_not_tls_and_refused_are_unknown(next_host: Callable[[], str]) -> None:
    host = next_host()
    assert await legacy_of(ServerSpec(behaviour="garbage"), host) is None
    other = next_host()
    with trio.fail_after(10):
        assert await probe_legacy(Endpoint(other, unused_port(other)), connect_timeout=2, timeout=2) is None


async def test_silent_server_is_unknown_within_the_timeout(next_host: Callable[[], str]) -> None:
    host = next_host()
    async with trio.open_nursery() as nursery:
        address, port = await nursery.start(serve, ServerSpec(behaviour="silent"), host)
        start = trio.current_time()
        with trio.fail_after(10):
            result = await probe_legacy(Endpoint(address, port), connect_timeout=1, timeout=0.5)
        assert trio.current_time() - start < 3
        nursery.cancel_scope.cancel()
    assert result is None


async def test_sweep_fills_legacy_versions_only_when_asked(next_host: Callable[[], str]) -> None:
    host = next_host()
    spec = tls_spec(host, min_version=ssl.TLSVersion.TLSv1)
    async with trio.open_nursery() as nursery:
        address, port = await nursery.start(serve, spec, host)
        with trio.fail_after(20):
            on, _ = await sweep([Endpoint(address, port)], SweepOptions(legacy_probe=True, per_host=1))
            off, _ = await sweep([Endpoint(address, port)], SweepOptions(legacy_probe=False))
        nursery.cancel_scope.cancel()
    assert isinstance(on[0], Observation) and on[0].legacy_versions == ("TLSv1.1",)
    assert off[0].legacy_versions is None
    assert spec.stats.peak == 1  # the legacy hello respected --per-host 1
    # Two connections per device by default: the certificate (with the HTTP HEAD riding on
    # it) and one legacy hello; then the second sweep's certificate connection.
    assert spec.stats.accepted == 3
    # ... and --help says so (it once said "two more connections per endpoint").
    from camscan.cli import build_parser

    legacy_help = " ".join(build_parser("scan", "camscan").format_help().split())
    assert "(one more connection per endpoint, within --per-host" in legacy_help


def test_client_hello_bytes() -> None:
    hello = client_hello(LEGACY_VERSIONS["TLSv1.1"], "cam.example.test")
    assert hello[0] == 22  # handshake record
    assert hello[5] == 1  # ClientHello
    assert hello[9:11] == b"\x03\x02"  # client_version TLS 1.1
    assert b"cam.example.test" in hello
    assert b"cam.example.test" not in client_hello(LEGACY_VERSIONS["TLSv1.0"])


def test_each_hello_has_a_fresh_random_and_the_rest_is_the_template() -> None:
    first, second = client_hello(LEGACY_VERSIONS["TLSv1.1"]), client_hello(LEGACY_VERSIONS["TLSv1.1"])
    assert first[11:43] != second[11:43]  # the client random (RFC 5246 7.4.1.2)
    assert first[:11] == second[:11] and first[43:] == second[43:]


def test_parse_answer() -> None:
    alert = bytes([21, 3, 1, 0, 2, 2, 70])  # fatal protocol_version
    assert parse_answer(alert) is False
    assert parse_answer(b"HTTP/1.1 400 Bad Request\r\n") is None
    assert parse_answer(b"") is None
    server_hello = bytes([22, 3, 1, 0, 42, 2, 0, 0, 38, 3, 1]) + bytes(32)
    assert parse_answer(server_hello) == "TLSv1.0"
    assert parse_answer(server_hello[:9] + b"\x03\x02" + server_hello[11:]) == "TLSv1.1"
    assert parse_answer(server_hello[:9] + b"\x03\x03" + server_hello[11:]) is False
