"""Small pure helpers of the data model."""

from __future__ import annotations

from camscan.model import canonical_mac


def test_every_spelling_of_a_mac_compares_equal() -> None:
    spellings = ["AC-CC-8E-01-02-03", "accc8e010203", "ac:cc:8e:01:02:03", " ACCC.8E01.0203 "]
    assert {canonical_mac(s) for s in spellings} == {"ac:cc:8e:01:02:03"}


def test_text_that_is_not_a_mac_is_kept_but_never_equals_a_real_one() -> None:
    assert canonical_mac("  Unknown ") == "unknown"
    assert canonical_mac("ac:cc:8e:01:02") == "ac:cc:8e:01:02"
    assert canonical_mac("") is None
    assert canonical_mac(None) is None
