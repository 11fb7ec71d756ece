"""trio.run for the commands: SIGTERM stops a run the way Ctrl-C does, but cleanly.

The CLI turns SIGTERM into SIGINT for the moments outside trio (see cli._sigterm_as_interrupt).
Inside a run that would raise KeyboardInterrupt wherever the interpreter happens to be; here a
task of ours receives SIGTERM and raises KeyboardInterrupt at a checkpoint instead, so the
sweep is cancelled in order and every cleanup (temporary report files) runs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")


def run(async_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    if threading.current_thread() is not threading.main_thread():
        return trio.run(async_fn, *args)

    async def stop_on_sigterm(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with trio.open_signal_receiver(signal.SIGTERM) as signals:
            task_status.started()
            async for _ in signals:
                raise KeyboardInterrupt

    # Until the receiver above is open, SIGTERM still takes the CLI's way (raised again as
    # SIGINT), and trio raises a SIGINT in unprotected code wherever it lands: inside
    # Nursery.start_soon that orphans the task's coroutine half-spawned ("coroutine 'worker' was
    # never awaited" after "camscan: interrupted"). So the receiver is open before async_fn
    # starts, and until then this frame is KI-protected: an early signal waits for a checkpoint.
    @trio.lowlevel.enable_ki_protection
    async def main() -> T:
        async with trio.open_nursery() as nursery:
            await nursery.start(stop_on_sigterm)
            result = await _interruptible(async_fn, *args)
            nursery.cancel_scope.cancel()
            return result

    return trio.run(main)


@trio.lowlevel.disable_ki_protection
async def _interruptible(async_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """async_fn with trio's usual Ctrl-C behaviour (KeyboardInterrupt raised where it lands)."""
    return await async_fn(*args)
