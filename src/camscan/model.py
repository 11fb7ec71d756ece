"""The plain data that flows through camscan: endpoints, observations, failures, findings.

Everything here is frozen and free of I/O, so the scanner (which produces observations),
the rules (which judge them) and the reports (which render them) can be tested apart.
Imports point one way: model <- scanner; model <- rules <- reports.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

# 1.1: parameters.shard, rules_fingerprint and judging_fingerprint; 1.2: parameters.merge, sites,
# discovery and found_by
SCHEMA_VERSION = "1.2"


@lru_cache(maxsize=4096)
def _parsed_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # Reports and rules sort and compare the same endpoints many times over; bounded, so a
    # sweep of a /16 of failures does not keep an address object per endpoint.
    return ipaddress.ip_address(address)


class Severity(enum.StrEnum):
    """How bad a finding is. Ordered: ERROR > WARNING > NOTICE."""

    NOTICE = "notice"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"notice": 1, "warning": 2, "error": 3}[self.value]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True, order=True, slots=True)
class Endpoint:
    """One TCP endpoint to probe. `server_name` is the SNI / name to match (None for IP targets)."""

    address: str
    port: int
    server_name: str | None = None

    # Slots, not a __dict__: a /16 sweep keeps 65,536 of these (one per failure record).
    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return _parsed_address(self.address)

    @property
    def sort_key(self) -> tuple[int, int, int, str]:
        ip = self.ip
        return (ip.version, int(ip), self.port, self.server_name or "")

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        label = f"{host}:{self.port}"
        return f"{self.server_name} ({label})" if self.server_name else label


class FailureKind(enum.StrEnum):
    """The closed set of ways a probe can end without an observation."""

    REFUSED = "refused"  # TCP RST to our SYN: nothing listens
    TIMEOUT = "timeout"  # connect or handshake did not finish within its timeout
    UNREACHABLE = "unreachable"  # no route / host unreachable / network down
    RESET = "reset"  # connection reset or closed during the handshake
    NOT_TLS = "not_tls"  # the peer answered, but not with TLS
    HANDSHAKE_FAILED = "handshake_failed"  # TLS alert / no common protocol or cipher
    NAME_RESOLUTION = "name_resolution"  # a host-name target did not resolve
    ERROR = "error"  # any other OS error (detail says which)


class ProbeStage(enum.StrEnum):
    RESOLVE = "resolve"
    CONNECT = "connect"
    HANDSHAKE = "handshake"


@dataclass(frozen=True, slots=True)  # a /16 of failures keeps 65,536 of these
class ProbeFailure:
    endpoint: Endpoint
    stage: ProbeStage
    kind: FailureKind
    detail: str
    observed_at: datetime


@dataclass(frozen=True)
class HTTPFacts:
    """What one small HTTP request after the handshake told us. All device-controlled text."""

    status: int | None
    server: str | None
    date: str | None  # the raw Date header, as sent
    device_time: datetime | None  # Date parsed, UTC; None if absent or unparseable
    www_authenticate: str | None = None


@dataclass(frozen=True)
class DeviceIdentity:
    """Facts that identify a physical device across addresses (from the device API or L2)."""

    mac: str | None = None
    serial: str | None = None
    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None


def canonical_mac(mac: str | None) -> str | None:
    """One spelling per MAC for comparisons: "AC-CC-8E-01-02-03" and "accc8e010203" both become
    "ac:cc:8e:01:02:03"; text that is not 12 hex digits is kept, trimmed and lower-cased."""
    if not mac:
        return None
    digits = "".join(c for c in mac.lower() if c in "0123456789abcdef")
    if len(digits) != 12:
        return mac.strip().lower() or None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


@dataclass(frozen=True)
class Observation:
    """What one HTTPS endpoint presented, recorded permissively: judged later by the rules."""

    endpoint: Endpoint
    chain_der: tuple[bytes, ...]  # as sent, leaf first
    tls_version: str  # e.g. "TLSv1.3"
    cipher: str
    observed_at: datetime  # UTC, when the handshake completed
    http: HTTPFacts | None = None
    identity: DeviceIdentity = field(default_factory=DeviceIdentity)
    # Legacy protocol versions the endpoint accepted ("TLSv1.0", "TLSv1.1");
    # None means camscan did not probe for them (so rules must not judge).
    legacy_versions: tuple[str, ...] | None = None

    @cached_property
    def chain(self) -> tuple[x509.Certificate, ...]:
        from cryptography import x509

        return tuple(x509.load_der_x509_certificate(der) for der in self.chain_der)

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def leaf_sha256(self) -> str:
        return hashlib.sha256(self.chain_der[0]).hexdigest()


ProbeResult = Observation | ProbeFailure


@dataclass(frozen=True)
class Violation:
    """What a rule's check yields: the message and the evidence that proves it."""

    message: str
    # "count" and "violations" are reserved: they mark the evaluator's merge of several
    # violations of one rule on one endpoint (camscan.rules.registry.merge_violations).
    evidence: Mapping[str, Any] = field(default_factory=dict)
    # Some rules pick a severity per case (e.g. expired leaf vs expiring soon).
    severity: Severity | None = None


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: Severity
    endpoint: Endpoint
    title: str
    message: str
    evidence: Mapping[str, Any]
    remediation: str


@dataclass(frozen=True)
class HistoryFact:
    """One earlier sighting of a device in the audit history (fed to the stale-certificate rule)."""

    endpoint: Endpoint
    seen_at: datetime
    leaf_sha256: str
    spki_sha256: str
    mac: str | None = None
    serial: str | None = None


