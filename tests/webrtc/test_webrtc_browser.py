"""A real browser: headless Chromium streams a driver clip as its fake webcam to the page.

Driven through the Chrome DevTools Protocol on its loopback websocket (aiohttp, no extra package).
Chromium is forced onto loopback: the page offers no STUN/TURN, mDNS host obfuscation is off,
loopback candidates are allowed, and the server ignores anything that is not 127.0.0.1.
The screenshot goes to ``test-artifacts/webrtc_browser.png``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import aiohttp
import av
import cv2
import pytest
from live_helpers import until

from streamer.webrtc.ice import is_loopback

#: Size of the photo the test picks in the page's file input (the default source is larger).
UPLOAD_SIZE = (384, 384)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium (apt-get install -y --no-install-recommends chromium)"
)


def write_y4m(video: Path, out: Path, max_frames: int = 150, size: tuple[int, int] = (480, 480)) -> Path:
    """The clip as a raw 4:2:0 Y4M file, the format Chromium's fake camera reads."""
    w, h = size
    with av.open(str(video)) as container, out.open("wb") as f:
        stream = container.streams.video[0]
        rate = stream.average_rate or 25
        f.write(f"YUV4MPEG2 W{w} H{h} F{rate.numerator}:{rate.denominator} Ip A1:1 C420jpeg\n".encode())
        for frame in itertools.islice(container.decode(stream), max_frames):
            f.write(b"FRAME\n")
            f.write(frame.reformat(width=w, height=h, format="yuv420p").to_ndarray().tobytes())
    return out


def chromium_command(url: str, profile: Path, y4m: Path) -> list[str]:
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--no-default-browser-check",
        "--metrics-recording-only",
        f"--user-data-dir={profile}",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
        # loopback only: gather on loopback, never hide host IPs behind mDNS (no multicast)
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "--window-size=1200,900",
        url,
    ]


