"""A loopback test/benchmark client: sends a driver clip as a webcam would, receives the reenacted video.

Latency is end to end (send -> server -> back, both codecs included): the server passes each driver
frame's timestamp through to its output and reports the timestamp of the first frame it sent
(``pts_origin`` in its stats messages), which lines the two timelines up.

Run alone (e.g. as a peer to kill mid-stream): ``python -m streamer.webrtc.client URL --seconds 30``.
It gathers and accepts loopback candidates only (``ice.loopback_ice``): the server it calls runs with
``--ice-loopback-only`` (or in this process, where that switch covers both peers).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import aiohttp
import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from streamer.webrtc.ice import candidate_hosts, loopback_ice, rtc_configuration
from streamer.webrtc.jitter import use_marker_jitter_buffer

CLOCK = 90000  # RTP video clock
_SENT_HISTORY = 1024
#: Frames sent this close to hang-up may still be on their way back: not counted as lost.
LOSS_GRACE_S = 1.0


def load_clip(path: str | Path, max_frames: int = 300, max_side: int = 640) -> tuple[list[av.VideoFrame], float]:
    """The first frames of a video as yuv420p frames (even sizes, longer side <= ``max_side``), and its fps."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        for frame in container.decode(stream):
            scale = min(1.0, max_side / max(frame.width, frame.height))
            w, h = int(frame.width * scale) // 2 * 2, int(frame.height * scale) // 2 * 2
            frames.append(frame.reformat(width=w, height=h, format="yuv420p"))
            if len(frames) >= max_frames:
                break
    return frames, fps


class ClipTrack(MediaStreamTrack):
    """Loops ``frames`` at ``fps`` in real time with monotonic timestamps; remembers when each was sent."""

    kind = "video"

    def __init__(self, frames: list[av.VideoFrame], fps: float):
        super().__init__()
        self.frames = frames
        self.fps = fps
        self.sent: collections.OrderedDict[int, float] = collections.OrderedDict()
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        """The next clip frame, at its time."""
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = self.frames[self._index % len(self.frames)]
        frame.pts, frame.time_base = round(self._index * CLOCK / self.fps), Fraction(1, CLOCK)
        self.sent[frame.pts] = time.monotonic()
        if len(self.sent) > _SENT_HISTORY:
            self.sent.popitem(last=False)
        self._index += 1
        return frame


@dataclass
class ClientResult:
    """What one client saw."""

    frames: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    last_image: np.ndarray | None = None
    server_stats: dict = field(default_factory=dict)
    #: Frames sent in the counting window (up to ``LOSS_GRACE_S`` before hang-up) and how many of them
    #: never came back reenacted (dropped as stale by the server, or lost); 0/0 before the server's stats.
    sent: int = 0
    lost: int = 0
    local_candidates: list[str] = field(default_factory=list)
    remote_candidates: list[str] = field(default_factory=list)
    selected_pair: tuple[str, str] | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def latency(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


class LoopbackClient:
    """One peer: ``await connect()``, then frames flow until ``await close()``."""

    def __init__(self, url: str, frames: list[av.VideoFrame], fps: float, token: str | None = None):
        self.url = url.rstrip("/")
        self.token = token
        use_marker_jitter_buffer()  # as a browser's receiver: a frame is decoded at its last packet
        self.pc = RTCPeerConnection(rtc_configuration([]))
        self.track = ClipTrack(frames, fps)
        self.result = ClientResult()
        self.channel = self.pc.createDataChannel("control")
        self.channel.on("message", self._on_message)
        self._received: list[tuple[int, float]] = []
        self._tasks: list[asyncio.Task] = []
        self._t0 = 0.0
        self.pc.on("track", self._on_track)

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def connect(self, source: str | None = None) -> None:
        """Offer, get the answer (gathering is complete on both sides: no trickle)."""
        self.pc.addTrack(self.track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        body = {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        if source:
            body["source"] = source
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.url}/offer", json=body, headers=self._headers()) as resp,
        ):
            answer = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"offer refused: {resp.status} {answer.get('error')}")
        self.result.local_candidates = candidate_hosts(self.pc.localDescription.sdp)
        self.result.remote_candidates = candidate_hosts(answer["sdp"])
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        self._t0 = time.monotonic()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._tasks.append(asyncio.create_task(self._receive(track), name="client-receive"))

    def _on_message(self, message: str | bytes) -> None:
        data = json.loads(message)
        if data.get("type") == "stats":
            self.result.server_stats = data

    def send_control(self, payload: dict) -> None:
        """A control message to the server (re-anchor, paste-back, source)."""
        self.channel.send(json.dumps(payload))

    async def _receive(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self._received.append((frame.pts, time.monotonic()))
                self.result.frames += 1
                if self.result.frames % 10 == 1:
                    self.result.last_image = frame.to_ndarray(format="bgr24")

    def start_window(self) -> None:
        """Count from now on (after a warm-up): frames, fps, latencies and lost frames cover only what follows."""
        self.result.frames = 0
        self._received.clear()
        self._t0 = time.monotonic()

    async def wait_frames(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` reenacted frames arrived (False on timeout)."""
        end = time.monotonic() + timeout
        while self.result.frames < count and time.monotonic() < end:
            await asyncio.sleep(0.05)
        return self.result.frames >= count

    def _selected_pair(self) -> tuple[str, str] | None:
        ice = self.pc.getTransceivers()[0].sender.transport.transport
        pair = getattr(ice._connection, "_nominated", {}).get(1)  # aioice keeps the nominated pair here
        return (pair.local_candidate.host, pair.remote_candidate.host) if pair else None

    def _latencies(self) -> list[float]:
        origin = self.result.server_stats.get("pts_origin")
        if origin is None:
            return []
        out = []
        for pts, t in self._received:
            sent = self.track.sent.get(pts + origin)
            if sent is not None:
                out.append((t - sent) * 1000.0)
        return out

    def _losses(self, end: float) -> tuple[int, int]:
        """(sent, lost) over the window: frames sent from its start to ``LOSS_GRACE_S`` before ``end``."""
        origin = self.result.server_stats.get("pts_origin")
        if origin is None:
            return 0, 0
        back = {pts + origin for pts, _ in self._received}
        due = [pts for pts, t in self.track.sent.items() if self._t0 <= t <= end - LOSS_GRACE_S and pts >= origin]
        return len(due), sum(pts not in back for pts in due)

    async def close(self) -> ClientResult:
        """Hang up and summarize."""
        end = time.monotonic()
        self.result.seconds = end - self._t0
        self.result.latencies_ms = self._latencies()
        self.result.sent, self.result.lost = self._losses(end)
        with contextlib.suppress(Exception):
            self.result.selected_pair = self._selected_pair()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()
        return self.result


async def _main(args: argparse.Namespace) -> None:
    frames, fps = load_clip(args.clip) if args.clip else _example_clip()
    with loopback_ice():
        client = LoopbackClient(args.url, frames, fps, args.token)
        await client.connect()
        await asyncio.sleep(args.seconds)
        result = await client.close()
    print(json.dumps({"frames": result.frames, "fps": round(result.fps, 2)}))


def _example_clip() -> tuple[list[av.VideoFrame], float]:
    import tempfile

    from streamer.examples import make_example_driver

    with tempfile.TemporaryDirectory() as tmp:
        return load_clip(make_example_driver(Path(tmp) / "driver.mp4", seconds=3.0))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Send a driver clip to a reenact server over loopback.")
    parser.add_argument("url")
    parser.add_argument("--clip", type=Path, default=None, help="driver video (default: the bundled example)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--token", default=None)
    asyncio.run(_main(parser.parse_args()))
