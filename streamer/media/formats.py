"""The output containers ``convert`` writes, by file suffix: muxer, video encoder, and which audio
codecs each can carry as they are (others are re-encoded)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from streamer.errors import InputError

_PCM = frozenset({"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8"})


@dataclass(frozen=True)
class OutputFormat:
    """How one output container is written."""

    muxer: str  #: FFmpeg muxer name
    video_codec: str  #: encoder name
    video_options: tuple[tuple[str, str], ...]  #: encoder options (besides threads)
    audio_copy: frozenset[str]  #: input audio codecs (decoder names) the container takes unchanged
    audio_codec: str  #: encoder for any other audio
    #: The encoder's time base: the muxer's own where it has a fixed one (Matroska and WebM count
    #: milliseconds), else 1/90000, which MP4 and MOV accept at any frame rate (a rate's own 1/25 made
    #: MP4's muxer reject libx264 packets with EINVAL, issue 16) and which holds variable frame rates.
    time_base: Fraction


_X264 = (("crf", "18"), ("preset", "veryfast"))
#: VP9 for browsers: libvpx's real-time mode at its fastest speed (the good-quality default ran at about
#: 2 fps for 512x512 on the 2-core machine; realtime/cpu-used 8 keeps up with the rest of convert).
_VP9 = (("crf", "32"), ("b", "0"), ("deadline", "realtime"), ("cpu-used", "8"), ("row-mt", "1"))

_MP4 = OutputFormat(
    "mp4",
    "libx264",
    _X264,
    frozenset({"aac", "mp3", "mp3float", "opus", "ac3", "eac3", "alac", "flac"}),
    "aac",
    Fraction(1, 90000),
)
_MOV = OutputFormat(
    "mov", "libx264", _X264, frozenset({"aac", "mp3", "mp3float", "ac3", "alac"}) | _PCM, "aac", Fraction(1, 90000)
)
_MKV = OutputFormat(
    "matroska",
    "libx264",
    _X264,
    frozenset({"aac", "mp3", "mp3float", "mp2", "mp2float", "opus", "vorbis", "flac", "ac3", "eac3", "alac"}) | _PCM,
    "aac",
    Fraction(1, 1000),
)
_WEBM = OutputFormat("webm", "libvpx-vp9", _VP9, frozenset({"opus", "vorbis"}), "libopus", Fraction(1, 1000))

OUTPUT_FORMATS: dict[str, OutputFormat] = {".mp4": _MP4, ".m4v": _MP4, ".mov": _MOV, ".mkv": _MKV, ".webm": _WEBM}
#: For messages and the README: what ``--out`` may end with.
OUTPUT_SUFFIXES = ".mp4, .mov, .mkv, .webm"


def output_format(path: str | Path) -> OutputFormat:
    """The container written for ``path`` (by suffix); ``InputError`` for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(f"output must be a video file ({OUTPUT_SUFFIXES}), got {Path(path).name}")
    return OUTPUT_FORMATS[suffix]
