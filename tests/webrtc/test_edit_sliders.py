"""The editing controls on the live server: the page's sliders, their data-channel message, the server applying it.

The page part runs a stock headless Chromium on the page served from 127.0.0.1 with no call (the sliders'
script alone: what it sends for a slider moved, where the sliders start); the call part sends the same
message from a real aiortc peer on loopback and watches the reenacted frames change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json

import aiohttp
import numpy as np
import pytest
from chromium_pipe import CHROMIUM, chromium
from live_helpers import until

from streamer.edit_controls import EditControls
from streamer.errors import InputError
from streamer.live.stream import SetEdits
from streamer.webrtc.client import LoopbackClient
from streamer.webrtc.control import parse_control


def test_edits_messages_parse_into_checked_controls(library):
    message = {"type": "edits", "controls": {"yaw": 12, "eyes_open": None, "lips_open": 0.4, "motion_from": "pose"}}
    assert parse_control(json.dumps(message), library) == SetEdits(
        EditControls(yaw=12, lips_open=0.4, motion_from="pose")
    )
    assert parse_control('{"type": "edits", "controls": {}}', library) == SetEdits(EditControls())
    bad = (
        '{"type": "edits"}',
        '{"type": "edits", "controls": [1]}',
        '{"type": "edits", "controls": {"yaw": NaN}}',
        '{"type": "edits", "controls": {"yaw": 90}}',
        '{"type": "edits", "controls": {"yaw": "10"}}',
        '{"type": "edits", "controls": {"gaze": 1}}',
        '{"type": "edits", "controls": {"motion_from": "all"}}',
    )
    for text in bad:
        with pytest.raises(InputError) as err:
            parse_control(text, library)
        assert "\n" not in str(err.value)


def test_edits_over_the_data_channel_change_the_next_frames(serve, live_config, driver_frames):
    frames, fps = driver_frames
    errors: list[str] = []

    async def scenario():
        start = EditControls(yaw=-10)
        async with serve(live=dataclasses.replace(live_config, edits=start)) as (_, url):
            async with aiohttp.ClientSession() as http, http.get(f"{url}/config") as resp:
                assert (await resp.json())["edits"] == dataclasses.asdict(start)
            client = LoopbackClient(url, frames, fps)
            await client.connect()
            client.channel.on("message", lambda m: errors.append(json.loads(m).get("error", "")))
            assert await client.wait_frames(12, 30)
            before = client.result.last_image
            client.send_control({"type": "edits", "controls": {"yaw": 25, "lips_open": 0.8}})
            seen = client.result.frames
            assert await client.wait_frames(seen + 21, 30)
            after = client.result.last_image
            client.send_control({"type": "edits", "controls": {"yaw": float("nan")}})
            await until(lambda: any("--yaw" in e for e in errors), 10, every=0.05)
            await client.close()
            return before, after

    before, after = asyncio.run(scenario())
    assert np.abs(after.astype(np.float32) - before).mean() > 2.0, "the edits did not change the stream"
    assert any("--yaw must be between" in e for e in errors), errors


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (tests/install_browser.sh, or apt-get install chromium)")
def test_page_sliders_send_the_whole_set_and_start_where_the_server_does(serve, live_config, tmp_path):
    y4m = tmp_path / "unused.y4m"  # the page is not asked for the camera here
    y4m.write_bytes(b"")

    async def scenario():
        start = dataclasses.replace(live_config, edits=EditControls(yaw=10, eyes_open=0.5))
        async with serve(live=start) as (_, url), chromium([], y4m) as cdp:
            page = await cdp.open_page()
            await page.navigate(url + "/")
            await page.until(
                "window.reenactEdits && window.reenactEdits.controls && window.reenactEdits.controls.yaw === 10",
                20,
                "sliders set from /config",
            )
            initial = await page.evaluate("JSON.stringify(window.reenactEdits.controls)")
            await page.evaluate("window.sentMessages = []; send = (m) => window.sentMessages.push(m); true")
            await page.evaluate(
                "const s = document.getElementById('edit-pitch'); s.value = -12; s.dispatchEvent(new Event('input'));"
                "const l = document.getElementById('edit-lips_open-on'); l.checked = true;"
                "l.dispatchEvent(new Event('input')); true"
            )
            await page.until("window.sentMessages.length > 0", 10, "an edits message")
            sent = await page.evaluate("JSON.stringify(window.sentMessages[window.sentMessages.length - 1])")
            await page.evaluate("document.getElementById('edit-reset').click(); true")
            await page.until(
                "window.sentMessages.length > 1 && "
                "window.sentMessages[window.sentMessages.length - 1].controls.yaw === 0",
                10,
                "reset",
            )
            # a new call's data channel opens (app.js's event): the whole set goes to its server session
            await page.evaluate("window.dispatchEvent(new Event('reenact-channel-open')); true")
            await page.until("window.sentMessages.length > 2", 10, "the set sent to a new call")
            return json.loads(initial), json.loads(sent)

    initial, sent = asyncio.run(scenario())
    assert initial["yaw"] == 10 and initial["eyes_open"] == 0.5 and initial["lips_open"] is None
    assert sent["type"] == "edits"
    controls = sent["controls"]
    assert controls["pitch"] == -12 and controls["yaw"] == 10 and controls["lips_open"] == 0.3
    assert EditControls(**controls) == EditControls(yaw=10, pitch=-12, eyes_open=0.5, lips_open=0.3)