@dataclass(frozen=True)
class AuditContext:
    """Everything a rule may consult besides the observation itself. No I/O behind it."""

    now: datetime  # the audit clock (UTC); --as-of overrides it
    expiry_warn_days: int = 30
    max_validity_days: int = 398
    clock_skew_warn_seconds: int = 300
    trust: Any = None  # camscan.rules.trust.TrustConfig, opaque to the model
    history: Sequence[HistoryFact] = ()
    profile: str = "device"  # "webpki" adds the CA/B Forum BR rules (CS6xx)
    # Per-run cache the rules share (e.g. one chain verdict per observation).
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


ObservationCheck = Callable[[Observation, AuditContext], Iterator[Violation]]
FleetCheck = Callable[[Sequence[Observation], AuditContext], Iterator[tuple[Endpoint, Violation]]]


@dataclass(frozen=True)
class Rule:
    """A rule's identity and documentation. Exactly one of `check` or `check_fleet` is set."""

    id: str  # "CS" + 3 digits, never reused
    title: str
    severity: Severity
    citation: str
    rationale: str
    remediation: str
    doc: str
    check: ObservationCheck | None = None
    check_fleet: FleetCheck | None = None
    # None: the device profile, always judged. "webpki": only under `--profile webpki`
    # (CA/Browser Forum Baseline Requirements checks the device profile leaves out).
    profile: str | None = None

    def __post_init__(self) -> None:
        if (self.check is None) == (self.check_fleet is None):
            raise ValueError(f"{self.id}: exactly one of check/check_fleet must be set")


@dataclass(frozen=True)
class ScanParameters:
    targets: tuple[str, ...]
    ports: tuple[int, ...]
    excluded: tuple[str, ...] = ()
    concurrency: int = 256
    per_host: int = 2
    rate: float | None = None
    connect_timeout: float = 3.0
    handshake_timeout: float = 5.0
    # Which optional probes ran (None: not recorded, e.g. a scan assembled by hand).
    http_facts: bool | None = None
    http_timeout: float | None = None
    legacy_probe: bool | None = None
    ws_discovery: bool | None = None
    # "I/N" when the sweep covered one shard of the targets (--shard), else None.
    shard: str | None = None
    # What a merged report (camscan merge) covers; None for a report of one run.
    merge: MergeCoverage | None = None


@dataclass(frozen=True)
class MergeCoverage:
    reports: int  # how many reports were merged
    shards: tuple[str, ...]  # the shards they are ("1/3", "3/3"); empty when none was a shard
    missing_shards: tuple[str, ...]  # shards of that split no report was given for ("2/3")


@dataclass(frozen=True)
class DiscoveryMethodStats:
    """What one host-discovery method did in a run (camscan.scanner.discovery)."""

    method: str  # "arp", "syn", "connect", or "none" (addresses swept without discovery)
    addresses: int  # addresses this method was responsible for
    alive: int  # of those, how many answered
    packets: int  # ARP requests, SYNs or connect attempts sent (0 for "none")
    seconds: float


@dataclass(frozen=True)
class DiscoverySummary:
    """The host-discovery stage in front of the TLS sweep: how the run found its hosts."""

    requested: str  # what --discovery asked for: auto, arp, syn, connect
    privileged: bool  # raw sockets were available (CAP_NET_RAW)
    rate: float  # packets per second, all methods together
    retries: int
    methods: tuple[DiscoveryMethodStats, ...]
    found_by: Mapping[str, str]  # address -> method, for every address the sweep went on to
    macs: Mapping[str, str] = field(default_factory=dict)  # address -> MAC from ARP
    unreachable: int = 0  # addresses without a route (nothing sent to them)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanResult:
    parameters: ScanParameters
    started_at: datetime
    finished_at: datetime
    observations: tuple[Observation, ...]
    failures: tuple[ProbeFailure, ...]
    discovery: DiscoverySummary | None = None  # None: no discovery stage ran


SITE_COMPLETE = "complete"  # every shard of the site's sweep came back


@dataclass(frozen=True)
class SiteStatus:
    """How one site's sweep went in a central audit (camscan.sites): never silently missing.

    `state` is "complete", "partial" (some shards came back) or "down" (none did); `detail`
    says why in one line (no worker, timed out, refused, result not valid JSON, ...)."""

    name: str
    queue: str
    state: str
    shards: int
    shards_done: int
    endpoints: int  # observations + failures the site returned
    detail: str = ""
    workers: tuple[str, ...] = ()  # the Celery worker names that returned shards

    @property
    def complete(self) -> bool:
        return self.state == SITE_COMPLETE


@dataclass(frozen=True)
class AuditResult:
    scan: ScanResult
    findings: tuple[Finding, ...]
    as_of: datetime
    # rules.registry.judging_fingerprint of the settings the findings were judged with (None:
    # not recorded, e.g. an AuditResult assembled by hand).
    judging: str | None = None
    # A central audit across sites: each site's status, and which site each endpoint is at.
    sites: tuple[SiteStatus, ...] = ()
    endpoint_sites: Mapping[Endpoint, str] = field(default_factory=dict)

    def site_of(self, endpoint: Endpoint) -> str | None:
        return self.endpoint_sites.get(endpoint)

    def findings_for(self, endpoint: Endpoint) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.endpoint == endpoint)
