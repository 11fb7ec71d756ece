"""Numeric option types: the value back when valid, one clear message when not."""

from __future__ import annotations

import argparse

import pytest

from camscan.argtypes import bounded, positive


def test_bounded_accepts_the_range_inclusive() -> None:
    port = bounded(int, 0, 65535)
    assert (port("0"), port("65535")) == (0, 65535)


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (bounded(int, 0, 65535), "70000", "70000 is out of range: must be between 0 and 65535"),
        (bounded(int, 1), "0", "0 is out of range: must be at least 1"),
        (bounded(int, 0, 36500, unit="days"), "soon", "'soon' is not a whole number of days"),
        (bounded(float, 0, 600, unit="seconds"), "601",
         "601 seconds is out of range: must be between 0 and 600 seconds"),
        (positive(float), "0", "0 must be greater than zero"),
        (positive(float), "nan", "'nan' is not a finite number"),
        (positive(float), "x", "'x' is not a number"),
    ],
)
def test_bad_values_name_themselves(parse: object, text: str, message: str) -> None:
    assert callable(parse)
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        parse(text)
    assert str(raised.value) == message


def test_positive_float_keeps_fractions() -> None:
    assert positive(float)("0.25") == 0.25
