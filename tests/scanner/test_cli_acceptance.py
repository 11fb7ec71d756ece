"""Command-line behaviour found wrong in the README acceptance run.

- Ctrl-C in the middle of a sweep: trio's nursery wrapped the KeyboardInterrupt raised in a probe
  task in a BaseExceptionGroup, so `camscan 127.x.0.0/16` printed a 40-line traceback and exited 1
  instead of "camscan: interrupted" and 130 (the same for `camscan demo` and `camscan audit`).
- argparse's prefix matching made `camscan demo --json FILE` (demo has no --json) write JSON
  Lines into FILE without a word."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from camscan.cli import main
from camscan.errors import EXIT_INTERRUPTED

# Nothing listens in this block: every probe is a refused connect on loopback.
BLOCK = "127.48.0.0/16"


def _wait_for_stream(directory: Path, deadline: float) -> None:
    """Until the sweep has streamed a JSON line into its temporary file: it is mid-sweep."""
    while time.monotonic() < deadline:
        if any(p.stat().st_size > 0 for p in directory.glob(".scan.jsonl.*")):
            return
        time.sleep(0.05)
    raise AssertionError("the sweep never started streaming")


def test_ctrl_c_mid_sweep_is_one_line_and_exit_130(tmp_path: Path) -> None:
    stream = tmp_path / "scan.jsonl"
    stream.write_text("yesterday's report\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "camscan", BLOCK, "-p", "443", "-q", "--offline", "--jsonl", str(stream)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for_stream(tmp_path, time.monotonic() + 30)
        assert proc.poll() is None, "a /16 sweep ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert err == "camscan: interrupted\n"
    assert proc.returncode == EXIT_INTERRUPTED
    assert out == ""
    assert stream.read_text() == "yesterday's report\n"
    assert not list(tmp_path.glob(".scan.jsonl.*"))


def test_a_group_without_keyboard_interrupt_is_not_taken_for_ctrl_c(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The CLI must not turn every exception group into "interrupted": a real bug stays visible.
    import camscan.commands.rules as rules_command

    def broken(args: object) -> int:
        raise BaseExceptionGroup("tasks failed", [RuntimeError("a bug")])

    monkeypatch.setattr(rules_command, "run", broken)
    with pytest.raises(BaseExceptionGroup):
        main(["rules"])


def test_an_option_is_never_taken_for_a_longer_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "report.json"
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--json", str(target), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --json" in capsys.readouterr().err
    assert not target.exists() and not (tmp_path / "out").exists()
