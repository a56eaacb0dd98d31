from fractions import Fraction

import av
import numpy as np
import pytest

from streamer.errors import InputError
from streamer.media.video_file import VideoFileSink, VideoFileSource, VideoFrame


def frames_and_packets(path):
    """Frames and audio-packet kinds (packets must not outlive their container: PyAV would crash)."""
    src = VideoFileSource(path)
    items = list(src.items())
    frames = [i for i in items if isinstance(i, VideoFrame)]
    packet_kinds = [i.stream.type for i in items if not isinstance(i, VideoFrame)]
    src.close()
    return src.info, frames, packet_kinds


class TestSource:
    def test_decodes_every_frame_with_increasing_pts(self, example_driver):
        info, frames, packets = frames_and_packets(example_driver)
        assert len(frames) == 50 and info.rate == 25
        pts = [f.pts for f in frames]
        assert pts == sorted(pts) and len(set(pts)) == len(pts)
        assert frames[0].image.shape == (info.height, info.width, 3)
        assert packets and all(kind == "audio" for kind in packets)

    def test_max_seconds_cuts_video_and_audio(self, example_driver):
        src = VideoFileSource(example_driver)
        items = list(src.items(max_seconds=1.0))
        frames = [i for i in items if isinstance(i, VideoFrame)]
        audio_end = max(float(i.pts * i.time_base) for i in items if not isinstance(i, VideoFrame))
        src.close()
        assert len(frames) == 25
        assert audio_end < 1.0

    def test_every_kth_frame_keeps_indices_and_times(self, example_driver):
        def frames(every: int) -> list:
            source = VideoFileSource(example_driver)
            try:
                return [f for f in source.items(max_seconds=2.0, every=every) if isinstance(f, VideoFrame)]
            finally:
                source.close()

        full, sparse = frames(1), frames(7)
        assert [f.index for f in sparse] == list(range(0, len(full), 7))
        for f in sparse:
            assert f.pts == full[f.index].pts and np.array_equal(f.image, full[f.index].image)

    def test_missing_and_corrupt_files(self, tmp_path):
        with pytest.raises(InputError, match="not found"):
            VideoFileSource(tmp_path / "nope.mp4")
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(b"\x00\x01garbage" * 100)
        with pytest.raises(InputError, match="cannot open video"):
            VideoFileSource(bad)


class TestSink:
    def test_atomic_write_and_audio_copy(self, example_driver, tmp_path):
        _, frames, packets = frames_and_packets(example_driver)
        out = tmp_path / "out.mp4"
        src = VideoFileSource(example_driver)  # the audio template must come from an open container
        info = src.info
        sink = VideoFileSink(out, info.width, info.height, info.rate, info.audio, info.origin)
        audio_codec, audio_rate = info.audio.codec_context.name, info.audio.codec_context.sample_rate
        for item in src.items():
            if isinstance(item, VideoFrame):
                assert not out.exists()  # nothing at the final path until finish()
                sink.write(255 - item.image, item.time)
            else:
                sink.write_audio(item)
        src.close()
        sink.finish()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # temp file renamed away
        with av.open(str(out)) as c:
            v, a = c.streams.video[0], c.streams.audio[0]
            assert (v.codec_context.name, v.codec_context.pix_fmt) == ("h264", "yuv420p")
            assert (a.codec_context.name, a.codec_context.sample_rate) == (audio_codec, audio_rate)
            n_frames = sum(1 for _ in c.decode(video=0))
        assert n_frames == len(frames)
        with av.open(str(out)) as c:
            n_audio = sum(1 for p in c.demux(audio=0) if p.dts is not None)
        assert n_audio == len(packets)

    def test_abort_leaves_nothing(self, tmp_path):
        out = tmp_path / "out.mp4"
        sink = VideoFileSink(out, 64, 48, Fraction(25))
        sink.write(np.zeros((48, 64, 3), np.uint8), 0)
        sink.abort()
        assert list(tmp_path.iterdir()) == []

    def test_odd_sizes_are_refused(self, tmp_path):
        with pytest.raises(ValueError, match="even"):
            VideoFileSink(tmp_path / "o.mp4", 63, 48, Fraction(25))


def _write_clip(path, frames, fps=25, times=None, rotation=0):
    """An H.264 clip of BGR ``frames`` in a 1/1000 time base; ``times`` in seconds (default i / fps);
    ``rotation``: display matrix."""
    tb = Fraction(1, 1000)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = tb
        if rotation:
            video.set_display_rotation(rotation)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = round((times[i] if times else i / fps) / tb), tb
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
    return path


