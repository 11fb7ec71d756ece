"""remediate.loop.apply_and_rescan on a real lab, in-process: the outcome of each device comes
from what the rescan observed, and a device that does not answer it is never counted clean."""

from __future__ import annotations

import argparse
from pathlib import Path

import trio

from camscan.lab import DeviceSpec, Fleet, LabSettings, open_lab
from camscan.model import AuditResult
from camscan.pipeline import judge, run_scan
from camscan.remediate.apply import ApplyOptions
from camscan.remediate.auditlog import AuditLog
from camscan.remediate.ca import LocalCA
from camscan.remediate.drivers.base import Credentials
from camscan.remediate.issuers.local import LocalIssuer
from camscan.remediate.loop import answering, apply_and_rescan
from camscan.remediate.model import Status
from camscan.remediate.plan import PlanOptions, plan_fixes
from camscan.rules.options import context_from_args
from camscan.scanner.options import scan_parameters, sweep_options
from tests.support.lab_thread import random_block

PASSWORD = "Loop-Pw-41d2"


async def test_outcomes_come_from_the_rescan_and_silence_is_not_clean(tmp_path: Path) -> None:
    fleet = Fleet(
        LabSettings(block=random_block(92), https_port=0, http_port=None, password=PASSWORD,
                    reboot_downtime=0.2, ws_discovery=False),
        (DeviceSpec("hikvision", "expired", name="fine"), DeviceSpec("axis", "expired", name="gone")),
    )
    ca = LocalCA.init(tmp_path / "site-ca")
    with trio.fail_after(120):
        async with open_lab(fleet) as lab:
            bundles = lab.write_bundles(tmp_path)
            trust = argparse.Namespace(ca_bundle=[str(bundles["site"]), str(ca.cert_path)], trust="site",
                                       offline=True)
            endpoints = lab.endpoints()
            options = sweep_options(object(), http_facts=False, legacy_probe=False, ws_discovery=False)
            parameters = scan_parameters([e.address for e in endpoints], [endpoints[0].port], options)

            async def scan() -> AuditResult:
                result = await run_scan(endpoints, options, parameters)
                return await judge(result, context_from_args(trust))

            before = await scan()
            assert {f.rule_id for f in before.findings} == {"CS120"}
            plans = plan_fixes(before, PlanOptions(ca_dir=str(ca.directory), user="admin"))
            assert len(plans) == 2 and all(p.automatic for p in plans)
            gone = next(d for d in lab.devices if d.name == "gone")

            async def rescan_while_one_is_down() -> AuditResult:
                # The second device loses power after its fix, before the rescan reaches it.
                await gone.stop()
                return await scan()

            log = AuditLog(ca.directory / "audit.log", secrets=(PASSWORD,))
            try:
                loop = await apply_and_rescan(
                    plans, LocalIssuer(ca), lambda _address: Credentials("admin", PASSWORD),
                    ApplyOptions(backup_dir=ca.directory / "backups", reboot_timeout=20),
                    log, rescan_while_one_is_down,
                )
            finally:
                log.close()

    outcomes = {o.endpoint: o for o in loop.outcomes}
    fine = next(p.endpoint for p in plans if p.endpoint != gone.endpoint)
    assert outcomes[fine].status == Status.FIXED, outcomes[fine]
    assert outcomes[gone.endpoint].status == Status.FAILED, outcomes[gone.endpoint]
    assert "rescan found no TLS service" in outcomes[gone.endpoint].reason
    assert loop.count(Status.FIXED) == 1 and loop.count(Status.FAILED) == 1
    # The rescan's zero findings cover one answering endpoint, not two.
    assert not loop.after.findings
    assert answering(loop.after) == {fine}
    assert answering(before) - answering(loop.after) == {gone.endpoint}
