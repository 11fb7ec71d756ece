"""`command`: any command-line CA (`openssl ca`, `step ca sign`, cfssl...) from a template.

The template is split like a shell would (shlex) but run without one, so a device's name can
never become shell syntax. Placeholders, each replaced inside its word:

    {csr}  the CSR file (PEM)          {out}  where the command writes the certificate (PEM)
    {ip}   the device's IP address(es), comma-separated
    {dns}  its DNS name(s), comma-separated (a word that is only {dns} is dropped when empty)
    {san}  both as an openssl SAN list: IP:192.0.2.10,DNS:cam-1.example.net
    {days} the lifetime in days         ({{ and }} are literal braces)

The command inherits camscan's environment without any CAMSCAN_* variable (the device password
is one); the same values are in its environment as CAMSCAN_CSR, CAMSCAN_OUT, CAMSCAN_IP,
CAMSCAN_DNS, CAMSCAN_SAN and CAMSCAN_DAYS (an openssl config reads `${ENV::CAMSCAN_SAN}`).
The command must exit 0 within `timeout` seconds and leave the certificate (and optionally its
chain) in {out}; otherwise its exit status and the last line of its stderr are reported.
A `revoke` template ({cert}, {serial}, {reason}) makes revocation available (with CAMSCAN_SAN
and the others set from the certificate being revoked).

Commands run one at a time unless `concurrency` says more: `openssl ca` rewrites its serial and
index files without a lock, and two at once fail ("error while loading serial number").
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from camscan.remediate.issuers.base import Enrolment, IssuerError, parse_pem_chain, quote_remote

PLACEHOLDERS = ("csr", "out", "ip", "dns", "san", "days", "cert", "serial", "reason")
MAX_OUTPUT = 64 * 1024  # bytes of a command's stderr kept (a runaway command must not fill memory)


def check_template(template: str, allowed: Sequence[str], where: str) -> list[str]:
    from camscan.errors import UsageError

    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise UsageError(f"{where}: cannot split the command ({exc})") from None
    if not words:
        raise UsageError(f"{where}: the command is empty")
    for word in words:
        try:
            word.format_map({name: "" for name in allowed})
        except (KeyError, IndexError, ValueError) as exc:
            raise UsageError(
                f"{where}: unknown placeholder in {word!r} ({exc}); allowed: "
                + " ".join("{" + a + "}" for a in allowed)
            ) from None
    return words


def expand(words: Sequence[str], values: Mapping[str, str]) -> list[str]:
    argv = []
    for word in words:
        expanded = word.format_map(values)
        if expanded == "" and word.strip() in {"{" + k + "}" for k in values}:
            continue  # a lone placeholder with nothing to say (no DNS name) is no argument
        argv.append(expanded)
    return argv


def _inherited() -> dict[str, str]:
    """camscan's environment minus its own variables: the device password ($CAMSCAN_PASSWORD)
    and issuer secrets named CAMSCAN_* are nobody else's business."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CAMSCAN_")}


