"""The plain data of remediation: strategies, steps, per-device plans and apply outcomes.

Frozen and free of I/O, like camscan.model: the planner produces these, the text/JSON/HTML
renderers and the apply engine consume them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from camscan.model import Endpoint


class Strategy(enum.StrEnum):
    SET_CLOCK = "set-clock"  # CS122/CS302: the device clock is wrong; fixed first
    REBOOT = "reboot"  # built-in-CA firmware regenerates its certificate for the current IP at boot
    TRUST_DEVICE_CA = "trust-device-ca"  # export the built-in CA and import it on the clients
    REISSUE = "reissue"  # a new certificate from the site CA, installed through the API
    NEW_KEY = "new-key"  # shared or factory-default key: re-issue with a key of the device's own
    INTERMEDIATE = "intermediate"  # leaf-only device: site-CA route or intermediate on clients
    MANUAL = "manual"  # nothing camscan can do through an API: the steps a person takes
    RENEW = "renew"  # a certificate from the configured issuer entering its renewal window


class Action(enum.StrEnum):
    """What one step does to the device; the apply engine dispatches on this."""

    SET_CLOCK = "set-clock"
    REBOOT = "reboot"
    REISSUE = "reissue"  # on-device key + CSR when the device can, else key generated here
    MANUAL = "manual"


@dataclass(frozen=True)
class Step:
    strategy: Strategy
    action: Action
    summary: str
    automatic: bool  # True when `camscan fix --apply` can do it through the device API
    commands: tuple[str, ...] = ()  # camscan commands, the device's names filled in
    # the same by hand (Sunell HTTPS FAQ Solution 2; ECDSA P-256, OpenMV TLS guide)
    openssl: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()  # the findings this step addresses


@dataclass(frozen=True)
class DevicePlan:
    endpoint: Endpoint
    vendor: str | None
    driver: str | None  # "onvif" | "hikvision" | "axis" | "dahua"
    ips: tuple[str, ...]  # SAN IP addresses a new certificate must carry
    dns: tuple[str, ...]  # SAN DNS names a new certificate must carry
    findings: tuple[str, ...]  # every rule id found on the endpoint
    steps: tuple[Step, ...]  # in order: clock, certificate, reboot, then manual steps
    leaf_sha256: str | None = None  # the leaf the scan saw: the API session pins it

    @property
    def automatic(self) -> bool:
        return any(step.automatic for step in self.steps)

    @property
    def targeted_rules(self) -> frozenset[str]:
        """The findings the automatic steps are meant to clear (what the rescan checks)."""
        return frozenset(r for step in self.steps if step.automatic for r in step.rule_ids)


class Status(enum.StrEnum):
    FIXED = "fixed"  # the rescan finds nothing on the device
    IMPROVED = "improved"  # what the automatic steps targeted is gone; manual-step findings remain
    NOT_FIXED = "not_fixed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    endpoint: Endpoint
    status: Status
    reason: str
    driver: str | None = None
    remaining: tuple[str, ...] = ()  # rule ids still found by the rescan
    actions: tuple[str, ...] = ()  # what was done, in order
