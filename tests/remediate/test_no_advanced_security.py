"""A Hikvision or Dahua unit without ONVIF Advanced Security: no vendor document describes a
certificate upload body for it, so camscan sends none. The apply fails as unsupported with the
device unchanged, and the plan's manual steps say how to do it in the web page."""

from __future__ import annotations

from typing import Any

from camscan.lab import DeviceSpec
from tests.remediate.test_apply_lab import make_run as make_run


def test_no_advanced_security_means_manual_steps_and_an_unchanged_device(make_run: Any) -> None:
    run = make_run(
        DeviceSpec("hikvision", "expired", name="hik", onvif_security="none"),
        DeviceSpec("dahua", "expired", name="dahua", onvif_security="none"),
    )
    before = {name: run.fingerprint(run.lab.device(name)) for name in ("hik", "dahua")}
    assert run.fix("--apply", "--yes", "--user", "admin", "--reboot-timeout", "10") == 1
    outcomes = run.outcomes()
    for name in ("hik", "dahua"):
        device = run.lab.device(name)
        entry = outcomes[device.ip]
        assert entry["outcome"]["status"] == "failed"
        reason = entry["outcome"]["reason"]
        assert reason.startswith("unsupported") and "Advanced Security" in reason
        assert "device unchanged" in reason and "manual steps apply" in reason
        assert run.fingerprint(device) == before[name]
        by_hand = [line for step in entry["steps"] for line in step["openssl"]]
        assert any("web page" in line and "HTTPS" in line for line in by_hand), by_hand
    # Nothing went to an ISAPI certificate URL.
    assert not any("serverCertificate" in line.get("detail", "") for line in run.audit_log())
