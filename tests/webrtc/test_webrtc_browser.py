"""A stock browser makes the call as a user would: headless Chromium with its fake camera and nothing else.

No ``--allow-loopback-in-peer-connection``, mDNS host hiding left on: the browser offers only what a
real one offers. Server (``reenact serve`` as a user starts it) and browser run in network namespaces
the test makes (``netns``): a small LAN that no packet can leave. Scenarios:

(a) one host with a LAN-like interface, the page at ``http://127.0.0.1:PORT/``, server defaults;
(b) two hosts, the server with ``--host``, ``--token`` and ``--self-signed``, the page over HTTPS
    (Chromium pins the printed key hash), plus the page's messages for a refused token and a full server,
    and a browser that hides its own addresses (mDNS) connecting through peer-reflexive candidates;
(c) the page's messages when ICE cannot connect and when the camera is refused.

(a) and (b) must receive reenacted frames at >= ``MIN_FPS`` with the face in them. The screenshot of
(a) goes to ``test-artifacts/webrtc_browser.png``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import re
import sys
import time
from pathlib import Path

import av
import cv2
import netns
import numpy as np
import pytest
from chromium_pipe import CHROMIUM, Page, chromium

MIN_FPS = 15.0
FPS_WINDOW_S = 4.0
GRABS = 3
#: Size of the photo the test picks in the page's file input (the default source is larger).
UPLOAD_SIZE = (384, 384)
TOKEN = "lan-test-token"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium (tests/install_browser.sh, or apt-get install chromium)"
)


@pytest.fixture(scope="module")
def namespaces_ok() -> None:
    if (why := netns.unavailable_reason()) is not None:
        pytest.skip(f"the browser scenarios run in network namespaces: {why}")


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


@pytest.fixture(scope="module")
def y4m(driver_path, tmp_path_factory) -> Path:
    return write_y4m(driver_path, tmp_path_factory.mktemp("camera") / "driver.y4m")


@contextlib.asynccontextmanager
async def reenact_serve(host: netns.Host, log: Path, *args: str):
    """``reenact serve --port 0 ARGS`` inside ``host``; yields its base URL and the lines it printed first."""
    cmd = host.command(sys.executable, "-m", "streamer.cli", "serve", "--port", "0", *args)
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=err)
    try:
        lines = []
        with contextlib.suppress(asyncio.TimeoutError):
            while line := (await asyncio.wait_for(proc.stdout.readline(), 120)).decode():
                lines.append(line.strip())
                if "serving on" in lines[0] and ("--self-signed" not in args or "SPKI" in line):
                    break
        match = re.search(r"serving on (https?://\S+?)/", lines[0] if lines else "")
        assert match, f"reenact serve did not start: {lines} {log.read_text()[-2000:]}"
        yield match.group(1), lines
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


PAGE_READY = "document.readyState === 'complete' && !!window.reenactState"

#: Decoded frames per second of the remote video over a window (the page's own peer connection ``pc``).
RECEIVE_FPS_JS = """(async () => {
  const decoded = async () => {
    let n = 0;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n = s.framesDecoded; });
    return n;
  };
  const a = await decoded(), t0 = performance.now();
  await new Promise((r) => setTimeout(r, %d));
  return (await decoded() - a) / ((performance.now() - t0) / 1000);
})()"""

#: The frame the remote video shows now, as a JPEG data URL.
GRAB_JS = """(() => {
  const v = document.getElementById('remote');
  if (!v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  c.getContext('2d').drawImage(v, 0, 0);
  return c.toDataURL('image/jpeg', 0.92);
})()"""


#: A call from a page that never asked for the camera, in a browser without the fake permission UI: the
#: browser hides its addresses (mDNS names, or no host candidate at all where it cannot announce names),
#: so only peer-reflexive candidates can connect it. A painted canvas is the video; hangs up at the end.
HIDDEN_ADDRESS_CALL_JS = """(async () => {
  const c = document.createElement('canvas');
  c.width = 320; c.height = 240;
  const g = c.getContext('2d');
  const paint = setInterval(() => {
    g.fillStyle = `hsl(${performance.now() % 360}, 60%, 50%)`;
    g.fillRect(0, 0, 320, 240);
  }, 40);
  const stream = c.captureStream(25);
  const peer = new RTCPeerConnection({iceServers: []});
  stream.getTracks().forEach((t) => peer.addTrack(t, stream));
  await peer.setLocalDescription(await peer.createOffer());
  await new Promise((r) => {
    const done = () => { if (peer.iceGatheringState === 'complete') r(); };
    peer.onicegatheringstatechange = done;
    done();
  });
  const auth = {Authorization: 'Bearer __TOKEN__'};
  const resp = await fetch('offer', {method: 'POST', headers: {...auth, 'Content-Type': 'application/json'},
    body: JSON.stringify({sdp: peer.localDescription.sdp, type: 'offer'})});
  if (!resp.ok) return {error: await resp.text()};
  await peer.setRemoteDescription(await resp.json());
  const end = performance.now() + 15000;
  while (peer.connectionState !== 'connected' && performance.now() < end) await new Promise((r) => setTimeout(r, 100));
  const hosts = peer.localDescription.sdp.split('\\r\\n').filter((l) => l.startsWith('a=candidate:'))
    .map((l) => l.split(' ')[4]);
  const stats = await peer.getStats();
  let local = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) {
      local = stats.get(stats.get(s.selectedCandidatePairId).localCandidateId);
    }
  });
  const state = peer.connectionState;
  peer.close();
  clearInterval(paint);
  let sessions = -1;
  for (let i = 0; i < 200 && sessions !== 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    sessions = Object.keys((await (await fetch('stats', {headers: auth})).json()).sessions).length;
  }
  return {hosts, state, localType: local && local.candidateType, sessions, waited: performance.now() - end + 15000};
})()"""


async def grab(page: Page) -> np.ndarray:
    data = await page.evaluate(GRAB_JS)
    assert data, "the remote video shows nothing"
    raw = base64.b64decode(data.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)


async def make_call(page: Page) -> dict:
    """Start the camera, wait for the call, then measure: receive fps, a few frames, the page's state (its
    errors from this call on)."""
    await page.evaluate("window.reenactState.errors.length = 0; document.getElementById('start').click()")
    await page.until("window.reenactState.framesDecoded > 10", 60, "reenacted frames")
    await asyncio.sleep(2.0)  # past the first frames (the stream builds its tracker and source state)
    fps = await page.evaluate(RECEIVE_FPS_JS % int(FPS_WINDOW_S * 1000))
    frames = []
    for _ in range(GRABS):
        frames.append(await grab(page))
        await asyncio.sleep(0.3)
    state = await page.evaluate("JSON.parse(JSON.stringify(window.reenactState))")
    pair_text = await page.evaluate("document.getElementById('stat-pair').textContent")
    return {"fps": fps, "frames": frames, "state": state, "pair_text": pair_text}


def check_call(call: dict, detector, local: str, remote: str) -> None:
    """At least ``MIN_FPS``, the face in every grabbed frame, over the expected ICE pair."""
    state = call["state"]
    print(f"\nreceive fps {call['fps']:.1f}; server {state['serverStats']}; pair {call['pair_text']}")
    assert not state["errors"], state["errors"]
    load = os.getloadavg()[0]  # the reenactment runs on the CPU: other work on the machine lowers the rate
    assert call["fps"] >= MIN_FPS, (
        f"{call['fps']:.1f} fps received (server: {state['serverStats']}; "
        f"1-min load average {load:.1f} on {os.cpu_count()} cores)"
    )
    for i, image in enumerate(call["frames"]):
        assert image.std() > 10, f"grabbed frame {i} is blank"
        assert detector.detect(image), f"no face in grabbed frame {i}"
    assert state["selectedPair"]["local"] == local and state["selectedPair"]["remote"] == remote, state["selectedPair"]
    assert f"{local}:" in call["pair_text"] and f"{remote}:" in call["pair_text"], call["pair_text"]


def test_same_host_over_lan_interface(namespaces_ok, y4m, image_detector, astronaut, tmp_path):
    """(a) Server defaults; the page at http://127.0.0.1:PORT/ on the same host, which also has a LAN interface."""
    photo = tmp_path / "my photo.png"  # the bundled photo at another size: the output canvas must follow it
    cv2.imwrite(str(photo), cv2.resize(astronaut, UPLOAD_SIZE, interpolation=cv2.INTER_AREA))
    ARTIFACTS.mkdir(exist_ok=True)

    async def scenario():
        with netns.lan("a") as (host, _):
            assert netns.interfaces(host) == ["lan0", "lo"]
            assert netns.routes(host) == [netns.SUBNET + ".0/24", netns.MULTICAST]
            async with reenact_serve(host, tmp_path / "serve.log") as (url, _), chromium(host.command(), y4m) as cdp:
                assert url.startswith("http://127.0.0.1:")
                page = await cdp.open_page(url + "/")
                await page.until(PAGE_READY, 30)
                call = await make_call(page)
                # The person picks their photo on the page: the file input uploads it and the stream switches.
                before = (await grab(page)).shape
                root = await page.call("DOM.getDocument")
                node = await page.call("DOM.querySelector", nodeId=root["root"]["nodeId"], selector="#photo")
                await page.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(photo)])
                await page.until("window.reenactState.sourceId !== null", 60, "the upload")
                await page.until(f"document.getElementById('remote').videoWidth !== {before[1]}", 30, "new source")
                after = await grab(page)
                shot = await page.call("Page.captureScreenshot", format="png")
                (ARTIFACTS / "webrtc_browser.png").write_bytes(base64.b64decode(shot["data"]))
                await page.evaluate("document.getElementById('stop').click()")
                return call, before, after

    call, before, after = asyncio.run(scenario())
    check_call(call, image_detector, netns.SUBNET + ".1", netns.SUBNET + ".1")
    assert after.shape != before and image_detector.detect(after), "no face after the upload"


