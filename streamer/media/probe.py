"""What a written (or input) video file holds, measured by decoding it: where each stream starts.

Used for the A/V offset ``convert`` reports: the gap between the first audio sample and the first video
frame, in the output against the driver. Decoded frames, not packets: decoders drop codec priming
(AAC's 1024 samples, Opus pre-skip), so the times are what a player plays.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import av

from streamer.errors import InputError


def first_time(path: str | Path, kind: str) -> float | None:
    """When the first decoded frame of the first ``kind`` ("video" or "audio") stream plays, in seconds;
    None when there is none or it does not decode. FFmpeg errors opening the file propagate."""
    with av.open(str(path), metadata_errors="ignore") as container:
        streams = getattr(container.streams, kind)
        if not streams:
            return None
        with contextlib.suppress(av.error.FFmpegError, ValueError):
            for frame in container.decode(streams[0]):
                if frame.pts is not None:
                    return float(frame.time)
    return None


def stream_starts(path: str | Path) -> tuple[float | None, float | None]:
    """(first video frame time, first audio sample time) in seconds; None for a stream that is absent
    or does not decode."""
    path = Path(path)
    try:
        return first_time(path, "video"), first_time(path, "audio")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc.__class__.__name__}") from None


def av_offset(driver: str | Path | tuple[float | None, float | None], output: str | Path) -> float | None:
    """How much later (seconds; negative: earlier) the audio starts against the video in ``output`` than in
    ``driver``; None when either has no audio. ``driver``: its file, or its :func:`stream_starts` when they
    are known already (``VideoInfo.starts`` of the open driver: no second reading)."""
    v_in, a_in = driver if isinstance(driver, tuple) else stream_starts(driver)
    v_out, a_out = stream_starts(output)
    if None in (v_in, a_in, v_out, a_out):
        return None
    return (a_out - v_out) - (a_in - v_in)
