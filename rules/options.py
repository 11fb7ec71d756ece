"""The audit options every judging command shares (scan, check, audit): trust and the clock.

`add_arguments(parser)` adds them; `context_from_args(args, history=())` turns them into the
AuditContext the rules receive. Bad values are one-line UsageErrors naming the value.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from camscan.argtypes import bounded
from camscan.errors import UsageError

if TYPE_CHECKING:
    from camscan.model import AuditContext, HistoryFact
    from camscan.rules.trust import TrustConfig

# The trust modes of camscan.rules.trust, spelled out here because that module imports
# cryptography and `camscan --help` builds these choices (a test checks the two agree).
PUBLIC = "public"
TRUST_MODES: tuple[str, ...] = (PUBLIC, "site")
# camscan.rules.registry.PROFILES, likewise spelled out for `--help` (a test checks they agree).
PROFILES: tuple[str, ...] = ("device", "webpki")
DEFAULT_EXPIRY_WARN_DAYS = 30
_RELATIVE = re.compile(r"^\+(\d{1,5})([dh])$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("trust and audit clock")
    group.add_argument(
        "--ca-bundle", metavar="FILE", action="append", default=[],
        help="extra trust anchors, PEM, DER or PKCS#7 (repeatable): the site CA, a VMS CA, a "
        "device's exported built-in CA such as cacert.crt",
    )
    group.add_argument(
        "--trust", choices=TRUST_MODES, default=PUBLIC,
        help="public: Mozilla roots plus --ca-bundle (default); site: the --ca-bundle files "
        "alone (the public verdict is reported as information)",
    )
    group.add_argument(
        "--intermediates", metavar="FILE", action="append", default=[],
        help="intermediate certificates to complete chains devices do not send (PEM, DER or "
        "PKCS#7; repeatable); a finding still says the device does not send them",
    )
    group.add_argument(
        "--offline", action="store_true",
        help="never fetch AIA caIssuers URLs (the local intermediate cache is still used)",
    )
    group.add_argument(
        "--as-of", metavar="DATETIME",
        help="audit clock: ISO-8601 (naive = UTC), or +Nd / +Nh from now to forecast "
        "(default: now)",
    )
    group.add_argument(
        "--profile", choices=PROFILES, default="device",
        help="device: the camera profile (default); webpki: also the CA/Browser Forum Baseline "
        "Requirements checks (CS6xx) for servers with publicly trusted certificates (VMS, Milestone guide)",
    )
    group.add_argument(
        "--expiry-warn", metavar="DAYS", type=_days, default=DEFAULT_EXPIRY_WARN_DAYS,
        help=f"warn about certificates expiring within DAYS (default {DEFAULT_EXPIRY_WARN_DAYS})",
    )


_days = bounded(int, 0, 36500, unit="days")


def parse_as_of(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """ISO-8601 date or date-time (naive = UTC, offsets honoured) or +Nd/+Nh; UTC, whole seconds.

    Truncated to the second: X.509 times have one-second resolution (RFC 5280 4.1.2.5), and a
    fractional clock would make a certificate that ends at 00:00:00 "expired" at 00:00:00.005.
    """
    raw = text.strip()
    relative = _RELATIVE.match(raw)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        base = now or dt.datetime.now(dt.UTC)
        delta = dt.timedelta(days=amount) if unit == "d" else dt.timedelta(hours=amount)
        try:
            moment = base + delta
        except OverflowError:
            raise UsageError(f"--as-of {text!r}: after 9999-12-31, the last date camscan can judge") from None
    else:
        try:
            moment = dt.datetime.fromisoformat(raw.replace("z", "Z"))
        except ValueError:
            raise UsageError(
                f"--as-of {text!r}: not an ISO-8601 date/time (e.g. 2026-12-01 or "
                "2026-12-01T08:00:00Z) nor +Nd/+Nh"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC).replace(microsecond=0)
    except OverflowError:  # 9999-12-31T23:00-05:00 is after the last date Python knows
        raise UsageError(
            f"--as-of {text!r}: after 9999-12-31T23:59:59Z, the last date camscan can judge"
        ) from None


def trust_from_args(args: argparse.Namespace) -> TrustConfig:
    from camscan.rules.trust import TrustConfig, default_cache_dir, load_bundle

    bundles = tuple(load_bundle(p, option="--ca-bundle") for p in getattr(args, "ca_bundle", []) or [])
    intermediates = tuple(
        load_bundle(p, option="--intermediates") for p in getattr(args, "intermediates", []) or []
    )
    return TrustConfig(
        mode=getattr(args, "trust", PUBLIC) or PUBLIC,
        site_bundles=bundles,
        intermediates=intermediates,
        offline=bool(getattr(args, "offline", False)),
        cache_dir=default_cache_dir(),
    )


def context_from_args(
    args: argparse.Namespace, history: Sequence[HistoryFact] = ()
) -> AuditContext:
    from camscan.model import AuditContext

    as_of = getattr(args, "as_of", None)
    # `--as-of ''` is a mistake to report, not "now".
    now = parse_as_of(as_of) if as_of is not None else dt.datetime.now(dt.UTC).replace(microsecond=0)
    return AuditContext(
        now=now,
        expiry_warn_days=getattr(args, "expiry_warn", DEFAULT_EXPIRY_WARN_DAYS),
        trust=trust_from_args(args),
        history=tuple(history),
        profile=getattr(args, "profile", None) or "device",
    )
