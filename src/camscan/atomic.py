"""Atomic file writes: a crash mid-write never leaves half a file over a good one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_text_atomic(
    path: str | os.PathLike[str], text: str, *, mode: int = 0o644, encoding: str = "utf-8"
) -> None:
    write_bytes_atomic(path, text.encode(encoding), mode=mode)


def write_secret_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Private keys and PKCS#12 files: never readable by group or others, not even briefly."""
    write_bytes_atomic(path, data, mode=0o600)
