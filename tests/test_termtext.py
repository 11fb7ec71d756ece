"""The one policy for device text (camscan.termtext): what it escapes, and that JSON round-trips."""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from camscan.termtext import (
    ESCAPED,
    ESCAPED_RANGES,
    decode_device_bytes,
    json_safe,
    needs_escape,
    sanitize,
    visible,
)

POLICY_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def test_the_table_covers_every_control_format_and_separator_python_knows() -> None:
    listed = {code for start, end in ESCAPED_RANGES for code in range(start, end + 1)}
    wanted = {c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in POLICY_CATEGORIES}
    assert wanted - listed == set()
    # And nothing a reader needs is escaped: letters, digits, spaces, punctuation, symbols.
    extra = {unicodedata.category(chr(c)) for c in listed - wanted}
    assert extra <= {"Cn"}, extra  # only code points unassigned in this Python's Unicode


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("cam\x1b]0;pwned\x07", "cam\\x1b]0;pwned\\x07"),
        ("a\r\nb\x00c\x7fd\x9be", "a\\x0d\\x0ab\\x00c\\x7fd\\x9be"),
        ("\u202egnp.exe", "\\u202egnp.exe"),
        ("\u2066x\u2069\u200e\u2028", "\\u2066x\\u2069\\u200e\\u2028"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("lone \udcff surrogate", "lone \\udcff surrogate"),
        ("Überwachung 監視 카메라 ✓", "Überwachung 監視 카메라 ✓"),
    ],
)
def test_visible_escapes_exactly_the_policy(raw: str, shown: str) -> None:
    assert visible(raw) == shown
    assert sanitize(raw) == shown
    assert needs_escape(raw) is (raw != shown)
    assert ESCAPED.search(visible(raw)) is None


def test_sanitize_is_bounded_and_keeps_its_signature() -> None:
    assert sanitize("x" * 600) == "x" * 511 + "…"
    assert sanitize("\x1b" * 10, max_len=8) == "\\x1b\\x1" + "…"
    assert sanitize(42) == "42"


@pytest.mark.parametrize(
    "raw",
    [
        "\x1b[31mred\u202e\u2066\x7f\x85\u2028",
        "\U000e0041\udcff",
        "plain",
        "ascii \x7f del",
        "é\\u202e literal",
    ],
)
def test_json_safe_round_trips_and_leaves_no_raw_control(raw: str) -> None:
    compact = json.dumps({"s": raw}, ensure_ascii=False)
    for encoded in (compact, json.dumps([raw], indent=2, ensure_ascii=False)):
        text = json_safe(encoded)
        assert json.loads(text) in ({"s": raw}, [raw])
        assert all(ch in "\n" or not needs_escape(ch) for ch in text)


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode_device_bytes(b"cam\xff\xfe-01") == "cam\ufffd\ufffd-01"
    assert decode_device_bytes("Überwachung".encode()) == "Überwachung"
