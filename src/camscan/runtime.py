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

    async def main() -> T:
        async with trio.open_nursery() as nursery:

            async def stop_on_sigterm() -> None:
                with trio.open_signal_receiver(signal.SIGTERM) as signals:
                    async for _ in signals:
                        raise KeyboardInterrupt

            nursery.start_soon(stop_on_sigterm)
            result = await async_fn(*args)
            nursery.cancel_scope.cancel()
            return result

    return trio.run(main)
