"""The exact commands a plan prints: camscan's own and the openssl / curl equivalents.

Every value is shell-quoted: a plan is meant to be pasted into a terminal.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from camscan.model import Endpoint

REBOOT_CURL = {
    "hikvision": "curl -k --digest -u {user} -X PUT https://{host}:{port}/ISAPI/System/reboot",
    "axis": "curl -k --digest -u {user} https://{host}:{port}/axis-cgi/restart.cgi",
    "dahua": "curl -k --digest -u {user} 'https://{host}:{port}/cgi-bin/magicBox.cgi?action=reboot'",
}


@dataclass(frozen=True)
class Context:
    endpoint: Endpoint
    ips: tuple[str, ...]
    dns: tuple[str, ...]
    driver: str | None
    ca_dir: str
    user: str
    issuer: str | None = None  # not the site CA: `--issuer NAME --issuers FILE`
    issuers: str | None = None

    @property
    def host(self) -> str:
        address = self.endpoint.address
        return f"[{address}]" if ":" in address else address

    @property
    def stem(self) -> str:
        """A file name for the device's key and certificate."""
        return (self.dns[0] if self.dns else self.endpoint.address).replace(":", "_")


def q(value: str) -> str:
    return shlex.quote(value)


def _names(ctx: Context, ip_flag: str = "--ip", dns_flag: str = "--dns") -> str:
    parts = [f"{ip_flag} {q(ip)}" for ip in ctx.ips] + [f"{dns_flag} {q(d)}" for d in ctx.dns]
    return " ".join(parts)


def san_text(ctx: Context) -> str:
    return ",".join([f"IP:{ip}" for ip in ctx.ips] + [f"DNS:{d}" for d in ctx.dns])


def apply_command(ctx: Context) -> tuple[str, ...]:
    target = ctx.endpoint.server_name or ctx.endpoint.address
    where = (
        f"--issuer {q(ctx.issuer)}" + (f" --issuers {q(ctx.issuers)}" if ctx.issuers else "")
        if ctx.issuer
        else f"--ca {q(ctx.ca_dir)}"
    )
    return (
        f"CAMSCAN_PASSWORD=... camscan fix {q(target)} -p {ctx.endpoint.port} --apply "
        f"{where} --user {q(ctx.user)}" + (f" --driver {ctx.driver}" if ctx.driver else ""),
    )


def reissue_commands(ctx: Context) -> tuple[str, ...]:
    if ctx.issuer:
        return (*apply_command(ctx), f"camscan issuer test {q(ctx.issuer)}  # first: does the issuer work?")
    out = q(f"{ctx.ca_dir}/devices/{ctx.stem}")
    return (
        *apply_command(ctx),
        f"camscan ca issue --ca {q(ctx.ca_dir)} {_names(ctx)} --out {out}  # key made here: upload",
        f"camscan ca sign --ca {q(ctx.ca_dir)} device.csr {_names(ctx)} --out {out}  # device CSR",
    )


# Where the vendor publishes no body for its own certificate import, the device's web page is the
# documented way (camscan installs through ONVIF Advanced Security when the device offers it).
# Shell comments: every line of the by-hand list runs as printed.
WEB_INSTALL = {
    "hikvision": "# if the device has no ONVIF Advanced Security: web page > Configuration > Network > "
    "Advanced Settings > HTTPS (Certificate Management): import {stem}.crt with {stem}.key (or the "
    "signed CSR), then select it for HTTPS; keep the previous certificate to select it back",
    "dahua": "# if the device has no ONVIF Advanced Security: web page > Setting > Network > HTTPS "
    "(Certificate Management): import {stem}.crt with {stem}.key and enable it for HTTPS",
}


WEB_ANY = (
    "# if the device takes no certificate through its API (no ONVIF Advanced Security): import "
    "{stem}.crt with {stem}.key in its web page (HTTPS / certificate settings) and select it for HTTPS"
)


def reissue_openssl(ctx: Context) -> tuple[str, ...]:
    cn = ctx.dns[0] if ctx.dns else ctx.ips[0]
    stem, ca = q(ctx.stem), q(ctx.ca_dir)
    ext = (
        f"subjectAltName={san_text(ctx)}\\nextendedKeyUsage=serverAuth\\n"
        "basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature"
    )
    request = (
        f"openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout {stem}.key "
        f"-out {stem}.csr -subj {q('/CN=' + cn)} -addext {q('subjectAltName=' + san_text(ctx))}"
    )
    if ctx.issuer:
        return (request, f"# then submit {stem}.csr to issuer {ctx.issuer} as that PKI documents")
    return (
        request,
        f"openssl x509 -req -in {stem}.csr -CA {ca}/ca.pem -CAkey {ca}/ca.key -CAcreateserial "
        f"-out {stem}.crt -days 397 -sha256 -extfile <(printf {q(ext)})",
        f"openssl x509 -in {stem}.crt -outform DER -out {stem}.der  # for devices that take DER only",
        *([] if ctx.driver == "axis" else [WEB_INSTALL.get(ctx.driver or "", WEB_ANY).format(stem=stem)]),
    )


def reboot_manual(ctx: Context) -> tuple[str, ...]:
    template = REBOOT_CURL.get(ctx.driver or "")
    check = (
        f"openssl s_client -connect {ctx.host}:{ctx.endpoint.port} </dev/null 2>/dev/null "
        "| openssl x509 -noout -subject -ext subjectAltName  # after the reboot"
    )
    if template is None:
        return ("reboot from the device's web page (Maintenance > Reboot) or ONVIF SystemReboot", check)
    return (template.format(user=q(ctx.user), host=ctx.host, port=ctx.endpoint.port), check)


def clock_manual(ctx: Context) -> tuple[str, ...]:
    return (
        "set the time in the device's web page (System > Time: NTP, or 'sync with computer time')",
        f"curl -skI https://{ctx.host}:{ctx.endpoint.port}/ | grep -i '^date:'  # the device's clock",
    )


def trust_ca_commands(ctx: Context) -> tuple[str, ...]:
    return (
        # Each line runs as printed (the platform is a comment, not a prefix to delete first).
        "certutil -addstore -f Root cacert.crt  # Windows, as administrator",
        "sudo security add-trusted-cert -d -r trustRoot "
        "-k /Library/Keychains/System.keychain cacert.crt  # macOS",
        "sudo cp cacert.crt /usr/local/share/ca-certificates/ && sudo update-ca-certificates"
        "  # Debian/Ubuntu",
        f"camscan {q(ctx.endpoint.address)} -p {ctx.endpoint.port} --ca-bundle cacert.crt  # then rescan",
    )
