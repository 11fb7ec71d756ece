"""Findings -> a fix plan per device. Pure: plain functions over an AuditResult.

Order matters on a camera: the clock first (a certificate checked against a wrong clock looks
expired or not yet valid, and WS-Security tokens are refused), then the certificate, then a
reboot. One certificate step per device, whatever the number of findings it clears: a device
gets one new certificate, not one per problem.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from camscan.model import AuditResult, Endpoint, Finding, Observation
from camscan.remediate import commands as cmd
from camscan.remediate.model import Action, DevicePlan, Step, Strategy

CLOCK_RULES = frozenset({"CS122", "CS302"})
NAME_RULES = frozenset({"CS105", "CS106", "CS107", "CS108", "CS404"})
KEY_RULES = frozenset({"CS401", "CS402", "CS403"})
REISSUE_RULES = frozenset(
    {
        "CS101",
        "CS102",
        "CS103",
        "CS104",
        "CS109",
        "CS110",
        "CS111",
        "CS112",
        "CS120",
        "CS121",
        "CS122",
        "CS203",
        "CS204",
        "CS501",
    }
)
# Everything else (CS301 legacy TLS, CS000 a rule that crashed, rules added later) gets the
# rule's own remediation text as a manual step: never silence.

DRIVERS = (("hikvision", "hikvision"), ("axis", "axis"), ("dahua", "dahua"), ("amcrest", "dahua"))


@dataclass(frozen=True)
class PlanOptions:
    ca_dir: str = "./site-ca"
    user: str = "admin"
    # A device whose certificate comes from its firmware's built-in CA: by default the built-in
    # CA is exported and trusted on clients (Sunell HTTPS FAQ Solution 1); with this, the device moves
    # to the site CA instead (Solution 2).
    move_to_site_ca: bool = False
    driver: str | None = None  # forced driver (--driver)
    issuer: str | None = None  # --issuer NAME when not the site CA
    issuers: str | None = None  # --issuers FILE


def guess_driver(vendor: str | None) -> str | None:
    """Which device API to speak, from a vendor name; None when the name says nothing (the
    apply engine then asks the device itself over ONVIF, which every supported camera speaks)."""
    text = (vendor or "").lower()
    if not text:
        return None
    return next((driver for needle, driver in DRIVERS if needle in text), "onvif")


def built_in_ca(findings: Iterable[Finding]) -> bool:
    """Whether CS202 found the chain ends at the firmware's own built-in CA (Sunell HTTPS FAQ Q1)."""
    for finding in findings:
        if finding.rule_id == "CS202":
            root: Any = finding.evidence.get("untrusted_root") or {}
            if isinstance(root, dict) and root.get("inferred_as") == "built_in_ca":
                return True
    return False


