"""The aiohttp app: the page at ``/``, signaling at ``POST /offer``, uploads at ``POST /sources``.

Every API route answers JSON (``{"error": ...}`` with a 4xx/5xx status on failure); bad requests
never take the server down. A token, when set, is required as ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription

from streamer.errors import InputError
from streamer.live.config import LiveConfig
from streamer.live.sources import SourceLibrary, prepare_upload
from streamer.webrtc import default_max_streams
from streamer.webrtc.ice import loopback_ice, rtc_configuration
from streamer.webrtc.jitter import use_marker_jitter_buffer
from streamer.webrtc.session import PeerSession
from streamer.webrtc.tls import ServerCertificate

log = logging.getLogger(__name__)

MAX_SDP_BYTES = 64 * 1024
UPLOAD_TYPES = ("image/", "application/octet-stream")
PUBLIC_PATHS = ("/", "/favicon.ico")


@dataclass(frozen=True)
class ServerConfig:
    """``reenact serve``'s settings."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    ice_servers: tuple[str, ...] = ()
    ice_loopback_only: bool = False  # gather and accept 127.0.0.1 candidates only (see ``ice``)
    certificate: ServerCertificate | None = None  # serve HTTPS with it
    max_streams: int = field(default_factory=default_max_streams)
    drop_audio: bool = False
    idle_timeout: float = 15.0  # seconds without driver video before a peer is closed
    live: LiveConfig = field(default_factory=LiveConfig)


