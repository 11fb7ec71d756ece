"""One simulated camera: its firmware, clock, identity, and an HTTPS (and HTTP) server on its own
127.x address, with the vendor's API behind Digest authentication.

In-process control (tests): `await device.change_ip(ip)`, `await device.reboot()`,
`device.set_clock(moment)`, `await device.factory_reset()`, `device.served()`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import socket
import ssl
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from camscan.lab import discovery
from camscan.lab.auth import DigestAuth
from camscan.lab.certs import Credentials
from camscan.lab.firmware import DeviceClock, Firmware
from camscan.lab.httpserver import Request, Response, http_date, serve_http
from camscan.lab.identity import Identity
from camscan.lab.scenarios import Scenario
from camscan.lab.timesettings import TimeSettings
from camscan.lab.timesettings import default_time as initial_time
from camscan.model import Endpoint

if TYPE_CHECKING:
    from camscan.lab.personalities.base import Personality

HANDSHAKE_TIMEOUT = 10.0
CONNECTION_LIFETIME = 60.0
BACKLOG = 64


class AddressInUse(OSError):
    pass


@dataclass(frozen=True)
class DeviceSettings:
    """Per-device knobs that are not identity or certificates."""

    username: str = "admin"
    password: str = "camscan-lab"  # noqa: S105 - a simulated device, printed on purpose
    https_port: int = 8443
    http_port: int | None = 8080  # None: no plain-HTTP listener
    reboot_downtime: float = 2.0
    isapi_namespace: str = "http://www.isapi.org/ver20/XMLSchema"
    axis_cert_api: str = "v1"  # "v1" or "v1beta" (AXIS OS 11.6-11.10)
    onvif_security: str = "current"  # Advanced Security: "current", "1.0.2" or "none"
    clock_offset: float | None = None  # seconds; None: the scenario's
    ws_discovery: bool = True  # answer unicast WS-Discovery probes on <ip>:3702/udp


class Device:
    def __init__(self, name: str, identity: Identity, scenario: Scenario, firmware: Firmware,
                 ip: str, settings: DeviceSettings, personality: Personality, workdir: Path) -> None:
        self.name = name
        self.identity = identity
        self.scenario = scenario
        self.firmware = firmware
        self.ip = ip
        self.settings = settings
        self.personality = personality
        self.https_port = settings.https_port
        self.http_port = settings.http_port
        self.clock = DeviceClock(self.default_clock_offset)
        self.time = self.default_time()
        self.auth = DigestAuth(settings.username, settings.password, personality.realm(identity))
        self.online = False
        self.boot_count = 0
        self.booted_at = time.monotonic()
        self.errors: list[str] = []  # internal errors of API handlers (a test asserts none)
        self._workdir = workdir
        self._ctx: tuple[int, ssl.SSLContext] | None = None
        self._scope: trio.CancelScope | None = None
        self._stopped = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._busy = trio.Lock()
        self.personality_state: dict[str, object] = {}
        self.hangs_on_reboot = False  # lab knob: a reboot leaves the device down for good
        self.https_connections = 0  # TCP connections accepted on the HTTPS port

    # --- what tests and the lab read --------------------------------------------------------

    @property
    def default_clock_offset(self) -> float:
        """How far off the clock is after a factory reset (the fleet's setting or the scenario's)."""
        offset = self.settings.clock_offset
        return self.scenario.clock_offset if offset is None else offset

    def default_time(self) -> TimeSettings:
        return initial_time(self.personality.name, clock_wrong=self.default_clock_offset != 0,
                            rtc_lost=self.scenario.clock_1970)

    def sync_ntp(self) -> None:
        """What a device on a reachable NTP server does soon after: its clock is right."""
        if self.time.ntp_works:
            self.clock.offset = 0.0

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.ip, self.https_port)

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.booted_at

    def served(self) -> Credentials:
        """The certificate chain and key the HTTPS server presents now."""
        return self.firmware.served()

    # --- lifecycle ----------------------------------------------------------------------------

    def _power_on(self) -> None:
        self.boot_count += 1
        self.booted_at = time.monotonic()
        if self.scenario.clock_1970:
            self.clock.reset_to_epoch()
        self.firmware.boot(self.ip, self.clock.now())

    async def start(self, nursery: trio.Nursery) -> None:
        """Boot and listen. Raises AddressInUse if the address:port is taken."""
        self._nursery = nursery
        self._power_on()
        await self._listen()

    async def _listen(self) -> None:
        assert self._nursery is not None
        sockets = [await self._bind(self.https_port)]
        if self.http_port is not None:
            try:
                sockets.append(await self._bind(self.http_port))
            except BaseException:
                sockets[0].close()
                raise
        udp = None
        if self.settings.ws_discovery:
            try:
                udp = await self._bind(discovery.PORT, udp=True)
            except BaseException:
                for sock in sockets:
                    sock.close()
                raise
        self.https_port = sockets[0].getsockname()[1]
        if self.http_port is not None:
            self.http_port = sockets[1].getsockname()[1]
        self._stopped = trio.Event()
        await self._nursery.start(self._serve, sockets, udp)
        self.online = True

    async def _bind(self, port: int, *, udp: bool = False) -> trio.socket.SocketType:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        try:
            if not udp:  # (for UDP it would let two labs share one address:port)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            await sock.bind((self.ip, port))
            if not udp:
                sock.listen(BACKLOG)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(exc.errno, f"{self.ip}:{port} is in use") from exc
            raise
        return sock

    async def _serve(self, sockets: list[trio.socket.SocketType], udp: trio.socket.SocketType | None,
                     task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = [trio.SocketListener(s) for s in sockets]
        schemes = ["https", "http"]
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                async with trio.open_nursery() as nursery:
                    for listener, scheme in zip(listeners, schemes, strict=False):
                        nursery.start_soon(self._accept_loop, listener, scheme, nursery)
                    if udp is not None:
                        nursery.start_soon(discovery.serve, self, udp, nursery)
                    task_status.started()
        finally:
            if udp is not None:
                udp.close()
            for listener in listeners:
                with contextlib.suppress(OSError):
                    listener.socket.close()
            self.online = False
            self._stopped.set()

    async def _accept_loop(self, listener: trio.SocketListener, scheme: str, nursery: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    await trio.sleep(0.05)
                    continue
                raise
            if scheme == "https":
                self.https_connections += 1  # counted server-side by the benchmarks
            nursery.start_soon(self._connection, stream, scheme)

    async def _stop(self) -> None:
        if self._scope is not None and self.online:
            self._scope.cancel()
            await self._stopped.wait()

    async def stop(self) -> None:
        """Power off (the lab does this at exit)."""
        await self._stop()

    # --- control API (in-process) ------------------------------------------------------------

    async def change_ip(self, new_ip: str) -> None:
        """Re-address the device without a reboot: the old certificate stays (Sunell HTTPS FAQ, Q1)."""
        async with self._busy:
            await self._stop()
            old = self.ip
            self.ip = new_ip
            try:
                await self._listen()
            except OSError:
                self.ip = old
                await self._listen()
                raise

    async def reboot(self, downtime: float | None = None) -> None:
        """Go down, stay down for the downtime, boot (new per-boot certificate) and listen again."""
        async with self._busy:
            await self._stop()
            await trio.sleep(self.settings.reboot_downtime if downtime is None else downtime)
            self._power_on()
            await self._listen()

    def schedule_reboot(self, downtime: float | None = None) -> None:
        """Reboot in the background (the API handler has already answered)."""
        assert self._nursery is not None
        if self.hangs_on_reboot:
            # A unit that never comes back from a reboot (a failed firmware check, a dead
            # flash): it goes down and stays down, for remediation's bad-path tests.
            self._nursery.start_soon(self._stop)
            return
        self._nursery.start_soon(self._reboot_task, downtime)

    async def _reboot_task(self, downtime: float | None) -> None:
        try:
            await self.reboot(downtime)
        except OSError as exc:
            # Its address was taken while it was down (another lab on the same block): it stays
            # offline, so say so where the person running the lab will see it.
            self.errors.append(f"reboot failed: {exc}")
            print(f"camscan lab: {self.name}: did not come back after a reboot: {exc}", file=sys.stderr)

    async def factory_reset(self, downtime: float | None = None) -> None:
        """Delete uploaded certificates and on-device keys, reset the clock, reboot."""
        self.firmware.factory_reset()
        self.personality_state.clear()
        self.clock.offset = self.default_clock_offset
        self.time = self.default_time()
        await self.reboot(downtime)

    def set_clock(self, moment: dt.datetime) -> None:
        self.clock.set(moment)

    # --- serving -------------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """Made on the first connection after each certificate change (lazy: 5,000 devices start fast)."""
        generation = self.firmware.generation
        if self._ctx is not None and self._ctx[0] == generation:
            return self._ctx[1]
        creds = self.firmware.served()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if self.scenario.legacy_tls:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # accepting TLS 1.0 is the scenario
                ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        fd, path = tempfile.mkstemp(dir=self._workdir, suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(creds.key_pem() + creds.chain_pem())
            try:
                ctx.load_cert_chain(path)
            except ssl.SSLError:
                # Weak keys, SHA-1 and v1 certificates load only at security level 0, as on
                # the old embedded TLS stacks that still serve them.
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                ctx.load_cert_chain(path)
        finally:
            os.unlink(path)
        self._ctx = (generation, ctx)
        return ctx

    async def _connection(self, tcp: trio.SocketStream, scheme: str) -> None:
        stream: trio.abc.Stream = tcp
        try:
            with trio.move_on_after(CONNECTION_LIFETIME):
                if scheme == "https":
                    tls = trio.SSLStream(tcp, self.ssl_context(), server_side=True)
                    with trio.fail_after(HANDSHAKE_TIMEOUT):
                        await tls.do_handshake()
                    stream = tls
                await serve_http(stream, self.dispatch, scheme=scheme,
                                 server=self.identity.vendor.server_header,
                                 date=lambda: http_date(self.clock.now()))
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError, OSError):
            pass
        except Exception as exc:  # one bad connection must not take the whole lab down
            self.errors.append(f"connection: {exc!r}")
            print(f"camscan lab: {self.name}: internal error: {exc!r}", file=sys.stderr)
        finally:
            await trio.aclose_forcefully(stream)

    async def dispatch(self, request: Request) -> Response:
        try:
            return await self.personality.handle(self, request)
        except Exception as exc:  # a bug in a handler must not take the whole lab down
            self.errors.append(f"{request.method} {request.path}: {exc!r}")
            print(f"camscan lab: {self.name}: internal error: {exc!r}", file=sys.stderr)
            return Response.text("internal error\n", 500)

    def require_digest(self, request: Request) -> Response | None:
        """None when the request carries valid Digest credentials, else the 401 to send."""
        verdict = self.auth.check(request.method, request.target, request.headers.get("authorization"))
        if verdict == "ok":
            return None
        return Response.text("Unauthorized\n", 401, headers=[
            ("WWW-Authenticate", self.auth.challenge(stale=verdict == "stale"))])
