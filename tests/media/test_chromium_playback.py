"""Outputs play in Chromium (issue 16): the browser decodes every container it supports to its end, at the
output's duration and frame size. MP4 (H.264 + AAC) and WebM (VP9 + Opus) must play; Matroska and MOV
are reported, not required (Chromium's support for them varies by build)."""

from __future__ import annotations

import asyncio
import json

import av
import pytest

from streamer.convert import ConvertOptions, convert
from streamer.examples import example_source_path
from tests.media.clips import ClipSpec
from tests.webrtc.chromium_pipe import CHROMIUM, chromium

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (tests/install_browser.sh)")

#: A page that plays ``?src=`` muted to its end and writes what it saw into ``window.played``.
PLAYER = """<html><body><video id="v" muted playsinline></video><script>
const v = document.getElementById('v');
let frames = 0;
const count = () => { frames++; v.requestVideoFrameCallback(count); };
v.requestVideoFrameCallback(count);
v.onerror = () => { window.played = {error: v.error ? v.error.code + ' ' + v.error.message : 'unknown'}; };
v.onended = () => { window.played = {duration: v.duration, frames, width: v.videoWidth, height: v.videoHeight}; };
v.src = new URLSearchParams(location.search).get('src');
v.play().catch(e => { window.played = {error: String(e)}; });
</script></body></html>"""
MUST_PLAY = (".mp4", ".webm")
FRAMES = 25


async def _play_all(page_path, videos) -> dict[str, dict]:
    results = {}
    autoplay = ("--autoplay-policy=no-user-gesture-required",)
    async with chromium([], page_path.parent / "none.y4m", extra=autoplay) as cdp:  # no camera is used
        page = await cdp.open_page()
        for video in videos:
            await page.navigate(f"file://{page_path}?src=file://{video}")
            try:
                await page.until("window.played !== undefined", timeout=60, describe=f"{video.name} to end")
                results[video.suffix] = json.loads(await page.evaluate("JSON.stringify(window.played)"))
            except AssertionError as exc:
                results[video.suffix] = {"error": str(exc)[:200]}
    return results


def test_outputs_play_in_chromium(make_driver, tmp_path):
    driver, _ = make_driver(ClipSpec("webm_vp8_opus", ".webm", "libvpx", audio_codec="libopus", frames=FRAMES))
    outputs = []
    for suffix in (".mp4", ".webm", ".mkv", ".mov"):
        out = tmp_path / f"out{suffix}"
        convert(ConvertOptions(example_source_path(), driver, out, generator="geometric", progress=False, max_side=256))
        outputs.append(out)
    page = tmp_path / "player.html"
    page.write_text(PLAYER)
    played = asyncio.run(_play_all(page, outputs))
    print(played)  # shown with -s: which containers this build plays
    for out in outputs:
        with av.open(str(out)) as container:
            stream = container.streams.video[0]
            size = (stream.codec_context.width, stream.codec_context.height)
            duration = float(container.duration / av.time_base)
        got = played[out.suffix]
        if out.suffix not in MUST_PLAY and "error" in got:
            continue  # a container this Chromium build does not play
        assert "error" not in got, (out.name, got)
        assert (got["width"], got["height"]) == size, (out.name, got)
        assert abs(got["duration"] - duration) <= 0.1, (out.name, got, duration)
        assert got["frames"] >= FRAMES // 2, (out.name, got)  # presented frames; a busy machine drops some
