"""The [issuer] and [fix] sections of the audit config: renewals in the scheduled audit.

    [issuer]
    name = "corp-est"             # an issuer of the issuer file, or "local" (the site CA)
    file = "issuers.toml"
    ca = "site-ca"                # the site CA (for local; also the default state directory)
    renew_before_days = 30
    renew_before_fraction = 0.33  # optional: or a third of the lifetime, whichever is wider

    [fix]
    renew = true                  # apply renewals (only renewals); off by default
    user = "admin"                # device user, password from $CAMSCAN_PASSWORD
    credentials = "devices.toml"  # or per-device credentials (0600)
    state = "fix-state"           # backups and the audit log
    parallel = 2
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from camscan.config_model import FixSection, IssuerSection
from camscan.config_reader import Reader, Where, check_keys

_ISSUER = ("name", "file", "ca", "renew_before_days", "renew_before_fraction")
_FIX = ("renew", "user", "credentials", "state", "parallel")


def issuer_section(where: Where, top: Reader, base: Path) -> IssuerSection | None:
    if not top.has("issuer"):
        return None
    table: Mapping[str, Any] = top.table_of("issuer")
    check_keys(where, "[issuer]", table, _ISSUER)
    r = Reader(where, "[issuer]", table, base)
    section = IssuerSection(
        name=r.string("name", "local") or "local",
        file=r.path("file"),
        ca=r.path("ca"),
        renew_before_days=r.integer("renew_before_days", 30, minimum=1, maximum=397) or 30,
        renew_before_fraction=r.number("renew_before_fraction", None),
    )
    fraction = section.renew_before_fraction
    if fraction is not None and not 0 < fraction < 1:
        raise where.fail("[issuer] renew_before_fraction", "a share of the lifetime, between 0 and 1")
    if section.file is not None and not section.file.is_file():
        raise where.fail("[issuer] file", f"{section.file} does not exist")
    if section.name == "local" and section.ca is None:
        raise where.fail("[issuer] ca", "the local issuer needs the site CA directory")
    if section.name != "local" and section.file is None:
        raise where.fail("[issuer] file", f"issuer {section.name!r} needs the issuer file")
    return section


def fix_section(where: Where, top: Reader, base: Path, issuer: IssuerSection | None) -> FixSection:
    table: Mapping[str, Any] = top.table_of("fix") if top.has("fix") else {}
    check_keys(where, "[fix]", table, _FIX)
    r = Reader(where, "[fix]", table, base)
    section = FixSection(
        renew=r.boolean("renew", False),
        user=r.string("user"),
        credentials=r.path("credentials"),
        state=r.path("state") or (issuer.ca if issuer is not None else None),
        parallel=r.integer("parallel", 2, minimum=1, maximum=16) or 2,
    )
    if section.renew:
        if issuer is None:
            raise where.fail("[fix] renew", "renewals need an [issuer] section")
        if section.user is None and section.credentials is None:
            raise where.fail("[fix] user", "renewals need user (password: $CAMSCAN_PASSWORD) or credentials")
        if section.state is None:
            raise where.fail("[fix] state", "renewals need a state directory (backups, audit log)")
    return section
