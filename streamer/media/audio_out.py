"""The driver's audio in the output: packets copied where the container takes the codec, else decoded and
re-encoded; either way shifted by the same origin as the video, so the two stay in sync."""

from __future__ import annotations

import logging
from fractions import Fraction

import av

from streamer.media.formats import OutputFormat

log = logging.getLogger(__name__)

_NEEDS_EXTRADATA = {"aac", "opus", "vorbis", "flac", "alac"}

#: Sample rates each re-encoder takes (others are resampled to the first).
_ENCODER_RATES = {"aac": (48000, 44100, 32000, 24000, 22050, 16000), "libopus": (48000,)}


def _can_copy(stream, fmt: OutputFormat) -> bool:
    cc = stream.codec_context
    if cc.name not in fmt.audio_copy:
        return False
    # These codecs' headers live in extradata, which MP4/MOV/MKV/WebM must store (AAC's AudioSpecificConfig,
    # OpusHead, Vorbis's three headers...). AAC from MPEG-TS (ADTS framing) has none, nor does a file whose
    # header is damaged: re-encoded instead (an Opus track without it made MP4's trailer fail).
    return not (cc.name in _NEEDS_EXTRADATA and not cc.extradata)


class AudioOut:
    """One output audio stream for the input audio stream ``template`` (copy or re-encode)."""

    def __init__(self, container: av.container.OutputContainer, template, fmt: OutputFormat, origin: float):
        self._container = container
        self._origin = origin
        cc = template.codec_context
        self.copied = _can_copy(template, fmt)
        if self.copied:
            self.stream = container.add_stream_from_template(template)
        else:
            rates = _ENCODER_RATES.get(fmt.audio_codec, (48000,))
            rate = cc.sample_rate if cc.sample_rate in rates else rates[0]
            layout = "stereo" if (cc.channels or 1) >= 2 else "mono"
            self.stream = container.add_stream(fmt.audio_codec, rate=rate, layout=layout)
        codec = self.stream.codec_context.codec
        self.codec = codec.canonical_name or codec.name  # "opus", not the encoder "libopus" or decoder "mp3float"
        self.skipped = 0

    def _shift(self, time_base: Fraction) -> int:
        return round(self._origin / time_base)

    def write(self, packet: av.Packet) -> None:
        """Copy or re-encode one input audio packet (its timestamps in the input stream's time base).

        A packet the decoder or muxer rejects (a damaged file) is skipped, as players skip it: the video
        is what the user came for. The count is in ``skipped``."""
        if packet.pts is None:
            return
        try:
            self._write(packet)
        except (av.error.FFmpegError, ValueError):
            if not self.skipped:
                log.warning("skipping damaged audio packets of the driver")
            self.skipped += 1

    def _write(self, packet: av.Packet) -> None:
        if self.copied:
            shift = self._shift(packet.time_base)
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = self.stream
            self._container.mux(packet)
            return
        for frame in packet.decode():
            if frame.pts is not None:
                frame.pts -= self._shift(frame.time_base)
            for out in self.stream.encode(frame):
                self._container.mux(out)

    def flush(self) -> None:
        """Drain the encoder (nothing to do for copied audio)."""
        if not self.copied:
            for out in self.stream.encode(None):
                self._container.mux(out)
