"""Fleet files (TOML): which simulated devices to run, with which personality and scenario.

    [lab]                          # all optional
    block = "127.77.0.0/16"        # where device addresses come from
    https_port = 8443
    http_port = 8080               # false: no plain-HTTP listener
    username = "admin"
    password = "camscan-lab"       # a lab password, printed on purpose
    reboot_downtime = 2.0          # seconds a rebooting device stays off the network
    ws_discovery = true            # answer unicast WS-Discovery probes on <ip>:3702/udp

    [[devices]]
    personality = "hikvision"      # onvif | hikvision | axis | dahua
    scenario = "healthy"           # see `camscan lab --list-scenarios`
    count = 6
    model = "DS-2CD2143G2-I"       # optional; also firmware, key, name (count = 1),
                                   # isapi_namespace (hikvision.com | isapi.org), axis_cert_api (v1 | v1beta),
                                   # clock_offset (seconds the device clock is off),
                                   # onvif_security (current | 1.0.2 | none: its ONVIF Advanced Security)
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from camscan.errors import UsageError
from camscan.lab.identity import PERSONALITIES
from camscan.lab.scenarios import SCENARIOS

DEFAULT_BLOCK = "127.77.0.0/16"  # the one place the lab's address block is chosen
ISAPI_NAMESPACES = {"hikvision.com": "http://www.hikvision.com/ver20/XMLSchema",
                    "isapi.org": "http://www.isapi.org/ver20/XMLSchema"}
KEY_KINDS = ("ec-p256", "ec-p384", "rsa-2048")
MAX_DEVICES = 65000

_LAB_KEYS = {"block", "https_port", "http_port", "username", "password", "reboot_downtime", "ws_discovery"}
_DEVICE_KEYS = {"personality", "scenario", "count", "model", "firmware", "key", "name",
                "isapi_namespace", "axis_cert_api", "clock_offset", "onvif_security"}


@dataclass(frozen=True)
class LabSettings:
    block: str = DEFAULT_BLOCK
    https_port: int = 8443
    http_port: int | None = 8080
    username: str = "admin"
    password: str = "camscan-lab"  # noqa: S105 - a simulated device's documented password
    reboot_downtime: float = 2.0
    ws_discovery: bool = True  # answer unicast WS-Discovery probes on <ip>:3702/udp


@dataclass(frozen=True)
class DeviceSpec:
    personality: str
    scenario: str
    name: str | None = None
    model: str | None = None
    firmware: str | None = None
    key: str = "ec-p256"
    isapi_namespace: str = "isapi.org"
    axis_cert_api: str = "v1"
    onvif_security: str = "current"  # ONVIF Advanced Security: "current", "1.0.2" or "none"
    clock_offset: float | None = None  # seconds the device clock is off (default: the scenario's)
    group: str = ""  # fleet entry it came from (devices of one entry share uploads)


@dataclass(frozen=True)
class Fleet:
    settings: LabSettings
    devices: tuple[DeviceSpec, ...]
    source: str = "<built-in>"

    def resized(self, size: int) -> Fleet:
        """`size` devices with the same mix: entry i of the result is template (i * L) // size."""
        if size < 1 or size > MAX_DEVICES:
            raise UsageError(f"--size {size}: must be between 1 and {MAX_DEVICES}")
        templates = self.devices
        if not templates:
            raise UsageError(f"{self.source}: the fleet has no devices")
        picked = [templates[(i * len(templates)) // size] for i in range(size)]
        return replace(self, devices=tuple(replace(t, name=None) if size != len(templates) else t
                                           for t in picked))


def _port(where: str, value: Any, *, allow_false: bool = False) -> int | None:
    if allow_false and value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise UsageError(f"{where}: {value!r} is not a port (0-65535)")
    return value


def _settings(raw: Any, source: str) -> LabSettings:
    if not isinstance(raw, dict):
        raise UsageError(f"{source}: [lab] must be a table")
    unknown = set(raw) - _LAB_KEYS
    if unknown:
        raise UsageError(f"{source}: unknown key {sorted(unknown)[0]!r} in [lab] "
                         f"(known: {', '.join(sorted(_LAB_KEYS))})")
    s = LabSettings()
    downtime = raw.get("reboot_downtime", s.reboot_downtime)
    if isinstance(downtime, bool) or not isinstance(downtime, int | float) or not 0 <= downtime <= 600:
        raise UsageError(f"{source}: reboot_downtime {downtime!r} must be 0-600 seconds")
    return LabSettings(
        block=validate_block(str(raw.get("block", s.block)), f"{source}: block"),
        https_port=_port(f"{source}: https_port", raw.get("https_port", s.https_port)) or 0,
        http_port=_port(f"{source}: http_port", raw.get("http_port", s.http_port), allow_false=True),
        username=str(raw.get("username", s.username)),
        password=str(raw.get("password", s.password)),
        reboot_downtime=float(downtime),
        ws_discovery=_flag(f"{source}: ws_discovery", raw.get("ws_discovery", s.ws_discovery)),
    )


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{where} {value!r} must be true or false")
    return value


def validate_block(block: str, where: str) -> str:
    """The normalised block, which must be IPv4 inside 127.0.0.0/8: the lab stays on loopback."""
    try:
        net = ipaddress.ip_network(block, strict=False)
    except ValueError:
        raise UsageError(f"{where} {block!r} is not a network (e.g. 127.77.0.0/16)") from None
    if not (net.version == 4 and net.subnet_of(ipaddress.IPv4Network("127.0.0.0/8"))):
        raise UsageError(f"{where} {block!r} must be inside 127.0.0.0/8 (the lab stays on loopback)")
    return str(net)


def _offset(where: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > 100 * 365 * 86400:
        raise UsageError(f"{where}: clock_offset {value!r} must be a number of seconds (within 100 years)")
    return float(value)


def _choice(source: str, key: str, value: Any, allowed: Any) -> str:
    if value not in allowed:
        raise UsageError(f"{source}: {key} {value!r} is unknown (choose from: {', '.join(sorted(allowed))})")
    return str(value)


def parse_fleet(text: str, source: str = "<fleet>") -> Fleet:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(data) - {"lab", "devices"}
    if unknown:
        raise UsageError(f"{source}: unknown table {sorted(unknown)[0]!r} (expected [lab] and [[devices]])")
    settings = _settings(data.get("lab", {}), source)
    entries = data.get("devices", [])
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{source}: no [[devices]] entries")
    specs: list[DeviceSpec] = []
    for n, entry in enumerate(entries, 1):
        where = f"{source}: devices #{n}"
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: must be a table")
        bad = set(entry) - _DEVICE_KEYS
        if bad:
            raise UsageError(f"{where}: unknown key {sorted(bad)[0]!r} "
                             f"(known: {', '.join(sorted(_DEVICE_KEYS))})")
        count = entry.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_DEVICES:
            raise UsageError(f"{where}: count {count!r} must be 1-{MAX_DEVICES}")
        if "name" in entry and count != 1:
            raise UsageError(f"{where}: name needs count = 1")
        spec = DeviceSpec(
            personality=_choice(where, "personality", entry.get("personality", "onvif"), PERSONALITIES),
            scenario=_choice(where, "scenario", entry.get("scenario", "healthy"), SCENARIOS),
            name=str(entry["name"]) if "name" in entry else None,
            model=str(entry["model"]) if "model" in entry else None,
            firmware=str(entry["firmware"]) if "firmware" in entry else None,
            key=_choice(where, "key", entry.get("key", "ec-p256"), KEY_KINDS),
            isapi_namespace=_choice(where, "isapi_namespace", entry.get("isapi_namespace", "isapi.org"),
                                    ISAPI_NAMESPACES),
            axis_cert_api=_choice(where, "axis_cert_api", entry.get("axis_cert_api", "v1"), ("v1", "v1beta")),
            clock_offset=_offset(where, entry.get("clock_offset")),
            onvif_security=_choice(where, "onvif_security", entry.get("onvif_security", "current"),
                                   ("current", "1.0.2", "none")),
            group=f"entry{n}",
        )
        specs.extend([spec] * count)
        if len(specs) > MAX_DEVICES:
            raise UsageError(f"{source}: more than {MAX_DEVICES} devices")
    names = [s.name for s in specs if s.name]
    if len(names) != len(set(names)):
        raise UsageError(f"{source}: device names must be unique")
    return Fleet(settings, tuple(specs), source)


def load_fleet(path: str | Path) -> Fleet:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read fleet file {str(path)!r}: {exc}") from None
    return parse_fleet(text, str(path))


def default_fleet() -> Fleet:
    """The built-in fleet (lab/fleets/default.toml): mostly healthy, a few of every problem."""
    text = resources.files("camscan.lab").joinpath("fleets/default.toml").read_text(encoding="utf-8")
    return parse_fleet(text, "default fleet")
