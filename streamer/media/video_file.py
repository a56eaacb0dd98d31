"""Video files with PyAV: a streaming decoder (video frames + audio packets) and an atomic encoder."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from streamer.errors import InputError

#: Audio codecs MP4 can carry as they are; others are re-encoded to AAC.
MP4_AUDIO_COPY = {"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"}


@dataclass(frozen=True)
class VideoFrame:
    """A decoded frame: BGR pixels with its presentation time."""

    image: np.ndarray
    pts: int
    time_base: Fraction
    index: int


@dataclass(frozen=True)
class VideoInfo:
    """What the encoder needs to mirror the input."""

    width: int
    height: int
    rate: Fraction
    time_base: Fraction
    frames: int  # 0 when the container does not say
    audio: object | None  # the input audio stream, a template for passthrough


class VideoFileSource:
    """Decodes a video file frame by frame (never the whole file), passing audio packets through."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"video not found: {self.path}")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot open video {self.path}: {exc.__class__.__name__}") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"{self.path} has no video stream")
        self._video = self._container.streams.video[0]
        self._video.thread_type = "AUTO"
        audio = self._container.streams.audio
        self._audio = audio[0] if audio else None
        rate = self._video.average_rate or self._video.guessed_rate or Fraction(25)
        cc = self._video.codec_context
        if not cc.width or not cc.height:
            self._container.close()
            raise InputError(f"{self.path}: the video stream has no frame size (corrupt file?)")
        self.info = VideoInfo(
            cc.width,
            cc.height,
            Fraction(rate),
            self._video.time_base or 1 / Fraction(rate),
            int(self._video.frames or 0),
            self._audio,
        )

    def items(self, max_seconds: float | None = None) -> Iterator[VideoFrame | av.Packet]:
        """Decoded video frames and raw audio packets, in file order (up to ``max_seconds`` if given)."""
        streams = [s for s in (self._video, self._audio) if s is not None]
        start = {s.index: (s.start_time or 0) for s in streams}

        def too_late(pts: int | None, stream) -> bool:
            return (
                max_seconds is not None
                and pts is not None
                and stream.time_base is not None
                and float((pts - start[stream.index]) * stream.time_base) >= max_seconds
            )

        index = 0
        fallback_step = int(round(1 / (self.info.rate * self.info.time_base))) or 1
        try:
            for packet in self._container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None and not too_late(packet.pts, packet.stream):
                        yield packet
                    continue
                for frame in packet.decode():
                    if too_late(frame.pts, self._video):
                        return
                    pts = frame.pts if frame.pts is not None else index * fallback_step
                    yield VideoFrame(frame.to_ndarray(format="bgr24"), pts, self.info.time_base, index)
                    index += 1
        except av.error.FFmpegError as exc:
            if index == 0:
                raise InputError(f"cannot decode video {self.path}: {exc.__class__.__name__}") from None
            # A damaged tail: keep what decoded, as players do.
            return

    def close(self) -> None:
        """Close the file."""
        self._container.close()


#: On top of preset veryfast: diamond motion search, the cheapest subpixel refinement and no inter
#: sub-partitions (p8x8/b8x8; intra 8x8/4x4 stay). Measured on the project's 2-core machine, single-
#: threaded x264 at crf 18: on 120 reenacted 1280x1280 frames, me=dia:subme=1 took the CPU per frame from
#: 26.1 to 16.6 ms for a 5% larger file (0.99 -> 1.04 MB; preset superfast instead cost 2.3x the size);
#: on the 160 frames of hallo 7.jpg under s29, dropping the sub-partitions took 20.8 to 17.6 ms (three
#: interleaved runs each) for 0.3% more bytes and 0.25 dB less PSNR (50.1 -> 49.9 dB against the frames
#: encoded). The encoder is the largest single cost of a big-canvas conversion.
X264_PARAMS = "me=dia:subme=1:partitions=i8x8,i4x4"


class VideoFileSink:
    """Writes H.264 (yuv420p) to a temp file beside ``path``; ``finish`` renames it into place.

    Video timestamps mirror the input's (same time base), so audio copied from the input stays in
    sync; ``abort`` removes the temp file, so an interrupted run leaves nothing half-written.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        rate: Fraction,
        time_base: Fraction,
        audio_template=None,
        crf: int = 18,
        preset: str = "veryfast",
        threads: int = 0,
        x264_params: str = X264_PARAMS,
    ):
        """``threads``: libx264's threads (0 = its own choice, 1.5 per core plus lookahead). On the
        2-core machine one thread took 20.7 ms of CPU per 1280x1280 frame against 27.2 for the default
        (same size; frame threads cost CPU), and a conversion is CPU bound there (measured).
        ``x264_params``: see ``X264_PARAMS``."""
        self.path = Path(path)
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even frame sizes, got {width}x{height}")
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.stem}.", suffix=".part" + self.path.suffix, dir=self.path.parent
        )
        os.close(fd)
        self._tmp = Path(tmp)
        fmt = "mp4" if self.path.suffix.lower() in ("", ".mp4", ".m4v") else None
        self._container = av.open(str(self._tmp), "w", format=fmt)
        self._video = self._container.add_stream("libx264", rate=rate)
        self._video.width, self._video.height = width, height
        self._video.pix_fmt = "yuv420p"
        self._video.time_base = time_base
        self._video.codec_context.time_base = time_base
        self._video.options = {"crf": str(crf), "preset": preset, "threads": str(max(0, int(threads)))}
        if x264_params:
            self._video.options["x264-params"] = x264_params
        self._audio_in = audio_template
        self._audio_out = None
        self._transcode = False
        if audio_template is not None:
            if audio_template.codec_context.name in MP4_AUDIO_COPY:
                self._audio_out = self._container.add_stream_from_template(audio_template)
            else:
                self._transcode = True
                self._audio_out = self._container.add_stream("aac", rate=audio_template.codec_context.sample_rate)
        self._last_pts: int | None = None
        self.frames_written = 0

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode one BGR frame at ``pts`` (in the input time base); pts must increase."""
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        # OpenCV's BT.601 limited-range conversion (what swscale does for bgr24 -> yuv420p by default):
        # 1 ms instead of 6-13 ms of CPU for a 1280x1280 frame (measured), the encoder's biggest input cost.
        yuv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = pts
        frame.time_base = self._video.time_base
        for packet in self._video.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def write_audio(self, packet: av.Packet) -> None:
        """Pass an input audio packet through (copied, or re-encoded to AAC)."""
        if self._audio_out is None:
            return
        if not self._transcode:
            packet.stream = self._audio_out
            self._container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            for out in self._audio_out.encode(frame):
                self._container.mux(out)

    def finish(self) -> Path:
        """Flush, close and move the file into place; returns the final path."""
        for packet in self._video.encode(None):
            self._container.mux(packet)
        if self._transcode and self._audio_out is not None:
            for packet in self._audio_out.encode(None):
                self._container.mux(packet)
        self._container.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temp file; the final path is never touched."""
        # The file is being thrown away; closing may fail on a broken stream.
        with contextlib.suppress(Exception):
            self._container.close()
        self._tmp.unlink(missing_ok=True)
