"""Issuer secrets (EST passwords, ACME EAB keys): from the environment, a 0600 file or a prompt.

The issuer file names where a secret is (`password_env`, `password_file`), never the secret
itself, like the device credentials of camscan.remediate.credentials.
"""

from __future__ import annotations

import getpass
import os
import stat
import sys
from pathlib import Path

from camscan.errors import UsageError


def read_secret_file(path: Path, where: str) -> str:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(f"{where}: {path} is readable by other users; run `chmod 600 {path}`")
        return path.read_text(encoding="utf-8").strip("\r\n")
    except OSError as exc:
        raise UsageError(f"{where}: cannot read {path} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{where}: {path} is not UTF-8 text") from None


def resolve_secret(
    where: str,
    *,
    env: str | None,
    file: Path | None,
    prompt: str,
    interactive: bool | None = None,
) -> str:
    """The secret from $env, else the 0600 file, else a prompt on a terminal."""
    if env is not None:
        value = os.environ.get(env)
        if value:
            return value
        if file is None:
            raise UsageError(f"{where}: environment variable {env} is not set")
    if file is not None:
        value = read_secret_file(file, where)
        if not value:
            raise UsageError(f"{where}: {file} is empty")
        return value
    if not (sys.stdin.isatty() if interactive is None else interactive):
        raise UsageError(f"{where}: no secret: set *_env or *_file in the issuer file, or run on a terminal")
    value = getpass.getpass(prompt)
    if not value:
        raise UsageError(f"{where}: nothing entered")
    return value
