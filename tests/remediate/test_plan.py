"""The planner, pure: certificates built in memory, judged by camscan's real rules, then planned.

Every case but the registry walk lets the rules find what is wrong (nothing hard-codes a
finding); the registry walk feeds every rule id to the planner on purpose, to prove none is
met with silence.
"""

from __future__ import annotations

import datetime as dt

from camscan import pki
from camscan.model import (
    AuditContext,
    AuditResult,
    DeviceIdentity,
    Endpoint,
    Finding,
    HTTPFacts,
    Observation,
    ScanParameters,
    ScanResult,
    Severity,
)
from camscan.remediate.model import Action, DevicePlan, Strategy
from camscan.remediate.plan import PlanOptions, plan_fixes
from camscan.rules.registry import all_rules, evaluate
from camscan.rules.trust import Bundle, TrustConfig

NOW = pki.utcnow()
SITE_ROOT = pki.make_ca("test site root")
SITE_ISSUING = pki.make_ca("test site issuing CA", issuer=SITE_ROOT)
HIK = DeviceIdentity(mac="44:47:cc:00:00:01", vendor="Hikvision", model="DS-2CD2143G2-I")
DAHUA = DeviceIdentity(vendor="DAHUA", model="IPC-HDW1200S")
# Dahua's firmware root (device-protocols.md section 8): the leaf names the address at boot.
FIRMWARE_ROOT = pki.make_ca("Product Root CA", subject=pki.name("Product Root CA", O="DahuaTech", C="CN"))


def _obs(address: str, chain: tuple[pki.Issued, ...], *, identity: DeviceIdentity | None = None,
         device_time: dt.datetime | None = None) -> Observation:
    http = None
    if device_time is not None:
        http = HTTPFacts(status=200, server=None, date=device_time.strftime("%a, %d %b %Y %H:%M:%S GMT"),
                         device_time=device_time)
    return Observation(
        endpoint=Endpoint(address, 443),
        chain_der=tuple(i.cert_der for i in chain),
        tls_version="TLSv1.3",
        cipher="TLS_AES_128_GCM_SHA256",
        observed_at=NOW,
        http=http,
        identity=identity or DeviceIdentity(),
        legacy_versions=(),
    )


def _audit(*observations: Observation) -> AuditResult:
    trust = TrustConfig(mode="site", site_bundles=(Bundle("site", (SITE_ROOT.cert,)),), offline=True)
    scan = ScanResult(ScanParameters(targets=("test",), ports=(443,)), NOW, NOW, tuple(observations), ())
    return AuditResult(scan, tuple(evaluate(observations, AuditContext(now=NOW, trust=trust))), NOW)


def _leaf(address: str, **kwargs: object) -> pki.Issued:
    kwargs.setdefault("ips", [address])
    kwargs.setdefault("common_name", address)
    return pki.make_leaf(SITE_ISSUING, **kwargs)  # type: ignore[arg-type]


def _plan(audit: AuditResult, address: str, options: PlanOptions | None = None) -> DevicePlan:
    return next(p for p in plan_fixes(audit, options or PlanOptions()) if p.endpoint.address == address)


def _strategies(plan: DevicePlan) -> list[Strategy]:
    return [step.strategy for step in plan.steps]


def _covered(plan: DevicePlan) -> set[str]:
    return {rule for step in plan.steps for rule in step.rule_ids}


def test_a_healthy_device_needs_no_plan() -> None:
    audit = _audit(_obs("127.0.0.10", (_leaf("127.0.0.10"), SITE_ISSUING), identity=HIK))
    assert audit.findings == ()
    assert plan_fixes(audit) == []


def test_expired_certificate_is_reissued_with_the_device_names_and_the_ca_filled_in() -> None:
    leaf = _leaf("127.0.0.11", not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=3))
    plan = _plan(_audit(_obs("127.0.0.11", (leaf, SITE_ISSUING), identity=HIK)), "127.0.0.11",
                 PlanOptions(ca_dir="/srv/site-ca"))
    assert "CS120" in plan.findings and plan.driver == "hikvision" and plan.vendor == "Hikvision"
    (step,) = plan.steps
    assert (step.strategy, step.action, step.automatic) == (Strategy.REISSUE, Action.REISSUE, True)
    assert plan.findings == step.rule_ids
    text = "\n".join((*step.commands, *step.openssl))
    assert "--ca /srv/site-ca" in text and "--ip 127.0.0.11" in text
    assert "subjectAltName=IP:127.0.0.11" in text and "ec_paramgen_curve:prime256v1" in text


