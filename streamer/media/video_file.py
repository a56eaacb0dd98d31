"""Video files with PyAV: a streaming decoder (video frames + audio packets) and an atomic encoder.

Timing: every frame carries its presentation time in seconds from the file's origin (the earlier of
the video's and the audio's start), so the sink can write any container's time base and the audio,
shifted by the same origin, stays in sync. Rotation metadata (a phone's display matrix) is applied
while decoding: frames come out upright, as players show them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from export.atomic import temp_beside
from streamer.errors import InputError
from streamer.media.audio_out import AudioOut
from streamer.media.formats import output_format
from streamer.media.probe import first_time

#: Errors a damaged file raises from PyAV besides FFmpeg's own (bad metadata text, odd frame layouts).
_DECODE_ERRORS = (av.error.FFmpegError, ValueError, UnicodeDecodeError, IndexError, OverflowError)


@dataclass(frozen=True)
class VideoFrame:
    """A decoded frame: upright BGR pixels, its time in seconds from the file's origin, and its input pts."""

    image: np.ndarray
    pts: int
    time_base: Fraction
    index: int
    time: float = 0.0


@dataclass(frozen=True)
class VideoInfo:
    """What the encoder needs to mirror the input."""

    width: int  #: upright (after rotation)
    height: int
    rate: Fraction
    time_base: Fraction
    frames: int  # 0 when the container does not say
    audio: object | None  # the input audio stream, a template for passthrough
    rotation: int = 0  #: degrees clockwise the display matrix turns frames (applied while decoding)
    #: (first video frame, first audio sample) times in the input, seconds; None: no such stream or frame
    starts: tuple[float | None, float | None] = (None, None)

    @property
    def origin(self) -> float:
        """Seconds of the input that are 0 in the output: the earlier stream start (0 when neither is known)."""
        known = [t for t in self.starts if t is not None]
        return min(known) if known else 0.0


def display_matrix(frame: av.VideoFrame) -> np.ndarray | None:
    """The frame's display matrix (3x3, 16.16 fixed point as FFmpeg stores it), or None."""
    sides = frame.side_data
    # PyAV >= 18.1 made the container a Mapping (iterating gives the Type keys); earlier ones iterate the entries.
    for side in sides.values() if isinstance(sides, Mapping) else sides:
        if "DISPLAYMATRIX" in str(side.type):
            data = bytes(side)
            return np.frombuffer(data, np.int32).reshape(3, 3) if len(data) == 36 else None  # damaged: ignored
    return None


def orientation(matrix: np.ndarray | None) -> tuple[int, Callable[[np.ndarray], np.ndarray] | None]:
    """(clockwise quarter turn in degrees, the array operation that shows a frame as players do) for a
    display matrix; the operation is None when none is needed. The choice (the angle, then the matrix's
    signs for mirroring) is FFmpeg's command line's (fftools' autorotate), written out here because PyAV
    gives the angle (``VideoFrame.rotation``) but not the flips. Other angles are left as stored."""
    if matrix is None:
        return 0, None
    a, b, c, d = (float(v) for v in (matrix[0, 0], matrix[0, 1], matrix[1, 0], matrix[1, 1]))
    sx, sy = np.hypot(a, c), np.hypot(b, d)
    if not sx or not sy:
        return 0, None
    theta = round(float(np.degrees(np.arctan2(b / sy, a / sx)))) % 360  # clockwise, as get_rotation()
    if abs(theta - 90) <= 1:  # transpose=clock, or cclock_flip (the plain transpose) when mirrored
        return 90, (lambda im: np.swapaxes(im, 0, 1)) if c > 0 else (lambda im: np.rot90(im, -1))
    if abs(theta - 270) <= 1:  # transpose=cclock, or clock_flip when mirrored
        return 270, (lambda im: np.rot90(im, -1)[::-1]) if c < 0 else (lambda im: np.rot90(im, 1))
    turned = abs(theta - 180) <= 1
    h, v = (a < 0, d < 0) if turned else (False, d < 0)  # hflip/vflip (a half turn is both)
    if not (h or v):
        return 0, None
    return (180 if h and v else 0), lambda im: im[:: -1 if v else 1, :: -1 if h else 1]


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


