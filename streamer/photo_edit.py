"""``reenact edit``: a photo animated by the editing controls alone, with no driver.

The photo is its own driver: the retargeter gives its own landmarks back, and the editing stage
(``streamer.edit_controls``) moves them by the asked head offsets, smile, eye and lip openings. A
still image, a strip of frames along a sweep of one control, or a short clip sweeping it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from export.atomic import atomic_write_bytes
from streamer.compositor import Compositor
from streamer.detectors import create_detector
from streamer.edit_controls import EditControls, EditingRetargeter, flag_name
from streamer.errors import InputError
from streamer.landmarks import FaceLandmarks
from streamer.media.images import fit_within, load_image
from streamer.media.video_file import VideoFileSink
from streamer.pipeline import prepare_source
from streamer.reenactors.generators import DEFAULT_GENERATOR, DEFAULT_INTEGRATOR, create_generator
from streamer.reenactors.geometric import GeometricConfig, GeometricReenactor, create_retargeter

#: Controls a sweep may move (the expression scale and motion source need a driver).
SWEEPABLE = ("yaw", "pitch", "roll", "smile", "eyes_open", "lips_open")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")


@dataclass(frozen=True)
class Sweep:
    """One control moved linearly from ``start`` to ``stop``."""

    name: str  #: an ``EditControls`` field of ``SWEEPABLE``
    start: float
    stop: float

    def values(self, count: int) -> np.ndarray:
        """``count`` evenly spaced values from start to stop (both included)."""
        return np.linspace(self.start, self.stop, max(count, 1)) if count > 1 else np.array([self.start])


def parse_sweep(text: str) -> Sweep:
    """``"yaw:-20:20"`` -> ``Sweep("yaw", -20, 20)``; ``InputError`` (one line) for anything else."""
    parts = text.split(":")
    names = ", ".join(n.replace("_", "-") for n in SWEEPABLE)
    if len(parts) != 3:
        raise InputError(f"--sweep takes PARAM:FROM:TO (e.g. yaw:-20:20), got {text!r}")
    name = parts[0].strip().replace("-", "_")
    if name not in SWEEPABLE:
        raise InputError(f"--sweep: cannot sweep {parts[0]!r}; choose one of {names}")
    try:
        start, stop = float(parts[1]), float(parts[2])
    except ValueError:
        raise InputError(f"--sweep {text}: FROM and TO must be numbers") from None
    return Sweep(name, start, stop)


@dataclass(frozen=True)
class EditOptions:
    """Everything ``reenact edit`` needs; mirrors its flags."""

    source: Path
    out: Path
    controls: EditControls = EditControls()
    sweep: Sweep | None = None
    seconds: float = 2.0  #: clip length with a video ``out``
    fps: int = 25
    tiles: int = 5  #: frames in a strip (image ``out`` with a sweep)
    size: int = 256
    max_side: int = 1280
    landmarks: str = "auto"
    face_index: int | None = None
    generator: str = DEFAULT_GENERATOR
    integrator: str = DEFAULT_INTEGRATOR
    weights: Path | None = None
    threads: int = 1


def check_edit_options(opts: EditOptions) -> None:
    """``InputError`` (one line, exit 2) for options that cannot work, before any slow work."""
    suffix = opts.out.suffix.lower()
    if suffix not in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
        raise InputError(
            f"--out must be an image ({', '.join(IMAGE_SUFFIXES)}) or a video ({', '.join(VIDEO_SUFFIXES)}), "
            f"got {opts.out.name}"
        )
    if suffix in VIDEO_SUFFIXES and opts.sweep is None:
        raise InputError("a video --out needs --sweep PARAM:FROM:TO (for a still, write .png or .jpg)")
    if not 0.2 <= opts.seconds <= 60:
        raise InputError(f"--seconds must be between 0.2 and 60, got {opts.seconds}")
    if not 1 <= opts.fps <= 60:
        raise InputError(f"--fps must be between 1 and 60, got {opts.fps}")
    if not 2 <= opts.tiles <= 12:
        raise InputError(f"--tiles must be between 2 and 12, got {opts.tiles}")
    if opts.sweep is not None:
        for value in (opts.sweep.start, opts.sweep.stop):  # the ends are the extremes: check them once
            try:
                opts.controls.updated(**{opts.sweep.name: value})
            except InputError as exc:
                raise InputError(f"--sweep: {exc}") from None
    if not opts.source.is_file():
        raise InputError(f"source photo not found: {opts.source}")
    out = opts.out.resolve()
    if out == opts.source.resolve():
        raise InputError(f"the output {opts.out} is the source photo; choose another output path")
    if not out.parent.is_dir():
        raise InputError(f"output folder does not exist: {out.parent}")
    if not os.access(out.parent, os.W_OK):
        raise InputError(f"output folder is not writable: {out.parent}")


def frame_controls(opts: EditOptions) -> list[EditControls]:
    """The controls of every output frame: one (a still), ``tiles`` (a strip) or seconds x fps (a clip)."""
    if opts.sweep is None:
        return [opts.controls]
    count = opts.tiles if opts.out.suffix.lower() in IMAGE_SUFFIXES else max(2, round(opts.seconds * opts.fps))
    return [opts.controls.updated(**{opts.sweep.name: float(v)}) for v in opts.sweep.values(count)]


class PhotoEditor:
    """A source photo prepared once; ``render(controls)`` draws it with those edits (the whole photo)."""

    def __init__(self, opts: EditOptions):
        retargeter = EditingRetargeter(create_retargeter("analytic", "relative", opts.size))
        geometric = GeometricReenactor(GeometricConfig(crop_size=opts.size), retargeter=retargeter)
        self.retargeter = retargeter
        self.reenactor = create_generator(opts.generator, geometric, opts.integrator, opts.weights, opts.threads)
        canvas = fit_within(load_image(opts.source), opts.max_side)
        with contextlib.closing(create_detector(opts.landmarks, "image", max_faces=5)) as detector:
            self.source = prepare_source(canvas, detector, self.reenactor, opts.face_index)
        self._paste = Compositor(opts.size).bind(self.source.canvas, self.source.affine)

    def render(self, controls: EditControls, driver: FaceLandmarks | None = None) -> np.ndarray:
        """The photo with ``controls`` applied (BGR uint8, the canvas' size). ``driver``: landmarks (crop
        coordinates) that drive the photo, its own landmarks being the driver's reference; None: the photo
        drives itself (no motion but the edits)."""
        self.retargeter.controls = controls
        face = self.source.crop_landmarks
        crop = self.reenactor.step(self.source.state, face if driver is None else driver, face)
        return self._paste.paste(crop)


def run_edit(opts: EditOptions) -> int:
    """Write ``opts.out`` (atomically; a strip's tiles are cut around the face); returns the frames drawn."""
    check_edit_options(opts)
    editor = PhotoEditor(opts)
    controls = frame_controls(opts)
    frames = (editor.render(c) for c in controls)
    if opts.out.suffix.lower() in VIDEO_SUFFIXES:
        write_clip(opts.out, frames, opts.fps, editor.source.canvas.shape[:2])
    else:
        images = list(frames)
        box = face_box(editor.source.landmarks.points, images[0].shape[:2])
        write_image(opts.out, images[0] if len(images) == 1 else strip([i[box] for i in images]))
    return len(controls)


def face_box(points: np.ndarray, size_hw: tuple[int, ...], margin: float = 1.9) -> tuple[slice, slice]:
    """A square around the face (``margin`` times the landmarks' extent), inside an image of ``size_hw``."""
    lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    centre, half = (lo + hi) / 2, margin * float((hi - lo).max()) / 2
    x0, y0 = (max(0, int(v)) for v in centre - half)
    x1, y1 = int(min(size_hw[1], centre[0] + half)), int(min(size_hw[0], centre[1] + half))
    return slice(y0, y1), slice(x0, x1)


def strip(images: list[np.ndarray], height: int = 320) -> np.ndarray:
    """Images side by side, each scaled to ``height``."""
    tiles = []
    for image in images:
        h, w = image.shape[:2]
        tiles.append(cv2.resize(image, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA))
    return np.concatenate(tiles, axis=1)


def write_image(path: Path, image: np.ndarray) -> None:
    """Encode ``image`` by ``path``'s suffix and write it atomically."""
    ok, data = cv2.imencode(path.suffix.lower(), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise InputError(f"cannot encode {path.name}")
    atomic_write_bytes(path, data.tobytes())


def write_clip(path: Path, frames, fps: int, size_hw: tuple[int, ...]) -> None:
    """Encode BGR ``frames`` at ``fps`` (the format's codec: H.264 for these suffixes), written atomically."""
    h, w = (int(size_hw[0]) // 2 * 2, int(size_hw[1]) // 2 * 2)  # yuv420p needs even sides
    sink = VideoFileSink(path, w, h, Fraction(fps))
    try:
        for i, image in enumerate(frames):
            sink.write(image[:h, :w], i / fps)
    except BaseException:
        sink.abort()
        raise
    sink.finish()


def describe(opts: EditOptions) -> str:
    """What was asked, as flags (for the summary line)."""
    text = opts.controls.describe()
    if opts.sweep is not None:
        text += f" {flag_name('sweep')} {opts.sweep.name.replace('_', '-')}:{opts.sweep.start:g}:{opts.sweep.stop:g}"
    return text.strip() or "no edits"
