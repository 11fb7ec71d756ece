"""CS120 expired, CS121 expiring soon, CS122 not yet valid: leaf and every presented intermediate."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from camscan import pki
from camscan.model import HTTPFacts, Severity
from camscan.rules import cs120_expired, cs121_expiring_soon, cs122_not_yet_valid
from tests.rules.profile_support import NOW, context, findings, observation, violations

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return pki.make_ca("expiry root", not_before=NOW - 1000 * DAY, not_after=NOW + 3000 * DAY)


def chain_with(
    root: pki.Issued, *, leaf_na: dt.datetime, inter_na: dt.datetime, leaf_nb: dt.datetime | None = None
) -> list[x509.Certificate]:
    inter = pki.make_ca("expiry intermediate", issuer=root, not_before=NOW - 500 * DAY, not_after=inter_na)
    leaf = pki.make_leaf(inter, ips=["127.0.0.1"], not_before=leaf_nb or NOW - 100 * DAY, not_after=leaf_na)
    return [leaf.cert, inter.cert, root.cert]


# --- CS120 ---------------------------------------------------------------------------------------


def test_cs120_valid_chain_passes_and_boundary_second_is_valid(root: pki.Issued) -> None:
    chain = chain_with(root, leaf_na=NOW + 200 * DAY, inter_na=NOW + 900 * DAY)
    assert violations(cs120_expired, observation(chain)) == []
    # RFC 5280: valid up to and including notAfter.
    exact = chain_with(root, leaf_na=NOW, inter_na=NOW + 900 * DAY)
    assert violations(cs120_expired, observation(exact)) == []


def test_cs120_expired_leaf(root: pki.Issued) -> None:
    obs = observation(chain_with(root, leaf_na=NOW - 3 * DAY, inter_na=NOW + 900 * DAY))
    [v] = violations(cs120_expired, obs)
    assert v.evidence["role"] == "leaf" and v.evidence["days_expired"] == 3
    assert v.evidence["not_after"] == "2026-05-29T12:00:00Z"
    [f] = findings("CS120", [obs])
    assert f.severity is Severity.ERROR


def test_cs120_expired_intermediate_with_valid_leaf(root: pki.Issued) -> None:
    obs = observation(chain_with(root, leaf_na=NOW + 30 * DAY, inter_na=NOW - DAY))
    [v] = violations(cs120_expired, obs)
    assert v.evidence["position"] == 1 and v.evidence["role"] == "intermediate"
    assert "intermediate" in v.message


def test_cs120_presented_expired_root_is_a_warning() -> None:
    old_root = pki.make_ca("old root", not_before=NOW - 4000 * DAY, not_after=NOW - 10 * DAY)
    leaf = pki.make_leaf(old_root, ips=["127.0.0.1"], not_before=NOW - 20 * DAY, not_after=NOW + 20 * DAY)
    [v] = violations(cs120_expired, observation([leaf.cert, old_root.cert]))
    assert v.evidence["role"] == "root" and v.severity is Severity.WARNING


def test_cs120_as_of_forecast(root: pki.Issued) -> None:
    obs = observation(chain_with(root, leaf_na=NOW + 40 * DAY, inter_na=NOW + 900 * DAY))
    assert violations(cs120_expired, obs) == []
    assert len(violations(cs120_expired, obs, context(now=NOW + 41 * DAY))) == 1


# --- CS121 ---------------------------------------------------------------------------------------


def test_cs121_expiring_within_window(root: pki.Issued) -> None:
    obs = observation(chain_with(root, leaf_na=NOW + 10 * DAY, inter_na=NOW + 900 * DAY))
    [v] = violations(cs121_expiring_soon, obs)
    assert v.evidence["days_left"] == 10.0 and v.evidence["warn_days"] == 30
    [f] = findings("CS121", [obs])
    assert f.severity is Severity.WARNING


def test_cs121_outside_window_passes_and_window_is_configurable(root: pki.Issued) -> None:
    obs = observation(chain_with(root, leaf_na=NOW + 40 * DAY, inter_na=NOW + 900 * DAY))
    assert violations(cs121_expiring_soon, obs) == []
    [v] = violations(cs121_expiring_soon, obs, context(expiry_warn_days=60))
    assert v.evidence["days_left"] == 40.0
    assert violations(cs121_expiring_soon, obs, context(expiry_warn_days=0)) == []


def test_cs121_intermediate_expiring_and_expired_is_not_expiring(root: pki.Issued) -> None:
    obs = observation(chain_with(root, leaf_na=NOW + 200 * DAY, inter_na=NOW + 5 * DAY))
    [v] = violations(cs121_expiring_soon, obs)
    assert v.evidence["role"] == "intermediate"
    expired = observation(chain_with(root, leaf_na=NOW - DAY, inter_na=NOW + 900 * DAY))
    assert violations(cs121_expiring_soon, expired) == []  # CS120's finding, not this one


# --- CS122 ---------------------------------------------------------------------------------------


def test_cs122_future_not_before(root: pki.Issued) -> None:
    chain = chain_with(root, leaf_na=NOW + 400 * DAY, inter_na=NOW + 900 * DAY, leaf_nb=NOW + 2 * DAY)
    obs = observation(chain)
    [v] = violations(cs122_not_yet_valid, obs)
    assert v.evidence["seconds_early"] == 2 * 86400 and v.evidence["device_time"] is None
    [f] = findings("CS122", [obs])
    assert f.severity is Severity.ERROR
    # The other expiry rules stay quiet about a certificate that is not valid yet.
    assert violations(cs121_expiring_soon, obs) == violations(cs120_expired, obs) == []


def test_cs122_device_clock_ahead_is_named(root: pki.Issued) -> None:
    chain = chain_with(root, leaf_na=NOW + 400 * DAY, inter_na=NOW + 900 * DAY, leaf_nb=NOW + 2 * DAY)
    ahead = NOW + 3 * DAY
    http = HTTPFacts(200, "cam", "Thu, 04 Jun 2026 12:00:00 GMT", ahead)
    [v] = violations(cs122_not_yet_valid, observation(chain, http=http))
    assert "runs ahead" in v.message and v.evidence["device_time"] == "2026-06-04T12:00:00Z"


def test_cs122_valid_now_passes(root: pki.Issued) -> None:
    chain = chain_with(root, leaf_na=NOW + 400 * DAY, inter_na=NOW + 900 * DAY)
    assert violations(cs122_not_yet_valid, observation(chain)) == []
