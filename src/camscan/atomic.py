"""Atomic file writes: a crash mid-write never leaves half a file over a good one.

Every report camscan writes goes through AtomicFile: a temporary file beside the target,
fsync, then a rename over the target. Until the rename the previous file is untouched; a
write abandoned part way (an exception, Ctrl-C, SIGTERM) removes its temporary file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Block SIGINT and SIGTERM for the block (main thread, where Python runs handlers)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class AtomicFile:
    """A file that replaces `path` only when committed. Text goes through write_text().

    Use as a context manager (commit on success, abort on any exception), or call
    commit()/abort() yourself when the writing spans callbacks (a streamed report).
    """

    def __init__(self, path: str | os.PathLike[str], *, mode: int = 0o644) -> None:
        self.path = Path(path)
        self._mode = mode
        directory = self.path.parent if str(self.path.parent) else Path(".")
        self._done = True  # nothing to clean up (see __del__) until the file is ours
        # Ctrl-C or SIGTERM between mkstemp() and these assignments would leave a temporary
        # file nobody knows the name of: the signals wait until the object can remove it.
        with _signals_deferred():
            fd, self._tmp_name = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=directory
            )
            self.handle: IO[bytes] = os.fdopen(fd, "wb")
            self._done = False

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def write_text(self, text: str) -> None:
        self.handle.write(text.encode("utf-8"))

    def commit(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.chmod(self._tmp_name, self._mode)
            os.replace(self._tmp_name, self.path)
        except BaseException:
            self._discard()
            raise

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._discard()

    def _discard(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            os.unlink(self._tmp_name)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def __del__(self) -> None:
        # Never committed nor aborted (the writer crashed): leave the previous file alone and
        # no stray temporary file beside it.
        if not getattr(self, "_done", True):
            self.abort()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    with AtomicFile(path, mode=mode) as atomic:
        atomic.write(data)


def commit_all(files: Sequence[AtomicFile]) -> None:
    """Rename every staged file into place, with Ctrl-C and SIGTERM held back until the last
    rename: an interrupt never leaves a run's new JSON beside the previous run's HTML."""
    with _signals_deferred():
        for atomic in files:
            atomic.commit()


def write_all_atomic(files: Mapping[str, bytes], *, mode: int = 0o644) -> None:
    """Several files as one: each goes to a temporary file first, and only once all of them are
    complete are they renamed into place; any failure before that leaves every target as it was."""
    staged: list[AtomicFile] = []
    try:
        for path, data in files.items():
            staged.append(AtomicFile(path, mode=mode))
            staged[-1].write(data)
        commit_all(staged)
    except BaseException:
        for atomic in staged:
            atomic.abort()
        raise


def write_text_atomic(
    path: str | os.PathLike[str], text: str, *, mode: int = 0o644, encoding: str = "utf-8"
) -> None:
    write_bytes_atomic(path, text.encode(encoding), mode=mode)
