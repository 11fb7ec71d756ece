"""SIGTERM (systemd stop, `timeout`, kill) ends a run like Ctrl-C: one line, exit 130, and no
temporary report file left beside the previous report.

The children restore SIGINT's default disposition: a test run started in the background by a
non-interactive shell (`./scripts/test.sh &`) inherits SIGINT ignored, and Python keeps it so."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_sweep_keeps_the_previous_reports_and_leaves_no_temp_file(
    tmp_path: Path, signum: signal.Signals
) -> None:
    jsonl = tmp_path / "scan.jsonl"
    html = tmp_path / "scan.html"
    jsonl.write_text('{"previous": true}\n')
    html.write_text("<p>previous</p>")
    # A /16 where nothing listens takes several seconds to sweep: plenty of time to interrupt.
    proc = subprocess.Popen(
        [sys.executable, "-m", "camscan", "127.98.0.0/16", "-p", "9", "-q", "--offline",
         "--no-legacy-probe", "--no-ws-discovery", "--jsonl", str(jsonl), "--html", str(html)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 20
        # Wait until the sweep is streaming (its temporary JSONL file exists), then interrupt.
        while not list(tmp_path.glob(".scan.jsonl.*")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        assert list(tmp_path.glob(".scan.jsonl.*")), "the sweep never started streaming"
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "camscan: interrupted"
    assert "Traceback" not in stderr
    assert jsonl.read_text() == '{"previous": true}\n'
    assert html.read_text() == "<p>previous</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.html", "scan.jsonl"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_as_the_sweep_starts_is_one_clean_line(tmp_path: Path, signum: signal.Signals) -> None:
    """The moments right after the JSONL stream opens: trio starting, the sweep spawning its
    workers. A KeyboardInterrupt raised there inside Nursery.start_soon orphaned a worker's
    coroutine, and "coroutine 'sweep.<locals>.worker' was never awaited" followed "camscan:
    interrupted" (7 of 30 such runs before runtime.run received both signals in a task)."""
    for attempt, delay in enumerate([0.0, 0.0, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02]):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        jsonl = folder / "scan.jsonl"
        proc = subprocess.Popen(
            [sys.executable, "-m", "camscan", "127.99.0.0/16", "-p", "9", "-q", "--offline",
             "--no-legacy-probe", "--no-ws-discovery", "--jsonl", str(jsonl)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint,
        )
        try:
            deadline = time.monotonic() + 20
            while not list(folder.glob(".scan.jsonl.*")) and time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.001)
            time.sleep(delay)
            proc.send_signal(signum)
            _, stderr = proc.communicate(timeout=20)
        finally:
            proc.kill()
            proc.wait(timeout=10)
        assert (proc.returncode, stderr) == (130, "camscan: interrupted\n"), f"attempt {attempt}: {delay} s"
        assert list(folder.iterdir()) == [], f"attempt {attempt}: a file was left behind"
