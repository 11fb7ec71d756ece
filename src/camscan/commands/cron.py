"""`camscan cron --config FILE [--schedule "0 3 * * *"]`: a crontab line and systemd units.

Everything printed uses absolute paths (cron and systemd start in / with a bare environment).
Overlap is safe without flock(1): `camscan audit` takes its own lock and a second run exits 4 at
once; a systemd timer never starts a service that is still running anyway.

The cron schedule is translated to systemd's OnCalendar= here (pure code, tested against
`systemd-analyze calendar` where it exists). Cron ORs day-of-month and day-of-week when both
are restricted, systemd ANDs them: that one combination is refused rather than mistranslated.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

DESCRIPTION = """\
Print a crontab line and a systemd service + timer that run `camscan audit` for this config on a
schedule (default: daily at 03:00), with absolute paths and the output appended to a log."""

EPILOG = """\
examples:
  camscan cron --config /etc/camscan/camscan.toml
  camscan cron --config camscan.toml --schedule "*/30 6-22 * * 1-5" --log /var/log/camscan.log
  camscan cron --config camscan.toml --schedule @hourly"""

CRON_MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
               "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
               "@annually": "0 0 1 1 *"}  # fmt: skip
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # cron 0 and 7 are Sunday


class ScheduleError(ValueError):
    pass


def _number(text: str, field: str, low: int, high: int, names: tuple[str, ...] = (), base: int = 0) -> int:
    lowered = text.lower()
    if names and lowered in names:
        return names.index(lowered) + base
    if not text.isdigit():
        raise ScheduleError(f"{field} {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise ScheduleError(f"{field} {value} is out of range {low}-{high}")
    return value


def _numeric_field(text: str, field: str, low: int, high: int, names: tuple[str, ...] = (), base: int = 0,
                   width: int = 2) -> str:  # fmt: skip
    """One cron field (minute, hour, day of month, month) in OnCalendar syntax."""
    if text == "*":
        return "*"
    parts = []
    for item in text.split(","):
        value, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ScheduleError(f"{field} step {step!r} must be a positive number")
        if value == "*":
            if not step:
                raise ScheduleError(f"{field} {item!r}: '*' cannot be part of a list")
            parts.append(f"{low:0{width}d}/{int(step)}")
        elif "-" in value:
            if step:
                raise ScheduleError(f"{field} {item!r}: a range with a step has no OnCalendar equivalent")
            start, _, end = value.partition("-")
            a = _number(start, field, low, high, names, base)
            b = _number(end, field, low, high, names, base)
            if a > b:
                raise ScheduleError(f"{field} range {item!r} runs backwards")
            parts.append(f"{a:0{width}d}..{b:0{width}d}")
        else:
            n = _number(value, field, low, high, names, base)
            parts.append(f"{n:0{width}d}/{int(step)}" if step else f"{n:0{width}d}")
    return ",".join(parts)


def _weekday_field(text: str) -> str | None:
    """Cron days of week as an explicit systemd list ("Mon,Tue,Fri"): no wrap-around surprises."""
    if text == "*":
        return None
    days: set[int] = set()
    for item in text.split(","):
        if "/" in item:
            raise ScheduleError(f"day of week {item!r}: steps are not supported, list the days")
        start, _, end = item.partition("-")
        a = _number(start, "day of week", 0, 7, CRON_DAYS)
        b = _number(end, "day of week", 0, 7, CRON_DAYS) if end else a
        if a > b:
            raise ScheduleError(f"day of week range {item!r} runs backwards")
        days.update(d % 7 for d in range(a, b + 1))
    monday_first = sorted(days, key=lambda d: (d + 6) % 7)
    return ",".join(SYSTEMD_DAYS[d] for d in monday_first)


def normalize_schedule(schedule: str) -> str:
    """The five-field cron form of a schedule (macros expanded); ScheduleError if malformed."""
    text = " ".join(schedule.split())
    if text.lower() == "@reboot":
        raise ScheduleError("@reboot has no calendar equivalent; use a time-based schedule")
    if text.startswith("@"):
        if text.lower() not in CRON_MACROS:
            raise ScheduleError(f"unknown macro {text!r} (known: {', '.join(sorted(CRON_MACROS))})")
        return CRON_MACROS[text.lower()]
    if len(text.split(" ")) != 5:
        raise ScheduleError(f"{schedule!r} needs five fields: minute hour day-of-month month day-of-week")
    if any(c in text for c in "%\n\\"):
        raise ScheduleError(f"{schedule!r} contains characters cron treats specially")
    return text


def cron_to_oncalendar(schedule: str) -> str:
    """"0 3 * * *" -> "*-*-* 03:00:00"; "*/15 * * * 1-5" -> "Mon..Fri *-*-* *:00/15:00"."""
    # Macros go through their cron meaning: systemd's "weekly" is Monday, cron's @weekly Sunday.
    minute, hour, dom, month, dow = normalize_schedule(schedule).split(" ")
    if dom != "*" and dow != "*":
        raise ScheduleError(
            "both day-of-month and day-of-week are restricted: cron runs when EITHER matches, "
            "systemd only when BOTH do; restrict one of them"
        )
    minutes = _numeric_field(minute, "minute", 0, 59)
    hours = _numeric_field(hour, "hour", 0, 23)
    days = _numeric_field(dom, "day of month", 1, 31)
    months = _numeric_field(month, "month", 1, 12, MONTHS, base=1)
    weekdays = _weekday_field(dow)
    calendar = f"*-{months}-{days} {hours}:{minutes}:00"
    return f"{weekdays} {calendar}" if weekdays else calendar


def _cron_quote(word: str) -> str:
    # In a crontab command, an unescaped % ends the command (the rest becomes stdin).
    return shlex.quote(word).replace("%", "\\%")


def _systemd_quote(word: str) -> str:
    if word and all(c.isalnum() or c in "/._-+:@=," for c in word):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def audit_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "camscan", "audit", "--config", str(config), "--quiet"]


def crontab_line(schedule: str, config: Path, log: Path) -> str:
    command = " ".join(_cron_quote(w) for w in audit_command(config))
    return f"{normalize_schedule(schedule)} cd / && {command} >> {_cron_quote(str(log))} 2>&1"


def systemd_units(schedule: str, config: Path, name: str, log: Path) -> tuple[str, str]:
    calendar = cron_to_oncalendar(schedule)
    exec_start = " ".join(_systemd_quote(w) for w in audit_command(config))
    service = f"""\
