"""`camscan fix --apply` corrects a wrong device clock through each API without changing the
device's configuration: its NTP mode and time zone stay as they were (the lab's devices run in
UTC+1 and UTC+8, on NTP with an unreachable server, or on manual time after losing their RTC)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from camscan.lab import DeviceSpec
from camscan.lab.device import Device
from tests.remediate.test_apply_lab import PERSONALITIES, Run
from tests.remediate.test_apply_lab import make_run as make_run

TOLERANCE = 120.0  # seconds: the run itself takes a while


def _settings(device: Device) -> tuple[str, str, bool, tuple[str, ...]]:
    return device.time.mode, device.time.tz, device.time.dst, device.time.ntp_servers


def _clock_error(device: Device) -> float:
    return abs((device.clock.now() - dt.datetime.now(dt.UTC)).total_seconds())


def _apply(run: Run, *extra: str) -> int:
    return run.fix("--apply", "--yes", "--user", "admin", "--reboot-timeout", "10", *extra)


def test_a_slow_clock_on_ntp_is_set_once_and_stays_on_ntp_in_its_zone(make_run: Any) -> None:
    run = make_run(*(DeviceSpec(p, "clock-skew", name=p) for p in PERSONALITIES))
    before = {p: _settings(run.lab.device(p)) for p in PERSONALITIES}
    assert all(_clock_error(run.lab.device(p)) > 3000 for p in PERSONALITIES)
    assert _apply(run) == 0
    outcomes = run.outcomes()
    for personality in PERSONALITIES:
        device = run.lab.device(personality)
        assert outcomes[device.ip]["outcome"]["status"] == "fixed", outcomes[device.ip]["outcome"]
        assert _settings(device) == before[personality], personality  # NTP on, same zone and server
        assert device.time.mode == "NTP" and device.time.tz != "UTC0"
        # Dahua: the CGI takes local time; sent in UTC the clock would be 8 hours off.
        assert _clock_error(device) < TOLERANCE, (personality, _clock_error(device))
    details = [line["detail"] for line in run.audit_log() if line["action"] == "set-clock"]
    assert len(details) == len(PERSONALITIES)
    assert all("NTP mode and zone kept" in d for d in details), details


def test_ntp_server_named_by_the_user_fixes_ntp_instead(make_run: Any) -> None:
    run = make_run(DeviceSpec("onvif", "clock-skew", name="o"), DeviceSpec("dahua", "clock-skew", name="d"))
    zones = {n: run.lab.device(n).time.tz for n in ("o", "d")}
    assert _apply(run, "--ntp-server", "192.0.2.123") == 0
    for name in ("o", "d"):
        device = run.lab.device(name)
        assert device.time.ntp_servers == ("192.0.2.123",)
        assert device.time.mode == "NTP" and device.time.tz == zones[name]
        assert _clock_error(device) < TOLERANCE
    details = [line["detail"] for line in run.audit_log() if line["action"] == "set-clock"]
    assert all("NTP now uses 192.0.2.123" in d for d in details), details


def test_a_device_on_manual_time_stays_on_manual_time(make_run: Any) -> None:
    run = make_run(DeviceSpec("onvif", "clock-1970", name="cam"))
    device = run.lab.device("cam")
    assert device.time.mode == "Manual"
    zone = device.time.tz
    assert _apply(run, "--ntp-server", "192.0.2.123") in (0, 1)
    assert device.time.mode == "Manual" and device.time.tz == zone
    assert device.time.ntp_servers == ()  # --ntp-server is for devices on NTP only
    assert _clock_error(device) < TOLERANCE


@pytest.mark.parametrize("bad", ["not a host!", "a" * 300])
def test_a_bad_ntp_server_is_refused_before_anything_is_sent(
    make_run: Any, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(DeviceSpec("onvif", "clock-skew", name="cam"))
    with pytest.raises(SystemExit) as exit_info:
        _apply(run, "--ntp-server", bad)
    assert exit_info.value.code == 2
    assert "is not an IP address or host name" in capsys.readouterr().err
    assert _clock_error(run.lab.device("cam")) > 3000
