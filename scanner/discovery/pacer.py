"""One packets-per-second cap for every discovery method of a run (ARP, SYN and connect together).

A token bucket refilled at `rate` tokens a second, holding at most 10 ms of tokens: senders take
tokens in small batches (one Python call per packet would cost more than the packet), and no
burst larger than 1% of a second's budget ever leaves at once.
"""

from __future__ import annotations

import math

import trio

from camscan.errors import UsageError


class Pacer:
    def __init__(self, rate: float) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise UsageError(f"--discovery-rate must be a positive number of packets per second (got {rate})")
        self.rate = rate
        self._burst = max(1.0, rate / 100)
        self._tokens = 0.0
        self._last: float | None = None
        self.sent = 0  # tokens handed out: packets sent (or connects started) by every method

    def _refill(self) -> None:
        now = trio.current_time()
        if self._last is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    async def take(self, wanted: int = 1) -> int:
        """Wait until at least one packet may go; return how many may go now (1..wanted)."""
        while True:
            self._refill()
            if self._tokens >= 1 - 1e-9:  # float rounding must not cost another sleep
                granted = max(1, min(wanted, int(self._tokens + 1e-9)))
                self._tokens -= granted
                self.sent += granted
                await trio.lowlevel.checkpoint()  # Ctrl-C and the receivers get a turn
                return granted
            # At least a millisecond: a sleep shorter than the clock's resolution never ends the wait.
            await trio.sleep(max((1 - self._tokens) / self.rate, 0.001))
