"""`camscan issuer test NAME`: check an issuer end to end; `camscan issuer list`: what is defined."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
The issuers `camscan fix --issuer NAME` can get device certificates from: `local` (the site CA
of --ca DIR) and those of an issuer file (--issuers FILE: command, est, acme; see
docs/issuers.md).

  camscan issuer list --issuers issuers.toml --ca ./site-ca
  camscan issuer test corp-est --issuers issuers.toml

`test` checks what the issuer allows without leaving anything behind where it can: local opens
the site CA's key and signs a CRL in memory (nothing is written, nothing enters the inventory);
command signs a throw-away CSR for 192.0.2.1 (TEST-NET-1, RFC 5737); est fetches /cacerts over
the pinned connection and checks the credentials; acme reads the directory and registers (or
finds) the account, with external account binding when configured. It prints one line: ok, or
what is wrong."""

EPILOG = """\
exit codes: 0 the issuer works; 2 bad issuer file or name; 3 the issuer does not work (the line
says why: unreachable, trust, auth, refused, pending, timeout, protocol, config)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("test", "list"))
    parser.add_argument("name", nargs="?", default="local", help="the issuer to test (default: local)")
    parser.add_argument("--issuers", metavar="FILE", help="the issuer file (TOML, no secrets in it)")
    parser.add_argument("--ca", metavar="DIR", help="the site CA behind the `local` issuer")


def run(args: argparse.Namespace) -> int:
    from camscan import runtime
    from camscan.errors import EXIT_RUNTIME
    from camscan.remediate.issuers.base import IssuerError
    from camscan.remediate.issuers.config import build, read_file, secrets_of
    from camscan.termtext import sanitize

    file = read_file(args.issuers) if args.issuers else None
    if args.action == "list":
        names = ["local", *(n for n in (file.names() if file else []) if n != "local")]
        for name in names:
            kind = "local" if file is None or name not in file.table else file.table[name]["kind"]
            print(f"{name:<20} {kind}")
        return 0
    name = args.name
    issuer = build(name, file, ca_dir=args.ca)

    async def check() -> tuple[bool, str]:
        try:
            return True, await issuer.test()
        except IssuerError as exc:  # caught inside the run: trio would wrap it in a group
            return False, str(exc)

    ok, line = runtime.run(check)
    for secret in secrets_of(issuer):  # a server may echo what it was sent
        line = line.replace(secret, "<redacted>")
    if not ok:
        print(f"{name}: FAILED: {sanitize(line)}", file=sys.stderr)
        return EXIT_RUNTIME
    print(f"{name}: {sanitize(line)}")
    return 0
