"""Per-stage benches, one frame at a time: decode, detect, track, align, reenact, warp, paste, colour, encode.

Each times the stage alone on real frames (see ``benchmarks.inputs``), at ``threads`` compute
threads where the stage uses them (OpenCV, torch, onnxruntime; MediaPipe and x264 manage their own).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from functools import lru_cache

import av
import cv2
import numpy as np

from benchmarks.backends import THREAD_INDEPENDENT, RecordingRemap, availability, backend_names, make_backend
from benchmarks.flops import gflops, grid_sample_flops
from benchmarks.registry import BenchContext, Row, register
from benchmarks.stats import Summary, summarize, time_calls
from streamer.alignment import crop_image, crop_transform
from streamer.compositor import Compositor
from streamer.media.video_file import X264_PARAMS
from streamer.reenactors.geometric import GeometricConfig, GeometricReenactor, GeometricSourceState
from streamer.runtime import configure_threads

#: Passes over a clip are the samples of the whole-clip stages; per frame = pass time / frames.
WHOLE_CLIP_NOTE = "per frame = pass time / frames (the codec works on several frames at once)"


def _timed(ctx: BenchContext, fn: Callable[[int], object], warmup: int | None = None) -> Summary:
    cfg = ctx.config
    return time_calls(fn, warmup=cfg.warmup if warmup is None else warmup, repeat=cfg.repeat, budget_s=cfg.budget_s)


def _passes(ctx: BenchContext, run_pass: Callable[[], int]) -> Summary:
    """One untimed pass, then ``passes`` timed ones; each sample is ms per frame."""
    run_pass()
    samples = []
    for _ in range(ctx.config.passes):
        t0 = time.perf_counter()
        frames = run_pass()
        samples.append((time.perf_counter() - t0) * 1000.0 / max(frames, 1))
    return summarize(samples)


def _inputs_axis(ctx: BenchContext) -> Iterator[tuple[str, list[np.ndarray], list]]:
    for h in ctx.config.input_heights:
        scaled = ctx.inputs.scaled(h)
        yield scaled.label, scaled.frames, scaled.landmarks


@register("decode", "stage", "PyAV H.264 decode to BGR")
def bench_decode(ctx: BenchContext) -> Iterator[Row]:
    from streamer.media.video_file import VideoFileSource, VideoFrame

    configure_threads(1)
    n_native = len(ctx.inputs.frames)
    h, w = ctx.inputs.frames[0].shape[:2]
    clips = [(f"native {w}x{h}", ctx.inputs.driver, n_native)]
    clips += [(s.label, s.clip, len(s.frames)) for s in (ctx.inputs.scaled(h) for h in ctx.config.input_heights)]
    for label, path, limit in clips:

        def run_pass(path=path, limit=limit) -> int:
            src = VideoFileSource(path)
            count = 0
            try:
                for item in src.items():
                    count += isinstance(item, VideoFrame)
                    if count >= limit:
                        break
            finally:
                src.close()
            return count

        yield Row("stage", "decode", {"input": label}, _passes(ctx, run_pass), note=WHOLE_CLIP_NOTE)


@register("detect", "stage", "landmark detection, image mode (every frame independent)")
def bench_detect(ctx: BenchContext) -> Iterator[Row]:
    from streamer.detectors import create_detector

    configure_threads(1)
    for label, frames, _ in _inputs_axis(ctx):
        detector = create_detector("auto", "image")
        try:
            timing = _timed(ctx, lambda i, frames=frames, d=detector: d.detect(frames[i % len(frames)]))
        finally:
            detector.close()
        yield Row("stage", "detect", {"input": label, "impl": detector.name}, timing)


def tracker_factories(fps: float) -> dict[str, Callable[[], object]]:
    """Trackers to time, by name: the per-frame detector in video mode, and ``create_tracker``'s when it exists."""
    import streamer.tracking as tracking
    from streamer.detectors import create_detector

    factories: dict[str, Callable[[], object]] = {
        "detector": lambda: tracking.DetectorTracker(create_detector("auto", "video"))
    }
    create = getattr(tracking, "create_tracker", None)
    for name in getattr(tracking, "TRACKER_NAMES", ()):
        if name != "detector" and create is not None:
            factories[name] = lambda name=name: create(name, fps=fps) if name == "temporal" else create(name)
    return factories


