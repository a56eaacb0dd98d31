"""Glass-to-glass latency of a live stream: one loopback WebRTC peer against ``reenact serve``.

The server runs as its own process (``reenact serve --port 0 --max-streams 1`` with the bench's source
and the generator setting's flags), the client in this one (``streamer.webrtc.client.LoopbackClient``),
both on 127.0.0.1 with loopback-only ICE. The client sends the driver clip in real time at its frame
rate, as a webcam would. Latency per frame: from the moment the client hands the frame to its encoder
(its "capture") to the moment the reenacted frame is decoded back at the client (its "display"):
both VP8 codecs, RTP over loopback, the server's decode, tracking, generator, paste-back and encode.
Camera exposure and display scan-out are not part of it (no camera or screen in a loopback test).

Drops: driver frames sent in the window that never came back reenacted (the server keeps only the
newest frame when it is slower than the camera, and counts those as stale drops).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: Seconds the first reenacted frame may take (server start-up: imports, source preparation, ONNX export).
FIRST_FRAME_TIMEOUT_S = 120.0
WARMUP_S = 3.0
CLIP_MAX_SIDE = 480
CLIP_MAX_FRAMES = 150


@dataclass
class LiveLatency:
    """What one live run measured."""

    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0  #: driver frames sent in the window
    received: int = 0  #: reenacted frames that came back in the window
    lost: int = 0  #: sent frames that never came back
    server_dropped: int = 0  #: the server's stale-frame drops in the window (from its stats, +-1 s)
    seconds: float = 0.0
    send_fps: float = 0.0

    @property
    def fps(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0

    @property
    def drop_pct(self) -> float:
        return 100.0 * self.lost / self.sent if self.sent else 0.0


class LiveUnavailable(RuntimeError):
    """A loopback WebRTC stream cannot run here (aiortc missing, no loopback UDP, the server did not start)."""


def why_unavailable() -> str | None:
    """Why a live stream cannot run here, or None."""
    try:
        import aiortc  # noqa: F401

        import streamer.webrtc.client  # noqa: F401
    except ImportError as exc:
        return f"aiortc cannot be imported here ({exc}); install the live extras"
    return None


async def start_server(
    args: list[str], timeout: float = FIRST_FRAME_TIMEOUT_S
) -> tuple[asyncio.subprocess.Process, str]:
    """``reenact serve --port 0 ARGS`` in its own process; returns it and its base URL."""
    cmd = [sys.executable, "-m", "streamer.cli", "serve", "--port", "0", *args]
    # stderr to a file, not a pipe: nobody reads a pipe while the stream runs, and a full one would block it.
    with tempfile.TemporaryFile() as log:
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=log)
        assert proc.stdout is not None
        with contextlib.suppress(asyncio.TimeoutError):
            while line := (await asyncio.wait_for(proc.stdout.readline(), timeout)).decode():
                if match := re.search(r"serving on (http://\S+?)/", line):
                    return proc, match.group(1)
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
        log.seek(0)
        err = log.read().decode(errors="replace").strip().splitlines()
    raise LiveUnavailable(f"reenact serve did not start ({err[-1] if err else 'no message'})")


async def _measure(driver: Path, source: Path, seconds: float, serve_args: list[str]) -> LiveLatency:
    from streamer.webrtc.client import LoopbackClient, load_clip
    from streamer.webrtc.ice import loopback_ice

    frames, fps = load_clip(driver, max_frames=CLIP_MAX_FRAMES, max_side=CLIP_MAX_SIDE)
    with loopback_ice():
        proc, url = await start_server(
            ["--source", str(source), "--max-streams", "1", "--ice-loopback-only", *serve_args]
        )
        try:
            client = LoopbackClient(url, frames, fps)
            await client.connect()
            if not await client.wait_frames(1, FIRST_FRAME_TIMEOUT_S):
                await client.close()
                why = f"no reenacted frame came back over loopback WebRTC in {FIRST_FRAME_TIMEOUT_S:.0f} s"
                raise LiveUnavailable(why)
            await asyncio.sleep(WARMUP_S)
            dropped0 = client.result.server_stats.get("dropped", 0)
            client.start_window()
            await asyncio.sleep(seconds)
            dropped1 = client.result.server_stats.get("dropped", 0)
            result = await client.close()
        finally:
            proc.terminate()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
            if proc.returncode is None:
                proc.kill()
    return LiveLatency(
        latencies_ms=list(result.latencies_ms),
        sent=result.sent,
        received=result.frames,
        lost=result.lost,
        server_dropped=max(0, dropped1 - dropped0),
        seconds=result.seconds,
        send_fps=fps,
    )


def measure_glass_to_glass(driver: Path, source: Path, seconds: float, serve_args: list[str] = ()) -> LiveLatency:
    """One live stream of ``driver`` (sent in real time) reenacting ``source`` for ``seconds`` after a warm-up.

    ``serve_args`` are extra ``reenact serve`` flags (e.g. ``--generator rfg --integrator global``).
    Raises ``LiveUnavailable`` when a loopback stream cannot run here.
    """
    why = why_unavailable()
    if why:
        raise LiveUnavailable(why)
    return asyncio.run(_measure(Path(driver), Path(source), seconds, list(serve_args)))
