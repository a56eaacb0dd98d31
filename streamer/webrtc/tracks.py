"""The outgoing video track of a peer: the newest reenacted frame, pulled by aiortc's encoder."""

from __future__ import annotations

from aiortc import MediaStreamTrack
from av import VideoFrame

from streamer.live.slots import AsyncLatestSlot


class ReenactedTrack(MediaStreamTrack):
    """Frames are offered with ``offer`` (on the loop); ``recv`` hands out the newest one."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.slot: AsyncLatestSlot[VideoFrame] = AsyncLatestSlot()
        self._last_pts: int | None = None
        self.out_of_order = 0
        self.first_sent_pts: int | None = None  # lets a client line its timeline up with ours

    def offer(self, frame: VideoFrame) -> None:
        """Make ``frame`` the next one to send; frames that would step time back are discarded."""
        if self._last_pts is not None and frame.pts is not None and frame.pts <= self._last_pts:
            self.out_of_order += 1
            return
        self._last_pts = frame.pts
        self.slot.put(frame)

    async def recv(self) -> VideoFrame:
        """The newest reenacted frame (waits for one)."""
        frame = await self.slot.get()
        if self.first_sent_pts is None:
            self.first_sent_pts = frame.pts
        return frame
