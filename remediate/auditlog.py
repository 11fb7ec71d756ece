"""The append-only audit log of `camscan fix --apply`: one JSON line per action, no secrets.

Opened with O_APPEND (lines from several runs interleave whole, never overwrite) and 0600.
Lines are ASCII JSON: control and bidi characters a device put in its answers are escaped.
Any secret the run knows is replaced before a line is written, whatever a message carries.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from camscan.errors import UsageError


class AuditLog:
    def __init__(self, path: str | os.PathLike[str], secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self._secrets = tuple(s for s in secrets if s)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot open the audit log ({exc.strerror})") from None

    def redact(self, text: str) -> str:
        """`text` with every secret of the run replaced (a device may echo one in an error)."""
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return text

    def record(
        self,
        device: str,
        action: str,
        result: str,
        *,
        driver: str | None = None,
        detail: str = "",
        **extra: Any,
    ) -> None:
        entry = {
            "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "device": device,
            "driver": driver,
            "action": action,
            "result": result,
            "detail": detail,
            **extra,
        }
        clean = {key: self.redact(value) if isinstance(value, str) else value for key, value in entry.items()}
        line = json.dumps(clean, ensure_ascii=True) + "\n"
        os.write(self._fd, line.encode("ascii"))

    def close(self) -> None:
        os.close(self._fd)
