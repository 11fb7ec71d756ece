"""The camera lab in its own trio loop on a thread, for tests that run `camscan audit` (which
calls trio.run itself) against it."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path

import trio

from camscan.lab import Fleet, Lab, open_lab
from tests.support.tls_servers import run_in_thread


def random_block(second_octet: int) -> str:
    """A /24 in 127.<second_octet>.x.0 picked at random, so two test runs at the same time (two
    engineers, one machine) rarely share addresses: a lab skips an address another lab holds,
    and a fixed block would then move devices outside the range the test's config scans."""
    return f"127.{second_octet}.{random.randrange(256)}.0/24"


Started = tuple[Lab, trio.lowlevel.TrioToken]


async def _run_lab(fleet: Fleet, *, task_status: trio.TaskStatus[Started] = trio.TASK_STATUS_IGNORED) -> None:
    with trio.fail_after(300):
        async with open_lab(fleet) as lab:
            task_status.started((lab, trio.lowlevel.current_trio_token()))
            await trio.sleep_forever()


@contextlib.contextmanager
def lab_in_thread(fleet: Fleet) -> Iterator[Started]:
    """Yield the running lab and its loop's token (for trio.from_thread.run(device.change_ip,
    ..., trio_token=token)); stop it on exit."""
    with run_in_thread(_run_lab, fleet) as started:
        yield started


def lab_audit_config(tmp_path: Path, lab: Lab, port: int, first: str, last: str) -> Path:
    """An audit config that scans the lab's addresses first..last on `port`, trusting the lab's
    site CA alone, offline, with the JSON report in tmp_path/report.json."""
    bundles = lab.write_bundles(tmp_path)
    config = tmp_path / "camscan.toml"
    config.write_text(
        f"""
[scan]
targets = ["{first}-{last}"]
ports = [{port}]
connect_timeout = 1.0
handshake_timeout = 5.0
legacy_probe = false

[trust]
mode = "site"
ca_bundles = ["{bundles["site"]}"]
offline = true

[outputs]
json = "report.json"
"""
    )
    return config
