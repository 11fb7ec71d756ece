"""The camera lab: simulated camera firmware on loopback, for the demo, tests and benchmarks.

    from camscan.lab import open_lab, default_fleet
    async with open_lab(default_fleet(), size=10) as lab: ...

See camscan.lab.runner for the in-process API and camscan.lab.device for device control.
"""

from camscan.lab.device import Device
from camscan.lab.fleet import (
           DEFAULT_BLOCK,
           DeviceSpec,
           Fleet,
           LabSettings,
           default_fleet,
           load_fleet,
           parse_fleet,
)
from camscan.lab.runner import Lab, open_lab
from camscan.lab.scenarios import SCENARIOS

__all__ = ["DEFAULT_BLOCK", "SCENARIOS", "Device", "DeviceSpec", "Fleet", "Lab", "LabSettings",
           "default_fleet", "load_fleet", "open_lab", "parse_fleet"]