@register("track", "stage", "driver tracking on consecutive frames (each tracker that exists)")
def bench_track(ctx: BenchContext) -> Iterator[Row]:
    configure_threads(1)
    for impl, factory in tracker_factories(ctx.inputs.fps).items():
        for label, frames, _ in _inputs_axis(ctx):
            tracker = factory()
            try:
                # In order, wrapping round: a tracker sees a continuous clip (one jump per pass).
                timing = _timed(ctx, lambda i, frames=frames, t=tracker: t.update(frames[i % len(frames)]))
            finally:
                tracker.close()
            yield Row("stage", "track", {"input": label, "impl": impl}, timing)


@register("align", "stage", "alignment: similarity from landmarks + crop warp")
def bench_align(ctx: BenchContext) -> Iterator[Row]:
    configure_threads(1)
    for crop in ctx.config.crop_sizes:
        for label, frames, marks in _inputs_axis(ctx):

            def align(i: int, frames=frames, marks=marks, crop=crop) -> np.ndarray:
                k = i % len(frames)
                return crop_image(frames[k], crop_transform(marks[k], crop), crop)

            yield Row("stage", "align", {"input": label, "crop": crop}, _timed(ctx, align))


@lru_cache(maxsize=8)
def _source_crop(ctx: BenchContext, crop: int):
    face = ctx.inputs.source_face
    affine = crop_transform(face, crop)
    return crop_image(ctx.inputs.source_image, affine, crop), face.transformed(affine)


def prepared_state(ctx: BenchContext, crop: int) -> GeometricSourceState:
    """The geometric reenactor's per-source state of the bench's source photo at ``crop``."""
    image, marks = _source_crop(ctx, crop)
    return GeometricReenactor(GeometricConfig(crop_size=crop)).prepare(image, marks)


@register(
    "reenact.prepare",
    "stage",
    "generator per-source part (geometric: control points, triangulation; rfg: + features and style codes)",
)
def bench_prepare(ctx: BenchContext) -> Iterator[Row]:
    from benchmarks.generator import fixture, rfg_settings

    configure_threads(1)
    for crop in ctx.config.crop_sizes:
        image, marks = _source_crop(ctx, crop)
        reenactor = GeometricReenactor(GeometricConfig(crop_size=crop))
        timing = _timed(ctx, lambda i, r=reenactor, im=image, m=marks: r.prepare(im, m))
        yield Row("stage", "reenact.prepare", {"crop": crop, "generator": "geometric"}, timing, unit="ms/source")
        if not rfg_settings(ctx) or crop != fixture(ctx).crop:
            continue
        fx = fixture(ctx)
        for backend in ctx.config.generator_backends:
            for threads in ctx.config.threads:
                configure_threads(threads)
                rfg = fx.reenactor(backend, threads)
                timing = _timed(ctx, lambda i, r=rfg, im=image, m=marks: r.prepare(im, m))
                variant = {
                    "crop": crop,
                    "generator": "rfg",
                    "backend": backend,
                    "threads": threads,
                    "weights": fx.label,
                }
                yield Row("stage", "reenact.prepare", variant, timing, unit="ms/source")
    configure_threads(1)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def _variants(ctx: BenchContext) -> Iterator[tuple[str, int | None]]:
    """(backend, threads) pairs to measure; (name, None) for a backend that cannot run here."""
    for name in backend_names(ctx.config.backends):
        if not availability(name).available:
            yield name, None
            continue
        for threads in (1,) if name in THREAD_INDEPENDENT else ctx.config.threads:
            yield name, threads


def _absent(name: str, bench: str, variant: dict) -> Row:
    return Row("stage", bench, {**variant, "backend": name}, status="absent", note=availability(name).reason)


