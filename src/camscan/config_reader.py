"""Reading one TOML table of camscan.toml: typed values, and errors naming the file and key."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from camscan.errors import UsageError

Check = Callable[[Any, str], Any]


class Where:
    """Formats "file: [section] key: problem" messages."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> UsageError:
        return UsageError(f"{self.path}: {key}: {problem}")


def type_name(value: object) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def check_keys(where: Where, section: str, table: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(allowed)})"
            raise where.fail(f"{section} {key}".strip(), f"unknown key{hint}")


class Reader:
    """Typed getters over one TOML table; every error names the file, section and key."""

    def __init__(self, where: Where, section: str, table: Mapping[str, Any], base: Path) -> None:
        self.where, self.section, self.table, self.base = where, section, table, base

    def key(self, name: str) -> str:
        return f"{self.section} {name}".strip()

    def _bad(self, name: str, wanted: str, value: object) -> UsageError:
        return self.where.fail(self.key(name), f"expected {wanted}, got {type_name(value)} {value!r}")

    def has(self, name: str) -> bool:
        return name in self.table

    def string(self, name: str, default: str | None = None, *, choices: tuple[str, ...] = ()) -> str | None:
        value = self.table.get(name, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self._bad(name, "a non-empty string", value)
        if choices and value not in choices:
            raise self.where.fail(self.key(name), f"{value!r} is not one of {', '.join(choices)}")
        return value

    def required_string(self, name: str) -> str:
        if name not in self.table:
            raise self.where.fail(self.key(name), "missing (required)")
        value = self.string(name)
        assert value is not None
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            raise self._bad(name, "true or false", value)
        return value

    def integer(
        self, name: str, default: int | None, *, minimum: int, maximum: int | None = None
    ) -> int | None:
        value = self.table.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(name, "an integer", value)
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise self.where.fail(self.key(name), f"{value} is out of range (must be {bound})")
        return value

    def number(self, name: str, default: float | None, *, positive: bool = True) -> float | None:
        value = self.table.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(name, "a number", value)
        if positive and value <= 0:
            raise self.where.fail(self.key(name), f"{value} must be greater than 0")
        return float(value)

    def strings(self, name: str, *, required: bool = False) -> tuple[str, ...]:
        if name not in self.table:
            if required:
                raise self.where.fail(self.key(name), "missing (required)")
            return ()
        value = self.table[name]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self._bad(name, "a list of non-empty strings", value)
        if required and not value:
            raise self.where.fail(self.key(name), "must not be empty")
        return tuple(value)

    def path(self, name: str, default: Path | None = None) -> Path | None:
        value = self.string(name)
        if value is None:
            return default
        return (self.base / Path(value).expanduser()).resolve()

    def table_of(self, name: str) -> Mapping[str, Any]:
        value = self.table.get(name, {})
        if not isinstance(value, dict):
            raise self._bad(name, "a table", value)
        return value


def ports_spec(reader: Reader) -> str:
    if not reader.has("ports"):
        return "cameras"
    value = reader.table["ports"]
    if isinstance(value, str) and value.strip():
        spec = value.strip()
    elif (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        spec = ",".join(str(v) for v in value)
    else:
        raise reader._bad("ports", 'a port spec string ("443,8443", "cameras") or a list of integers', value)
    from camscan.scanner.targets import parse_ports

    try:
        parse_ports(spec)
    except UsageError as exc:
        raise reader.where.fail(reader.key("ports"), str(exc)) from None
    return spec


def anchor(spec: str, base: Path) -> str:
    """"@hosts.txt" in a config names a file beside the config, not in cron's working directory."""
    if spec.startswith("@"):
        return "@" + str((base / Path(spec[1:]).expanduser()).resolve())
    return spec


def sweep_limits(r: Reader) -> dict[str, Any]:
    """The sweep's limits and probes of a [scan] table, with their defaults (an audit's config
    and a site worker's read the same keys the same way)."""
    return {
        "concurrency": r.integer("concurrency", 256, minimum=1, maximum=65536) or 256,
        "per_host": r.integer("per_host", 2, minimum=1, maximum=64) or 2,
        "rate": r.number("rate", None),
        "connect_timeout": r.number("connect_timeout", 3.0) or 3.0,
        "handshake_timeout": r.number("handshake_timeout", 5.0) or 5.0,
        "http_facts": r.boolean("http_facts", True),
        "legacy_probe": r.boolean("legacy_probe", True),
        "http_timeout": r.number("http_timeout", 3.0) or 3.0,
        "ws_discovery": r.boolean("ws_discovery", True),
        "ws_discovery_timeout": r.number("ws_discovery_timeout", 1.0) or 1.0,
    }


def read_toml(path: str | os.PathLike[str], what: str) -> tuple[dict[str, Any], Path]:
    """The TOML table of a config file and its resolved path; UsageError (exit 2) naming the
    file for one that cannot be read, is not UTF-8 or is not TOML. `what`: "config",
    "worker config", "sites file"."""
    import tomllib

    config_path = Path(path).expanduser()
    try:
        raw = config_path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {config_path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{config_path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{config_path}: invalid TOML: {exc}") from None
    return data, config_path.resolve()
