"""Bad requests get a 4xx JSON error and the server keeps serving; past the stream limit, 503."""

from __future__ import annotations

import asyncio

import aiohttp
import cv2
import numpy as np

from streamer.webrtc.client import LoopbackClient

GARBAGE_SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\nm=video banana\r\na=candidate:garbage\r\n"


async def _post(http, url, **kwargs) -> tuple[int, dict]:
    async with http.post(url, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None)


def test_bad_offers_and_uploads(serve, live_config):
    no_face = cv2.imencode(".png", np.full((200, 300, 3), 127, np.uint8))[1].tobytes()
    big = b"\xff\xd8" + b"0" * (live_config.max_upload_bytes + 10)

    async def scenario():
        async with serve() as (_, url), aiohttp.ClientSession() as http:
            answers = {
                "garbage sdp": await _post(http, f"{url}/offer", json={"sdp": GARBAGE_SDP, "type": "offer"}),
                "random sdp": await _post(http, f"{url}/offer", json={"sdp": "hello", "type": "offer"}),
                "answer type": await _post(http, f"{url}/offer", json={"sdp": "v=0", "type": "answer"}),
                "not json": await _post(
                    http, f"{url}/offer", data="{nope", headers={"Content-Type": "application/json"}
                ),
                "form": await _post(http, f"{url}/offer", data={"sdp": "x"}),
                "huge sdp": await _post(http, f"{url}/offer", json={"sdp": "a" * 100_000, "type": "offer"}),
                "unknown source": await _post(
                    http, f"{url}/offer", json={"sdp": GARBAGE_SDP, "type": "offer", "source": "nope"}
                ),
                "text upload": await _post(http, f"{url}/sources", data=b"hi", headers={"Content-Type": "text/plain"}),
                "not an image": await _post(
                    http, f"{url}/sources", data=b"GIF89a-not-really", headers={"Content-Type": "image/gif"}
                ),
                "empty upload": await _post(http, f"{url}/sources", data=b"", headers={"Content-Type": "image/png"}),
                "no face": await _post(http, f"{url}/sources", data=no_face, headers={"Content-Type": "image/png"}),
                "oversized": await _post(http, f"{url}/sources", data=big, headers={"Content-Type": "image/jpeg"}),
            }
            async with http.get(f"{url}/") as resp:
                page = (resp.status, await resp.text())
            async with http.get(f"{url}/stats") as resp:
                stats = await resp.json()
            return answers, page, stats

    answers, page, stats = asyncio.run(scenario())
    expected = {
        "garbage sdp": 400,
        "random sdp": 400,
        "answer type": 400,
        "not json": 400,
        "form": 415,
        "huge sdp": 413,
        "unknown source": 400,
        "text upload": 415,
        "not an image": 400,
        "empty upload": 400,
        "no face": 400,
        "oversized": 413,
    }
    assert {k: v[0] for k, v in answers.items()} == expected
    assert all(isinstance(body.get("error"), str) and body["error"] for _, body in answers.values())
    assert "no face" in answers["no face"][1]["error"]
    assert page[0] == 200 and "reenact" in page[1]
    assert stats["sessions"] == {}


def test_token_required(serve):
    async def scenario():
        async with serve(token="s3cret") as (_, url), aiohttp.ClientSession() as http:
            offer = {"sdp": GARBAGE_SDP, "type": "offer"}
            none = await _post(http, f"{url}/offer", json=offer)
            wrong = await _post(http, f"{url}/offer", json=offer, headers={"Authorization": "Bearer nope"})
            right = await _post(http, f"{url}/offer", json=offer, headers={"Authorization": "Bearer s3cret"})
            async with http.get(f"{url}/") as resp:
                page = resp.status
            async with http.get(f"{url}/config") as resp:
                config = resp.status
            return none[0], wrong[0], right[0], page, config

    assert asyncio.run(scenario()) == (401, 401, 400, 200, 401)


def test_stream_limit(serve, driver_frames):
    frames, fps = driver_frames

    async def scenario():
        async with serve(max_streams=1) as (server, url):
            first = LoopbackClient(url, frames, fps)
            await first.connect()
            second = LoopbackClient(url, frames, fps)
            try:
                await second.connect()
                refused = None
            except RuntimeError as exc:
                refused = str(exc)
            await second.pc.close()
            await first.close()
            return refused

    refused = asyncio.run(scenario())
    assert refused is not None and "503" in refused and "full" in refused
