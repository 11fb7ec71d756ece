"""Command-line entry point: `camscan TARGET...` scans; `camscan COMMAND ...` runs a subcommand.

Each command lives in its own module exposing `configure(parser)` and `run(args) -> int`, and is
imported only when chosen, so `camscan --help` stays fast (no scapy, no cryptography).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from camscan import __version__
from camscan.errors import EXIT_INTERRUPTED, CamscanError

# name -> (module, one-line summary). "scan" is also the default when no command is named.
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("camscan.commands.scan", "sweep targets, pull every HTTPS chain, judge it (default)"),
    "check": ("camscan.commands.check", "judge certificate files offline, before uploading them"),
    "rules": ("camscan.commands.rules", "list every rule with its id, severity and title"),
    "explain": ("camscan.commands.explain", "print one rule's documentation: camscan explain CS105"),
    "lab": ("camscan.commands.lab", "run simulated cameras on loopback until interrupted"),
    "demo": ("camscan.commands.demo", "start the built-in lab, scan it, report the findings"),
    "audit": ("camscan.commands.audit", "scheduled audit from a TOML config, with history and diff"),
    "history": ("camscan.commands.history", "list past audit runs from the history database"),
    "diff": ("camscan.commands.diff", "what changed between two audit runs"),
    "cron": ("camscan.commands.cron", "print a crontab line and systemd units for an audit config"),
}

EPILOG = "commands:\n" + "\n".join(
    f"  {name:<9} {summary}" for name, (_, summary) in COMMANDS.items()
) + (
    "\n\nRun `camscan COMMAND --help` for a command's options."
    "\n\nexit codes:\n"
    "  0  success (no finding at or above --fail-on)\n"
    "  1  findings at or above --fail-on\n"
    "  2  bad input (malformed target, port or file; bad config)\n"
    "  3  the run could not complete (I/O error, corrupt history database)\n"
    "  4  another audit holds the lock\n"
    "  130 interrupted"
)


def build_parser(command: str, prog: str) -> argparse.ArgumentParser:
    module_name, summary = COMMANDS[command]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(
        prog=prog,
        description=getattr(module, "DESCRIPTION", summary),
        epilog=EPILOG if command == "scan" else getattr(module, "EPILOG", None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # No prefix matching: `camscan demo --json x` must not silently mean --jsonl.
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"camscan {__version__}")
    module.configure(parser)
    parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in COMMANDS:
        command, prog, rest = args_list[0], f"camscan {args_list[0]}", args_list[1:]
    else:
        command, prog, rest = "scan", "camscan", args_list
    parser = build_parser(command, prog)
    args = parser.parse_args(rest)
    try:
        return int(args._run(args))
    except CamscanError as exc:
        from camscan.termtext import sanitize

        print(f"camscan: error: {sanitize(exc)}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, BaseExceptionGroup) as exc:
        # trio's nurseries wrap what their tasks raise: Ctrl-C during a sweep, a demo or an audit
        # usually lands in a probe task and arrives here as a group holding KeyboardInterrupt.
        if isinstance(exc, BaseExceptionGroup) and exc.subgroup(KeyboardInterrupt) is None:
            raise
        print("camscan: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
