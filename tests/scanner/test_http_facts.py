"""HTTP facts after the handshake: Server, Date -> device clock, WWW-Authenticate; bounds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import h11
import trio

from camscan import pki
from camscan.model import Endpoint, Observation
from camscan.scanner.http_facts import facts_from_response, host_header, parse_http_date
from camscan.scanner.tls_probe import ProbeSettings, probe
from tests.support.tls_servers import ServerSpec, serve


async def observe(spec: ServerSpec, host: str, settings: ProbeSettings) -> tuple[Observation, float]:
    async with trio.open_nursery() as nursery:
        address, port = await nursery.start(serve, spec, host)
        start = trio.current_time()
        with trio.fail_after(15):
            result = await probe(Endpoint(address, port), settings)
        elapsed = trio.current_time() - start
        nursery.cancel_scope.cancel()
    assert isinstance(result, Observation), result
    return result, elapsed


def test_parse_http_date() -> None:
    moment = dt.datetime(1994, 11, 6, 8, 49, 37, tzinfo=dt.UTC)
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == moment
    assert parse_http_date("Sun, 06 Nov 1994 10:49:37 +0200") == moment
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 -0000") == moment
    assert parse_http_date("yesterday-ish") is None
    assert parse_http_date("") is None
    assert parse_http_date(None) is None


def test_facts_from_response_joins_repeated_headers() -> None:
    response = h11.Response(
        status_code=401,
        headers=[("Server", "Webs"), ("WWW-Authenticate", 'Digest realm="Login to 4C11BF123456"'),
                 ("WWW-Authenticate", 'Basic realm="x"'), ("Date", "Mon, 02 Jan 2023 03:04:05 GMT")],
    )
    facts = facts_from_response(response)
    assert facts.status == 401
    assert facts.server == "Webs"
    assert facts.www_authenticate == 'Digest realm="Login to 4C11BF123456", Basic realm="x"'
    assert facts.device_time == dt.datetime(2023, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_host_header() -> None:
    assert host_header("127.0.0.1", 443, None) == "127.0.0.1"
    assert host_header("::1", 8443, None) == "[::1]:8443"
    assert host_header("127.0.0.1", 8443, "cam.example.test") == "cam.example.test:8443"


async def test_server_date_and_realm_recorded(next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(None, ips=[host])
    spec = ServerSpec(
        chain=[leaf.cert], key=leaf.key, http_status=401,
        http_headers=[("Server", "Webs"), ("Date", "Tue, 03 Jan 2023 04:05:06 GMT"),
                      ("WWW-Authenticate", 'Digest realm="Login to 4C11BF123456", qop="auth"')],
    )
    obs, _ = await observe(spec, host, ProbeSettings(handshake_timeout=3, http_timeout=3))
    assert obs.http is not None
    assert obs.http.status == 401
    assert obs.http.server == "Webs"
    assert obs.http.date == "Tue, 03 Jan 2023 04:05:06 GMT"
    assert obs.http.device_time == dt.datetime(2023, 1, 3, 4, 5, 6, tzinfo=dt.UTC)
    assert obs.http.www_authenticate is not None and "4C11BF123456" in obs.http.www_authenticate


async def test_hostile_header_text_is_kept_raw_for_the_renderers(next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(None, ips=[host])
    spec = ServerSpec(chain=[leaf.cert], key=leaf.key,
                      http_headers=[("Server", "<script>alert(1)</script>\x1b]0;pwned")])
    obs, _ = await observe(spec, host, ProbeSettings(http_timeout=3))
    # Stored as sent: the HTML report escapes it, the terminal table sanitizes it.
    assert obs.http is not None
    assert obs.http.server == "<script>alert(1)</script>\x1b]0;pwned"
    assert obs.chain_der == (leaf.cert_der,)


async def test_http_disabled(next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(None, ips=[host])
    obs, _ = await observe(ServerSpec(chain=[leaf.cert], key=leaf.key), host,
                           ProbeSettings(http_facts=False))
    assert obs.http is None


async def test_no_http_answer_keeps_the_observation(next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(None, ips=[host])
    obs, _ = await observe(ServerSpec(chain=[leaf.cert], key=leaf.key, http=False), host,
                           ProbeSettings(http_timeout=3))
    assert obs.http is None
    assert obs.chain_der == (leaf.cert_der,)


async def test_stalled_http_is_bounded_in_time(next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(None, ips=[host])
    obs, elapsed = await observe(ServerSpec(chain=[leaf.cert], key=leaf.key, behaviour="tls-stall"), host,
                                 ProbeSettings(http_timeout=0.5))
    assert obs.http is None
    assert elapsed < 3


async def test_huge_headers_are_bounded_in_bytes(next_host: Callable[[], str]) -> None:
    host = next_host()
    leaf = pki.make_leaf(None, ips=[host])
    spec = ServerSpec(chain=[leaf.cert], key=leaf.key, http_headers=[("X-Filler", "a" * 200_000)])
    obs, _ = await observe(spec, host, ProbeSettings(http_timeout=5, http_max_bytes=8192))
    assert obs.http is None
    assert obs.chain_der == (leaf.cert_der,)
