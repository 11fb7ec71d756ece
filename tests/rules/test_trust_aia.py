"""AIA caIssuers fetching with a real HTTP server on 127.x: found, cached, bounded, never offline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from camscan import pki
from camscan.certinfo import cert_sha256
from camscan.model import AuditContext, Endpoint, Finding, Observation, ScanParameters, ScanResult
from camscan.pipeline import judge
from camscan.rules.registry import evaluate
from camscan.rules.trust import SITE, Bundle, TrustConfig, prefetch

HOST = "127.0.0.53"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ROOT = pki.make_ca("AIA Test Root")
INTER = pki.make_ca("AIA Test Issuing CA", issuer=ROOT)


@dataclass
class HTTPServer:
    routes: dict[str, bytes | None]  # path -> body; None: never answer
    requests: list[str] = field(default_factory=list)
    port: int = 0

    async def handle(self, stream: trio.SocketStream) -> None:
        data = b""
        with trio.move_on_after(5):
            while b"\r\n\r\n" not in data and len(data) < 8192:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    return
                data += chunk
        path = data.split(b" ", 2)[1].decode() if data.count(b" ") >= 2 else "?"
        self.requests.append(path)
        body = self.routes.get(path, b"")
        if body is None:
            await trio.sleep_forever()
        status = b"200 OK" if path in self.routes else b"404 Not Found"
        head = b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        await stream.send_all(head + body)
        await stream.aclose()

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host=HOST)
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self.handle, listeners)

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"


def observation(leaf: pki.Issued) -> Observation:
    return Observation(Endpoint("127.0.0.7", 443), (leaf.cert_der,), "TLSv1.3", "x", NOW)


def trust(cache: Path | None, **kw: object) -> TrustConfig:
    return TrustConfig(mode=SITE, site_bundles=(Bundle("root.pem", (ROOT.cert,)),), cache_dir=cache, **kw)  # type: ignore[arg-type]


async def audit(obs: Observation, cfg: TrustConfig) -> list[Finding]:
    ctx = AuditContext(now=NOW, trust=cfg)
    await prefetch([obs], ctx)
    return evaluate([obs], ctx)


def cs201(found: list[Finding]) -> Finding:
    (f,) = [f for f in found if f.rule_id == "CS201"]
    return f


BODIES = {
    "/inter.der": INTER.cert_der,
    "/inter.pem": INTER.cert_pem,
    "/inter.p7c": pkcs7.serialize_certificates([INTER.cert], serialization.Encoding.DER),
}


@pytest.mark.parametrize("path", sorted(BODIES))
async def test_aia_intermediate_is_fetched_and_cached(path: str, tmp_path: Path) -> None:
    server = HTTPServer(dict(BODIES))
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            leaf = pki.make_leaf(INTER, ips=["127.0.0.7"], aia_ca_issuers_url=server.url(path))
            found = await audit(observation(leaf), trust(tmp_path))
            f = cs201(found)
            assert f.evidence["found_in"] == "aia" and f.evidence["where"] == server.url(path)
            assert "AIA" in f.message
            assert not [x for x in found if x.rule_id in {"CS202", "CS203", "CS204"}]
            assert (tmp_path / f"{cert_sha256(INTER.cert)}.der").read_bytes() == INTER.cert_der
            assert server.requests == [path]
            # next run, offline: the cache completes the chain and nothing is fetched
            again = await audit(observation(leaf), trust(tmp_path, offline=True))
            assert cs201(again).evidence["found_in"] == "cache"
            assert server.requests == [path]
            nursery.cancel_scope.cancel()


async def test_offline_never_fetches(tmp_path: Path) -> None:
    server = HTTPServer(dict(BODIES))
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            leaf = pki.make_leaf(INTER, ips=["127.0.0.7"], aia_ca_issuers_url=server.url("/inter.der"))
            f = cs201(await audit(observation(leaf), trust(tmp_path, offline=True)))
            assert f.evidence["found_in"] is None
            assert any("--offline" in e for e in f.evidence["aia_errors"])
            assert server.requests == []
            nursery.cancel_scope.cancel()


async def test_oversized_missing_and_garbage_answers_are_reported(tmp_path: Path) -> None:
    server = HTTPServer({"/big": b"0" * 5000, "/junk": b"<html>not a cert</html>"})
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            for path, words in (("/big", "larger than"), ("/junk", "not a certificate"), ("/nope", "404")):
                leaf = pki.make_leaf(INTER, ips=["127.0.0.7"], aia_ca_issuers_url=server.url(path))
                f = cs201(await audit(observation(leaf), trust(None, aia_max_bytes=1000)))
                assert f.evidence["found_in"] is None
                assert any(words in e for e in f.evidence["aia_errors"]), f.evidence
            nursery.cancel_scope.cancel()


async def test_a_hanging_aia_server_does_not_stall_the_audit() -> None:
    server = HTTPServer({"/hang": None})
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            leaf = pki.make_leaf(INTER, ips=["127.0.0.7"], aia_ca_issuers_url=server.url("/hang"))
            started = trio.current_time()
            f = cs201(await audit(observation(leaf), trust(None, aia_timeout=0.3)))
            assert trio.current_time() - started < 5
            assert any("timed out" in e or "Timeout" in e for e in f.evidence["aia_errors"]), f.evidence
            nursery.cancel_scope.cancel()


async def test_pipeline_judge_runs_the_prefetch(tmp_path: Path) -> None:
    server = HTTPServer(dict(BODIES))
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            leaf = pki.make_leaf(INTER, ips=["127.0.0.7"], aia_ca_issuers_url=server.url("/inter.der"))
            obs = observation(leaf)
            scan = ScanResult(ScanParameters(("127.0.0.7",), (443,)), NOW, NOW, (obs,), ())
            audit_result = await judge(scan, AuditContext(now=NOW, trust=trust(tmp_path)))
            assert cs201(list(audit_result.findings)).evidence["found_in"] == "aia"
            nursery.cancel_scope.cancel()


async def test_a_fleet_of_leaves_whose_issuer_aia_gives_is_missing_an_intermediate(tmp_path: Path) -> None:
    # Several devices send only their leaf and none sends the issuer, whose name even says Root:
    # the leaves' AIA URL gives it, so it is a missing intermediate (CS201 found in AIA), never
    # the built-in root camscan would otherwise infer (CS202).
    rootish = pki.make_ca("AIA Fleet Root Issuing CA", issuer=ROOT)
    server = HTTPServer({"/rootish.der": rootish.cert_der})
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            leaves = {
                f"127.0.6.{i}": pki.make_leaf(
                    rootish, ips=[f"127.0.6.{i}"], aia_ca_issuers_url=server.url("/rootish.der")
                )
                for i in range(1, 5)
            }
            observations = [
                Observation(Endpoint(a, 443), (c.cert_der,), "TLSv1.3", "x", NOW) for a, c in leaves.items()
            ]
            scan = ScanResult(ScanParameters(("127.0.6.1-4",), (443,)), NOW, NOW, tuple(observations), ())
            result = await judge(scan, AuditContext(now=NOW, trust=trust(tmp_path)))
            nursery.cancel_scope.cancel()
    for obs in observations:
        chain = [f for f in result.findings if f.endpoint == obs.endpoint and f.rule_id.startswith("CS2")]
        assert [f.rule_id for f in chain] == ["CS201"], chain
        assert chain[0].evidence["found_in"] == "aia"
    assert server.requests == ["/rootish.der"]  # one fetch for the whole fleet
