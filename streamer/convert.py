"""``reenact convert``: driver video + source photo -> reenacted video, streamed frame by frame.

Four threads with bounded, ordered queues (offline path: nothing is dropped): the reader decodes
(and forwards audio packets), the main thread tracks and reenacts, the compose thread pastes the
face back into the source canvas, the writer encodes. Paste-back works on the whole output canvas
and was the largest single cost on big photos (24 of 40 ms a frame for a 1280-pixel close-up,
profiled), so it overlaps with the next frame's tracking instead of following it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from streamer.alignment import crop_image, crop_transform
from streamer.backends.probe import Facts
from streamer.backends.select import CPU_BACKENDS, BackendChoice, remap_backend, select_backend
from streamer.backends.warp import RemapBackend
from streamer.compositor import Compositor
from streamer.detectors import create_detector
from streamer.edit_controls import EditControls, EditingRetargeter
from streamer.errors import InputError, NoFaceError
from streamer.framepath.build import create_device_renderer, resolve_frame_path
from streamer.interrupt import raise_if_interrupted
from streamer.media.formats import output_format
from streamer.media.images import fit_within, load_image
from streamer.media.probe import av_offset
from streamer.media.video_file import VideoFileSink, VideoFileSource, VideoFrame
from streamer.pipeline import ReenactmentPipeline, prepare_source
from streamer.pose import head_pose
from streamer.reenactors.base import Reenactor
from streamer.reenactors.generators import DEFAULT_GENERATOR, DEFAULT_INTEGRATOR, create_generator
from streamer.reenactors.geometric import DEFAULT_WARP, GeometricConfig, GeometricReenactor, create_retargeter
from streamer.reference_lookahead import LookaheadConfig, scan_driver
from streamer.retarget import MotionMode
from streamer.runtime import configure_threads
from streamer.tracking import DEFAULT_TRACKER, create_tracker
from streamer.tracking_debug import draw_track_debug
from streamer.tracking_reference import ReferenceConfig, ReferenceSelector

_QUEUE_SIZE = 8
_END = object()
#: The GPU warp runners (TensorRT engines, CUDA sessions) are built for static 256x256 crops.
GPU_WARP_SIZE = 256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConvertOptions:
    """Everything ``convert`` needs; mirrors the command-line flags."""

    source: Path
    driver: Path
    out: Path
    size: int = 256
    paste_back: bool = True
    motion: MotionMode = "relative"
    backend: str = "auto"  #: one of ``streamer.backends.select.BACKENDS``
    landmarks: str = "auto"
    face_index: int | None = None
    max_side: int = 1280
    progress: bool = True
    strip: Path | None = None
    max_seconds: float | None = None
    tracker: str = DEFAULT_TRACKER
    track_debug: Path | None = None
    reference_frame: int | None = None
    reference: str = "lookahead"  #: "lookahead" (file: best frame of the first minute) or "causal" (as live)
    retarget: str = "analytic"  #: "analytic" or "idsg" (learned; ignores ``motion``)
    idsg_weights: Path | None = None  #: IDSG safetensors file (default: the shipped one)
    threads: int = 1  #: compute threads (OpenCV, torch, onnxruntime)
    generator: str = DEFAULT_GENERATOR  #: "geometric" or "rfg" (``streamer.reenactors.generators``)
    integrator: str = DEFAULT_INTEGRATOR  #: RFG: "global" or "global-local"
    weights: Path | None = None  #: RFG safetensors (default: the shipped one)
    frame_path: str = "auto"  #: paste-back by OpenCV or by our kernels (``streamer.framepath``)
    warp: str = DEFAULT_WARP  #: "mesh" (posed 3D mesh, ``streamer.mesh_warp``) or "planar" (2D landmark warp)
    edits: EditControls = EditControls()  #: head offsets, expression scale, eye/lip overrides (no change)


@dataclass(frozen=True)
class ConvertSummary:
    """What a conversion did."""

    out: Path
    frames: int
    faces: int
    seconds: float
    backend: str
    tracker: str = DEFAULT_TRACKER
    duty_cycle: float | None = None  # fraction of frames the landmark detector ran on
    generator: str = DEFAULT_GENERATOR  # e.g. "geometric" or "rfg (global-local)"
    frame_path: str = "opencv"  # "opencv", or "kernels (cpu)" / "kernels (cuda)"
    reference: str = ""  # which driver frame was the neutral reference, and how it was chosen
    audio: str | None = None  # e.g. "aac (copied)", "opus (re-encoded)"; None: the driver has none
    av_offset: float | None = None  # seconds the audio moved against the video, output vs driver

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def choose_warp_backend(requested: str, crop_size: int, facts: Facts | None = None) -> BackendChoice:
    """The pixel-warp backend for ``--backend requested`` at ``crop_size``.

    ``InputError`` (one line) for a backend that cannot run here. The GPU runners take static
    256x256 crops only, so at any other size the warp falls back to OpenCV, with a warning.
    """
    choice = select_backend("pixel_warp", requested, facts)
    if choice.name not in CPU_BACKENDS and crop_size != GPU_WARP_SIZE:
        log.warning(
            "backend %s runs %dx%d crops only; --size %d uses the opencv warp instead",
            choice.name,
            GPU_WARP_SIZE,
            GPU_WARP_SIZE,
            crop_size,
        )
        return BackendChoice("pixel_warp", "opencv", f"{choice.name} is static {GPU_WARP_SIZE}x{GPU_WARP_SIZE}")
    return choice


def create_warp_backend(requested: str, crop_size: int, threads: int = 1) -> RemapBackend:
    """The runnable warp backend for ``--backend requested`` (see :func:`choose_warp_backend`)."""
    return remap_backend(choose_warp_backend(requested, crop_size), threads)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_paths(opts: ConvertOptions) -> None:
    """Refuse outputs that would overwrite an input or cannot be written."""
    if opts.reference_frame is not None and opts.reference_frame < 0:
        raise InputError(f"--reference-frame must be 0 or more, got {opts.reference_frame}")
    _check_output(opts.out, opts)
    if opts.track_debug is not None:
        if opts.track_debug.resolve() == opts.out.resolve():
            raise InputError("--track-debug must be another file than --out")
        _check_output(opts.track_debug, opts)


def _check_output(path: Path, opts: ConvertOptions) -> None:
    out = path.resolve()
    for name, src in (("source photo", opts.source), ("driver video", opts.driver)):
        if out == src.resolve() or _same_file(out, src):
            raise InputError(f"the output {path} is the {name}; choose another output path")
    if not out.parent.is_dir():
        raise InputError(f"output folder does not exist: {out.parent}")
    if not os.access(out.parent, os.W_OK):
        raise InputError(f"output folder is not writable: {out.parent}")
    output_format(out)  # InputError for a suffix we do not write


def _reader(
    source: VideoFileSource, out_q: queue.Queue, stop: threading.Event, errors: list, max_seconds: float | None
) -> None:
    try:
        for item in source.items(max_seconds):
            while not stop.is_set():
                try:
                    out_q.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
    except Exception as exc:  # noqa: BLE001 - handed to the main thread, which reports it
        errors.append(exc)
    finally:
        out_q.put(_END)


class _Deferred:
    """An output frame whose image is made on the compose thread: ``(finish(), time)`` (seconds)."""

    def __init__(self, finish, time: float):
        self.finish, self.time = finish, time

    def __call__(self) -> tuple[np.ndarray, float]:
        return self.finish(), self.time


def _composer(in_q: queue.Queue, out_q: queue.Queue, errors: list) -> None:
    """Resolves deferred frames in order and passes everything on to the writer."""
    while True:
        item = in_q.get()
        if isinstance(item, _Deferred):
            if errors:
                continue  # after an error: keep draining so the producer never blocks
            try:
                item = item()
            except Exception as exc:  # noqa: BLE001 - handed to the main thread, which reports it
                errors.append(exc)
                continue
        out_q.put(item)
        if item is _END:
            return


def _writer(sink: VideoFileSink, in_q: queue.Queue, errors: list) -> None:
    while True:
        item = in_q.get()
        if item is _END:
            return
        if errors:
            continue  # keep draining so the producer never blocks
        try:
            if isinstance(item, av.Packet):
                sink.write_audio(item)
            else:
                sink.write(*item)
        except Exception as exc:  # noqa: BLE001 - handed to the main thread, which reports it
            errors.append(exc)


def create_reenactor(opts: ConvertOptions) -> tuple[RemapBackend, Reenactor]:
    """The warp backend and the reenactor ``opts`` ask for (retargeter, editing stage, generator)."""
    retargeter = create_retargeter(opts.retarget, opts.motion, opts.size, opts.idsg_weights)
    if not opts.edits.is_identity:
        retargeter = EditingRetargeter(retargeter, opts.edits)  # after any retargeter (streamer.edit_controls)
    backend = create_warp_backend(opts.backend, opts.size, opts.threads)
    config = GeometricConfig(crop_size=opts.size, motion=opts.motion, warp=opts.warp)  # type: ignore[arg-type]
    geometric = GeometricReenactor(config, backend, retargeter)
    runner = {"torch": "torch", "tensorrt": "tensorrt"}.get(backend.name, "onnxruntime")  # the RFG's graphs
    reenactor = create_generator(opts.generator, geometric, opts.integrator, opts.weights, opts.threads, runner)
    return backend, reenactor


def convert(opts: ConvertOptions) -> ConvertSummary:
    """Run one conversion; raises ``InputError`` for bad input, leaves no partial output on failure."""
    check_paths(opts)
    backend, reenactor = create_reenactor(opts)
    configure_threads(opts.threads)  # again: the torch backend and the IDSG import torch only now
    frame_path = resolve_frame_path(opts.frame_path, backend.name)
    if frame_path == "kernels" and not opts.paste_back:
        raise InputError("--frame-path kernels is the paste-back path; --crop-only has no paste-back")
    canvas = fit_within(load_image(opts.source), opts.max_side)
    with contextlib.ExitStack() as cleanup:
        source_video = VideoFileSource(opts.driver)
        cleanup.callback(source_video.close)
        with contextlib.closing(create_detector(opts.landmarks, "image", max_faces=5)) as photo_detector:
            prepared = prepare_source(canvas, photo_detector, reenactor, opts.face_index)
        info = source_video.info
        settings = {"fps": float(info.rate)} if opts.tracker == "temporal" else {}
        tracker = create_tracker(opts.tracker, opts.landmarks, **settings)
        cleanup.callback(tracker.close)
        compositor = Compositor(opts.size) if opts.paste_back else None
        selector = ReferenceSelector(ReferenceConfig(forced_frame=opts.reference_frame, auto_reanchor=False))
        reference = _choose_reference(opts, selector)
        renderer = create_device_renderer(reenactor, threads=opts.threads) if frame_path == "kernels" else None
        if renderer is not None:
            cleanup.callback(renderer.close)  # frees the device's stream and buffers on this, its own thread
            frame_path = f"kernels ({renderer.device.name})"
        pipeline = ReenactmentPipeline(
            prepared, tracker, reenactor, compositor, opts.paste_back, selector, renderer=renderer
        )
        h, w = canvas.shape[:2] if opts.paste_back else (opts.size, opts.size)
        # The encoder follows --threads: at the default 1 it saves a quarter of x264's CPU (VideoFileSink).
        encoder_threads = 0 if opts.threads >= (os.cpu_count() or 1) else opts.threads
        sink = VideoFileSink(opts.out, w, h, info.rate, info.audio, info.origin, threads=encoder_threads)
        debug_sink = None
        if opts.track_debug is not None:
            debug_sink = VideoFileSink(opts.track_debug, info.width // 2 * 2, info.height // 2 * 2, info.rate)
            cleanup.push(lambda exc_type, *_: debug_sink.abort() if exc_type else None)
        total = info.frames
        if opts.max_seconds is not None:
            total = min(total or 10**9, int(opts.max_seconds * info.rate) + 1)
        strip = _StripCollector(total) if opts.strip else None
        bar = tqdm(total=total or None, unit="frame", disable=not opts.progress, dynamic_ncols=True, desc=opts.out.name)
        cleanup.callback(bar.close)
        start = time.perf_counter()
        with _Threads(source_video, sink, opts.max_seconds) as threads:
            for item in threads.items():
                raise_if_interrupted()  # a Ctrl-C swallowed by a finaliser still stops the conversion
                if not isinstance(item, VideoFrame):
                    threads.emit(item)
                    continue
                drawn = pipeline.draw(item.image)
                threads.emit(_Deferred(_finisher(pipeline, drawn, item, strip, prepared, opts), item.time))
                if debug_sink is not None:
                    debug = draw_track_debug(
                        item.image,
                        getattr(tracker, "last", None) or drawn.driver,
                        getattr(tracker, "duty_cycle", None),
                    )
                    debug_sink.write(debug[: info.height // 2 * 2, : info.width // 2 * 2], item.time)
                bar.update(1)
                if pipeline.frames % 10 == 0:
                    bar.set_postfix(fps=f"{pipeline.frames / (time.perf_counter() - start):.1f}")
            threads.finish_writing()
            if pipeline.faces == 0:
                raise NoFaceError(f"no face found in any frame of the driver video {opts.driver}")
            seconds = time.perf_counter() - start
            sink.finish()
            if debug_sink is not None:
                debug_sink.finish()
    if strip is not None:
        strip.save(opts.strip)
    duty = getattr(tracker, "duty_cycle", None)
    generator = opts.generator + (f" ({opts.integrator})" if opts.generator == "rfg" else "")
    generator += " on the mesh warp" if opts.warp == "mesh" else ""
    return ConvertSummary(
        opts.out,
        pipeline.frames,
        pipeline.faces,
        seconds,
        backend.name,
        opts.tracker,
        duty,
        generator,
        frame_path,
        reference or _causal_reference(selector),
        audio=_audio_text(sink),
        av_offset=av_offset(info.starts, opts.out) if sink.audio is not None else None,
    )


def _audio_text(sink: VideoFileSink) -> str | None:
    if sink.audio is None:
        return None
    return f"{sink.audio.codec} ({'copied' if sink.audio.copied else 're-encoded'})"


def _choose_reference(opts: ConvertOptions, selector: ReferenceSelector) -> str:
    """Lock the selector to ``--reference-frame N`` or to the look-ahead's pick; "" leaves it causal."""
    if opts.reference_frame is not None:
        face = _reference_face(opts, opts.reference_frame)
        selector.force(face, opts.reference_frame)
        return f"frame {opts.reference_frame} (forced; {_pose_text(face)})"
    if opts.reference != "lookahead":
        return ""
    scan = LookaheadConfig()
    if opts.max_seconds is not None:  # only what will be converted can be the reference
        scan = replace(scan, max_seconds=min(opts.max_seconds, scan.max_seconds))
    picked = scan_driver(opts.driver, opts.landmarks, scan)
    if picked is None:
        return ""  # no face in the scanned part: the causal choice takes over (and may find one later)
    selector.force(picked.landmarks, picked.frame_index)
    return f"frame {picked.frame_index} (look-ahead over {picked.scanned} frames; {_pose_text(picked.landmarks)})"


