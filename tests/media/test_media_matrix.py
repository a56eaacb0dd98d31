"""Issue 16's matrix: drivers in every container, codec, pixel format, orientation and audio layout users
bring, converted to every output container. Each output must hold every input frame over the input's
span, keep the audio (copied or re-encoded) within one frame of its place against the video, and open
in PyAV. The default suite runs each driver to MP4 and each output container from a few drivers; the
full cross product is marked slow."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from streamer.convert import ConvertOptions, convert
from streamer.examples import example_source_path
from streamer.media.formats import OUTPUT_FORMATS
from streamer.media.probe import av_offset
from tests.media.clips import ClipSpec

DRIVERS = [
    ClipSpec("webm_vp8_opus", ".webm", "libvpx", audio_codec="libopus"),  # what a browser's MediaRecorder writes
    ClipSpec("mkv_h264_aac_bframes", ".mkv", video_options=(("bf", "3"),)),
    ClipSpec("avi_mpeg4_mp3_tb25", ".avi", "mpeg4", size=(160, 120), audio_codec="libmp3lame"),
    ClipSpec("mov_h264_pcm", ".mov", audio_codec="pcm_s16le"),
    ClipSpec("ts_h264_mp2", ".ts", audio_codec="mp2"),
    ClipSpec("mp4_yuvj420p", ".mp4", pix_fmt="yuvj420p"),
    ClipSpec("mkv_yuv422p_vorbis", ".mkv", pix_fmt="yuv422p", audio_codec="vorbis"),
    ClipSpec("mp4_yuv444p_silent", ".mp4", pix_fmt="yuv444p", audio_codec=None),
    ClipSpec("mkv_10bit", ".mkv", pix_fmt="yuv420p10le"),
    ClipSpec("mkv_gray", ".mkv", "ffv1", pix_fmt="gray"),
    ClipSpec("mkv_odd_size", ".mkv", "ffv1", pix_fmt="yuv444p", size=(131, 127)),
    ClipSpec("mp4_one_frame", ".mp4", frames=1),
    ClipSpec("mp4_faceless_start", ".mp4", faceless=4),
    ClipSpec("mp4_phone_rotated", ".mp4", size=(96, 128), rotation=-90),
    ClipSpec("mkv_vfr", ".mkv", vfr=True),
    ClipSpec("mp4_audio_before_video", ".mp4", audio_start=-0.2),
    ClipSpec("mkv_opus_after_video", ".mkv", audio_start=0.2, audio_codec="libopus"),
]
OUTPUTS = sorted({".mp4", ".mov", ".mkv", ".webm"} & set(OUTPUT_FORMATS))
_BY_NAME = {d.name: d for d in DRIVERS}
#: The default suite: every driver to MP4, and every output from three unlike drivers.
_ALL_OUTPUTS_FROM = ("webm_vp8_opus", "mov_h264_pcm", "mp4_audio_before_video")
FAST = [(d.name, ".mp4") for d in DRIVERS] + [(n, out) for n in _ALL_OUTPUTS_FROM for out in OUTPUTS if out != ".mp4"]
SLOW = [(d.name, out) for d in DRIVERS for out in OUTPUTS if (d.name, out) not in FAST]
EXPECTED_CODECS = {".mp4": "h264", ".mov": "h264", ".mkv": "h264", ".webm": "vp9"}
WEBM_AUDIO = {"opus", "vorbis"}


def _frame_times(path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.time) for f in container.decode(video=0)]


def _streams(path) -> tuple[str, str | None]:
    with av.open(str(path)) as container:
        audio = container.streams.audio
        return container.streams.video[0].codec_context.name, audio[0].codec_context.name if audio else None


def check_conversion(make_driver, tmp_path, name: str, suffix: str) -> None:
    spec = _BY_NAME[name]
    driver, facts = make_driver(spec)
    out = tmp_path / f"out{suffix}"
    summary = convert(
        ConvertOptions(example_source_path(), driver, out, generator="geometric", progress=False, max_side=256)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temp file left
    frame = 1.0 / spec.fps
    times = _frame_times(out)  # decodes every frame: the output opens and plays in PyAV
    assert summary.frames == len(times) == facts.frames
    assert summary.faces == facts.frames - spec.faceless  # rotated drivers are upright: the face is found
    # Every frame keeps its time (variable rates and gaps included; Matroska and WebM round to 1 ms), so
    # the span from the first frame to the end of the last matches the driver's as a player decodes it.
    driver_times = _frame_times(driver)
    assert abs(facts.duration - (driver_times[-1] - driver_times[0] + frame)) <= frame + 1e-6  # as written
    moved = [(t - times[0]) - (d - driver_times[0]) for t, d in zip(times, driver_times, strict=True)]
    assert max(map(abs, moved)) <= 0.002, moved
    assert times == sorted(times) and len(set(times)) == len(times)
    video_codec, audio_codec = _streams(out)
    assert video_codec == EXPECTED_CODECS[suffix]
    if not facts.audio:
        assert audio_codec is None and summary.audio is None
        return
    assert audio_codec is not None, "the driver's audio was dropped"
    if suffix == ".webm":
        assert audio_codec in WEBM_AUDIO
    offset = av_offset(driver, out)
    assert offset is not None and abs(offset) <= frame, offset
    assert summary.av_offset == pytest.approx(offset)


@pytest.mark.parametrize(("name", "suffix"), FAST, ids=[f"{n}-to-{s[1:]}" for n, s in FAST])
def test_driver_converts(make_driver, tmp_path, name, suffix):
    check_conversion(make_driver, tmp_path, name, suffix)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "suffix"), SLOW, ids=[f"{n}-to-{s[1:]}" for n, s in SLOW])
def test_driver_converts_full_matrix(make_driver, tmp_path, name, suffix):
    check_conversion(make_driver, tmp_path, name, suffix)


def test_matrix_covers_issue_16():
    """Every codec, layout and output the issue lists is in the matrix (a guard against trimming it)."""
    assert OUTPUTS == [".mkv", ".mov", ".mp4", ".webm"]
    audio = {d.audio_codec for d in DRIVERS}
    assert {"aac", "libopus", "libmp3lame", "vorbis", "pcm_s16le", None} <= audio
    pix = {d.pix_fmt for d in DRIVERS}
    assert {"yuvj420p", "yuv422p", "yuv444p", "yuv420p10le", "gray"} <= pix
    assert any(d.size[0] % 2 for d in DRIVERS) and any(d.frames == 1 for d in DRIVERS)
    assert any(d.rotation for d in DRIVERS) and any(d.vfr for d in DRIVERS) and any(d.faceless for d in DRIVERS)
    assert any(d.audio_start < 0 for d in DRIVERS) and any(d.audio_start > 0 for d in DRIVERS)
    assert any(d.time_base == Fraction(1, 25) or (d.suffix == ".avi" and d.fps == 25) for d in DRIVERS)
