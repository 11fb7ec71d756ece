"""The site CA's inventory: every certificate it issued, revocation, and the CRL.

DIR/issued.json records each certificate the site CA signs (`ca issue`, `ca sign`,
`fix --apply`, and any issuer that calls `record_issued`): serial, the device's address and
identity, the names, validity, issuer and status. It is rewritten atomically under a lock
(DIR/.inventory.lock), so a crash or a parallel run never leaves half a file or loses a
record. `ca crl` signs DIR/crl.der and DIR/crl.pem from it (RFC 5280 section 5).

Stable API (other issuers call it):

    record_issued(ca_dir, cert, *, address, identity=None) -> IssuedRecord
    list_issued(ca_dir) -> list[IssuedRecord]
    find_issued(ca_dir, serial) -> IssuedRecord
    revoke(ca_dir, serial, reason="unspecified", *, when=None) -> IssuedRecord
    build_crl(ca, *, days=7, now=None) -> x509.CertificateRevocationList
    write_crl(ca, *, days=7, now=None) -> tuple[Path, Path]   # (crl.der, crl.pem)

`serial` is an int or hexadecimal text (as `ca list` prints it; "0x" and colons allowed);
`reason` one of REASONS (RFC 5280 5.3.1 CRLReason names, any case, "-" or "_" ignored).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from camscan.atomic import write_bytes_atomic
from camscan.errors import CamscanError, LockedError, UsageError
from camscan.remediate.reasons import REASON_NAMES, reason_key

if TYPE_CHECKING:
    from camscan.remediate.ca import LocalCA

INVENTORY = "issued.json"
LOCK = ".inventory.lock"
CRL_DER, CRL_PEM = "crl.der", "crl.pem"
FORMAT = 1
LOCK_WAIT_SECONDS = 10.0
MAX_CRL_DAYS = 366

# RFC 5280 5.3.1 (the names themselves live in camscan.remediate.reasons, free of cryptography).
REASONS: dict[str, x509.ReasonFlags] = {
    reason_key(name): flag
    for name, flag in zip(
        REASON_NAMES,
        (
            x509.ReasonFlags.unspecified,
            x509.ReasonFlags.key_compromise,
            x509.ReasonFlags.ca_compromise,
            x509.ReasonFlags.affiliation_changed,
            x509.ReasonFlags.superseded,
            x509.ReasonFlags.cessation_of_operation,
            x509.ReasonFlags.privilege_withdrawn,
        ),
        strict=True,
    )
}


@dataclass(frozen=True)
class IssuedRecord:
    serial: str  # lowercase hexadecimal, no prefix
    address: str  # the device's address (or its first name when it has no address)
    identity: str | None  # vendor / model / serial as known, free text
    names: tuple[str, ...]  # "IP:192.0.2.7", "DNS:cam7.example.internal"
    subject: str
    issuer: str
    not_before: str  # ISO 8601 UTC
    not_after: str
    issued_at: str
    sha256: str
    revoked_at: str | None = None
    reason: str | None = None

    def status(self, now: dt.datetime | None = None) -> str:
        """"revoked", "expired" or "valid" (at `now`, default the current time)."""
        if self.revoked_at is not None:
            return "revoked"
        moment = now or dt.datetime.now(dt.UTC)
        return "expired" if dt.datetime.fromisoformat(self.not_after) < moment else "valid"

    def to_json(self, now: dt.datetime | None = None) -> dict[str, Any]:
        return {**asdict(self), "names": list(self.names), "status": self.status(now)}


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def parse_serial(serial: str | int) -> str:
    if isinstance(serial, int):
        return format(serial, "x")
    text = serial.strip().lower().replace(":", "")
    text = text.removeprefix("0x")
    try:
        return format(int(text, 16), "x")
    except ValueError:
        raise UsageError(f"serial {serial!r}: expected hexadecimal, as `camscan ca list` prints it") from None


def parse_reason(reason: str) -> tuple[str, x509.ReasonFlags]:
    key = reason_key(reason)
    if key not in REASONS:
        raise UsageError(f"--reason {reason!r}: choose one of {', '.join(REASON_NAMES)}")
    return REASON_NAMES[list(REASONS).index(key)], REASONS[key]


@contextlib.contextmanager
def _locked(ca_dir: Path) -> Iterator[None]:
    """Exclusive, bounded wait: two runs recording at once take turns, never lose a record."""
    try:
        fd = os.open(ca_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise CamscanError(f"cannot open {ca_dir / LOCK}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockedError(f"{ca_dir}: the inventory is locked by another run") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def _read(ca_dir: Path) -> dict[str, Any]:
    path = ca_dir / INVENTORY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": FORMAT, "crl_number": 0, "certificates": []}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable inventory ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(
        data.get("certificates"), list
    ):
        raise UsageError(f"{path}: not a camscan inventory (format {FORMAT})")
    return data


def _write(ca_dir: Path, data: dict[str, Any]) -> None:
    """One record per line: readable, and each line goes through json's C encoder (an indented
    dump runs the pure-Python one, about ten times slower on a large inventory)."""
    head = {k: v for k, v in data.items() if k != "certificates"}
    lines = ",\n".join(json.dumps(entry, sort_keys=True) for entry in data["certificates"])
    opening = json.dumps(head, sort_keys=True)[:-1] + ', "certificates": [' + ("\n" if lines else "")
    text = opening + lines + _TAIL
    write_bytes_atomic(ca_dir / INVENTORY, text.encode(), mode=0o600)


def _record(entry: dict[str, Any]) -> IssuedRecord:
    return IssuedRecord(**{**entry, "names": tuple(entry["names"])})


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(
        [f"IP:{ip}" for ip in san.get_values_for_type(x509.IPAddress)]
        + [f"DNS:{d}" for d in san.get_values_for_type(x509.DNSName)]
    )


def record_issued(
    ca_dir: str | os.PathLike[str], cert: x509.Certificate, *, address: str, identity: str | None = None
) -> IssuedRecord:
    """Add `cert` (just signed by the CA in `ca_dir`) to the inventory; returns its record."""
    directory = Path(ca_dir)
    record = IssuedRecord(
        serial=parse_serial(cert.serial_number),
        address=address,
        identity=identity,
        names=_names(cert),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=_iso(cert.not_valid_before_utc),
        not_after=_iso(cert.not_valid_after_utc),
        issued_at=_iso(dt.datetime.now(dt.UTC)),
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
    )
    entry = {**asdict(record), "names": list(record.names)}
    with _locked(directory):
        if not _append(directory, entry):
            data = _read(directory)
            if any(e.get("serial") == record.serial for e in data["certificates"]):
                raise CamscanError(f"serial {record.serial} is already in the inventory (RFC 5280 4.1.2.2)")
            data["certificates"].append(entry)
            _write(directory, data)
    return record


_TAIL = "\n]}\n"


def _append(ca_dir: Path, entry: dict[str, Any]) -> bool:
    """The common case without re-encoding every record: the file as `_write` left it gets one
    more line (still rewritten atomically). False when the file is absent or not in that shape;
    the caller then reads and writes it whole."""
    path = ca_dir / INVENTORY
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    shaped = text.startswith('{"crl_number": ') and text.endswith(_TAIL) and '"certificates": [\n' in text
    if not shaped:
        return False
    if f'"serial": {json.dumps(entry["serial"])}' in text:
        raise CamscanError(f"serial {entry['serial']} is already in the inventory (RFC 5280 4.1.2.2)")
    body = text[: -len(_TAIL)]
    separator = "\n" if body.endswith("[") else ",\n"
    new = body + separator + json.dumps(entry, sort_keys=True) + _TAIL
    write_bytes_atomic(path, new.encode(), mode=0o600)
    return True


def list_issued(ca_dir: str | os.PathLike[str]) -> list[IssuedRecord]:
    """Every recorded certificate, oldest first."""
    return [_record(e) for e in _read(Path(ca_dir))["certificates"]]


def find_issued(ca_dir: str | os.PathLike[str], serial: str | int) -> IssuedRecord:
    wanted = parse_serial(serial)
    for record in list_issued(ca_dir):
        if record.serial == wanted:
            return record
    raise UsageError(f"serial {wanted}: not issued by the site CA in {ca_dir} (see `camscan ca list`)")


def revoke(
    ca_dir: str | os.PathLike[str],
    serial: str | int,
    reason: str = "unspecified",
    *,
    when: dt.datetime | None = None,
) -> IssuedRecord:
    """Mark a certificate revoked (it goes in the next CRL). Revoking twice is an error."""
    directory = Path(ca_dir)
    wanted = parse_serial(serial)
    name, _ = parse_reason(reason)
    with _locked(directory):
        data = _read(directory)
        for index, entry in enumerate(data["certificates"]):
            if entry.get("serial") != wanted:
                continue
            record = _record(entry)
            if record.revoked_at is not None:
                raise UsageError(
                    f"serial {wanted} was already revoked on {record.revoked_at} ({record.reason})"
                )
            record = replace(record, revoked_at=_iso(when or dt.datetime.now(dt.UTC)), reason=name)
            data["certificates"][index] = {**asdict(record), "names": list(record.names)}
            _write(directory, data)
            return record
    raise UsageError(f"serial {wanted}: not issued by the site CA in {directory} (see `camscan ca list`)")


def build_crl(
    ca: LocalCA, *, days: int = 7, now: dt.datetime | None = None
) -> x509.CertificateRevocationList:
    """A CRL signed by the site CA over every revoked certificate, next update in `days` days.

    Each call takes the next CRL number (RFC 5280 5.2.3: monotonically increasing)."""
    if not 1 <= days <= MAX_CRL_DAYS:
        raise UsageError(f"--days {days}: between 1 and {MAX_CRL_DAYS}")
    moment = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    key = ca.key  # the passphrase is asked before the inventory is locked
    with _locked(ca.directory):
        data = _read(ca.directory)
        number = int(data.get("crl_number", 0)) + 1
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.certificate.subject)
            .last_update(moment)
            .next_update(moment + dt.timedelta(days=days))
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                critical=False,
            )
        )
        for entry in data["certificates"]:
            record = _record(entry)
            if record.revoked_at is None:
                continue
            revoked = (
                x509.RevokedCertificateBuilder()
                .serial_number(int(record.serial, 16))
                .revocation_date(dt.datetime.fromisoformat(record.revoked_at))
            )
            flag = REASONS[reason_key(record.reason or "unspecified")]
            if flag is not x509.ReasonFlags.unspecified:  # RFC 5280 5.3.1: omit, not "unspecified"
                revoked = revoked.add_extension(x509.CRLReason(flag), critical=False)
            builder = builder.add_revoked_certificate(revoked.build())
        from cryptography.hazmat.primitives.asymmetric import ed25519

        algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        crl = builder.sign(key, algorithm)
        data["crl_number"] = number
        _write(ca.directory, data)
    return crl


def write_crl(ca: LocalCA, *, days: int = 7, now: dt.datetime | None = None) -> tuple[Path, Path]:
    """Sign a CRL and write DIR/crl.der and DIR/crl.pem atomically (publish either)."""
    crl = build_crl(ca, days=days, now=now)
    der, pem = ca.directory / CRL_DER, ca.directory / CRL_PEM
    write_bytes_atomic(der, crl.public_bytes(serialization.Encoding.DER), mode=0o644)
    write_bytes_atomic(pem, crl.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return der, pem