def _causal_reference(selector: ReferenceSelector) -> str:
    ref = selector.reference
    return "" if ref is None else f"frame {ref.frame_index} (causal; {_pose_text(ref.landmarks)})"


def _pose_text(face) -> str:
    pose = head_pose(face.points)
    return f"yaw {pose.yaw:+.0f}, pitch {pose.pitch:+.0f}, roll {pose.roll:+.0f} deg"


def _finisher(pipeline: ReenactmentPipeline, drawn, item: VideoFrame, strip, prepared, opts: ConvertOptions):
    """The compose thread's work for one frame: paste back, and collect the strip tile if wanted."""

    def finish() -> np.ndarray:
        image = pipeline.finish(drawn)
        if strip is not None and strip.wants(item.index):
            face = prepared.landmarks if opts.paste_back else None
            strip.add(item.index, _face_tile(item.image, drawn.driver, opts.size), _face_tile(image, face, opts.size))
        return image

    return finish


def _reference_face(opts: ConvertOptions, index: int):
    """The driver's face in frame ``index`` (a pre-pass for ``--reference-frame``)."""
    source = VideoFileSource(opts.driver)
    try:
        frame = next((f for f in source.items() if isinstance(f, VideoFrame) and f.index == index), None)
    finally:
        source.close()
    if frame is None:
        raise InputError(f"--reference-frame {index}: the driver has fewer frames")
    with contextlib.closing(create_detector(opts.landmarks, "image")) as detector:
        faces = detector.detect(frame.image)
    if not faces:
        raise NoFaceError(f"--reference-frame {index}: no face in that driver frame")
    return faces[0]


