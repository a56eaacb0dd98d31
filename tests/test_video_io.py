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
        sink = VideoFileSink(out, info.width, info.height, info.rate, info.time_base, info.audio)
        audio_codec, audio_rate = info.audio.codec_context.name, info.audio.codec_context.sample_rate
        for item in src.items():
            if isinstance(item, VideoFrame):
                assert not out.exists()  # nothing at the final path until finish()
                sink.write(255 - item.image, item.pts)
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
        sink = VideoFileSink(out, 64, 48, Fraction(25), Fraction(1, 25))
        sink.write(np.zeros((48, 64, 3), np.uint8), 0)
        sink.abort()
        assert list(tmp_path.iterdir()) == []

    def test_odd_sizes_are_refused(self, tmp_path):
        with pytest.raises(ValueError, match="even"):
            VideoFileSink(tmp_path / "o.mp4", 63, 48, Fraction(25), Fraction(1, 25))