def test_order_is_clock_then_certificate_then_reboot() -> None:
    ahead = NOW + dt.timedelta(days=3)
    leaf = _leaf("127.0.0.12", not_before=ahead - dt.timedelta(minutes=1),
                 not_after=ahead + dt.timedelta(days=300))
    plan = _plan(_audit(_obs("127.0.0.12", (leaf, SITE_ISSUING), identity=HIK, device_time=ahead)),
                 "127.0.0.12")
    assert {"CS122", "CS302"} <= set(plan.findings)
    assert _strategies(plan) == [Strategy.SET_CLOCK, Strategy.REISSUE]
    assert plan.steps[0].automatic and "CS302" in plan.steps[0].rule_ids

    # A firmware certificate made for another address, with the clock wrong: clock, then reboot.
    stale = pki.make_leaf(FIRMWARE_ROOT, common_name="127.0.0.99", ips=["127.0.0.99"],
                          not_after=NOW + dt.timedelta(days=300))
    slow = NOW - dt.timedelta(hours=3)
    moved = _plan(_audit(_obs("127.0.0.13", (stale,), identity=DAHUA, device_time=slow)), "127.0.0.13")
    order = _strategies(moved)
    assert order.index(Strategy.SET_CLOCK) < order.index(Strategy.REBOOT), order
    assert Strategy.REISSUE not in order


def test_built_in_ca_and_wrong_address_reboots_and_move_to_site_ca_reissues() -> None:
    stale = pki.make_leaf(FIRMWARE_ROOT, common_name="127.0.0.99", ips=["127.0.0.99"],
                          not_after=NOW + dt.timedelta(days=300))
    audit = _audit(_obs("127.0.0.14", (stale,), identity=DAHUA))
    plan = _plan(audit, "127.0.0.14")
    assert {"CS105", "CS202"} <= set(plan.findings)
    reboot = next(s for s in plan.steps if s.strategy is Strategy.REBOOT)
    assert reboot.action is Action.REBOOT and reboot.automatic and "CS105" in reboot.rule_ids
    assert Strategy.TRUST_DEVICE_CA in _strategies(plan)  # seed 001 Solution 1 for the root
    trust = next(s for s in plan.steps if s.strategy is Strategy.TRUST_DEVICE_CA)
    assert any("certutil -addstore -f Root" in c for c in trust.commands)
    assert not trust.automatic
    assert plan.findings == tuple(sorted(_covered(plan)))

    moved = _plan(audit, "127.0.0.14", PlanOptions(move_to_site_ca=True))
    assert Strategy.REBOOT not in _strategies(moved) and Strategy.TRUST_DEVICE_CA not in _strategies(moved)
    reissue = next(s for s in moved.steps if s.action is Action.REISSUE)
    assert {"CS105", "CS202"} <= set(reissue.rule_ids)


def test_shared_key_and_vendor_default_get_a_new_key() -> None:
    key = pki.new_key()
    a, b = (_leaf(ip, key=key) for ip in ("127.0.0.15", "127.0.0.16"))
    audit = _audit(_obs("127.0.0.15", (a, SITE_ISSUING)), _obs("127.0.0.16", (b, SITE_ISSUING)))
    for address in ("127.0.0.15", "127.0.0.16"):
        plan = _plan(audit, address)
        assert "CS401" in plan.findings
        assert _strategies(plan) == [Strategy.NEW_KEY] and plan.ips == (address,)
    # Hikvision's firmware-baked certificate (device-protocols.md section 8): CS403.
    factory = pki.make_leaf(None, subject=pki.name("hikvision.com", C="CN", O="HIKVISION"))
    plan = _plan(_audit(_obs("127.0.0.17", (factory,), identity=HIK)), "127.0.0.17")
    assert "CS403" in plan.findings
    assert Strategy.NEW_KEY in _strategies(plan)
    new_key = next(s for s in plan.steps if s.strategy is Strategy.NEW_KEY)
    assert "CS403" in new_key.rule_ids and new_key.automatic


