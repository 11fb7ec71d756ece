"""The generic ONVIF camera, and the base every vendor personality extends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from camscan.lab.httpserver import Request, Response
from camscan.lab.identity import Identity

if TYPE_CHECKING:
    from camscan.lab.device import Device

LOGIN_PAGE = ("<!DOCTYPE html><html><head><title>{title}</title></head>"
              "<body><form method=post action=/login><input name=user><input name=password type=password>"
              "</form></body></html>")


class Personality:
    """The generic ONVIF camera: ONVIF only. Vendor personalities override `vendor_api`."""

    name = "onvif"

    def realm(self, identity: Identity) -> str:
        return identity.model

    async def vendor_api(self, device: Device, request: Request) -> Response | None:
        return None

    async def handle(self, device: Device, request: Request) -> Response:
        from camscan.lab.personalities.onvif import PATHS
        from camscan.lab.personalities.onvif import handle as onvif_handle

        if request.path in PATHS:
            return await onvif_handle(device, request)
        response = await self.vendor_api(device, request)
        if response is not None:
            return response
        if request.path in ("/", "/index.html") and request.method in ("GET", "HEAD"):
            title = f"{device.identity.vendor.manufacturer} {device.identity.model}"
            return Response.text(LOGIN_PAGE.format(title=title), content_type="text/html; charset=utf-8")
        return Response.text("Not Found\n", 404)