class DevTools:
    """A minimal CDP client for one page target."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self._ids = itertools.count(1)

    async def call(self, method: str, **params) -> dict:
        msg_id = next(self._ids)
        await self.ws.send_json({"id": msg_id, "method": method, "params": params})
        while True:
            msg = json.loads((await self.ws.receive()).data)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")


async def _devtools_port(profile: Path, proc: asyncio.subprocess.Process, timeout: float = 90) -> int:
    """The port Chromium writes into its profile. A cold start on a loaded 2-core machine (the full suite
    beside a training job) once took over 30 s, so the wait is generous; an early exit fails at once."""
    port_file = profile / "DevToolsActivePort"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if port_file.exists() and (text := port_file.read_text().split()):
            return int(text[0])
        if proc.returncode is not None:
            raise RuntimeError(f"Chromium exited with code {proc.returncode} before opening its DevTools port")
        await asyncio.sleep(0.1)
    raise TimeoutError(f"Chromium did not open its DevTools port in {timeout:.0f} s")


BRIGHTNESS_JS = """(() => {
  const v = document.getElementById('remote');
  if (!v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = 64; c.height = 64;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0, 64, 64);
  const d = g.getImageData(0, 0, 64, 64).data;
  let s = 0, s2 = 0;
  for (let i = 0; i < d.length; i += 4) { const y = (d[i] + d[i + 1] + d[i + 2]) / 3; s += y; s2 += y * y; }
  const n = d.length / 4;
  return {w: v.videoWidth, h: v.videoHeight, mean: s / n, std: Math.sqrt(s2 / n - (s / n) ** 2)};
})()"""


async def _stop_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the browser's whole process group, SIGKILL it after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(proc.wait(), 10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
    await asyncio.sleep(0.2)  # let the killed helpers go before the profile is removed


def test_browser_shows_reenacted_stream(serve, driver_path, library, astronaut, tmp_path):
    """The page streams the fake webcam, shows the reenacted face, then the person uploads a photo of their choice."""
    photo = tmp_path / "my photo.png"  # the bundled photo at another size: the output canvas must follow it
    cv2.imwrite(str(photo), cv2.resize(astronaut, UPLOAD_SIZE, interpolation=cv2.INTER_AREA))
    y4m = write_y4m(driver_path, tmp_path / "driver.y4m")
    ARTIFACTS.mkdir(exist_ok=True)

    async def scenario():
        async with serve() as (server, url):
            # Chromium's helper processes can still write to the profile after the browser exits: they
            # share its process group (killed together below), and leftovers never fail the test.
            with tempfile.TemporaryDirectory(prefix="reenact-chromium-", ignore_cleanup_errors=True) as profile:
                proc = await asyncio.create_subprocess_exec(
                    *chromium_command(url + "/", Path(profile), y4m),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                    start_new_session=True,
                )
                try:
                    return await _drive(server, await _devtools_port(Path(profile), proc))
                finally:
                    await _stop_group(proc)
                    shutil.rmtree(profile, ignore_errors=True)

    async def _drive(server, port: int):
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                page = next(t for t in await resp.json() if t["type"] == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=64 * 2**20) as ws:
                cdp = DevTools(ws)
                await _until_js(cdp, "document.readyState === 'complete' && !!window.reenactState", 30)
                await cdp.evaluate("document.getElementById('start').click()")
                await _until_js(cdp, "window.reenactState.framesShown > 40", 60)
                await asyncio.sleep(2.5)  # a couple of stats rounds
                state = await cdp.evaluate("JSON.parse(JSON.stringify(window.reenactState))")
                pixels = await cdp.evaluate(BRIGHTNESS_JS)
                sessions = list(server.sessions.values())
                server_side = [(s.snapshot(), _server_pair(s)) for s in sessions]
                # The person picks their photo on the page: the file input uploads it and the stream switches.
                root = await cdp.call("DOM.getDocument")
                node = await cdp.call("DOM.querySelector", nodeId=root["root"]["nodeId"], selector="#photo")
                await cdp.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(photo)])
                await _until_js(cdp, "window.reenactState.sourceId !== null", 60)
                source_id = await cdp.evaluate("window.reenactState.sourceId")
                chosen = library.get(source_id)
                switched = await until(lambda: all(s.worker.stream.source is chosen for s in sessions), 20)
                shown = await cdp.evaluate("window.reenactState.framesShown")
                await _until_js(cdp, f"window.reenactState.framesShown > {shown + 20}", 60)
                after = await cdp.evaluate(BRIGHTNESS_JS)
                shot = await cdp.call("Page.captureScreenshot", format="png")
                (ARTIFACTS / "webrtc_browser.png").write_bytes(base64.b64decode(shot["data"]))
                await cdp.evaluate("document.getElementById('stop').click()")
                closed = await until(lambda: not server.sessions, 10)
                return state, pixels, server_side, closed, (source_id, switched, after)

    state, pixels, server_side, closed, (source_id, switched, after) = asyncio.run(scenario())
    print(f"\nbrowser: {state}\npixels: {pixels}\nserver: {server_side}")
    assert not state["errors"], state["errors"]
    assert state["framesShown"] > 40 and state["framesDecoded"] > 0
    assert len(server_side) == 1
    stats, (pair, remote_hosts) = server_side[0]
    assert stats.processed > 20 and stats.faces > 0, stats
    canvas = library.get(None).canvas
    assert (pixels["w"], pixels["h"]) == (canvas.shape[1], canvas.shape[0])
    assert pixels["std"] > 10 and 20 < pixels["mean"] < 235, "the remote video looks blank"
    assert state["selectedPair"] == {"local": "127.0.0.1", "remote": "127.0.0.1"}
    assert pair == ("127.0.0.1", "127.0.0.1")
    assert remote_hosts and all(is_loopback(h) for h in remote_hosts), remote_hosts  # 127.0.0.1 and ::1
    assert closed, "the server kept the session after the page stopped"
    uploaded = library.get(source_id).canvas
    assert switched, "the stream kept the old source after the page uploaded a photo"
    assert (after["w"], after["h"]) == (uploaded.shape[1], uploaded.shape[0]) != (pixels["w"], pixels["h"])
    assert after["std"] > 10 and 20 < after["mean"] < 235, "the remote video looks blank after the upload"
    assert (ARTIFACTS / "webrtc_browser.png").stat().st_size > 10_000


def _server_pair(session) -> tuple[tuple[str, str] | None, list[str]]:
    """(nominated local/remote host, hosts of every remote candidate the server kept) of a session."""
    connection = session.pc.getTransceivers()[0].receiver.transport.transport._connection
    pair = connection._nominated.get(1)
    hosts = [c.host for c in connection.remote_candidates]
    return ((pair.local_candidate.host, pair.remote_candidate.host) if pair else None), hosts


async def _until_js(cdp: DevTools, expression: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if await cdp.evaluate(expression):
            return
        await asyncio.sleep(0.2)
    state = await cdp.evaluate(
        "JSON.stringify({state: window.reenactState, status: document.getElementById('status').textContent, "
        "message: document.getElementById('message').textContent})"
    )
    raise AssertionError(f"timed out waiting for {expression}; page state {state}")
