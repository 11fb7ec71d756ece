"""One driver per device API. `open_driver` picks it by name."""

from __future__ import annotations

from camscan.remediate.drivers.base import Credentials, Driver, Session

NAMES = ("onvif", "hikvision", "axis", "dahua")


def make_driver(name: str, session: Session, credentials: Credentials) -> Driver:
    if name == "hikvision":
        from camscan.remediate.drivers.hikvision import HikvisionDriver

        return HikvisionDriver(session, credentials)
    if name == "axis":
        from camscan.remediate.drivers.axis import AxisDriver

        return AxisDriver(session, credentials)
    if name == "dahua":
        from camscan.remediate.drivers.dahua import DahuaDriver

        return DahuaDriver(session, credentials)
    if name == "onvif":
        from camscan.remediate.drivers.onvif import OnvifDriver

        return OnvifDriver(session, credentials)
    raise ValueError(f"unknown driver {name!r} (choose from {', '.join(NAMES)})")