def test_lan_over_https_with_token(namespaces_ok, y4m, image_detector, tmp_path):
    """(b) Server on one host (--host, --token, --self-signed, --max-streams 1), the browser on the other; first a
    browser that hides its addresses connects through peer-reflexive candidates."""

    async def scenario():
        with netns.lan("b") as (server, browser):
            assert netns.interfaces(server) == ["lan0", "lo"] and netns.interfaces(browser) == ["lan1", "lo"]
            assert netns.routes(server) == netns.routes(browser) == [netns.SUBNET + ".0/24", netns.MULTICAST]
            args = ("--host", server.address, "--token", TOKEN, "--self-signed", "--max-streams", "1")
            async with reenact_serve(server, tmp_path / "serve.log", *args) as (url, lines):
                spki = re.search(r"SPKI\) SHA-256, base64: (\S+)", "\n".join(lines)).group(1)
                pin = (f"--ignore-certificate-errors-spki-list={spki}",)
                async with chromium(browser.command(), y4m, pin, grant=False) as cdp:
                    page = await cdp.open_page(f"{url}/#token={TOKEN}")
                    await page.until("document.readyState === 'complete'", 30)
                    hidden = await page.evaluate(HIDDEN_ADDRESS_CALL_JS.replace("__TOKEN__", TOKEN))
                async with chromium(browser.command(), y4m, pin) as cdp:
                    page = await cdp.open_page(url + "/")  # no token yet: the page says what to do
                    await page.until(PAGE_READY + " && window.reenactState.errors.length > 0", 30, "token message")
                    refused = await page.evaluate("document.getElementById('message').textContent")
                    await page.navigate(f"{url}/#token={TOKEN}")
                    call = await make_call(page)
                    secure = await page.evaluate("location.protocol + ' ' + window.isSecureContext")
                    second = await cdp.open_page(f"{url}/#token={TOKEN}")  # one stream too many
                    await second.until(PAGE_READY, 30)
                    await second.evaluate("document.getElementById('start').click()")
                    await second.until("window.reenactState.errors.length > 0", 30, "busy message")
                    busy = await second.evaluate("document.getElementById('message').textContent")
                    return url, lines, hidden, refused, call, secure, busy

    url, lines, hidden, refused, call, secure, busy = asyncio.run(scenario())
    print(f"\nbrowser hiding its address: {hidden}")
    assert hidden["state"] == "connected" and hidden["localType"] == "prflx", hidden
    assert all(host.endswith(".local") for host in hidden["hosts"]), hidden  # never its LAN address
    assert hidden["sessions"] == 0, "the server kept the session after the browser hung up"
    assert url.startswith(f"https://{netns.SUBNET}.1:")
    assert re.search(r"fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2}", lines[1]), lines
    assert secure == "https: true"
    print(f"\nmessages: {refused!r} {busy!r}")
    assert "refused the token" in refused and "--token" in refused
    assert "busy" in busy and "--max-streams" in busy
    check_call(call, image_detector, netns.SUBNET + ".2", netns.SUBNET + ".1")


