"""A video frame leaves aiortc's jitter buffer at its last packet, not one frame later.

aiortc's ``JitterBuffer`` (1.16) hands a video frame to the decoder only when the first packet of the
*next* frame arrives (it watches for a timestamp change, not the RTP marker bit): every received video
frame waits one frame interval, 40 ms at 25 fps, before decoding even starts. The sender marks the last
packet of each frame (RFC 3550 section 5.1, RFC 7741 for VP8; Chrome and aiortc both do), so the frame is
complete there. ``MarkerJitterBuffer`` releases it at that packet (a lost packet still holds the frame
back until it is retransmitted, as in aiortc), and at a timestamp change from a sender that marks no
packet. Audio keeps aiortc's buffer unchanged.

aiortc builds its buffer by the name imported into ``aiortc.rtcrtpreceiver``; ``use_marker_jitter_buffer``
swaps that name, process-wide, for every receiver made afterwards. Hand-written because aiortc has no
option for it; the subclass keeps aiortc's storage, loss and reordering handling and replaces only the
frame assembly.
"""

from __future__ import annotations

import aiortc.rtcrtpreceiver as rtcrtpreceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's jitter buffer, releasing a video frame as soon as its marked last packet is in."""

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        if not self._is_video or self._prefetch:
            return super()._remove_frame(sequence_number)
        packets = []
        timestamp = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None:
                return None  # a gap: wait for the packet (or for aiortc to drop the frame)
            if timestamp is not None and packet.timestamp != timestamp:
                break  # the next frame began: this one is complete (its sender marks no packet)
            timestamp = packet.timestamp
            packets.append(packet)
            if packet.marker:
                break
        else:
            return None
        self.remove(len(packets))
        return JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)


def use_marker_jitter_buffer() -> None:
    """Every aiortc receiver made from now on in this process uses ``MarkerJitterBuffer`` (idempotent)."""
    rtcrtpreceiver.JitterBuffer = MarkerJitterBuffer  # type: ignore[misc]
