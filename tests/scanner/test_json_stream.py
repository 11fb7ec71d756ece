"""The streamed JSON report's shortcuts write exactly what the plain encoder writes.

Failure lines are written from a template (a /16 has 65,534 of them) and a sorted scan is
merged instead of sorted again: both must give the very same text as the slow paths,
hostile device strings included.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import random

from camscan import pki
from camscan.model import (
    AuditResult,
    Endpoint,
    FailureKind,
    Observation,
    ProbeFailure,
    ProbeStage,
    ScanParameters,
    ScanResult,
)
from camscan.pipeline import sort_failures, sort_observations
from camscan.reports.json_report import _FailureLines, failure_entry, iter_json, utc_iso

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
HOSTILE = ['cam "1"\\', "line\nfeed\x1b[31m\x00", "caf\u00e9 \u2028 \U0001f4f7", "</script>"]


def encoded(failure: ProbeFailure) -> str:
    return json.dumps(failure_entry(failure), ensure_ascii=False, separators=(",", ":"))


def test_failure_lines_match_the_encoder() -> None:
    odd_zone = dt.timezone(dt.timedelta(hours=5, minutes=30, seconds=7, microseconds=500_000))
    moments = [
        NOW,
        NOW.replace(microsecond=0),  # the same second: a cached tail
        NOW + dt.timedelta(seconds=1),
        NOW.astimezone(odd_zone),
        dt.datetime(999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(1000, 1, 1, tzinfo=dt.UTC),
    ]
    failures = [
        ProbeFailure(Endpoint("127.0.0.1", 443), ProbeStage.CONNECT, FailureKind.REFUSED,
                     "Connection refused", moment)
        for moment in moments
    ]
    failures += [
        ProbeFailure(Endpoint("::1", 8443, name), ProbeStage.HANDSHAKE, FailureKind.HANDSHAKE_FAILED,
                     detail, NOW)
        for name in HOSTILE for detail in HOSTILE
    ]
    failures.append(ProbeFailure(Endpoint("0.0.0.0", 443, "gone.example.test"), ProbeStage.RESOLVE,
                                 FailureKind.NAME_RESOLUTION, "gone.example.test does not resolve", NOW))
    lines = _FailureLines()
    for failure in failures:
        assert lines.line(failure) == encoded(failure)


def test_utc_iso_is_iso_8601_with_a_four_digit_year() -> None:
    zone = dt.timezone(dt.timedelta(hours=-7))
    for moment in (NOW, NOW.astimezone(zone), dt.datetime(1, 1, 1, tzinfo=dt.UTC),
                   dt.datetime(999, 6, 1, tzinfo=dt.UTC), dt.datetime(1000, 6, 1, tzinfo=dt.UTC),
                   dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)):
        u = moment.astimezone(dt.UTC)
        text = utc_iso(moment)
        assert text == f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"
        # Read back by every ISO-8601 parser (camscan merge too): strftime's %Y wrote year 1 as
        # "1-01-01", which none accepts.
        assert dt.datetime.fromisoformat(text) == u.replace(microsecond=0)
        if u.year >= 1000:
            assert text == u.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_sorted_scan_streams_the_same_text_as_an_unsorted_one() -> None:
    leaf = pki.make_leaf(None, ips=["127.0.0.1"])
    endpoints = [Endpoint("127.0.0.0", 1)]  # observed and failed: a tie the order must keep
    endpoints += [Endpoint(f"127.0.{i // 7}.{i % 250}", 443 + i % 3) for i in range(300)]
    endpoints += [Endpoint("::1", 443), Endpoint("::1", 443, "cam.example.test")]
    observations = [Observation(e, (leaf.cert_der,), "TLSv1.3", "TLS_AES_128_GCM_SHA256", NOW)
                    for e in endpoints[::5]]
    failures = [ProbeFailure(e, ProbeStage.CONNECT, FailureKind.REFUSED, "Connection refused", NOW)
                for e in endpoints[::2]]  # some endpoints both observed and failed: ties
    random.Random(7).shuffle(observations)
    random.Random(8).shuffle(failures)
    parameters = ScanParameters(("127.0.0.0/16",), (443, 444, 445))

    def text(obs: tuple[Observation, ...], fails: tuple[ProbeFailure, ...]) -> str:
        return "".join(iter_json(AuditResult(ScanResult(parameters, NOW, NOW, obs, fails), (), NOW)))

    unsorted = text(tuple(observations), tuple(failures))
    merged = text(sort_observations(observations), sort_failures(failures))
    assert merged == unsorted
    document = json.loads(merged)
    entries = [(e["address"], e["port"], e["server_name"], e["status"]) for e in document["endpoints"]]
    assert len(entries) == len(observations) + len(failures)
    assert entries[:2] == [("127.0.0.0", 1, None, "observed"), ("127.0.0.0", 1, None, "failed")]
    assert entries[-1] == ("::1", 443, "cam.example.test", "failed")

    def order(entry: tuple[str, int, str | None, str]) -> tuple[int, int, int, str, bool]:
        address = ipaddress.ip_address(entry[0])
        return address.version, int(address), entry[1], entry[2] or "", entry[3] != "observed"

    assert entries == sorted(entries, key=order)