class VideoFileSource:
    """Decodes a video file frame by frame (never the whole file), passing audio packets through.

    The first frame is decoded on opening (its rotation and time are needed for ``info``; a file whose
    first frame does not decode is an ``InputError`` here rather than later).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"video not found: {self.path}")
        try:
            self._container = av.open(str(self.path), metadata_errors="ignore")
        except (*_DECODE_ERRORS, EOFError) as exc:
            raise InputError(f"cannot open video {self.path}: {exc.__class__.__name__}") from None
        try:
            self._open_streams()
        except BaseException:
            self._container.close()
            raise

    def _open_streams(self) -> None:
        # A stream whose codec FFmpeg does not know (or a damaged header names) has no codec context.
        video = [s for s in self._container.streams.video if s.codec_context is not None]
        if not video:
            raise InputError(f"{self.path} has no video stream that can be decoded")
        self._video = video[0]
        self._video.thread_type = "AUTO"
        audio = [s for s in self._container.streams.audio if s.codec_context and s.codec_context.sample_rate]
        self._audio = audio[0] if audio else None
        cc = self._video.codec_context
        if not cc.width or not cc.height:
            raise InputError(f"{self.path}: the video stream has no frame size (corrupt file?)")
        rate = self._video.average_rate or self._video.guessed_rate or Fraction(25)
        if not 0 < rate <= 1000:
            rate = Fraction(25)
        self._rate = Fraction(rate)
        self._time_base = self._video.time_base or 1 / self._rate
        self._demuxed = self._demux()
        self._pending: list = []  # items read while looking for the first frame
        first = None
        try:
            for item in self._demuxed:
                self._pending.append(item)
                if isinstance(item, av.VideoFrame):
                    first = item
                    break
        except _DECODE_ERRORS as exc:
            raise InputError(f"cannot decode video {self.path}: {exc.__class__.__name__}") from None
        if first is None:
            raise InputError(f"cannot decode video {self.path}: no video frame decodes")
        rotation, self._orient = orientation(display_matrix(first))
        upright_w, upright_h = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        self.info = VideoInfo(
            upright_w,
            upright_h,
            self._rate,
            self._time_base,
            int(self._video.frames or 0),
            self._audio,
            rotation,
            (first.time, self._audio_start()),
        )

    def _audio_start(self) -> float | None:
        """When the audio starts playing: its first decoded frame, after codec priming (AAC's 1024 samples,
        Opus pre-skip), which players drop and whose packets carry negative times. Decoded from a second
        opening of the file, so this stream's decoder stays untouched for the sink."""
        if self._audio is None:
            return None
        try:
            return first_time(self.path, "audio")
        except _DECODE_ERRORS:
            return None

    def _demux(self) -> Iterator[av.VideoFrame | av.Packet]:
        """Raw decoded video frames and audio packets in file order."""
        streams = [s for s in (self._video, self._audio) if s is not None]
        for packet in self._container.demux(*streams):
            if packet.stream.type == "audio":
                if packet.pts is not None and packet.dts is not None:
                    yield packet
                continue
            yield from packet.decode()

    def _frames(self) -> Iterator[av.VideoFrame | av.Packet]:
        yield from self._pending
        self._pending = []
        yield from self._demuxed

    def items(self, max_seconds: float | None = None, every: int = 1) -> Iterator[VideoFrame | av.Packet]:
        """Upright decoded video frames and raw audio packets, in file order (up to ``max_seconds`` if given).

        ``every`` > 1 yields only frames whose index is a multiple of it (the others are decoded, as the
        codec needs, but never converted to pixels: a quick pass over a clip, e.g. the reference look-ahead).
        """
        info = self.info
        index = 0
        last: float | None = None
        step = float(1 / info.rate)
        try:
            for item in self._frames():
                if isinstance(item, av.Packet):
                    t = _seconds(item.pts, item.time_base)
                    if max_seconds is None or t is None or t - info.origin < max_seconds:
                        yield item
                    continue
                t = item.time if item.pts is not None else _seconds(item.dts, item.time_base)
                if t is None:
                    t = (last + step) if last is not None else info.origin
                t -= info.origin
                if max_seconds is not None and t >= max_seconds:
                    return
                if index % every:
                    last = t + info.origin
                    index += 1
                    continue
                image = item.to_ndarray(format="bgr24")
                if self._orient is not None:
                    image = np.ascontiguousarray(self._orient(image))
                if image.shape[:2] != (info.height, info.width):  # a size change mid-stream: keep the first
                    image = cv2.resize(image, (info.width, info.height), interpolation=cv2.INTER_AREA)
                pts = item.pts if item.pts is not None else round(t / float(info.time_base))
                yield VideoFrame(image, pts, info.time_base, index, t)
                last = t + info.origin
                index += 1
        except _DECODE_ERRORS as exc:
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
    """Writes the container ``path``'s suffix names (``streamer.media.formats``) to a temp file beside it;
    ``finish`` renames it into place, ``abort`` removes it (an interrupted run leaves nothing half-written).

    Frames are written at their time in seconds, in the format's time base (any input time base works);
    audio copied or re-encoded from ``audio_template`` is shifted by the same ``origin`` as the frames.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        rate: Fraction,
        audio_template=None,
        origin: float = 0.0,
        crf: int | None = None,
        threads: int = 0,
        x264_params: str = X264_PARAMS,
    ):
        """``threads``: the encoder's threads (0 = its own choice; libx264 takes 1.5 per core plus
        lookahead). On the 2-core machine one thread took 20.7 ms of CPU per 1280x1280 frame against 27.2
        for the default (same size; frame threads cost CPU), and a conversion is CPU bound there (measured).
        ``x264_params``: see ``X264_PARAMS`` (libx264 only). ``crf``: None = the format's default."""
        self.path = Path(path)
        self.format = output_format(self.path)
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even frame sizes, got {width}x{height}")
        self._tmp = temp_beside(self.path, ".part" + self.path.suffix)
        try:
            self._container = av.open(str(self._tmp), "w", format=self.format.muxer)
            self._video = self._add_video(width, height, Fraction(rate), crf, threads, x264_params)
            self.audio = AudioOut(self._container, audio_template, self.format, origin) if audio_template else None
        except BaseException:
            self.abort()
            raise
        self._tick = self.format.time_base
        self._duration = max(1, round(1 / (Fraction(rate) * self._tick)))  # one nominal frame, in ticks
        self._last: int | None = None
        self.frames_written = 0

    def _add_video(self, width: int, height: int, rate: Fraction, crf: int | None, threads: int, x264_params: str):
        fmt = self.format
        video = self._container.add_stream(fmt.video_codec, rate=rate)
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = fmt.time_base
        options = dict(fmt.video_options)
        options["threads"] = str(max(0, int(threads)))
        if crf is not None:
            options["crf"] = str(crf)
        if fmt.video_codec == "libx264" and x264_params:
            options["x264-params"] = x264_params
        video.options = options
        return video

    def write(self, image: np.ndarray, time: float) -> None:
        """Encode one BGR frame shown at ``time`` seconds; a time at or before the last one moves one tick on."""
        ticks = max(0, round(time / self._tick))
        if self._last is not None and ticks <= self._last:
            ticks = self._last + 1
        self._last = ticks
        # OpenCV's BT.601 limited-range conversion (what swscale does for bgr24 -> yuv420p by default):
        # 1 ms instead of 6-13 ms of CPU for a 1280x1280 frame (measured), the encoder's biggest input cost.
        yuv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = ticks
        frame.time_base = self._tick
        frame.duration = self._duration  # the last frame's length in MP4 (the others follow from pts)
        for packet in self._video.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def write_audio(self, packet: av.Packet) -> None:
        """Pass an input audio packet through (copied, or re-encoded: ``streamer.media.audio_out``)."""
        if self.audio is not None:
            self.audio.write(packet)

    def finish(self) -> Path:
        """Flush, close and move the file into place; returns the final path."""
        try:
            for packet in self._video.encode(None):
                self._container.mux(packet)
            if self.audio is not None:
                self.audio.flush()
            self._container.close()
        except av.error.FFmpegError as exc:  # e.g. a damaged input's audio header the container cannot store
            self.abort()
            raise InputError(f"cannot write {self.path.name}: {exc.strerror or exc.__class__.__name__}") from None
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temp file; the final path is never touched."""
        # The file is being thrown away; closing may fail on a broken stream.
        with contextlib.suppress(Exception):
            self._container.close()
        self._tmp.unlink(missing_ok=True)
