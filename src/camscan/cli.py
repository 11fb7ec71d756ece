"""Command-line entry point: `camscan TARGET...` scans; `camscan COMMAND ...` runs a subcommand.

Each command lives in its own module exposing `configure(parser)` and `run(args) -> int`, and is
imported only when chosen, so `camscan --help` stays fast (no scapy, no cryptography).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import NoReturn

from camscan import __version__
from camscan.errors import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_USAGE, CamscanError

# name -> (module, one-line summary). "scan" is also the default when no command is named.
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("camscan.commands.scan", "sweep targets, pull every HTTPS chain, judge it (default)"),
    "discover": ("camscan.commands.discover", "who is on this segment: WS-Discovery, SSDP, mDNS, ARP"),
    "check": ("camscan.commands.check", "judge certificate files offline, before uploading them"),
    "rules": ("camscan.commands.rules", "list every rule with its id, severity and title"),
    "explain": ("camscan.commands.explain", "print one rule's documentation: camscan explain CS105"),
    "lab": ("camscan.commands.lab", "run simulated cameras on loopback until interrupted"),
    "demo": ("camscan.commands.demo", "start the built-in lab, scan it, report the findings"),
    "audit": ("camscan.commands.audit", "scheduled audit from a TOML config, with history and diff"),
    "history": ("camscan.commands.history", "list past audit runs from the history database"),
    "diff": ("camscan.commands.diff", "what changed between two audit runs"),
    "merge": ("camscan.commands.merge", "combine the JSON reports of --shard runs into one report"),
    "cron": ("camscan.commands.cron", "print a crontab line and systemd units for an audit config"),
    "fix": ("camscan.commands.fix", "plan a fix per device; with --apply install it and rescan"),
    "issuer": ("camscan.commands.issuer", "the issuers of `fix --issuer`: list them, test one end to end"),
    "ca": ("camscan.commands.ca", "the site CA: init, issue, sign, csr, list, revoke, crl"),
    "worker": ("camscan.commands.worker", "serve one site's queue (Celery) for the central audit"),
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
    "  130 interrupted\n"
    "  141 stdout closed by its reader (`camscan ... | head`): a quiet exit"
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line on stderr (exit 2), like every other bad input:
    the usage block would bury the one line that says what was wrong."""

    def error(self, message: str) -> NoReturn:
        from camscan.termtext import sanitize

        self.exit(EXIT_USAGE, f"{self.prog}: error: {sanitize(message, max_len=600)} "
                  f"(`{self.prog} --help` lists the options)\n")


def build_parser(command: str, prog: str) -> argparse.ArgumentParser:
    module_name, summary = COMMANDS[command]
    module = importlib.import_module(module_name)
    parser = _Parser(
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
    # cryptography warns when it parses a zero or negative serial; rule CS112 reports that as a
    # finding on the device, so the warning would only repeat it as noise on stderr.
    warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")
    with _sigterm_as_interrupt():
        try:
            code = int(args._run(args))
            # A reader that stopped early (`| head`) may only show at this last flush.
            sys.stdout.flush()
            return code
        except (CamscanError, KeyboardInterrupt, BrokenPipeError, BaseExceptionGroup) as exc:
            return _report(exc)
        except UnicodeEncodeError as exc:
            # Bytes on the command line that are not UTF-8 reach Python as lone surrogates;
            # text that must be encoded (a certificate name, a header) cannot carry them.
            if exc.reason != "surrogates not allowed":
                raise
            print("camscan: error: an argument is not valid UTF-8 text (a name or an address must be)",
                  file=sys.stderr)
            return EXIT_USAGE


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _report(exc: BaseException) -> int:
    """One line and an exit code for what the user can act on; anything else is a bug and raises.

    trio's nurseries wrap what their tasks raise, so Ctrl-C during a sweep, or a UsageError
    raised inside a task, arrives here as an exception group.
    """
    leaves = _leaves(exc)
    if any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
        print("camscan: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if all(isinstance(leaf, BrokenPipeError) for leaf in leaves):
        _drop_stdout()
        return EXIT_BROKEN_PIPE
    if all(isinstance(leaf, CamscanError) for leaf in leaves):
        from camscan.termtext import sanitize

        first = leaves[0]
        assert isinstance(first, CamscanError)
        print(f"camscan: error: {sanitize(first)}", file=sys.stderr)
        return first.exit_code
    raise exc


def _drop_stdout() -> None:
    """The reader of stdout is gone: send what is still buffered nowhere, so the interpreter's
    own flush at exit does not print a second BrokenPipeError."""
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (systemd stop, `timeout`, kill) like Ctrl-C, so cleanups run and no
    temporary report file is left behind. Re-raising it as SIGINT lets trio deliver the
    interrupt at a safe point instead of in the middle of its own bookkeeping."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: signal.raise_signal(signal.SIGINT))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

if __name__ == "__main__":
    raise SystemExit(main())
