"""The per-stream pipeline shared by every path: track -> align -> reenact -> composite.

``prepare_source`` does the per-source work once; ``ReenactmentPipeline.process`` turns one driver
frame into one output frame. Sources and sinks (file, WebRTC, camera) wrap it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from streamer.alignment import crop_image, crop_transform
from streamer.compositor import Compositor
from streamer.detectors import LandmarkDetector
from streamer.errors import NoFaceError
from streamer.landmarks import FaceLandmarks
from streamer.reenactors.base import Reenactor
from streamer.tracking import Tracker
from streamer.tracking_reference import ReferenceSelector

log = logging.getLogger(__name__)

#: How the source crop is filled where it reaches past the photo (see ``prepare_source``).
SOURCE_CROP_BORDER = cv2.BORDER_REFLECT_101


@dataclass(frozen=True)
class PreparedSource:
    """A source photo ready for reenactment: canvas, alignment, crop, landmarks, reenactor state."""

    canvas: np.ndarray  # BGR frame the crop is pasted into
    affine: np.ndarray  # canvas -> crop
    crop: np.ndarray
    landmarks: FaceLandmarks  # canvas coordinates
    crop_landmarks: FaceLandmarks
    state: Any
    faces_found: int


def select_face(faces: list[FaceLandmarks], face_index: int | None, what: str) -> FaceLandmarks:
    """The face to use: ``face_index`` (0 = largest) or the largest, saying so when there are several."""
    if not faces:
        raise NoFaceError(f"no face found in {what}")
    if face_index is not None:
        if not 0 <= face_index < len(faces):
            raise NoFaceError(f"--face-index {face_index} is out of range: {what} has {len(faces)} face(s)")
        return faces[face_index]
    if len(faces) > 1:
        log.warning("%s has %d faces; using the largest (choose another with --face-index)", what, len(faces))
    return faces[0]


def prepare_source(
    image: np.ndarray,
    detector: LandmarkDetector,
    reenactor: Reenactor,
    face_index: int | None = None,
    what: str = "the source photo",
) -> PreparedSource:
    """Detect, align and prepare the source face of ``image`` (used as the canvas)."""
    faces = detector.detect(image)
    face = select_face(faces, face_index, what)
    affine = crop_transform(face, reenactor.crop_size)
    # Where the crop reaches past the photo (a tight portrait: hair cut by the top edge), the photo is
    # mirrored in, not its edge row smeared: a turn or a lifted chin brings that band into view, and
    # smeared rows read as streaks through the hair (issue 14's torn hair tops).
    crop = crop_image(image, affine, reenactor.crop_size, SOURCE_CROP_BORDER)
    crop_lm = face.transformed(affine)
    state = reenactor.prepare(crop, crop_lm)
    return PreparedSource(image, affine, crop, face, crop_lm, state, len(faces))


@dataclass(frozen=True)
class FrameResult:
    """One output frame and what happened to make it."""

    image: np.ndarray
    face_found: bool
    driver: FaceLandmarks | None


@dataclass(frozen=True)
class DrawnFrame:
    """A driver frame after tracking and reenactment: the final ``image``, or the ``crop`` still to
    paste back (``ReenactmentPipeline.finish``)."""

    image: np.ndarray | None
    crop: np.ndarray | None
    face_found: bool
    driver: FaceLandmarks | None


class FrameRenderer(Protocol):
    """Draw + paste-back in one stage (``streamer.framepath``: on a device, one download per frame)."""

    def prepare(self, source: PreparedSource) -> None: ...

    def render(self, source: PreparedSource, driver: FaceLandmarks, reference: FaceLandmarks) -> np.ndarray: ...


class ReenactmentPipeline:
    """Per-stream state: the tracker, the driver's reference frame and the last good output.

    The reference (neutral) frame comes from a ``ReferenceSelector``: by default the most neutral
    face of the first frames, re-anchored when a clearly more neutral pose holds (live mode), or a
    frame the user forced. With a ``renderer`` (paste-back only), it draws and pastes instead of the
    reenactor's ``step`` and the compositor.
    """

    def __init__(
        self,
        source: PreparedSource,
        tracker: Tracker,
        reenactor: Reenactor,
        compositor: Compositor | None,
        paste_back: bool = True,
        reference: ReferenceSelector | None = None,
        renderer: FrameRenderer | None = None,
    ):
        self.source = source
        self.renderer = renderer if paste_back else None
        if self.renderer is not None:
            self.renderer.prepare(source)
        self.tracker = tracker
        self.reenactor = reenactor
        self.compositor = compositor
        self.paste_back = paste_back
        # Every frame pastes into the same source canvas: bind once (its seam colour is measured here).
        self._paste = compositor.bind(source.canvas, source.affine) if compositor is not None and paste_back else None
        self.selector = reference or ReferenceSelector()
        self.reference: FaceLandmarks | None = None
        self._neutral = source.canvas if paste_back else source.crop
        self._last_good: np.ndarray | None = None
        self.frames = 0
        self.faces = 0

    def reanchor(self) -> None:
        """Choose the driver's reference (neutral) frame anew from the next frames."""
        self.selector.reset()
        self.reference = None

    def process(self, frame_bgr: np.ndarray) -> FrameResult:
        """The output frame for one driver frame."""
        drawn = self.draw(frame_bgr)
        return FrameResult(self.finish(drawn), drawn.face_found, drawn.driver)

    def draw(self, frame_bgr: np.ndarray) -> DrawnFrame:
        """Track, choose the reference and reenact one driver frame; the paste-back is left to
        :meth:`finish`, which may run on another thread (it only reads the source and the compositor)."""
        self.frames += 1
        driver = self.tracker.update(frame_bgr)
        track = getattr(self.tracker, "last", None)  # the temporal tracker's pose and expression
        use_track = track is not None and driver is not None
        self.reference = self.selector.update(
            self.frames - 1, driver, track.pose if use_track else None, track.expression if use_track else None
        )
        if driver is None:
            # No face: paste-back shows the untouched source; crop-only repeats the last good crop.
            fallback = self._neutral if self.paste_back or self._last_good is None else self._last_good
            return DrawnFrame(fallback, None, False, None)
        self.faces += 1
        if self.renderer is not None:
            return DrawnFrame(self.renderer.render(self.source, driver, self.reference), None, True, driver)
        crop = self.reenactor.step(self.source.state, driver, self.reference)
        if self.paste_back and self.compositor is not None:
            return DrawnFrame(None, crop, True, driver)
        self._last_good = crop
        return DrawnFrame(crop, None, True, driver)

    def finish(self, drawn: DrawnFrame) -> np.ndarray:
        """The output image of a drawn frame: its crop pasted into the source canvas, or as it is."""
        if drawn.crop is None:
            assert drawn.image is not None
            return drawn.image
        assert self._paste is not None
        return self._paste.paste(drawn.crop)
