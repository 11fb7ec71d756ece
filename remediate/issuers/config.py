"""The issuer file: named issuers in TOML, no secret in it.

    [issuer.corp-openssl]
    kind = "command"
    command = "openssl ca -batch -config ca.cnf -in {csr} -out {out} -days {days}"
    timeout = 60
    roots = "corp-root.pem"

    [issuer.corp-est]
    kind = "est"
    url = "https://est.example.net/.well-known/est"
    server_ca = "est-server-ca.pem"
    username = "camscan"
    password_env = "CAMSCAN_EST_PASSWORD"    # or password_file = "est.pass" (0600), else a prompt

    [issuer.corp-acme]
    kind = "acme"
    directory = "https://acme.example.net/directory"
    eab_kid = "camscan"
    eab_hmac_env = "CAMSCAN_ACME_EAB_HMAC"   # or eab_hmac_file (0600), else a prompt

Relative paths are relative to the issuer file. `local` is always defined: the site CA of
`--ca DIR` (or `[issuer.NAME] kind = "local"` with `ca = DIR`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509

from camscan.errors import UsageError
from camscan.remediate.issuers.base import Issuer
from camscan.remediate.issuers.secrets import resolve_secret

KEYS: dict[str, set[str]] = {
    "local": {"ca", "days"},
    "command": {"command", "revoke", "timeout", "roots", "chain", "days", "concurrency"},
    "est": {
        "url",
        "label",
        "server_ca",
        "username",
        "password_env",
        "password_file",
        "client_cert",
        "client_key",
        "timeout",
        "max_wait",
        "roots",
        "days",
    },
    "acme": {
        "directory",
        "server_ca",
        "account_key",
        "eab_kid",
        "eab_hmac_env",
        "eab_hmac_file",
        "email",
        "http01_bind",
        "http01_port",
        "timeout",
        "roots",
        "days",
    },
}
SECRET_KEYS = {"password", "eab_hmac", "token", "secret"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")  # it names files (the roots, the account key)


class IssuerFile:
    def __init__(self, path: Path, table: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self.table = table

    def names(self) -> list[str]:
        return sorted(self.table)



def read_file(path: str | os.PathLike[str]) -> IssuerFile:
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{file}: cannot read the issuer file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: not valid TOML ({exc})") from None
    unknown = set(data) - {"issuer"}
    if unknown:
        raise UsageError(f"{file}: unknown table(s) {', '.join(sorted(unknown))} (expected [issuer.NAME])")
    issuers = data.get("issuer", {})
    if not isinstance(issuers, dict):
        raise UsageError(f"{file}: [issuer.NAME] tables expected")
    for name, section in issuers.items():
        where = f"{file} [issuer.{name}]"
        if not NAME.fullmatch(name):
            raise UsageError(f"{where}: an issuer name is letters, digits, '.', '_' and '-'")
        if not isinstance(section, dict):
            raise UsageError(f"{where}: expected a table")
        kind = section.get("kind")
        if kind not in KEYS:
            raise UsageError(f"{where}: kind must be one of {', '.join(KEYS)}")
        secrets = SECRET_KEYS & set(section)
        if secrets:
            raise UsageError(
                f"{where}: {', '.join(sorted(secrets))} does not belong in the issuer file: "
                "name an environment variable (*_env) or a 0600 file (*_file) instead"
            )
        extra = set(section) - KEYS[kind] - {"kind"}
        if extra:
            raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
    return IssuerFile(file, issuers)


def lifetime(file: IssuerFile | None, name: str) -> int:
    """The lifetime to ask for, in days: the issuer's `days`, else the longest browsers accept.

    The site CA counts validity inclusively (RFC 5280 4.1.2.5) and stays within 398 days; other
    CAs (`openssl ca -days N` spans N whole days, one second more than N inclusive days) get 397.
    """
    from camscan.remediate.ca import MAX_DAYS

    section = file.table.get(name) if file is not None else None
    default = MAX_DAYS if section is None or section.get("kind") == "local" else MAX_DAYS - 1
    value = (section or {}).get("days", default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
        where = f"{file.path} [issuer.{name}]" if file is not None else name
        raise UsageError(f"{where}: days must be a whole number from 1 to {MAX_DAYS}")
    return value


def _certs(path: Path, where: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{where}: cannot read {path} ({exc.strerror})") from None
    except ValueError:
        raise UsageError(f"{where}: {path} holds no PEM certificate") from None


def build(
    name: str,
    file: IssuerFile | None,
    *,
    ca_dir: str | None,
    interactive: bool | None = None,
) -> Issuer:
    """The issuer called `name`: `local` from --ca, else the file's [issuer.NAME]."""
    section = file.table.get(name) if file is not None else None
    if section is None:
        if name == "local":
            return _local(ca_dir, "local")
        known = ", ".join(["local", *(file.names() if file else [])])
        hint = "" if file else " (define it in a file given with --issuers FILE)"
        raise UsageError(f"unknown issuer {name!r}: known are {known}{hint}")
    assert file is not None
    where = f"{file.path} [issuer.{name}]"
    base = file.path.parent

    def path(key: str, required: bool = False) -> Path | None:
        value = section.get(key)
        if value is None:
            if required:
                raise UsageError(f"{where}: {key} is required")
            return None
        if not isinstance(value, str) or not value:
            raise UsageError(f"{where}: {key} must be a path")
        full = Path(value)
        return full if full.is_absolute() else base / full

    def text(key: str, required: bool = False) -> str | None:
        value = section.get(key)
        if value is None and required:
            raise UsageError(f"{where}: {key} is required")
        if value is not None and (not isinstance(value, str) or not value):
            raise UsageError(f"{where}: {key} must be a non-empty string")
        return value

    def number(key: str, default: float, low: float, high: float) -> float:
        value = section.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
            raise UsageError(f"{where}: {key} must be a number between {low:g} and {high:g}")
        return float(value)

    def roots() -> list[x509.Certificate]:
        where_roots = path("roots")
        return _certs(where_roots, where) if where_roots else []

    def secret(stem: str, prompt: str) -> Callable[[], str]:
        def get() -> str:
            return resolve_secret(
                where,
                env=text(stem + "_env"),
                file=path(stem + "_file"),
                prompt=prompt,
                interactive=interactive,
            )

        return get

    kind = section["kind"]
    if kind == "local":
        return _local(str(path("ca", required=True)), name)
    if kind == "command":
        from camscan.remediate.issuers.command import CommandIssuer

        chain_path = path("chain")
        return CommandIssuer(
            name,
            str(text("command", required=True)),
            timeout=number("timeout", 60, 1, 3600),
            revoke_template=text("revoke"),
            roots=roots(),
            chain=_certs(chain_path, where) if chain_path else [],
            cwd=base,
            concurrency=int(number("concurrency", 1, 1, 16)),
        )
    if kind == "est":
        from camscan.remediate.issuers.est import ESTIssuer

        username = text("username")
        client_cert = path("client_cert")
        if username is None and client_cert is None:
            raise UsageError(f"{where}: set username (HTTP Basic) or client_cert (TLS client certificate)")
        client_key = path("client_key")
        if client_key is not None:
            from camscan.remediate.issuers.secrets import read_secret_file

            read_secret_file(client_key, where + " client_key")  # refuses a key others can read
        password = secret("password", f"EST password for {username} ({name}): ")() if username else None
        return ESTIssuer(
            name,
            str(text("url", required=True)),
            server_ca=path("server_ca", required=True),  # type: ignore[arg-type]
            label=text("label"),
            username=username,
            password=password,
            client_cert=client_cert,
            client_key=client_key,
            timeout=number("timeout", 30, 1, 600),
            max_wait=number("max_wait", 300, 0, 86400),
            roots=roots(),
        )
    from camscan.remediate.issuers.acme import ACMEIssuer

    eab_kid = text("eab_kid")
    hmac = secret("eab_hmac", f"ACME EAB HMAC key for {eab_kid} ({name}): ")() if eab_kid else None
    return ACMEIssuer(
        name,
        str(text("directory", required=True)),
        account_key=path("account_key") or base / f"acme-{name}-account.key",
        server_ca=path("server_ca"),
        eab_kid=eab_kid,
        eab_hmac=hmac,
        email=text("email"),
        http01_bind=text("http01_bind"),
        http01_port=int(number("http01_port", 80, 1, 65535)),
        timeout=number("timeout", 120, 5, 3600),
        roots=roots(),
    )


def _local(ca_dir: str | None, name: str) -> Issuer:
    from camscan.remediate.ca import LocalCA
    from camscan.remediate.issuers.local import LocalIssuer

    if not ca_dir:
        raise UsageError("issuer local needs --ca DIR (the site CA, `camscan ca init --dir DIR`)")
    return LocalIssuer(LocalCA.load(ca_dir), name)


def secrets_of(issuer: Issuer) -> tuple[str, ...]:
    """The issuer's secrets, for the audit log to redact."""
    found = [getattr(issuer, attr, None) for attr in ("_password", "_eab_hmac")]
    return tuple(s for s in found if isinstance(s, str) and s)