[Unit]
Description=camscan certificate audit ({config})
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
# Run as the account that owns the history database and the report directories:
# User=camscan
ExecStart={exec_start}
# The SMTP password, if the config names password_env, can come from here (mode 0600).
EnvironmentFile=-/etc/camscan/camscan.env
StandardOutput=append:{log}
StandardError=append:{log}
Nice=10
NoNewPrivileges=yes
PrivateTmp=yes
"""
    timer = f"""\
[Unit]
Description=Run the camscan certificate audit on a schedule ({config})

[Timer]
OnCalendar={calendar}
Persistent=true
Unit={name}.service

[Install]
WantedBy=timers.target
"""
    return service, timer


def _unit_name(text: str) -> str:
    if not text or not all(c.isalnum() or c in "-_." for c in text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid unit name (letters, digits, - _ .)")
    return text


def configure(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--config", "-c", metavar="FILE", help="the audit config (TOML)")
    which.add_argument("--worker", metavar="FILE",
                       help="a site worker's config (TOML): print its systemd service instead")
    parser.add_argument(
        "--schedule",
        default="0 3 * * *",
        metavar="CRON",
        help='five cron fields or @daily/@hourly/@weekly... (default: "0 3 * * *", daily at 03:00)',
    )
    parser.add_argument(
        "--log", metavar="FILE", help="where the output goes (default: camscan-audit.log beside the history)"
    )
    parser.add_argument(
        "--name", type=_unit_name, default="camscan-audit", help="systemd unit name (default: camscan-audit)"
    )


def run(args: argparse.Namespace) -> int:
    from camscan.config import load_config
    from camscan.errors import UsageError

    if args.worker:
        return _worker(args)
    cfg = load_config(args.config)  # refuse to schedule a config that would fail at 3 a.m.
    config_path = cfg.path.resolve()
    log = Path(args.log).expanduser().resolve() if args.log else cfg.history_path.parent / "camscan-audit.log"
    try:
        line = crontab_line(args.schedule, config_path, log)
        service, timer = systemd_units(args.schedule, config_path, args.name, log)
    except ScheduleError as exc:
        raise UsageError(f"--schedule {args.schedule!r}: {exc}") from None
    print("# crontab: install with `crontab -e` as the user that owns the history database.")
    print("# camscan takes its own lock: an overlapping run exits at once with code 4.")
    print(line)
    print()
    print(f"# /etc/systemd/system/{args.name}.service")
    print(service)
    print(f"# /etc/systemd/system/{args.name}.timer")
    print(timer)
    print(f"# enable with: systemctl daemon-reload && systemctl enable --now {args.name}.timer")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from camscan.sites.deploy import worker_unit
    from camscan.sites.worker_config import load_worker_config

    cfg = load_worker_config(args.worker)  # refuse to install a worker that could not start
    name = args.name if args.name != "camscan-audit" else f"camscan-worker-{cfg.site}"
    print(f"# /etc/systemd/system/{name}.service")
    print(worker_unit(cfg.path.resolve(), cfg.site))
    print(f"# enable with: systemctl daemon-reload && systemctl enable --now {name}.service")
    return 0
