"""Renewal planning, pure parts: whose certificate it is (by signature, not by name), and the
renewal window (days, or a share of the lifetime)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from camscan import pki
from camscan.config import parse_config
from camscan.errors import UsageError
from camscan.remediate.renew import issued_through, window_days


def test_a_certificate_is_the_issuers_only_when_its_signature_says_so() -> None:
    root = pki.make_ca("Corp Root")
    intermediate = pki.make_ca("Corp Issuing", issuer=root, path_length=0)
    direct = pki.make_leaf(root, common_name="cam", ips=["192.0.2.10"])
    via = pki.make_leaf(intermediate, common_name="cam", ips=["192.0.2.10"])
    impostor_ca = pki.make_ca("Corp Root")  # the same name, another key
    forged = pki.make_leaf(impostor_ca, common_name="cam", ips=["192.0.2.10"])
    assert issued_through([direct.cert], [root.cert])
    assert issued_through([via.cert, intermediate.cert], [root.cert])  # the device sends the chain
    assert not issued_through([via.cert], [root.cert])  # leaf alone: the root did not sign it
    assert issued_through([via.cert], [root.cert, intermediate.cert])  # clients hold the intermediate
    assert not issued_through([forged.cert], [root.cert])
    assert not issued_through([forged.cert, impostor_ca.cert], [root.cert])


def test_the_window_is_days_or_a_share_of_the_lifetime_whichever_is_wider() -> None:
    root = pki.make_ca("Corp Root")
    now = pki.utcnow()
    short = pki.make_leaf(
        root, common_name="a", ips=["192.0.2.1"], not_before=now, not_after=now + dt.timedelta(days=90)
    ).cert
    long = pki.make_leaf(
        root, common_name="b", ips=["192.0.2.2"], not_before=now, not_after=now + dt.timedelta(days=398)
    ).cert
    assert window_days(short, 30, None) == 30
    assert window_days(short, 30, 0.2) == 30  # 18 days is narrower than 30
    assert window_days(long, 30, 0.33) == pytest.approx(131.34)


def test_issuer_and_fix_sections_are_validated(tmp_path: Path) -> None:
    (tmp_path / "issuers.toml").write_text('[issuer.corp]\nkind = "est"\n')
    base = {"scan": {"targets": ["127.0.0.1"]}}
    cfg = parse_config(
        {**base, "issuer": {"name": "corp", "file": "issuers.toml", "renew_before_fraction": 0.33}},
        tmp_path / "c.toml",
    )
    assert cfg.issuer is not None and cfg.issuer.renew_before_fraction == 0.33
    assert not cfg.fix.renew  # off unless asked
    with pytest.raises(UsageError, match=r"renew_before_fraction: a share of the lifetime"):
        parse_config(
            {**base, "issuer": {"name": "corp", "file": "issuers.toml", "renew_before_fraction": 1.5}},
            tmp_path / "c.toml",
        )
    with pytest.raises(UsageError, match=r"\[issuer\] file: issuer 'corp' needs the issuer file"):
        parse_config({**base, "issuer": {"name": "corp"}}, tmp_path / "c.toml")
    with pytest.raises(UsageError, match=r"\[fix\] user: renewals need user"):
        parse_config(
            {**base, "issuer": {"name": "corp", "file": "issuers.toml"}, "fix": {"renew": True}},
            tmp_path / "c.toml",
        )
    with pytest.raises(UsageError, match=r"\[fix\] rnew: unknown key"):
        parse_config({**base, "fix": {"rnew": True}}, tmp_path / "c.toml")
