"""`camscan ca init|issue|sign|csr|list|revoke|crl|encrypt-key`: the site's local CA."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

    from camscan.pki import Issued

DESCRIPTION = """\
The site CA that `camscan fix` issues device certificates from, and the files devices take.

  camscan ca init --dir ./site-ca                      # ca.pem (import on clients) + ca.key (encrypted)
  camscan ca init --dir ./site-ca --permit-ip 192.0.2.0/24 --permit-dns cams.example.internal
  camscan ca init --dir ./site-ca --two-level --root-dir /media/offline/root   # offline root
  camscan ca issue --ca ./site-ca --ip 192.0.2.7 --out cam7             # cam7.key + cam7.pem
  camscan ca issue --ca ./site-ca --ip 192.0.2.7 --out cam7 --format der   # cam7.der + cam7.key
  camscan ca issue --ca ./site-ca --ip 192.0.2.7 --out cam7 --format p12   # $CAMSCAN_P12_PASSWORD
  camscan ca sign --ca ./site-ca device.csr --ip 192.0.2.7 --out cam7   # cam7.pem, for a device CSR
  camscan ca csr --dns cam7.example.com --out cam7     # cam7.key + cam7.csr for a public CA
  camscan ca list --ca ./site-ca [--json]              # every certificate the site CA issued
  camscan ca revoke --ca ./site-ca 3f2a... --reason superseded
  camscan ca crl --ca ./site-ca                        # crl.der + crl.pem, signed, next update in 7 days

