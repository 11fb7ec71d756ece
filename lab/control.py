"""The lab's control endpoint: a small JSON API on 127.0.0.1 for driving devices from outside
the lab process (the CLI lab). In-process code calls the Device methods directly.

    GET  /devices                         inventory (JSON list)
    GET  /devices/NAME                    one device
    POST /devices/NAME/reboot             {"downtime": 1.5}          (optional)
    POST /devices/NAME/change-ip          {"address": "127.77.9.9"}  (optional: next free one)
    POST /devices/NAME/set-clock          {"utc": "1970-01-01T00:00:00Z"} or {"offset_seconds": -3600}
    POST /devices/NAME/factory-reset      {"downtime": 1.5}          (optional)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

import trio

from camscan.lab.httpserver import Request, Response, serve_http
from camscan.lab.runner import Lab


def _error(status: int, message: str) -> Response:
    return Response.json_body({"error": message}, status)


def _downtime(body: dict[str, Any]) -> float | None:
    value = body.get("downtime")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 600:
        raise ValueError("downtime must be 0-600 seconds")
    return float(value)


class ControlAPI:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._nursery: trio.Nursery | None = None

    def _entry(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.lab.inventory() if e["name"] == name), None)

    async def handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts[0] != "devices" or len(parts) > 3:
            return _error(404, "unknown path")
        if len(parts) == 1:
            return Response.json_body(self.lab.inventory()) if request.method == "GET" else _error(405, "GET")
        device = next((d for d in self.lab.devices if d.name == parts[1]), None)
        if device is None:
            return _error(404, f"no device {parts[1]!r}")
        if len(parts) == 2:
            if request.method != "GET":
                return _error(405, "GET")
            return Response.json_body(self._entry(device.name))
        if request.method != "POST":
            return _error(405, "POST")
        try:
            body = request.json() or {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            action = parts[2]
            if action == "reboot":
                device.schedule_reboot(_downtime(body))
            elif action == "factory-reset":
                downtime = _downtime(body)
                self.lab_nursery_start(device.factory_reset, downtime)
            elif action == "change-ip":
                address = body.get("address") or self.lab.allocate_address()
                ip = ipaddress.ip_address(str(address))
                if ip.version != 4 or not ip.is_loopback:
                    raise ValueError(f"address {address!r} is not a 127.x address")
                await device.change_ip(str(ip))
            elif action == "set-clock":
                if "utc" in body:
                    moment = dt.datetime.fromisoformat(str(body["utc"]).replace("Z", "+00:00"))
                    if moment.tzinfo is None:
                        raise ValueError("utc needs a zone (end it with Z)")
                    device.set_clock(moment)
                else:
                    device.clock.offset = float(body["offset_seconds"])
            else:
                return _error(404, f"unknown action {action!r}")
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, str(exc))
        except OSError as exc:
            return _error(409, str(exc))
        return Response.json_body({"status": "ok", "device": self._entry(device.name)})

    def lab_nursery_start(self, fn: Any, *args: Any) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(fn, *args)

    async def serve(self, port: int = 0, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on 127.0.0.1:`port` (0: any free port); reports the port through task_status."""
        listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            bound = listeners[0].socket.getsockname()[1]
            task_status.started(bound)

            async def connection(stream: trio.SocketStream) -> None:
                try:
                    await serve_http(stream, self.handle, scheme="http", server="camscan-lab")
                finally:
                    await trio.aclose_forcefully(stream)

            await trio.serve_listeners(connection, listeners, handler_nursery=nursery)