def test_page_explains_ice_failure_and_camera_refusal(namespaces_ok, y4m, tmp_path):
    """(c) A server the browser cannot reach over ICE (--ice-loopback-only), then a refused camera."""

    async def scenario():
        with netns.lan("c") as (host, _):
            async with (
                reenact_serve(host, tmp_path / "serve.log", "--ice-loopback-only") as (url, _),
                chromium(host.command(), y4m, grant=False) as cdp,
            ):
                for name in ("camera", "microphone"):
                    await cdp.call("Browser.setPermission", permission={"name": name}, setting="granted", origin=url)
                page = await cdp.open_page(url + "/")
                await page.until(PAGE_READY, 30)
                await page.evaluate("document.getElementById('start').click()")
                clicked = time.monotonic()
                await page.until("window.reenactState.errors.length > 0", 30, "ICE failure message")
                waited = time.monotonic() - clicked
                ice = await page.evaluate(
                    "[document.getElementById('message').textContent, document.getElementById('status').textContent]"
                )
                await cdp.call("Browser.setPermission", permission={"name": "camera"}, setting="denied", origin=url)
                await page.evaluate("document.getElementById('start').click()")
                await page.until("window.reenactState.errors.length > 1", 30, "camera message")
                camera = await page.evaluate("document.getElementById('message').textContent")
                return ice, waited, camera

    (ice, status), waited, camera = asyncio.run(scenario())
    print(f"\nmessages after {waited:.1f} s: {ice!r} {camera!r}")
    assert status == "failed" and "ICE" in ice and "--ice-loopback-only" in ice
    assert "permission" in camera and "allow the camera" in camera