class _Threads:
    """The decode and encode threads around the main loop, with their bounded queues.

    On any exit other than a completed ``sink.finish()``, the sink is aborted (temp file removed).
    """

    def __init__(self, source: VideoFileSource, sink: VideoFileSink, max_seconds: float | None):
        self.sink = sink
        self.in_q: queue.Queue = queue.Queue(_QUEUE_SIZE)
        self.compose_q: queue.Queue = queue.Queue(_QUEUE_SIZE)
        self.out_q: queue.Queue = queue.Queue(_QUEUE_SIZE)
        self.stop = threading.Event()
        self.read_errors: list[BaseException] = []
        self.write_errors: list[BaseException] = []
        self.reader = threading.Thread(
            target=_reader,
            args=(source, self.in_q, self.stop, self.read_errors, max_seconds),
            name="decode",
            daemon=True,
        )
        self.composer = threading.Thread(
            target=_composer, args=(self.compose_q, self.out_q, self.write_errors), name="compose", daemon=True
        )
        self.writer = threading.Thread(
            target=_writer, args=(sink, self.out_q, self.write_errors), name="encode", daemon=True
        )
        self._writer_done = False

    def __enter__(self) -> _Threads:
        self.reader.start()
        self.composer.start()
        self.writer.start()
        return self

    def items(self):
        """Decoded frames and audio packets until the end of the input (re-raises reader errors)."""
        while (item := self.in_q.get()) is not _END:
            yield item
        if self.read_errors:
            raise self.read_errors[0]

    def emit(self, item) -> None:
        """Hand an output frame ``(image, pts)``, a ``_Deferred`` one or an audio packet on, in order."""
        if self.write_errors:
            raise self.write_errors[0]
        self.compose_q.put(item)

    def finish_writing(self) -> None:
        """Wait until everything emitted is composed and encoded."""
        self.compose_q.put(_END)
        self.composer.join()
        self.writer.join()
        self._writer_done = True
        if self.write_errors:
            raise self.write_errors[0]

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop.set()
        if exc_type is not None:
            _drain(self.in_q)
            if not self._writer_done:
                self.write_errors.append(exc or RuntimeError("stopped"))  # the composer skips the rest
                self.compose_q.put(_END)
                self.composer.join(timeout=5)
                self.writer.join(timeout=5)
            self.sink.abort()
        self.reader.join(timeout=5)


