"""`camscan check CERT`: judge certificate files offline, before uploading them to a device."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

DESCRIPTION = """\
Judge a certificate (and its chain and key) offline with every camscan rule, as if a device
reached at --ip IP or named --dns NAME presented it: before you upload it. CERT, --chain and
--key may be PEM, DER or PKCS#12 (.p12/.pfx: the password comes from CAMSCAN_P12_PASSWORD or a
prompt, never from the command line; an encrypted PEM key's from CAMSCAN_KEY_PASSWORD)."""

EPILOG = """\
examples:
  camscan check cam01.pem --chain intermediate.pem --key cam01.key --ip 192.0.2.10
  camscan check cam01.p12 --dns cam01.example.org --ca-bundle site-ca.pem --trust site
  camscan check cam01.pem --ip 192.0.2.10 --as-of +30d --json check.json

exit codes:
  0  no error-severity finding (warnings and notices may remain)
  1  at least one error-severity finding
  2  bad input (unreadable file, not a certificate, bad --ip/--dns/--as-of)"""


def configure(parser: argparse.ArgumentParser) -> None:
    from camscan.rules.options import add_arguments

    parser.add_argument("cert", metavar="CERT", help="the certificate (leaf first if several)")
    parser.add_argument("--chain", metavar="FILE", help="the intermediates to send with it")
    parser.add_argument("--key", metavar="FILE", help="the private key (checked against CERT)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--ip", metavar="IP", help="the address clients will use")
    target.add_argument("--dns", metavar="NAME", help="the host name clients will use")
    parser.add_argument("--json", metavar="FILE", help="also write the JSON report (- = stdout)")
    add_arguments(parser)


def _password(env: str, prompt: str) -> Callable[[], bytes | None]:
    def get() -> bytes | None:
        from camscan.p12env import P12_ENV, p12_password

        value = p12_password() if env == P12_ENV else os.environ.get(env)
        if value is not None:
            return value.encode()
        if sys.stdin.isatty():
            import getpass

            return getpass.getpass(prompt).encode()
        return None

    return get


def _read(path: str, option: str) -> bytes:
    from camscan.errors import UsageError

    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{option}{path}: cannot read: {exc.strerror or exc}") from exc


def run(args: argparse.Namespace) -> int:
    from camscan.reports.options import check_output_path
    from camscan.rules.offline import (
        assemble_chain,
        check_chain,
        load_certificate_file,
        load_key_file,
        validate_target,
    )
    from camscan.rules.options import context_from_args

    if args.json:
        # Refused before anything is judged or printed, like `camscan scan --json` (exit 2).
        check_output_path("--json", args.json)
    ip, dns = validate_target(args.ip, args.dns)
    p12 = _password("CAMSCAN_P12_PASSWORD", "PKCS#12 password: ")
    cert_material = load_certificate_file(_read(args.cert, ""), args.cert, p12)
    chain_material = (
        load_certificate_file(_read(args.chain, "--chain "), args.chain, p12) if args.chain else None
    )
    key = cert_material.key
    if args.key:
        key_pw = _password("CAMSCAN_KEY_PASSWORD", "private key password: ")
        key = load_key_file(_read(args.key, "--key "), args.key, key_pw)
    ctx = context_from_args(args)
    chain = assemble_chain(cert_material, chain_material)
    if not ctx.trust.offline:
        from camscan import runtime
        from camscan.rules.offline import observation_for
        from camscan.rules.trust import prefetch

        # The AIA fetch is the only network I/O of a check, bounded by the trust timeouts.
        runtime.run(prefetch, [observation_for(chain, ip=ip, dns=dns, now=ctx.now)], ctx)
    result = check_chain(chain, ctx, ip=ip, dns=dns, key=key)
    # `--json -` takes stdout for the document alone; the text goes to stderr.
    out = sys.stderr if args.json == "-" else sys.stdout
    print_result(result, ctx.now, target=ip or dns or "", key_checked=key is not None, out=out)
    if args.json:
        _write_json(result, args, ctx.now)
    return 0 if result.passed else 1


def print_result(
    result: object, now: dt.datetime, *, target: str, key_checked: bool, out: TextIO
) -> None:
    from camscan.certinfo import describe
    from camscan.rules.offline import CheckResult
    from camscan.termtext import sanitize

    assert isinstance(result, CheckResult)
    leaf = describe(result.observation.leaf)
    verdict = result.verdict
    out.write(f"certificate  {sanitize(leaf['subject'] or '(empty subject)')}\n")
    out.write(f"  issuer     {sanitize(leaf['issuer'] or '(empty issuer)')}\n")
    out.write(f"  valid      {leaf['not_before']} .. {leaf['not_after']}\n")
    sans = leaf["subject_alt_names"]
    san_text = ", ".join([*(f"DNS:{d}" for d in sans["dns"]), *(f"IP:{i}" for i in sans["ip"])])
    out.write(f"  SAN        {sanitize(san_text or '(none)')}\n")
    out.write(f"  sha256     {leaf['sha256']}\n")
    out.write(f"target       {sanitize(target)}   as of {now:%Y-%m-%dT%H:%M:%SZ}\n")
    chain_line = f"chain        {verdict.status.value} (trust: {verdict.trust_mode}"
    if verdict.public_status is not None:
        chain_line += f"; public roots: {verdict.public_status}"
    out.write(chain_line + ")\n")
    for subject in verdict.path:
        out.write(f"  -> {sanitize(subject)}\n")
    if key_checked:
        mismatch = any(f.rule_id == "CS501" for f in result.findings)
        out.write(f"key          {'DOES NOT match' if mismatch else 'matches'} the certificate\n")
    out.write("\n")
    if not result.findings:
        out.write("no findings\n")
    for finding in result.findings:
        out.write(f"{finding.severity.value.upper():<8} {finding.rule_id}  {sanitize(finding.message)}\n")
        out.write(f"         fix: {sanitize(finding.remediation)}\n")
    counts = {
        s: sum(1 for f in result.findings if f.severity.value == s) for s in ("error", "warning", "notice")
    }
    status = "PASS" if result.passed else "FAIL"
    out.write(
        f"\nverdict: {status} ({counts['error']} errors, {counts['warning']} warnings, "
        f"{counts['notice']} notices)\n"
    )


def _write_json(result: object, args: argparse.Namespace, now: dt.datetime) -> None:
    from camscan.model import AuditResult, ScanParameters, ScanResult
    from camscan.reports.json_report import write_json
    from camscan.rules.offline import CheckResult

    assert isinstance(result, CheckResult)
    target = args.ip or args.dns
    scan = ScanResult(
        parameters=ScanParameters(targets=(str(target),), ports=(result.observation.endpoint.port,)),
        started_at=now,
        finished_at=now,
        observations=(result.observation,),
        failures=(),
    )
    write_json(AuditResult(scan=scan, findings=result.findings, as_of=now), args.json)