The CA key's passphrase comes from $CAMSCAN_CA_PASSPHRASE, the 0600 file named by
$CAMSCAN_CA_PASSPHRASE_FILE, or a prompt; never from the command line. Device certificates:
ECDSA P-256 (or --key-type rsa2048), the address as an IP SAN, serverAuth, 398 days at most,
and nothing camscan's own rules would flag. Keys are written 0600 and never overwritten
without --force; a CA directory other users can read is refused."""

FORMATS = ("pem", "der", "p12")


def configure(parser: argparse.ArgumentParser) -> None:
    from camscan.remediate.reasons import REASON_NAMES

    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = sub.add_parser("init", help="create the site CA in DIR")
    init.add_argument("--dir", required=True, metavar="DIR", help="where ca.pem and ca.key go (made 0700)")
    init.add_argument("--key-type", choices=("ec-p256", "rsa2048"), default="ec-p256")
    init.add_argument("--name", default="camscan site CA", help="the CA's Common Name")
    init.add_argument("--no-encrypt", action="store_true",
                      help="leave ca.key unencrypted; without it the key is encrypted with "
                      "$CAMSCAN_CA_PASSPHRASE, $CAMSCAN_CA_PASSPHRASE_FILE or a prompt")
    init.add_argument("--permit-ip", action="append", default=[], metavar="CIDR",
                      help="name constraint: the CA may certify addresses in CIDR only (repeatable)")
    init.add_argument("--permit-dns", action="append", default=[], metavar="NAME",
                      help="name constraint: the CA may certify NAME and names below it only (repeatable)")
    init.add_argument("--two-level", action="store_true",
                      help="an offline root (key in --root-dir) signing the issuing CA kept in DIR")
    init.add_argument("--root-dir", metavar="ROOTDIR", help="with --two-level: where root.key goes")
    init.add_argument("--crl-url", metavar="URL",
                      help="CRL distribution point put in every certificate issued (publish crl.der there)")

    def names(p: argparse.ArgumentParser, out_help: str, *, ips: bool = True) -> None:
        if ips:
            p.add_argument("--ip", action="append", default=[], metavar="IP", help="IP SAN (repeatable)")
        p.add_argument("--dns", action="append", default=[], metavar="NAME", help="DNS SAN (repeatable)")
        p.add_argument("--out", required=True, metavar="PREFIX", help=out_help)
        p.add_argument("--force", action="store_true", help="replace existing output files")
        if ips:
            p.add_argument("--identity", metavar="TEXT",
                           help="what the inventory records about the device (vendor, model, serial)")

    issue = sub.add_parser("issue", help="a key made here and a certificate for a device")
    issue.add_argument("--ca", required=True, metavar="DIR")
    names(issue, "writes PREFIX.key and PREFIX.pem (PREFIX.der with --format der; PREFIX.p12 alone with p12)")
    issue.add_argument("--days", type=int, default=398, help="validity, at most 398 (default 398)")
    issue.add_argument("--force-days", action="store_true",
                       help="allow --days above 398 (Apple and Chrome refuse such certificates)")
    issue.add_argument("--key-type", choices=("ec-p256", "rsa2048"), default="ec-p256")
    issue.add_argument("--format", choices=FORMATS, default="pem")

    sign = sub.add_parser("sign", help="sign a CSR made on the device")
    sign.add_argument("--ca", required=True, metavar="DIR")
    sign.add_argument("csr", metavar="CSR", help="the device's CSR, PEM or DER")
    names(sign, "writes PREFIX.pem (PREFIX.der with --format der)")
    sign.add_argument("--days", type=int, default=398, help="validity, at most 398 (default 398)")
    sign.add_argument("--force-days", action="store_true",
                      help="allow --days above 398 (Apple and Chrome refuse such certificates)")
    sign.add_argument(
        "--correct", action="store_true", help="sign for --ip/--dns even when the CSR asks for other names"
    )
    sign.add_argument("--format", choices=("pem", "der"), default="pem")

    csr = sub.add_parser("csr", help="a key and a CSR for a public CA (OpenMV TLS guide): DNS names only")
    names(csr, "writes PREFIX.key and PREFIX.csr", ips=False)
    csr.add_argument("--ip", action="append", default=[], help=argparse.SUPPRESS)
    csr.add_argument("--key-type", choices=("ec-p256", "rsa2048"), default="ec-p256")

    listing = sub.add_parser("list", help="every certificate the site CA issued")
    listing.add_argument("--ca", required=True, metavar="DIR")
    listing.add_argument("--json", action="store_true", help="JSON on stdout instead of a table")

    revoke = sub.add_parser("revoke", help="revoke a certificate the site CA issued")
    revoke.add_argument("--ca", required=True, metavar="DIR")
    revoke.add_argument("serial", metavar="SERIAL", help="hexadecimal, as `camscan ca list` prints it")
    revoke.add_argument("--reason", default="unspecified", metavar="REASON",
                        help=f"RFC 5280 reason: {', '.join(REASON_NAMES)} (default unspecified)")

    crl = sub.add_parser("crl", help="sign DIR/crl.der and DIR/crl.pem")
    crl.add_argument("--ca", required=True, metavar="DIR")
    crl.add_argument("--days", type=int, default=7, help="next update in DAYS days (default 7)")

    encrypt = sub.add_parser("encrypt-key", help="encrypt an unencrypted ca.key in place")
    encrypt.add_argument("--ca", required=True, metavar="DIR")


def _p12_passphrase() -> bytes:
    from camscan.errors import UsageError
    from camscan.p12env import P12_ENV, p12_password

    value = p12_password()
    if value:
        return value.encode()
    if not sys.stdin.isatty():
        raise UsageError(f"PKCS#12 needs a password: set {P12_ENV} (never on the command line)")
    import getpass

    first = getpass.getpass("PKCS#12 password: ")
    if not first or first != getpass.getpass("again: "):
        raise UsageError("the passwords are empty or differ")
    return first.encode()


def _identity(text: str | None) -> str | None:
    from camscan.errors import UsageError

    if text is None:
        return None
    if not text.strip() or len(text) > 200 or not text.isprintable():
        raise UsageError("--identity: 1 to 200 printable characters")
    return text.strip()


def _check_outputs(paths: list[Path], force: bool) -> None:
    """Every output is writable before anything is made: all are written, or none."""
    from camscan.errors import UsageError

    for path in paths:
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(f"--out {path}: the directory {parent} does not exist")
        if path.is_dir():
            raise UsageError(f"--out {path}: is a directory")
        if path.exists() and not force:
            raise UsageError(f"{path} exists: refusing to overwrite it (use --force to replace it)")
        try:  # a directory that exists may still refuse files (read-only, /proc...)
            with tempfile.TemporaryFile(dir=parent):
                pass
        except OSError as exc:
            raise UsageError(f"--out {path}: cannot write in {parent} ({exc.strerror or exc})") from None


def _write_all(files: list[tuple[Path, bytes, int]]) -> None:
    from camscan.atomic import write_bytes_atomic
    from camscan.errors import UsageError

    for path, data, mode in files:
        try:
            write_bytes_atomic(path, data, mode=mode)
        except OSError as exc:
            raise UsageError(f"{path}: cannot write ({exc.strerror})") from None


def run(args: argparse.Namespace) -> int:
    from camscan.commands import ca_admin

    if args.action in ("init", "list", "revoke", "crl", "encrypt-key"):
        return ca_admin.run(args)
    return _make(args)


def _make(args: argparse.Namespace) -> int:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    import camscan.remediate.ca as local_ca
    from camscan import pki
    from camscan.errors import UsageError
    from camscan.termtext import sanitize

    out = Path(args.out)

    def named(suffix: str) -> Path:
        return Path(str(out) + suffix)

    if args.action == "csr":
        if args.ip:
            raise UsageError(
                "public CAs do not certify IP addresses or private names (OpenMV TLS guide): use --dns "
                "with a name you control, or `camscan ca issue` from the site CA for an IP"
            )
        if not args.dns:
            raise UsageError("--dns NAME is required")
        from camscan.remediate.signcheck import device_names

        _, args.dns = device_names([], args.dns)
        _check_outputs([named(".key"), named(".csr")], args.force)
        key = pki.new_key(local_ca.KEY_TYPES[args.key_type])
        request = pki.make_csr(key, common_name=args.dns[0], dns=args.dns)
        _write_all([(named(".key"), local_ca.key_pem(key), 0o600),
                    (named(".csr"), request.public_bytes(serialization.Encoding.PEM), 0o644)])
        print(f"{out}.key (0600, keep it) and {out}.csr (send it to the CA) for {', '.join(args.dns)}")
        return 0
    if not args.ip and not args.dns:
        raise UsageError(f"`ca {args.action}` needs the device's names: --ip IP and/or --dns NAME")
    suffix = ".der" if args.format == "der" else ".pem"
    if args.action == "issue":
        outputs = [named(".p12")] if args.format == "p12" else [named(".key"), named(suffix)]
    else:
        outputs = [named(suffix)]
    _check_outputs(outputs, args.force)
    authority = local_ca.LocalCA.load(args.ca)
    if args.action == "issue":
        p12_secret = _p12_passphrase() if args.format == "p12" else None
        issued = authority.issue(args.ip, args.dns, days=args.days, key_type=args.key_type,
                                 force_days=args.force_days, identity=_identity(args.identity))
        if p12_secret is not None:
            chain = [*authority.chain, authority.trust_anchor]
            data = _pkcs12_bytes(issued, chain, p12_secret, out.name)
            _write_all([(named(".p12"), data, 0o600)])
            print(f"{out}.p12 (certificate, key and the CA, 0600)")
            return 0
        _write_all([(named(".key"), local_ca.key_pem(issued.key), 0o600),
                    (named(suffix), _encode_certificate(issued.cert, args.format, authority.chain),
                     0o644)])
        print(
            f"{out}{suffix} and {out}.key (0600) for {', '.join([*args.ip, *args.dns])}, "
            f"valid until {issued.cert.not_valid_after_utc:%Y-%m-%d}, serial {issued.cert.serial_number:x}"
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
    asked = ", ".join(sorted(asked_ips | asked_dns)) or "(no subjectAltName)"
    print(f"the CSR asks for: {sanitize(asked)}")
    cert = authority.sign_csr(request, args.ip, args.dns, correct=args.correct, days=args.days,
                              force_days=args.force_days, identity=_identity(args.identity))
    _write_all([(named(suffix), _encode_certificate(cert, args.format, authority.chain), 0o644)])
    names = ", ".join([*args.ip, *args.dns])
    print(f"{out}{suffix} for {names}, valid until {cert.not_valid_after_utc:%Y-%m-%d}, "
          f"serial {cert.serial_number:x}")
    return 0


def _encode_certificate(cert: x509.Certificate, fmt: str, chain: Sequence[x509.Certificate] = ()) -> bytes:
    """DER: the certificate alone; PEM: the certificate, then the chain a device sends with it."""
    from cryptography.hazmat.primitives import serialization

    from camscan import pki

    if fmt == "der":
        return cert.public_bytes(serialization.Encoding.DER)
    return pki.pem_chain([cert, *chain])


def _pkcs12_bytes(issued: Issued, chain: Sequence[x509.Certificate], passphrase: bytes, name: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    return pkcs12.serialize_key_and_certificates(
        name.encode(), issued.key, issued.cert, list(chain), serialization.BestAvailableEncryption(passphrase)
    )
