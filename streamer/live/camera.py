"""``reenact camera``'s loop: local capture -> the stream's pipeline -> virtual camera / preview.

The capture thread keeps only the newest frame; this (main) thread processes it, so a slow pipeline
drops stale frames instead of adding latency. The preview window must live on the main thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from streamer.errors import InputError, NoFaceError
from streamer.live.capture import CaptureSource, parse_device
from streamer.live.config import LiveConfig
from streamer.live.edit_keys import apply_key
from streamer.live.sinks import FrameSink, PreviewWindow, VirtualCameraSink
from streamer.live.sources import prepare_file
from streamer.live.stream import LiveStream, Reanchor, SetEdits
from streamer.pipeline import PreparedSource

FRAME_TIMEOUT_S = 5.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraOptions:
    """``reenact camera``'s flags."""

    source: Path
    device: str = "0"
    virtual_cam: bool = False
    preview: bool = False
    frames: int | None = None  # stop after this many output frames
    live: LiveConfig = field(default_factory=LiveConfig)


@dataclass(frozen=True)
class CameraSummary:
    """What a camera run did."""

    frames: int
    faces: int
    dropped: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def output_size(source: PreparedSource, live: LiveConfig) -> tuple[int, int]:
    """(width, height) of every output frame."""
    h, w = source.canvas.shape[:2] if live.paste_back else (live.size, live.size)
    return w, h


def captioned(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with ``text`` written in its top-left corner (a copy; the image itself when ``text`` is empty):
    the preview shows the editing controls in force, the virtual camera never does."""
    if not text:
        return image
    out = image.copy()
    for colour, width in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # outlined: readable on any background
        cv2.putText(out, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, width, cv2.LINE_AA)
    return out


def run_camera(
    opts: CameraOptions,
    sinks: Sequence[FrameSink] = (),
    should_stop: Callable[[], bool] = lambda: False,
) -> CameraSummary:
    """Run until ``q`` in the preview, ``opts.frames`` frames, ``should_stop()`` or the capture ends.

    Preview keys: ``r`` re-anchors, ``q`` quits, the editing hotkeys (``streamer.live.edit_keys``) change
    the editing controls from the next frame."""
    source = prepare_file(opts.source, opts.live)
    capture = CaptureSource(parse_device(opts.device))
    sinks = list(sinks)
    preview: PreviewWindow | None = None
    stream = LiveStream(source, opts.live)
    frames = faces = 0
    try:
        if opts.virtual_cam:
            sinks.append(VirtualCameraSink(*output_size(source, opts.live), capture.fps))
        preview = PreviewWindow() if opts.preview else None
        stream.open()
        capture.start()
        start = time.monotonic()
        while not should_stop() and (opts.frames is None or frames < opts.frames):
            image = capture.slot.get(timeout=FRAME_TIMEOUT_S)
            if image is None:
                if capture.error or capture.slot.closed:
                    break
                raise InputError(f"no frame from {opts.device} for {FRAME_TIMEOUT_S:.0f} s")
            result = stream.process(image)
            frames += 1
            faces += int(result.face_found)
            for sink in sinks:
                sink.send(result.image)
            key = preview.show(captioned(result.image, stream.edits.describe())) if preview else None
            if key == "r":
                stream.apply(Reanchor())
            elif key == "q":
                break
            elif key is not None and (edits := apply_key(key, stream.edits)) is not None:
                stream.apply(SetEdits(edits))  # applied from the next frame
                log.info("edits: %s", edits.describe() or "none")
        seconds = time.monotonic() - start
    finally:
        capture.stop()
        stream.close()
        for sink in sinks:
            sink.close()
        if preview is not None:
            preview.close()
    if frames == 0:
        raise InputError(f"no frame could be read from {opts.device}")
    if faces == 0 and frames >= 30:
        raise NoFaceError(f"no face found in {frames} frames from {opts.device}")
    return CameraSummary(frames, faces, capture.slot.dropped, seconds)