def web_dir() -> Path:
    """The folder of the static page."""
    return Path(str(resources.files("streamer") / "web"))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class ReenactServer:
    """Holds the sessions and the source library; ``app()`` builds the aiohttp application."""

    def __init__(self, config: ServerConfig, library: SourceLibrary):
        self.config = config
        self.library = library
        self.sessions: dict[str, PeerSession] = {}
        self._closing: set[asyncio.Task] = set()
        # Uploads are prepared one at a time off the loop: a burst of uploads cannot starve the streams.
        self._prepare = ThreadPoolExecutor(max_workers=1, thread_name_prefix="source-prep")

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.config.live.max_upload_bytes + 1024,
            middlewares=[self._errors, self._auth],
        )
        app.router.add_get("/", self.index)
        app.router.add_static("/static/", web_dir(), show_index=False)
        app.router.add_get("/config", self.client_config)
        app.router.add_post("/offer", self.offer)
        app.router.add_post("/sources", self.upload)
        app.router.add_get("/stats", self.stats)
        app.on_shutdown.append(self._shutdown)
        return app

    # -- middlewares -----------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except InputError as exc:
            return _error(400, str(exc))
        except web.HTTPException as exc:
            if exc.status < 400 or request.path.startswith("/static/"):
                raise
            return _error(exc.status, exc.reason)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        token = self.config.token
        if token and request.path not in PUBLIC_PATHS and not request.path.startswith("/static/"):
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return _error(401, "missing or wrong token (send Authorization: Bearer TOKEN)")
        return await handler(request)

    # -- routes ----------------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(web_dir() / "index.html")

    async def client_config(self, request: web.Request) -> web.Response:
        """What the page needs to build its peer connection."""
        return web.json_response(
            {
                "iceServers": [{"urls": url} for url in self.config.ice_servers],
                "iceLoopbackOnly": self.config.ice_loopback_only,
                "maxStreams": self.config.max_streams,
                "maxUploadBytes": self.config.live.max_upload_bytes,
                "pasteBack": self.config.live.paste_back,
                "edits": asdict(self.config.live.edits),  # where the page's sliders start
            }
        )

    async def offer(self, request: web.Request) -> web.Response:
        """SDP offer in, SDP answer out (ICE gathering complete), one new peer session."""
        params = await _json_body(request, MAX_SDP_BYTES)
        sdp, kind = params.get("sdp"), params.get("type")
        if not isinstance(sdp, str) or kind != "offer":
            raise InputError('expected {"sdp": "...", "type": "offer"}')
        if len(self.sessions) >= self.config.max_streams:
            return _error(
                503,
                f"server is full: {self.config.max_streams} concurrent stream(s) (--max-streams); try again later",
            )
        source_id = params.get("source")
        source = self.library.get(source_id if isinstance(source_id, str) else None)
        sid = secrets.token_hex(4)
        pc = RTCPeerConnection(rtc_configuration(list(self.config.ice_servers)))
        session = PeerSession(
            sid,
            pc,
            source,
            self.config.live,
            self.library,
            drop_audio=self.config.drop_audio,
            idle_timeout=self.config.idle_timeout,
            on_closed=self._forget,
        )
        self.sessions[sid] = session  # counted before the awaits below: no overbooking
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            if not session.has_video:
                raise InputError("the offer has no video track to reenact")
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            await session.close()
            if isinstance(exc, InputError):
                raise
            # aiortc's SDP parser fails with assorted exceptions: all of them mean a bad offer
            log.debug("bad offer: %r", exc)
            raise InputError(f"invalid SDP offer ({exc.__class__.__name__}: {exc})"[:300]) from None
        session.start()
        answer = pc.localDescription
        return web.json_response({"sdp": answer.sdp, "type": answer.type, "session": sid})

    async def upload(self, request: web.Request) -> web.Response:
        """An image body (``Content-Type: image/*``) -> a prepared source id."""
        ctype = request.content_type
        if not ctype.startswith(UPLOAD_TYPES):
            return _error(415, f"upload an image (Content-Type image/*), not {ctype or 'no content type'}")
        limit = self.config.live.max_upload_bytes
        if request.content_length is not None and request.content_length > limit:
            return _error(413, f"the upload is over the {limit / 1e6:.1f} MB limit")
        data = await request.read()
        loop = asyncio.get_running_loop()
        source = await loop.run_in_executor(self._prepare, prepare_upload, data, self.config.live)
        h, w = source.canvas.shape[:2]
        return web.json_response({"id": self.library.add(source), "width": w, "height": h, "faces": source.faces_found})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "max_streams": self.config.max_streams,
                "sessions": {
                    sid: {**s.snapshot().as_dict(), "state": s.pc.connectionState} for sid, s in self.sessions.items()
                },
            }
        )

    # -- housekeeping ----------------------------------------------------------------------------

    def _forget(self, session: PeerSession) -> None:
        self.sessions.pop(session.sid, None)

    async def close_all(self) -> None:
        """Close every peer session."""
        await asyncio.gather(*(s.close() for s in list(self.sessions.values())))

    async def _shutdown(self, app: web.Application) -> None:
        await self.close_all()
        self._prepare.shutdown(wait=False, cancel_futures=True)


async def _json_body(request: web.Request, limit: int) -> dict:
    """The request's JSON object; 413/415/400 for too large, wrong type or malformed."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(reason="send the offer as application/json")
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InputError("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object")
    return data


@contextlib.asynccontextmanager
async def running_server(config: ServerConfig, library: SourceLibrary) -> AsyncIterator[tuple[ReenactServer, str]]:
    """Serve until the block ends; yields the server and its base URL (``port=0`` picks a free port).

    With ``ice_loopback_only`` every peer of this process is restricted to loopback ICE (see ``ice``).
    """
    use_marker_jitter_buffer()  # driver frames reach the stream one frame interval sooner (see ``jitter``)
    server = ReenactServer(config, library)
    runner = web.AppRunner(server.app(), access_log=None, shutdown_timeout=2.0)
    context = config.certificate.context if config.certificate else None
    with loopback_ice() if config.ice_loopback_only else contextlib.nullcontext():
        await runner.setup()
        try:
            site = web.TCPSite(runner, config.host, config.port, ssl_context=context)
            await site.start()
            port = runner.addresses[0][1]
            host = f"[{config.host}]" if ":" in config.host else config.host
            yield server, f"{'https' if context else 'http'}://{host}:{port}"
        finally:
            await runner.cleanup()
