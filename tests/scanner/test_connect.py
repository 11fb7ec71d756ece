"""The TCP connect under the probe, and the per-host slots, on 127.x addresses.

A listener whose accept queue is full drops new SYNs (Linux): a connect to it stays pending,
which gives the slow paths (timeout, a refusal that arrives late) without leaving loopback.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import trio
import trio.testing

from camscan.model import Endpoint, FailureKind, ProbeFailure, ProbeStage
from camscan.scanner.sweep import _HostLimits
from camscan.scanner.tls_probe import connect
from tests.support.tls_servers import unused_port


@contextmanager
def full_listener(host: str) -> Iterator[tuple[socket.socket, Endpoint]]:
    """A listener that answers no SYN: backlog 0 and one connection already queued."""
    listener = socket.socket()
    filler = socket.socket()
    try:
        listener.bind((host, 0))
        listener.listen(0)
        filler.settimeout(5)
        filler.connect(listener.getsockname())  # never accepted: the queue stays full
        yield listener, Endpoint(host, listener.getsockname()[1])
    finally:
        filler.close()
        listener.close()


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_refused_port_is_refused(next_host: Callable[[], str]) -> None:
    host = next_host()
    with trio.fail_after(5):
        result = await connect(Endpoint(host, unused_port(host)), 2)
    assert isinstance(result, ProbeFailure)
    assert (result.stage, result.kind, result.detail) == (ProbeStage.CONNECT, FailureKind.REFUSED,
                                                          "Connection refused")


async def test_dropped_syns_time_out(next_host: Callable[[], str]) -> None:
    with full_listener(next_host()) as (_, endpoint):
        start = trio.current_time()
        with trio.fail_after(5):
            result = await connect(endpoint, 0.3)
        elapsed = trio.current_time() - start
    assert isinstance(result, ProbeFailure)
    assert (result.stage, result.kind, result.detail) == (ProbeStage.CONNECT, FailureKind.TIMEOUT,
                                                          "no answer within 0.3s")
    assert 0.3 <= elapsed < 2


async def test_a_refusal_that_comes_late_is_refused(next_host: Callable[[], str]) -> None:
    # The connect waits (its SYN was dropped); the listener then goes away, so the SYN sent
    # again (after about 1 s) is answered with a reset: the error comes through SO_ERROR after
    # the wait, not from connect() itself.
    with full_listener(next_host()) as (listener, endpoint):
        async def close_later() -> None:
            await trio.sleep(0.2)
            listener.close()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(close_later)
            start = trio.current_time()
            with trio.fail_after(10):
                result = await connect(endpoint, 8)
            elapsed = trio.current_time() - start
    assert isinstance(result, ProbeFailure)
    assert (result.stage, result.kind) == (ProbeStage.CONNECT, FailureKind.REFUSED)
    assert elapsed > 0.2  # it did wait for the answer


async def test_no_descriptor_is_left_behind_and_numbers_are_reused_safely(
    next_host: Callable[[], str],
) -> None:
    host = next_host()
    live = trio.socket.socket()
    await live.bind((host, 0))
    live.listen(64)
    live_endpoint = Endpoint(host, live.getsockname()[1])
    before = open_descriptors()
    with full_listener(next_host()) as (_, silent):
        with trio.fail_after(20):
            for _ in range(5):
                refused = await connect(Endpoint(host, unused_port(host)), 1)
                assert isinstance(refused, ProbeFailure) and refused.kind is FailureKind.REFUSED
                # A timed-out connect was registered with trio's I/O manager; the descriptor
                # number it frees goes to the next socket, which must connect as usual.
                timed_out = await connect(silent, 0.05)
                assert isinstance(timed_out, ProbeFailure) and timed_out.kind is FailureKind.TIMEOUT
                stream = await connect(live_endpoint, 1)
                assert isinstance(stream, trio.SocketStream)
                accepted, _ = await live.accept()
                with accepted:
                    await stream.send_all(b"ping")
                    assert await accepted.recv(4) == b"ping"
                await stream.aclose()
    live.close()
    assert open_descriptors() == before - 1  # only `live` (opened before counting) is gone


async def test_a_host_name_is_refused_not_looked_up() -> None:
    # Names are resolved by the sweep (trio's getaddrinfo, in a thread); a name reaching
    # connect() would be a blocking lookup on the event loop.
    with pytest.raises(OSError):
        await connect(Endpoint("localhost", 9), 1)


async def test_host_slots_are_handed_on_in_order_and_cancelled_waiters_leave_none() -> None:
    hosts = _HostLimits(per_host=1)
    order: list[str] = []

    async def take(name: str, task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            task_status.started(scope)
            await hosts.acquire("127.0.0.1")
            order.append(name)
            await trio.sleep(0.01)
            hosts.release("127.0.0.1")

    with trio.fail_after(5):
        await hosts.acquire("127.0.0.1")
        async with trio.open_nursery() as nursery:
            await nursery.start(take, "b")
            cancelled = await nursery.start(take, "c")
            await nursery.start(take, "d")
            await trio.testing.wait_all_tasks_blocked()
            cancelled.cancel()  # c gives up while parked: it must not hold or lose a slot
            await trio.testing.wait_all_tasks_blocked()
            await hosts.acquire("127.0.0.2")  # another address is not held up
            hosts.release("127.0.0.2")
            hosts.release("127.0.0.1")
        assert order == ["b", "d"]
        assert len(hosts) == 0
        await hosts.acquire("127.0.0.1")  # free again at once
        hosts.release("127.0.0.1")
    assert len(hosts) == 0
