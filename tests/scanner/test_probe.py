"""The permissive probe against real TLS servers (and broken ones) on 127.x addresses."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable

import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from camscan import pki
from camscan.certinfo import cert_der, key_description
from camscan.model import Endpoint, FailureKind, Observation, ProbeFailure, ProbeStage
from camscan.scanner.tls_probe import ProbeSettings, classify_handshake_error, presented_chain, probe
from tests.scanner.conftest import WEAK
from tests.support.tls_servers import ServerSpec, ipv6_loopback_available, serve, unused_port

FAST = ProbeSettings(connect_timeout=2, handshake_timeout=2, http_timeout=2)


async def probe_server(spec: ServerSpec, host: str, settings: ProbeSettings = FAST,
                       server_name: str | None = None) -> Observation | ProbeFailure:
    async with trio.open_nursery() as nursery:
        address, port = await nursery.start(serve, spec, host)
        with trio.fail_after(15):
            result = await probe(Endpoint(address, port, server_name), settings)
        nursery.cancel_scope.cancel()
    return result


async def observe(spec: ServerSpec, host: str, **kwargs: object) -> Observation:
    result = await probe_server(spec, host, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Observation), result
    return result


async def test_leaf_only(intermediate_ca: pki.Issued, next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(intermediate_ca, common_name="cam", ips=[host])
    obs = await observe(ServerSpec(chain=[leaf.cert], key=leaf.key), host)
    assert obs.chain_der == (leaf.cert_der,)
    assert obs.endpoint.address == host
    assert obs.tls_version == "TLSv1.3"
    assert obs.cipher.startswith("TLS_")
    assert abs((dt.datetime.now(dt.UTC) - obs.observed_at).total_seconds()) < 30
    assert obs.legacy_versions is None  # not probed here: rules must not judge


async def test_leaf_and_intermediate_in_order(
    root_ca: pki.Issued, intermediate_ca: pki.Issued, next_host: Callable[[], str]
) -> None:
    host = next_host()
    leaf = pki.make_leaf(intermediate_ca, common_name="cam", ips=[host])
    obs = await observe(ServerSpec(chain=[leaf.cert, intermediate_ca.cert], key=leaf.key), host)
    assert obs.chain_der == (leaf.cert_der, intermediate_ca.cert_der)


async def test_misordered_chain_is_recorded_as_sent(
    root_ca: pki.Issued, intermediate_ca: pki.Issued, next_host: Callable[[], str]
) -> None:
    host = next_host()
    leaf = pki.make_leaf(intermediate_ca, common_name="cam", ips=[host])
    chain = [leaf.cert, root_ca.cert, intermediate_ca.cert]
    obs = await observe(ServerSpec(chain=chain, key=leaf.key), host)
    assert obs.chain_der == tuple(cert_der(c) for c in chain)


async def test_self_signed(next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(None, common_name=host, ips=[host])
    obs = await observe(ServerSpec(chain=[leaf.cert], key=leaf.key), host)
    assert obs.leaf.issuer == obs.leaf.subject
    assert obs.chain_der == (leaf.cert_der,)


async def test_expired(intermediate_ca: pki.Issued, next_host: Callable[[], str]) -> None:
    host = next_host()
    start = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
    leaf = pki.make_leaf(intermediate_ca, ips=[host], not_before=start,
                         not_after=start + dt.timedelta(days=30))
    obs = await observe(ServerSpec(chain=[leaf.cert], key=leaf.key), host)
    assert obs.leaf.not_valid_after_utc < dt.datetime.now(dt.UTC)


async def test_rsa_1024(intermediate_ca: pki.Issued, next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(intermediate_ca, ips=[host], key=pki.new_key("rsa-1024"))
    obs = await observe(ServerSpec(chain=[leaf.cert], key=leaf.key), host)
    assert key_description(obs.leaf) == ("RSA", 1024)


async def test_sha1_signed(next_host: Callable[[], str]) -> None:
    host = next_host()
    cert = x509.load_pem_x509_certificate((WEAK / "sha1-server.pem").read_bytes())
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA1)
    spec = ServerSpec(chain=[cert], key_pem=(WEAK / "sha1-server.key").read_bytes())
    obs = await observe(spec, host)
    assert obs.chain_der == (cert_der(cert),)
    assert isinstance(obs.leaf.signature_hash_algorithm, hashes.SHA1)


async def test_tls12_only_server(intermediate_ca: pki.Issued, next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(intermediate_ca, ips=[host], key=pki.new_key("rsa-2048"))
    spec = ServerSpec(chain=[leaf.cert], key=leaf.key, max_version=ssl.TLSVersion.TLSv1_2)
    obs = await observe(spec, host)
    assert obs.tls_version == "TLSv1.2"
    assert "TLS_" not in obs.cipher  # an OpenSSL TLS 1.2 suite name such as ECDHE-RSA-AES256-GCM-SHA384


async def test_tls10_server_is_still_observed(
    intermediate_ca: pki.Issued, next_host: Callable[[], str]
) -> None:
    host = next_host()
    leaf = pki.make_leaf(intermediate_ca, ips=[host])
    spec = ServerSpec(chain=[leaf.cert], key=leaf.key, min_version=ssl.TLSVersion.TLSv1,
                      max_version=ssl.TLSVersion.TLSv1)
    obs = await observe(spec, host)
    assert obs.tls_version == "TLSv1"


async def test_no_sni_for_an_ip_target(intermediate_ca: pki.Issued, next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(intermediate_ca, ips=[host])
    spec = ServerSpec(chain=[leaf.cert], key=leaf.key)
    await observe(spec, host)
    assert spec.stats.server_names == [None]


async def test_sni_for_a_named_target(intermediate_ca: pki.Issued, next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(intermediate_ca, dns=["cam1.example.test"])
    spec = ServerSpec(chain=[leaf.cert], key=leaf.key)
    obs = await observe(spec, host, server_name="cam1.example.test")
    assert spec.stats.server_names == ["cam1.example.test"]
    assert obs.endpoint.server_name == "cam1.example.test"


async def test_silent_server_times_out_on_time(next_host: Callable[[], str]) -> None:
    settings = ProbeSettings(connect_timeout=1, handshake_timeout=0.5)
    start = trio.current_time()
    result = await probe_server(ServerSpec(behaviour="silent"), next_host(), settings)
    elapsed = trio.current_time() - start
    assert isinstance(result, ProbeFailure)
    assert (result.stage, result.kind) == (ProbeStage.HANDSHAKE, FailureKind.TIMEOUT)
    assert "0.5s" in result.detail
    assert elapsed < 3


async def test_garbage_is_not_tls(next_host: Callable[[], str]) -> None:
    result = await probe_server(ServerSpec(behaviour="garbage"), next_host())
    assert isinstance(result, ProbeFailure)
    assert (result.stage, result.kind) == (ProbeStage.HANDSHAKE, FailureKind.NOT_TLS)


async def test_reset_during_handshake(next_host: Callable[[], str]) -> None:
    result = await probe_server(ServerSpec(behaviour="reset"), next_host())
    assert isinstance(result, ProbeFailure)
    assert (result.stage, result.kind) == (ProbeStage.HANDSHAKE, FailureKind.RESET)


async def test_close_before_handshake(next_host: Callable[[], str]) -> None:
    result = await probe_server(ServerSpec(behaviour="close"), next_host())
    assert isinstance(result, ProbeFailure)
    assert result.kind is FailureKind.RESET


async def test_refused_port(next_host: Callable[[], str]) -> None:
    host = next_host()
    with trio.fail_after(10):
        result = await probe(Endpoint(host, unused_port(host)), FAST)
    assert isinstance(result, ProbeFailure)
    assert (result.stage, result.kind) == (ProbeStage.CONNECT, FailureKind.REFUSED)


async def test_handshake_alert_is_handshake_failed(
    intermediate_ca: pki.Issued, next_host: Callable[[], str]
) -> None:
    # The server demands a client certificate the probe never sends; under TLS 1.2 it aborts
    # the handshake with an alert.
    host = next_host()
    leaf = pki.make_leaf(intermediate_ca, ips=[host])
    spec = ServerSpec(chain=[leaf.cert], key=leaf.key, max_version=ssl.TLSVersion.TLSv1_2,
                      client_ca=intermediate_ca.cert)
    result = await probe_server(spec, host)
    assert isinstance(result, ProbeFailure)
    assert (result.stage, result.kind) == (ProbeStage.HANDSHAKE, FailureKind.HANDSHAKE_FAILED)
    assert "ALERT" in result.detail.upper()


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback (::1) here")
async def test_ipv6_loopback(intermediate_ca: pki.Issued) -> None:
    leaf = pki.make_leaf(intermediate_ca, ips=["::1"])
    obs = await observe(ServerSpec(chain=[leaf.cert], key=leaf.key), "::1")
    assert obs.endpoint.address == "::1"
    assert obs.chain_der == (leaf.cert_der,)
    assert obs.http is not None and obs.http.status == 200


def test_classify_plain_errors() -> None:
    assert classify_handshake_error(trio.BrokenResourceError())[0] is FailureKind.RESET
    broken = trio.BrokenResourceError()
    broken.__cause__ = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    assert classify_handshake_error(broken)[0] is FailureKind.RESET
    broken.__cause__ = ConnectionResetError(104, "reset")
    assert classify_handshake_error(broken)[0] is FailureKind.RESET
    assert classify_handshake_error(ValueError("odd"))[0] is FailureKind.ERROR


def test_presented_chain_supports_both_apis() -> None:
    der = pki.make_leaf(None, common_name="x").cert_der

    class Public:  # Python 3.13: SSLObject.get_unverified_chain() returns DER bytes
        def get_unverified_chain(self) -> list[bytes]:
            return [der]

    class Certificate:  # Python 3.11/3.12: _ssl.Certificate objects via the private _sslobj
        def public_bytes(self, encoding: int) -> bytes:
            assert encoding == ssl._ssl.ENCODING_DER  # type: ignore[attr-defined]
            return der

    class Inner:
        def get_unverified_chain(self) -> list[Certificate]:
            return [Certificate()]

    class Private:
        _sslobj = Inner()

    class Empty:
        def get_unverified_chain(self) -> None:
            return None

    assert presented_chain(Public()) == (der,)
    assert presented_chain(Private()) == (der,)
    assert presented_chain(Empty()) == ()
