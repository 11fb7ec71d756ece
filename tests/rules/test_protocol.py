"""CS301 legacy TLS accepted, CS302 device clock skew."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from camscan import pki
from camscan.model import HTTPFacts, Severity
from camscan.rules import cs301_legacy_tls, cs302_clock_skew
from tests.rules.profile_support import NOW, context, findings, observation, violations


@pytest.fixture(scope="module")
def chain() -> list[x509.Certificate]:
    return [pki.make_leaf(None, ips=["127.0.0.1"], not_before=NOW - dt.timedelta(days=5)).cert]


# --- CS301 ---------------------------------------------------------------------------------------


def test_cs301_not_probed_means_no_verdict(chain: list[x509.Certificate]) -> None:
    assert violations(cs301_legacy_tls, observation(chain, tls_version="TLSv1.3")) == []
    assert violations(cs301_legacy_tls, observation(chain, tls_version="TLSv1.2", legacy_versions=())) == []


def test_cs301_legacy_accepted_besides_modern_is_a_warning(chain: list[x509.Certificate]) -> None:
    obs = observation(chain, tls_version="TLSv1.3", legacy_versions=("TLSv1.0", "TLSv1.1"))
    [v] = violations(cs301_legacy_tls, obs)
    assert v.evidence["legacy_accepted"] == ["TLSv1.0", "TLSv1.1"] and v.severity is None
    [f] = findings("CS301", [obs])
    assert f.severity is Severity.WARNING and "TLSv1.0, TLSv1.1" in f.message


def test_cs301_negotiated_legacy_is_an_error(chain: list[x509.Certificate]) -> None:
    # Python's ssl names TLS 1.0 "TLSv1"; the legacy probe did not run.
    [v] = violations(cs301_legacy_tls, observation(chain, tls_version="TLSv1"))
    assert v.severity is Severity.ERROR and "TLSv1.0" in v.message
    assert v.evidence["legacy_probed"] is False and v.evidence["legacy_accepted"] is None
    [f] = findings("CS301", [observation(chain, tls_version="TLSv1.1", legacy_versions=("TLSv1.1",))])
    assert f.severity is Severity.ERROR


# --- CS302 ---------------------------------------------------------------------------------------


def facts(device_time: dt.datetime | None, date: str = "raw") -> HTTPFacts:
    return HTTPFacts(status=200, server="cam", date=date, device_time=device_time)


def test_cs302_no_date_or_close_clock_passes(chain: list[x509.Certificate]) -> None:
    assert violations(cs302_clock_skew, observation(chain)) == []
    assert violations(cs302_clock_skew, observation(chain, http=facts(None, "yesterday-ish"))) == []
    close = NOW + dt.timedelta(seconds=299)
    assert violations(cs302_clock_skew, observation(chain, http=facts(close))) == []


def test_cs302_1970_clock(chain: list[x509.Certificate]) -> None:
    epoch = dt.datetime(1970, 1, 1, 0, 3, tzinfo=dt.UTC)
    obs = observation(chain, http=facts(epoch, "Thu, 01 Jan 1970 00:03:00 GMT"))
    [v] = violations(cs302_clock_skew, obs)
    assert v.evidence["skew_seconds"] < -56 * 365 * 86400
    assert v.evidence["device_date_header"] == "Thu, 01 Jan 1970 00:03:00 GMT"
    assert "years behind" in v.message
    [f] = findings("CS302", [obs])
    assert f.severity is Severity.WARNING


def test_cs302_uses_observation_time_not_audit_clock(chain: list[x509.Certificate]) -> None:
    ahead = NOW + dt.timedelta(minutes=10)
    obs = observation(chain, http=facts(ahead))
    [v] = violations(cs302_clock_skew, obs)
    assert v.evidence["skew_seconds"] == 600 and "minutes ahead" in v.message
    # --as-of a month later must not turn a correct device clock into a skewed one.
    correct = observation(chain, http=facts(NOW))
    assert violations(cs302_clock_skew, correct, context(now=NOW + dt.timedelta(days=30))) == []
    # The threshold is configurable.
    assert violations(cs302_clock_skew, obs, context(clock_skew_warn_seconds=900)) == []
