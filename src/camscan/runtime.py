"""trio.run for the commands: SIGTERM and Ctrl-C stop a run cleanly, at a checkpoint.

trio's own Ctrl-C handling raises KeyboardInterrupt wherever the interpreter happens to be in
unprotected code. Landing inside Nursery.start_soon (the sweep spawns 256 workers in a row at
its start) it orphans a half-spawned task's coroutine: "camscan: interrupted" is then followed by
"RuntimeWarning: coroutine 'sweep.<locals>.worker' was never awaited". So during a run a task of
ours receives SIGINT and SIGTERM and raises KeyboardInterrupt at a checkpoint instead: the
sweep is cancelled in order and every cleanup (temporary report files) runs. Outside trio the
CLI turns SIGTERM into SIGINT (see cli._sigterm_as_interrupt).
"""

from __future__ import annotations

import contextlib
import resource
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")


def run(async_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    if threading.current_thread() is not threading.main_thread():
        return trio.run(async_fn, *args)

    async def stop_on_signal(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                raise KeyboardInterrupt

    # The receiver is open before async_fn starts; until then this frame is KI-protected, so a
    # signal that comes earlier (SIGTERM as the CLI's SIGINT, or Ctrl-C) waits for a checkpoint.
    @trio.lowlevel.enable_ki_protection
    async def main() -> T:
        async with trio.open_nursery() as nursery:
            await nursery.start(stop_on_signal)
            result = await _interruptible(async_fn, *args)
            nursery.cancel_scope.cancel()
            return result

    return trio.run(main)


@trio.lowlevel.disable_ki_protection
async def _interruptible(async_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """async_fn without the KI protection of main(): should a signal arrive once the receiver
    is closed again (the run is ending), trio's usual behaviour applies to the command's code."""
    return await async_fn(*args)


def raise_fd_limit(needed: int) -> int:
    """Raise the soft open-files limit toward `needed` (up to the hard limit); return the soft limit.

    A sweep or a lab holds one descriptor per connection in flight: the usual soft limit of 1,024
    would fail connections with EMFILE long before the concurrency asked for."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
