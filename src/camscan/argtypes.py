"""argparse types for numeric options: one place that says how a bad number is reported.

Kept free of heavy imports: `camscan --help` builds every parser.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)


def _number(kind: type[N], text: str, unit: str) -> N:
    noun = ("a whole number" if kind is int else "a number") + (f" of {unit}" if unit else "")
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def bounded(kind: type[N], low: N, high: N | None = None, *, unit: str = "") -> Callable[[str], N]:
    """An argparse type accepting `kind` values in [low, high] (no upper bound when None)."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> N:
        value = _number(kind, text, unit)
        if value < low or (high is not None and value > high):
            span = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"{text}{suffix} is out of range: must be {span}{suffix}")
        return value

    return parse


def positive(kind: type[N], *, unit: str = "") -> Callable[[str], N]:
    """Strictly greater than zero (a timeout, a rate)."""

    def parse(text: str) -> N:
        value = _number(kind, text, unit)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} must be greater than zero")
        return value

    return parse
