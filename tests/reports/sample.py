"""A lab-like audit built from real certificates (camscan.pki) for the report tests and the
README screenshot: a handful of cameras on 127.x with the defects the lab simulates.

The findings are built by hand here (the renderers are under test, not the rules), with the
rule ids, titles and remediation texts of the rules catalogue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from camscan import pki
from camscan.model import (
    AuditResult,
    DeviceIdentity,
    Endpoint,
    FailureKind,
    Finding,
    HTTPFacts,
    Observation,
    ProbeFailure,
    ProbeStage,
    ScanParameters,
    ScanResult,
    Severity,
)

AS_OF = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
# Two payloads a hostile device could put in its certificate (CN and OU are length-capped).
HOSTILE_CN = "<script>document.title='pwned'</script>"
HOSTILE_OU = '<img src=x onerror="document.body.dataset.pwned=1">'



def _obs(
    endpoint: Endpoint,
    chain: Iterable[pki.Issued],
    *,
    tls: str = "TLSv1.3",
    server: str | None = "lighttpd",
    identity: DeviceIdentity | None = None,
    legacy: tuple[str, ...] | None = (),
) -> Observation:
    return Observation(
        endpoint=endpoint,
        chain_der=tuple(i.cert_der for i in chain),
        tls_version=tls,
        cipher="TLS_AES_256_GCM_SHA384" if tls == "TLSv1.3" else "ECDHE-RSA-AES128-GCM-SHA256",
        observed_at=AS_OF,
        http=HTTPFacts(status=401, server=server, date="Mon, 23 Nov 2026 12:00:01 GMT",
                       device_time=AS_OF),
        identity=identity or DeviceIdentity(),
        legacy_versions=legacy,
    )


def _finding(
    endpoint: Endpoint, rule_id: str, severity: Severity, title: str, message: str,
    remediation: str, **evidence: Any,
) -> Finding:
    return Finding(rule_id=rule_id, severity=severity, endpoint=endpoint, title=title,
                   message=message, evidence=evidence, remediation=remediation)


def build_audit(*, hostile: bool = True, as_of: dt.datetime = AS_OF) -> AuditResult:
    days = dt.timedelta(days=1)
    site_root = pki.make_ca("Example Site Root CA", not_before=as_of - 400 * days)
    site_int = pki.make_ca("Example Site Issuing CA", issuer=site_root,
                           not_before=as_of - 400 * days)

    axis = Endpoint("127.20.0.11", 443)
    axis_cert = pki.make_leaf(None, common_name="axis-accc8e012345", ips=["127.20.0.11"],
                              not_before=as_of - 353 * days, not_after=as_of + 12 * days)
    hik1, hik2 = Endpoint("127.20.0.12", 443), Endpoint("127.20.0.13", 443)
    hik_default = pki.make_leaf(None, common_name="IPC", include_san=False,
                                key=pki.new_key("rsa-2048"),
                                not_before=as_of - 900 * days, not_after=as_of + 2750 * days)
    good = Endpoint("127.20.0.14", 443)
    good_cert = pki.make_leaf(site_int, common_name="cam-dock-2.example.net",
                              ips=["127.20.0.14"], dns=["cam-dock-2.example.net"],
                              not_before=as_of - 300 * days, not_after=as_of + 64 * days)
    vms = Endpoint("127.20.0.15", 7443, "vms.example.net")
    vms_cert = pki.make_leaf(site_int, common_name="vms.example.net", dns=["vms.example.net"],
                             not_before=as_of - 370 * days, not_after=as_of - 5 * days)
    nvr = Endpoint("127.20.0.16", 443)
    nvr_subject = (
        pki.name(HOSTILE_CN, OU=HOSTILE_OU) if hostile else pki.name("nvr-basement")
    )
    nvr_cert = pki.make_leaf(
        site_int, subject=nvr_subject,
        dns=["nvr-basement.example.net"], not_before=as_of - 200 * days,
        not_after=as_of + 41 * days)
    timeout, not_tls = Endpoint("127.20.0.17", 443), Endpoint("127.20.0.18", 443)

    observations = (
        _obs(axis, [axis_cert], server="Apache",
             identity=DeviceIdentity(mac="ac:cc:8e:01:23:45", vendor="Axis", model="P3265-LVE",
                                     firmware="11.9.60")),
        _obs(hik1, [hik_default], tls="TLSv1.2", server="App-webs/",
             identity=DeviceIdentity(mac="c0:56:e3:aa:00:01", vendor="Hikvision",
                                     model="DS-2CD2143G2-I", serial="DS-2CD2143G2-I20231101"),
             legacy=("TLSv1.0", "TLSv1.1")),
        _obs(hik2, [hik_default], tls="TLSv1.2", server="App-webs/",
             identity=DeviceIdentity(mac="c0:56:e3:aa:00:02", vendor="Hikvision")),
        _obs(good, [good_cert, site_int], server="Apache"),
        _obs(vms, [vms_cert], server="Microsoft-HTTPAPI/2.0", legacy=None),
        _obs(nvr, [nvr_cert, site_int], server=HOSTILE_CN if hostile else "nginx"),
    )
    failures = (
        ProbeFailure(timeout, ProbeStage.HANDSHAKE, FailureKind.TIMEOUT,
                     "no ServerHello within 5.0 s", AS_OF),
        ProbeFailure(not_tls, ProbeStage.HANDSHAKE, FailureKind.NOT_TLS,
                     "answered with 'HTTP/1.0 400 Bad Request'", AS_OF),
    )
    fix_ip = ("Issue a certificate from your site CA with the device's IP address in the "
              "subjectAltName (camscan can make the CSR and sign it).")
    findings = [
        _finding(axis, "CS111", Severity.WARNING, "Self-signed leaf certificate",
                 "the device presents a self-signed certificate (factory default)",
                 "Replace it with a certificate issued by your site CA.",
                 subject="CN=axis-accc8e012345"),
        _finding(axis, "CS121", Severity.WARNING, "Certificate expires soon",
                 "the leaf certificate expires in 12 days (2026-12-05T12:00:00Z)",
                 "Renew the certificate before it expires.", days_left=12),
        _finding(axis, "CS202", Severity.ERROR, "Untrusted root",
                 "the chain ends in 'CN=axis-accc8e012345', which no trusted store holds",
                 "Install a certificate from a CA your clients trust.", trust="site"),
        _finding(hik1, "CS106", Severity.ERROR, "No subjectAltName (CN-only certificate)",
                 "the certificate has no subjectAltName; browsers ignore the CN 'IPC'", fix_ip,
                 common_name="IPC"),
        _finding(hik1, "CS109", Severity.WARNING, "Validity longer than policy",
                 "validity is 3650 days; policy allows 398",
                 "Issue certificates valid for at most 398 days.", validity_days=3650),
        _finding(hik1, "CS301", Severity.WARNING, "Legacy TLS 1.0/1.1 accepted",
                 "the device completes TLS 1.0 and TLS 1.1 handshakes",
                 "Disable TLS 1.0/1.1 in the device's web server settings.",
                 versions=["TLSv1.0", "TLSv1.1"]),
        _finding(hik2, "CS106", Severity.ERROR, "No subjectAltName (CN-only certificate)",
                 "the certificate has no subjectAltName; browsers ignore the CN 'IPC'", fix_ip,
                 common_name="IPC"),
        _finding(good, "CS121", Severity.NOTICE, "Certificate expires within 90 days",
                 "the leaf certificate expires in 64 days", "Plan the renewal.", days_left=64),
        _finding(vms, "CS120", Severity.ERROR, "Certificate expired",
                 "the leaf certificate expired 5 days ago (2026-11-18T12:00:00Z)",
                 "Issue and install a new certificate now; clients refuse this one.",
                 not_after="2026-11-18T12:00:00Z"),
        _finding(vms, "CS201", Severity.ERROR, "Missing intermediate certificate",
                 "the server does not send the intermediate 'CN=Example Site Issuing CA'",
                 "Configure the server to send the full chain (leaf + intermediates).",
                 missing="CN=Example Site Issuing CA"),
        _finding(nvr, "CS105", Severity.ERROR, "IP address not in subjectAltName",
                 f"127.20.0.16 is not in the SAN; CN is {nvr_cert.cert.subject.rfc4514_string()}",
                 fix_ip, common_name=HOSTILE_CN if hostile else "nvr-basement"),
    ]
    for ep in (hik1, hik2):
        findings.append(_finding(
            ep, "CS402", Severity.ERROR, "Identical certificate on several devices",
            "2 devices present the same certificate",
            "Give each device its own key and certificate.",
            endpoints=["127.20.0.12:443", "127.20.0.13:443"]))
        findings.append(_finding(
            ep, "CS403", Severity.ERROR, "Known vendor default certificate",
            "this is the Hikvision factory default certificate 'CN=IPC'",
            "Replace the factory certificate.", vendor="Hikvision"))
    findings.sort(key=lambda f: (f.endpoint.sort_key, -f.severity.rank, f.rule_id, f.message))
    scan = ScanResult(
        parameters=ScanParameters(targets=("127.20.0.0/28",), ports=(443, 7443)),
        started_at=as_of - dt.timedelta(seconds=4, milliseconds=200),
        finished_at=as_of,
        observations=observations,
        failures=failures,
    )
    return AuditResult(scan=scan, findings=tuple(findings), as_of=as_of)


if __name__ == "__main__":
    import sys

    from camscan.reports.html_report import render_html

    sys.stdout.write(render_html(build_audit(hostile="--hostile" in sys.argv)))
