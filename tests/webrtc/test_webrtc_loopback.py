"""Two real aiortc peers on loopback: a driver clip goes in, reenacted frames of the source come back."""

from __future__ import annotations

import asyncio

import aiohttp
import cv2
import numpy as np
import pytest
from live_helpers import until

from streamer.webrtc.client import LoopbackClient


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two images' grey levels at 128x128."""
    ga, gb = (cv2.resize(cv2.cvtColor(x, cv2.COLOR_BGR2GRAY), (128, 128)).astype(np.float64) for x in (a, b))
    ga, gb = ga - ga.mean(), gb - gb.mean()
    return float((ga * gb).sum() / np.sqrt((ga * ga).sum() * (gb * gb).sum()))


def test_reenacted_frames_come_back(serve, driver_frames, library, image_detector, stream_threads):
    frames, fps = driver_frames
    source = library.get(None)

    async def scenario():
        async with serve() as (server, url):
            client = LoopbackClient(url, frames, fps)
            await client.connect()
            assert await client.wait_frames(40, timeout=30), f"only {client.result.frames} frames came back"
            await asyncio.sleep(1.5)  # a stats message with the timeline origin
            result = await client.close()
            assert await until(lambda: not server.sessions, 5, every=0.05), "session not closed after hang-up"
            return result

    result = asyncio.run(scenario())
    out = result.last_image
    print(
        f"\nloopback: {result.frames} frames, {result.fps:.1f} fps, latency p50 {result.latency(50):.0f} ms "
        f"p95 {result.latency(95):.0f} ms; server {result.server_stats}"
    )
    assert out.shape[:2] == source.canvas.shape[:2]
    driver = frames[0].to_ndarray(format="bgr24")
    assert _similarity(out, source.canvas) > 0.6, "the output does not look like the source photo"
    assert np.abs(cv2.resize(out, driver.shape[1::-1]).astype(int) - driver).mean() > 3, "output equals the input"
    faces = image_detector.detect(out)
    assert faces, "no face in the reenacted frame"
    centre, src_centre = faces[0].points[:, :2].mean(0), source.landmarks.points[:, :2].mean(0)
    assert np.linalg.norm(centre - src_centre) < 0.3 * source.landmarks.size
    assert result.server_stats["faces"] > 0
    assert result.fps > 5, f"{result.fps:.1f} fps"
    assert result.latencies_ms and result.latency(50) < 1500
    assert set(result.local_candidates) == {"127.0.0.1"} and set(result.remote_candidates) == {"127.0.0.1"}
    assert result.selected_pair == ("127.0.0.1", "127.0.0.1")
    assert not stream_threads()


def test_controls_and_per_peer_sources(serve, driver_frames, library, astronaut):
    """Two peers at once, each with its own source; paste-back off switches one to the crop."""
    frames, fps = driver_frames
    flipped = cv2.imencode(".png", astronaut[:, ::-1])[1].tobytes()

    async def scenario():
        async with serve() as (server, url):
            async with (
                aiohttp.ClientSession() as http,
                http.post(f"{url}/sources", data=flipped, headers={"Content-Type": "image/png"}) as resp,
            ):
                assert resp.status == 200, await resp.text()
                uploaded = await resp.json()
            a, b = LoopbackClient(url, frames, fps), LoopbackClient(url, frames, fps)
            await a.connect()
            await b.connect(source=uploaded["id"])
            assert len(server.sessions) == 2
            assert await a.wait_frames(15, 30) and await b.wait_frames(15, 30)
            image_a, image_b = a.result.last_image, b.result.last_image
            await asyncio.sleep(0.5)
            a.send_control({"type": "reanchor"})
            a.send_control({"type": "paste_back", "value": False})
            size = library.get(None).crop.shape[:2]
            assert await until(lambda: a.result.last_image.shape[:2] == size, 10, every=0.05), "crop-only never arrived"
            b.send_control({"type": "nonsense"})
            await asyncio.sleep(1.2)
            await a.close()
            await b.close()
            return uploaded, image_a, image_b

    uploaded, image_a, image_b = asyncio.run(scenario())
    flipped_canvas = library.get(uploaded["id"]).canvas
    canvas = library.get(None).canvas
    assert _similarity(image_a, canvas) > _similarity(image_a, flipped_canvas)
    assert _similarity(image_b, flipped_canvas) > _similarity(image_b, canvas)


@pytest.mark.parametrize("drop_audio", [False, True])
def test_audio_is_returned_or_dropped(serve, driver_frames, drop_audio):
    """The browser's audio comes back unchanged, or not at all with --drop-audio."""
    from aiortc.mediastreams import AudioStreamTrack

    frames, fps = driver_frames

    async def scenario():
        async with serve(drop_audio=drop_audio) as (_, url):
            client = LoopbackClient(url, frames, fps)
            client.pc.addTrack(AudioStreamTrack())  # aiortc's silence generator as the microphone
            kinds = []
            client.pc.on("track", lambda track: kinds.append(track.kind))
            await client.connect()
            assert await client.wait_frames(5, 30)
            receivers = {t.kind: t.receiver for t in client.pc.getTransceivers()}
            await asyncio.sleep(1.0)
            audio_stats = await receivers["audio"].getStats()
            await client.close()
            packets = sum(getattr(s, "packetsReceived", 0) for s in audio_stats.values() if s.type == "inbound-rtp")
            return packets

    packets = asyncio.run(scenario())
    assert (packets == 0) if drop_audio else (packets > 0)