class CommandIssuer:
    kind = "command"
    needs_csr_names = False  # the template receives the names itself

    def __init__(
        self,
        name: str,
        template: str,
        *,
        timeout: float = 60.0,
        revoke_template: str | None = None,
        roots: Sequence[x509.Certificate] = (),
        chain: Sequence[x509.Certificate] = (),
        cwd: Path | None = None,
        concurrency: int = 1,
    ) -> None:
        self.name = name
        where = f"issuer {name}"
        self.words = check_template(template, PLACEHOLDERS[:6], where + " command")
        self.revoke_words = (
            check_template(revoke_template, ("cert", "serial", "reason"), where + " revoke")
            if revoke_template
            else None
        )
        self.timeout = timeout
        self.roots = list(roots)
        self.chain = list(chain)  # appended when the command writes the leaf only
        self.cwd = cwd
        self.concurrency = concurrency
        self._limiter: trio.CapacityLimiter | None = None

    @property
    def supports_revoke(self) -> bool:
        return self.revoke_words is not None

    async def _run(self, argv: list[str], env: Mapping[str, str]) -> None:
        if self._limiter is None:  # made inside the run: a limiter belongs to one trio loop
            self._limiter = trio.CapacityLimiter(self.concurrency)
        async with self._limiter:
            await self._run_one(argv, env)

    async def _run_one(self, argv: list[str], env: Mapping[str, str]) -> None:
        try:
            process = await trio.lowlevel.open_process(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={**_inherited(), **env},
                cwd=self.cwd,
                start_new_session=True,  # the whole group is killed on a timeout
            )
        except OSError as exc:
            raise IssuerError("config", f"{self.name}: cannot run {argv[0]!r} ({exc.strerror})") from None
        stderr = bytearray()
        try:
            with trio.move_on_after(self.timeout) as scope:
                assert process.stderr is not None
                async with process.stderr:
                    while chunk := await process.stderr.receive_some(4096):
                        if len(stderr) < MAX_OUTPUT:
                            stderr += chunk[: MAX_OUTPUT - len(stderr)]
                await process.wait()
        finally:
            if process.returncode is None:
                with trio.CancelScope(shield=True):
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    await process.wait()
        if scope.cancelled_caught:
            raise IssuerError(
                "timeout", f"{self.name}: {argv[0]} did not finish within {self.timeout:g} s (killed)"
            )
        if process.returncode != 0:
            lines = [line for line in bytes(stderr).decode("utf-8", "replace").splitlines() if line.strip()]
            last = quote_remote(lines[-1]) if lines else "no message"
            raise IssuerError("refused", f"{self.name}: {argv[0]} exited {process.returncode}: {last}")

    async def issue(self, enrolment: Enrolment) -> list[x509.Certificate]:
        with tempfile.TemporaryDirectory(prefix="camscan-issue-") as tmp:
            csr_file, out_file = Path(tmp) / "device.csr", Path(tmp) / "device.pem"
            csr_file.write_bytes(enrolment.csr_pem)
            san = ",".join([f"IP:{i}" for i in enrolment.ips] + [f"DNS:{d}" for d in enrolment.dns])
            values = {
                "csr": str(csr_file),
                "out": str(out_file),
                "ip": ",".join(enrolment.ips),
                "dns": ",".join(enrolment.dns),
                "san": san,
                "days": str(enrolment.days),
            }
            await self._run(
                expand(self.words, values), {"CAMSCAN_" + k.upper(): v for k, v in values.items()}
            )
            if not out_file.is_file():
                raise IssuerError("protocol", f"{self.name}: the command exited 0 but wrote no {{out}} file")
            chain = parse_pem_chain(out_file.read_bytes(), self.name)
        return chain if len(chain) > 1 else chain + self.chain

    async def revoke(self, cert: x509.Certificate, reason: str) -> None:
        if self.revoke_words is None:
            raise IssuerError("config", f"{self.name}: no revoke command configured")
        with tempfile.TemporaryDirectory(prefix="camscan-revoke-") as tmp:
            cert_file = Path(tmp) / "old.pem"
            cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            values = {"cert": str(cert_file), "serial": f"{cert.serial_number:X}", "reason": reason}
            # The same environment as for issuing (an openssl config that reads
            # ${ENV::CAMSCAN_SAN} fails to load without it), from the certificate's names.
            try:
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                ips = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
                dns = san.get_values_for_type(x509.DNSName)
            except x509.ExtensionNotFound:
                ips, dns = [], []
            env = {
                "CAMSCAN_IP": ",".join(ips),
                "CAMSCAN_DNS": ",".join(dns),
                "CAMSCAN_SAN": ",".join([f"IP:{i}" for i in ips] + [f"DNS:{d}" for d in dns]),
                "CAMSCAN_CERT": str(cert_file),
                "CAMSCAN_SERIAL": values["serial"],
                "CAMSCAN_REASON": reason,
            }
            await self._run(expand(self.revoke_words, values), env)

    def describe(self) -> str:
        return f"command: {self.words[0]} ... (timeout {self.timeout:g} s)"

    async def test(self) -> str:
        from camscan import pki
        from camscan.remediate.issuers.base import check_issued

        key = pki.new_key("ec-p256")
        ips = ("192.0.2.1",)
        enrolment = Enrolment(pki.make_csr(key, common_name="camscan-issuer-test", ips=ips), ips, (), 1)
        chain = await self.issue(enrolment)
        check_issued(chain, enrolment, self.name)
        return f"ok: {self.describe()}; a throw-away CSR was signed by {chain[0].issuer.rfc4514_string()}"

    async def trust_anchors(self) -> list[x509.Certificate]:
        return list(self.roots)
