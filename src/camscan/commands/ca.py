"""`camscan ca init|issue|sign|csr`: the site's local CA, and keys and CSRs for a public CA."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DESCRIPTION = """\
The site CA that `camscan fix` issues device certificates from, and the files devices take.

  camscan ca init --dir ./site-ca                      # ca.pem (import on clients) + ca.key (0600)
  camscan ca issue --ca ./site-ca --ip 192.0.2.7 --out cam7             # cam7.key + cam7.pem
  camscan ca issue --ca ./site-ca --ip 192.0.2.7 --out cam7 --format der   # cam7.der (DER-only devices)
  camscan ca issue --ca ./site-ca --ip 192.0.2.7 --out cam7 --format p12   # $CAMSCAN_P12_PASSPHRASE
  camscan ca sign --ca ./site-ca device.csr --ip 192.0.2.7 --out cam7   # a CSR made on the device
  camscan ca csr --dns cam7.example.com --out cam7     # key + CSR for a public CA (DNS names only)

Device certificates: ECDSA P-256 (or --key-type rsa2048), the address as an IP SAN, serverAuth,
398 days at most. Keys are written 0600 and never overwritten without --force; a CA directory
other users can read is refused."""

FORMATS = ("pem", "der", "p12")


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = sub.add_parser("init", help="create the site CA in DIR")
    init.add_argument("--dir", required=True, metavar="DIR", help="where ca.pem and ca.key go (made 0700)")
    init.add_argument("--key-type", choices=("ec-p256", "rsa2048"), default="ec-p256")
    init.add_argument("--name", default="camscan site CA", help="the CA's Common Name")

    def names(p: argparse.ArgumentParser, *, ips: bool = True) -> None:
        if ips:
            p.add_argument("--ip", action="append", default=[], metavar="IP", help="IP SAN (repeatable)")
        p.add_argument("--dns", action="append", default=[], metavar="NAME", help="DNS SAN (repeatable)")
        p.add_argument(
            "--out", required=True, metavar="PREFIX", help="output files PREFIX.key, PREFIX.pem ..."
        )
        p.add_argument("--force", action="store_true", help="replace existing output files")

    issue = sub.add_parser("issue", help="a key made here and a certificate for a device")
    issue.add_argument("--ca", required=True, metavar="DIR")
    names(issue)
    issue.add_argument("--days", type=int, default=398, help="validity, at most 398 (default 398)")
    issue.add_argument("--force-days", action="store_true",
                       help="allow --days above 398 (Apple and Chrome refuse such certificates)")
    issue.add_argument("--key-type", choices=("ec-p256", "rsa2048"), default="ec-p256")
    issue.add_argument("--format", choices=FORMATS, default="pem")

    sign = sub.add_parser("sign", help="sign a CSR made on the device")
    sign.add_argument("--ca", required=True, metavar="DIR")
    sign.add_argument("csr", metavar="CSR", help="the device's CSR, PEM or DER")
    names(sign)
    sign.add_argument("--days", type=int, default=398, help="validity, at most 398 (default 398)")
    sign.add_argument("--force-days", action="store_true",
                      help="allow --days above 398 (Apple and Chrome refuse such certificates)")
    sign.add_argument(
        "--correct", action="store_true", help="sign for --ip/--dns even when the CSR asks for other names"
    )
    sign.add_argument("--format", choices=("pem", "der"), default="pem")

    csr = sub.add_parser("csr", help="a key and a CSR for a public CA (OpenMV TLS guide): DNS names only")
    names(csr, ips=False)
    csr.add_argument("--ip", action="append", default=[], help=argparse.SUPPRESS)
    csr.add_argument("--key-type", choices=("ec-p256", "rsa2048"), default="ec-p256")


def _passphrase() -> bytes:
    from camscan.errors import UsageError

    value = os.environ.get("CAMSCAN_P12_PASSPHRASE")
    if value:
        return value.encode()
    if not sys.stdin.isatty():
        raise UsageError("PKCS#12 needs a passphrase: set CAMSCAN_P12_PASSPHRASE (never on the command line)")
    import getpass

    first = getpass.getpass("PKCS#12 passphrase: ")
    if not first or first != getpass.getpass("again: "):
        raise UsageError("the passphrases are empty or differ")
    return first.encode()


def _write_public(path: Path, data: bytes, force: bool) -> None:
    from camscan.atomic import write_bytes_atomic
    from camscan.errors import UsageError

    if path.exists() and not force:
        raise UsageError(f"{path} exists (use --force to replace it)")
    write_bytes_atomic(path, data, mode=0o644)


def run(args: argparse.Namespace) -> int:
    from cryptography import x509

    import camscan.remediate.ca as local_ca
    from camscan import pki
    from camscan.errors import UsageError

    if args.action == "init":
        try:
            authority = local_ca.LocalCA.init(args.dir, key_type=args.key_type, common_name=args.name)
        except OSError as exc:  # --dir under a file, or somewhere not writable
            raise UsageError(f"--dir {args.dir!r}: cannot create the CA there ({exc.strerror})") from None
        print(
            f"site CA created: {authority.cert_path} (import it as a trusted root on every client), "
            f"key {authority.directory / local_ca.CA_KEY} (0600)"
        )
        return 0
    out = Path(args.out)
    if args.action == "csr":
        if args.ip:
            raise UsageError(
                "public CAs do not certify IP addresses or private names (OpenMV TLS guide): use --dns "
                "with a name you control, or `camscan ca issue` from the site CA for an IP"
            )
        if not args.dns:
            raise UsageError("--dns NAME is required")
        key = pki.new_key(local_ca.KEY_TYPES[args.key_type])
        request = pki.make_csr(key, common_name=args.dns[0], dns=args.dns)
        from cryptography.hazmat.primitives import serialization

        local_ca.write_secret(Path(str(out) + ".key"), local_ca.key_pem(key), force=args.force)
        _write_public(Path(str(out) + ".csr"), request.public_bytes(serialization.Encoding.PEM), args.force)
        print(f"{out}.key (0600, keep it) and {out}.csr (send it to the CA) for {', '.join(args.dns)}")
        return 0
    authority = local_ca.LocalCA.load(args.ca)
    if args.action == "issue":
        issued = authority.issue(args.ip, args.dns, days=args.days, key_type=args.key_type,
                                 force_days=args.force_days)
        if args.format == "p12":
            data = local_ca.pkcs12_bytes(issued, [authority.certificate], _passphrase(), out.name)
            local_ca.write_secret(Path(str(out) + ".p12"), data, force=args.force)
            print(f"{out}.p12 (certificate, key and the CA, 0600)")
            return 0
        local_ca.write_secret(Path(str(out) + ".key"), local_ca.key_pem(issued.key), force=args.force)
        suffix = ".der" if args.format == "der" else ".pem"
        _write_public(
            Path(str(out) + suffix), local_ca.encode_certificate(issued.cert, args.format), args.force
        )
        print(
            f"{out}{suffix} and {out}.key (0600) for {', '.join([*args.ip, *args.dns])}, "
            f"valid until {issued.cert.not_valid_after_utc:%Y-%m-%d}"
        )
        return 0
    # sign
    try:
        raw = Path(args.csr).read_bytes()
    except OSError as exc:
        raise UsageError(f"{args.csr}: cannot read ({exc.strerror})") from None
    try:
        request = x509.load_pem_x509_csr(raw) if b"-----BEGIN" in raw else x509.load_der_x509_csr(raw)
    except ValueError:
        raise UsageError(f"{args.csr}: not a PEM or DER certificate signing request") from None
    asked_ips, asked_dns = local_ca.requested_names(request)
    print(f"the CSR asks for: {', '.join(sorted(asked_ips | asked_dns)) or '(no subjectAltName)'}")
    cert = authority.sign_csr(request, args.ip, args.dns, correct=args.correct, days=args.days,
                              force_days=args.force_days)
    suffix = ".der" if args.format == "der" else ".pem"
    _write_public(Path(str(out) + suffix), local_ca.encode_certificate(cert, args.format), args.force)
    names = ", ".join([*args.ip, *args.dns])
    print(f"{out}{suffix} for {names}, valid until {cert.not_valid_after_utc:%Y-%m-%d}")
    return 0
