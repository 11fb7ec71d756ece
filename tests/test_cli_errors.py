"""How the CLI turns what a run raises into one line and an exit code."""

from __future__ import annotations

import pytest

from camscan.cli import _report
from camscan.errors import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, CamscanError, LockedError, UsageError


def test_an_error_raised_inside_a_nursery_is_still_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    group = BaseExceptionGroup("nursery", [ExceptionGroup("inner", [UsageError("bad target 'x\x1b[2J'")])])
    assert _report(group) == UsageError.exit_code
    assert capsys.readouterr().err == "camscan: error: bad target 'x\\x1b[2J'\n"


def test_the_first_of_several_user_errors_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert _report(ExceptionGroup("g", [LockedError("locked by pid 7"), CamscanError("io")])) == 4
    assert capsys.readouterr().err == "camscan: error: locked by pid 7\n"


def test_an_interrupt_anywhere_in_a_group_wins(capsys: pytest.CaptureFixture[str]) -> None:
    group = BaseExceptionGroup("g", [UsageError("late"), KeyboardInterrupt()])
    assert _report(group) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "camscan: interrupted\n"


def test_a_bug_next_to_a_user_error_is_not_hidden() -> None:
    group = ExceptionGroup("g", [UsageError("bad"), ZeroDivisionError("bug")])
    with pytest.raises(ExceptionGroup) as raised:
        _report(group)
    assert raised.value is group


def test_a_closed_stdout_inside_a_nursery_is_a_quiet_141(capsys: pytest.CaptureFixture[str]) -> None:
    # What a worker streaming --jsonl - raises when `head` has gone: quiet, never 1 (findings).
    group = BaseExceptionGroup("nursery", [BrokenPipeError(32, "Broken pipe")])
    assert _report(group) == EXIT_BROKEN_PIPE == 141
    assert capsys.readouterr().err == ""


def test_a_closed_stdout_beside_a_bug_is_not_hidden() -> None:
    group = ExceptionGroup("g", [BrokenPipeError(32, "Broken pipe"), ZeroDivisionError("bug")])
    with pytest.raises(ExceptionGroup):
        _report(group)