class TestOrientationAndTiming:
    def test_display_rotation_comes_out_upright(self, tmp_path):
        """A phone's portrait clip: stored sideways (turned 90 degrees counter-clockwise) with a display
        matrix turning it back; the source gives upright frames with the marker in the top-left corner."""
        upright = np.zeros((96, 64, 3), np.uint8)
        upright[:16, :16] = (255, 255, 255)  # top-left marker
        stored = np.ascontiguousarray(np.rot90(upright, 1))
        path = _write_clip(tmp_path / "phone.mp4", [stored] * 3, rotation=-90)
        src = VideoFileSource(path)
        frames = [i for i in src.items() if isinstance(i, VideoFrame)]
        src.close()
        assert (src.info.width, src.info.height, src.info.rotation) == (64, 96, 90)  # turned clockwise
        assert frames[0].image.shape == (96, 64, 3)
        assert frames[0].image[:16, :16].mean() > 200 and frames[0].image[-16:, -16:].mean() < 50

    @pytest.mark.parametrize(
        ("degrees", "hflip", "vflip", "corner"),
        [(90, False, False, "bottom-left"), (180, False, False, "bottom-right"), (0, True, False, "top-right"),
         (0, False, True, "bottom-left"), (-90, True, False, "top-left"), (90, True, False, "bottom-right")],
    )  # fmt: skip
    def test_display_matrix_turns_and_mirrors_as_players_do(self, tmp_path, degrees, hflip, vflip, corner):
        """Stored with a marker in the top-left corner; where FFmpeg's autorotate shows it (a turn with a
        mirror is a transpose or anti-transpose: its transpose=cclock_flip/clock_flip)."""
        stored = np.zeros((48, 64, 3), np.uint8)
        stored[:12, :12] = 255
        path = tmp_path / "m.mp4"
        with av.open(str(path), "w") as out:
            video = out.add_stream("libx264", rate=25)
            video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
            video.set_display_rotation(degrees, hflip=hflip, vflip=vflip)
            frame = av.VideoFrame.from_ndarray(stored, format="bgr24")
            frame.pts = 0
            for packet in [*video.encode(frame), *video.encode(None)]:
                out.mux(packet)
        src = VideoFileSource(path)
        (image,) = [i.image for i in src.items() if isinstance(i, VideoFrame)]
        src.close()
        h, w = image.shape[:2]
        assert (w, h) == ((48, 64) if degrees % 180 else (64, 48))
        rows = slice(0, 12) if corner.startswith("top") else slice(h - 12, h)
        cols = slice(0, 12) if corner.endswith("left") else slice(w - 12, w)
        assert image[rows, cols].mean() > 200 and image.mean() < 60, corner

    @pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".webm"])
    def test_any_input_time_base_to_any_container(self, tmp_path, suffix):
        """Variable gaps in a Matroska's 1/1000 land at their times in every container (issue 16: the sink
        copied the input's time base, which MP4 rejected for 1/25 and mistimed for 1/1000)."""
        times = [0.0, 0.04, 0.1, 0.13, 0.2, 0.29]
        frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(6)]
        clip = _write_clip(tmp_path / "vfr.mkv", frames, times=times)
        src = VideoFileSource(clip)
        out = tmp_path / f"out{suffix}"
        sink = VideoFileSink(out, 64, 48, src.info.rate)
        got = [i.time for i in src.items() if isinstance(i, VideoFrame)]
        for t in got:
            sink.write(np.zeros((48, 64, 3), np.uint8), t)
        src.close()
        sink.finish()
        assert got == pytest.approx(times, abs=1e-3)
        with av.open(str(out)) as c:
            written = [f.time for f in c.decode(video=0)]
        assert written == pytest.approx(times, abs=1e-3)

    def test_repeated_times_still_increase(self, tmp_path):
        out = tmp_path / "o.mkv"
        sink = VideoFileSink(out, 64, 48, Fraction(25))
        for t in (0.0, 0.04, 0.04, 0.02):
            sink.write(np.zeros((48, 64, 3), np.uint8), t)
        sink.finish()
        with av.open(str(out)) as c:
            written = [f.time for f in c.decode(video=0)]
        assert len(written) == 4 and written == sorted(set(written))

    def test_unknown_output_suffix_is_one_line(self, tmp_path):
        with pytest.raises(InputError, match=r"\.mp4, \.mov, \.mkv, \.webm"):
            VideoFileSink(tmp_path / "o.gif", 64, 48, Fraction(25))
        assert list(tmp_path.iterdir()) == []