@register(
    "reenact.step",
    "stage",
    "generator per-frame part: retarget + geometric warp (+ the RFG's integrators, per --generator setting)",
)
def bench_step(ctx: BenchContext) -> Iterator[Row]:
    from benchmarks.generator import settings

    marks = ctx.inputs.landmarks
    for crop in ctx.config.crop_sizes:
        if "geometric" in ctx.config.generators:
            yield from _geometric_step_rows(ctx, crop, marks)
        for setting in settings(ctx):
            if setting.is_rfg:
                yield from _rfg_step_rows(ctx, crop, setting.name, setting.integrator or "global", marks)
    configure_threads(1)


def _geometric_step_rows(ctx: BenchContext, crop: int, marks: list) -> Iterator[Row]:
    state = prepared_state(ctx, crop)
    identity = GeometricReenactor(GeometricConfig(crop_size=crop)).render(state, state.landmarks)
    quality = {"identity_psnr_db": round(_psnr(identity, state.crop), 2)}
    for name, threads in _variants(ctx):
        variant = {"crop": crop, "generator": "geometric", "backend": name, "threads": threads}
        if threads is None:
            yield _absent(name, "reenact.step", variant)
            continue
        configure_threads(threads)
        reenactor = GeometricReenactor(GeometricConfig(crop_size=crop), make_backend(name, threads))
        timing = _timed(ctx, lambda i, r=reenactor, s=state: r.step(s, marks[i % len(marks)], marks[0]))
        yield Row("stage", "reenact.step", variant, timing, metrics=dict(quality))


def _rfg_step_rows(ctx: BenchContext, crop: int, setting: str, integrator: str, marks: list) -> Iterator[Row]:
    """One RFG setting per frame: retarget, geometric render (OpenCV warp), then the RFG's graphs."""
    from benchmarks.generator import CallCounter, fixture

    fx = fixture(ctx)
    if crop != fx.crop:
        note = f"the RFG runs at its weights' crop ({fx.crop} px) only"
        yield Row("stage", "reenact.step", {"crop": crop, "generator": setting}, status="absent", note=note)
        return
    image, source_marks = _source_crop(ctx, crop)
    for backend in ctx.config.generator_backends:
        for threads in ctx.config.threads:
            configure_threads(threads)
            reenactor = fx.reenactor(backend, threads, integrator)
            state = reenactor.prepare(image, source_marks)
            runner = reenactor.runner
            counter = CallCounter(runner.run)
            reenactor.runner = _CountingRunner(counter)
            try:
                timing = _timed(ctx, lambda i, r=reenactor, s=state: r.step(s, marks[i % len(marks)], marks[0]))
            finally:
                reenactor.runner = runner
                reenactor.reset(state)
            frames = counter.calls.get("rfg_global", 0)
            metrics = {
                "rfg_gflops": round(fx.frame_gflops(setting), 4),
                "local_path_share": round(counter.calls.get("rfg_local", 0) / max(frames, 1), 3),
            }
            variant = {
                "crop": crop,
                "generator": setting,
                "backend": backend,
                "threads": threads,
                "warp": "opencv",
                "weights": fx.label,
            }
            note = "geometric render (opencv warp) + RFG graphs; local_path_share: frames on which the local path ran"
            yield Row("stage", "reenact.step", variant, timing, metrics=metrics, note=note)


class _CountingRunner:
    """Stands in for an RFG runner while it is timed, counting the graphs each frame runs."""

    def __init__(self, run: Callable[..., list]):
        self.run = run


