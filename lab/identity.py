"""Who a simulated device says it is: vendor, model, MAC (real vendor OUIs), serial, firmware.

OUIs are from the IEEE MA-L list (device-protocols.md section 9); everything is derived from
the device's index so a fleet is the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

PERSONALITIES = ("onvif", "hikvision", "axis", "dahua")


@dataclass(frozen=True)
class Vendor:
    personality: str
    manufacturer: str
    default_model: str
    firmware: str
    ouis: tuple[str, ...]
    server_header: str
    default_ip: str  # the address the vendor ships its units with (certificate CNs use it)


VENDORS: dict[str, Vendor] = {
    "onvif": Vendor(
        "onvif", "Uniview", "IPC2122LB-SF28-A", "IPC_G6103-B0003P01D1805",
        ("48:EA:63", "6C:F1:7E", "C4:79:05"), "nginx", "192.168.1.13",  # example, never contacted
    ),
    "hikvision": Vendor(
        "hikvision", "Hikvision", "DS-2CD2143G2-I", "V5.7.3 build 220112",
        ("44:47:CC", "BC:AD:28", "C0:56:E3", "E0:BA:AD", "54:C4:15"), "App-webs/",
        "192.168.1.64",  # example, never contacted
    ),
    "axis": Vendor(
        "axis", "AXIS", "M1065-LW", "9.80.1",
        ("AC:CC:8E", "B8:A4:4F", "E8:27:25", "00:40:8C"), "Apache",
        "192.168.0.90",  # example, never contacted
    ),
    "dahua": Vendor(
        "dahua", "Dahua", "IPC-HDW1200S", "2.800.0000000.2.R,build:2021-03-05",
        ("90:02:A9", "3C:EF:8C", "E0:50:8B", "BC:32:5F"), "Webs", "192.168.1.108",  # example, never contacted
    ),
}


@dataclass(frozen=True)
class Identity:
    vendor: Vendor
    model: str
    mac: str  # lower-case, colon separated
    serial: str
    firmware: str

    @property
    def mac_bare(self) -> str:
        return self.mac.replace(":", "").upper()


def make_identity(personality: str, index: int, *, model: str | None = None,
                  firmware: str | None = None) -> Identity:
    vendor = VENDORS[personality]
    oui = vendor.ouis[index % len(vendor.ouis)]
    tail = (index * 7919 + 0x1234) & 0xFFFFFF  # spread suffixes; unique for index < 2**24 / gcd
    mac = (oui + ":" + ":".join(f"{(tail >> s) & 0xFF:02X}" for s in (16, 8, 0))).lower()
    model = model or vendor.default_model
    bare = mac.replace(":", "").upper()
    if personality == "axis":
        serial = bare  # Axis serials are the MAC without colons
    elif personality == "hikvision":
        serial = f"{model}20230101AAWRJ{index + 10000000:08d}"
    elif personality == "dahua":
        serial = f"7K0A{index:06d}PAZ{bare[-4:]}"
    else:
        serial = f"2102{index:08d}{bare[-6:]}"
    return Identity(vendor, model, mac, serial, firmware or vendor.firmware)
