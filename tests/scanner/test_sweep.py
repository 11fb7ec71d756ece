"""The sweep: limits (global, per host, rate), completeness, host names, exclusions."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
import trio

from camscan import pki
from camscan.errors import UsageError
from camscan.model import Endpoint, FailureKind, Observation, ProbeFailure, ProbeResult, ProbeStage
from camscan.scanner.sweep import SweepOptions, sweep
from camscan.scanner.targets import parse_targets
from tests.support.tls_servers import ServerSpec, serve


class FakeNames(trio.abc.HostnameResolver):
    """trio's own hook for name resolution: test names map to 127.x, anything else fails."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0,
                          proto: int = 0, flags: int = 0) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.asked.append(name)
        await trio.lowlevel.checkpoint()
        if name not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port)))
            for a in self.names[name]
        ]

    async def getnameinfo(self, sockaddr: Any, flags: int) -> tuple[str, str]:
        raise NotImplementedError


@pytest.fixture
def fake_names() -> Callable[[dict[str, list[str]]], FakeNames]:
    """Install a FakeNames resolver; it is a trio RunVar, so it ends with the test's run."""

    def install(names: dict[str, list[str]]) -> FakeNames:
        resolver = FakeNames(names)
        trio.socket.set_custom_hostname_resolver(resolver)
        return resolver

    return install


def held_spec(host: str, hold: float) -> ServerSpec:
    leaf = pki.make_leaf(None, ips=[host])
    return ServerSpec(chain=[leaf.cert], key=leaf.key, hold=hold, http=False)


async def test_per_host_limit_is_respected(next_host: Callable[[], str]) -> None:
    host = next_host()
    specs = [held_spec(host, 0.15) for _ in range(6)]
    async with trio.open_nursery() as nursery:
        endpoints = [Endpoint(*await nursery.start(serve, spec, host)) for spec in specs]
        with trio.fail_after(20):
            observations, failures = await sweep(endpoints, SweepOptions(concurrency=50, per_host=2))
        nursery.cancel_scope.cancel()
    assert len(observations) == 6 and not failures
    # All six servers share one address: their accept times show at most two at once.
    times = sorted(t for spec in specs for t in spec.stats.accept_times)
    for i in range(len(times) - 2):
        assert times[i + 2] - times[i] >= 0.1, times


async def test_global_concurrency_limit(next_host: Callable[[], str]) -> None:
    hosts = [next_host() for _ in range(6)]
    specs = [held_spec(h, 0.15) for h in hosts]
    async with trio.open_nursery() as nursery:
        endpoints = [Endpoint(*await nursery.start(serve, s, h)) for s, h in zip(specs, hosts, strict=True)]
        with trio.fail_after(20):
            observations, _ = await sweep(endpoints, SweepOptions(concurrency=3, per_host=2))
        nursery.cancel_scope.cancel()
    assert len(observations) == 6
    times = sorted(t for spec in specs for t in spec.stats.accept_times)
    for i in range(len(times) - 3):
        assert times[i + 3] - times[i] >= 0.1, times


async def test_rate_limit_spreads_new_connections(next_host: Callable[[], str]) -> None:
    host = next_host()
    spec = held_spec(host, 0)
    async with trio.open_nursery() as nursery:
        _, port = await nursery.start(serve, spec, host)
        other_hosts = [next_host() for _ in range(4)]
        # Refused endpoints count too: the rate limits SYNs, not successes.
        endpoints = [Endpoint(host, port)] + [Endpoint(h, port) for h in other_hosts]
        start = trio.current_time()
        with trio.fail_after(20):
            observations, failures = await sweep(endpoints, SweepOptions(rate=10))
        elapsed = trio.current_time() - start
        nursery.cancel_scope.cancel()
    assert len(observations) == 1 and len(failures) == 4
    assert elapsed >= 0.38  # 5 connections at 10/s: the last may start 0.4 s after the first


async def test_every_endpoint_ends_exactly_once() -> None:
    targets = parse_targets(["127.43.1.0/24"], ports=(9,))  # nothing listens on the discard port
    seen: list[ProbeResult] = []
    with trio.fail_after(30):
        observations, failures = await sweep(targets, SweepOptions(concurrency=64), on_result=seen.append)
    assert not observations
    assert len(failures) == 254 == len(seen)
    assert {f.endpoint for f in failures} == set(targets)
    assert {f.kind for f in failures} == {FailureKind.REFUSED}


