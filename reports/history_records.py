"""The history's records as the readers see them: runs, endpoints, findings, one run's snapshot.

Plain frozen data read back from SQLite (reports.history writes and reads it), shared by the
diff, the notifications and the `history` command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from camscan.model import DeviceIdentity, Endpoint

STATUS_OK = "ok"


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class RunRecord:
    id: int
    started_at: datetime
    finished_at: datetime
    as_of: datetime
    parameters: dict[str, Any]
    observations: int
    failures: int
    findings: int
    by_severity: dict[str, int]
    # A central audit across sites: each site's status (json_report.site_entry); () otherwise.
    sites: tuple[dict[str, Any], ...] = ()

    def site_state(self, name: str) -> str | None:
        """"complete", "partial", "down", or None when the run had no such site."""
        return next((str(s.get("state")) for s in self.sites if s.get("name") == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": iso_z(self.started_at),
            "finished_at": iso_z(self.finished_at),
            "as_of": iso_z(self.as_of),
            "targets": list(self.parameters.get("targets", [])),
            "ports": list(self.parameters.get("ports", [])),
            "observations": self.observations,
            "failures": self.failures,
            "findings": self.findings,
            "findings_by_severity": dict(self.by_severity),
            "sites": [dict(s) for s in self.sites],
        }


@dataclass(frozen=True)
class EndpointRecord:
    endpoint: Endpoint
    status: str  # "ok", or the FailureKind of a failure worth remembering
    observed_at: datetime
    detail: str | None = None
    tls_version: str | None = None
    leaf_sha256: str | None = None
    spki_sha256: str | None = None
    subject: str | None = None
    not_after: str | None = None
    identity: DeviceIdentity = field(default_factory=DeviceIdentity)
    site: str | None = None

    @property
    def observed(self) -> bool:
        return self.status == STATUS_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.endpoint.address,
            "port": self.endpoint.port,
            "server_name": self.endpoint.server_name,
            "status": self.status,
            "detail": self.detail,
            "leaf_sha256": self.leaf_sha256,
            "spki_sha256": self.spki_sha256,
            "subject": self.subject,
            "not_after": self.not_after,
            "mac": self.identity.mac,
            "serial": self.identity.serial,
            "site": self.site,
        }


@dataclass(frozen=True)
class FindingRecord:
    endpoint: Endpoint
    rule_id: str
    severity: str
    title: str
    message: str
    evidence: dict[str, Any]
    site: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.endpoint.address,
            "port": self.endpoint.port,
            "server_name": self.endpoint.server_name,
            "site": self.site,
            "rule_id": self.rule_id,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
        }


@dataclass(frozen=True)
class RunSnapshot:
    """One run as the diff sees it. `run` is None for the empty run before the first audit."""

    run: RunRecord | None
    endpoints: tuple[EndpointRecord, ...] = ()
    findings: tuple[FindingRecord, ...] = ()