def device_names(endpoint: Endpoint) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names a new certificate must carry: the address camscan reached, and the host name
    the user scanned it by (sent as SNI). A browser checks exactly these."""
    address = str(ipaddress.ip_address(endpoint.address))
    dns = (endpoint.server_name,) if endpoint.server_name else ()
    return (address,), dns


def plan_fixes(audit: AuditResult, options: PlanOptions = PlanOptions()) -> list[DevicePlan]:
    by_endpoint: dict[Endpoint, list[Finding]] = {}
    for finding in audit.findings:
        by_endpoint.setdefault(finding.endpoint, []).append(finding)
    observations = {obs.endpoint: obs for obs in audit.scan.observations}
    return [
        plan_device(endpoint, findings, observations.get(endpoint), options)
        for endpoint, findings in sorted(by_endpoint.items(), key=lambda item: item[0].sort_key)
    ]


def plan_device(
    endpoint: Endpoint, findings: Sequence[Finding], obs: Observation | None, options: PlanOptions
) -> DevicePlan:
    vendor = obs.identity.vendor if obs is not None else None
    driver = options.driver or guess_driver(vendor)
    ips, dns = device_names(endpoint)
    ctx = cmd.Context(
        endpoint=endpoint,
        ips=ips,
        dns=dns,
        driver=driver,
        ca_dir=options.ca_dir,
        user=options.user,
        issuer=options.issuer,
        issuers=options.issuers,
    )
    rule_ids = tuple(sorted({f.rule_id for f in findings}))
    firmware_ca = built_in_ca(findings)
    steps: list[Step] = []
    if CLOCK_RULES & set(rule_ids):
        steps.append(
            Step(
                Strategy.SET_CLOCK,
                Action.SET_CLOCK,
                "correct the device clock before anything else, keeping its NTP mode and time zone "
                "(a device on NTP is set once and stays on NTP, or gets the server named with "
                "--ntp-server)",
                True,
                cmd.apply_command(ctx),
                cmd.clock_manual(ctx),
                tuple(sorted(CLOCK_RULES & set(rule_ids))),
            )
        )
    reboot_ids: set[str] = set()
    reissue_ids: set[str] = set()
    manual: list[Finding] = []
    trust_ca = False
    for rule_id in rule_ids:
        if rule_id == "CS302":
            continue  # the clock step clears it
        if rule_id == "CS202":
            if firmware_ca and not options.move_to_site_ca:
                trust_ca = True
            else:
                reissue_ids.add(rule_id)
        elif rule_id in NAME_RULES | {"CS122"} and firmware_ca:
            # The firmware makes a certificate for its current IP, dated by its (now corrected)
            # clock, at every boot.
            reboot_ids.add(rule_id)
        elif rule_id in NAME_RULES | REISSUE_RULES | KEY_RULES or rule_id == "CS201":
            reissue_ids.add(rule_id)
        else:
            manual.extend(f for f in findings if f.rule_id == rule_id)
    inherent: set[str] = set()
    if firmware_ca and not options.move_to_site_ca:
        # Kept on its built-in CA, the device serves whatever certificate its firmware makes
        # (ten years, the vendor's names): only leaving that CA changes those findings.
        inherent, reissue_ids = reissue_ids, set()
    if reissue_ids:
        # An installed certificate replaces the firmware's and survives reboots (Sunell HTTPS FAQ Q2):
        # a reboot would change nothing more.
        reissue_ids |= reboot_ids
        reboot_ids.clear()
        steps.append(_reissue_step(ctx, reissue_ids))
    if reboot_ids:
        steps.append(
            Step(
                Strategy.REBOOT,
                Action.REBOOT,
                "reboot: the firmware makes a new certificate for the device's current "
                "address and clock at every boot (Sunell HTTPS FAQ Q1); the one served "
                + _why_reboot(reboot_ids),
                True,
                cmd.apply_command(ctx),
                cmd.reboot_manual(ctx),
                tuple(sorted(reboot_ids)),
            )
        )
    if trust_ca:
        steps.append(
            Step(
                Strategy.TRUST_DEVICE_CA,
                Action.MANUAL,
                "the certificate comes from the firmware's built-in CA: export it from the device "
                "(cacert.crt) and import it as a trusted root on every client (Sunell HTTPS FAQ Solution 1), "
                "or move the device to the site CA with `camscan fix --move-to-site-ca`",
                False,
                cmd.trust_ca_commands(ctx),
                (),
                ("CS202",),
            )
        )
    if inherent:
        steps.append(
            Step(
                Strategy.MANUAL,
                Action.MANUAL,
                "these come from the certificate the firmware makes with its built-in CA: only moving "
                "the device to the site CA changes them (`camscan fix --move-to-site-ca`)",
                False,
                (),
                (),
                tuple(sorted(inherent)),
            )
        )
    for finding in manual:
        steps.append(
            Step(Strategy.MANUAL, Action.MANUAL, finding.remediation, False, (), (), (finding.rule_id,))
        )
    return DevicePlan(
        endpoint,
        vendor,
        driver,
        ips,
        dns,
        rule_ids,
        tuple(steps),
        obs.leaf_sha256 if obs is not None and obs.chain_der else None,
    )


def _why_reboot(rule_ids: set[str]) -> str:
    reasons = []
    if rule_ids - {"CS122"}:
        reasons.append("predates an address change")
    if "CS122" in rule_ids:
        reasons.append("was made while the clock ran ahead")
    return " and ".join(reasons)


def _reissue_step(ctx: cmd.Context, rule_ids: set[str]) -> Step:
    if rule_ids & KEY_RULES:
        strategy, summary = (
            Strategy.NEW_KEY,
            "the key is shared with other devices or a vendor default: give the device a key "
            "of its own (made on the device where it can) and a site-CA certificate for it",
        )
    elif "CS201" in rule_ids:
        strategy, summary = (
            Strategy.INTERMEDIATE,
            "the device sends its leaf without the intermediate and cannot send more than one "
            "certificate (OpenMV TLS guide): re-issue it straight from the site CA, whose root the "
            "clients import, so no intermediate is needed (or install the intermediate on "
            "every client)",
        )
    elif ctx.issuer:
        strategy, summary = (
            Strategy.REISSUE,
            f"re-issue the certificate from issuer {ctx.issuer} for the device's address "
            "(key made on the device where it can, checked before it is installed) and install it",
        )
    else:
        strategy, summary = (
            Strategy.REISSUE,
            "re-issue the certificate from the site CA for the device's address "
            "(ECDSA P-256, serverAuth, 398 days; key made on the device where it can) and "
            "install it",
        )
    return Step(
        strategy,
        Action.REISSUE,
        summary,
        True,
        cmd.reissue_commands(ctx),
        cmd.reissue_openssl(ctx),
        tuple(sorted(rule_ids)),
    )
