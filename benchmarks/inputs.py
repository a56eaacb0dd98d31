"""Real inputs for the bench: a driver clip and a source photo, decoded, landmarked and resized once.

Real faces from ``../shared/data`` are used when present (read in place, never copied into the
repository); otherwise the bundled example (public-domain photo + a driver clip made from it).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path

import av
import cv2
import numpy as np

from streamer.landmarks import FaceLandmarks

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Webcam-like HDTF clip (512x512, 29.97 fps, 61 frames, audio) and a frontal 624 px portrait.
SHARED_DRIVER = "raw/V-Express/scripts/prepare_dataset/RD_Radio10_0_clip_0.mp4"
SHARED_SOURCE = "raw/hallo/examples/reference_images/6.jpg"


def shared_data_dir() -> Path:
    """``$REENACT_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("REENACT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def letterbox_affine(width: int, height: int, out_h: int) -> tuple[np.ndarray, tuple[int, int]]:
    """2x3 affine fitting a ``width`` x ``height`` frame into a 16:9 frame ``out_h`` high (centred), and its size."""
    out_w = int(round(out_h * 16 / 9)) // 2 * 2
    scale = min(out_w / width, out_h / height)
    tx, ty = (out_w - width * scale) / 2, (out_h - height * scale) / 2
    return np.array([[scale, 0.0, tx], [0.0, scale, ty]]), (out_w, out_h)


def letterbox(image: np.ndarray, affine: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resized into a ``size`` frame by ``affine`` (edge pixels replicated into the bars)."""
    return cv2.warpAffine(image, affine, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def encode_clip(frames: list[np.ndarray], path: Path, fps: Fraction) -> Path:
    """H.264 yuv420p, as ``VideoFileSink`` writes it (crf 18, veryfast)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            frame.time_base = 1 / fps
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@dataclass
class ScaledFrames:
    """Driver frames letterboxed to one input height, with their landmarks moved along."""

    label: str
    frames: list[np.ndarray]
    landmarks: list[FaceLandmarks]
    clip: Path


class BenchInputs:
    """The driver clip and source photo, with everything derived from them cached."""

    def __init__(self, driver: Path, source: Path, origin: str, max_frames: int, workdir: Path):
        self.driver = driver
        self.source = source
        self.origin = origin
        self.max_frames = max_frames
        self.workdir = workdir
        self._scaled: dict[int, ScaledFrames] = {}

    @classmethod
    def resolve(cls, config, workdir: Path) -> BenchInputs:
        """Driver/source from the config, else ``../shared/data``, else the bundled example."""
        from streamer.examples import example_source_path, make_example_driver

        if config.driver is not None or config.source is not None:
            driver = config.driver or make_example_driver(workdir / "example_driver.mp4", config.example_seconds)
            source = config.source or example_source_path()
            origin = "given on the command line"
        else:
            data = shared_data_dir()
            if not config.example and (data / SHARED_DRIVER).is_file() and (data / SHARED_SOURCE).is_file():
                driver, source, origin = data / SHARED_DRIVER, data / SHARED_SOURCE, "real faces from ../shared/data"
            else:
                driver = make_example_driver(workdir / "example_driver.mp4", config.example_seconds)
                source, origin = example_source_path(), "bundled example (public-domain photo, scripted driver)"
        return cls(Path(driver), Path(source), origin, config.max_frames, workdir)

    @cached_property
    def _decoded(self) -> tuple[list[np.ndarray], Fraction, int]:
        from streamer.media.video_file import VideoFileSource, VideoFrame

        src = VideoFileSource(self.driver)
        try:
            frames = []
            for item in src.items():
                if isinstance(item, VideoFrame):
                    frames.append(item.image)
                    if len(frames) >= self.max_frames:
                        break
            total = src.info.frames or len(frames)
            return frames, src.info.rate, total
        finally:
            src.close()

    @property
    def frames(self) -> list[np.ndarray]:
        """Driver frames at their own resolution (BGR)."""
        return self._decoded[0]

    @property
    def fps(self) -> float:
        """The driver's frame rate: the real-time target."""
        return float(self._decoded[1])

    @cached_property
    def landmarks(self) -> list[FaceLandmarks]:
        """Driver landmarks per frame (video-mode detector; frames without a face reuse the last face)."""
        from streamer.detectors import create_detector

        detector = create_detector("auto", "video")
        out: list[FaceLandmarks] = []
        try:
            for image in self.frames:
                faces = detector.detect(image)
                if faces:
                    out.append(faces[0])
                elif out:
                    out.append(out[-1])
        finally:
            detector.close()
        if not out:
            raise RuntimeError(f"no face found in the driver clip {self.driver}")
        while len(out) < len(self.frames):
            out.insert(0, out[0])
        return out

    @cached_property
    def source_image(self) -> np.ndarray:
        """The source photo as ``convert`` uses it (longer side at most 1280)."""
        from streamer.media.images import fit_within, load_image

        return fit_within(load_image(self.source), 1280)

    @cached_property
    def source_face(self) -> FaceLandmarks:
        """The source photo's (largest) face."""
        from streamer.detectors import create_detector
        from streamer.pipeline import select_face

        detector = create_detector("auto", "image")
        try:
            return select_face(detector.detect(self.source_image), None, f"the source photo {self.source}")
        finally:
            detector.close()

    def scaled(self, height: int) -> ScaledFrames:
        """Driver frames letterboxed to a 16:9 frame ``height`` pixels high, and an encoded clip of them."""
        if height not in self._scaled:
            h, w = self.frames[0].shape[:2]
            affine, size = letterbox_affine(w, h, height)
            frames = [letterbox(f, affine, size) for f in self.frames]
            marks = [lm.transformed(affine) for lm in self.landmarks]
            rate = Fraction(self.fps).limit_denominator(1001)
            clip = encode_clip(frames, self.workdir / f"driver_{height}p.mp4", rate)
            self._scaled[height] = ScaledFrames(f"{height}p", frames, marks, clip)
        return self._scaled[height]

    def source_canvas(self, height: int) -> tuple[np.ndarray, FaceLandmarks]:
        """The source photo letterboxed to a 16:9 frame ``height`` high (a paste-back canvas), and its face."""
        h, w = self.source_image.shape[:2]
        affine, size = letterbox_affine(w, h, height)
        return letterbox(self.source_image, affine, size), self.source_face.transformed(affine)

    def describe(self) -> dict[str, object]:
        """The inputs block of a result file."""
        h, w = self.frames[0].shape[:2]
        return {
            "origin": self.origin,
            "driver": _display_path(self.driver),
            "source": _display_path(self.source),
            "driver_size": f"{w}x{h}",
            "driver_fps": round(self.fps, 3),
            "frames_used": len(self.frames),
            "source_size": "{1}x{0}".format(*self.source_image.shape[:2]),
        }


def _display_path(path: Path) -> str:
    """Paths under shared data or a temp dir, shown without the machine-specific prefix."""
    for root, name in ((shared_data_dir(), "../shared/data"), (Path(tempfile.gettempdir()), "$TMP")):
        try:
            return f"{name}/{path.resolve().relative_to(root.resolve())}"
        except ValueError:
            continue
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
