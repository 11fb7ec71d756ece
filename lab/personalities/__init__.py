"""Vendor personalities: which API a simulated device speaks besides ONVIF.

Every personality serves ONVIF at /onvif/device_service (as real Hikvision, Axis and Dahua
units do); the vendor's own API comes first. Register new ones in PERSONALITIES.
"""

from __future__ import annotations

from camscan.lab.personalities.axis import Axis
from camscan.lab.personalities.base import Personality
from camscan.lab.personalities.dahua import Dahua
from camscan.lab.personalities.hikvision import Hikvision

PERSONALITY_CLASSES: dict[str, type[Personality]] = {
    "onvif": Personality,
    "hikvision": Hikvision,
    "axis": Axis,
    "dahua": Dahua,
}


def get(name: str) -> Personality:
    return PERSONALITY_CLASSES[name]()
