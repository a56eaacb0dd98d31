"""One connected browser: its peer connection, stream worker thread, owned tasks and stats."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from streamer.errors import InputError
from streamer.live.config import LiveConfig
from streamer.live.sources import SourceLibrary
from streamer.live.stats import StatsSnapshot, StreamStats
from streamer.live.stream import LiveStream
from streamer.live.worker import StreamWorker
from streamer.pipeline import PreparedSource
from streamer.webrtc.control import parse_control
from streamer.webrtc.tracks import ReenactedTrack

log = logging.getLogger(__name__)

STATS_INTERVAL_S = 1.0
TASK_CANCEL_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Arrival:
    """A decoded driver frame and when it reached the server."""

    frame: VideoFrame
    monotonic: float


class PeerSession:
    """Receives the driver video, runs the stream on its own thread, sends the reenacted video back."""

    def __init__(
        self,
        sid: str,
        pc: RTCPeerConnection,
        source: PreparedSource,
        config: LiveConfig,
        library: SourceLibrary,
        drop_audio: bool = False,
        idle_timeout: float = 15.0,
        on_closed: Callable[[PeerSession], None] | None = None,
    ):
        self.sid = sid
        self.pc = pc
        self.library = library
        self.drop_audio = drop_audio
        self.idle_timeout = idle_timeout
        self.loop = asyncio.get_running_loop()
        self.track = ReenactedTrack()
        self.stats = StreamStats()
        self.worker: StreamWorker[Arrival] = StreamWorker(LiveStream(source, config), self._process, f"stream-{sid}")
        self.has_video = False
        self.closed = asyncio.Event()
        self._on_closed = on_closed
        self._tasks: set[asyncio.Task] = set()
        self._channel: RTCDataChannel | None = None
        self._relay = MediaRelay()
        self._last_arrival = time.monotonic()
        self._closing = False
        pc.on("track", self._on_track)
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_state)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the stream thread (it builds the tracker while ICE/DTLS connect) and the watchdog."""
        self.worker.start()
        self._spawn(self._watchdog(), "watchdog")
        self._spawn(self._report_stats(), "stats")

    def _spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(coro, name=f"peer-{self.sid}-{what}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed: %r", task.get_name(), task.exception())

    async def close(self) -> None:
        """Idempotent: cancel tasks, close the peer, stop the thread (joined off the loop)."""
        if self._closing:
            await self.closed.wait()
            return
        self._closing = True
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=TASK_CANCEL_TIMEOUT_S)
        await self.pc.close()
        if not await asyncio.to_thread(self.worker.stop):
            log.warning("stream thread of peer %s did not stop in time", self.sid)
        self.closed.set()
        if self._on_closed is not None:
            self._on_closed(self)

    def _close_soon(self, why: str) -> None:
        if not self._closing:
            log.info("closing peer %s: %s", self.sid, why)
            # Not owned by the session (it cancels its own tasks); the server keeps a reference.
            self._spawn(self.close(), "close")

    # -- aiortc events ---------------------------------------------------------------------------

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self._close_soon(f"connection {self.pc.connectionState}")

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video" and not self.has_video:
            self.has_video = True
            self.pc.addTrack(self.track)
            self._spawn(self._receive_video(track), "receive-video")
        elif track.kind == "audio" and not self.drop_audio:
            self.pc.addTrack(self._relay.subscribe(track, buffered=False))
        else:
            self._spawn(self._discard(track), f"discard-{track.kind}")

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        self._channel = channel
        channel.on("message", self._on_message)

    def _on_message(self, message: str | bytes) -> None:
        try:
            self.worker.control(parse_control(message, self.library))
        except InputError as exc:
            self._send({"type": "error", "error": str(exc)})

    def _send(self, payload: dict) -> None:
        if self._channel is not None and self._channel.readyState == "open":
            self._channel.send(json.dumps(payload))

    # -- tasks -----------------------------------------------------------------------------------

    async def _receive_video(self, track: MediaStreamTrack) -> None:
        """Hand every decoded driver frame to the stream thread (latest wins there)."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self._last_arrival = time.monotonic()
            self.stats.frame_in()
            self.worker.submit(Arrival(frame, self._last_arrival))

    async def _discard(self, track: MediaStreamTrack) -> None:
        """Consume a track we do not use, so aiortc's receive queue never grows."""
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    async def _watchdog(self) -> None:
        """Close a peer that stopped sending video (vanished without a goodbye) or whose thread died."""
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout / 4))
            if self.worker.error is not None or (self.worker.ready.is_set() and not self.worker.alive):
                self._close_soon(f"stream thread failed: {self.worker.error!r}")
                return
            if time.monotonic() - self._last_arrival > self.idle_timeout:
                self._close_soon(f"no video for {self.idle_timeout:.0f} s")
                return

    async def _report_stats(self) -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL_S)
            extra = {"paste_back": self.worker.stream.paste_back, "pts_origin": self.track.first_sent_pts}
            self._send({"type": "stats", **self.snapshot().as_dict(), **extra})

    # -- stream thread ---------------------------------------------------------------------------

    def _process(self, stream: LiveStream, arrival: Arrival) -> None:
        """Runs on the stream thread: convert, reenact, convert back, hand to the loop."""
        result = stream.process(arrival.frame.to_ndarray(format="bgr24"))
        out = VideoFrame.from_ndarray(result.image, format="bgr24")
        out.pts, out.time_base = arrival.frame.pts, arrival.frame.time_base
        self.stats.frame_out(time.monotonic() - arrival.monotonic, result.face_found)
        with contextlib.suppress(RuntimeError):  # the loop is closing: nobody will send it
            self.loop.call_soon_threadsafe(self.track.offer, out)

    def snapshot(self) -> StatsSnapshot:
        """This peer's numbers (drops: stale driver frames + outputs the encoder never pulled)."""
        return self.stats.snapshot(self.worker.inputs.dropped + self.track.slot.dropped)