async def test_mixed_results_are_all_accounted_for(next_host: Callable[[], str]) -> None:
    behaviours = ["tls", "silent", "garbage", "reset", "tls"]
    async with trio.open_nursery() as nursery:
        endpoints = []
        for behaviour in behaviours:
            host = next_host()
            spec = held_spec(host, 0) if behaviour == "tls" else ServerSpec(behaviour=behaviour)
            endpoints.append(Endpoint(*await nursery.start(serve, spec, host)))
        start = trio.current_time()
        with trio.fail_after(20):
            observations, failures = await sweep(endpoints, SweepOptions(handshake_timeout=0.5))
        elapsed = trio.current_time() - start
        nursery.cancel_scope.cancel()
    assert len(observations) == 2
    assert sorted(f.kind.value for f in failures) == ["not_tls", "reset", "timeout"]
    assert elapsed < 3  # the silent one cost only its timeout, in parallel with the rest


async def test_host_names_resolve_with_sni(
    next_host: Callable[[], str], fake_names: Callable[[dict[str, list[str]]], FakeNames]
) -> None:
    host = next_host()
    leaf = pki.make_leaf(None, dns=["cam1.example.test"])
    spec = ServerSpec(chain=[leaf.cert], key=leaf.key, http=False)
    async with trio.open_nursery() as nursery:
        _, port = await nursery.start(serve, spec, host)
        resolver = fake_names({"cam1.example.test": [host]})
        targets = parse_targets(["cam1.example.test", "gone.example.test"], ports=(port,))
        with trio.fail_after(20):
            observations, failures = await sweep(targets, SweepOptions())
        nursery.cancel_scope.cancel()
    assert [o.endpoint for o in observations] == [Endpoint(host, port, "cam1.example.test")]
    assert spec.stats.server_names == ["cam1.example.test"]
    assert len(failures) == 1
    failure = failures[0]
    assert (failure.stage, failure.kind) == (ProbeStage.RESOLVE, FailureKind.NAME_RESOLUTION)
    assert failure.endpoint.server_name == "gone.example.test"
    assert sorted(resolver.asked) == ["cam1.example.test", "gone.example.test"]


async def test_exclusions_apply_to_resolved_names(
    next_host: Callable[[], str], fake_names: Callable[[dict[str, list[str]]], FakeNames]
) -> None:
    host, skipped = next_host(), next_host()
    resolver = fake_names({"nvr.example.test": [host, skipped], "old.example.test": [host]})
    targets = parse_targets(["nvr.example.test", "old.example.test"], ports=(9,),
                            exclude=[skipped, "old.example.test"])
    with trio.fail_after(20):
        observations, failures = await sweep(targets, SweepOptions())
    assert not observations
    assert [f.endpoint for f in failures] == [Endpoint(host, 9, "nvr.example.test")]
    assert resolver.asked == ["nvr.example.test"]


async def test_a_bug_in_a_probe_becomes_an_error_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    import camscan.scanner.sweep as sweep_module

    async def broken(endpoint: Endpoint, settings: object) -> ProbeResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(sweep_module, "probe", broken)
    with trio.fail_after(10):
        observations, failures = await sweep([Endpoint("127.0.0.1", 9)], SweepOptions())
    assert not observations
    assert failures[0].kind is FailureKind.ERROR and "boom" in failures[0].detail


def test_options_are_validated() -> None:
    with pytest.raises(UsageError, match="--concurrency"):
        SweepOptions(concurrency=0)
    with pytest.raises(UsageError, match="--per-host"):
        SweepOptions(per_host=0)
    with pytest.raises(UsageError, match="--rate"):
        SweepOptions(rate=-1)
    with pytest.raises(UsageError, match="--connect-timeout"):
        SweepOptions(connect_timeout=0)
    with pytest.raises(UsageError, match="--handshake-timeout"):
        SweepOptions(handshake_timeout=float("nan"))


async def test_observations_carry_the_endpoint(next_host: Callable[[], str]) -> None:
    host = next_host()
    async with trio.open_nursery() as nursery:
        endpoint = Endpoint(*await nursery.start(serve, held_spec(host, 0), host))
        with trio.fail_after(10):
            observations, _ = await sweep([endpoint], SweepOptions())
        nursery.cancel_scope.cancel()
    assert isinstance(observations[0], Observation) and observations[0].endpoint == endpoint
    assert not isinstance(observations[0], ProbeFailure)
