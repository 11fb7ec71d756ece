"""The run lock, with real processes: an overlapping audit exits 4 at once, a dead holder frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from camscan.errors import LockedError
from camscan.lock import RunLock
from tests.support.tls_servers import ServerSpec, serve_in_thread

REPO = Path(__file__).resolve().parents[2]
HOLDER = (
    "import sys; from camscan.lock import RunLock\n"
    "with RunLock(sys.argv[1]):\n"
    "    print('held', flush=True); sys.stdin.read()\n"
)


def _wait_for_pid_in(lock: Path, pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().strip() == str(pid):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never took the lock {lock}")


def test_second_process_is_refused_then_lock_is_free_after_exit(tmp_path: Path) -> None:
    lock = tmp_path / "audit.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LockedError, match=f"held by pid {holder.pid}"):
            RunLock(lock).acquire()
    finally:
        holder.communicate("", timeout=30)
    assert holder.returncode == 0
    with RunLock(lock):
        assert lock.read_text().strip() == str(os.getpid())
    assert lock.read_text() == ""  # released: the pid is cleared, the file stays


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    lock = tmp_path / "audit.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=30)  # also closes our ends of its pipes
    assert holder.returncode == -signal.SIGKILL
    with RunLock(lock):  # the kernel dropped the dead process's lock
        pass


def test_overlapping_audits_second_exits_4(tmp_path: Path) -> None:
    # The first audit sweeps a server that accepts and never answers, so it runs for a while.
    with serve_in_thread([(ServerSpec(behaviour="silent"), "127.0.0.61")]) as [(host, port)]:
        config = tmp_path / "camscan.toml"
        config.write_text(
            f'[scan]\ntargets = ["{host}"]\nports = [{port}]\nhandshake_timeout = 4.0\n'
            "legacy_probe = false\nhttp_facts = false\n"
            "[trust]\noffline = true\n"
        )
        command = [sys.executable, "-m", "camscan", "audit", "--config", str(config), "--quiet"]
        first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for_pid_in(tmp_path / "camscan-history.sqlite.lock", first.pid)
            started = time.monotonic()
            second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
            assert time.monotonic() - started < 10  # exits at once, does not wait for the lock
            assert second.returncode == 4
            assert second.stdout == ""
            assert second.stderr.startswith("camscan: error: another camscan audit is running")
            assert f"held by pid {first.pid}" in second.stderr
        finally:
            _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
    # the first audit recorded its run; the refused one recorded nothing
    from camscan.reports.history import HistoryStore

    with HistoryStore(tmp_path / "camscan-history.sqlite", create=False) as store:
        assert [r.id for r in store.runs()] == [1]
