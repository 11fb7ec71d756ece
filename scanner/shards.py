"""`--shard I/N`: one of N disjoint, even slices of a target set, for several machines or cron jobs.

The scheme: number every endpoint of the target set that survives the exclusions, in one
canonical order, from 0; shard I (1-based, as the K of coreutils `split -n l/K/N`) takes the
endpoints whose number is congruent to I-1 modulo N. So

- every endpoint is in exactly one shard (its number has exactly one remainder);
- the shards' sizes differ by at most one (N consecutive numbers hold each remainder once);
- the same targets, ports and exclusions always give the same shards, on any machine.

The canonical order is the order `TargetSet.__iter__` yields (ports, then intervals in address
order, then each address), then the explicit host:port targets (sorted), then the host-name
targets as (name, port) pairs (sorted): a name is one endpoint until the sweep resolves it.
Exclusions are applied before numbering (as zmap numbers only the allowed addresses), so a
big excluded block cannot leave one shard short.

Laziness: an interval minus the address exclusions is a set of runs of consecutive
addresses; within a run shard I's members are every N-th address from a computed offset, so
a shard of a /8 is produced arithmetically, never materialised, and never visits the
addresses of the other shards. The whole set is never counted address by address either.

zmap shards a random permutation (a cyclic group) so that probes to one network are spread
in time; here consecutive members of a shard are already N addresses apart, and the sweep's
port-major order spreads them further.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from camscan.errors import UsageError
from camscan.model import Endpoint
from camscan.scanner.targets import HostName, TargetSet, address_text

_SHARD = re.compile(r"^\s*(\d{1,9})\s*/\s*(\d{1,9})\s*$")
FORM = "I/N with 1 <= I <= N (I counts from 1), e.g. 2/3 for the second of three shards"


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def remainder(self) -> int:
        return self.index - 1


def parse_shard(text: str) -> Shard:
    """`2/3` -> Shard(2, 3); anything else is a one-line UsageError naming the expected form."""
    match = _SHARD.match(text)
    if match is None:
        raise UsageError(f"--shard {text!r}: expected {FORM}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {text!r}: expected {FORM}")
    return Shard(index, count)


def _runs(targets: TargetSet, port: int) -> Iterator[tuple[int, int, int]]:
    """(version, first, last) runs of addresses probed on `port`: intervals minus exclusions."""
    exclusions = targets.exclusions
    cut_intervals = exclusions.intervals
    starts = [(i.version, i.first) for i in cut_intervals]
    points = sorted(exclusions.points_on(port))
    for interval in targets.intervals:
        version, first, last = interval.version, interval.first, interval.last
        # Excluded intervals that may overlap, from the last one starting at or before `first`.
        index = max(bisect.bisect_right(starts, (version, first)) - 1, 0)
        cuts: list[tuple[int, int]] = []
        while index < len(cut_intervals):
            cut = cut_intervals[index]
            index += 1
            if (cut.version, cut.first) > (version, last):
                break
            if cut.version == version and cut.last >= first:
                cuts.append((cut.first, cut.last))
        low = bisect.bisect_left(points, (version, first))
        high = bisect.bisect_right(points, (version, last))
        cuts.extend((value, value) for _, value in points[low:high])
        cuts.sort()
        cursor = first
        for cut_first, cut_last in cuts:
            if cut_first > cursor:
                yield version, cursor, min(cut_first - 1, last)
            cursor = max(cursor, cut_last + 1)
            if cursor > last:
                break
        if cursor <= last:
            yield version, cursor, last


class ShardedTargets(TargetSet):
    """The endpoints of shard `shard` of `targets` (a TargetSet, so the sweep resolves names)."""

    def __init__(self, targets: TargetSet, shard: Shard) -> None:
        self.shard = shard
        self._full = targets
        self.ports = targets.ports
        self.exclusions = targets.exclusions
        self._intervals = targets.intervals
        self._endpoints = tuple(e for e in targets.explicit_endpoints if not targets.exclusions.excludes(e))
        address_items = sum(
            last - first + 1 for port in self.ports for _, first, last in _runs(targets, port)
        )
        number = address_items + len(self._endpoints)
        self._address_items = address_items
        hostnames: list[HostName] = []
        for host in targets.hostnames:
            mine: list[int] = []
            for port in host.ports:
                if targets.exclusions.excludes_name(host.name, port):
                    continue
                if number % shard.count == shard.remainder:
                    mine.append(port)
                number += 1
            if mine:
                hostnames.append(HostName(host.name, tuple(mine)))
        self.hostnames = tuple(hostnames)
        self.total = number  # endpoints of all shards together (host names unresolved)

    def estimated_size(self) -> int:
        """This shard's endpoints exactly (host names counted once per port, unresolved)."""
        count, remainder = self.shard.count, self.shard.remainder
        return self.total // count + (1 if remainder < self.total % count else 0)

    def __iter__(self) -> Iterator[Endpoint]:
        count, remainder = self.shard.count, self.shard.remainder
        number = 0  # the canonical number of the first endpoint of the current run
        for port in self.ports:
            for version, first, last in _runs(self._full, port):
                offset = (remainder - number) % count
                for value in range(first + offset, last + 1, count):
                    yield Endpoint(address_text(version, value), port)
                number += last - first + 1
        for endpoint in self._endpoints:
            if number % count == remainder:
                yield endpoint
            number += 1


def shard_targets(targets: TargetSet, shard: Shard | None) -> TargetSet:
    """`targets` itself without a shard (or 1/1); else its shard."""
    if shard is None or shard.count == 1:
        return targets
    return ShardedTargets(targets, shard)

