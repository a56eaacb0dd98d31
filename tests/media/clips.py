"""Small driver clips of every container/codec/layout users bring, written with PyAV into a temp dir.

Nothing here is committed media: the frames are the bundled public-domain photo's head, moved a little
each frame (rolled and shifted) so the face tracker has motion; the audio is a tone.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


@dataclass(frozen=True)
class ClipSpec:
    """One driver clip to generate."""

    name: str
    suffix: str  #: container by suffix (".webm", ".mkv", ".avi", ".mov", ".ts", ".mp4")
    video_codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    size: tuple[int, int] = (128, 128)  #: upright (width, height)
    fps: int = 25
    frames: int = 10
    audio_codec: str | None = "aac"
    audio_start: float = 0.0  #: seconds the audio starts after (negative: before) the video
    rotation: int = 0  #: display matrix, degrees counter-clockwise (phones: -90 for portrait)
    vfr: bool = False  #: jittered frame times (as screen recorders and phones write)
    time_base: Fraction | None = None  #: the video encoder's time base (default 1/fps, or 1/1000 with vfr)
    faceless: int = 0  #: the first N frames show no face
    video_options: tuple[tuple[str, str], ...] = ()  #: encoder options


@dataclass(frozen=True)
class ClipFacts:
    """What was written: frame count, the video's span (first frame to end of last) and audio."""

    frames: int
    duration: float
    audio: bool


def face_frames(photo: np.ndarray, size: tuple[int, int], count: int, faceless: int = 0) -> list[np.ndarray]:
    """``count`` BGR frames of ``size`` (w, h): the photo's head, rolled and shifted a little per frame."""
    head = photo[0:300, 110:410]
    w, h = size
    side = min(w, h)
    frames = []
    for i in range(count):
        canvas = np.full((h, w, 3), 90, np.uint8)
        if i >= faceless:
            face = cv2.resize(head, (side, side), interpolation=cv2.INTER_AREA)
            angle = 6.0 * np.sin(i / 3.0)
            m = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
            m[:, 2] += (2.0 * np.sin(i / 2.0), 1.5 * np.cos(i / 2.5))
            face = cv2.warpAffine(face, m, (side, side), borderMode=cv2.BORDER_REPLICATE)
            y, x = (h - side) // 2, (w - side) // 2
            canvas[y : y + side, x : x + side] = face
        frames.append(canvas)
    return frames


def _frame_times(spec: ClipSpec) -> list[float]:
    step = 1.0 / spec.fps
    if not spec.vfr:
        return [i * step for i in range(spec.frames)]
    rng = np.random.default_rng(7)
    gaps = step * rng.uniform(0.6, 1.6, spec.frames)
    return [float(t) for t in np.concatenate([[0.0], np.cumsum(gaps[:-1])])]


def _audio_stream(container, codec: str):
    rate = 48000 if codec in ("libopus", "opus") else 44100
    stream = container.add_stream(codec, rate=rate, layout="mono" if codec.startswith("pcm") else "stereo")
    if codec == "vorbis":
        stream.codec_context.options = {"strict": "experimental"}
    return stream


def _write_audio(container, stream, start: float, seconds: float) -> None:
    rate = stream.codec_context.sample_rate
    channels = stream.codec_context.layout.nb_channels
    layout = stream.codec_context.layout.name
    total = int(round(seconds * rate))
    chunk = 1024
    offset = int(round(start * rate))
    for first in range(0, total, chunk):
        n = min(chunk, total - first)
        t = (first + np.arange(n)) / rate
        tone = (0.2 * np.sin(2 * np.pi * 330.0 * t)).astype(np.float32)
        planar = np.repeat(tone[None], channels, axis=0)
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)  # the encoder converts
        frame.sample_rate = rate
        frame.pts = offset + first
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def make_clip(spec: ClipSpec, folder: Path, photo: np.ndarray) -> tuple[Path, ClipFacts]:
    """Write ``spec`` into ``folder``; returns its path and what it holds."""
    path = folder / f"{spec.name}{spec.suffix}"
    upright = face_frames(photo, spec.size, spec.frames, spec.faceless)
    turns = round(spec.rotation / 90) % 4
    stored = [np.ascontiguousarray(np.rot90(f, -turns)) for f in upright]
    times = _frame_times(spec)
    video_start = max(0.0, -spec.audio_start)
    tb = spec.time_base or (Fraction(1, 1000) if spec.vfr else Fraction(1, spec.fps))
    with av.open(str(path), "w") as out:
        video = out.add_stream(spec.video_codec, rate=spec.fps)
        video.height, video.width = stored[0].shape[:2]
        video.pix_fmt = spec.pix_fmt
        video.codec_context.time_base = tb
        if spec.video_options:
            video.options = dict(spec.video_options)
        if turns:
            video.set_display_rotation(spec.rotation)
        audio = _audio_stream(out, spec.audio_codec) if spec.audio_codec else None
        for image, t in zip(stored, times, strict=True):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format=spec.pix_fmt)
            frame.pts = round((video_start + t) / tb)
            frame.time_base = tb
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        duration = times[-1] + 1.0 / spec.fps
        if audio is not None:
            _write_audio(out, audio, max(0.0, spec.audio_start), duration)
    return path, ClipFacts(spec.frames, duration, audio is not None)


def load_photo() -> np.ndarray:
    """The bundled public-domain photo (BGR)."""
    from streamer.examples import example_source_path

    return cv2.imread(str(example_source_path()))
