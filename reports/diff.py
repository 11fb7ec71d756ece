"""What changed between two audit runs: pure functions over two RunSnapshots.

- Findings are matched by (endpoint, rule id), counted: a message that only changes its
  numbers ("expires in 29 days" -> "in 28 days") is not a new finding every day.
- Endpoints that answered in one run and not in the other are new or vanished.
- The same endpoint presenting a different leaf: certificate changed (and whether the key did).
- A device that moved: the same MAC, serial, public key or certificate, seen at one address
  before and at another address now. A key or certificate shared by several addresses (a
  factory default, CS401/CS402) proves nothing about which device went where, so it is only
  used when it is unique in both runs. Endpoints explained by a move are not listed again as
  new or vanished.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from camscan.model import Endpoint, canonical_mac
from camscan.reports.history_records import EndpointRecord, FindingRecord, RunSnapshot
from camscan.termtext import sanitize


@dataclass(frozen=True)
class CertificateChange:
    endpoint: Endpoint
    old: EndpointRecord
    new: EndpointRecord

    @property
    def key_changed(self) -> bool:
        return self.old.spki_sha256 != self.new.spki_sha256

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.endpoint.address,
            "port": self.endpoint.port,
            "server_name": self.endpoint.server_name,
            "old_leaf_sha256": self.old.leaf_sha256,
            "new_leaf_sha256": self.new.leaf_sha256,
            "key_changed": self.key_changed,
            "old_not_after": self.old.not_after,
            "new_not_after": self.new.not_after,
            "old_subject": self.old.subject,
            "new_subject": self.new.subject,
        }


@dataclass(frozen=True)
class DeviceMove:
    old_address: str
    new_address: str
    matched_by: str  # "mac", "serial", "key" or "certificate"
    value: str
    ports: tuple[int, ...]
    certificate_unchanged: bool  # the device still presents the certificate of its old address

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_address": self.old_address,
            "new_address": self.new_address,
            "matched_by": self.matched_by,
            "value": self.value,
            "ports": list(self.ports),
            "certificate_unchanged": self.certificate_unchanged,
        }


@dataclass(frozen=True)
class RunDiff:
    old_run_id: int | None
    new_run_id: int | None
    new_findings: tuple[FindingRecord, ...]
    resolved_findings: tuple[FindingRecord, ...]
    new_endpoints: tuple[EndpointRecord, ...]
    vanished_endpoints: tuple[EndpointRecord, ...]
    certificate_changes: tuple[CertificateChange, ...]
    moves: tuple[DeviceMove, ...]

    @property
    def empty(self) -> bool:
        return not (
            self.new_findings
            or self.resolved_findings
            or self.new_endpoints
            or self.vanished_endpoints
            or self.certificate_changes
            or self.moves
        )

    def counts(self) -> dict[str, int]:
        return {
            "new_findings": len(self.new_findings),
            "resolved_findings": len(self.resolved_findings),
            "new_endpoints": len(self.new_endpoints),
            "vanished_endpoints": len(self.vanished_endpoints),
            "certificate_changes": len(self.certificate_changes),
            "moves": len(self.moves),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_run": self.old_run_id,
            "new_run": self.new_run_id,
            "changed": not self.empty,
            "counts": self.counts(),
            "new_findings": [f.to_dict() for f in self.new_findings],
            "resolved_findings": [f.to_dict() for f in self.resolved_findings],
            "new_endpoints": [e.to_dict() for e in self.new_endpoints],
            "vanished_endpoints": [e.to_dict() for e in self.vanished_endpoints],
            "certificate_changes": [c.to_dict() for c in self.certificate_changes],
            "moves": [m.to_dict() for m in self.moves],
        }

    def summary(self) -> str:
        """One line for an e-mail subject or a log: "2 new findings, 1 device moved"."""
        parts = []
        for count, one, many in (
            (len(self.new_findings), "new finding", "new findings"),
            (len(self.resolved_findings), "resolved finding", "resolved findings"),
            (len(self.moves), "device moved", "devices moved"),
            (len(self.certificate_changes), "certificate changed", "certificates changed"),
            (len(self.new_endpoints), "new endpoint", "new endpoints"),
            (len(self.vanished_endpoints), "vanished endpoint", "vanished endpoints"),
        ):
            if count:
                parts.append(f"{count} {one if count == 1 else many}")
        return ", ".join(parts) if parts else "no changes"


def _finding_key(f: FindingRecord) -> tuple[tuple[int, int, int, str], str]:
    return (f.endpoint.sort_key, f.rule_id)


def _finding_delta(ours: Iterable[FindingRecord], theirs: Iterable[FindingRecord]) -> list[FindingRecord]:
    """Findings in `ours` beyond the number of same (endpoint, rule) findings in `theirs`."""
    budget = Counter(_finding_key(f) for f in theirs)
    out = []
    for finding in ours:
        key = _finding_key(finding)
        if budget[key] > 0:
            budget[key] -= 1
        else:
            out.append(finding)
    return out


def _identities(record: EndpointRecord) -> list[tuple[str, str]]:
    """Strongest first: a MAC or serial names a device; a key or certificate only suggests one."""
    found = []
    mac = canonical_mac(record.identity.mac)
    if mac:
        found.append(("mac", mac))
    if record.identity.serial:
        found.append(("serial", record.identity.serial))
    if record.spki_sha256:
        found.append(("key", record.spki_sha256))
    if record.leaf_sha256:
        found.append(("certificate", record.leaf_sha256))
    return found


def _addresses_by_identity(records: Iterable[EndpointRecord]) -> dict[tuple[str, str], set[str]]:
    index: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in records:
        for ident in _identities(record):
            index[ident].add(record.endpoint.address)
    return index


def _find_moves(old: list[EndpointRecord], new: list[EndpointRecord]) -> list[tuple[str, str, str, str]]:
    """(old_address, new_address, kind, value) for every address whose device now answers elsewhere."""
    old_index = _addresses_by_identity(old)
    new_index = _addresses_by_identity(new)
    moves: dict[tuple[str, str], tuple[str, str]] = {}
    claimed_old: set[str] = set()
    for record in sorted(new, key=lambda r: r.endpoint.sort_key):
        new_address = record.endpoint.address
        for kind, value in _identities(record):
            before = old_index.get((kind, value), set())
            now = new_index.get((kind, value), set())
            if len(before) != 1 or len(now) != 1:
                continue  # unknown before, or shared by several addresses: not evidence of a move
            (old_address,) = before
            if old_address == new_address:
                break  # this device stayed where it was
            if (old_address, new_address) not in moves and old_address not in claimed_old:
                moves[(old_address, new_address)] = (kind, value)
                claimed_old.add(old_address)
            break
    return [(a, b, kind, value) for (a, b), (kind, value) in moves.items()]


def diff_runs(old: RunSnapshot, new: RunSnapshot) -> RunDiff:
    """Compare two runs (old may be the empty RunSnapshot(None) before the first audit)."""
    old_ok = {e.endpoint: e for e in old.endpoints if e.observed}
    new_ok = {e.endpoint: e for e in new.endpoints if e.observed}

    moves: list[DeviceMove] = []
    moved_old: set[str] = set()
    moved_new: set[str] = set()
    for old_address, new_address, kind, value in _find_moves(list(old_ok.values()), list(new_ok.values())):
        old_eps = {ep.port: rec for ep, rec in old_ok.items() if ep.address == old_address}
        new_eps = {ep.port: rec for ep, rec in new_ok.items() if ep.address == new_address}
        old_leaves = {rec.leaf_sha256 for rec in old_eps.values()}
        unchanged = any(rec.leaf_sha256 in old_leaves for rec in new_eps.values())
        moves.append(
            DeviceMove(
                old_address=old_address,
                new_address=new_address,
                matched_by=kind,
                value=value,
                ports=tuple(sorted(set(old_eps) | set(new_eps))),
                certificate_unchanged=unchanged,
            )
        )
        # Only an address that is gone (or now another device) is explained by the move.
        if not any(ep.address == old_address for ep in new_ok):
            moved_old.add(old_address)
        if not any(ep.address == new_address for ep in old_ok):
            moved_new.add(new_address)

    new_endpoints = [rec for ep, rec in new_ok.items() if ep not in old_ok and ep.address not in moved_new]
    vanished = [rec for ep, rec in old_ok.items() if ep not in new_ok and ep.address not in moved_old]
    changes = [
        CertificateChange(ep, old_ok[ep], rec)
        for ep, rec in new_ok.items()
        if ep in old_ok and old_ok[ep].leaf_sha256 != rec.leaf_sha256
    ]

    def by_endpoint(items: Iterable[Any]) -> tuple[Any, ...]:
        return tuple(sorted(items, key=lambda x: x.endpoint.sort_key))

    return RunDiff(
        old_run_id=old.run.id if old.run else None,
        new_run_id=new.run.id if new.run else None,
        new_findings=tuple(
            sorted(_finding_delta(new.findings, old.findings), key=lambda f: (*_finding_key(f), f.message))
        ),
        resolved_findings=tuple(
            sorted(_finding_delta(old.findings, new.findings), key=lambda f: (*_finding_key(f), f.message))
        ),
        new_endpoints=by_endpoint(new_endpoints),
        vanished_endpoints=by_endpoint(vanished),
        certificate_changes=by_endpoint(changes),
        moves=tuple(sorted(moves, key=lambda m: (m.old_address, m.new_address))),
    )


def _short(fingerprint: str | None) -> str:
    return fingerprint[:16] if fingerprint else "-"


def render_text(diff: RunDiff) -> str:
    """The diff for a terminal, a log or an e-mail body; device-controlled text is sanitized."""
    old = f"run {diff.old_run_id}" if diff.old_run_id is not None else "an empty history"
    lines = [f"changes from {old} to run {diff.new_run_id}: {diff.summary()}"]
    if diff.moves:
        lines.append("")
        lines.append("devices moved:")
        for m in diff.moves:
            cert = " (still presenting the certificate of its old address)" if m.certificate_unchanged else ""
            # Fingerprints are shortened like everywhere in this text; a MAC or serial is shown
            # whole (cut to 16 characters, a MAC lost its last digit).
            value = _short(m.value) if m.matched_by in ("key", "certificate") else sanitize(m.value)
            lines.append(f"  {m.old_address} -> {m.new_address}  same {m.matched_by} {value}{cert}")
    if diff.certificate_changes:
        lines.append("")
        lines.append("certificates changed:")
        for c in diff.certificate_changes:
            key = "new key" if c.key_changed else "same key"
            lines.append(
                f"  {sanitize(c.endpoint)}  {_short(c.old.leaf_sha256)} -> "
                f"{_short(c.new.leaf_sha256)} ({key}; "
                f"expires {c.old.not_after or '?'} -> {c.new.not_after or '?'})"
            )
    for title, records in (
        ("new endpoints:", diff.new_endpoints),
        ("vanished endpoints:", diff.vanished_endpoints),
    ):
        if records:
            lines.append("")
            lines.append(title)
            for r in records:
                subject = sanitize(r.subject or "-")
                lines.append(f"  {sanitize(r.endpoint)}  {subject}  leaf {_short(r.leaf_sha256)}")
    for title, findings in (
        ("new findings:", diff.new_findings),
        ("resolved findings:", diff.resolved_findings),
    ):
        if findings:
            lines.append("")
            lines.append(title)
            for f in findings:
                lines.append(f"  {sanitize(f.endpoint)}  {f.rule_id} {f.severity:<7}  {sanitize(f.message)}")
    return "\n".join(lines) + "\n"
