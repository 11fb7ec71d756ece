"""The site CA's private key at rest: encrypted with a passphrase, read only when signing.

The passphrase comes, in this order, from $CAMSCAN_CA_PASSPHRASE, from the file named by
$CAMSCAN_CA_PASSPHRASE_FILE (its first line; the file must be 0600, like every secret camscan
reads), or from a prompt on a terminal. Never from argv, never printed, never in an error.
The key is PKCS#8 with the best encryption the cryptography library offers
(BestAvailableEncryption: PBES2, AES-256-CBC, a salted key derivation).

An unencrypted key (every CA made before encryption existed, or `ca init --no-encrypt`)
still loads, with a warning on stderr; `camscan ca encrypt-key` encrypts it in place.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from camscan import pki
from camscan.atomic import write_bytes_atomic
from camscan.errors import UsageError

PASSPHRASE_ENV = "CAMSCAN_CA_PASSPHRASE"  # noqa: S105 - a variable's name, not a passphrase
PASSPHRASE_FILE_ENV = "CAMSCAN_CA_PASSPHRASE_FILE"  # noqa: S105
MIN_PASSPHRASE = 8

PassphraseSource = Callable[[], bytes]


def _too_open(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def passphrase_from_environment(
    *, confirm: bool = False, prompt: str = "CA key passphrase: ", new: bool = False
) -> bytes:
    """The CA passphrase from the environment, the 0600 file, or a prompt (see the module doc)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return _checked(value.encode(), PASSPHRASE_ENV)
    file_name = os.environ.get(PASSPHRASE_FILE_ENV)
    if file_name:
        path = Path(file_name)
        try:
            if _too_open(path):
                raise UsageError(
                    f"{PASSPHRASE_FILE_ENV}: {path} is readable by other users; run `chmod 600 {path}`"
                )
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise UsageError(f"{PASSPHRASE_FILE_ENV}: cannot read {path} ({exc.strerror})") from None
        return _checked(lines[0] if lines else b"", f"{PASSPHRASE_FILE_ENV} {path}")
    if not sys.stdin.isatty():
        why = "a new CA key is encrypted at rest" if new else "the site CA key is encrypted"
        raise UsageError(
            f"{why}: set {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV} (a 0600 file), or run on a terminal "
            "to be prompted (never on the command line)" + (", or --no-encrypt" if new else "")
        )
    import getpass

    first = getpass.getpass(prompt)
    if confirm and first != getpass.getpass("again: "):
        raise UsageError("the passphrases differ")
    return _checked(first.encode(), "the passphrase")


def _checked(value: bytes, where: str) -> bytes:
    if len(value) < MIN_PASSPHRASE:
        raise UsageError(f"{where}: a CA passphrase needs at least {MIN_PASSPHRASE} characters")
    return value


def key_bytes(key: pki.PrivateKey, passphrase: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def write_key(path: Path, key: pki.PrivateKey, passphrase: bytes | None, *, replace: bool = False) -> None:
    if path.exists() and not replace:
        raise UsageError(f"{path} exists: refusing to overwrite key material")
    write_bytes_atomic(path, key_bytes(key, passphrase), mode=0o600)


def is_encrypted(path: Path) -> bool:
    return b"ENCRYPTED PRIVATE KEY" in path.read_bytes()[:64]


def load_key(path: Path, passphrase: PassphraseSource | None = None) -> pki.PrivateKey:
    """The key at `path`; an encrypted one asks `passphrase` (default: the environment)."""
    if _too_open(path):
        raise UsageError(f"{path}: the CA key is readable by other users; run `chmod 600 {path}`")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the CA key ({exc.strerror})") from None
    secret: bytes | None = None
    if b"ENCRYPTED PRIVATE KEY" in data:
        secret = (passphrase or passphrase_from_environment)()
    else:
        print(
            f"camscan: warning: {path} is not encrypted at rest; anyone who copies it can mint "
            "certificates every client trusts (`camscan ca encrypt-key` encrypts it)",
            file=sys.stderr,
        )
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except ValueError:
        # Never echo the passphrase or the library's text (which may quote input).
        if secret is not None:
            raise UsageError(f"{path}: wrong passphrase for the CA key") from None
        raise UsageError(f"{path}: not a readable private key") from None
    except TypeError:
        raise UsageError(f"{path}: not a readable private key") from None
    if not isinstance(key, pki.PrivateKey):
        raise UsageError(f"{path}: unsupported key type")
    return key
