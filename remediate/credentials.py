"""Device credentials: from the environment, a 0600 file, or a prompt. Never from argv.

A credentials file is TOML:

    [default]
    user = "admin"
    password = "..."

    [[device]]
    match = "192.0.2.0/24"      # an address or a network; the most specific match wins
    user = "operator"
    password = "..."
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import stat
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from camscan.errors import UsageError
from camscan.remediate.drivers.base import Credentials

PASSWORD_ENV = "CAMSCAN_PASSWORD"  # noqa: S105 - the variable's name, not a password


@dataclass(frozen=True)
class _Entry:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    credentials: Credentials


@dataclass(frozen=True)
class CredentialStore:
    default: Credentials | None
    entries: tuple[_Entry, ...] = ()

    def secrets(self) -> tuple[str, ...]:
        """Every password, for the audit log to redact whatever a message carries."""
        found = [self.default.password] if self.default else []
        return (*found, *(e.credentials.password for e in self.entries))

    def for_address(self, address: str) -> Credentials:
        ip = ipaddress.ip_address(address)
        matches = [e for e in self.entries if ip.version == e.network.version and ip in e.network]
        if matches:
            return max(matches, key=lambda e: e.network.prefixlen).credentials
        if self.default is None:
            raise UsageError(f"no credentials for {address}: add a [[device]] entry or a [default]")
        return self.default


def _pair(section: object, where: str, fallback_user: str | None) -> Credentials:
    if not isinstance(section, dict):
        raise UsageError(f"{where}: expected a table with user and password")
    user = section.get("user", fallback_user)
    password = section.get("password")
    if not isinstance(user, str) or not user or not isinstance(password, str) or not password:
        raise UsageError(f"{where}: needs a non-empty user and password")
    return Credentials(user, password)


def load_file(path: str | os.PathLike[str], user: str | None) -> CredentialStore:
    file = Path(path)
    try:
        mode = file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(f"{file}: readable by other users; run `chmod 600 {file}`")
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{file}: cannot read the credentials file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # The parser's message may quote the line, and that line may hold a password.
        raise UsageError(f"{file}: not valid TOML ({type(exc).__name__})") from None
    unknown = set(data) - {"default", "device"}
    if unknown:
        raise UsageError(f"{file}: unknown key(s) {', '.join(sorted(unknown))} (expected default, device)")
    default = _pair(data["default"], f"{file} [default]", user) if "default" in data else None
    entries = []
    for index, item in enumerate(data.get("device", []), 1):
        where = f"{file} [[device]] #{index}"
        try:
            network = ipaddress.ip_network(str(item.get("match", "")), strict=False)
        except ValueError:
            raise UsageError(f"{where}: match must be an address or a network") from None
        entries.append(_Entry(network, _pair(item, where, user or (default.username if default else None))))
    return CredentialStore(default, tuple(entries))


def resolve(
    user: str | None, credentials_file: str | None, *, interactive: bool | None = None
) -> CredentialStore:
    """The credentials for this run: the file, else --user with $CAMSCAN_PASSWORD, else a prompt."""
    if credentials_file:
        return load_file(credentials_file, user)
    if not user:
        raise UsageError(
            "--apply needs --user USER (password from $CAMSCAN_PASSWORD or a prompt) or --credentials FILE"
        )
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        if not (sys.stdin.isatty() if interactive is None else interactive):
            raise UsageError(
                f"no password: set {PASSWORD_ENV} or use --credentials FILE "
                "(passwords are never taken from the command line)"
            )
        password = getpass.getpass(f"password for {user}: ")
        if not password:
            raise UsageError("no password given")
    return CredentialStore(Credentials(user, password))
