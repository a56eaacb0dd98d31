"""Small parts of the live path: slots, ICE restriction, control messages, serve's option checks."""

from __future__ import annotations

import asyncio
import threading

import pytest

from streamer.cli import main
from streamer.errors import InputError
from streamer.live.slots import AsyncLatestSlot, LatestSlot
from streamer.live.stream import Reanchor, SetPasteBack, SetSource
from streamer.webrtc.control import parse_control
from streamer.webrtc.ice import LoopbackConnection, candidate_hosts, is_loopback, rtc_configuration


def test_latest_slot_keeps_newest_and_counts_drops():
    slot: LatestSlot[int] = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.get(timeout=0) == 4 and slot.dropped == 4
    assert slot.get(timeout=0.01) is None
    got = []
    t = threading.Thread(target=lambda: got.append(slot.get()))
    t.start()
    slot.close()
    t.join(2)
    assert got == [None]


def test_async_slot():
    async def scenario():
        slot: AsyncLatestSlot[int] = AsyncLatestSlot()
        slot.put(1)
        slot.put(2)
        first = await slot.get()
        waiter = asyncio.create_task(slot.get())
        await asyncio.sleep(0)
        asyncio.get_running_loop().call_soon_threadsafe(slot.put, 3)
        return first, await asyncio.wait_for(waiter, 1), slot.dropped

    assert asyncio.run(scenario()) == (2, 3, 1)


def test_loopback_helpers():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("192.0.2.2") and not is_loopback("abc.local") and not is_loopback("0.0.0.0")
    assert rtc_configuration([]).iceServers == []  # never None: aiortc would add a public STUN server
    sdp = "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=candidate:2 1 udp 1 10.0.0.1 5001 typ host\r\n"
    assert candidate_hosts(sdp) == ["127.0.0.1", "10.0.0.1"]


def test_loopback_connection_gathers_and_accepts_loopback_only():
    import aioice

    async def scenario():
        conn = LoopbackConnection(ice_controlling=True)
        await conn.gather_candidates()
        hosts = [c.host for c in conn.local_candidates]
        for host in ("10.1.2.3", "abcd.local", "127.0.0.1"):
            cand = aioice.Candidate("1", 1, "udp", 1, host, 9999, "host")
            await conn.add_remote_candidate(cand)
        remote = [c.host for c in conn.remote_candidates]
        await conn.close()
        return hosts, remote

    hosts, remote = asyncio.run(scenario())
    assert hosts == ["127.0.0.1"] and remote == ["127.0.0.1"]


def test_parse_control(library):
    assert parse_control('{"type": "reanchor"}', library) == Reanchor()
    assert parse_control('{"type": "paste_back", "value": false}', library) == SetPasteBack(False)
    assert isinstance(parse_control('{"type": "source", "id": "default"}', library), SetSource)
    for bad in ("nope", "[]", '{"type": "paste_back", "value": 1}', '{"type": "x"}', '{"type": "source", "id": "z"}'):
        with pytest.raises(InputError):
            parse_control(bad, library)
    with pytest.raises(InputError):
        parse_control("x" * 5000, library)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["serve", "--host", "0.0.0.0"], "--token"),
        (["serve", "--ice-server", "stun:stun.example.org"], "loopback"),
        (["serve", "--host", "10.0.0.5", "--token", "t", "--ice-server", "http://x"], "stun:"),
        (["serve", "--max-streams", "0"], "--max-streams"),
    ],
)
def test_serve_refuses_unsafe_options(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_serve_command_starts_serves_and_stops():
    """``reenact serve --port 0`` prints its URL, serves the page, and exits 0 on SIGTERM."""
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "streamer.cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        match = re.search(r"serving on (http://127\.0\.0\.1:\d+)/", line)
        assert match, line
        with urllib.request.urlopen(match.group(1) + "/", timeout=10) as resp:
            assert resp.status == 200 and b"reenact live" in resp.read()
        with urllib.request.urlopen(match.group(1) + "/static/app.js", timeout=10) as resp:
            assert b"RTCPeerConnection" in resp.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_reenacted_track_sends_the_newest_frame_with_monotonic_timestamps():
    from fractions import Fraction

    import numpy as np
    from av import VideoFrame

    from streamer.webrtc.tracks import ReenactedTrack

    def frame(pts: int) -> VideoFrame:
        f = VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="bgr24")
        f.pts, f.time_base = pts, Fraction(1, 90000)
        return f

    async def scenario() -> list[int]:
        track = ReenactedTrack()
        sent = []
        for batch in ((3000, 6000), (9000,), (6000, 9000, 12000), (15000,)):  # stale and repeated pts mixed in
            for pts in batch:
                track.offer(frame(pts))
            sent.append((await track.recv()).pts)
        assert track.out_of_order == 2 and track.slot.dropped == 1 and track.first_sent_pts == 6000
        return sent

    assert asyncio.run(scenario()) == [6000, 9000, 12000, 15000]
