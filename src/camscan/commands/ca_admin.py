"""The administrative half of `camscan ca`: init, list, revoke, crl, encrypt-key.

Not a command of its own: `camscan ca` (camscan.commands.ca) parses the arguments and hands
these actions here, to keep each module small.
"""

from __future__ import annotations

import argparse
import json
import sys


def run(args: argparse.Namespace) -> int:
    actions = {"init": _init, "list": _list, "revoke": _revoke, "crl": _crl, "encrypt-key": _encrypt}
    return actions[args.action](args)


def _init(args: argparse.Namespace) -> int:
    import camscan.remediate.ca as local_ca
    from camscan.errors import UsageError
    from camscan.remediate import cakey, casettings

    if args.two_level != bool(args.root_dir):
        raise UsageError("--two-level and --root-dir go together (the root key is written to ROOTDIR)")
    # Every option is checked before the passphrase is asked for.
    casettings.check_common_name(args.name)
    casettings.check_crl_url(args.crl_url)
    casettings.name_constraints(args.permit_ip, args.permit_dns)
    passphrase = None if args.no_encrypt else cakey.passphrase_from_environment(
        confirm=True, prompt="new CA key passphrase: ", new=True
    )
    authority = local_ca.LocalCA.init(
        args.dir, key_type=args.key_type, common_name=args.name, passphrase=passphrase,
        permit_ips=args.permit_ip, permit_dns=args.permit_dns, root_dir=args.root_dir,
        crl_url=args.crl_url,
    )
    state = "encrypted" if passphrase else "NOT encrypted"
    print(f"site CA created: {authority.cert_path} (import it as a trusted root on every client)")
    print(f"  key {authority.directory / local_ca.CA_KEY} (0600, {state})")
    if args.root_dir:
        issuing = authority.directory / local_ca.CA_CERT
        print(f"  issuing CA {issuing} (devices send it with their certificate)")
        print(f"  root key {args.root_dir}/{local_ca.ROOT_KEY} (0600, {state}): move it to offline storage")
    if args.permit_ip or args.permit_dns:
        permitted = ", ".join([*args.permit_ip, *args.permit_dns])
        print(f"  name constraints (critical): may certify only {permitted}")
        # RFC 5280 4.2.1.10: a name form without permitted subtrees is not constrained at all.
        if not args.permit_dns:
            print("  note: DNS names are not constrained (add --permit-dns to close them too)")
        elif not args.permit_ip:
            print("  note: IP addresses are not constrained (add --permit-ip to close them too)")
    if args.crl_url:
        print(f"  CRL distribution point: {args.crl_url}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from camscan.remediate import inventory
    from camscan.remediate.ca import LocalCA
    from camscan.termtext import sanitize

    authority = LocalCA.load(args.ca)  # refuses a directory that is not a CA (or too open)
    records = inventory.list_issued(authority.directory)
    if args.json:
        document = {"ca": str(authority.directory), "certificates": [r.to_json() for r in records]}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return 0
    if not records:
        print(f"no certificate issued yet by the site CA in {authority.directory}")
        return 0
    rows = [("SERIAL", "STATUS", "NOT AFTER", "ADDRESS", "NAMES", "IDENTITY")]
    for r in records:
        status = r.status() + (f" ({r.reason})" if r.reason else "")
        rows.append((r.serial, status, r.not_after[:10], r.address, " ".join(r.names), r.identity or "-"))
    widths = [max(len(sanitize(row[i])) for row in rows) for i in range(5)]
    for row in rows:
        cells = [sanitize(cell).ljust(width) for cell, width in zip(row[:5], widths, strict=True)]
        print("  ".join([*cells, sanitize(row[5])]).rstrip())
    issuers = sorted({r.issuer for r in records})
    noun = "certificate" if len(records) == 1 else "certificates"
    print(f"\n{len(records)} {noun}, issuer {'; '.join(sanitize(i) for i in issuers)}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from camscan.remediate import inventory
    from camscan.remediate.ca import LocalCA

    authority = LocalCA.load(args.ca)
    record = inventory.revoke(authority.directory, args.serial, args.reason)
    print(
        f"revoked {record.serial} ({record.reason}) for {' '.join(record.names)} at {record.revoked_at}; "
        f"run `camscan ca crl --ca {args.ca}` to publish it"
    )
    return 0


def _crl(args: argparse.Namespace) -> int:
    from cryptography import x509

    from camscan.remediate import inventory
    from camscan.remediate.ca import LocalCA

    authority = LocalCA.load(args.ca)
    der, pem = inventory.write_crl(authority, days=args.days)
    crl = x509.load_der_x509_crl(der.read_bytes())
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    print(f"{der} and {pem}: CRL number {number}, {len(crl)} revoked, "
          f"this update {crl.last_update_utc:%Y-%m-%dT%H:%M:%SZ}, "
          f"next update {crl.next_update_utc:%Y-%m-%dT%H:%M:%SZ}")
    return 0


def _encrypt(args: argparse.Namespace) -> int:
    from camscan.errors import UsageError
    from camscan.remediate import cakey
    from camscan.remediate.ca import CA_KEY, LocalCA

    authority = LocalCA.load(args.ca)
    path = authority.directory / CA_KEY
    if cakey.is_encrypted(path):
        raise UsageError(f"{path} is already encrypted")
    key = authority.key
    cakey.write_key(path, key, cakey.passphrase_from_environment(confirm=True, new=True), replace=True)
    print(f"{path}: encrypted (0600); keep the passphrase where unattended runs can read it")
    return 0