def warp_inputs(ctx: BenchContext, crop: int, count: int = 8) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Real (crop, map_x, map_y) triples: the maps the geometric reenactor builds for driver frames."""
    state = prepared_state(ctx, crop)
    recorder = RecordingRemap(make_backend("opencv", 1))
    reenactor = GeometricReenactor(GeometricConfig(crop_size=crop), recorder)
    marks = ctx.inputs.landmarks
    step = max(1, len(marks) // count)
    for k in range(0, len(marks), step):
        reenactor.step(state, marks[k], marks[0])
    return recorder.calls[:count]


@register("warp", "stage", "the per-frame network alone: dense bilinear remap (PixelMapWarp / cv2.remap)")
def bench_warp(ctx: BenchContext) -> Iterator[Row]:
    for crop in ctx.config.crop_sizes:
        calls = warp_inputs(ctx, crop)
        reference = [make_backend("opencv", 1).remap(*c) for c in calls]
        flops = grid_sample_flops(1, 3, crop, crop)
        for name, threads in _variants(ctx):
            variant = {"crop": crop, "backend": name, "threads": threads}
            if threads is None:
                yield _absent(name, "warp", variant)
                continue
            configure_threads(threads)
            backend = make_backend(name, threads)
            diff = max(
                int(np.abs(backend.remap(*c).astype(int) - r).max()) for c, r in zip(calls, reference, strict=True)
            )
            timing = _timed(ctx, lambda i, b=backend, cs=calls: b.remap(*cs[i % len(cs)]))
            metrics = {
                "gflops": gflops(flops),
                "achieved_gflop_s": round(flops / 1e9 / (timing.median_ms / 1000.0), 3),
                "max_abs_diff_vs_opencv": diff,
            }
            yield Row("stage", "warp", variant, timing, metrics=metrics)
    configure_threads(1)


@register("paste", "stage", "paste-back: feathered blend + seam colour match into the full frame")
def bench_paste(ctx: BenchContext) -> Iterator[Row]:
    configure_threads(1)
    for crop in ctx.config.crop_sizes:
        crops = [make_backend("opencv", 1).remap(*c) for c in warp_inputs(ctx, crop)]
        compositor = Compositor(crop)
        for h in ctx.config.input_heights:
            canvas, face = ctx.inputs.source_canvas(h)
            affine = crop_transform(face, crop)
            timing = _timed(ctx, lambda i, c=canvas, a=affine, p=compositor.paste, cs=crops: p(c, cs[i % len(cs)], a))
            yield Row("stage", "paste", {"input": f"{h}p", "crop": crop}, timing)


@register("bgr2yuv", "stage", "colour conversion BGR -> YUV 4:2:0 (what H.264 and WebRTC take)")
def bench_bgr2yuv(ctx: BenchContext) -> Iterator[Row]:
    configure_threads(1)
    impls: dict[str, Callable[[np.ndarray], object]] = {
        "opencv": lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2YUV_I420),
        "pyav": lambda f: av.VideoFrame.from_ndarray(f, format="bgr24").reformat(format="yuv420p"),
    }
    for label, frames, _ in _inputs_axis(ctx):
        for impl, fn in impls.items():
            timing = _timed(ctx, lambda i, fn=fn, frames=frames: fn(frames[i % len(frames)]))
            yield Row("stage", "bgr2yuv", {"input": label, "impl": impl}, timing)


@register(
    "encode",
    "stage",
    "PyAV libx264 encode (OpenCV I420 in, crf 18, veryfast, 1 thread, X264_PARAMS: as convert writes)",
)
def bench_encode(ctx: BenchContext) -> Iterator[Row]:
    configure_threads(1)
    rate = round(ctx.inputs.fps)
    for label, frames, _ in _inputs_axis(ctx):

        def run_pass(frames=frames) -> int:
            h, w = frames[0].shape[:2]
            with av.open(io.BytesIO(), "w", format="mp4") as out:
                stream = out.add_stream("libx264", rate=rate)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                stream.options = {"crf": "18", "preset": "veryfast", "threads": "1", "x264-params": X264_PARAMS}
                for i, image in enumerate(frames):
                    frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
                    frame.pts = i
                    out.mux(stream.encode(frame))
                out.mux(stream.encode(None))
            return len(frames)

        yield Row("stage", "encode", {"input": label, "impl": "libx264"}, _passes(ctx, run_pass), note=WHOLE_CLIP_NOTE)
