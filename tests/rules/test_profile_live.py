"""End to end on real sockets: two simulated cameras on 127.x serve bad certificates, camscan's
sweep probes them (TLS handshake, HTTP Date, scapy legacy hellos) and the registry judges them.
Only loopback addresses; every network wait is bounded by trio.fail_after."""

from __future__ import annotations

import datetime as dt
import email.utils
import ssl
from collections import defaultdict

import trio

from camscan import pki
from camscan.model import AuditContext, Endpoint, ScanParameters
from camscan.pipeline import run_scan
from camscan.rules.registry import evaluate
from camscan.scanner.sweep import SweepOptions
from tests.support.tls_servers import ServerSpec, serve

CAM_A, CAM_A_OLD, CAM_B = "127.0.0.71", "127.0.0.70", "127.0.0.72"
DAY = dt.timedelta(days=1)


def fleet_specs() -> tuple[ServerSpec, ServerSpec]:
    now = pki.utcnow()
    factory_key = pki.new_key("rsa-1024")  # one firmware key on both cameras
    builtin = pki.make_ca(
        "Product Root CA",
        subject=pki.name("Product Root CA", C="CN", ST="ZheJiang", L="HangZhou", O="DahuaTech"),
        not_before=now - 3000 * DAY,
    )
    # Camera A booted at its old address and was then moved: the boot certificate names it.
    stale = pki.make_leaf(
        builtin, common_name=CAM_A_OLD, ips=[CAM_A_OLD], key=factory_key,
        not_before=now - 10 * DAY, not_after=now + 3640 * DAY,
    )
    cam_a = ServerSpec(
        chain=[stale.cert],
        key=factory_key,
        min_version=ssl.TLSVersion.TLSv1,
        http_headers=[("Server", "cam-a"), ("Date", "Thu, 01 Jan 1970 00:00:07 GMT")],
    )
    # Camera B: self-signed, marked as a CA, made for client auth, expired yesterday.
    expired = pki.make_leaf(
        None, common_name=CAM_B, ips=[CAM_B], key=factory_key, is_ca=True, server_auth=False,
        not_before=now - 300 * DAY, not_after=now - DAY,
    )
    honest_clock = [("Server", "cam-b"), ("Date", email.utils.format_datetime(now, usegmt=True))]
    return cam_a, ServerSpec(chain=[expired.cert], key=factory_key, http_headers=honest_clock)


async def test_bad_cameras_probed_and_judged_end_to_end() -> None:
    spec_a, spec_b = fleet_specs()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            _, port_a = await nursery.start(serve, spec_a, CAM_A)
            _, port_b = await nursery.start(serve, spec_b, CAM_B)
            endpoints = [Endpoint(CAM_A, port_a), Endpoint(CAM_B, port_b)]
            options = SweepOptions(connect_timeout=3, handshake_timeout=5, legacy_probe=True)
            parameters = ScanParameters(targets=(CAM_A, CAM_B), ports=(port_a, port_b))
            scan = await run_scan(endpoints, options, parameters)
            nursery.cancel_scope.cancel()

    assert scan.failures == () and len(scan.observations) == 2
    found = evaluate(scan.observations, AuditContext(now=pki.utcnow()))
    ids: dict[str, set[str]] = defaultdict(set)
    for finding in found:
        ids[finding.endpoint.address].add(finding.rule_id)
    # Only the profile/expiry/protocol/fleet rules are asserted here; name and trust rules are tested apart.
    numbers = (101, 102, 103, 104, 109, 110, 111, 120, 121, 122, 301, 302, 401, 402, 403, 404)
    mine = {f"CS{n}" for n in numbers}
    assert not [f for f in found if f.rule_id == "CS000" and f.evidence["rule_id"] in mine]
    assert ids[CAM_A] & mine == {"CS101", "CS109", "CS301", "CS302", "CS401", "CS403", "CS404"}
    assert ids[CAM_B] & mine == {"CS101", "CS103", "CS104", "CS111", "CS120", "CS401"}

    by_rule = {(f.endpoint.address, f.rule_id): f for f in found}
    stale = by_rule[(CAM_A, "CS404")]
    assert stale.evidence["previous_address"] == CAM_A_OLD
    assert stale.evidence["evidence"][0]["basis"] == "built_in_ca"
    # One hello offers both; the highest the device speaks is what is recorded.
    assert by_rule[(CAM_A, "CS301")].evidence["legacy_accepted"] == ["TLSv1.1"]
    assert by_rule[(CAM_A, "CS302")].evidence["device_time"] == "1970-01-01T00:00:07Z"
    assert by_rule[(CAM_B, "CS401")].evidence["shared_with"] == [f"{CAM_A}:{port_a}"]