def test_leaf_only_device_missing_its_intermediate() -> None:
    plan = _plan(_audit(_obs("127.0.0.18", (_leaf("127.0.0.18"),), identity=HIK)), "127.0.0.18")
    assert plan.findings == ("CS201",)
    (step,) = plan.steps
    assert step.strategy is Strategy.INTERMEDIATE and step.action is Action.REISSUE
    assert "OpenMV TLS guide" in step.summary and "intermediate on" in step.summary


def test_legacy_tls_is_a_manual_step() -> None:
    obs = _obs("127.0.0.19", (_leaf("127.0.0.19"), SITE_ISSUING), identity=HIK)
    legacy = Observation(obs.endpoint, obs.chain_der, obs.tls_version, obs.cipher, obs.observed_at,
                         identity=obs.identity, legacy_versions=("TLSv1.0",))
    plan = _plan(_audit(legacy), "127.0.0.19")
    assert plan.findings == ("CS301",)
    (step,) = plan.steps
    assert (step.strategy, step.action, step.automatic) == (Strategy.MANUAL, Action.MANUAL, False)
    assert step.summary


def test_every_rule_in_the_registry_gets_a_non_empty_plan_step() -> None:
    endpoint = Endpoint("127.0.0.20", 443)
    scan = ScanResult(ScanParameters(targets=("t",), ports=(443,)), NOW, NOW, (), ())
    for rule_id in [r.id for r in all_rules()] + ["CS000", "CS999"]:  # a crashed rule, a future rule
        finding = Finding(rule_id, Severity.WARNING, endpoint, f"title {rule_id}", "message", {},
                          f"remediation of {rule_id}")
        (plan,) = plan_fixes(AuditResult(scan, (finding,), NOW))
        steps = [s for s in plan.steps if rule_id in s.rule_ids]
        assert steps, (rule_id, plan.steps)
        assert all(s.summary.strip() for s in steps), rule_id
        if rule_id in ("CS000", "CS999", "CS301"):
            assert steps[0].strategy is Strategy.MANUAL and steps[0].summary == f"remediation of {rule_id}"


def test_device_text_in_a_certificate_never_reaches_a_command() -> None:
    hostile = pki.make_leaf(SITE_ISSUING, common_name="x$(reboot)", ips=["127.0.0.21"],
                            dns=["x$(reboot).lan"], server_auth=False)
    plan = _plan(_audit(_obs("127.0.0.21", (hostile, SITE_ISSUING), identity=HIK)), "127.0.0.21")
    text = "\n".join(c for s in plan.steps for c in (*s.commands, *s.openssl))
    assert "127.0.0.21" in text and "$(reboot)" not in text


def test_built_in_ca_certificate_made_with_a_clock_ahead_is_remade_by_a_reboot_after_the_clock() -> None:
    ahead = NOW + dt.timedelta(days=3)
    future = pki.make_leaf(FIRMWARE_ROOT, common_name="127.0.0.22", ips=["127.0.0.22"],
                           not_before=ahead - dt.timedelta(minutes=1),
                           not_after=ahead + dt.timedelta(days=300))
    plan = _plan(_audit(_obs("127.0.0.22", (future,), identity=DAHUA, device_time=ahead)), "127.0.0.22")
    assert {"CS122", "CS302"} <= set(plan.findings)
    order = _strategies(plan)
    assert order[:2] == [Strategy.SET_CLOCK, Strategy.REBOOT], order
    assert "CS122" in plan.steps[1].rule_ids and plan.steps[1].automatic
    manual = [s for s in plan.steps if s.strategy is Strategy.MANUAL]
    assert all("CS122" not in s.rule_ids for s in manual)


def test_client_trust_commands_run_as_printed() -> None:
    stale = pki.make_leaf(FIRMWARE_ROOT, common_name="127.0.0.23", ips=["127.0.0.23"],
                          not_after=NOW + dt.timedelta(days=300))
    plan = _plan(_audit(_obs("127.0.0.23", (stale,), identity=DAHUA)), "127.0.0.23")
    trust = next(s for s in plan.steps if s.strategy is Strategy.TRUST_DEVICE_CA)
    assert trust.commands[0].startswith("certutil -addstore -f Root cacert.crt")
    assert trust.commands[1].startswith(
        "sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain cacert.crt")
    assert trust.commands[2].startswith("sudo cp cacert.crt /usr/local/share/ca-certificates/ && ")
