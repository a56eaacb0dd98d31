"""One live stream's pipeline and the controls it accepts (re-anchor, paste-back/crop, new source).

Not thread-safe by design: the one thread that runs a stream also opens it, applies its controls and
closes it (MediaPipe graphs and the tracker's state belong to that thread).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamer.compositor import Compositor
from streamer.edit_controls import EditControls
from streamer.live.config import LiveConfig
from streamer.live.sources import create_reenactor
from streamer.pipeline import FrameRenderer, FrameResult, PreparedSource, ReenactmentPipeline
from streamer.tracking import Tracker
from streamer.tracking import create_tracker as create_named_tracker
from streamer.tracking_reference import ReferenceConfig, ReferenceSelector


@dataclass(frozen=True)
class Reanchor:
    """Take the driver's next face as the reference (neutral) pose."""


@dataclass(frozen=True)
class SetPasteBack:
    """Paste the face into the source photo (True) or send the crop only (False)."""

    value: bool


@dataclass(frozen=True)
class SetSource:
    """Animate another (prepared) source photo from the next frame on."""

    source: PreparedSource


@dataclass(frozen=True)
class SetEdits:
    """Apply these editing controls (head offsets, expression scale, eye/lip overrides) from the next frame."""

    controls: EditControls


Control = Reanchor | SetPasteBack | SetSource | SetEdits


def create_tracker(config: LiveConfig) -> Tracker:
    """The driver tracker of one stream (``config.tracker``: temporal or per-frame detector)."""
    return create_named_tracker(config.tracker, config.landmarks)


def create_frame_renderer(config: LiveConfig, reenactor) -> FrameRenderer | None:
    """The kernel paste-back stage when ``config.frame_path`` asks for it (or ``auto`` on TensorRT)."""
    from streamer.backends.select import select_backend
    from streamer.framepath.build import create_device_renderer, resolve_frame_path

    if resolve_frame_path(config.frame_path, select_backend("pixel_warp", config.backend).name) != "kernels":
        return None
    return create_device_renderer(reenactor)


class LiveStream:
    """Tracker, reenactor and compositor of one stream, rebuilt around them when a control asks."""

    def __init__(self, source: PreparedSource, config: LiveConfig):
        self.config = config
        self.source = source
        self.paste_back = config.paste_back
        self.edits = config.edits  # the editing controls in force
        self._tracker: Tracker | None = None
        self._pipeline: ReenactmentPipeline | None = None
        # Live mode: re-anchor automatically when a clearly more neutral pose holds.
        self._selector = ReferenceSelector(ReferenceConfig(auto_reanchor=True))

    def open(self) -> None:
        """Build the heavy parts (detector graphs); call on the stream's own thread."""
        self._tracker = create_tracker(self.config)
        self._reenactor = create_reenactor(self.config)
        self._reenactor.retargeter.controls = self.edits
        self._compositor = Compositor(self.config.size)
        self._renderer = create_frame_renderer(self.config, self._reenactor)
        self._pipeline = self._build()

    def _build(self) -> ReenactmentPipeline:
        assert self._tracker is not None, "open() the stream first"
        compositor = self._compositor if self.paste_back else None
        return ReenactmentPipeline(
            self.source, self._tracker, self._reenactor, compositor, self.paste_back, self._selector, self._renderer
        )

    def apply(self, control: Control) -> None:
        """Apply one control between frames."""
        if isinstance(control, Reanchor):
            self.pipeline.reanchor()
            return
        if isinstance(control, SetEdits):
            self.edits = control.controls
            if self._pipeline is not None:  # read by the retargeter once per frame: no rebuild
                self._reenactor.retargeter.controls = control.controls
            return
        reference = self.pipeline.reference
        if isinstance(control, SetPasteBack):
            self.paste_back = control.value
        elif isinstance(control, SetSource):
            self.source = control.source
        self._pipeline = self._build()  # same selector: same driver, same neutral pose
        self._pipeline.reference = reference

    @property
    def pipeline(self) -> ReenactmentPipeline:
        if self._pipeline is None:
            raise RuntimeError("open() the stream first")
        return self._pipeline

    def process(self, frame_bgr: np.ndarray) -> FrameResult:
        """The output for one driver frame."""
        return self.pipeline.process(frame_bgr)

    def close(self) -> None:
        """Release the tracker's detector and the kernel path's device (call on the stream's own thread)."""
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None
        renderer, self._renderer = getattr(self, "_renderer", None), None
        if renderer is not None:
            renderer.close()
        self._pipeline = None
