"""`camscan rules` fits a 100-column terminal (issue 10): measured on the real command's output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from camscan.rules.registry import rules_for


def _rules_output(columns: int) -> str:
    env = {**os.environ, "COLUMNS": str(columns)}
    done = subprocess.run(
        [sys.executable, "-m", "camscan", "rules"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("columns", [100, 80])
def test_every_line_fits_and_nothing_is_lost(columns: int) -> None:
    out = _rules_output(columns)
    widths = [len(line) for line in out.splitlines()]
    assert max(widths) <= columns, f"widest line {max(widths)} > {columns}"
    # Each rule's block: its id line, then indented continuation lines; the title and the
    # citation read back whole once the wrapped lines are joined.
    blocks: dict[str, list[str]] = {}
    for line in out.splitlines()[1:]:
        if line[:1].strip():
            blocks[line.split()[0]] = [line[16:]]
        else:
            blocks[list(blocks)[-1]].append(line[16:])
    rules = rules_for("device")
    assert list(blocks) == [rule.id for rule in rules]
    for rule in rules:
        text = " ".join(blocks[rule.id])
        assert text == f"{rule.title} {rule.citation}", rule.id


def test_a_wide_terminal_keeps_one_line_per_rule() -> None:
    out = _rules_output(250)
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "SEVERITY", "TITLE", "CITATION"]
    assert len(lines) == 1 + len(rules_for("device"))
    assert max(len(line) for line in lines) > 100  # the reason the narrow layout exists
