"""A second `camscan lab` in the same directory, refused because the first holds the control
port, leaves the first lab's CA bundles and inventory alone.

Found in the README acceptance run: the second lab wrote its own site-ca.pem, firmware-cas.pem
and inventory.json over the running lab's before it failed on the port, so scanning the running
lab as its summary says (`--ca-bundle camscan-lab/site-ca.pem --trust site`) gave CS203 on every
healthy camera."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import trio

from tests.support.tls_servers import unused_port

CAMSCAN = [sys.executable, "-m", "camscan", "lab", "--size", "2", "--https-port", "0", "--no-http",
           "--no-discovery", "-q"]


async def test_a_refused_second_lab_keeps_the_first_labs_files(tmp_path: Path) -> None:
    control = str(unused_port())
    first = subprocess.Popen(
        [*CAMSCAN, "--block", "127.50.0.0/24", "--control-port", control, "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert first.stdout is not None
        lines: list[str] = []
        with trio.fail_after(30):
            while not lines or "Ctrl-C stops the lab" not in lines[-1]:
                line = await trio.to_thread.run_sync(first.stdout.readline)
                assert line, "the first lab exited early: " + "".join(lines)
                lines.append(line)
        files = {name: (tmp_path / name).read_bytes()
                 for name in ("site-ca.pem", "firmware-cas.pem", "inventory.json")}

        # Bounded: if the refusal regresses, the second lab would run until killed.
        with trio.fail_after(30):
            second = await trio.run_process(
                [*CAMSCAN, "--block", "127.51.0.0/24", "--control-port", control, "--out", str(tmp_path)],
                capture_stdout=True, capture_stderr=True, check=False,
            )
        err = second.stderr.decode()
        assert second.returncode == 2, err
        assert err.startswith(f"camscan: error: --control-port {control}: ") and err.count("\n") == 1
        assert "--control-port 0" in err
        assert {name: (tmp_path / name).read_bytes() for name in files} == files
    finally:
        first.send_signal(signal.SIGINT)
        _, first_err = await trio.to_thread.run_sync(lambda: first.communicate(timeout=20))
    assert first.returncode == 0, first_err
