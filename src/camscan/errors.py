"""Errors a user can act on. The CLI prints them as one line and exits with their code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1  # --fail-on threshold reached
EXIT_USAGE = 2  # bad input: malformed target, unreadable file, bad config key
EXIT_RUNTIME = 3  # the run could not complete (corrupt history database, I/O failure)
EXIT_LOCKED = 4  # another audit holds the lock
EXIT_INTERRUPTED = 130
# stdout closed by its reader (`camscan ... | head`): quiet, with the code a shell reports for a
# program SIGPIPE ended (128 + 13), as `cat` or `yes` would; never 1, which means findings.
EXIT_BROKEN_PIPE = 141


class CamscanError(Exception):
    """An expected failure with a message for the user (never a traceback)."""

    exit_code = EXIT_RUNTIME


class UsageError(CamscanError):
    """Bad input on the command line or in a file the user named."""

    exit_code = EXIT_USAGE


class LockedError(CamscanError):
    exit_code = EXIT_LOCKED
