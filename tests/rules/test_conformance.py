"""Conformance: camscan's offline check against x509-limbo's server-validation subset and the IP cases.

Every `core` case and every IP case must match expected_result ("SUCCESS" = no error-severity
finding), and each FAILURE must be explained by an error finding whose rule matches its reason.
The `extra` cases (RFC 5280 / CA/B Forum profile lints) are reported, not required.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from camscan.cli import main
from tests.rules.conformance_harness import (
    CASE_NOTES,
    REASON_RULES,
    check_case,
    judge,
    load_cases,
    run_all,
    summary,
)

CASES = load_cases()
REQUIRED = [(g, c) for g, c in CASES if g == "ip" or c["relevance"] == "core"]


def test_the_suite_is_complete() -> None:
    counts = summary(run_all())
    assert {k: total for k, (_, total) in counts.items()} == {"core": 64, "ip": 14, "extra": 72}
    # every reason label of the suite has a rule mapping: nothing is matched by accident
    assert {c["reason"] for _, c in CASES if c["reason"]} <= set(REASON_RULES)


@pytest.mark.parametrize(("group", "case"), REQUIRED, ids=[c["id"] for _, c in REQUIRED])
def test_required_case(group: str, case: dict[str, object]) -> None:
    outcome = judge(group, case, check_case(case))
    assert outcome.got == outcome.expected, (outcome.rule_ids, outcome.all_rule_ids)
    if outcome.expected == "FAILURE":
        assert outcome.explained, f"{outcome.reason} not explained by {outcome.rule_ids}"


def test_extra_agreement_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = run_all()
    counts = summary(outcomes)
    with capsys.disabled():
        print(
            f"\nconformance: core {counts['core'][0]}/{counts['core'][1]}, "
            f"ip {counts['ip'][0]}/{counts['ip'][1]}, extra {counts['extra'][0]}/{counts['extra'][1]}"
        )
        for case_id, (_, note) in CASE_NOTES.items():
            print(f"  note {case_id}: {note}")
    # not required to agree, but a collapse would mean the harness broke
    assert counts["extra"][0] >= 30


def test_the_webpki_profile_agrees_with_the_extra_cases_it_covers(capsys: pytest.CaptureFixture[str]) -> None:
    counts = summary(run_all(profile="webpki"))
    with capsys.disabled():
        print(f"\nconformance under --profile webpki: core {counts['core'][0]}/{counts['core'][1]}, "
              f"ip {counts['ip'][0]}/{counts['ip'][1]}, extra {counts['extra'][0]}/{counts['extra'][1]}")
    # 37/72 without the profile; every CN, key-identifier, EKU, public-suffix, key-type and
    # LDH case is explained under it (the figure the README quotes). The profile lints on
    # top of validation, so a few core/IP cases built without BR shape (a CN that is not a
    # SAN, a leaf without EKU) are BR findings there, by design.
    assert counts["extra"][0] >= 61


def _write_case(tmp_path: Path, case: dict[str, object]) -> list[str]:
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(str(case["leaf"]))
    roots = tmp_path / "roots.pem"
    roots.write_text("".join(case["roots"]))  # type: ignore[arg-type]
    args = [str(leaf), "--ca-bundle", str(roots), "--trust", "site", "--offline"]
    intermediates = case["intermediates"]
    if intermediates:
        chain = tmp_path / "chain.pem"
        chain.write_text("".join(intermediates))  # type: ignore[arg-type]
        args += ["--chain", str(chain)]
    peer = case["peer"]
    assert isinstance(peer, dict)
    args += ["--ip" if peer["kind"] == "IP" else "--dns", str(peer["value"])]
    if case["validation_time"]:
        args += ["--as-of", str(case["validation_time"])]
    return args


CLI_CASES = [
    "webpki::san::exact-localhost-ip-san",
    "ip::ipv4-mapped-ipv6-san",
    "ip::cn-only-no-san",
    "rfc5280::chain-untrusted-root",
    "webpki::cryptographydotio-chain-missing-intermediate",
    "rfc5280::validity::expired-root",
    "webpki::cryptographydotio-chain",
    "rfc5280::validity::notafter-fractional",
]


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_through_the_cli(
    case_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # never the user's cache
    case = next(c for _, c in CASES if c["id"] == case_id)
    code = main(["check", *_write_case(tmp_path, case)])
    out = capsys.readouterr().out
    assert code == (1 if case["expected_result"] == "FAILURE" else 0), out
    if case["reason"]:
        assert any(f" {rule}  " in out for rule in REASON_RULES[str(case["reason"])]), out


def test_through_a_real_process(tmp_path: Path) -> None:
    case = next(c for _, c in CASES if c["id"] == "ip::mismatch-neighbour")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "camscan", "check", *_write_case(tmp_path, case)],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "CS105" in done.stdout and "verdict: FAIL" in done.stdout
    assert done.stderr == ""