def _face_tile(image: np.ndarray, face, size: int) -> np.ndarray:
    """The aligned face crop of ``image`` (or the image itself when there is no face to align on)."""
    if face is None:
        return image
    return crop_image(image, crop_transform(face, size), size)


def _drain(q: queue.Queue) -> None:
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass


class _StripCollector:
    """Keeps a few evenly spaced (driver, output) pairs and saves them as one picture."""

    def __init__(self, total: int, count: int = 6, height: int = 200):
        self.total = max(total, 1)
        self.count = count
        self.height = height
        self.pairs: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def wants(self, index: int) -> bool:
        slot = int(index * self.count / self.total)
        return slot < self.count and slot not in self.pairs

    def add(self, index: int, driver: np.ndarray, output: np.ndarray) -> None:
        self.pairs[int(index * self.count / self.total)] = (self._fit(driver), self._fit(output))

    def _fit(self, image: np.ndarray) -> np.ndarray:
        """Letterbox into a ``height`` square, so driver and output tiles line up."""
        import cv2

        h, w = image.shape[:2]
        s = self.height / max(h, w)
        small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        tile = np.zeros((self.height, self.height, 3), np.uint8)
        y, x = (self.height - small.shape[0]) // 2, (self.height - small.shape[1]) // 2
        tile[y : y + small.shape[0], x : x + small.shape[1]] = small
        return tile

    def save(self, path: Path) -> None:
        import cv2

        if not self.pairs:
            return
        cols = [np.concatenate(self.pairs[k], axis=0) for k in sorted(self.pairs)]
        cv2.imwrite(str(path), np.concatenate(cols, axis=1))
